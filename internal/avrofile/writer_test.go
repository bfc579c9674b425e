package avrofile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2/ocf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTripEveryCodec(t *testing.T) {
	schema := kitchenSchema(t)
	records := kitchenRecords(300)
	for _, codec := range Codecs {
		for _, tc := range []struct {
			name       string
			opts       WriterOptions
			wantBlocks int64 // 0: don't check
		}{
			{"defaults", WriterOptions{}, 1},
			{"small-sync-interval", WriterOptions{SyncInterval: 1000}, 0},
			{"one-record-per-block", WriterOptions{SyncInterval: MaxSyncInterval, BlockRecords: 1}, 300},
			{"7-records-per-block", WriterOptions{BlockRecords: 7}, 43},
		} {
			t.Run(fmt.Sprintf("%s/%s", codec, tc.name), func(t *testing.T) {
				tc.opts.Codec = codec
				data := writeAll(t, schema, tc.opts, records)

				r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
				require.NoError(t, err)
				assert.Equal(t, codec, r.Header().Codec)
				var got []any
				var blocks int64
				for r.Next() {
					got = append(got, r.Value())
					blocks = r.Position().Block + 1
				}
				require.NoError(t, r.Err())
				requireSameValues(t, records, got)
				if tc.wantBlocks > 0 {
					assert.Equal(t, tc.wantBlocks, blocks)
				} else {
					assert.Greater(t, blocks, int64(5))
				}
			})
		}
	}
}

func TestRoundTripCompressionLevels(t *testing.T) {
	schema := kitchenSchema(t)
	records := kitchenRecords(50)
	for _, tc := range []struct {
		codec Codec
		level int
	}{
		{CodecDeflate, 1}, {CodecDeflate, 9}, {CodecZstandard, 1}, {CodecZstandard, 5}, {CodecZstandard, 19},
	} {
		data := writeAll(t, schema, WriterOptions{Codec: tc.codec, CompressionLevel: tc.level}, records)
		got, err := readAll(t, data, ReaderOptions{})
		require.NoError(t, err)
		requireSameValues(t, records, got)
	}
}

// An empty file (header only) is valid and has no records.
func TestWriterNoRecords(t *testing.T) {
	data := writeAll(t, kitchenSchema(t), WriterOptions{Codec: CodecZstandard}, nil)
	got, err := readAll(t, data, ReaderOptions{})
	require.NoError(t, err)
	assert.Empty(t, got)
}

// Byte-identical output for equal input and a fixed sync marker (metadata
// keys are sorted).
func TestWriterDeterministic(t *testing.T) {
	schema := mustParse(t, `{"type":"record","name":"r","fields":[{"name":"a","type":"long"},{"name":"b","type":["null","string"]}]}`)
	opts := WriterOptions{
		Codec:      CodecSnappy,
		SyncMarker: [16]byte{1, 2, 3},
		Metadata:   map[string][]byte{"z": []byte("1"), "a": []byte("2"), "m": nil},
	}
	recs := []any{map[string]any{"a": int64(1), "b": nil}, map[string]any{"a": int64(2), "b": map[string]any{"string": "x"}}}
	first := writeAll(t, schema, opts, recs)
	for range 5 {
		assert.Equal(t, first, writeAll(t, schema, opts, recs))
	}
	r, err := NewReader(bytes.NewReader(first), ReaderOptions{})
	require.NoError(t, err)
	assert.Equal(t, []byte("1"), r.Metadata()["z"])
	m, ok := r.Metadata()["m"]
	assert.True(t, ok)
	assert.Empty(t, m)
	assert.Equal(t, opts.SyncMarker, r.Header().Sync)
}

