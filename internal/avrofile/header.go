package avrofile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"
)

// Reserved metadata keys.
const (
	MetaSchema = "avro.schema"
	MetaCodec  = "avro.codec"
)

var magic = [4]byte{'O', 'b', 'j', 1}

// Header is a container file's header.
type Header struct {
	// Schema is the writer schema, parsed from RawSchema.
	Schema avro.Schema
	// RawSchema is the avro.schema metadata entry exactly as stored.
	RawSchema []byte
	// Codec is the block codec (avro.codec; absent means null).
	Codec Codec
	// Meta holds every metadata entry, including avro.schema and avro.codec.
	// Callers must not modify it.
	Meta map[string][]byte
	// Sync is the 16-byte marker that ends every block.
	Sync [16]byte
	// Size is the header's length in bytes: the offset of the first block.
	Size int64
}

// PrettySchema returns the writer schema as stored in the file (RawSchema,
// with its doc strings, properties and key order) re-indented with two
// spaces, followed by a newline. This is what `riffle avro schema` prints.
func (h *Header) PrettySchema() ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(h.RawSchema), "", "  "); err != nil {
		return nil, fmt.Errorf("avrofile: schema is not valid JSON: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// headerError is a header problem before it is given a file name.
type headerError struct {
	kind error
	err  error
}

func (e *headerError) Error() string {
	if e.kind == nil {
		return e.err.Error()
	}
	return e.kind.Error() + ": " + e.err.Error()
}

// classify maps an error from binReader to the sentinel describing it:
// ErrTruncated for an early end of input, corrupt for malformed varints, and
// nil for I/O errors of the underlying reader (the cause says it all).
func classify(err, corrupt error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrTruncated
	case errors.Is(err, errVarintOverflow):
		return corrupt
	default:
		return nil
	}
}

func hdrErr(kind error, format string, args ...any) *headerError {
	return &headerError{kind: kind, err: fmt.Errorf(format, args...)}
}

// readHeader parses a header. limit bounds the total size of the metadata.
func readHeader(b *binReader, limit int) (*Header, *headerError) {
	var m [4]byte
	n, err := io.ReadFull(b.r, m[:])
	b.off += int64(n)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, &headerError{err: err}
	}
	if n < 4 && bytes.Equal(m[:n], magic[:n]) {
		if n == 0 {
			return nil, hdrErr(ErrTruncated, "empty input")
		}
		return nil, hdrErr(ErrTruncated, "input ends inside the magic: %w", io.ErrUnexpectedEOF)
	}
	if m != magic {
		return nil, hdrErr(ErrBadMagic, "starts with % x, want % x (\"Obj\\x01\")", m[:n], magic[:])
	}

	h := &Header{Meta: map[string][]byte{}}
	total := 0
	eof := func(err error, what string) *headerError {
		switch kind := classify(err, ErrCorruptHeader); kind {
		case ErrTruncated:
			return hdrErr(kind, "input ends inside the %s: %w", what, io.ErrUnexpectedEOF)
		default:
			return hdrErr(kind, "%s: %w", what, err)
		}
	}
	readBytes := func(what string) ([]byte, *headerError) {
		l, err := b.readLong()
		if err != nil {
			return nil, eof(err, what+" length")
		}
		if l < 0 {
			return nil, hdrErr(ErrCorruptHeader, "negative %s length %d", what, l)
		}
		if l > int64(limit-total) {
			return nil, hdrErr(ErrTooLarge, "metadata larger than the %d-byte limit", limit)
		}
		total += int(l)
		v, err := b.readN(nil, int(l))
		if err != nil {
			return nil, eof(err, what)
		}
		return v, nil
	}
	for {
		count, err := b.readLong()
		if err != nil {
			return nil, eof(err, "metadata")
		}
		if count == 0 {
			break
		}
		if count < 0 {
			// A negative count is followed by the block's size in bytes.
			if _, err := b.readLong(); err != nil {
				return nil, eof(err, "metadata")
			}
			if count == -count { // math.MinInt64
				return nil, hdrErr(ErrCorruptHeader, "invalid metadata block count %d", count)
			}
			count = -count
		}
		for ; count > 0; count-- {
			k, herr := readBytes("metadata key")
			if herr != nil {
				return nil, herr
			}
			v, herr := readBytes("metadata value")
			if herr != nil {
				return nil, herr
			}
			h.Meta[string(k)] = v
		}
	}
	if err := b.readFull(h.Sync[:]); err != nil {
		return nil, eof(err, "sync marker")
	}
	h.Size = b.off

	h.RawSchema = h.Meta[MetaSchema]
	if len(bytes.TrimSpace(h.RawSchema)) == 0 {
		return nil, hdrErr(ErrCorruptHeader, "no %s metadata", MetaSchema)
	}
	h.Schema, err = parseSchema(h.RawSchema)
	if err != nil {
		return nil, hdrErr(ErrCorruptHeader, "invalid %s: %w", MetaSchema, err)
	}
	if err := checkSchemaLimits(h.Schema, limit); err != nil {
		return nil, &headerError{kind: ErrTooLarge, err: err}
	}
	h.Codec = CodecNull
	if c, ok := h.Meta[MetaCodec]; ok && len(c) > 0 {
		h.Codec = Codec(c)
	}
	if !h.Codec.supported() {
		return nil, hdrErr(ErrUnknownCodec, "codec %q not supported (supported: null, deflate, snappy, zstandard)", string(h.Codec))
	}
	return h, nil
}

