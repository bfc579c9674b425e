package file

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/riffle-streams/riffle/internal/avrofile"
)

// Kinds of read errors: every problem found in an input file is an *Error whose Kind is
// one of these, so a caller can branch with errors.Is and still print where it was.
var (
	// ErrCorrupt: the file is not what it claims to be: not an Avro container file, a
	// malformed header or block (bad sizes, a sync marker mismatch, a failed
	// decompression or checksum), or a record that does not decode with the file's own
	// writer schema.
	ErrCorrupt = errors.New("file: corrupt file")
	// ErrTruncated: the file ends inside its header or inside a block. The records of
	// the complete blocks before it have been read.
	ErrTruncated = errors.New("file: truncated file")
	// ErrTooLarge: a header, block or line exceeds SourceOptions.MaxBlockSize or
	// SourceOptions.MaxLineSize. Raise the limit if the file is genuine.
	ErrTooLarge = errors.New("file: size limit exceeded")
	// ErrUnsupportedCodec: the file's codec is not null, deflate, snappy or zstandard.
	ErrUnsupportedCodec = errors.New("file: unsupported codec")
	// ErrIncompatibleSchema: SourceOptions.Schema cannot read data of the file's writer
	// schema (Avro's schema resolution rules).
	ErrIncompatibleSchema = errors.New("file: reader schema incompatible with the file's writer schema")
	// ErrDecode: a record is well-formed in the file but does not decode into the
	// source's record type T (the Avro value does not fit T, or the JSON-lines decode
	// function rejected the line).
	ErrDecode = errors.New("file: record does not decode")
)

// Sink errors.
var (
	// ErrPartLost: CommitEpoch or Recover found neither the in-progress part an epoch
	// pre-committed nor its published file: the output of a committed epoch is gone
	// (deleted by hand, or a file system that lost it).
	ErrPartLost = errors.New("file: pre-committed part lost")
	// ErrForeignParts: the target directory holds published parts this sink cannot have
	// written (of an epoch after the job's last committed one: another job, or this job
	// after its checkpoints were lost); publishing would overwrite them.
	ErrForeignParts = errors.New("file: target directory holds parts of another run")
	// ErrClosed: Write after Close.
	ErrClosed = errors.New("file: sink writer closed")
)

// Error locates a problem in an input file.
//
// For an Avro container file it formats as
//
//	file: data/x.avro: block 2 at byte 1234, record 17: corrupt file: CAUSE
//
// and for a JSON-lines file (lines counted from 1 in the text; Record is 0-based)
//
//	file: data/x.jsonl:18 (byte 1234): record does not decode: CAUSE
type Error struct {
	// Path is the file, as the source's split names it.
	Path string
	// Block is the 0-based index of the Avro block; -1 for the header and for JSON lines.
	Block int64
	// Offset is the byte offset, in the file, of the block (Avro) or of the line.
	Offset int64
	// Record is the record's index in the file, which is its split offset
	// (stream.SplitReader.Offset): the record number in an Avro file, the 0-based line
	// number in a JSON-lines file. -1 when the problem is not about one record.
	Record int64
	// Kind is one of the sentinel errors above; nil when reading the file failed (Err is
	// then the I/O error).
	Kind error
	// Err is the cause.
	Err error

	lines bool // a JSON-lines file
}

// Error formats the error as shown in the type's doc.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("file: ")
	b.WriteString(e.Path)
	switch {
	case e.lines && e.Record >= 0:
		fmt.Fprintf(&b, ":%d (byte %d)", e.Record+1, e.Offset)
	case e.lines:
		fmt.Fprintf(&b, ": byte %d", e.Offset)
	case e.Block < 0:
		b.WriteString(": header")
	default:
		fmt.Fprintf(&b, ": block %d at byte %d", e.Block, e.Offset)
	}
	if !e.lines && e.Record >= 0 {
		fmt.Fprintf(&b, ", record %d", e.Record)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "file: "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Kind and Err, so errors.Is matches the kind and the cause (such as
// io.ErrUnexpectedEOF).
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// DeadLetter is what a source could not read, handed to SourceOptions.DeadLetter
// instead of failing the job.
type DeadLetter struct {
	// Err says where and why.
	Err *Error
	// Raw is the line of a JSON-lines file (without its line end); nil for Avro.
	Raw []byte
	// First is the split offset of the first record lost.
	First int64
	// Lost is how many records are skipped from First on: 1 for one record, more for
	// the rest of a corrupt Avro block; -1 for the rest of the file (a truncated file, a
	// corrupt header, a block whose framing is broken so the next block cannot be
	// found).
	Lost int64
}

// avroError turns an *avrofile.Error into an *Error of file coordinates: the reader it
// comes from may have started at block base (see avroReader).
func avroError(path string, err error, base blockPos, hdrSize int64) *Error {
	var ae *avrofile.Error
	if !errors.As(err, &ae) {
		return &Error{Path: path, Block: -1, Record: -1, Err: err}
	}
	e := &Error{Path: path, Block: -1, Record: -1, Err: eofFree(ae.Err)}
	if ae.Block >= 0 {
		e.Block = base.block + ae.Block
		e.Offset = base.offset + ae.Offset - hdrSize
	}
	if ae.Record >= 0 {
		e.Record = base.record + ae.Record
	}
	switch {
	case ae.Kind == nil:
		// An I/O error: Err is it.
	case errors.Is(ae.Kind, avrofile.ErrTruncated):
		e.Kind = ErrTruncated
	case errors.Is(ae.Kind, avrofile.ErrTooLarge):
		e.Kind = ErrTooLarge
	case errors.Is(ae.Kind, avrofile.ErrUnknownCodec):
		e.Kind = ErrUnsupportedCodec
	case errors.Is(ae.Kind, avrofile.ErrIncompatibleSchema):
		e.Kind = ErrIncompatibleSchema
	default: // bad magic, corrupt header, corrupt block
		e.Kind = ErrCorrupt
		if !errors.Is(ae.Kind, avrofile.ErrCorruptBlock) {
			// Keep "bad magic" and "corrupt header" in the message.
			msg := strings.TrimPrefix(ae.Kind.Error(), "avrofile: ")
			if ae.Err == nil {
				e.Err = errors.New(msg)
			} else {
				e.Err = fmt.Errorf("%s: %w", msg, eofFree(ae.Err))
			}
		}
	}
	return e
}

// eofFree returns err, or, if its chain holds io.EOF, an error with the same text whose
// chain does not. The runtime takes any error matching io.EOF from a split reader for
// the end of the split: a record that ends early (hamba reports io.EOF), or a decode
// function or dead letter returning io.EOF, must not end a split silently.
func eofFree(err error) error {
	if err == nil || !errors.Is(err, io.EOF) {
		return err
	}
	return errors.New(err.Error())
}
