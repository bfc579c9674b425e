package avrofile

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error returned by a Reader for a problem in the file
// is an *Error whose Kind is one of these, so callers can branch with
// errors.Is(err, avrofile.ErrTruncated) and still print an error that names
// the file, the block and the record.
var (
	// ErrBadMagic: the input does not start with the container-file magic
	// "Obj\x01"; it is not an Avro container file.
	ErrBadMagic = errors.New("avrofile: bad magic")
	// ErrTruncated: the input ended inside the header or inside a block.
	// Records of earlier, complete blocks have been returned.
	ErrTruncated = errors.New("avrofile: truncated file")
	// ErrCorruptHeader: the header is malformed (bad varints, negative
	// lengths, missing or invalid avro.schema).
	ErrCorruptHeader = errors.New("avrofile: corrupt header")
	// ErrCorruptBlock: a block is malformed: bad count or size, sync marker
	// mismatch, decompression or checksum failure, a record that does not
	// decode, or bytes left over after the block's last record.
	ErrCorruptBlock = errors.New("avrofile: corrupt block")
	// ErrUnknownCodec: the header names a codec this package does not
	// implement (supported: null, deflate, snappy, zstandard).
	ErrUnknownCodec = errors.New("avrofile: unknown codec")
	// ErrTooLarge: a header, block or decompressed block exceeds
	// ReaderOptions.MaxBlockSize. Raise the limit if the file is genuine.
	ErrTooLarge = errors.New("avrofile: size limit exceeded")
	// ErrIncompatibleSchema: ReaderOptions.ReaderSchema cannot read data
	// written with the file's writer schema.
	ErrIncompatibleSchema = errors.New("avrofile: reader schema incompatible with writer schema")

	// ErrClosed is returned by Writer methods after Close.
	ErrClosed = errors.New("avrofile: writer closed")
)

// Error describes a problem found while reading a container file.
type Error struct {
	// Name is the file name (ReaderOptions.Name, or the path given to Open).
	Name string
	// Kind is one of the sentinel errors above, or nil when the underlying
	// io.Reader failed (Err is then its error).
	Kind error
	// Block is the 0-based index of the block, or -1 for the header.
	Block int64
	// Offset is the byte offset of the start of that block (0 for the
	// header).
	Offset int64
	// Record is the 0-based index, within the file, of the record being
	// decoded, or -1 when the problem is not about one record.
	Record int64
	// Err is the underlying cause; it may be nil.
	Err error
}

// Error formats as
//
//	avrofile: NAME: block 2 at byte 1234, record 17: corrupt block: CAUSE
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("avrofile: ")
	b.WriteString(e.Name)
	b.WriteString(": ")
	if e.Block < 0 {
		b.WriteString("header")
	} else {
		fmt.Fprintf(&b, "block %d at byte %d", e.Block, e.Offset)
	}
	if e.Record >= 0 {
		fmt.Fprintf(&b, ", record %d", e.Record)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "avrofile: "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Kind and Err, so errors.Is matches both the sentinel and the
// cause (for example io.ErrUnexpectedEOF).
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
