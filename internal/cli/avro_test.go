package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// interop is Apache Avro's interop directory beside the repository.
func interop(t *testing.T, name string) string {
	p := filepath.Join("..", "..", "..", "shared", "avro-interop", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no %s beside the repository (../shared/avro-interop)", name)
	}
	return p
}

func TestAvroCatPrintsJSONLines(t *testing.T) {
	want, err := os.ReadFile(interop(t, "weather.json"))
	require.NoError(t, err)
	for _, f := range []string{"weather.avro", "weather-deflate.avro", "weather-snappy.avro", "weather-zstd.avro"} {
		r := ok(t, "", "avro", "cat", interop(t, f))
		assert.Equal(t, strings.TrimSpace(string(want)), strings.TrimSpace(r.stdout), f)
	}
	r := ok(t, "", "avro", "cat", interop(t, "syncInMeta.avro"))
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 6001)
}

func TestAvroSchemaAndErrors(t *testing.T) {
	r := ok(t, "", "avro", "schema", interop(t, "weather.avro"))
	assert.Contains(t, r.stdout, `"name": "Weather"`)
	b, err := os.ReadFile(interop(t, "weather-deflate.avro"))
	require.NoError(t, err)
	cut := filepath.Join(t.TempDir(), "cut.avro")
	require.NoError(t, os.WriteFile(cut, b[:len(b)-20], 0o644))
	f := fails(t, "", "avro", "cat", cut)
	assert.Contains(t, f.stderr, "truncated")
	assert.Contains(t, f.stderr, "cut.avro")
	r = riffle(t, "", "avro", "cat")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "want exactly one FILE")
}
