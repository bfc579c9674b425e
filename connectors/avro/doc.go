// Package avro holds riffle's Avro codecs, on github.com/hamba/avro/v2, for connectors
// that carry Avro values in messages: Go structs and generic records, Avro single-object
// encoding and Confluent framing. Import it as avroconn beside hamba's avro package.
//
// # Codecs
//
//	v2 := avroconn.MustParse(`{"type":"record","name":"User","fields":[...]}`)
//	c, err := avroconn.NewCodec[User](v2)          // or NewCodec[map[string]any] for generic records
//	b, err := c.Encode(User{...})                  // Avro binary, written with v2
//	u, err := c.Decode(b)                          // data written with v2
//	u, err = c.DecodeFrom(v1, old)                 // data written with v1, read as v2
//
// Reading data written with another schema always resolves the writer schema against
// the reader schema (avro.NewSchemaCompatibility().Resolve(reader, writer)) and decodes
// through the result: fields the writer had and the reader lacks are skipped, fields the
// reader added take their defaults. hamba's Unmarshal with the reader schema alone reads
// the writer's bytes as if they had the reader's layout and returns wrong values without
// an error. Resolutions are cached per writer schema.
//
// Two more hamba behaviours the codecs guard against: avro.Unmarshal returns no error,
// and zero values, for input cut short at many points (it takes io.EOF for success), and
// ignores bytes left after the value. Decode drives hamba's Reader itself and fails with
// ErrTruncated or ErrTrailingBytes instead. And avro.Parse resolves a name to any type
// an earlier Parse in the process defined; Parse here resolves names within the text only.
//
// Generic values (T = map[string]any or any) take hamba's generic form: records as
// map[string]any, long as int64, int as int, arrays as []any, enums as strings, and a
// union value bare when every branch of the union is a primitive (["null","string"]
// gives nil or "x") but as map[string]any{branch: value} otherwise. With schema
// evolution the shape of a union follows the writer schema: a record field that a newer
// reader made ["null", S] decodes bare ({"a": 1}) from data written before the change
// and wrapped ({"S": {"a": 1}}) from data written after it. Decode into structs when
// unions of named types evolve: their fields have one Go type.
//
// hamba's Resolve does not handle every resolution the Avro specification allows: a
// writer union read with a reader schema that is not a union (["int","long"] read as
// "long") fails with ErrIncompatible ("union type must be unique"), as of v2.31.0.
//
// # Framing
//
// A message carries its writer schema's identity in front of the Avro body:
//
//   - single-object encoding (Avro specification): C3 01, the CRC-64-AVRO fingerprint of
//     the writer schema's Parsing Canonical Form (8 bytes, little-endian), the body.
//     SingleObjectCodec; writer schemas come from a FingerprintResolver (Schemas for a
//     fixed set, or riffle's registry).
//   - Confluent framing (Confluent Schema Registry): the byte 0, the registry's id of the
//     writer schema (4 bytes, big-endian), the body. ConfluentCodec; writer schemas come
//     from an IDResolver (riffle's registry in connectors/registry, or hamba's registry
//     client), fetched once per id.
//
// # Errors
//
// Every encode or decode failure is an *Error naming the schema by full name and
// CRC-64-AVRO fingerprint (and the writer schema when it differs), the input size, and
// a Kind: ErrTruncated, ErrTrailingBytes, ErrMalformed, ErrWrongType, ErrIncompatible.
// Framed codecs add ErrFraming and ErrUnknownSchema (with the fingerprint or id).
package avro
