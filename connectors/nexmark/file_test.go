package nexmark

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allCodecs = []Codec{CodecNull, CodecDeflate, CodecSnappy, CodecZstandard}

// readAll reads every event of the file at path, cloned.
func readAll(t testing.TB, path string) ([]Event, *Reader, error) {
	t.Helper()
	r, err := OpenFile(path)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { _ = r.Close() })
	var out []Event
	var ev Event
	for r.Next(&ev) {
		out = append(out, ev.Clone())
	}
	return out, r, r.Err()
}

func writeEvents(t testing.TB, path string, cfg GeneratorConfig, opts WriterOptions) []Event {
	t.Helper()
	n, err := WriteFile(path, newTestGenerator(t, cfg), opts)
	require.NoError(t, err)
	require.Equal(t, cfg.NumEvents, n)
	return generate(t, cfg)
}

func TestFileRoundTripEveryCodec(t *testing.T) {
	cfg := GeneratorConfig{Seed: 11, NumEvents: 3000}
	for _, codec := range allCodecs {
		t.Run(string(codec), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.avro")
			want := writeEvents(t, path, cfg, WriterOptions{Codec: codec, BlockBytes: 16 << 10})

			got, r, err := readAll(t, path)
			require.NoError(t, err)
			require.Equal(t, want, got)
			assert.Equal(t, codec, r.Codec())
			schema, ok := r.Metadata("avro.schema")
			require.True(t, ok)
			assert.Equal(t, compactSchemaText, schema, "the header keeps the schema as published")
			assert.Contains(t, string(schema), `"logicalType":"timestamp-millis"`)
			require.NoError(t, r.Close())
			require.NoError(t, r.Close(), "Close is idempotent")
			var ev Event
			assert.False(t, r.Next(&ev), "Next after Close")

			// An independent reader (hamba's) agrees.
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			dec, err := ocf.NewDecoder(f)
			require.NoError(t, err)
			defer dec.Close()
			i := 0
			for dec.HasNext() {
				var ev Event
				require.NoError(t, dec.Decode(&ev))
				require.Equal(t, want[i], ev, "record %d", i)
				i++
			}
			require.NoError(t, dec.Error())
			require.Equal(t, len(want), i)
		})
	}
}

func TestFixedSyncMarkerMakesFilesReproducible(t *testing.T) {
	dir := t.TempDir()
	opts := WriterOptions{Codec: CodecZstandard, SyncMarker: [16]byte{1, 2, 3}}
	cfg := GeneratorConfig{Seed: 3, NumEvents: 2000}
	writeEvents(t, filepath.Join(dir, "a.avro"), cfg, opts)
	writeEvents(t, filepath.Join(dir, "b.avro"), cfg, opts)
	a, err := os.ReadFile(filepath.Join(dir, "a.avro"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "b.avro"))
	require.NoError(t, err)
	// The header's metadata map is written in Go's map order; from the sync marker
	// that ends the header on, the files are identical.
	marker := append([]byte(nil), opts.SyncMarker[:]...)
	ia, ib := bytes.Index(a, marker), bytes.Index(b, marker)
	require.Positive(t, ia)
	require.Equal(t, ia, ib, "headers of equal length")
	assert.Equal(t, len(a), len(b))
	assert.True(t, bytes.Equal(a[ia:], b[ib:]), "blocks differ")
	ra, err := NewReader(bytes.NewReader(a), "a.avro")
	require.NoError(t, err)
	rb, err := NewReader(bytes.NewReader(b), "b.avro")
	require.NoError(t, err)
	for _, k := range []string{"avro.schema", "avro.codec"} {
		va, _ := ra.Metadata(k)
		vb, _ := rb.Metadata(k)
		assert.Equal(t, va, vb, k)
	}
}

func TestReadsFilesOfHambasDefaultEncoder(t *testing.T) {
	// hamba writes the Parsing Canonical Form (no logical types, no
	// defaults) and blocks of 100 records.
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(schemaText, &buf, ocf.WithCodec(ocf.Deflate))
	require.NoError(t, err)
	want := generate(t, GeneratorConfig{NumEvents: 450})
	for i := range want {
		require.NoError(t, enc.Encode(&want[i]))
	}
	require.NoError(t, enc.Close())

	r, err := NewReader(&buf, "hamba.avro")
	require.NoError(t, err)
	var got []Event
	var ev Event
	for r.Next(&ev) {
		got = append(got, ev.Clone())
	}
	require.NoError(t, r.Err())
	assert.Equal(t, want, got)
}

