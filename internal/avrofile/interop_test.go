package avrofile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Apache Avro project's interop files (share/test/data), copied beside
// the repository with their expected content in README.md.

func requireInteropDir(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(interopDir, "README.md")); err != nil {
		t.Skipf("Apache Avro interop files not found at %s (expected beside the repository, see ECOSYSTEM.md): %v", interopDir, err)
	}
}

// weatherRecords parses weather.json into generic values.
func weatherRecords(t *testing.T) []any {
	t.Helper()
	f, err := os.Open(filepath.Join(interopDir, "weather.json"))
	require.NoError(t, err)
	defer f.Close()
	var out []any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec struct {
			Station string `json:"station"`
			Time    int64  `json:"time"`
			Temp    int    `json:"temp"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		out = append(out, map[string]any{"station": rec.Station, "time": rec.Time, "temp": rec.Temp})
	}
	require.NoError(t, sc.Err())
	require.Len(t, out, 5)
	return out
}

func openAll(t *testing.T, path string, opts ReaderOptions) (*Header, avro.Schema, []any) {
	t.Helper()
	r, err := Open(path, opts)
	require.NoError(t, err)
	defer r.Close()
	var out []any
	for r.Next() {
		out = append(out, r.Value())
	}
	require.NoError(t, r.Err())
	return r.Header(), r.Schema(), out
}

func TestInteropWeather(t *testing.T) {
	requireInteropDir(t)
	want := weatherRecords(t)
	sorted := slices.Clone(want)
	slices.SortStableFunc(sorted, func(a, b any) int {
		am, bm := a.(map[string]any), b.(map[string]any)
		if c := strings.Compare(bm["station"].(string), am["station"].(string)); c != 0 {
			return c // station descending
		}
		return int(am["time"].(int64) - bm["time"].(int64))
	})
	weatherSchema, err := os.ReadFile(filepath.Join(interopDir, "weather.avsc"))
	require.NoError(t, err)
	wantFingerprint := mustParse(t, string(weatherSchema)).Fingerprint()

	for _, tc := range []struct {
		file  string
		codec Codec
		want  []any
	}{
		{"weather.avro", CodecNull, want},
		{"weather-deflate.avro", CodecDeflate, want},
		{"weather-snappy.avro", CodecSnappy, want},
		{"weather-zstd.avro", CodecZstandard, want},
		// README.md's table says null; the file's header says deflate.
		{"weather-sorted.avro", CodecDeflate, sorted},
	} {
		t.Run(tc.file, func(t *testing.T) {
			hdr, _, got := openAll(t, filepath.Join(interopDir, tc.file), ReaderOptions{})
			assert.Equal(t, tc.codec, hdr.Codec)
			assert.Equal(t, wantFingerprint, hdr.Schema.Fingerprint(), "writer schema is weather.avsc")
			requireSameValues(t, tc.want, got)
		})
	}
}

// weather.json is exactly what `riffle avro cat` prints for weather.avro.
func TestInteropWeatherJSONLines(t *testing.T) {
	requireInteropDir(t)
	wantJSON, err := os.ReadFile(filepath.Join(interopDir, "weather.json"))
	require.NoError(t, err)
	for _, file := range []string{"weather.avro", "weather-deflate.avro", "weather-snappy.avro", "weather-zstd.avro"} {
		r, err := Open(filepath.Join(interopDir, file), ReaderOptions{})
		require.NoError(t, err)
		var out bytes.Buffer
		n, err := WriteJSONLines(&out, r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.EqualValues(t, 5, n)
		assert.Equal(t, string(wantJSON), out.String(), file)
	}
}

func TestInteropWithUnion(t *testing.T) {
	requireInteropDir(t)
	hdr, schema, got := openAll(t, filepath.Join(interopDir, "withUnion.avro"), ReaderOptions{})
	assert.Equal(t, CodecNull, hdr.Codec, "no avro.codec entry means null")
	rawSchema, err := os.ReadFile(filepath.Join(interopDir, "withUnion.schema.json"))
	require.NoError(t, err)
	assert.Equal(t, mustParse(t, string(rawSchema)).Fingerprint(), hdr.Schema.Fingerprint())

	// README.md's plain view of the records.
	wantPlain := []any{
		map[string]any{"data1": "textValue", "data2": nil},
		map[string]any{"data1": 123, "data2": map[string]any{"d1": false}},
		map[string]any{"data1": 3, "data2": map[string]any{"d1": "text value"}},
	}
	require.Len(t, got, 3)
	for i := range got {
		assert.Equal(t, wantPlain[i], unwrapUnions(schema, got[i]), "record %d", i)
	}

	// The generic values and their JSON wrap every union value.
	assert.Equal(t, map[string]any{
		"data1": map[string]any{"int": 123},
		"data2": map[string]any{"inner": map[string]any{"d1": map[string]any{"boolean": false}}},
	}, got[1])
	wantJSON := []string{
		`{"data1":{"string":"textValue"},"data2":null}`,
		`{"data1":{"int":123},"data2":{"inner":{"d1":{"boolean":false}}}}`,
		`{"data1":{"int":3},"data2":{"inner":{"d1":{"string":"text value"}}}}`,
	}
	for i := range got {
		line, err := AppendJSON(nil, schema, got[i])
		require.NoError(t, err)
		assert.Equal(t, wantJSON[i], string(line))
	}
}

func TestInteropSyncInMeta(t *testing.T) {
	requireInteropDir(t)
	path := filepath.Join(interopDir, "syncInMeta.avro")
	hdr, _, got := openAll(t, path, ReaderOptions{})
	assert.Equal(t, CodecDeflate, hdr.Codec)

	// The premise of the file: some metadata value contains the marker.
	found := false
	for _, v := range hdr.Meta {
		found = found || bytes.Contains(v, hdr.Sync[:])
	}
	require.True(t, found, "no metadata value contains the sync marker")

	require.Len(t, got, 6001)
	assert.Equal(t, map[string]any{"ID": int64(1), "First": "Dante", "Last": "Hicks", "Phone": "(0)", "Age": 32}, got[0])
	for i, rec := range got {
		require.Equal(t, int64(i+1), rec.(map[string]any)["ID"], "record %d", i)
	}

	// Several blocks, each starting after a real marker.
	r, err := Open(path, ReaderOptions{})
	require.NoError(t, err)
	defer r.Close()
	blocks := map[int64]int64{}
	for r.Next() {
		p := r.Position()
		blocks[p.Block] = p.BlockOffset
	}
	require.NoError(t, r.Err())
	assert.Greater(t, len(blocks), 1)
	assert.Equal(t, hdr.Size, blocks[0])
}

func TestInteropPrettySchema(t *testing.T) {
	requireInteropDir(t)
	r, err := Open(filepath.Join(interopDir, "weather.avro"), ReaderOptions{})
	require.NoError(t, err)
	defer r.Close()
	got, err := r.Header().PrettySchema()
	require.NoError(t, err)
	// The schema as weather.avro stores it (key order included), indented.
	want := `{
  "type": "record",
  "name": "Weather",
  "namespace": "test",
  "fields": [
    {
      "name": "station",
      "type": "string"
    },
    {
      "name": "time",
      "type": "long"
    },
    {
      "name": "temp",
      "type": "int"
    }
  ],
  "doc": "A weather reading."
}
`
	assert.Equal(t, want, string(got))
}
