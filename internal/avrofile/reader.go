package avrofile

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hamba/avro/v2"
)

// DefaultMaxBlockSize is the default ReaderOptions.MaxBlockSize: 64 MiB.
const DefaultMaxBlockSize = 64 << 20

// ReaderOptions configures a Reader. The zero value is ready to use.
type ReaderOptions struct {
	// Name names the input in errors. Open sets it to the path when empty;
	// NewReader defaults to "<input>".
	Name string

	// ReaderSchema, when set, is the schema the caller wants values in.
	// The file's writer schema is resolved against it with Avro's schema
	// resolution rules (field defaults, promotions, renamed fields through
	// aliases); opening fails with ErrIncompatibleSchema when that is not
	// possible. Values then have the shape of ReaderSchema (see doc.go).
	// Default: nil, values follow the writer schema.
	ReaderSchema avro.Schema

	// MaxBlockSize bounds, in bytes, the header's metadata, each block's
	// compressed size, each block's decompressed size, and the number of
	// records or array items in one block. Larger inputs fail with
	// ErrTooLarge instead of exhausting memory. Default:
	// DefaultMaxBlockSize (64 MiB).
	MaxBlockSize int
}

// Position locates the record most recently returned by Next.
type Position struct {
	Block       int64 // 0-based index of its block
	BlockOffset int64 // byte offset of that block in the file
	InBlock     int64 // 0-based index within the block
	Record      int64 // 0-based index within the file
}

// Reader reads the records of an Avro Object Container File, one block at
// a time. It is not safe for concurrent use.
//
//	r, err := avrofile.Open(path, avrofile.ReaderOptions{})
//	if err != nil { ... }
//	defer r.Close()
//	for r.Next() {
//		use(r.Value())
//	}
//	if err := r.Err(); err != nil { ... }
//
// Every block is checked (complete, sync marker, decompression, checksum,
// record count, no bytes left over) and every failure is an *Error naming
// the file, block and record.
type Reader struct {
	name   string
	limit  int
	closer io.Closer

	in  *binReader
	hdr *Header

	decodeSchema avro.Schema // writer schema, or writer resolved against reader
	valueSchema  avro.Schema // what values follow: reader schema, else writer schema
	normalize    bool        // values need normalize (unions, or resolution)
	deep         bool        // values may nest too deeply: scan blocks first (scan.go)
	minRecord    int64       // lower bound of a record's encoded size
	sizes        *minSizes   // memoized lower bounds of encoded sizes
	codec        blockCodec
	dec          *avro.Reader

	raw []byte // compressed payload of the current block

	// The scan of the current block failed at record scanAt (within the
	// block) with scanErr; the records before it are delivered first.
	scanAt  int64
	scanErr error

	block    int64 // index of the current block, -1 before the first
	blockOff int64
	left     int64 // records of the current block not yet decoded
	count    int64 // records in the current block
	record   int64 // records decoded so far in the file

	value  any
	err    error
	done   bool
	closed bool
}

// Open opens the container file at path. Close closes the file.
func Open(path string, opts ReaderOptions) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("avrofile: %w", err)
	}
	if opts.Name == "" {
		opts.Name = path
	}
	r, err := NewReader(f, opts)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads the header from in and returns a Reader positioned
// before the first record. Errors are *Error values with Block -1.
func NewReader(in io.Reader, opts ReaderOptions) (*Reader, error) {
	if opts.Name == "" {
		opts.Name = "<input>"
	}
	if opts.MaxBlockSize <= 0 {
		opts.MaxBlockSize = DefaultMaxBlockSize
	}
	r := &Reader{
		name:  opts.Name,
		limit: opts.MaxBlockSize,
		in:    newBinReader(in),
		block: -1,
	}
	hdr, herr := readHeader(r.in, r.limit)
	if herr != nil {
		return nil, &Error{Name: r.name, Kind: herr.kind, Block: -1, Record: -1, Err: herr.err}
	}
	r.hdr = hdr
	r.decodeSchema, r.valueSchema = hdr.Schema, hdr.Schema
	if opts.ReaderSchema != nil {
		resolved, err := resolveSchema(opts.ReaderSchema, hdr.Schema)
		if err != nil {
			return nil, &Error{Name: r.name, Kind: ErrIncompatibleSchema, Block: -1, Record: -1, Err: err}
		}
		r.decodeSchema, r.valueSchema = resolved, opts.ReaderSchema
	}
	r.normalize = opts.ReaderSchema != nil || needsNormalize(hdr.Schema)
	r.deep = mayNestTooDeep(hdr.Schema)
	// Data is laid out by the writer schema, whatever the reader wants.
	r.sizes = newMinSizes()
	r.minRecord = int64(r.sizes.of(hdr.Schema))
	codec, err := newBlockCodec(hdr.Codec, 0)
	if err != nil { // unreachable: readHeader checked the codec
		return nil, &Error{Name: r.name, Kind: ErrUnknownCodec, Block: -1, Record: -1, Err: err}
	}
	r.codec = codec
	api := decodeConfig(r.limit)
	if opts.ReaderSchema != nil {
		if err := probeResolution(api, hdr.Schema, r.decodeSchema, r.valueSchema); err != nil {
			return nil, &Error{Name: r.name, Kind: ErrIncompatibleSchema, Block: -1, Record: -1,
				Err: fmt.Errorf("resolved schema does not decode: %w", err)}
		}
	}
	r.dec = avro.NewReader(nil, 0, avro.WithReaderConfig(api))
	return r, nil
}

