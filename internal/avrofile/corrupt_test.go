package avrofile

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testSync = [16]byte{'s', 'y', 'n', 'c', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}

// craft builds a file from a schema, a codec and raw block bytes.
func craft(schema string, codec Codec, blocks ...[]byte) []byte {
	meta := map[string][]byte{MetaSchema: []byte(schema)}
	if codec != "" {
		meta[MetaCodec] = []byte(codec)
	}
	out := appendHeader(nil, meta, testSync)
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out
}

// block frames a payload: count, size, payload, sync marker.
func block(count int64, payload []byte) []byte {
	b := appendLong(nil, count)
	b = appendLong(b, int64(len(payload)))
	b = append(b, payload...)
	return append(b, testSync[:]...)
}

// longs encodes varints (a record of long fields).
func longs(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = appendLong(b, v)
	}
	return b
}

const longSchema = `{"type":"record","name":"r","fields":[{"name":"a","type":"long"}]}`

// blockBoundaries writes records and returns the file and, for every block
// boundary offset, the number of records before it.
func blockBoundaries(t *testing.T, codec Codec, n int) ([]byte, map[int]int) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, kitchenSchema(t), WriterOptions{Codec: codec, BlockRecords: 3})
	require.NoError(t, err)
	bounds := map[int]int{buf.Len(): 0}
	for i := range n {
		require.NoError(t, w.Append(kitchenRecord(i)))
		if w.Buffered() == 0 {
			bounds[buf.Len()] = i + 1
		}
	}
	require.NoError(t, w.Close())
	bounds[buf.Len()] = n
	return buf.Bytes(), bounds
}

// Cut a file at every byte: the records of the complete blocks before the
// cut come back, then ErrTruncated, unless the cut is a block boundary.
func TestTruncatedAtEveryByte(t *testing.T) {
	for _, codec := range Codecs {
		t.Run(string(codec), func(t *testing.T) {
			const n = 10
			data, bounds := blockBoundaries(t, codec, n)
			want := kitchenRecords(n)
			hdrSize := 0
			for b := range bounds {
				if hdrSize == 0 || b < hdrSize {
					hdrSize = b
				}
			}
			complete := 0
			for cut := 0; cut < len(data); cut++ {
				if c, ok := bounds[cut]; ok {
					complete = c
				}
				got, err := readAll(t, data[:cut], ReaderOptions{Name: "cut.avro"})
				if _, boundary := bounds[cut]; boundary {
					require.NoError(t, err, "cut at block boundary %d", cut)
				} else {
					fe := requireFileError(t, err, ErrTruncated)
					if cut > 0 {
						require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut %d: %v", cut, err)
					}
					require.True(t, strings.HasPrefix(err.Error(), "avrofile: cut.avro: "), err.Error())
					if cut < hdrSize {
						require.EqualValues(t, -1, fe.Block, "cut %d", cut)
					} else {
						require.EqualValues(t, -1, fe.Record)
						require.GreaterOrEqual(t, fe.Offset, int64(hdrSize))
					}
				}
				requireSameValues(t, want[:complete], got)
			}
		})
	}
}

// Flip every bit of a small file: never a panic, every error an *Error of
// a known kind. For snappy (CRC-32) and zstandard (frame checksum), no flip
// in the blocks goes unnoticed.
func TestBitFlips(t *testing.T) {
	schema := mustParse(t, `{"type":"record","name":"r","fields":[{"name":"a","type":"long"},`+
		`{"name":"s","type":["null","string"]},{"name":"t","type":{"type":"array","items":"int"}}]}`)
	var want []any
	for i := range 6 {
		var s any
		if i%2 == 1 {
			s = map[string]any{"string": strings.Repeat("x", i)}
		}
		want = append(want, map[string]any{"a": int64(i * 1000), "s": s, "t": []any{i, -i}})
	}
	for _, codec := range Codecs {
		t.Run(string(codec), func(t *testing.T) {
			t.Parallel()
			data := writeAll(t, schema, WriterOptions{Codec: codec, BlockRecords: 3, SyncMarker: testSync}, want)
			hdrSize := len(appendHeader(nil, map[string][]byte{MetaSchema: mustMarshal(t, schema), MetaCodec: []byte(codec)}, testSync))
			r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
			require.NoError(t, err)
			require.EqualValues(t, hdrSize, r.Header().Size)
			detected, silent := 0, 0
			for i := range data {
				for bit := range 8 {
					c := bytes.Clone(data)
					c[i] ^= 1 << bit
					got, err := readAll(t, c, ReaderOptions{})
					if err != nil {
						requireKnownError(t, err)
						detected++
						continue
					}
					if i >= hdrSize && (codec == CodecSnappy || codec == CodecZstandard) {
						requireSameValues(t, want, got)
					}
					silent++
				}
			}
			t.Logf("%s: %d flips detected, %d read without error", codec, detected, silent)
		})
	}
}

