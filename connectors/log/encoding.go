package log

import (
	"bytes"
	"errors"

	"github.com/hamba/avro/v2"

	avroconn "github.com/riffle-streams/riffle/connectors/avro"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// Value encodings: ready Decode functions for Source and Encode functions for Sink.
//
//   - raw bytes: RawBytes, EncodeRawBytes.
//   - Avro single-object encoding (C3 01, the writer schema's CRC-64-AVRO fingerprint in
//     8 bytes little-endian, the Avro body): SingleObjectDecoder, SingleObjectEncoder.
//   - Confluent framing (0, the writer schema's registry id in 4 bytes big-endian, the
//     Avro body): ConfluentDecoder, ConfluentEncoder; writer schemas come from a schema
//     registry (riffle's connectors/registry, or a client of one), fetched once per id.
//   - anything with a Decode or Encode method (the codecs of connectors/avro, with
//     options such as a registry as fingerprint resolver): DecodeWith, EncodeWith.
//
// Avro decoders always resolve the writer schema named by the message against the reader
// schema. A message they cannot decode (no framing, an unknown schema id or fingerprint,
// an incompatible writer schema, truncated Avro) fails the job with an error naming the
// topic, queue and offset (the Source adds them) and the reason, or goes to the Source's
// DeadLetter topic.

var errNoSchemaID = errors.New("logconn: ConfluentEncoder needs the registry id of its schema (a positive number)")

// ValueDecoder decodes a message body. The codecs of connectors/avro are ValueDecoders.
type ValueDecoder[T any] interface {
	Decode(body []byte) (T, error)
}

// ValueEncoder encodes a message body. The codecs of connectors/avro are ValueEncoders.
type ValueEncoder[T any] interface {
	Encode(v T) ([]byte, error)
}

// DecodeWith returns a Source.Decode function that decodes message bodies with d.
func DecodeWith[T any](d ValueDecoder[T]) func(*rlog.Message) (T, error) {
	return func(m *rlog.Message) (T, error) { return d.Decode(m.Body) }
}

// EncodeOption configures an encoder of messages.
type EncodeOption[T any] func(*encodeConfig[T])

type encodeConfig[T any] struct {
	key func(T) []byte
}

// WithKey sets each message's key to key(value): the message then goes to the queue
// of its key's hash (rlog.ByKey). Without it messages have no key and go to the queues
// round-robin.
func WithKey[T any](key func(T) []byte) EncodeOption[T] {
	return func(c *encodeConfig[T]) { c.key = key }
}

// EncodeWith returns a Sink.Encode function that encodes record values with e into
// message bodies. It leaves Message.Timestamp 0: the Sink gives the message the
// record's timestamp.
func EncodeWith[T any](e ValueEncoder[T], opts ...EncodeOption[T]) func(stream.Record[T]) (*rlog.Message, error) {
	var c encodeConfig[T]
	for _, o := range opts {
		o(&c)
	}
	return func(r stream.Record[T]) (*rlog.Message, error) {
		body, err := e.Encode(r.Value)
		if err != nil {
			return nil, err
		}
		m := &rlog.Message{Queue: rlog.ByKey, Body: body}
		if c.key != nil {
			m.Key = c.key(r.Value)
		}
		return m, nil
	}
}

// RawBytes decodes a message as a copy of its body (a record may outlive the read buffer
// the body shares with the other messages of its read).
func RawBytes(m *rlog.Message) ([]byte, error) { return bytes.Clone(m.Body), nil }

// EncodeRawBytes writes a record's bytes as the message body, without a key (queues
// round-robin).
func EncodeRawBytes(r stream.Record[[]byte]) (*rlog.Message, error) {
	return &rlog.Message{Queue: rlog.ByKey, Body: r.Value}, nil
}

// SingleObjectDecoder returns a Source.Decode function for single-object encoded
// messages: values written with reader or with one of writers, read as reader. A message
// with another fingerprint fails with avroconn.ErrUnknownSchema naming it. To resolve
// fingerprints with riffle's registry, use DecodeWith(avroconn.NewSingleObjectCodec(...)).
func SingleObjectDecoder[T any](reader avro.Schema, writers ...avro.Schema) (func(*rlog.Message) (T, error), error) {
	c, err := avroconn.NewSingleObjectCodec[T](reader, avroconn.Schemas(writers...))
	if err != nil {
		return nil, err
	}
	return DecodeWith[T](c), nil
}

// SingleObjectEncoder returns a Sink.Encode function that writes values in single-object
// encoding with schema.
func SingleObjectEncoder[T any](schema avro.Schema, opts ...EncodeOption[T]) (func(stream.Record[T]) (*rlog.Message, error), error) {
	c, err := avroconn.NewSingleObjectCodec[T](schema, nil)
	if err != nil {
		return nil, err
	}
	return EncodeWith[T](c, opts...), nil
}

// ConfluentDecoder returns a Source.Decode function for Confluent-framed messages: the
// writer schema of each id comes from reg (once per id: riffle's registry, or hamba's
// registry client) and is resolved against reader. An id reg does not know fails with
// an error naming the id.
func ConfluentDecoder[T any](reader avro.Schema, reg avroconn.IDResolver) (func(*rlog.Message) (T, error), error) {
	c, err := avroconn.NewConfluentCodec[T](reader, 0, reg)
	if err != nil {
		return nil, err
	}
	return DecodeWith[T](c), nil
}

// ConfluentEncoder returns a Sink.Encode function that writes values in Confluent framing
// with schema, whose registry id is id (register the schema first).
func ConfluentEncoder[T any](schema avro.Schema, id int, opts ...EncodeOption[T]) (func(stream.Record[T]) (*rlog.Message, error), error) {
	if id <= 0 {
		return nil, errNoSchemaID
	}
	c, err := avroconn.NewConfluentCodec[T](schema, id, nil)
	if err != nil {
		return nil, err
	}
	return EncodeWith[T](c, opts...), nil
}