// evolvedSchema differs from event.avsc but resolves against it: fields in
// another order, an added top-level field, no person and auction fields (the
// reader's defaults are null), bid fields reordered, an added bid field, and
// price written as an int (promoted to long).
const evolvedSchema = `{
  "type": "record", "name": "Event", "namespace": "nexmark",
  "fields": [
    {"name": "source", "type": "string"},
    {"name": "bid", "type": ["null", {
      "type": "record", "name": "Bid",
      "fields": [
        {"name": "dateTime", "type": "long"},
        {"name": "price", "type": "int"},
        {"name": "bidder", "type": "long"},
        {"name": "auction", "type": "long"},
        {"name": "ip", "type": "string"},
        {"name": "channel", "type": "string"},
        {"name": "url", "type": "string"},
        {"name": "extra", "type": "string"}
      ]}]},
    {"name": "event_type", "type": "int"}
  ]
}`

type evolvedBid struct {
	DateTime int64  `avro:"dateTime"`
	Price    int32  `avro:"price"`
	Bidder   int64  `avro:"bidder"`
	Auction  int64  `avro:"auction"`
	IP       string `avro:"ip"`
	Channel  string `avro:"channel"`
	URL      string `avro:"url"`
	Extra    string `avro:"extra"`
}

type evolvedEvent struct {
	Source    string      `avro:"source"`
	Bid       *evolvedBid `avro:"bid"`
	EventType int32       `avro:"event_type"`
}

func TestResolvesACompatibleWriterSchema(t *testing.T) {
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(evolvedSchema, &buf, ocf.WithCodec(ocf.Snappy),
		ocf.WithEncoderSchemaCache(&avro.SchemaCache{}), ocf.WithSchemaMarshaler(ocf.FullSchemaMarshaler))
	require.NoError(t, err)
	var want []Bid
	for i := range int64(300) {
		b := Bid{Auction: 1000 + i, Bidder: 2000 + i, Price: 100 + 7*i, Channel: fmt.Sprint("channel-", i),
			URL: "https://www.nexmark.com/a/b/c/item.htm?query=1", DateTime: DefaultBaseTime + i, Extra: strings.Repeat("x", int(i%50))}
		want = append(want, b)
		require.NoError(t, enc.Encode(&evolvedEvent{Source: "old-producer", EventType: int32(BidEvent), Bid: &evolvedBid{
			DateTime: b.DateTime, Price: int32(b.Price), Bidder: b.Bidder, Auction: b.Auction, IP: "10.0.0.1",
			Channel: b.Channel, URL: b.URL, Extra: b.Extra,
		}}))
	}
	require.NoError(t, enc.Close())

	r, err := NewReader(&buf, "evolved.avro")
	require.NoError(t, err)
	assert.NotEqual(t, Schema().Fingerprint(), r.WriterSchema().Fingerprint())
	var ev Event
	var got []Bid
	for r.Next(&ev) {
		require.Equal(t, BidEvent, ev.Type)
		require.Nil(t, ev.Person, "defaulted to null")
		require.Nil(t, ev.Auction, "defaulted to null")
		got = append(got, *ev.Bid)
	}
	require.NoError(t, r.Err())
	assert.Equal(t, want, got)
}

func TestIncompatibleSchemaIsRejected(t *testing.T) {
	_, err := OpenFile("testdata/weather.avro")
	require.ErrorIs(t, err, ErrSchemaMismatch)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "testdata/weather.avro", fe.Path)
	assert.Equal(t, int64(-1), fe.Record, "a header error")
	assert.Contains(t, err.Error(), "nexmark: testdata/weather.avro: schema mismatch: ")
	assert.Contains(t, err.Error(), "schema mismatch")

	// event_type as a string cannot be read as an int.
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(strings.Replace(schemaText, `{"name": "event_type", "type": "int"}`,
		`{"name": "event_type", "type": "string"}`, 1), &buf, ocf.WithEncoderSchemaCache(&avro.SchemaCache{}))
	require.NoError(t, err)
	require.NoError(t, enc.Close())
	_, err = NewReader(&buf, "strings.avro")
	require.ErrorIs(t, err, ErrSchemaMismatch)
}

