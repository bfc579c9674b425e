package avrofile

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Interop with avsc 5.7.9, an independent JavaScript implementation. The
// fixtures in testdata/avro were written by testdata/avro/avsc/make-fixtures.js
// (see testdata/avro/README.md); avsc-kitchen.jsonl is avsc's JSON view of
// their records.

const avscRecords = 100 // COUNT in make-fixtures.js

func avscJSONLines(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, "avsc-kitchen.jsonl"))
	require.NoError(t, err)
	return string(b)
}

// rawKitchenSchema is kitchen.avsc without logical types. avsc, with no
// logical types registered, sees the underlying values; reading with this
// reader schema makes riffle see the same.
func rawKitchenSchema(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(avscDir, "kitchen.avsc"))
	require.NoError(t, err)
	s := string(raw)
	for _, lt := range []string{
		`, "logicalType": "timestamp-millis"`,
		`, "logicalType": "date"`,
		`, "logicalType": "decimal", "precision": 9, "scale": 2`,
	} {
		require.Contains(t, s, lt)
		s = strings.Replace(s, lt, "", 1)
	}
	return s
}

func TestAvscFixturesRead(t *testing.T) {
	want := kitchenRecords(avscRecords)
	for _, tc := range []struct {
		file  string
		codec Codec
	}{
		{"avsc-null.avro", CodecNull},
		{"avsc-deflate.avro", CodecDeflate},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := Open(filepath.Join(fixturesDir, tc.file), ReaderOptions{})
			require.NoError(t, err)
			defer r.Close()
			assert.Equal(t, tc.codec, r.Header().Codec)
			assert.Equal(t, tc.file, string(r.Metadata()["riffle.fixture"]))
			assert.Equal(t, kitchenSchema(t).Fingerprint(), r.WriterSchema().Fingerprint())
			var got []any
			var lastBlock int64
			for r.Next() {
				got = append(got, r.Value())
				lastBlock = r.Position().Block
			}
			require.NoError(t, r.Err())
			requireSameValues(t, want, got)
			assert.Greater(t, lastBlock, int64(2), "fixture spans several blocks")
		})
	}
}

// riffle's JSON rendering of the avsc fixtures, read without logical types,
// is byte for byte avsc's own JSON view (Type#toString, Avro's JSON
// encoding): the union and bytes conventions are Avro's.
func TestAvscFixturesJSONMatchesAvsc(t *testing.T) {
	reader := mustParse(t, rawKitchenSchema(t))
	for _, file := range []string{"avsc-null.avro", "avsc-deflate.avro"} {
		r, err := Open(filepath.Join(fixturesDir, file), ReaderOptions{ReaderSchema: reader})
		require.NoError(t, err)
		var out bytes.Buffer
		n, err := WriteJSONLines(&out, r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.EqualValues(t, avscRecords, n)
		assert.Equal(t, avscJSONLines(t), out.String(), file)
	}
}

func TestAvscFixtureEmpty(t *testing.T) {
	r, err := Open(filepath.Join(fixturesDir, "avsc-empty.avro"), ReaderOptions{})
	require.NoError(t, err)
	defer r.Close()
	assert.False(t, r.Next())
	assert.NoError(t, r.Err())
	assert.Equal(t, kitchenSchema(t).Fingerprint(), r.WriterSchema().Fingerprint())
}

// requireAvsc returns the path of node, or skips the test when node or the
// avsc module is missing.
func requireAvsc(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH: this test has avsc read files riffle wrote; install Node.js, then run `npm ci --prefix testdata/avro/avsc` from the repository root")
	}
	if _, err := os.Stat(filepath.Join(avscDir, "node_modules", "avsc", "package.json")); err != nil {
		t.Skip("avsc not installed: run `npm ci --prefix testdata/avro/avsc` from the repository root")
	}
	return node
}

// Files written by riffle's Writer read back with avsc as the same records.
func TestAvscReadsRiffleFiles(t *testing.T) {
	node := requireAvsc(t)
	records := kitchenRecords(avscRecords)
	want := avscJSONLines(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts WriterOptions
	}{
		{"null", WriterOptions{Codec: CodecNull}},
		{"null-small-blocks", WriterOptions{Codec: CodecNull, SyncInterval: MinSyncInterval, Metadata: map[string][]byte{"x.y": {0, 1}}}},
		{"deflate", WriterOptions{Codec: CodecDeflate}},
		{"deflate-7-records-per-block", WriterOptions{Codec: CodecDeflate, CompressionLevel: 9, BlockRecords: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+".avro")
			require.NoError(t, os.WriteFile(file, writeAll(t, kitchenSchema(t), tc.opts, records), 0o644))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(avscDir, "read.js"), file)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "%s: %s", cmd, stderr.String())
			requireSameJSONLines(t, want, string(out))
		})
	}
}

// requireSameJSONLines compares JSON lines by meaning: hamba encodes Go
// maps in iteration order, so avsc prints their entries in any order.
func requireSameJSONLines(t *testing.T, want, got string) {
	t.Helper()
	wl := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	gl := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	require.Len(t, gl, len(wl))
	for i := range wl {
		var w, g any
		require.NoError(t, json.Unmarshal([]byte(wl[i]), &w), "line %d", i)
		require.NoError(t, json.Unmarshal([]byte(gl[i]), &g), "line %d: %s", i, gl[i])
		require.Equal(t, w, g, "line %d", i)
	}
}
