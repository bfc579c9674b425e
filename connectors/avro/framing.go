package avro

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
)

// Single-object encoding (Avro specification, "Single-object encoding"): the two bytes
// C3 01, the CRC-64-AVRO fingerprint of the writer schema's canonical form in 8 bytes
// little-endian, then the Avro binary body.
const singleObjectHeader = 10

// SingleObjectMagic starts every single-object encoded value.
var SingleObjectMagic = [2]byte{0xC3, 0x01}

// AppendSingleObjectHeader appends the single-object header for the writer schema
// fingerprint fp (Fingerprint) to dst.
func AppendSingleObjectHeader(dst []byte, fp uint64) []byte {
	dst = append(dst, SingleObjectMagic[:]...)
	return binary.LittleEndian.AppendUint64(dst, fp)
}

// SplitSingleObject splits a single-object encoded value into the writer schema's
// fingerprint and the Avro body. Input without the header fails with ErrFraming.
func SplitSingleObject(b []byte) (fp uint64, body []byte, err error) {
	if len(b) < singleObjectHeader {
		return 0, nil, fmt.Errorf("%w: single-object encoding needs a 10-byte header (C3 01 and an 8-byte fingerprint), the value has %d bytes", ErrFraming, len(b))
	}
	if b[0] != SingleObjectMagic[0] || b[1] != SingleObjectMagic[1] {
		return 0, nil, fmt.Errorf("%w: single-object encoding starts with C3 01, the value starts with %02X %02X", ErrFraming, b[0], b[1])
	}
	return binary.LittleEndian.Uint64(b[2:10]), b[10:], nil
}

// Confluent framing (Confluent Schema Registry's wire format): the byte 0, the writer
// schema's registry id in 4 bytes big-endian, then the Avro binary body.
const confluentHeader = 5

// AppendConfluentHeader appends the Confluent header for schema id to dst.
func AppendConfluentHeader(dst []byte, id int) []byte {
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint32(dst, uint32(id))
}

// SplitConfluent splits a Confluent-framed value into the writer schema's registry id and
// the Avro body. Input without the header fails with ErrFraming.
func SplitConfluent(b []byte) (id int, body []byte, err error) {
	if len(b) < confluentHeader {
		return 0, nil, fmt.Errorf("%w: Confluent framing needs a 5-byte header (0 and a 4-byte schema id), the value has %d bytes", ErrFraming, len(b))
	}
	if b[0] != 0 {
		return 0, nil, fmt.Errorf("%w: Confluent framing starts with the byte 0, the value starts with %#02x", ErrFraming, b[0])
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:], nil
}

// IDResolver finds writer schemas by schema registry id. hamba's registry client
// (*registry.Client from github.com/hamba/avro/v2/registry, which caches) and riffle's
// registry (connectors/registry) implement it.
type IDResolver interface {
	// GetSchema returns the schema registered under id; an error for an unknown id
	// (riffle's registry: wrapping ErrUnknownSchema; hamba's client: registry.Error with
	// code 40403).
	GetSchema(ctx context.Context, id int) (avro.Schema, error)
}

// FingerprintResolver finds writer schemas by CRC-64-AVRO fingerprint (Fingerprint).
// Schemas returns one over a fixed set; riffle's registry (connectors/registry)
// implements it over every schema registered.
type FingerprintResolver interface {
	// SchemaByFingerprint returns the schema with fingerprint fp, or an error wrapping
	// ErrUnknownSchema.
	SchemaByFingerprint(ctx context.Context, fp uint64) (avro.Schema, error)
}

// Schemas returns a FingerprintResolver over a fixed set of schemas.
func Schemas(schemas ...avro.Schema) FingerprintResolver {
	s := schemaSet{}
	for _, sc := range schemas {
		if sc != nil {
			s[Fingerprint(sc)] = sc
		}
	}
	return s
}

type schemaSet map[uint64]avro.Schema

func (s schemaSet) SchemaByFingerprint(_ context.Context, fp uint64) (avro.Schema, error) {
	if sc, ok := s[fp]; ok {
		return sc, nil
	}
	return nil, fmt.Errorf("%w: no schema of the %d known has fingerprint %#016x", ErrUnknownSchema, len(s), fp)
}

// LookupTimeout bounds one look-up of a writer schema by a framed codec (a request to a
// registry). Decode has no context; a look-up happens once per writer schema.
const LookupTimeout = 30 * time.Second

// SingleObjectCodec encodes values of T in single-object encoding with its schema, and
// decodes single-object encoded values written with any writer schema its resolver knows
// and its schema can read. Safe for concurrent use.
type SingleObjectCodec[T any] struct {
	codec   *Codec[T]
	header  []byte
	writers FingerprintResolver
	cache   sync.Map // fingerprint -> avro.Schema
}

// NewSingleObjectCodec returns a single-object codec for T with schema s. Decode accepts
// data written with s and with the schemas writers finds (nil: s only).
func NewSingleObjectCodec[T any](s avro.Schema, writers FingerprintResolver, opts ...Option) (*SingleObjectCodec[T], error) {
	c, err := NewCodec[T](s, opts...)
	if err != nil {
		return nil, err
	}
	sc := &SingleObjectCodec[T]{codec: c, header: AppendSingleObjectHeader(nil, c.fp), writers: writers}
	sc.cache.Store(c.fp, s)
	return sc, nil
}

