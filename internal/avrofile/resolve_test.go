package avrofile

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// normalize relies on how hamba v2.31.0 decodes unions into `any`: bare
// when every branch is in hambaRegistered, wrapped otherwise. This pins
// that behaviour, so an upgrade that changes it fails here first.
func TestHambaUnionShapes(t *testing.T) {
	api := avro.Config{}.Freeze()
	decode := func(schema avro.Schema, data []byte) any {
		var v any
		r := avro.NewReader(nil, 0, avro.WithReaderConfig(api)).Reset(data)
		r.ReadVal(schema, &v)
		require.NoError(t, r.Error)
		return v
	}
	branches := map[string]string{
		"null":                        `"null"`,
		"boolean":                     `"boolean"`,
		"int":                         `"int"`,
		"long":                        `"long"`,
		"float":                       `"float"`,
		"double":                      `"double"`,
		"string":                      `"string"`,
		"bytes":                       `"bytes"`,
		"int.date":                    `{"type":"int","logicalType":"date"}`,
		"int.time-millis":             `{"type":"int","logicalType":"time-millis"}`,
		"long.time-micros":            `{"type":"long","logicalType":"time-micros"}`,
		"long.timestamp-millis":       `{"type":"long","logicalType":"timestamp-millis"}`,
		"long.timestamp-micros":       `{"type":"long","logicalType":"timestamp-micros"}`,
		"bytes.decimal":               `{"type":"bytes","logicalType":"decimal","precision":4,"scale":1}`,
		"string.uuid":                 `{"type":"string","logicalType":"uuid"}`,
		"long.local-timestamp-millis": `{"type":"long","logicalType":"local-timestamp-millis"}`,
		"array":                       `{"type":"array","items":"int"}`,
		"map":                         `{"type":"map","values":"int"}`,
		"E":                           `{"type":"enum","name":"E","symbols":["A"]}`,
		"F":                           `{"type":"fixed","name":"F","size":1}`,
		"R":                           `{"type":"record","name":"R","fields":[]}`,
	}
	// Each branch second in a union with "int": index 1, then zero bytes,
	// which decode as every branch type above (trailing bytes are ignored).
	zeros := make([]byte, 9)
	for key, branch := range branches {
		if key == "int" {
			continue
		}
		for _, wrapper := range []struct {
			format string
			data   []byte
		}{
			{"%s", append([]byte{2}, zeros...)},
			{`{"type":"array","items":%s}`, append([]byte{2, 2}, zeros...)},
			{`{"type":"record","name":"W","fields":[{"name":"f","type":%s}]}`, append([]byte{2}, zeros...)},
		} {
			union := fmt.Sprintf(`["int",%s]`, branch)
			schema := mustParse(t, fmt.Sprintf(wrapper.format, union))
			v := decode(schema, wrapper.data)
			switch x := v.(type) {
			case []any:
				v = x[0]
			case map[string]any:
				if f, ok := x["f"]; ok {
					v = f
				}
			}
			_, registered := hambaRegistered[key]
			u := mustParse(t, union).(*avro.UnionSchema)
			require.Equal(t, registered, hambaBare(u), key)
			if key == "null" {
				require.Nil(t, v)
				continue
			}
			m, wrapped := v.(map[string]any)
			if key == "map" || key == "R" {
				// The value itself is a map: wrapped means keyed by branch.
				_, wrapped = m[key]
			}
			require.Equal(t, !registered, wrapped, "%s in %s: %#v", key, wrapper.format, v)
			if registered {
				require.True(t, hambaRegistered[key](v), "%s decodes to %T", key, v)
			}
		}
	}
}

