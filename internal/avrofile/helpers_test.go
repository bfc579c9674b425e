package avrofile

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/require"
)

// Paths relative to the package directory.
const (
	fixturesDir = "../../testdata/avro"
	avscDir     = "../../testdata/avro/avsc"
	interopDir  = "../../../shared/avro-interop" // beside the repository
)

// kitchenSchema is testdata/avro/avsc/kitchen.avsc, the schema of the
// avsc-made fixtures.
func kitchenSchema(t testing.TB) avro.Schema {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(avscDir, "kitchen.avsc"))
	require.NoError(t, err)
	s, err := avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{})
	require.NoError(t, err)
	return s
}

// kitchenRecord is record i of make-fixtures.js, in the generic form a
// Reader returns. Keep the two in step.
func kitchenRecord(i int) map[string]any {
	tags := []any{}
	for j := range i % 4 {
		tags = append(tags, "t"+strconv.Itoa(j))
	}
	attrs := map[string]any{}
	if i%3 != 0 {
		attrs["a"] = int64(i)
		attrs["b"] = int64(-i)
	}
	blob := []byte{byte(i % 256), byte(i * 3 % 256), 0, 255, 0x22}[:i%6]
	var choice any
	switch i % 3 {
	case 0:
		choice = map[string]any{"int": i}
	case 1:
		choice = map[string]any{"string": "s" + strconv.Itoa(i)}
	default:
		choice = map[string]any{"riffle.test.Point": map[string]any{"x": i, "y": -i}}
	}
	var note any
	if i%3 != 0 {
		note = map[string]any{"string": fmt.Sprintf("note %d", i)}
	}
	name := fmt.Sprintf("name-%d", i)
	if i%5 == 0 {
		name += " ünïcödé ✓ \"q\" \\ \t"
	}
	return map[string]any{
		"id":     int64(i*1000003 - 500),
		"flag":   i%2 == 0,
		"small":  i*7919%65536 - 32768,
		"ratio":  float32(i) * 0.25,
		"score":  float64(i)*1.5 - 10,
		"name":   name,
		"blob":   blob,
		"color":  []string{"RED", "GREEN", "BLUE"}[i%3],
		"hash":   [4]byte{byte(i), byte(i >> 8), 0xab, 0xcd},
		"tags":   tags,
		"attrs":  attrs,
		"note":   note,
		"choice": choice,
		"at":     time.UnixMilli(1700000000000 + int64(i)*1001).UTC(),
		"day":    time.Unix(int64(19000+i)*86400, 0).UTC(),
		"price":  big.NewRat(int64(i*12345-50000), 100),
	}
}

func kitchenRecords(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = kitchenRecord(i)
	}
	return out
}

// comparable rewrites values whose Go representation has no useful
// equality (*big.Rat, time.Time, nil vs empty []byte) into strings, so
// require.Equal compares what the values mean.
func comparable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = comparable(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = comparable(x)
		}
		return out
	case []byte:
		return fmt.Sprintf("bytes:%x", t)
	case *big.Rat:
		return "rat:" + t.RatString()
	case time.Time:
		return "time:" + t.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func requireSameValues(t testing.TB, want, got []any) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, comparable(want[i]), comparable(got[i]), "record %d", i)
	}
}

// readAll reads every record of an in-memory file.
func readAll(t testing.TB, data []byte, opts ReaderOptions) ([]any, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []any
	for r.Next() {
		out = append(out, r.Value())
	}
	return out, r.Err()
}

// writeAll writes records into an in-memory file.
func writeAll(t testing.TB, schema avro.Schema, opts WriterOptions, records []any) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, schema, opts)
	require.NoError(t, err)
	for i, rec := range records {
		require.NoError(t, w.Append(rec), "record %d", i)
	}
	require.NoError(t, w.Close())
	require.Equal(t, int64(buf.Len()), w.Offset())
	return buf.Bytes()
}

// requireFileError checks that err is an *Error of the given kind.
func requireFileError(t testing.TB, err error, kind error) *Error {
	t.Helper()
	require.Error(t, err)
	var fe *Error
	require.True(t, errors.As(err, &fe), "not an *Error: %T %v", err, err)
	require.ErrorIs(t, err, kind, "%v", err)
	return fe
}

var allKinds = []error{ErrBadMagic, ErrTruncated, ErrCorruptHeader, ErrCorruptBlock, ErrUnknownCodec, ErrTooLarge, ErrIncompatibleSchema}

// requireKnownError checks that err is an *Error with one of the kinds.
func requireKnownError(t testing.TB, err error) {
	t.Helper()
	var fe *Error
	require.True(t, errors.As(err, &fe), "not an *Error: %T %v", err, err)
	for _, k := range allKinds {
		if fe.Kind == k {
			return
		}
	}
	t.Fatalf("unexpected error kind %v: %v", fe.Kind, err)
}

func mustParse(t testing.TB, s string) avro.Schema {
	t.Helper()
	schema, err := avro.ParseWithCache(s, "", &avro.SchemaCache{})
	require.NoError(t, err)
	return schema
}

// unwrapUnions returns v with every union value replaced by its branch
// value: the plain JSON view of the Apache interop README.
func unwrapUnions(s avro.Schema, v any) any {
	s = deref(s)
	switch s := s.(type) {
	case *avro.UnionSchema:
		if v == nil {
			return nil
		}
		key, inner := singleEntry(v.(map[string]any))
		return unwrapUnions(unionBranch(s, key), inner)
	case *avro.RecordSchema:
		m := v.(map[string]any)
		out := make(map[string]any, len(m))
		for _, f := range s.Fields() {
			out[f.Name()] = unwrapUnions(f.Type(), m[f.Name()])
		}
		return out
	case *avro.ArraySchema:
		a := v.([]any)
		out := make([]any, len(a))
		for i := range a {
			out[i] = unwrapUnions(s.Items(), a[i])
		}
		return out
	case *avro.MapSchema:
		m := v.(map[string]any)
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = unwrapUnions(s.Values(), x)
		}
		return out
	}
	return v
}
