package file

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/internal/avrofile"
	"github.com/riffle-streams/riffle/stream"
)

func TestAvroSourceReadsInteropFiles(t *testing.T) {
	requireInterop(t)
	for _, name := range []string{"weather.avro", "weather-deflate.avro", "weather-snappy.avro", "weather-zstd.avro"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(interopDir, name)
			src, err := NewAvroSource[Weather](SourceOptions{Paths: []string{path}})
			require.NoError(t, err)
			assert.Equal(t, weatherWant, readAll(t, src))
			for off := int64(0); off <= 5; off++ {
				got, err := readSplit(t, src, path, off)
				require.NoError(t, err)
				assert.Equal(t, weatherWant[off:], append([]Weather{}, got...), "from %d", off)
			}
			maps, err := NewAvroSource[map[string]any](SourceOptions{Paths: []string{path}})
			require.NoError(t, err)
			assert.Equal(t, map[string]any{"station": "011990-99999", "time": int64(-619524000000), "temp": 0}, readAll(t, maps)[0])
		})
	}

	t.Run("glob", func(t *testing.T) {
		src, err := NewAvroSource[Weather](SourceOptions{Glob: filepath.Join(interopDir, "weather-*.avro")})
		require.NoError(t, err)
		files, err := src.Files()
		require.NoError(t, err)
		assert.Len(t, files, 4) // deflate, snappy, sorted, zstd
		assert.Len(t, readAll(t, src), 20)
	})

	t.Run("withUnion.avro", func(t *testing.T) {
		path := filepath.Join(interopDir, "withUnion.avro")
		src, err := NewAvroSource[map[string]any](SourceOptions{Paths: []string{path}})
		require.NoError(t, err)
		got := readAll(t, src)
		require.Len(t, got, 3)
		// avrofile's generic form: every non-null union value names its branch.
		assert.Equal(t, map[string]any{"data1": map[string]any{"string": "textValue"}, "data2": nil}, got[0])
		assert.Equal(t, map[string]any{
			"data1": map[string]any{"int": 123},
			"data2": map[string]any{"inner": map[string]any{"d1": map[string]any{"boolean": false}}},
		}, got[1])

		type inner struct {
			D1 any `avro:"d1"`
		}
		type withUnion struct {
			Data1 any    `avro:"data1"`
			Data2 *inner `avro:"data2"`
		}
		typed, err := NewAvroSource[withUnion](SourceOptions{Paths: []string{path}})
		require.NoError(t, err)
		ws := readAll(t, typed)
		require.Len(t, ws, 3)
		assert.Nil(t, ws[0].Data2)
		require.NotNil(t, ws[2].Data2)
		assert.Equal(t, "text value", ws[2].Data2.D1)
	})

	t.Run("syncInMeta.avro", func(t *testing.T) {
		type person struct {
			ID    int64  `avro:"ID"`
			First string `avro:"First"`
			Last  string `avro:"Last"`
			Phone string `avro:"Phone"`
			Age   int    `avro:"Age"`
		}
		path := filepath.Join(interopDir, "syncInMeta.avro")
		src, err := NewAvroSource[person](SourceOptions{Paths: []string{path}})
		require.NoError(t, err)
		all := readAll(t, src)
		require.Len(t, all, 6001)
		assert.Equal(t, person{1, "Dante", "Hicks", "(0)", 32}, all[0])
		_, firsts := blockStarts(t, path)
		require.Greater(t, len(firsts), 1)
		var offs []int64
		for _, f := range firsts {
			offs = append(offs, f, f+1, max(f-1, 0))
		}
		offs = append(offs, 6000, 6001)
		for _, off := range offs {
			got, err := readSplit(t, src, path, off)
			require.NoError(t, err)
			require.Len(t, got, 6001-int(off), "from %d", off)
			if len(got) > 0 {
				require.Equal(t, off+1, got[0].ID, "from %d", off)
			}
		}
		_, err = readSplit(t, src, path, 6002)
		require.ErrorContains(t, err, "has 6001 records")
	})
}