// TestContainerLayerReadsApacheInteropFiles reads the Apache Avro project's
// interop files (other schemas, Java's writer, every codec, a sync marker
// inside the metadata) through the reader's block layer.
func TestContainerLayerReadsApacheInteropFiles(t *testing.T) {
	type weather struct {
		Station string `avro:"station" json:"station"`
		Time    int64  `avro:"time" json:"time"`
		Temp    int32  `avro:"temp" json:"temp"`
	}
	wantJSON, err := os.ReadFile("testdata/weather.json")
	require.NoError(t, err)
	var wantWeather []weather
	for _, line := range strings.Split(strings.TrimSpace(string(wantJSON)), "\n") {
		var w weather
		require.NoError(t, json.Unmarshal([]byte(line), &w))
		wantWeather = append(wantWeather, w)
	}

	for _, tc := range []struct {
		file  string
		codec Codec
		count int
	}{
		{"weather.avro", CodecNull, 5},
		{"weather-deflate.avro", CodecDeflate, 5},
		{"weather-snappy.avro", CodecSnappy, 5},
		{"weather-zstd.avro", CodecZstandard, 5},
		{"syncInMeta.avro", CodecDeflate, 6001},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			defer f.Close()
			r := &Reader{name: tc.file, br: bufio.NewReader(f), dec: avro.NewReader(nil, 0)}
			defer r.releaseCodec()
			require.NoError(t, r.readHeader())
			assert.Equal(t, tc.codec, r.Codec())

			var got []weather
			records := 0
			for {
				err := r.nextBlock()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				for ; r.left > 0; r.left-- {
					if strings.HasPrefix(tc.file, "weather") {
						var w weather
						r.dec.ReadVal(r.writer, &w)
						got = append(got, w)
					} else {
						var m map[string]any
						r.dec.ReadVal(r.writer, &m)
						if records == 0 {
							assert.Equal(t, map[string]any{"ID": int64(1), "First": "Dante", "Last": "Hicks", "Phone": "(0)", "Age": 32}, m)
						}
					}
					require.NoError(t, r.dec.Error)
					records++
				}
			}
			assert.Equal(t, tc.count, records)
			if got != nil {
				assert.Equal(t, wantWeather, got)
			}
		})
	}
}

func TestTruncatedFiles(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(string(codec), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "events.avro")
			writeEvents(t, path, GeneratorConfig{NumEvents: 2000}, WriterOptions{Codec: codec, BlockBytes: 8 << 10})
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			header := headerLength(t, data)

			for _, cut := range []int{0, 2, 10, header - 20, header - 3, header + 1, header + 40, len(data) / 2, len(data) - 17, len(data) - 1} {
				cutPath := filepath.Join(dir, fmt.Sprintf("cut-%d.avro", cut))
				require.NoError(t, os.WriteFile(cutPath, data[:cut], 0o644))
				events, _, err := readAll(t, cutPath)
				require.ErrorIs(t, err, ErrTruncated, "cut at %d of %d", cut, len(data))
				var fe *FileError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, cutPath, fe.Path)
				if cut < header {
					assert.Equal(t, int64(-1), fe.Record, "cut at %d is in the header", cut)
				} else {
					assert.Equal(t, int64(len(events)), fe.Record, "the error names the first record not read")
					assert.Contains(t, err.Error(), fmt.Sprintf("record %d (block at byte", len(events)))
				}
				assert.Contains(t, err.Error(), "nexmark: "+cutPath+": ")
				assert.Contains(t, err.Error(), "truncated file")
			}
		})
	}
}

// headerLength returns the length of an OCF header: the file position after
// the first occurrence of the sync marker, which ends the header.
func headerLength(t testing.TB, data []byte) int {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), "x")
	require.NoError(t, err)
	i := bytes.Index(data, r.sync[:])
	require.Positive(t, i)
	return i + len(r.sync)
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.avro")
	writeEvents(t, path, GeneratorConfig{NumEvents: 1000}, WriterOptions{Codec: CodecNull, BlockBytes: 8 << 10})
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	header := headerLength(t, data)

	read := func(name string, b []byte) ([]Event, error) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		events, _, err := readAll(t, p)
		return events, err
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(data)) }

	_, err = read("text.avro", []byte("this is not avro at all"))
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "not an Avro object container file")

	// The sync marker after the first block.
	events, err := read("sync.avro", mutate(func(b []byte) []byte {
		i := header + bytes.Index(b[header:], b[header-16:header])
		b[i] ^= 0xff
		return b
	}))
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "sync marker")
	assert.Empty(t, events)

	// A negative record count.
	_, err = read("count.avro", mutate(func(b []byte) []byte {
		b[header] = 0x01 // zig-zag -1
		return b
	}))
	assert.ErrorIs(t, err, ErrCorrupt)

	// Record data that does not follow the schema: the event_type of the
	// first record says person, but the union says bid.
	_, err = read("union.avro", mutate(func(b []byte) []byte {
		i := header + varintLen(b[header:]) // after the block's count
		i += varintLen(b[i:])               // and size
		require.Equal(t, byte(0), b[i], "event_type 0")
		b[i] = 4 // zig-zag 2: bid
		return b
	}))
	assert.ErrorIs(t, err, ErrInvalidEvent)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, int64(0), fe.Record)
	assert.Equal(t, int64(header), fe.Offset)

	// Compressed data that does not decompress.
	for _, codec := range []Codec{CodecDeflate, CodecSnappy, CodecZstandard} {
		p := filepath.Join(dir, string(codec)+".avro")
		writeEvents(t, p, GeneratorConfig{NumEvents: 500}, WriterOptions{Codec: codec})
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		h := headerLength(t, b)
		for i := h + 8; i < h+40; i++ {
			b[i] ^= 0x5a
		}
		_, err = read("bad-"+string(codec)+".avro", b)
		assert.ErrorIs(t, err, ErrCorrupt, string(codec))
	}

	// An unknown codec.
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(schemaText, &buf, ocf.WithMetadata(map[string][]byte{}))
	require.NoError(t, err)
	require.NoError(t, enc.Close())
	b := bytes.Replace(buf.Bytes(), []byte("\x08null"), []byte("\x08xzxz"), 1)
	_, err = read("xz.avro", b)
	assert.ErrorIs(t, err, ErrUnsupportedCodec)
}

