package avrofile

import (
	"bytes"
	"flag"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files under testdata/golden")

// The JSON lines `riffle avro cat` prints for the avsc kitchen fixture,
// checked against testdata/golden/kitchen.jsonl (go test -rewrite updates
// it; review the diff).
func TestJSONGoldenKitchen(t *testing.T) {
	r, err := Open(filepath.Join(fixturesDir, "avsc-deflate.avro"), ReaderOptions{})
	require.NoError(t, err)
	defer r.Close()
	var out bytes.Buffer
	n, err := WriteJSONLines(&out, r)
	require.NoError(t, err)
	assert.EqualValues(t, avscRecords, n)

	golden := filepath.Join("testdata", "golden", "kitchen.jsonl")
	if *rewrite {
		require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestJSONGoldenKitchen -rewrite")
	assert.Equal(t, string(want), out.String())
}

func TestAppendJSON(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return v.UTC()
	}
	for _, tc := range []struct {
		name   string
		schema string
		value  any
		want   string
	}{
		{"null", `"null"`, nil, `null`},
		{"boolean", `"boolean"`, true, `true`},
		{"int", `"int"`, -7, `-7`},
		{"long", `"long"`, int64(math.MaxInt64), `9223372036854775807`},
		{"float shortest", `"float"`, float32(0.1), `0.1`},
		{"double shortest", `"double"`, 0.1, `0.1`},
		{"double integral", `"double"`, 3.0, `3`},
		{"double large", `"double"`, 1e21, `1e+21`},
		{"double small", `"double"`, 1e-7, `1e-7`},
		{"double negative zero", `"double"`, math.Copysign(0, -1), `-0`},
		{"NaN", `"double"`, math.NaN(), `"NaN"`},
		{"+Inf", `"float"`, float32(math.Inf(1)), `"Infinity"`},
		{"-Inf", `"double"`, math.Inf(-1), `"-Infinity"`},
		{"string escapes", `"string"`, "a\"b\\c\n\t\x01<>&\u2028é✓", `"a\"b\\c\n\t\u0001<>&\u2028é✓"`},
		{"string invalid utf-8", `"string"`, "a\xffb", `"a\ufffdb"`},
		{"bytes", `"bytes"`, []byte{0, 'a', '"', 0x7f, 0x80, 0xff}, "\"\\u0000a\\\"\x7f\u0080ÿ\""},
		{"empty bytes", `"bytes"`, []byte{}, `""`},
		{"fixed", `{"type":"fixed","name":"f","size":3}`, [3]byte{1, 'x', 0xe9}, `"\u0001xé"`},
		{"enum", `{"type":"enum","name":"e","symbols":["A","B"]}`, "B", `"B"`},
		{"array", `{"type":"array","items":"int"}`, []any{1, 2}, `[1,2]`},
		{"empty array", `{"type":"array","items":"int"}`, []any{}, `[]`},
		{"map sorted", `{"type":"map","values":"long"}`, map[string]any{"b": int64(2), "a": int64(1), "": int64(0)}, `{"":0,"a":1,"b":2}`},
		{"record in field order", `{"type":"record","name":"r","fields":[{"name":"z","type":"int"},{"name":"a","type":"string"}]}`,
			map[string]any{"a": "x", "z": 1}, `{"z":1,"a":"x"}`},
		{"union null", `["null","string"]`, nil, `null`},
		{"union primitive", `["null","string"]`, map[string]any{"string": "x"}, `{"string":"x"}`},
		{"union named", `["null",{"type":"record","name":"R","namespace":"n","fields":[]}]`, map[string]any{"n.R": map[string]any{}}, `{"n.R":{}}`},
		{"union logical branch", `["null",{"type":"long","logicalType":"timestamp-millis"}]`,
			map[string]any{"long.timestamp-millis": utc("2024-01-31T12:34:56.789Z")}, `{"long":"2024-01-31T12:34:56.789Z"}`},
		{"union by Avro JSON name", `["null",{"type":"long","logicalType":"timestamp-millis"}]`,
			map[string]any{"long": utc("2024-01-31T12:34:56.789Z")}, `{"long":"2024-01-31T12:34:56.789Z"}`},
		{"union array", `["null",{"type":"array","items":"int"}]`, map[string]any{"array": []any{1}}, `{"array":[1]}`},
		{"date", `{"type":"int","logicalType":"date"}`, utc("2024-01-31T00:00:00Z"), `"2024-01-31"`},
		{"date before 1970", `{"type":"int","logicalType":"date"}`, utc("1969-12-31T00:00:00Z"), `"1969-12-31"`},
		{"date out of range", `{"type":"int","logicalType":"date"}`, time.Unix(-100000000*86400, 0).UTC(), `-100000000`},
		{"time-millis", `{"type":"int","logicalType":"time-millis"}`, 12*time.Hour + 34*time.Minute + 56789*time.Millisecond, `"12:34:56.789"`},
		{"time-micros", `{"type":"long","logicalType":"time-micros"}`, 1*time.Second + 5*time.Microsecond, `"00:00:01.000005"`},
		{"time-millis out of range", `{"type":"int","logicalType":"time-millis"}`, 25 * time.Hour, `90000000`},
		{"timestamp-millis", `{"type":"long","logicalType":"timestamp-millis"}`, utc("2024-01-31T12:34:56.789Z"), `"2024-01-31T12:34:56.789Z"`},
		{"timestamp-millis in another zone renders UTC", `{"type":"long","logicalType":"timestamp-millis"}`,
			utc("2024-01-31T12:34:56.789Z").In(time.FixedZone("X", 3600)), `"2024-01-31T12:34:56.789Z"`},
		{"timestamp-micros", `{"type":"long","logicalType":"timestamp-micros"}`, utc("1969-07-20T20:17:40.000001Z"), `"1969-07-20T20:17:40.000001Z"`},
		{"timestamp out of range", `{"type":"long","logicalType":"timestamp-millis"}`, time.UnixMilli(math.MaxInt64 / 2).UTC(), `4611686018427387903`},
		{"local-timestamp-millis", `{"type":"long","logicalType":"local-timestamp-millis"}`, time.Date(2024, 1, 31, 12, 0, 0, 5e6, time.Local), `"2024-01-31T12:00:00.005"`},
		{"local-timestamp-micros", `{"type":"long","logicalType":"local-timestamp-micros"}`, time.Date(2024, 1, 31, 12, 0, 0, 5e3, time.Local), `"2024-01-31T12:00:00.000005"`},
		{"decimal bytes", `{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}`, big.NewRat(-1230, 100), `"-12.30"`},
		{"decimal scale 0", `{"type":"bytes","logicalType":"decimal","precision":30}`, big.NewRat(12345678901234567, 1), `"12345678901234567"`},
		{"decimal fixed", `{"type":"fixed","name":"d","size":8,"logicalType":"decimal","precision":10,"scale":3}`, big.NewRat(1, 1000), `"0.001"`},
		{"uuid", `{"type":"string","logicalType":"uuid"}`, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", `"6ba7b810-9dad-11d1-80b4-00c04fd430c8"`},
		{"duration", `{"type":"fixed","name":"dur","size":12,"logicalType":"duration"}`, avro.LogicalDuration{Months: 1, Days: 2, Milliseconds: 3}, `{"months":1,"days":2,"milliseconds":3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendJSON([]byte("prefix "), mustParse(t, tc.schema), tc.value)
			require.NoError(t, err)
			assert.Equal(t, "prefix "+tc.want, string(got))
		})
	}
}

func TestAppendJSONErrors(t *testing.T) {
	rec := `{"type":"record","name":"r","fields":[{"name":"a","type":{"type":"array","items":"int"}}]}`
	for _, tc := range []struct {
		name   string
		schema string
		value  any
		want   string
	}{
		{"wrong type", `"int"`, "x", "string is not a value of Avro int"},
		{"missing field", rec, map[string]any{}, `record r has no field "a"`},
		{"nested path", rec, map[string]any{"a": []any{1, "x"}}, "a: [1]: string is not a value of Avro int"},
		{"union without null", `["int","string"]`, nil, "nil value for a union without null"},
		{"bare union value", `["null","string"]`, "x", "union value must be nil or a map with one entry"},
		{"unknown branch", `["null","string"]`, map[string]any{"long": int64(1)}, `has no branch "long"`},
		{"fixed size", `{"type":"fixed","name":"f","size":2}`, [3]byte{}, "is not a value of Avro fixed f"},
		{"null", `"null"`, 0, "int is not a value of Avro null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AppendJSON(nil, mustParse(t, tc.schema), tc.value)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Values of every logical type survive the round trip through a file and
// render as documented.
func TestLogicalTypesThroughAFile(t *testing.T) {
	schema := mustParse(t, `{"type":"record","name":"L","fields":[
		{"name":"date","type":{"type":"int","logicalType":"date"}},
		{"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
		{"name":"tu","type":{"type":"long","logicalType":"time-micros"}},
		{"name":"tsm","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"tsu","type":{"type":"long","logicalType":"timestamp-micros"}},
		{"name":"ltsm","type":{"type":"long","logicalType":"local-timestamp-millis"}},
		{"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
		{"name":"fdec","type":{"type":"fixed","name":"F","size":4,"logicalType":"decimal","precision":9,"scale":4}},
		{"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
		{"name":"dur","type":{"type":"fixed","name":"D","size":12,"logicalType":"duration"}},
		{"name":"opt","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},
		{"name":"optl","type":["null",{"type":"long","logicalType":"local-timestamp-millis"}]}]}`)
	ts := time.Date(2024, 1, 31, 12, 34, 56, 789123000, time.UTC)
	rec := map[string]any{
		"date": time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC),
		"tm":   time.Duration(45296789) * time.Millisecond,
		"tu":   time.Duration(45296789123) * time.Microsecond,
		"tsm":  ts.Truncate(time.Millisecond),
		"tsu":  ts,
		"ltsm": time.Date(2024, 1, 31, 12, 34, 56, 789000000, time.Local),
		"dec":  big.NewRat(-1230, 100),
		"fdec": big.NewRat(12345, 10000),
		"uuid": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"dur":  avro.LogicalDuration{Months: 1, Days: 2, Milliseconds: 3},
		"opt":  map[string]any{"long.timestamp-micros": ts},
		"optl": map[string]any{"long.local-timestamp-millis": time.Date(2024, 1, 31, 12, 34, 56, 789000000, time.Local)},
	}
	got, err := readAll(t, writeAll(t, schema, WriterOptions{}, []any{rec}), ReaderOptions{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	line, err := AppendJSON(nil, schema, got[0])
	require.NoError(t, err)
	assert.Equal(t, `{"date":"2024-01-31","tm":"12:34:56.789","tu":"12:34:56.789123",`+
		`"tsm":"2024-01-31T12:34:56.789Z","tsu":"2024-01-31T12:34:56.789123Z","ltsm":"2024-01-31T12:34:56.789",`+
		`"dec":"-12.30","fdec":"1.2345","uuid":"6ba7b810-9dad-11d1-80b4-00c04fd430c8",`+
		`"dur":{"months":1,"days":2,"milliseconds":3},"opt":{"long":"2024-01-31T12:34:56.789123Z"},`+
		`"optl":{"long":"2024-01-31T12:34:56.789"}}`, string(line))
}

// WriteJSONLines writes the records before an error, then returns it.
func TestWriteJSONLinesStopsAtError(t *testing.T) {
	data := craft(`"long"`, "", block(2, longs(1, 2)), block(2, longs(3)))
	r, err := NewReader(bytes.NewReader(data), ReaderOptions{Name: "x.avro"})
	require.NoError(t, err)
	var out bytes.Buffer
	n, err := WriteJSONLines(&out, r)
	requireFileError(t, err, ErrCorruptBlock)
	assert.EqualValues(t, 2, n)
	assert.Equal(t, "1\n2\n", out.String())
}