// parseSchema parses a writer schema with a cache of its own: hamba's
// default cache is process-wide, and a name left in it by another file
// must not satisfy a reference in this one.
func parseSchema(raw []byte) (s avro.Schema, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("schema parser panicked: %v", p)
		}
	}()
	return avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{})
}

// Limits on writer schemas. A file's schema comes from the file, and hamba
// spends time or memory in proportion to these properties before reading a
// byte of data, so a short hostile header could otherwise hang or exhaust
// the process:
//
//   - maxSchemaNodes bounds the schema's size with every reference to a named
//     type replaced by its definition. hamba compiles a decoder per such path,
//     so a schema reusing a type along many paths (R0 has two fields of type
//     R1, which has two of type R2, ...) takes exponential time: 40 levels in
//     3 KiB of header would never finish opening.
//   - maxDecimalDigits bounds decimal precision and scale. hamba computes
//     10^scale for every decimal value (over a second per value for a scale
//     of 10^7). PostgreSQL's numeric has the same bound on its precision.
//   - a fixed type larger than the block limit cannot be read, and hamba
//     allocates a value of its size when it compiles a decoder.
//
// Real schemas stay far below the bounds.
const (
	maxSchemaNodes   = 50000
	maxDecimalDigits = 1000
)

// checkSchemaLimits checks a writer schema against the limits above.
func checkSchemaLimits(s avro.Schema, limit int) error {
	var err error
	memo := map[string]int{}
	onPath := map[string]bool{}
	// size counts nodes with named types expanded (a recursive reference
	// counts as one), saturating above maxSchemaNodes.
	var size func(s avro.Schema) int
	size = func(s avro.Schema) int {
		s = deref(s)
		var name string
		if n, ok := s.(avro.NamedSchema); ok {
			name = n.FullName()
			if v, ok := memo[name]; ok {
				return v
			}
			if onPath[name] {
				return 1
			}
			onPath[name] = true
			defer delete(onPath, name)
		}
		if d := decimalOf(s); d != nil && (d.Precision() > maxDecimalDigits || d.Scale() > maxDecimalDigits) && err == nil {
			err = fmt.Errorf("decimal precision %d and scale %d: more than %d digits", d.Precision(), d.Scale(), maxDecimalDigits)
		}
		n := 1
		switch s := s.(type) {
		case *avro.FixedSchema:
			if s.Size() > limit && err == nil {
				err = fmt.Errorf("fixed %s of %d bytes is larger than the %d-byte block limit", s.FullName(), s.Size(), limit)
			}
		case *avro.RecordSchema:
			for _, f := range s.Fields() {
				n = min(n+size(f.Type()), maxSchemaNodes+1)
			}
		case *avro.UnionSchema:
			for _, t := range s.Types() {
				n = min(n+size(t), maxSchemaNodes+1)
			}
		case *avro.ArraySchema:
			n = min(n+size(s.Items()), maxSchemaNodes+1)
		case *avro.MapSchema:
			n = min(n+size(s.Values()), maxSchemaNodes+1)
		}
		if name != "" {
			memo[name] = n
		}
		return n
	}
	if size(s) > maxSchemaNodes {
		return fmt.Errorf("schema has more than %d types once its named types are expanded", maxSchemaNodes)
	}
	return err
}

func decimalOf(s avro.Schema) *avro.DecimalLogicalSchema {
	if lt, ok := s.(avro.LogicalTypeSchema); ok {
		if d, ok := lt.Logical().(*avro.DecimalLogicalSchema); ok {
			return d
		}
	}
	return nil
}

// appendHeader encodes a header. Metadata keys are written in sorted order,
// so equal inputs give byte-identical files.
func appendHeader(dst []byte, meta map[string][]byte, sync [16]byte) []byte {
	dst = append(dst, magic[:]...)
	if len(meta) > 0 {
		dst = appendLong(dst, int64(len(meta)))
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			dst = appendLong(dst, int64(len(k)))
			dst = append(dst, k...)
			dst = appendLong(dst, int64(len(meta[k])))
			dst = append(dst, meta[k]...)
		}
	}
	dst = appendLong(dst, 0)
	return append(dst, sync[:]...)
}

// appendLong appends v as a zig-zag varint.
func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// reservedKey reports whether key is in the avro. namespace, which the
// specification reserves.
func reservedKey(key string) bool { return strings.HasPrefix(key, "avro.") }
