package avrofile

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hamba/avro/v2"
)

// DefaultSyncInterval is the default WriterOptions.SyncInterval, the value
// the Java implementation uses (DataFileConstants.DEFAULT_SYNC_INTERVAL).
const DefaultSyncInterval = 64000

// Bounds of WriterOptions.SyncInterval, as in the Java implementation.
const (
	MinSyncInterval = 32
	MaxSyncInterval = 1 << 30
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	// Codec compresses blocks. Default: CodecNull.
	Codec Codec

	// CompressionLevel is the deflate level (1-9) or the zstandard level
	// (1-22, mapped to the nearest level the Go encoder has: <3 fastest,
	// 3-5 default, 6-9 better, >=10 best). It must be 0 for null and
	// snappy. Default: 0, the codec's default (deflate 6, zstandard 3).
	CompressionLevel int

	// SyncInterval is the uncompressed size, in bytes, at which a block is
	// written: records accumulate until their encoded size reaches it, so
	// a block holds at most SyncInterval bytes plus one record. Range
	// MinSyncInterval to MaxSyncInterval. Default: DefaultSyncInterval.
	SyncInterval int

	// BlockRecords, when positive, also ends a block once it holds this
	// many records. Default: 0, no limit.
	BlockRecords int

	// Metadata holds extra header entries. Keys must not start with
	// "avro.", which the specification reserves (avro.schema and
	// avro.codec are written by the Writer). Default: none.
	Metadata map[string][]byte

	// SyncMarker is the 16-byte block separator. Default: the zero value,
	// which picks a random marker (crypto/rand). Fix it only for
	// reproducible output, never reuse one across unrelated files.
	SyncMarker [16]byte
}