func mustMarshal(t *testing.T, s avro.Schema) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return b
}

func TestCorruptInputs(t *testing.T) {
	nullArray := `{"type":"array","items":"null"}`
	deflated := func(p []byte) []byte {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		_, _ = w.Write(p)
		_ = w.Close()
		return b.Bytes()
	}
	zstded := func(p []byte) []byte {
		enc, _ := zstd.NewWriter(nil)
		defer enc.Close()
		return enc.EncodeAll(p, nil)
	}
	snappyed := func(p []byte) []byte {
		c := &snappyCodec{}
		out, _ := c.compress(p)
		return bytes.Clone(out)
	}
	zeros := make([]byte, 3<<20)
	goodBlock := block(2, longs(1, 2))

	for _, tc := range []struct {
		name    string
		data    []byte
		opts    ReaderOptions
		kind    error
		msg     string
		records int // read before the error
	}{
		{name: "empty", data: nil, kind: ErrTruncated, msg: "header: truncated file: empty input"},
		{name: "magic prefix", data: []byte("Ob"), kind: ErrTruncated, msg: "inside the magic"},
		{name: "bad magic", data: []byte("Obj\x02rest of file"), kind: ErrBadMagic, msg: `starts with 4f 62 6a 02`},
		{name: "text file", data: []byte("hello"), kind: ErrBadMagic},
		{name: "header without sync", data: craft(longSchema, "")[:40], kind: ErrTruncated, msg: "header: truncated file"},
		{name: "no schema", data: appendHeader(nil, map[string][]byte{"x": nil}, testSync), kind: ErrCorruptHeader, msg: "no avro.schema"},
		{name: "invalid schema", data: craft(`{"type":"record"`, ""), kind: ErrCorruptHeader, msg: "invalid avro.schema"},
		{name: "unknown codec", data: craft(longSchema, "xz"), kind: ErrUnknownCodec, msg: `codec "xz" not supported`},
		{name: "negative metadata length", data: append([]byte("Obj\x01\x02\x01"), make([]byte, 20)...), kind: ErrCorruptHeader, msg: "negative metadata key length"},
		{name: "metadata too large", data: append([]byte("Obj\x01\x02"), appendLong(nil, 1<<40)...), kind: ErrTooLarge},
		{name: "metadata varint overflow", data: append([]byte("Obj\x01"), bytes.Repeat([]byte{0xff}, 11)...), kind: ErrCorruptHeader, msg: "overflows"},

		{name: "negative block size", data: craft(longSchema, "", goodBlock, longs(1, -2), []byte("abc")), kind: ErrCorruptBlock, msg: "block 1 at byte", records: 2},
		{name: "negative count", data: craft(longSchema, "", longs(-1, 1), []byte{2}, testSync[:]), kind: ErrCorruptBlock, msg: "negative record count"},
		{name: "huge block size", data: craft(longSchema, "", longs(1, 1<<40), []byte("abc")), kind: ErrTooLarge, msg: "exceeds the 67108864-byte limit"},
		{name: "block size beyond file", data: craft(longSchema, "", longs(1, 60<<20), []byte("abc")), kind: ErrTruncated, msg: "inside the 62914560-byte block data"},
		{name: "huge count", data: craft(longSchema, "", block(1<<40, longs(1))), kind: ErrTooLarge, msg: "record count"},
		{name: "count too small", data: craft(longSchema, "", block(1, longs(1, 2))), kind: ErrCorruptBlock, msg: "bytes left over after the block's 1 records"},
		{name: "count too large", data: craft(longSchema, "", block(3, longs(1, 2))), kind: ErrCorruptBlock, msg: "does not fit", records: 0},
		{name: "count too large, fits", data: craft(longSchema, "", block(3, []byte{0x80, 0x01, 2})), kind: ErrCorruptBlock, msg: "record 2: corrupt block: record extends past the end of the block", records: 2},
		{name: "sync mismatch", data: craft(longSchema, "", goodBlock, append(longs(1, 1, 2), make([]byte, 16)...)), kind: ErrCorruptBlock, msg: "sync marker mismatch", records: 2},
		{name: "junk after last block", data: craft(longSchema, "", goodBlock, []byte{7}), kind: ErrTruncated, msg: "block 1 at byte", records: 2},
		{name: "varint overflow in block", data: craft(longSchema, "", bytes.Repeat([]byte{0x80}, 12)), kind: ErrCorruptBlock, msg: "overflows"},
		{name: "bad enum index", data: craft(`{"type":"enum","name":"e","symbols":["A"]}`, "", block(1, longs(5))), kind: ErrCorruptBlock, msg: "record 0"},
		{name: "bad union index", data: craft(`["null","long"]`, "", block(1, longs(7))), kind: ErrCorruptBlock, msg: "record 0"},
		{name: "negative string length", data: craft(`"string"`, "", block(1, longs(-3))), kind: ErrCorruptBlock},
		{name: "invalid bool", data: craft(`"boolean"`, "", block(1, []byte{7})), kind: ErrCorruptBlock},
		{name: "array of null claiming 2^40 items", data: craft(nullArray, "", block(1, longs(1<<40, 0))), kind: ErrCorruptBlock, msg: "MaxSliceAllocSize"},
		{name: "zero count over data", data: craft(longSchema, "", goodBlock, block(0, longs(3))), kind: ErrCorruptBlock, msg: "block of 0 records holds 1 bytes", records: 2},

		{name: "deflate garbage", data: craft(longSchema, CodecDeflate, block(1, []byte{0xff, 0xff, 0xff})), kind: ErrCorruptBlock, msg: "deflate decompression"},
		{name: "deflate bomb", data: craft(longSchema, CodecDeflate, block(1, deflated(zeros))), opts: ReaderOptions{MaxBlockSize: 1 << 20}, kind: ErrTooLarge, msg: "decompresses to more than the 1048576-byte limit"},
		{name: "zstandard bomb", data: craft(longSchema, CodecZstandard, block(1, zstded(zeros))), opts: ReaderOptions{MaxBlockSize: 1 << 20}, kind: ErrTooLarge},
		{name: "zstandard garbage", data: craft(longSchema, CodecZstandard, block(1, []byte("not zstd"))), kind: ErrCorruptBlock, msg: "zstandard decompression"},
		{name: "snappy bomb", data: craft(longSchema, CodecSnappy, block(1, snappyed(zeros))), opts: ReaderOptions{MaxBlockSize: 1 << 20}, kind: ErrTooLarge},
		{name: "snappy too short", data: craft(longSchema, CodecSnappy, block(1, []byte{1, 2})), kind: ErrCorruptBlock, msg: "shorter than its 4-byte checksum"},
		{name: "snappy checksum", data: craft(longSchema, CodecSnappy, block(1, append(snappyed(longs(1))[:len(snappyed(longs(1)))-1], 0))), kind: ErrCorruptBlock, msg: "snappy checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			tc.opts.Name = "bad.avro"
			got, err := readAll(t, tc.data, tc.opts)
			runtime.ReadMemStats(&after)
			requireFileError(t, err, tc.kind)
			assert.Contains(t, err.Error(), tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "avrofile: bad.avro: "), err.Error())
			assert.Len(t, got, tc.records)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "allocated %d bytes", after.TotalAlloc-before.TotalAlloc)
		})
	}
}

