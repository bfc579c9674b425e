package nexmark

import (
	"fmt"
	"github.com/klauspost/compress/zstd"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
)

// Codec is the compression codec of the blocks of an Avro object container
// file, named as in the file's avro.codec metadata.
type Codec string

// The codecs this package reads and writes.
const (
	CodecNull      Codec = "null"
	CodecDeflate   Codec = "deflate"
	CodecSnappy    Codec = "snappy"
	CodecZstandard Codec = "zstandard"
)

// ParseCodec returns the codec named s: "null" (or ""), "deflate", "snappy",
// "zstandard" (or "zstd"). Other names give an error wrapping
// ErrUnsupportedCodec.
func ParseCodec(s string) (Codec, error) {
	switch strings.ToLower(s) {
	case "", "null":
		return CodecNull, nil
	case "deflate":
		return CodecDeflate, nil
	case "snappy":
		return CodecSnappy, nil
	case "zstandard", "zstd":
		return CodecZstandard, nil
	}
	return "", fmt.Errorf("%w %q (want null, deflate, snappy or zstandard)", ErrUnsupportedCodec, s)
}

// EventSource yields events one by one, as *Generator and *Reader do: Next
// fills ev and reports whether there was an event. A source that can fail
// also has an Err() error method, which WriteFile consults when Next returns
// false (*Reader has one).
type EventSource interface {
	Next(ev *Event) bool
}

// WriterOptions configure a Writer. The zero value is valid.
type WriterOptions struct {
	// Codec compresses the blocks. Default CodecNull.
	Codec Codec
	// BlockBytes is how many bytes of encoded events a block holds before
	// it is compressed and written. Default 64 KiB (Java's DataFileWriter
	// writes blocks of about 64,000 bytes).
	BlockBytes int
	// SyncMarker is the file's 16-byte sync marker. Zero (the default) means
	// a random marker; a fixed one makes the blocks of the file byte-for-byte
	// reproducible. (The header's two metadata entries are written in Go's map
	// order by hamba/avro, so their order may differ between files.)
	SyncMarker [16]byte
}

const defaultBlockBytes = 64 << 10

// Writer writes events to an Avro object container file with schema
// event.avsc. The file header stores the schema text as published (doc,
// defaults and timestamp-millis logical types included).
//
// Writer buffers a block in memory; Flush writes it out, Close writes it and
// releases the codec. A Writer is not safe for concurrent use.
type Writer struct {
	enc    *ocf.Encoder
	count  int64
	err    error // sticky error of the underlying encoder or io.Writer
	closed bool
}

// NewWriter writes the file header to w and returns a Writer of events to it.
// Unlike hamba's ocf encoder it always starts a new file, even when w is an
// *os.File that already has content. It returns an error wrapping
// ErrUnsupportedCodec for an unknown codec, or w's write error.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	codec, err := ParseCodec(string(opts.Codec))
	if err != nil {
		return nil, err
	}
	if opts.BlockBytes < 0 {
		return nil, fmt.Errorf("nexmark: WriterOptions.BlockBytes = %d: must not be negative", opts.BlockBytes)
	}
	if opts.BlockBytes == 0 {
		opts.BlockBytes = defaultBlockBytes
	}
	encOpts := []ocf.EncoderFunc{
		ocf.WithCodec(ocf.CodecName(codec)),
		ocf.WithBlockLength(0), // blocks are cut by size only
		ocf.WithBlockSize(opts.BlockBytes),
		ocf.WithSchemaMarshaler(func(avro.Schema) ([]byte, error) { return compactSchemaText, nil }),
		ocf.WithEncoderSchemaCache(&avro.SchemaCache{}),
		// One internal encoder, as internal/avrofile does: compression needs no
		// parallelism within a block.
		ocf.WithZStandardEncoderOptions(zstd.WithEncoderConcurrency(1)),
	}
	if opts.SyncMarker != [16]byte{} {
		encOpts = append(encOpts, ocf.WithSyncBlock(opts.SyncMarker))
	}
	// Hiding w's concrete type keeps hamba from appending to an existing
	// *os.File under whatever schema that file has.
	enc, err := ocf.NewEncoderWithSchema(eventSchema, struct{ io.Writer }{w}, encOpts...)
	if err != nil {
		return nil, fmt.Errorf("nexmark: write header: %w", err)
	}
	return &Writer{enc: enc}, nil
}

// Write appends ev to the current block. It returns an error wrapping
// ErrInvalidEvent, without writing anything, if ev is not valid
// (Event.Validate); ErrClosed after Close; otherwise the first error of the
// underlying io.Writer, which it keeps returning from then on.
func (w *Writer) Write(ev *Event) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("nexmark: write record %d: %w", w.count, err)
	}
	if err := w.enc.Encode(ev); err != nil {
		w.err = fmt.Errorf("nexmark: write record %d: %w", w.count, err)
		return w.err
	}
	w.count++
	return nil
}

// Count returns the number of events written so far.
func (w *Writer) Count() int64 { return w.count }

// Flush writes the buffered events as a block, if there are any.
func (w *Writer) Flush() error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if err := w.enc.Flush(); err != nil {
		w.err = fmt.Errorf("nexmark: write block ending at record %d: %w", w.count, err)
	}
	return w.err
}

// Close flushes the last block and releases the codec. It does not close the
// io.Writer given to NewWriter. Close is idempotent: later calls return nil.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	err := w.Flush()
	w.closed = true
	if cerr := w.enc.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("nexmark: close encoder: %w", cerr)
	}
	return err
}

// WriteFile writes every event of src to a new Avro object container file at
// path and returns how many it wrote. It writes a temporary file in the same
// directory, syncs it and renames it to path, so path never holds a partial
// file: on error the temporary file is removed and path is untouched. Errors
// are *FileError values naming path and the record.
//
// To write n generated events, give WriteFile a generator configured with
// NumEvents = n (an endless generator never ends).
func WriteFile(path string, src EventSource, opts WriterOptions) (n int64, err error) {
	fail := func(record int64, err error) (int64, error) {
		return 0, &FileError{Path: path, Record: record, Offset: -1, Err: err}
	}
	if _, err := ParseCodec(string(opts.Codec)); err != nil {
		return fail(-1, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fail(-1, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()

	w, err := NewWriter(f, opts)
	if err != nil {
		return fail(-1, err)
	}
	var ev Event
	for src.Next(&ev) {
		if err := w.Write(&ev); err != nil {
			return fail(w.Count(), err)
		}
	}
	if s, ok := src.(interface{ Err() error }); ok {
		if err := s.Err(); err != nil {
			return fail(w.Count(), fmt.Errorf("nexmark: event source: %w", err))
		}
	}
	if err := w.Close(); err != nil {
		return fail(w.Count(), err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(w.Count(), err)
	}
	if err := f.Sync(); err != nil {
		return fail(w.Count(), err)
	}
	if err := f.Close(); err != nil {
		return fail(w.Count(), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(w.Count(), err)
	}
	syncDir(filepath.Dir(path))
	return w.Count(), nil
}

// syncDir makes a rename in dir durable. It is best effort: some file systems
// refuse to sync directories, and the file itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
