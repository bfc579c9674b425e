package nexmark

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/golang/snappy"
	"github.com/hamba/avro/v2"
	"github.com/klauspost/compress/zstd"
)

// Limits on what a file may declare, so that a corrupt length cannot make
// the reader allocate without bound.
const (
	maxBlockBytes    = 256 << 20 // a data block, compressed or not
	maxMetadataBytes = 16 << 20  // one metadata key or value
	maxMetadataPairs = 1 << 16
	readChunk        = 1 << 20 // a declared size is read this much at a time
)

var avroMagic = [4]byte{'O', 'b', 'j', 1}

// Reader reads events from an Avro object container file of event.avsc, or
// of any writer schema that Avro's schema resolution can read as event.avsc
// (fields added, removed with a default, reordered, or promoted from int to
// long, say): the file's writer schema is resolved against event.avsc, never
// merely assumed. It reads the codecs null, deflate, snappy and zstandard.
//
//	r, err := nexmark.OpenFile("events.avro")
//	if err != nil { ... }
//	defer r.Close()
//	var ev nexmark.Event
//	for r.Next(&ev) {
//		... ev.Bid, ev.EventTime() ...
//	}
//	if err := r.Err(); err != nil { ... }
//
// A Reader is not safe for concurrent use.
type Reader struct {
	name   string
	file   *os.File // owned, when opened by OpenFile
	br     *bufio.Reader
	offset int64 // bytes consumed from br

	codec  Codec
	sync   [16]byte
	meta   map[string][]byte
	writer avro.Schema // the file's schema
	schema avro.Schema // what records are decoded with: event.avsc or the resolution of writer against it

	compressed  []byte
	data        []byte
	inflater    io.ReadCloser
	zstd        *zstd.Decoder
	dec         *avro.Reader
	blockOffset int64 // offset of the current block
	left        int64 // records left in the current block

	index   int64 // records returned so far
	scratch Event
	person  Person
	auction Auction
	bid     Bid

	err    error
	closed bool
}

// OpenFile opens the events file at path and reads its header. Errors are
// *FileError values; see NewReader.
func OpenFile(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Record: -1, Offset: -1, Err: err}
	}
	r, err := NewReader(f, path)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r.file = f
	return r, nil
}

// NewReader reads the header of an events file from rd; name is what errors
// call the file. It returns a *FileError (Record -1) wrapping ErrTruncated,
// ErrCorrupt (not an object container file), ErrUnsupportedCodec, or
// ErrSchemaMismatch (the writer schema does not parse or cannot be read as
// event.avsc).
func NewReader(rd io.Reader, name string) (*Reader, error) {
	r := &Reader{
		name: name,
		br:   bufio.NewReaderSize(rd, 64<<10),
		dec:  avro.NewReader(nil, 0),
	}
	err := r.readHeader()
	if err == nil {
		err = r.resolveSchema()
	}
	if err != nil {
		r.releaseCodec()
		return nil, &FileError{Path: name, Record: -1, Offset: -1, Err: err}
	}
	return r, nil
}

// Codec returns the codec of the file.
func (r *Reader) Codec() Codec { return r.codec }

// WriterSchema returns the schema the file was written with.
func (r *Reader) WriterSchema() avro.Schema { return r.writer }

// Metadata returns the value of the file's metadata key, such as
// "avro.schema" or "avro.codec", and whether the file has it. The value is
// shared: do not modify it.
func (r *Reader) Metadata(key string) ([]byte, bool) {
	v, ok := r.meta[key]
	return v, ok
}

// Next fills ev with the next event and reports whether there was one. It
// returns false at the end of the file, on an error (see Err) and after
// Close. The records ev points to belong to r and are overwritten by the next
// call (see Event).
func (r *Reader) Next(ev *Event) bool {
	if r.err != nil || r.closed {
		return false
	}
	for r.left == 0 {
		if err := r.nextBlock(); err != nil {
			if err != io.EOF {
				r.fail(err)
			}
			return false
		}
	}

	// Decode into r's own records, which hamba reuses instead of allocating.
	r.scratch = Event{Person: &r.person, Auction: &r.auction, Bid: &r.bid}
	r.dec.ReadVal(r.schema, &r.scratch)
	if err := r.dec.Error; err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: %d records left in the block, but its data ends (wrong schema or corrupt data)",
				ErrCorrupt, r.left)
		} else {
			err = fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		r.fail(err)
		return false
	}
	if err := r.scratch.Validate(); err != nil {
		r.fail(err)
		return false
	}
	r.left--
	if r.left == 0 {
		// A block must hold exactly its records: trailing bytes mean the
		// records were not what the schema says.
		if r.dec.Peek(); r.dec.Error == nil {
			r.fail(fmt.Errorf("%w: bytes left over after the block's last record (wrong schema or corrupt data)", ErrCorrupt))
			return false
		}
	}
	*ev = r.scratch
	r.index++
	return true
}