// resolveSchema resolves writer against reader. Equal schemas (equal
// canonical forms, logical types included) need no resolution. hamba's
// Resolve recurses without end on a recursive schema, a stack overflow that
// kills the process, so recursive schemas are only accepted when equal.
func resolveSchema(reader, writer avro.Schema) (s avro.Schema, err error) {
	if reader.Fingerprint() == writer.Fingerprint() {
		return writer, nil
	}
	if isRecursive(reader) || isRecursive(writer) {
		return nil, errors.New("cannot resolve different recursive schemas (hamba's schema resolution does not terminate on them); read with the writer schema")
	}
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("schema resolution panicked: %v", p)
		}
	}()
	return avro.NewSchemaCompatibility().Resolve(reader, writer)
}

// decodeConfig returns the hamba configuration of one Reader: no string,
// bytes value or array longer than the limit (hamba's defaults are 1 MiB for
// strings, too small for a file reader, and no limit for arrays, which lets
// an array of nulls claiming 2^60 items allocate without bound).
//
// Each Reader gets its own configuration, and so its own caches of compiled
// codecs: hamba keys them by the canonical form of a schema, in which a
// reference to a named type is just its name, so two files defining the same
// name differently must not share a cache (see TestWritersDoNotShareCodecs),
// and a long-running process reading files of many schemas must not keep
// every codec it ever compiled.
func decodeConfig(limit int) avro.API {
	return avro.Config{
		MaxByteSliceSize:  limit,
		MaxSliceAllocSize: limit,
	}.Freeze()
}

// Header returns the file header.
func (r *Reader) Header() *Header { return r.hdr }

// WriterSchema returns the schema the file was written with.
func (r *Reader) WriterSchema() avro.Schema { return r.hdr.Schema }

// Schema returns the schema the values follow: ReaderOptions.ReaderSchema
// if set, otherwise the writer schema. Render values with it.
func (r *Reader) Schema() avro.Schema { return r.valueSchema }

// Metadata returns the header metadata. Callers must not modify it.
func (r *Reader) Metadata() map[string][]byte { return r.hdr.Meta }

// Next decodes the next record, making it available through Value. It
// returns false at the end of the input or on an error; Err tells which.
func (r *Reader) Next() bool {
	r.value = nil
	if r.err != nil || r.done || r.closed {
		return false
	}
	for r.left == 0 {
		if !r.nextBlock() {
			return false
		}
	}
	var (
		v   any
		err error
	)
	if r.scanErr != nil && r.count-r.left == r.scanAt {
		err = fmt.Errorf("record does not decode: %w", r.scanErr)
	} else {
		v, err = r.decodeRecord()
	}
	if err == nil {
		r.left--
		if r.left == 0 {
			err = r.checkBlockConsumed()
		}
	}
	if err != nil {
		r.err = r.blockErr(ErrCorruptBlock, r.record, err)
		return false
	}
	r.value = v
	r.record++
	return true
}

// Value returns the record decoded by the last successful Next: a
// map[string]any for a record schema, in general the generic form of
// Schema() described in doc.go. It is nil after Next returned false.
func (r *Reader) Value() any { return r.value }

// Err returns the error that stopped Next, or nil at a clean end of input.
func (r *Reader) Err() error { return r.err }

// Position returns where the record returned by the last successful Next
// is in the file.
func (r *Reader) Position() Position {
	return Position{
		Block:       r.block,
		BlockOffset: r.blockOff,
		InBlock:     r.count - r.left - 1,
		Record:      r.record - 1,
	}
}

// Close releases the codec and, for a Reader from Open, closes the file.
// It is idempotent; Next returns false afterwards.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.codec.close()
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