func TestWriterOptionsValidate(t *testing.T) {
	opts := WriterOptions{
		Codec:            "lz4",
		CompressionLevel: 3,
		SyncInterval:     10,
		BlockRecords:     -1,
		Metadata:         map[string][]byte{"avro.codec": nil, "ok": nil},
	}
	opts.EnsureDefaults()
	err := opts.Validate()
	require.Error(t, err)
	for _, want := range []string{`codec "lz4" not supported`, `codec "lz4" has no compression level`, "sync interval 10", "negative block record limit", `"avro.codec" is reserved`} {
		assert.Contains(t, err.Error(), want)
	}

	for _, bad := range []WriterOptions{
		{Codec: CodecDeflate, CompressionLevel: 10},
		{Codec: CodecZstandard, CompressionLevel: 23},
		{Codec: CodecSnappy, CompressionLevel: 1},
		{SyncInterval: MaxSyncInterval + 1},
	} {
		_, err := NewWriter(io.Discard, kitchenSchema(t), bad)
		assert.Error(t, err, "%+v", bad)
	}

	_, err = NewWriter(io.Discard, mustParse(t, `{"type":"bytes","logicalType":"decimal","precision":2000,"scale":1}`), WriterOptions{})
	assert.ErrorContains(t, err, "more than 1000 digits")

	var def WriterOptions
	def.EnsureDefaults()
	assert.NoError(t, def.Validate())
	assert.Equal(t, CodecNull, def.Codec)
	assert.Equal(t, DefaultSyncInterval, def.SyncInterval)
}

// A record that does not match the schema is rejected alone; unlike hamba's
// ocf.Encoder, the Writer stays usable and loses nothing.
func TestWriterBadRecordIsRejectedAlone(t *testing.T) {
	schema := mustParse(t, `{"type":"record","name":"r","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}`)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, schema, WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Append(map[string]any{"a": "x", "b": 1}))
	err = w.Append(map[string]any{"a": "a long string written before the failing field", "b": "not an int"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "avrofile: encoding record")
	require.NoError(t, w.Append(map[string]any{"a": "z", "b": 2}))
	assert.Equal(t, 2, w.Buffered())
	require.NoError(t, w.Close())

	got, err := readAll(t, buf.Bytes(), ReaderOptions{})
	require.NoError(t, err)
	assert.Equal(t, []any{map[string]any{"a": "x", "b": 1}, map[string]any{"a": "z", "b": 2}}, got)
}

// syncRecorder is an in-memory file that counts Sync calls and can fail.
type syncRecorder struct {
	bytes.Buffer
	syncs    int
	syncErr  error
	writeErr error
}

func (s *syncRecorder) Write(p []byte) (int, error) {
	if s.writeErr != nil {
		// A partial write, as a full disk gives.
		n := len(p) / 2
		s.Buffer.Write(p[:n])
		return n, s.writeErr
	}
	return s.Buffer.Write(p)
}

func (s *syncRecorder) Sync() error { s.syncs++; return s.syncErr }

func TestWriterOffsetAndDurable(t *testing.T) {
	schema := kitchenSchema(t)
	var f syncRecorder
	w, err := NewWriter(&f, schema, WriterOptions{Codec: CodecDeflate})
	require.NoError(t, err)
	hdrSize := w.Header().Size
	assert.Equal(t, int64(f.Len()), hdrSize, "the header is written at once")
	assert.Equal(t, hdrSize, w.Offset())
	assert.Zero(t, w.Durable(), "nothing synced yet")

	for i := range 10 {
		require.NoError(t, w.Append(kitchenRecord(i)))
	}
	assert.Equal(t, hdrSize, w.Offset(), "records stay buffered below the sync interval")
	assert.Equal(t, 10, w.Buffered())

	require.NoError(t, w.Flush())
	assert.Equal(t, int64(f.Len()), w.Offset())
	assert.Greater(t, w.Offset(), hdrSize)
	assert.Zero(t, w.Durable(), "Flush does not sync")
	assert.Zero(t, f.syncs)

	require.NoError(t, w.Sync())
	assert.Equal(t, 1, f.syncs)
	durable := w.Durable()
	assert.Equal(t, w.Offset(), durable)

	for i := 10; i < 20; i++ {
		require.NoError(t, w.Append(kitchenRecord(i)))
	}
	require.NoError(t, w.Flush())
	assert.Equal(t, durable, w.Durable())
	assert.Greater(t, w.Offset(), durable)

	// The durable prefix is a valid file holding the first 10 records;
	// the whole output holds all 20.
	got, err := readAll(t, f.Bytes()[:durable], ReaderOptions{})
	require.NoError(t, err)
	requireSameValues(t, kitchenRecords(10), got)
	got, err = readAll(t, f.Bytes(), ReaderOptions{})
	require.NoError(t, err)
	requireSameValues(t, kitchenRecords(20), got)

	// Empty Sync: still syncs (the caller asked for durability).
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close is idempotent")
	assert.ErrorIs(t, w.Append(kitchenRecord(0)), ErrClosed)
	assert.ErrorIs(t, w.Flush(), ErrClosed)
	assert.ErrorIs(t, w.Sync(), ErrClosed)
}