// A file cut exactly between two blocks is a valid, shorter file: the
// container format cannot tell.
func TestCutBetweenBlocksIsAShorterFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.avro")
	want := writeEvents(t, path, GeneratorConfig{NumEvents: 1000}, WriterOptions{BlockBytes: 4 << 10})
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	header := headerLength(t, data)
	sync := data[header-16 : header]
	end := header + bytes.Index(data[header:], sync) + 16
	require.NoError(t, os.WriteFile(path, data[:end], 0o644))
	got, _, err := readAll(t, path)
	require.NoError(t, err)
	require.NotEmpty(t, got)
	assert.Equal(t, want[:len(got)], got)
}

type failingSource struct {
	g   *Generator
	n   int
	err error
}

func (s *failingSource) Next(ev *Event) bool {
	if s.n == 0 {
		return false
	}
	s.n--
	return s.g.Next(ev)
}

func (s *failingSource) Err() error { return s.err }

func TestWriteFileLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.avro")
	boom := errors.New("boom")
	_, err := WriteFile(path, &failingSource{g: newTestGenerator(t, GeneratorConfig{}), n: 500, err: boom}, WriterOptions{})
	require.ErrorIs(t, err, boom)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, path, fe.Path)
	assert.Equal(t, int64(500), fe.Record)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "neither the file nor a temporary file is left")

	// An existing file is replaced only on success.
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	_, err = WriteFile(path, &failingSource{g: newTestGenerator(t, GeneratorConfig{}), n: 10, err: boom}, WriterOptions{})
	require.Error(t, err)
	old, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old", string(old))
	n, err := WriteFile(path, newTestGenerator(t, GeneratorConfig{NumEvents: 10}), WriterOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(10), n)

	_, err = WriteFile(path, newTestGenerator(t, GeneratorConfig{NumEvents: 10}), WriterOptions{Codec: "bzip2"})
	assert.ErrorIs(t, err, ErrUnsupportedCodec)
}

func TestWriterContract(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{})
	require.NoError(t, err)
	err = w.Write(&Event{Type: BidEvent})
	require.ErrorIs(t, err, ErrInvalidEvent)
	assert.ErrorContains(t, err, "record 0")
	require.NoError(t, w.Write(&Event{Type: PersonEvent, Person: &Person{ID: 1000, Name: "n"}}))
	assert.Equal(t, int64(1), w.Count())
	require.NoError(t, w.Flush())
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close is idempotent")
	assert.ErrorIs(t, w.Write(&Event{Type: PersonEvent, Person: &Person{}}), ErrClosed)

	r, err := NewReader(&buf, "buf")
	require.NoError(t, err)
	var ev Event
	require.True(t, r.Next(&ev))
	assert.Equal(t, Event{Type: PersonEvent, Person: &Person{ID: 1000, Name: "n"}}, ev.Clone())
	assert.False(t, r.Next(&ev))
	require.NoError(t, r.Err())

	_, err = NewWriter(&buf, WriterOptions{Codec: "lz4"})
	assert.ErrorIs(t, err, ErrUnsupportedCodec)

	// NewWriter starts a new file even on a non-empty *os.File.
	f, err := os.Create(filepath.Join(t.TempDir(), "x.avro"))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("junk")
	require.NoError(t, err)
	w, err = NewWriter(f, WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Close())
}

func TestParseCodec(t *testing.T) {
	for in, want := range map[string]Codec{"": CodecNull, "null": CodecNull, "deflate": CodecDeflate,
		"snappy": CodecSnappy, "zstandard": CodecZstandard, "zstd": CodecZstandard, "ZSTD": CodecZstandard} {
		got, err := ParseCodec(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseCodec("bzip2")
	assert.ErrorIs(t, err, ErrUnsupportedCodec)
}

// varintLen returns the length of the varint b starts with.
func varintLen(b []byte) int {
	for i, c := range b {
		if c < 0x80 {
			return i + 1
		}
	}
	return len(b)
}