func TestErrorFormat(t *testing.T) {
	data := craft(longSchema, "", block(2, longs(1, 2)), block(2, longs(3)))
	_, err := readAll(t, data, ReaderOptions{Name: "x.avro"})
	fe := requireFileError(t, err, ErrCorruptBlock)
	assert.EqualValues(t, 1, fe.Block)
	assert.EqualValues(t, len(craft(longSchema, ""))+len(block(2, longs(1, 2))), fe.Offset)
	assert.EqualValues(t, -1, fe.Record, "the count check fails before any record")
	assert.Equal(t, fmt.Sprintf("avrofile: x.avro: block 1 at byte %d: corrupt block: record count 2 does not fit in 1 bytes of data", fe.Offset), err.Error())

	data = craft(`"long"`, "", block(2, longs(1, 2)), block(3, []byte{2, 4, 0x80}))
	got, err := readAll(t, data, ReaderOptions{Name: "x.avro"})
	assert.Equal(t, []any{int64(1), int64(2), int64(1), int64(2)}, got)
	fe = requireFileError(t, err, ErrCorruptBlock)
	assert.EqualValues(t, 4, fe.Record)
	assert.Contains(t, err.Error(), "block 1 at byte 61, record 4: corrupt block: record extends past the end of the block (block holds 3 records)")
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF))
}

// The reader stops at the first error and stays stopped.
func TestReaderStopsAfterError(t *testing.T) {
	data := craft(longSchema, "", block(1, longs(1)), block(1, longs(1, 2)), block(1, longs(3)))
	r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
	require.NoError(t, err)
	require.True(t, r.Next())
	require.False(t, r.Next())
	require.Error(t, r.Err())
	require.False(t, r.Next())
	assert.Nil(t, r.Value())
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
}