// Err returns the error that stopped Next, or nil if it reached the end of
// the file. The error is a *FileError naming the file, the record index
// (the number of events read before it) and the block's byte offset.
func (r *Reader) Err() error { return r.err }

// Close releases the codec and closes the file if OpenFile opened it; it does
// not close an io.Reader given to NewReader. It is idempotent: later calls
// return nil. Next returns false after Close.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.releaseCodec()
	if r.file != nil {
		if err := r.file.Close(); err != nil {
			return &FileError{Path: r.name, Record: r.index, Offset: -1, Err: err}
		}
	}
	return nil
}

func (r *Reader) releaseCodec() {
	if r.zstd != nil {
		r.zstd.Close()
		r.zstd = nil
	}
	if r.inflater != nil {
		_ = r.inflater.Close()
		r.inflater = nil
	}
}

func (r *Reader) fail(err error) {
	r.err = &FileError{Path: r.name, Record: r.index, Offset: r.blockOffset, Err: err}
}

// readHeader reads the magic, the metadata and the sync marker, and parses
// the codec and the writer schema.
func (r *Reader) readHeader() error {
	var magic [4]byte
	if err := r.readFull(magic[:], "the magic bytes"); err != nil {
		return err
	}
	if magic != avroMagic {
		return fmt.Errorf("%w: not an Avro object container file (magic % x)", ErrCorrupt, magic[:])
	}
	meta, err := r.readMetadata()
	if err != nil {
		return err
	}
	r.meta = meta
	if err := r.readFull(r.sync[:], "the sync marker"); err != nil {
		return err
	}

	name, ok := meta["avro.codec"]
	if !ok {
		name = []byte(CodecNull) // the specification's default
	}
	if r.codec, err = ParseCodec(string(name)); err != nil {
		return fmt.Errorf("%w %q in avro.codec", ErrUnsupportedCodec, name)
	}

	text, ok := meta["avro.schema"]
	if !ok {
		return fmt.Errorf("%w: no avro.schema in the file metadata", ErrSchemaMismatch)
	}
	// A private cache, so that the file's named types neither clash with
	// nor replace those of event.avsc or of other files.
	r.writer, err = avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Errorf("%w: the writer schema does not parse: %v", ErrSchemaMismatch, err)
	}
	return nil
}

// resolveSchema decides how records are decoded: with event.avsc if the
// writer schema has the same Parsing Canonical Form, else with the resolution
// of the writer schema against event.avsc. Decoding with event.avsc alone
// would misread any other writer schema without an error.
func (r *Reader) resolveSchema() error {
	if r.writer.Fingerprint() == eventSchema.Fingerprint() {
		r.schema = eventSchema // same Parsing Canonical Form: nothing to resolve
		return nil
	}
	var err error
	r.schema, err = avro.NewSchemaCompatibility().Resolve(eventSchema, r.writer)
	if err != nil {
		return fmt.Errorf("%w: the writer schema cannot be read as event.avsc: %v", ErrSchemaMismatch, err)
	}
	return nil
}

// readMetadata reads the header's map<bytes>: blocks of pairs, each block
// preceded by its count (negative when a byte size follows), until count 0.
func (r *Reader) readMetadata() (map[string][]byte, error) {
	meta := make(map[string][]byte)
	pairs := 0
	for {
		count, err := r.readLong("the metadata")
		if err != nil {
			return nil, err
		}
		if count == 0 {
			return meta, nil
		}
		if count < 0 {
			count = -count
			if _, err := r.readLong("the metadata"); err != nil { // block size in bytes
				return nil, err
			}
		}
		if count < 0 || count > int64(maxMetadataPairs-pairs) {
			return nil, fmt.Errorf("%w: implausible metadata block of %d entries", ErrCorrupt, count)
		}
		pairs += int(count)
		for range count {
			key, err := r.readBytes("a metadata key")
			if err != nil {
				return nil, err
			}
			val, err := r.readBytes("a metadata value")
			if err != nil {
				return nil, err
			}
			meta[string(key)] = val
		}
	}
}