func resolveRead(t *testing.T, writer, reader string, records ...any) ([]any, avro.Schema) {
	t.Helper()
	data := writeAll(t, mustParse(t, writer), WriterOptions{}, records)
	rs := mustParse(t, reader)
	r, err := NewReader(bytes.NewReader(data), ReaderOptions{ReaderSchema: rs})
	require.NoError(t, err)
	defer r.Close()
	assert.Same(t, rs, r.Schema())
	assert.Equal(t, mustParse(t, writer).Fingerprint(), r.WriterSchema().Fingerprint())
	var got []any
	for r.Next() {
		got = append(got, r.Value())
	}
	require.NoError(t, r.Err())
	return got, rs
}

func TestReaderSchemaResolution(t *testing.T) {
	for _, tc := range []struct {
		name           string
		writer, reader string
		in, want       []any
		json           []string
	}{
		{
			name:   "added field takes its default, removed field is dropped, int promoted to long",
			writer: `{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"gone","type":"string"}]}`,
			reader: `{"type":"record","name":"r","fields":[{"name":"new","type":"string","default":"d"},{"name":"a","type":"long"}]}`,
			in:     []any{map[string]any{"a": 7, "gone": "x"}},
			want:   []any{map[string]any{"new": "d", "a": int64(7)}},
			json:   []string{`{"new":"d","a":7}`},
		},
		{
			name:   "long promoted to double, string to bytes",
			writer: `{"type":"record","name":"r","fields":[{"name":"a","type":"long"},{"name":"s","type":"string"}]}`,
			reader: `{"type":"record","name":"r","fields":[{"name":"a","type":"double"},{"name":"s","type":"bytes"}]}`,
			in:     []any{map[string]any{"a": int64(3), "s": "hé"}},
			want:   []any{map[string]any{"a": 3.0, "s": []byte("hé")}},
			json:   []string{`{"a":3,"s":"hÃ©"}`},
		},
		{
			name:   "writer type read as a reader union is wrapped",
			writer: `{"type":"record","name":"r","fields":[{"name":"s","type":"string"},{"name":"n","type":"int"}]}`,
			reader: `{"type":"record","name":"r","fields":[{"name":"s","type":["null","string"]},{"name":"n","type":["null","string","long"]}]}`,
			in:     []any{map[string]any{"s": "x", "n": 4}},
			want:   []any{map[string]any{"s": map[string]any{"string": "x"}, "n": map[string]any{"long": int64(4)}}},
			json:   []string{`{"s":{"string":"x"},"n":{"long":4}}`},
		},
		{
			name: "writer union read as a reader non-union is unwrapped",
			// (hamba cannot resolve ["int","long"] against "long": both
			// branches resolve to long, and its unions must be unique.)
			writer: `{"type":"record","name":"r","fields":[{"name":"n","type":["int"]},{"name":"p","type":[{"type":"record","name":"P","fields":[]}]}]}`,
			reader: `{"type":"record","name":"r","fields":[{"name":"n","type":"long"},{"name":"p","type":{"type":"record","name":"P","fields":[]}}]}`,
			in:     []any{map[string]any{"n": map[string]any{"int": 1}, "p": map[string]any{"P": map[string]any{}}}},
			want:   []any{map[string]any{"n": int64(1), "p": map[string]any{}}},
			json:   []string{`{"n":1,"p":{}}`},
		},
		{
			name:   "writer union read as a wider reader union",
			writer: `{"type":"record","name":"r","fields":[{"name":"u","type":["null","int",{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}]}]}`,
			reader: `{"type":"record","name":"r","fields":[{"name":"u","type":["null","string","long",{"type":"record","name":"P","fields":[{"name":"x","type":"long"},{"name":"y","type":"int","default":9}]}]}]}`,
			in: []any{
				map[string]any{"u": nil},
				map[string]any{"u": map[string]any{"int": 5}},
				map[string]any{"u": map[string]any{"P": map[string]any{"x": 6}}},
			},
			want: []any{
				map[string]any{"u": nil},
				map[string]any{"u": map[string]any{"long": int64(5)}},
				map[string]any{"u": map[string]any{"P": map[string]any{"x": int64(6), "y": 9}}},
			},
			json: []string{`{"u":null}`, `{"u":{"long":5}}`, `{"u":{"P":{"x":6,"y":9}}}`},
		},
		{
			name:   "unions inside arrays and maps",
			writer: `{"type":"record","name":"r","fields":[{"name":"a","type":{"type":"array","items":"int"}},{"name":"m","type":{"type":"map","values":["null","int"]}}]}`,
			reader: `{"type":"record","name":"r","fields":[{"name":"a","type":{"type":"array","items":["null","long"]}},{"name":"m","type":{"type":"map","values":["null","long"]}}]}`,
			in:     []any{map[string]any{"a": []any{1, 2}, "m": map[string]any{"k": map[string]any{"int": 3}, "z": nil}}},
			want:   []any{map[string]any{"a": []any{map[string]any{"long": int64(1)}, map[string]any{"long": int64(2)}}, "m": map[string]any{"k": map[string]any{"long": int64(3)}, "z": nil}}},
			json:   []string{`{"a":[{"long":1},{"long":2}],"m":{"k":{"long":3},"z":null}}`},
		},
		{
			name:   "enum with a new symbol, renamed field by alias, logical type on the reader",
			writer: `{"type":"record","name":"r","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},{"name":"old","type":"long"}]}`,
			reader: `{"type":"record","name":"r","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["Z","B","A"]}},{"name":"at","aliases":["old"],"type":{"type":"long","logicalType":"timestamp-millis"}}]}`,
			in:     []any{map[string]any{"e": "A", "old": int64(86400000)}},
			want:   []any{map[string]any{"e": "A", "at": time.UnixMilli(86400000).UTC()}},
			json:   []string{`{"e":"A","at":"1970-01-02T00:00:00.000Z"}`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rs := resolveRead(t, tc.writer, tc.reader, tc.in...)
			requireSameValues(t, tc.want, got)
			for i := range got {
				line, err := AppendJSON(nil, rs, got[i])
				require.NoError(t, err)
				assert.Equal(t, tc.json[i], string(line))
			}
		})
	}
}

