package avro

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sentinel errors: every failure of a codec is an *Error whose Kind is one of them, so a
// caller branches with errors.Is(err, avroconn.ErrTruncated) and still prints an error
// that names the schema.
var (
	// ErrTruncated: the input ended inside the value (a message cut short, or written
	// with another schema than the one it is read with).
	ErrTruncated = errors.New("avroconn: truncated input")
	// ErrTrailingBytes: bytes are left over after the value: the input holds more than
	// one value, or was written with another schema.
	ErrTrailingBytes = errors.New("avroconn: bytes left over after the value")
	// ErrMalformed: the input does not decode with the schema (a negative length, a union
	// index out of range, a size over the limit of WithMaxSize, ...).
	ErrMalformed = errors.New("avroconn: input does not decode with the schema")
	// ErrWrongType: the Go value does not fit the schema (a missing field, a string for an
	// Avro long, an unknown enum symbol), when encoding or decoding.
	ErrWrongType = errors.New("avroconn: Go value does not fit the schema")
	// ErrIncompatible: the reader schema cannot read data written with the writer schema
	// (Avro schema resolution fails).
	ErrIncompatible = errors.New("avroconn: reader schema cannot read the writer schema")
	// ErrFraming: a framed value (single-object encoding, Confluent framing) does not
	// start with the expected header.
	ErrFraming = errors.New("avroconn: bad framing")
	// ErrUnknownSchema: the writer schema named by a framed value (its fingerprint or
	// registry id) is not known. Resolvers return it, wrapped, for schemas they do not have.
	ErrUnknownSchema = errors.New("avroconn: unknown writer schema")
)

// Error describes a failed encode or decode.
type Error struct {
	// Op is "encode" or "decode".
	Op string
	// Schema names the codec's schema and its CRC-64-AVRO fingerprint:
	// "com.example.User (fingerprint 0x...)".
	Schema string
	// Writer names the writer schema when data written with another schema was read
	// (schema resolution), else "".
	Writer string
	// Size is the length of the input of a decode.
	Size int
	// Kind is one of the sentinel errors above.
	Kind error
	// Err is the underlying cause (hamba's error); it may be nil.
	Err error
}

// Error formats as
//
//	avroconn: decode com.example.User (fingerprint 0x...) from com.example.User (fingerprint 0x...), 12 bytes: truncated input: name: unexpected EOF
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "avroconn: %s %s", e.Op, e.Schema)
	if e.Writer != "" {
		fmt.Fprintf(&b, " from data written with %s", e.Writer)
	}
	if e.Op == "decode" {
		fmt.Fprintf(&b, ", %d bytes", e.Size)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "avroconn: "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Kind and Err, so errors.Is matches both.
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

// decodeKind classifies an error of hamba's Reader. hamba reports an input that ends
// early as io.EOF at some places and io.ErrUnexpectedEOF at others (wrapped with %w), and
// a Go type that does not fit the schema as "avro: T is unsupported for Avro X".
func decodeKind(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrTruncated
	case strings.Contains(err.Error(), "unsupported for Avro"):
		return ErrWrongType
	}
	return ErrMalformed
}