func TestAvroSourceResolvesWriterAgainstReaderSchema(t *testing.T) {
	dir := t.TempDir()
	// Version 1 of a schema: id is an int, there is a field v2 dropped, no "score".
	v1 := avro.MustParse(`{"type":"record","name":"R","fields":[
		{"name":"id","type":"int"},{"name":"old","type":"string"},{"name":"name","type":"string"}]}`)
	// Version 2: id promoted to long, old dropped, score added with a default, name
	// renamed to title through an alias.
	v2 := avro.MustParse(`{"type":"record","name":"R","fields":[
		{"name":"id","type":"long"},
		{"name":"title","aliases":["name"],"type":"string"},
		{"name":"score","type":"double","default":1.5}]}`)
	type R2 struct {
		ID    int64   `avro:"id"`
		Title string  `avro:"title"`
		Score float64 `avro:"score"`
	}
	path := filepath.Join(dir, "v1.avro")
	writeAvro(t, path, v1, avrofile.WriterOptions{}, []map[string]any{
		{"id": 1, "old": "x", "name": "one"}, {"id": 2, "old": "y", "name": "two"}})
	src, err := NewAvroSource[R2](SourceOptions{Paths: []string{path}, Schema: v2})
	require.NoError(t, err)
	assert.Equal(t, []R2{{1, "one", 1.5}, {2, "two", 1.5}}, readAll(t, src))

	// A reader schema the file cannot be read as fails at open, naming the file.
	bad := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"missing","type":"long"}]}`)
	src, err = NewAvroSource[R2](SourceOptions{Paths: []string{path}, Schema: bad})
	require.NoError(t, err)
	_, err = readSplit(t, src, path, -1)
	require.ErrorIs(t, err, ErrIncompatibleSchema)
	require.ErrorContains(t, err, path+": header")
}

func TestAvroSourceSeekSkipsWholeBlocks(t *testing.T) {
	dir := t.TempDir()
	want := recs(0, 60)
	for _, codec := range []avrofile.Codec{avrofile.CodecNull, avrofile.CodecDeflate, avrofile.CodecSnappy, avrofile.CodecZstandard} {
		t.Run(string(codec), func(t *testing.T) {
			path := filepath.Join(dir, string(codec)+".avro")
			writeAvro(t, path, recSchema, avrofile.WriterOptions{Codec: codec, BlockRecords: 7}, want)
			src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}})
			require.NoError(t, err)
			for off := int64(0); off <= 60; off++ {
				got, err := readSplit(t, src, path, off)
				require.NoError(t, err)
				require.Equal(t, want[off:], append([]Rec{}, got...), "from %d", off)
			}
			_, err = readSplit(t, src, path, 61)
			require.ErrorContains(t, err, "cannot resume at record 61: the file has 60 records")

			// One reader seeks back and forth; Offset follows.
			rd, err := src.Open(context.Background(), path)
			require.NoError(t, err)
			defer rd.Close()
			buf := make([]stream.Record[Rec], 10)
			for _, off := range []int64{30, 3, 59, 7, 0, 14, 60} {
				require.NoError(t, rd.(stream.Seeker).SeekTo(off))
				require.Equal(t, off, rd.Offset())
				n, err := rd.Read(buf)
				if off == 60 {
					require.ErrorIs(t, err, io.EOF)
					continue
				}
				require.Equal(t, min(10, 60-int(off)), n)
				require.Equal(t, want[off], buf[0].Value)
				require.Equal(t, off+int64(n), rd.Offset())
			}
		})
	}

	t.Run("skipped blocks are not decoded", func(t *testing.T) {
		path := filepath.Join(dir, "bad-first-block.avro")
		writeAvro(t, path, recSchema, avrofile.WriterOptions{BlockRecords: 7}, want)
		offs, _ := blockStarts(t, path)
		// Garbage in the data of block 0 (null codec: the records' bytes), framing intact.
		corrupt(t, path, offs[0]+4, 0xff)
		corrupt(t, path, offs[0]+5, 0xff)
		src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}})
		require.NoError(t, err)
		_, err = readSplit(t, src, path, 0)
		require.ErrorIs(t, err, ErrCorrupt)
		got, err := readSplit(t, src, path, 7)
		require.NoError(t, err)
		require.Equal(t, want[7:], got)
	})
}

// avroFixture writes 20 records in 4 blocks of 5 (null codec) and returns the path and
// the blocks' offsets.
func avroFixture(t *testing.T) (string, []int64) {
	path := filepath.Join(t.TempDir(), "in.avro")
	writeAvro(t, path, recSchema, avrofile.WriterOptions{BlockRecords: 5}, recs(0, 20))
	offs, firsts := blockStarts(t, path)
	require.Equal(t, []int64{0, 5, 10, 15}, firsts)
	return path, offs
}

func TestAvroSourceErrorsNamePathAndPosition(t *testing.T) {
	size := func(path string) int64 { st, err := os.Stat(path); require.NoError(t, err); return st.Size() }
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, path string, offs []int64)
		kind    error
		msg     string // after the path
		records int    // read before the error
	}{
		{"truncated inside block 2", func(t *testing.T, path string, offs []int64) {
			require.NoError(t, os.Truncate(path, offs[2]+10))
		}, ErrTruncated, ": block 2 at byte %d: truncated file: input ends inside the", 10},
		{"sync marker of block 1", func(t *testing.T, path string, offs []int64) {
			flip(t, path, offs[2]-1)
		}, ErrCorrupt, ": block 1 at byte %d: corrupt file: sync marker mismatch", 5},
		{"record 11 does not decode", func(t *testing.T, path string, offs []int64) {
			// Record 11's id varint becomes endless.
			at := record11(t, path, offs)
			for i := int64(0); i < 10; i++ {
				corrupt(t, path, at+i, 0xff)
			}
		}, ErrCorrupt, ": block 2 at byte %d, record 11: corrupt file: record", 11},
		{"bad block count", func(t *testing.T, path string, offs []int64) {
			corrupt(t, path, offs[3], 0x01) // count -1
		}, ErrCorrupt, ": block 3 at byte %d: corrupt file: negative record count", 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, offs := avroFixture(t)
			tc.damage(t, path, offs)
			src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}})
			require.NoError(t, err)
			got, err := readSplit(t, src, path, -1)
			require.ErrorIs(t, err, tc.kind)
			var fe *Error
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, path, fe.Path)
			block := int(fe.Block)
			assert.Contains(t, err.Error(), path+strings.Replace(tc.msg, "%d", itoa(offs[block]), 1))
			assert.Equal(t, recs(0, tc.records), got)
		})
	}

	t.Run("not an Avro file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.avro")
		require.NoError(t, os.WriteFile(path, []byte("hello world, this is text"), 0o644))
		src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}})
		require.NoError(t, err)
		_, err = readSplit(t, src, path, -1)
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, path+": header: corrupt file: bad magic")
	})

	t.Run("in a job the error names the source, split and offset", func(t *testing.T) {
		path, offs := avroFixture(t)
		require.NoError(t, os.Truncate(path, size(path)-3))
		src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}})
		require.NoError(t, err)
		j := stream.NewJob("read", stream.JobOptions{Logger: quiet})
		stream.FromSource(j, "files", src, stream.WatermarkStrategy[Rec]{}).To("discard", stream.Discard[Rec]())
		err = j.Run(context.Background())
		require.ErrorIs(t, err, ErrTruncated)
		require.ErrorContains(t, err, "block 3 at byte "+itoa(offs[3]))
		require.ErrorContains(t, err, path)
		var oe *stream.OperatorError
		require.ErrorAs(t, err, &oe)
	})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// record11 returns the byte offset of record 11 in avroFixture's file (the second
// record of block 2).
func record11(t *testing.T, path string, offs []int64) int64 {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	off := offs[2]
	_, n1 := binary.Varint(b[off:])
	_, n2 := binary.Varint(b[off+int64(n1):])
	r10, err := avro.Marshal(recSchema, rec(10))
	require.NoError(t, err)
	return off + int64(n1+n2+len(r10))
}

func TestAvroSourceDeadLetter(t *testing.T) {
	t.Run("a corrupt block is skipped whole", func(t *testing.T) {
		path, offs := avroFixture(t)
		flip(t, path, offs[2]-1) // block 1's sync marker
		var dl deadLetters
		src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}, DeadLetter: dl.add})
		require.NoError(t, err)
		got, err := readSplit(t, src, path, -1)
		require.NoError(t, err)
		assert.Equal(t, append(recs(0, 5), recs(10, 20)...), got)
		require.Len(t, dl.got, 1)
		d := dl.got[0]
		assert.Equal(t, int64(5), d.First)
		assert.Equal(t, int64(5), d.Lost)
		assert.Equal(t, int64(1), d.Err.Block)
		assert.ErrorIs(t, d.Err, ErrCorrupt)

		// Offsets still count the lost records: resuming after them finds the same ones.
		for _, off := range []int64{3, 5, 7, 10, 12} {
			dl.got = nil
			got, err := readSplit(t, src, path, off)
			require.NoError(t, err)
			want := recs(max(int(off), 10), 20)
			if off < 5 {
				want = append(recs(int(off), 5), want...)
			}
			assert.Equal(t, want, got, "from %d", off)
			if off < 10 {
				require.Len(t, dl.got, 1, "from %d", off)
				assert.Equal(t, max(off, 5), dl.got[0].First)
				assert.Equal(t, 10-max(off, 5), dl.got[0].Lost)
			} else {
				assert.Empty(t, dl.got)
			}
		}
	})

	t.Run("a record that does not decode costs the rest of its block", func(t *testing.T) {
		path, offs := avroFixture(t)
		at := record11(t, path, offs)
		for i := int64(0); i < 10; i++ {
			corrupt(t, path, at+i, 0xff)
		}
		var dl deadLetters
		src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}, DeadLetter: dl.add})
		require.NoError(t, err)
		rd, err := src.Open(context.Background(), path)
		require.NoError(t, err)
		defer rd.Close()
		var got []Rec
		buf := make([]stream.Record[Rec], 100)
		n, err := rd.Read(buf)
		require.ErrorIs(t, err, io.EOF)
		for _, r := range buf[:n] {
			got = append(got, r.Value)
		}
		assert.Equal(t, append(recs(0, 11), recs(15, 20)...), got)
		assert.Equal(t, int64(20), rd.Offset())
		require.Len(t, dl.got, 1)
		assert.Equal(t, int64(11), dl.got[0].First)
		assert.Equal(t, int64(4), dl.got[0].Lost)
		assert.Equal(t, int64(11), dl.got[0].Err.Record)
	})

	t.Run("a truncated file loses its tail", func(t *testing.T) {
		path, offs := avroFixture(t)
		require.NoError(t, os.Truncate(path, offs[3]+4))
		var dl deadLetters
		src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}, DeadLetter: dl.add})
		require.NoError(t, err)
		got, err := readSplit(t, src, path, -1)
		require.NoError(t, err)
		assert.Equal(t, recs(0, 15), got)
		require.Len(t, dl.got, 1)
		assert.Equal(t, int64(15), dl.got[0].First)
		assert.Equal(t, int64(-1), dl.got[0].Lost)
		assert.ErrorIs(t, dl.got[0].Err, ErrTruncated)
	})

	t.Run("a corrupt header loses the file", func(t *testing.T) {
		path, _ := avroFixture(t)
		corrupt(t, path, 0, 'X')
		var dl deadLetters
		src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}, DeadLetter: dl.add})
		require.NoError(t, err)
		got, err := readSplit(t, src, path, 0)
		require.NoError(t, err)
		assert.Empty(t, got)
		require.Len(t, dl.got, 1)
		assert.Equal(t, int64(-1), dl.got[0].Lost)
	})

	t.Run("records that do not fit T are skipped one by one", func(t *testing.T) {
		path, _ := avroFixture(t)
		type wrong struct {
			ID   int64 `avro:"id"`
			Name int   `avro:"name"` // a string in the file
		}
		var dl deadLetters
		src, err := NewAvroSource[wrong](SourceOptions{Paths: []string{path}, DeadLetter: dl.add})
		require.NoError(t, err)
		got, err := readSplit(t, src, path, 18)
		require.NoError(t, err)
		assert.Empty(t, got)
		require.Len(t, dl.got, 2)
		assert.Equal(t, int64(18), dl.got[0].First)
		assert.Equal(t, int64(19), dl.got[1].Err.Record)
		assert.ErrorIs(t, dl.got[1].Err, ErrDecode)

		// Without a dead letter, the first one fails.
		src, err = NewAvroSource[wrong](SourceOptions{Paths: []string{path}})
		require.NoError(t, err)
		_, err = readSplit(t, src, path, -1)
		require.ErrorIs(t, err, ErrDecode)
		require.ErrorContains(t, err, path+": block 0 at byte")
		require.ErrorContains(t, err, ", record 0: record does not decode: into file.wrong")
	})

	t.Run("the dead letter's error fails the job", func(t *testing.T) {
		path, offs := avroFixture(t)
		flip(t, path, offs[2]-1)
		stop := errors.New("stop")
		src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{path}, DeadLetter: func(DeadLetter) error { return stop }})
		require.NoError(t, err)
		_, err = readSplit(t, src, path, -1)
		require.ErrorIs(t, err, stop)
	})
}

func TestJSONSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	text := `{"id":0,"name":"a"}` + "\n" +
		"\n" + // blank: skipped, still a line
		`{"id":2,"name":"b"}` + "\r\n" +
		"   \t\n" +
		`{"id":4,"name":"c","note":"n"}` // no line end
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	n := "n"
	want := []Rec{{ID: 0, Name: "a"}, {ID: 2, Name: "b"}, {ID: 4, Name: "c", Note: &n}}
	src, err := NewJSONSource[Rec](SourceOptions{Paths: []string{path}}, nil)
	require.NoError(t, err)
	assert.Equal(t, want, readAll(t, src))

	for off, w := range [][]Rec{want, want[1:], want[1:], want[2:], want[2:], nil} {
		got, err := readSplit(t, src, path, int64(off))
		require.NoError(t, err)
		assert.Equal(t, w, got, "from line %d", off)
	}
	_, err = readSplit(t, src, path, 6)
	require.ErrorContains(t, err, "cannot resume at line 6: the file has 5 lines")

	rd, err := src.Open(context.Background(), path)
	require.NoError(t, err)
	buf := make([]stream.Record[Rec], 2)
	k, err := rd.Read(buf)
	require.NoError(t, err)
	require.Equal(t, 2, k)
	assert.Equal(t, int64(3), rd.Offset(), "lines, not records")
	require.NoError(t, rd.Close())
	require.NoError(t, rd.Close())

	t.Run("errors name path and line", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.jsonl")
		require.NoError(t, os.WriteFile(bad, []byte(`{"id":1,"name":"x"}`+"\n"+`{"id":"two"}`+"\n"+`{"id":3,"name":"z"}`+"\n"), 0o644))
		src, err := NewJSONSource[Rec](SourceOptions{Paths: []string{bad}}, nil)
		require.NoError(t, err)
		got, err := readSplit(t, src, bad, -1)
		require.ErrorIs(t, err, ErrDecode)
		require.ErrorContains(t, err, bad+":2 (byte 20): record does not decode: json:")
		var fe *Error
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, int64(1), fe.Record)
		assert.Equal(t, []Rec{{ID: 1, Name: "x"}}, got)

		var dl deadLetters
		src, err = NewJSONSource[Rec](SourceOptions{Paths: []string{bad}, DeadLetter: dl.add}, nil)
		require.NoError(t, err)
		got, err = readSplit(t, src, bad, -1)
		require.NoError(t, err)
		assert.Equal(t, []Rec{{ID: 1, Name: "x"}, {ID: 3, Name: "z"}}, got)
		require.Len(t, dl.got, 1)
		assert.Equal(t, `{"id":"two"}`, string(dl.got[0].Raw))
		assert.Equal(t, int64(1), dl.got[0].First)
	})

	t.Run("a decode error wrapping io.EOF fails instead of ending the file", func(t *testing.T) {
		// The runtime takes any error matching io.EOF for the end of a split.
		src, err := NewJSONSource[Rec](SourceOptions{Paths: []string{path}}, func([]byte) (Rec, error) {
			return Rec{}, fmt.Errorf("short: %w", io.EOF)
		})
		require.NoError(t, err)
		_, err = readSplit(t, src, path, -1)
		require.ErrorIs(t, err, ErrDecode)
		require.NotErrorIs(t, err, io.EOF)
		require.ErrorContains(t, err, "short: EOF")
	})

	t.Run("long lines", func(t *testing.T) {
		long := filepath.Join(dir, "long.jsonl")
		big := `{"id":1,"name":"` + strings.Repeat("x", 200<<10) + `"}`
		require.NoError(t, os.WriteFile(long, []byte(big+"\n"+`{"id":2,"name":"y"}`+"\n"), 0o644))
		src, err := NewJSONSource[Rec](SourceOptions{Paths: []string{long}}, nil)
		require.NoError(t, err)
		got, err := readSplit(t, src, long, -1)
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Len(t, got[0].Name, 200<<10)

		var dl deadLetters
		src, err = NewJSONSource[Rec](SourceOptions{Paths: []string{long}, MaxLineSize: 100 << 10, DeadLetter: dl.add}, nil)
		require.NoError(t, err)
		got, err = readSplit(t, src, long, -1)
		require.NoError(t, err)
		assert.Equal(t, []Rec{{ID: 2, Name: "y"}}, got)
		require.Len(t, dl.got, 1)
		assert.ErrorIs(t, dl.got[0].Err, ErrTooLarge)
	})
}

func TestSourceOptions(t *testing.T) {
	_, err := NewAvroSource[Rec](SourceOptions{Paths: []string{""}, Glob: "[", MaxBlockSize: -1})
	require.Error(t, err)
	for _, want := range []string{"Paths[0] is empty", `Glob "["`, "negative MaxBlockSize"} {
		assert.ErrorContains(t, err, want)
	}
	_, err = NewAvroSource[Rec](SourceOptions{})
	assert.ErrorContains(t, err, "no input")
	_, err = NewJSONSource[Rec](SourceOptions{Paths: []string{"x"}, Schema: recSchema}, nil)
	assert.ErrorContains(t, err, "Schema is for Avro sources")

	dir := t.TempDir()
	for _, n := range []string{"b.avro", "a.avro", "c.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o644))
	}
	src, err := NewAvroSource[Rec](SourceOptions{Paths: []string{filepath.Join(dir, "b.avro"), filepath.Join(dir, "c.txt")}, Glob: filepath.Join(dir, "*.avro")})
	require.NoError(t, err)
	files, err := src.Splits(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "b.avro"), filepath.Join(dir, "c.txt"), filepath.Join(dir, "a.avro")}, files)

	src, err = NewAvroSource[Rec](SourceOptions{Glob: filepath.Join(dir, "*.nothing")})
	require.NoError(t, err)
	_, err = src.Splits(context.Background())
	assert.ErrorContains(t, err, "no input files match")
}