func TestReaderSchemaIncompatible(t *testing.T) {
	data := writeAll(t, mustParse(t, `{"type":"record","name":"r","fields":[{"name":"a","type":"string"}]}`), WriterOptions{}, nil)
	for _, reader := range []string{
		`{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}`,
		`{"type":"record","name":"r","fields":[{"name":"b","type":"int"}]}`, // no default
		`{"type":"record","name":"other","fields":[{"name":"a","type":"string"}]}`,
	} {
		_, err := NewReader(bytes.NewReader(data), ReaderOptions{Name: "w.avro", ReaderSchema: mustParse(t, reader)})
		fe := requireFileError(t, err, ErrIncompatibleSchema)
		assert.EqualValues(t, -1, fe.Block)
		assert.Contains(t, err.Error(), "avrofile: w.avro: header: reader schema incompatible with writer schema: ")
	}
}

// Reader schemas hamba resolves but cannot apply fail when the file is
// opened, not on every record. (hamba v2.31.0 cannot apply the default of a
// reader-only union field whose first branch is a record, enum, fixed or
// logical type.)
func TestReaderSchemaDefaultsHambaCannotApply(t *testing.T) {
	writer := mustParse(t, `{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}`)
	data := writeAll(t, writer, WriterOptions{}, []any{map[string]any{"a": 1}})
	for _, field := range []string{
		`{"name":"p","type":[{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]},"null"],"default":{"x":1}}`,
		`{"name":"p","type":[{"type":"enum","name":"E","symbols":["A","B"]},"null"],"default":"B"}`,
		`{"name":"p","type":[{"type":"long","logicalType":"timestamp-millis"},"null"],"default":5}`,
	} {
		reader := mustParse(t, `{"type":"record","name":"r","fields":[{"name":"a","type":"int"},`+field+`]}`)
		_, err := NewReader(bytes.NewReader(data), ReaderOptions{ReaderSchema: reader})
		requireFileError(t, err, ErrIncompatibleSchema)
		assert.Contains(t, err.Error(), "decode default")
	}

	// Defaults hamba does apply, in the documented shape.
	for _, tc := range []struct{ field, want string }{
		{`{"name":"p","type":["null",{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}],"default":null}`, `{"a":1,"p":null}`},
		{`{"name":"p","type":["string","null"],"default":"dflt"}`, `{"a":1,"p":{"string":"dflt"}}`},
		{`{"name":"p","type":{"type":"record","name":"Q","fields":[{"name":"u","type":["int","null"]}]},"default":{"u":7}}`, `{"a":1,"p":{"u":{"int":7}}}`},
		{`{"name":"p","type":{"type":"array","items":"long"},"default":[1,2]}`, `{"a":1,"p":[1,2]}`},
	} {
		reader := mustParse(t, `{"type":"record","name":"r","fields":[{"name":"a","type":"int"},`+tc.field+`]}`)
		got, err := readAll(t, data, ReaderOptions{ReaderSchema: reader})
		require.NoError(t, err)
		line, err := AppendJSON(nil, reader, got[0])
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(line))
	}
}