// errReader fails after some bytes, as a failing disk would.
type errReader struct {
	data []byte
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReaderIOError(t *testing.T) {
	ioErr := errors.New("EIO")
	data := craft(longSchema, "", block(1, longs(1)), block(1, longs(2)))
	_, err := NewReader(&errReader{data: data[:10], err: ioErr}, ReaderOptions{})
	require.ErrorIs(t, err, ioErr)

	r, err := NewReader(&errReader{data: data[:len(data)-3], err: ioErr}, ReaderOptions{})
	require.NoError(t, err)
	for r.Next() {
	}
	require.ErrorIs(t, r.Err(), ioErr)
	assert.NotErrorIs(t, r.Err(), ErrTruncated)
	var fe *Error
	require.ErrorAs(t, r.Err(), &fe)
	assert.EqualValues(t, 1, fe.Block)
}

// A value of a recursive schema nests as deeply as its data says. Deeper
// than maxNesting is an error, not a fatal stack overflow.
func TestDeepNesting(t *testing.T) {
	const list = `{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`
	linked := func(nodes int) []byte { // each node: record + union = 2 levels
		return append(bytes.Repeat([]byte{2}, nodes-1), 0)
	}
	ok := linked(maxNesting/2 - 1)
	data := craft(list, "", block(1, ok))
	got, err := readAll(t, data, ReaderOptions{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	line, err := AppendJSON(nil, mustParse(t, list), got[0])
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(line, []byte(`{"next":{"L":{"next":{"L":`)))

	for _, nodes := range []int{maxNesting/2 + 2, 8 << 20} {
		data := craft(list, CodecDeflate, block(3, func() []byte {
			c := &deflateCodec{level: 1}
			out, _ := c.compress(append(append([]byte{0}, linked(nodes)...), 0))
			return out
		}()))
		got, err := readAll(t, data, ReaderOptions{Name: "deep.avro"})
		fe := requireFileError(t, err, ErrCorruptBlock)
		assert.EqualValues(t, 1, fe.Record)
		assert.Contains(t, err.Error(), "nests deeper than 10000 levels")
		assert.Len(t, got, 1, "the record before the deep one is delivered")
	}
}

// Schema analyses stay linear on schemas that reuse a named type along
// exponentially many paths, or whose unions have no finite value.
func TestHostileSchemas(t *testing.T) {
	// R0{a: R1, b: R1}, R1{a: R2, b: R2}, ... : 2^60 paths to R60.
	def := `"long"`
	for i := 60; i >= 0; i-- {
		ref := def
		if i < 60 {
			ref = fmt.Sprintf(`"R%d"`, i+1)
		}
		def = fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"a","type":%s},{"name":"b","type":%s}]}`, i, def, ref)
	}
	dag := mustParse(t, def)
	// Every union branch refers back: no finite value.
	loop := mustParse(t, `{"type":"record","name":"A","fields":[{"name":"x","type":["A",
		{"type":"record","name":"B","fields":[{"name":"y","type":["A","B"]},{"name":"z","type":["B","A"]}]}]}]}`)

	start := time.Now()
	_, err := readAll(t, craft(string(mustMarshal(t, dag)), "", block(1, []byte{0})), ReaderOptions{})
	requireFileError(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "header: size limit exceeded: schema has more than 50000 types once its named types are expanded")

	data := craft(string(mustMarshal(t, loop)), "", block(1, []byte{0}))
	_, err = readAll(t, data, ReaderOptions{ReaderSchema: mustParse(t, strings.Replace(string(mustMarshal(t, loop)), `"z"`, `"w"`, 1))})
	requireFileError(t, err, ErrIncompatibleSchema)
	assert.Less(t, time.Since(start), 2*time.Second)

	for _, tc := range []struct{ schema, msg string }{
		{`{"type":"bytes","logicalType":"decimal","precision":100000000,"scale":100000000}`, "decimal precision 100000000 and scale 100000000: more than 1000 digits"},
		{`{"type":"record","name":"r","fields":[{"name":"d","type":{"type":"fixed","name":"F","size":1000000000,"logicalType":"decimal","precision":4,"scale":2}}]}`, "fixed F of 1000000000 bytes is larger than the 67108864-byte block limit"},
	} {
		start := time.Now()
		_, err := readAll(t, craft(tc.schema, "", block(1, []byte{2, 5})), ReaderOptions{ReaderSchema: mustParse(t, tc.schema)})
		requireFileError(t, err, ErrTooLarge)
		assert.Contains(t, err.Error(), tc.msg)
		assert.Less(t, time.Since(start), time.Second)
	}

	assert.False(t, mayNestTooDeep(dag))
	assert.True(t, mayNestTooDeep(loop))
	assert.Equal(t, 1<<31-1, newMinSizes().of(dag), "2^61 longs, capped")
}