func (r *Reader) blockErr(kind error, record int64, err error) error {
	return &Error{Name: r.name, Kind: kind, Block: r.block, Offset: r.blockOff, Record: record, Err: err}
}

// nextBlock reads, verifies and decompresses the next block. It returns
// false at a clean end of input (a block boundary) and on errors.
func (r *Reader) nextBlock() bool {
	eof, err := r.in.atEOF()
	if eof {
		r.done = true
		return false
	}
	r.block++
	r.blockOff = r.in.off
	if err != nil {
		r.err = r.blockErr(nil, -1, err)
		return false
	}
	fail := func(kind error, format string, args ...any) bool {
		r.err = r.blockErr(kind, -1, fmt.Errorf(format, args...))
		return false
	}
	failIO := func(what string, err error) bool {
		kind := classify(err, ErrCorruptBlock)
		if kind == ErrTruncated {
			return fail(kind, "input ends inside the %s: %w", what, io.ErrUnexpectedEOF)
		}
		return fail(kind, "%s: %w", what, err)
	}

	count, err := r.in.readLong()
	if err != nil {
		return failIO("record count", err)
	}
	size, err := r.in.readLong()
	if err != nil {
		return failIO("block size", err)
	}
	switch {
	case count < 0:
		return fail(ErrCorruptBlock, "negative record count %d", count)
	case size < 0:
		return fail(ErrCorruptBlock, "negative block size %d", size)
	case size > int64(r.limit):
		return fail(ErrTooLarge, "block size %d exceeds the %d-byte limit", size, r.limit)
	case count > int64(r.limit):
		return fail(ErrTooLarge, "record count %d exceeds the limit of %d", count, r.limit)
	}
	r.raw, err = r.in.readN(r.raw, int(size))
	if err != nil {
		return failIO(fmt.Sprintf("%d-byte block data", size), err)
	}
	var sync [16]byte
	if err := r.in.readFull(sync[:]); err != nil {
		return failIO("sync marker", err)
	}
	if sync != r.hdr.Sync {
		return fail(ErrCorruptBlock, "sync marker mismatch: found % x, want % x", sync, r.hdr.Sync)
	}
	data, err := r.codec.decompress(r.raw, r.limit)
	switch {
	case errors.Is(err, errDecompressedTooLarge):
		return fail(ErrTooLarge, "%s block decompresses to more than the %d-byte limit", r.hdr.Codec, r.limit)
	case err != nil:
		return fail(ErrCorruptBlock, "%s decompression: %w", r.hdr.Codec, err)
	}
	if count == 0 && len(data) > 0 {
		// No writer emits empty blocks; a count of 0 over data is a
		// corrupt count, and skipping the block would lose its records.
		return fail(ErrCorruptBlock, "block of 0 records holds %d bytes of data", len(data))
	}
	if r.minRecord > 0 && count > int64(len(data))/r.minRecord {
		return fail(ErrCorruptBlock, "record count %d does not fit in %d bytes of data", count, len(data))
	}
	r.scanErr = nil
	if r.deep {
		sc := scanner{data: data, sizes: r.sizes}
		for i := int64(0); i < count; i++ {
			if err := sc.value(r.hdr.Schema, 0); err != nil {
				r.scanAt, r.scanErr = i, err
				break
			}
		}
	}
	r.dec.Reset(data)
	r.dec.Error = nil
	r.count, r.left = count, count
	return true
}

// decodeRecord decodes one record from the current block. hamba's decoder
// is not hardened against every malformed input, so a panic is turned into
// an error for this record.
func (r *Reader) decodeRecord() (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("record does not decode (decoder panicked: %v)", p)
		}
	}()
	r.dec.ReadVal(r.decodeSchema, &v)
	if err := r.dec.Error; err != nil {
		r.dec.Error = nil
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("record extends past the end of the block (block holds %d records): %w", r.count, err)
		}
		return nil, fmt.Errorf("record does not decode: %w", err)
	}
	if r.normalize {
		v, err = normalize(r.valueSchema, r.decodeSchema, v)
		if err != nil {
			return nil, fmt.Errorf("record does not decode: %w", err)
		}
	}
	return v, nil
}

// checkBlockConsumed fails if bytes remain after the block's last record:
// the record count is wrong or the data is corrupt.
func (r *Reader) checkBlockConsumed() error {
	_ = r.dec.Peek()
	if r.dec.Error == nil {
		return fmt.Errorf("bytes left over after the block's %d records", r.count)
	}
	r.dec.Error = nil
	return nil
}
