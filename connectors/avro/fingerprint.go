package avro

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// rabinEmpty is the fingerprint of the empty string, and the polynomial, of the Avro
// specification's 64-bit Rabin fingerprint ("CRC-64-AVRO").
const rabinEmpty uint64 = 0xc15d213aa4d7a795

var rabinTable = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (rabinEmpty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()

// CRC64Avro returns the CRC-64-AVRO (Rabin) fingerprint of b, the algorithm of the Avro
// specification's "Schema Fingerprints" section. Applied to a schema's Parsing
// Canonical Form it is the fingerprint of single-object encoding; Fingerprint does that.
func CRC64Avro(b []byte) uint64 {
	fp := rabinEmpty
	for _, c := range b {
		fp = (fp >> 8) ^ rabinTable[byte(fp)^c]
	}
	return fp
}

// Fingerprint returns the CRC-64-AVRO fingerprint of s's Parsing Canonical Form, the
// identity of a writer schema in single-object encoding. Schemas that differ only in
// what the canonical form drops (doc, aliases, defaults, field order attributes) have the
// same fingerprint: their binary encodings are the same.
func Fingerprint(s avro.Schema) uint64 {
	return CRC64Avro([]byte(s.String())) // hamba's String is the Parsing Canonical Form
}

// Name names s in errors: the full name of a named schema (record, enum, fixed), else its
// type ("string", "array", "union").
func Name(s avro.Schema) string {
	if s == nil {
		return "<nil schema>"
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema().FullName()
	}
	return string(s.Type())
}

// describe names s and its fingerprint: "com.example.User (fingerprint 0x8a8f25cce724dd63)".
func describe(s avro.Schema) string {
	return fmt.Sprintf("%s (fingerprint %#016x)", Name(s), Fingerprint(s))
}

// Parse parses a schema text on its own. Names resolve only to types defined in the text
// itself: hamba's avro.Parse also resolves names that any earlier Parse in the process
// defined (its global cache), so a schema that refers to an undefined type parses there,
// or takes an unrelated definition of the same name.
func Parse(text string) (avro.Schema, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("avroconn: parse schema: %w", err)
	}
	return s, nil
}

// MustParse is Parse for schemas known to be valid (tests, package variables); it panics
// on an error.
func MustParse(text string) avro.Schema {
	s, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return s
}
