package avro

import (
	"errors"
	"sync"

	"github.com/hamba/avro/v2"
)

// DefaultMaxSize is the default limit on one bytes or string value, and on the elements
// of one array or map block, that a decode allocates (WithMaxSize). hamba's own default
// is 1 MiB, below the log's largest messages.
const DefaultMaxSize = 16 << 20

// Option configures a codec.
type Option func(*config)

type config struct {
	api avro.API
}

// WithMaxSize sets the largest bytes or string value, and array or map block, a decode
// allocates. Default DefaultMaxSize. A larger length in the input fails the decode with
// ErrMalformed instead of allocating it.
func WithMaxSize(n int) Option {
	return func(c *config) { c.api = apiFor(n) }
}

// WithAPI decodes and encodes with api, a frozen hamba avro.Config: for type
// registrations (avro.Register) or other settings. It replaces WithMaxSize.
func WithAPI(api avro.API) Option {
	return func(c *config) { c.api = api }
}

var apis sync.Map // int (max size) -> avro.API; each Freeze has its own caches, so share them

func apiFor(max int) avro.API {
	if api, ok := apis.Load(max); ok {
		return api.(avro.API)
	}
	api, _ := apis.LoadOrStore(max, avro.Config{MaxByteSliceSize: max, MaxSliceAllocSize: max}.Freeze())
	return api.(avro.API)
}

func newConfig(opts []Option) config {
	c := config{api: apiFor(DefaultMaxSize)}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Codec encodes values of T with its schema and decodes Avro binary data into T: data
// written with the codec's schema, or with any writer schema the codec's schema can read
// (Avro schema resolution: fields the writer has and the reader lacks are skipped, fields
// the reader adds take their defaults, promotions such as int to long apply).
//
// T is a struct (fields matched by `avro:"name"` tags), or map[string]any for a generic
// record, or any other Go type hamba maps to the schema (any for a generic value).
// A Codec is safe for concurrent use.
type Codec[T any] struct {
	schema avro.Schema
	desc   string // Name and fingerprint, for errors
	fp     uint64
	api    avro.API
	compat *avro.SchemaCompatibility

	resolved sync.Map // writer's canonical SHA-256 -> *resolution
	readers  sync.Pool
	writers  sync.Pool
}

type resolution struct {
	schema avro.Schema // the composite schema to decode with
	writer string      // describe(writer); "" when the writer is the codec's schema
	err    error       // ErrIncompatible
}

// NewCodec returns a codec for values of T with schema s (parse it with Parse).
func NewCodec[T any](s avro.Schema, opts ...Option) (*Codec[T], error) {
	if s == nil {
		return nil, errors.New("avroconn: NewCodec needs a schema")
	}
	cfg := newConfig(opts)
	c := &Codec[T]{schema: s, desc: describe(s), fp: Fingerprint(s), api: cfg.api, compat: avro.NewSchemaCompatibility()}
	c.readers.New = func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(c.api)) }
	c.writers.New = func() any { return avro.NewWriter(nil, 512, avro.WithWriterConfig(c.api)) }
	return c, nil
}

// Schema returns the codec's schema: the one Encode writes and Decode reads into.
func (c *Codec[T]) Schema() avro.Schema { return c.schema }

// Fingerprint returns the CRC-64-AVRO fingerprint of the codec's schema.
func (c *Codec[T]) Fingerprint() uint64 { return c.fp }

// Encode returns the Avro binary encoding of v. A value that does not fit the schema
// fails with an *Error of kind ErrWrongType.
func (c *Codec[T]) Encode(v T) ([]byte, error) { return c.Append(nil, v) }

// Append appends the Avro binary encoding of v to dst.
func (c *Codec[T]) Append(dst []byte, v T) ([]byte, error) {
	w := c.writers.Get().(*avro.Writer)
	w.Reset(nil)
	w.Error = nil
	w.WriteVal(c.schema, v)
	err := w.Error
	if err == nil {
		dst = append(dst, w.Buffer()...)
	}
	if len(w.Buffer()) <= maxPooledBuffer {
		c.writers.Put(w) // a writer that grew for a huge value is left to the collector
	}
	if err != nil {
		return dst, &Error{Op: "encode", Schema: c.desc, Kind: ErrWrongType, Err: err}
	}
	return dst, nil
}

// maxPooledBuffer bounds the buffers of the writers a codec keeps for reuse.
const maxPooledBuffer = 1 << 20

// Decode decodes data written with the codec's own schema. The whole of data must be one
// value: input that ends early fails with ErrTruncated, left-over bytes with
// ErrTrailingBytes (hamba's Unmarshal returns no error, and zero values, for input cut
// at many points; Decode does not rely on it).
func (c *Codec[T]) Decode(data []byte) (T, error) {
	return c.decode(c.schema, "", data)
}

// DecodeFrom decodes data written with writer: it resolves writer against the codec's
// schema (avro.SchemaCompatibility.Resolve, cached per writer) and decodes through the
// result. Decoding another writer's data with the reader schema alone would return wrong
// values without an error. A nil writer means the codec's own schema. A writer the
// codec's schema cannot read fails with ErrIncompatible.
func (c *Codec[T]) DecodeFrom(writer avro.Schema, data []byte) (T, error) {
	if writer == nil {
		return c.Decode(data)
	}
	res := c.resolve(writer)
	if res.err != nil {
		var zero T
		return zero, &Error{Op: "decode", Schema: c.desc, Writer: res.writer, Size: len(data), Kind: ErrIncompatible, Err: res.err}
	}
	return c.decode(res.schema, res.writer, data)
}

// CanRead reports whether the codec's schema can read data written with writer: nil, or
// an *Error of kind ErrIncompatible saying why not.
func (c *Codec[T]) CanRead(writer avro.Schema) error {
	if res := c.resolve(writer); res.err != nil {
		return &Error{Op: "resolve", Schema: c.desc, Writer: res.writer, Kind: ErrIncompatible, Err: res.err}
	}
	return nil
}

func (c *Codec[T]) resolve(writer avro.Schema) *resolution {
	key := writer.Fingerprint() // SHA-256 of the canonical form
	if r, ok := c.resolved.Load(key); ok {
		return r.(*resolution)
	}
	res := &resolution{writer: describe(writer)}
	if key == c.schema.Fingerprint() {
		// The same canonical form: the same binary encoding and names, so the reader
		// schema itself decodes it exactly.
		res.schema, res.writer = c.schema, ""
	} else {
		res.schema, res.err = c.compat.Resolve(c.schema, writer)
	}
	r, _ := c.resolved.LoadOrStore(key, res)
	return r.(*resolution)
}

func (c *Codec[T]) decode(s avro.Schema, writer string, data []byte) (T, error) {
	var v T
	r := c.readers.Get().(*avro.Reader)
	defer func() {
		r.Reset(nil) // drop the reference to data
		c.readers.Put(r)
	}()
	r.Reset(data)
	r.Error = nil
	r.ReadVal(s, &v)
	if err := r.Error; err != nil {
		var zero T
		return zero, &Error{Op: "decode", Schema: c.desc, Writer: writer, Size: len(data), Kind: decodeKind(err), Err: err}
	}
	if r.Peek(); r.Error == nil {
		// Peek sets io.EOF at the end of the input; a byte left means more data.
		var zero T
		return zero, &Error{Op: "decode", Schema: c.desc, Writer: writer, Size: len(data), Kind: ErrTrailingBytes}
	}
	return v, nil
}