// EnsureDefaults fills zero fields with their defaults.
func (o *WriterOptions) EnsureDefaults() {
	if o.Codec == "" {
		o.Codec = CodecNull
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
}

// Validate reports every problem of the options at once. Call it after
// EnsureDefaults.
func (o *WriterOptions) Validate() error {
	var errs []error
	if !o.Codec.supported() {
		errs = append(errs, fmt.Errorf("codec %q not supported (supported: null, deflate, snappy, zstandard)", string(o.Codec)))
	}
	switch o.Codec {
	case CodecDeflate:
		if o.CompressionLevel < 0 || o.CompressionLevel > 9 {
			errs = append(errs, fmt.Errorf("deflate compression level %d out of range 1-9 (0 = default)", o.CompressionLevel))
		}
	case CodecZstandard:
		if o.CompressionLevel < 0 || o.CompressionLevel > 22 {
			errs = append(errs, fmt.Errorf("zstandard compression level %d out of range 1-22 (0 = default)", o.CompressionLevel))
		}
	default:
		if o.CompressionLevel != 0 {
			errs = append(errs, fmt.Errorf("codec %q has no compression level, got %d", string(o.Codec), o.CompressionLevel))
		}
	}
	if o.SyncInterval < MinSyncInterval || o.SyncInterval > MaxSyncInterval {
		errs = append(errs, fmt.Errorf("sync interval %d out of range %d-%d", o.SyncInterval, MinSyncInterval, MaxSyncInterval))
	}
	if o.BlockRecords < 0 {
		errs = append(errs, fmt.Errorf("negative block record limit %d", o.BlockRecords))
	}
	for k := range o.Metadata {
		if reservedKey(k) {
			errs = append(errs, fmt.Errorf("metadata key %q is reserved (avro.*)", k))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("avrofile: invalid writer options: %w", errors.Join(errs...))
}

// Writer writes an Avro Object Container File. It is not safe for
// concurrent use.
//
// Records are buffered into blocks; a block reaches the underlying writer
// in a single Write call, when it is full (SyncInterval, BlockRecords), on
// Flush, Sync or Close. So the output always ends at a block boundary,
// except after a failed Write. Offset is the length of that prefix and
// Durable the length known to be on stable storage. A file sink writes an
// in-progress file, calls Sync at a checkpoint and records Durable; after a
// crash it truncates the file to that length and continues with Resume.
type Writer struct {
	w       io.Writer
	hdr     *Header
	opts    WriterOptions
	codec   blockCodec
	enc     *avro.Writer // encodes one record
	block   []byte       // encoded records of the pending block
	n       int          // records in the pending block
	frame   []byte       // scratch: the framed block
	offset  int64
	durable int64
	err     error // sticky: the underlying writer failed
	closed  bool
}

// NewWriter writes a header for schema to w and returns a Writer for the
// file's records. The header stores the schema's full JSON form
// (json.Marshal, which keeps logical types, defaults, doc strings and
// properties).
func NewWriter(w io.Writer, schema avro.Schema, opts WriterOptions) (*Writer, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	// Do not write what the Reader would refuse to open.
	if err := checkSchemaLimits(schema, DefaultMaxBlockSize); err != nil {
		return nil, fmt.Errorf("avrofile: schema: %w", err)
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("avrofile: encoding schema: %w", err)
	}
	sync := opts.SyncMarker
	if sync == [16]byte{} {
		if _, err := rand.Read(sync[:]); err != nil {
			return nil, fmt.Errorf("avrofile: sync marker: %w", err)
		}
	}
	meta := make(map[string][]byte, len(opts.Metadata)+2)
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	meta[MetaSchema] = raw
	meta[MetaCodec] = []byte(opts.Codec)
	head := appendHeader(nil, meta, sync)

	wr, err := newWriter(w, &Header{
		Schema:    schema,
		RawSchema: raw,
		Codec:     opts.Codec,
		Meta:      meta,
		Sync:      sync,
		Size:      int64(len(head)),
	}, opts)
	if err != nil {
		return nil, err
	}
	if err := wr.write(head); err != nil {
		wr.codec.close()
		return nil, err
	}
	return wr, nil
}

// ResumeFile is what Resume needs; *os.File implements it.
type ResumeFile interface {
	io.ReaderAt
	io.Writer
	io.Seeker
	Truncate(size int64) error
}

// Resume continues a container file whose first size bytes hold a header
// and complete blocks, typically a length reported by Durable before a
// crash. It truncates f to size and appends blocks with the header's
// schema, codec and sync marker. The blocks before size are not re-read.
//
// opts.Codec, opts.SyncMarker and opts.Metadata must be zero or equal to
// the file's; CompressionLevel, SyncInterval and BlockRecords apply.
// Returns an *Error (ErrBadMagic, ErrTruncated, ...) if the header does not
// parse within size bytes.
func Resume(f ResumeFile, size int64, opts WriterOptions) (*Writer, error) {
	in := newBinReader(io.NewSectionReader(f, 0, size))
	hdr, herr := readHeader(in, DefaultMaxBlockSize)
	if herr != nil {
		return nil, &Error{Name: "resume", Kind: herr.kind, Block: -1, Record: -1, Err: herr.err}
	}
	var errs []error
	if opts.Codec != "" && opts.Codec != hdr.Codec {
		errs = append(errs, fmt.Errorf("codec %q differs from the file's %q", opts.Codec, hdr.Codec))
	}
	if opts.SyncMarker != [16]byte{} && opts.SyncMarker != hdr.Sync {
		errs = append(errs, errors.New("sync marker differs from the file's"))
	}
	if opts.Metadata != nil {
		errs = append(errs, errors.New("metadata cannot change when resuming"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("avrofile: resume: %w", errors.Join(errs...))
	}
	opts.Codec = hdr.Codec
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := f.Truncate(size); err != nil {
		return nil, fmt.Errorf("avrofile: resume: %w", err)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return nil, fmt.Errorf("avrofile: resume: %w", err)
	}
	wr, err := newWriter(f, hdr, opts)
	if err != nil {
		return nil, err
	}
	wr.offset, wr.durable = size, size
	return wr, nil
}

func newWriter(w io.Writer, hdr *Header, opts WriterOptions) (*Writer, error) {
	codec, err := newBlockCodec(opts.Codec, opts.CompressionLevel)
	if err != nil {
		return nil, fmt.Errorf("avrofile: %w", err)
	}
	return &Writer{
		w:     w,
		hdr:   hdr,
		opts:  opts,
		codec: codec,
		// A configuration per Writer: see decodeConfig.
		enc: avro.NewWriter(nil, 512, avro.WithWriterConfig(avro.Config{}.Freeze())),
	}, nil
}

// Header returns the header of the file being written.
func (w *Writer) Header() *Header { return w.hdr }

// Append encodes v with the writer schema and adds it to the pending
// block, writing the block if it is now full. v is any value hamba's
// encoder accepts for the schema, including the generic form a Reader
// returns (map[string]any for records, map[string]any{branch: value} or
// nil for unions).
//
// If v does not match the schema, Append returns the encoding error and
// nothing is added: the Writer stays usable. If writing a block fails, the
// error is returned now and by every later call (see Offset).
// Returns ErrClosed after Close.
func (w *Writer) Append(v any) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if err := w.encode(v); err != nil {
		return fmt.Errorf("avrofile: encoding record: %w", err)
	}
	w.block = append(w.block, w.enc.Buffer()...)
	w.n++
	if len(w.block) >= w.opts.SyncInterval || (w.opts.BlockRecords > 0 && w.n >= w.opts.BlockRecords) {
		return w.writeBlock()
	}
	return nil
}

func (w *Writer) encode(v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("encoder panicked: %v", p)
		}
	}()
	w.enc.Reset(nil)
	w.enc.Error = nil
	w.enc.WriteVal(w.hdr.Schema, v)
	return w.enc.Error
}

// Flush writes the pending records, if any, as one complete block.
// Returns ErrClosed after Close.
func (w *Writer) Flush() error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	return w.writeBlock()
}

// Sync flushes, then, if the underlying writer has a Sync() error method
// (as *os.File does), calls it, and on success advances Durable to Offset.
// For a writer without Sync, durable means handed to the writer. A failed
// Sync is sticky, as the state of the written data is then unknown.
// Returns ErrClosed after Close.
func (w *Writer) Sync() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if s, ok := w.w.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			w.err = fmt.Errorf("avrofile: sync: %w", err)
			return w.err
		}
	}
	w.durable = w.offset
	return nil
}