func TestWriterWriteErrorIsSticky(t *testing.T) {
	var f syncRecorder
	w, err := NewWriter(&f, kitchenSchema(t), WriterOptions{BlockRecords: 2})
	require.NoError(t, err)
	require.NoError(t, w.Append(kitchenRecord(0)))
	require.NoError(t, w.Append(kitchenRecord(1)))
	good := w.Offset()
	assert.Equal(t, int64(f.Len()), good)

	f.writeErr = errors.New("disk full")
	require.NoError(t, w.Append(kitchenRecord(2)))
	err = w.Append(kitchenRecord(3))
	require.ErrorContains(t, err, "disk full")
	assert.Equal(t, good, w.Offset(), "Offset stays at the last complete block")
	assert.Greater(t, int64(f.Len()), good, "a partial block was written")

	f.writeErr = nil
	assert.ErrorContains(t, w.Append(kitchenRecord(4)), "disk full")
	assert.ErrorContains(t, w.Flush(), "disk full")
	assert.ErrorContains(t, w.Close(), "disk full")

	// Truncated to Offset, the output is valid.
	got, err := readAll(t, f.Bytes()[:good], ReaderOptions{})
	require.NoError(t, err)
	requireSameValues(t, kitchenRecords(2), got)
}

func TestWriterSyncErrorIsSticky(t *testing.T) {
	f := syncRecorder{syncErr: errors.New("EIO")}
	w, err := NewWriter(&f, kitchenSchema(t), WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Append(kitchenRecord(0)))
	require.ErrorContains(t, w.Sync(), "EIO")
	assert.Zero(t, w.Durable())
	f.syncErr = nil
	assert.ErrorContains(t, w.Append(kitchenRecord(1)), "EIO")
}

// The file sink's recovery: truncate an in-progress file to the durable
// length of the last checkpoint and continue it.
func TestResume(t *testing.T) {
	for _, codec := range Codecs {
		t.Run(string(codec), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "part.avro.inprogress")
			f, err := os.Create(path)
			require.NoError(t, err)
			defer f.Close()

			w, err := NewWriter(f, kitchenSchema(t), WriterOptions{Codec: codec, BlockRecords: 4, Metadata: map[string][]byte{"k": []byte("v")}})
			require.NoError(t, err)
			for i := range 10 {
				require.NoError(t, w.Append(kitchenRecord(i)))
			}
			require.NoError(t, w.Sync())
			durable := w.Durable()
			// Records after the checkpoint, then a crash mid-block.
			for i := 10; i < 17; i++ {
				require.NoError(t, w.Append(kitchenRecord(i)))
			}
			_, err = f.Write([]byte{0x0c, 0xff, 0x01, 0x02})
			require.NoError(t, err)

			// Recovery.
			w2, err := Resume(f, durable, WriterOptions{BlockRecords: 3})
			require.NoError(t, err)
			assert.Equal(t, durable, w2.Offset())
			assert.Equal(t, durable, w2.Durable())
			assert.Equal(t, codec, w2.Header().Codec)
			for i := 10; i < 25; i++ {
				require.NoError(t, w2.Append(kitchenRecord(i)))
			}
			require.NoError(t, w2.Sync())
			require.NoError(t, w2.Close())
			info, err := f.Stat()
			require.NoError(t, err)
			assert.Equal(t, info.Size(), w2.Durable())

			r, err := Open(path, ReaderOptions{})
			require.NoError(t, err)
			defer r.Close()
			assert.Equal(t, []byte("v"), r.Metadata()["k"])
			var got []any
			for r.Next() {
				got = append(got, r.Value())
			}
			require.NoError(t, r.Err())
			requireSameValues(t, kitchenRecords(25), got)
		})
	}
}

func TestResumeRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.avro")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w, err := NewWriter(f, kitchenSchema(t), WriterOptions{Codec: CodecSnappy})
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	size := w.Durable()

	_, err = Resume(f, size, WriterOptions{Codec: CodecDeflate, SyncMarker: [16]byte{9}, Metadata: map[string][]byte{}})
	require.Error(t, err)
	for _, want := range []string{`codec "deflate" differs`, "sync marker differs", "metadata cannot change"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = Resume(f, size-1, WriterOptions{})
	requireFileError(t, err, ErrTruncated)

	g, err := os.Create(filepath.Join(t.TempDir(), "g"))
	require.NoError(t, err)
	defer g.Close()
	_, err = g.WriteString("not avro at all")
	require.NoError(t, err)
	_, err = Resume(g, 15, WriterOptions{})
	requireFileError(t, err, ErrBadMagic)
}

