package avrofile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

// fuzzSchema covers what the kitchen schema does not: a recursive type,
// nested unions, nullable records, local timestamps, duration.
const fuzzSchema = `{"type":"record","name":"Node","fields":[
	{"name":"v","type":["null","long","string",{"type":"array","items":"Node"}]},
	{"name":"next","type":["null","Node"]},
	{"name":"m","type":{"type":"map","values":["null",{"type":"enum","name":"E","symbols":["A","B"]}]}},
	{"name":"t","type":["null",{"type":"long","logicalType":"local-timestamp-micros"}]},
	{"name":"d","type":{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}},
	{"name":"f","type":"float"}]}`

func fuzzRecords() []any {
	leaf := map[string]any{"v": map[string]any{"long": int64(-3)}, "next": nil, "m": map[string]any{},
		"t": nil, "d": avro.LogicalDuration{Months: 1}, "f": float32(1.5)}
	return []any{
		leaf,
		map[string]any{
			"v":    map[string]any{"array": []any{leaf, leaf}},
			"next": map[string]any{"Node": leaf},
			"m":    map[string]any{"a": map[string]any{"E": "B"}, "b": nil},
			"t":    map[string]any{"long.local-timestamp-micros": time.Date(2024, 2, 29, 1, 2, 3, 4000, time.Local)},
			"d":    avro.LogicalDuration{Days: 2, Milliseconds: 3},
			"f":    float32(-0.25),
		},
	}
}

// FuzzReader feeds arbitrary bytes to the Reader. It must never panic or
// allocate without bound; every failure must be an *Error of a known kind;
// every record it returns must render as JSON; and the records of a file it
// reads completely must survive a round trip through the Writer.
//
// Seeds: the fixtures, the Apache interop files when present, small files
// generated below, and the committed corpus in testdata/fuzz/FuzzReader:
// small files of every codec (generated with writeAll and craft, as here)
// plus inputs the fuzzer kept (hex-named files).
//
//	go test -run '^$' -fuzz=FuzzReader -fuzztime=60s ./internal/avrofile
func FuzzReader(f *testing.F) {
	for _, glob := range []string{filepath.Join(fixturesDir, "*.avro"), filepath.Join(interopDir, "weather*.avro"), filepath.Join(interopDir, "withUnion.avro")} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	schema := mustParse(f, fuzzSchema)
	for _, codec := range Codecs {
		f.Add(writeAll(f, schema, WriterOptions{Codec: codec, BlockRecords: 1, SyncMarker: testSync}, fuzzRecords()))
	}
	f.Add(craft(longSchema, "", block(2, longs(1, 2))))

	f.Fuzz(checkReader)
}

// checkReader is FuzzReader's property.
func checkReader(t *testing.T, data []byte) {
	r, err := NewReader(bytes.NewReader(data), ReaderOptions{Name: "fuzz", MaxBlockSize: 1 << 20})
	if err != nil {
		requireKnownError(t, err)
		return
	}
	defer r.Close()
	var (
		records []any
		lines   [][]byte
	)
	for r.Next() {
		line, err := AppendJSON(nil, r.Schema(), r.Value())
		if err != nil {
			t.Fatalf("record %d decodes but does not render: %v", len(records), err)
		}
		records = append(records, r.Value())
		lines = append(lines, line)
		if len(records) == 10000 {
			return
		}
	}
	if err := r.Err(); err != nil {
		requireKnownError(t, err)
		return
	}

	// Round trip through the Writer.
	var buf bytes.Buffer
	w, err := NewWriter(&buf, r.WriterSchema(), WriterOptions{Codec: r.Header().Codec})
	if err != nil {
		t.Fatalf("cannot write a file with the schema just read: %v", err)
	}
	var kept [][]byte
	for i, rec := range records {
		if err := w.Append(rec); err != nil {
			// The Reader does not check decimals against their declared
			// precision (neither does Java's); the Writer does.
			if strings.Contains(err.Error(), "significant digits") {
				continue
			}
			t.Fatalf("record %d reads but does not write back: %v\n%s", i, err, lines[i])
		}
		kept = append(kept, lines[i])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := NewReader(&buf, ReaderOptions{})
	if err != nil {
		t.Fatalf("re-read: %v", err)
	}
	defer r2.Close()
	n := 0
	for ; r2.Next(); n++ {
		line, err := AppendJSON(nil, r2.Schema(), r2.Value())
		if err != nil {
			t.Fatalf("re-read record %d: %v", n, err)
		}
		if n >= len(kept) || !bytes.Equal(line, kept[n]) {
			t.Fatalf("record %d changed in the round trip:\n%s\n%s", n, kept[min(n, len(kept)-1)], line)
		}
	}
	if err := r2.Err(); err != nil {
		t.Fatalf("re-read: %v", err)
	}
	if n != len(kept) {
		t.Fatalf("round trip: wrote %d records, read %d", len(kept), n)
	}
}