// Offset returns how many bytes have been written to the underlying
// writer: the header and every complete block. After a write error, bytes
// past Offset may hold part of a block and must be truncated away.
func (w *Writer) Offset() int64 { return w.offset }

// Durable returns the Offset at the last successful Sync (for Resume, the
// size it resumed at). Those bytes form a valid container file.
func (w *Writer) Durable() int64 { return w.durable }

// Buffered returns how many appended records are not yet written.
func (w *Writer) Buffered() int { return w.n }

// Close flushes the pending records and releases codec resources. It does
// not close or sync the underlying writer. Close is idempotent: later calls
// return nil.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	var err error
	if w.err == nil {
		err = w.writeBlock()
	} else {
		err = w.err
	}
	w.closed = true
	w.codec.close()
	return err
}

func (w *Writer) writeBlock() error {
	if w.n == 0 {
		return nil
	}
	data, err := w.codec.compress(w.block)
	if err != nil {
		w.err = fmt.Errorf("avrofile: %s compression: %w", w.hdr.Codec, err)
		return w.err
	}
	w.frame = appendLong(w.frame[:0], int64(w.n))
	w.frame = appendLong(w.frame, int64(len(data)))
	w.frame = append(w.frame, data...)
	w.frame = append(w.frame, w.hdr.Sync[:]...)
	if err := w.write(w.frame); err != nil {
		return err
	}
	w.block = w.block[:0]
	w.n = 0
	return nil
}

func (w *Writer) write(p []byte) error {
	n, err := w.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("avrofile: write: %w", err)
		return w.err
	}
	w.offset += int64(n)
	return nil
}