// Cross-checks with hamba's own container-file code: riffle's files read
// with ocf.Decoder, ocf.Encoder's files read with riffle's Reader.
func TestHambaOCFReadsRiffleFiles(t *testing.T) {
	schema := kitchenSchema(t)
	records := kitchenRecords(120)
	for _, codec := range Codecs {
		data := writeAll(t, schema, WriterOptions{Codec: codec, SyncInterval: 1000}, records)
		dec, err := ocf.NewDecoder(bytes.NewReader(data))
		require.NoError(t, err, codec)
		var got []any
		for dec.HasNext() {
			var v any
			require.NoError(t, dec.Decode(&v))
			got = append(got, v)
		}
		require.NoError(t, dec.Error())
		require.NoError(t, dec.Close())
		require.Len(t, got, len(records), codec)
		for i := range got {
			// hamba's values leave bare some unions; compare the rest.
			g, w := got[i].(map[string]any), records[i].(map[string]any)
			for _, k := range []string{"id", "name", "blob", "color", "hash", "tags", "attrs", "choice", "at", "price"} {
				require.Equal(t, comparable(w[k]), comparable(g[k]), "%s record %d field %s", codec, i, k)
			}
		}
	}
}

func TestReaderReadsHambaOCFFiles(t *testing.T) {
	schema := kitchenSchema(t)
	records := kitchenRecords(120)
	for _, codec := range []ocf.CodecName{ocf.Null, ocf.Deflate, ocf.Snappy, ocf.ZStandard} {
		var buf bytes.Buffer
		enc, err := ocf.NewEncoderWithSchema(schema, &buf, ocf.WithCodec(codec), ocf.WithBlockLength(16))
		require.NoError(t, err)
		for _, rec := range records {
			require.NoError(t, enc.Encode(rec))
		}
		require.NoError(t, enc.Close())
		got, err := readAll(t, buf.Bytes(), ReaderOptions{})
		require.NoError(t, err, codec)
		requireSameValues(t, records, got)
	}
}

// Append accepts hamba's bare form for unions whose branches are all
// primitives, as well as the wrapped form the Reader returns.
func TestWriterAcceptsBareUnionValues(t *testing.T) {
	schema := mustParse(t, `{"type":"record","name":"r","fields":[{"name":"a","type":["null","string","long"]}]}`)
	data := writeAll(t, schema, WriterOptions{}, []any{
		map[string]any{"a": "x"},
		map[string]any{"a": int64(3)},
		map[string]any{"a": nil},
		map[string]any{"a": map[string]any{"long": int64(4)}},
	})
	got, err := readAll(t, data, ReaderOptions{})
	require.NoError(t, err)
	assert.Equal(t, []any{
		map[string]any{"a": map[string]any{"string": "x"}},
		map[string]any{"a": map[string]any{"long": int64(3)}},
		map[string]any{"a": nil},
		map[string]any{"a": map[string]any{"long": int64(4)}},
	}, got)
}

// hamba caches compiled encoders by the canonical form of a schema, where a
// reference to a named type is only its name: with a shared configuration,
// the second writer below would encode its "Node" items with the first
// file's definition of Node and fail (or worse). Each Writer and Reader has
// its own configuration.
func TestWritersDoNotShareCodecs(t *testing.T) {
	const list = `{"type":"record","name":"Node","fields":[
		{"name":"v","type":["null",{"type":"array","items":"Node"}]},
		{"name":"%s","type":["null","Node"]}]}`
	for _, field := range []string{"next", "other"} {
		schema := mustParse(t, fmt.Sprintf(list, field))
		leaf := map[string]any{"v": nil, field: nil}
		rec := map[string]any{"v": map[string]any{"array": []any{leaf}}, field: map[string]any{"Node": leaf}}
		data := writeAll(t, schema, WriterOptions{}, []any{rec})
		got, err := readAll(t, data, ReaderOptions{})
		require.NoError(t, err)
		assert.Equal(t, []any{rec}, got)
	}
}