// Codec returns the underlying codec of Avro bodies.
func (c *SingleObjectCodec[T]) Codec() *Codec[T] { return c.codec }

// Encode returns v in single-object encoding.
func (c *SingleObjectCodec[T]) Encode(v T) ([]byte, error) {
	return c.codec.Append(append(make([]byte, 0, 64), c.header...), v)
}

// Decode decodes a single-object encoded value. It fails with ErrFraming for a value
// without the header, ErrUnknownSchema for a fingerprint the resolver does not know, and
// with the errors of Codec.DecodeFrom for the body.
func (c *SingleObjectCodec[T]) Decode(b []byte) (T, error) {
	var zero T
	fp, body, err := SplitSingleObject(b)
	if err != nil {
		return zero, err
	}
	w, err := c.writer(fp)
	if err != nil {
		return zero, err
	}
	return c.codec.DecodeFrom(w, body)
}

func (c *SingleObjectCodec[T]) writer(fp uint64) (avro.Schema, error) {
	if s, ok := c.cache.Load(fp); ok {
		return s.(avro.Schema), nil
	}
	if c.writers == nil {
		return nil, fmt.Errorf("%w: writer schema fingerprint %#016x: this codec reads only %s", ErrUnknownSchema, fp, c.codec.desc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), LookupTimeout)
	defer cancel()
	s, err := c.writers.SchemaByFingerprint(ctx, fp)
	if err != nil {
		return nil, fmt.Errorf("avroconn: writer schema fingerprint %#016x: %w", fp, err)
	}
	if got := Fingerprint(s); got != fp {
		return nil, fmt.Errorf("avroconn: writer schema fingerprint %#016x: the resolver returned %s", fp, describe(s))
	}
	c.cache.Store(fp, s)
	return s, nil
}

// ConfluentCodec encodes values of T in Confluent framing with its schema's registry id,
// and decodes Confluent-framed values written with any schema its registry has (fetched
// once per id, then cached) and its schema can read. Safe for concurrent use.
type ConfluentCodec[T any] struct {
	codec  *Codec[T]
	id     int
	header []byte
	reg    IDResolver
	cache  sync.Map // id -> avro.Schema
}

// NewConfluentCodec returns a Confluent codec for T with schema s. Encode writes id, the
// id of s in the registry (register s first, for example with riffle's registry or a
// registry client's CreateSchema; 0: Encode fails). Decode finds writer schemas in reg
// (nil: only id, as s).
func NewConfluentCodec[T any](s avro.Schema, id int, reg IDResolver, opts ...Option) (*ConfluentCodec[T], error) {
	if id < 0 || int64(id) > 1<<31-1 {
		return nil, fmt.Errorf("avroconn: schema id %d out of range", id)
	}
	c, err := NewCodec[T](s, opts...)
	if err != nil {
		return nil, err
	}
	cc := &ConfluentCodec[T]{codec: c, id: id, header: AppendConfluentHeader(nil, id), reg: reg}
	if id > 0 {
		cc.cache.Store(id, s)
	}
	return cc, nil
}

// Codec returns the underlying codec of Avro bodies.
func (c *ConfluentCodec[T]) Codec() *Codec[T] { return c.codec }

// ID returns the schema id Encode writes.
func (c *ConfluentCodec[T]) ID() int { return c.id }

// Encode returns v in Confluent framing.
func (c *ConfluentCodec[T]) Encode(v T) ([]byte, error) {
	if c.id == 0 {
		return nil, fmt.Errorf("avroconn: encode %s: the codec has no schema id (NewConfluentCodec with the id the registry gave the schema)", c.codec.desc)
	}
	return c.codec.Append(append(make([]byte, 0, 64), c.header...), v)
}

// Decode decodes a Confluent-framed value. It fails with ErrFraming for a value without
// the header, with the registry's error (naming the id) for an id it cannot resolve, and
// with the errors of Codec.DecodeFrom for the body.
func (c *ConfluentCodec[T]) Decode(b []byte) (T, error) {
	var zero T
	id, body, err := SplitConfluent(b)
	if err != nil {
		return zero, err
	}
	w, err := c.writer(id)
	if err != nil {
		return zero, err
	}
	return c.codec.DecodeFrom(w, body)
}

func (c *ConfluentCodec[T]) writer(id int) (avro.Schema, error) {
	if s, ok := c.cache.Load(id); ok {
		return s.(avro.Schema), nil
	}
	if c.reg == nil {
		return nil, fmt.Errorf("%w: schema id %d: this codec has no registry and reads only id %d", ErrUnknownSchema, id, c.id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), LookupTimeout)
	defer cancel()
	s, err := c.reg.GetSchema(ctx, id)
	if err == nil && s == nil {
		err = errors.New("the registry returned no schema")
	}
	if err != nil {
		return nil, fmt.Errorf("avroconn: schema id %d: %w", id, err)
	}
	c.cache.Store(id, s)
	return s, nil
}
