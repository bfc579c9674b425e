package nexmark

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of this package. Errors returned by its functions wrap one of them
// (test with errors.Is); errors about a file are *FileError values.
var (
	// ErrInvalidEvent: an event does not have exactly one record set, or not
	// the one its Type names.
	ErrInvalidEvent = errors.New("nexmark: invalid event")
	// ErrTruncated: a file ends in the middle of its header or of a block.
	ErrTruncated = errors.New("nexmark: truncated file")
	// ErrCorrupt: a file is not an Avro object container file, or a block of
	// it does not decode (bad sync marker, compressed data or record data).
	ErrCorrupt = errors.New("nexmark: corrupt file")
	// ErrSchemaMismatch: a file's writer schema cannot be read as event.avsc
	// under Avro's schema resolution rules, or does not parse.
	ErrSchemaMismatch = errors.New("nexmark: schema mismatch")
	// ErrUnsupportedCodec: a file or WriterOptions names a codec other than
	// null, deflate, snappy and zstandard.
	ErrUnsupportedCodec = errors.New("nexmark: unsupported codec")
	// ErrClosed: a Writer is used after Close.
	ErrClosed = errors.New("nexmark: closed")
)

// FileError is the error of reading or writing an events file. It names the
// file, the record and the byte offset where reading or writing failed.
type FileError struct {
	// Path is the file's name as given to OpenFile, NewReader or WriteFile.
	Path string
	// Record is the index, from 0, of the record being read or written, or
	// -1 if the error is not about a record (in the header, say, or in
	// opening the file).
	Record int64
	// Offset is the byte offset in the file of the data block the error is
	// in, or -1 for errors in the header and errors not about a block.
	Offset int64
	// Err is the reason; it wraps ErrTruncated, ErrCorrupt,
	// ErrSchemaMismatch, ErrUnsupportedCodec, ErrInvalidEvent or an I/O error.
	Err error
}

// Error returns, for example, "nexmark: events.avro: record 4711 (block at
// byte 65601): truncated file: block declares 65536 bytes, the file ends
// after 1200".
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString("nexmark: ")
	b.WriteString(e.Path)
	if e.Record >= 0 {
		fmt.Fprintf(&b, ": record %d", e.Record)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (block at byte %d)", e.Offset)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "nexmark: "))
	return b.String()
}

// Unwrap returns e.Err.
func (e *FileError) Unwrap() error { return e.Err }