// nextBlock reads the next data block and decompresses it. It returns io.EOF
// if the file ends cleanly before the block.
func (r *Reader) nextBlock() error {
	r.blockOffset = r.offset
	if _, err := r.br.Peek(1); err == io.EOF {
		return io.EOF
	}
	count, err := r.readLong("a block's record count")
	if err != nil {
		return err
	}
	size, err := r.readLong("a block's byte size")
	if err != nil {
		return err
	}
	if count < 0 || size < 0 || size > maxBlockBytes {
		return fmt.Errorf("%w: block header declares %d records in %d bytes", ErrCorrupt, count, size)
	}
	if r.compressed, err = r.readN(r.compressed[:0], int(size), "a block"); err != nil {
		return err
	}
	var sync [16]byte
	if err := r.readFull(sync[:], "a block's sync marker"); err != nil {
		return err
	}
	if sync != r.sync {
		return fmt.Errorf("%w: the sync marker after the block does not match the header's", ErrCorrupt)
	}
	if err := r.decompress(); err != nil {
		return err
	}
	if count > int64(len(r.data)) { // every Event record takes at least one byte
		return fmt.Errorf("%w: block declares %d records in %d bytes of data", ErrCorrupt, count, len(r.data))
	}
	r.dec.Reset(r.data)
	r.dec.Error = nil
	r.left = count
	return nil
}

// decompress turns r.compressed into r.data.
func (r *Reader) decompress() error {
	src := r.compressed
	switch r.codec {
	case CodecNull:
		r.data = src
	case CodecDeflate:
		if r.inflater == nil {
			r.inflater = flate.NewReader(bytes.NewReader(src))
		} else if err := r.inflater.(flate.Resetter).Reset(bytes.NewReader(src), nil); err != nil {
			return fmt.Errorf("%w: deflate: %v", ErrCorrupt, err)
		}
		data, err := readAllLimited(r.data[:0], r.inflater, maxBlockBytes)
		if err != nil {
			return fmt.Errorf("%w: deflate: %v", ErrCorrupt, err)
		}
		r.data = data
	case CodecSnappy:
		// A snappy block is followed by the big-endian CRC-32 of the
		// uncompressed data.
		if len(src) < 4 {
			return fmt.Errorf("%w: snappy block of %d bytes has no checksum", ErrCorrupt, len(src))
		}
		body, sum := src[:len(src)-4], binary.BigEndian.Uint32(src[len(src)-4:])
		n, err := snappy.DecodedLen(body)
		if err != nil || n > maxBlockBytes {
			return fmt.Errorf("%w: snappy: decoded length %d: %v", ErrCorrupt, n, err)
		}
		data, err := snappy.Decode(r.data[:cap(r.data)], body)
		if err != nil {
			return fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
		}
		if crc32.ChecksumIEEE(data) != sum {
			return fmt.Errorf("%w: snappy: checksum mismatch", ErrCorrupt)
		}
		r.data = data
	case CodecZstandard:
		if r.zstd == nil {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBlockBytes))
			if err != nil {
				return fmt.Errorf("nexmark: zstandard decoder: %w", err)
			}
			r.zstd = d
		}
		data, err := r.zstd.DecodeAll(src, r.data[:0])
		if err != nil {
			return fmt.Errorf("%w: zstandard: %v", ErrCorrupt, err)
		}
		r.data = data
	}
	return nil
}

// readAllLimited appends what rd yields to dst, failing beyond limit bytes.
func readAllLimited(dst []byte, rd io.Reader, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := rd.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return nil, fmt.Errorf("more than %d bytes", limit)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readFull fills b; what names the part of the file, for errors.
func (r *Reader) readFull(b []byte, what string) error {
	n, err := io.ReadFull(r.br, b)
	r.offset += int64(n)
	return r.readError(err, what, len(b), n)
}

// readN appends n bytes to dst, growing it as data arrives rather than by
// the declared n at once.
func (r *Reader) readN(dst []byte, n int, what string) ([]byte, error) {
	got := 0
	for got < n {
		chunk := min(n-got, readChunk)
		dst = growLen(dst, chunk)
		m, err := io.ReadFull(r.br, dst[len(dst)-chunk:])
		r.offset += int64(m)
		got += m
		if err != nil {
			return nil, r.readError(err, what, n, got)
		}
	}
	return dst, nil
}

func growLen(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func (r *Reader) readError(err error, what string, want, got int) error {
	switch {
	case err == nil:
		return nil
	case (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && want == 0:
		return fmt.Errorf("%w: the file ends inside %s", ErrTruncated, what)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the file ends %d bytes into %s of %d bytes", ErrTruncated, got, what, want)
	default:
		return fmt.Errorf("nexmark: read %s: %w", what, err)
	}
}

// readLong reads a zig-zag varint long.
func (r *Reader) readLong(what string) (int64, error) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		b, err := r.br.ReadByte()
		if err != nil {
			return 0, r.readError(err, what, 0, 0)
		}
		r.offset++
		u |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, fmt.Errorf("%w: a varint in %s is longer than 10 bytes", ErrCorrupt, what)
}

// readBytes reads Avro bytes: a long length, then the bytes.
func (r *Reader) readBytes(what string) ([]byte, error) {
	n, err := r.readLong(what)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > maxMetadataBytes {
		return nil, fmt.Errorf("%w: %s declares %d bytes", ErrCorrupt, what, n)
	}
	return r.readN(nil, int(n), what)
}