func TestAppendZero(t *testing.T) {
	for _, s := range []string{
		fuzzSchema,
		`{"type":"record","name":"k","fields":[{"name":"a","type":"float"},{"name":"b","type":["double","null"]},{"name":"c","type":{"type":"fixed","name":"F","size":3}}]}`,
		`{"type":"record","name":"L","fields":[{"name":"next","type":["L","null"]}]}`,
	} {
		schema := mustParse(t, s)
		budget := 1000
		data, ok := appendZero(nil, schema, 0, &budget)
		require.True(t, ok, s)
		var v any
		require.NoError(t, avro.Unmarshal(schema, data, &v), s)
		sc := scanner{data: data, sizes: newMinSizes()}
		require.NoError(t, sc.value(schema, 0))
		assert.Equal(t, len(data), sc.pos, "exactly one value")
	}
}

// The generic values of the same reader field have one shape whatever the
// writer schema version was.
func TestReaderSchemaShapeIndependentOfWriter(t *testing.T) {
	reader := `{"type":"record","name":"r","fields":[{"name":"v","type":["null","string"]}]}`
	v1, _ := resolveRead(t, `{"type":"record","name":"r","fields":[{"name":"v","type":"string"}]}`, reader, map[string]any{"v": "x"})
	v2, _ := resolveRead(t, `{"type":"record","name":"r","fields":[{"name":"v","type":["null","string"]}]}`, reader, map[string]any{"v": "x"})
	v3, _ := resolveRead(t, `{"type":"record","name":"r","fields":[{"name":"v","type":["string","null"]}]}`, reader, map[string]any{"v": "x"})
	assert.Equal(t, v1, v2)
	assert.Equal(t, v1, v3)
	assert.Equal(t, []any{map[string]any{"v": map[string]any{"string": "x"}}}, v1)
}

// hamba's Resolve recurses without end on recursive schemas (a fatal stack
// overflow): equal schemas are read without resolution, different ones are
// refused.
func TestReaderSchemaRecursive(t *testing.T) {
	const list = `{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}`
	rec := map[string]any{"v": 1, "next": map[string]any{"L": map[string]any{"v": 2, "next": nil}}}
	got, rs := resolveRead(t, list, list, rec)
	assert.Equal(t, []any{rec}, got)
	line, err := AppendJSON(nil, rs, got[0])
	require.NoError(t, err)
	assert.Equal(t, `{"v":1,"next":{"L":{"v":2,"next":null}}}`, string(line))

	data := writeAll(t, mustParse(t, list), WriterOptions{}, []any{rec})
	other := mustParse(t, `{"type":"record","name":"L","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","L"]}]}`)
	_, err = NewReader(bytes.NewReader(data), ReaderOptions{ReaderSchema: other})
	requireFileError(t, err, ErrIncompatibleSchema)
	assert.Contains(t, err.Error(), "cannot resolve different recursive schemas")
}
