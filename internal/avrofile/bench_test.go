package avrofile

import (
	"bytes"
	"io"
	"testing"
)

// go test -run '^$' -bench . ./internal/avrofile

func BenchmarkWrite(b *testing.B) {
	schema := kitchenSchema(b)
	records := kitchenRecords(1000)
	for _, codec := range Codecs {
		b.Run(string(codec), func(b *testing.B) {
			var out countingWriter
			b.ReportAllocs()
			for b.Loop() {
				w, err := NewWriter(&out, schema, WriterOptions{Codec: codec})
				if err != nil {
					b.Fatal(err)
				}
				for _, rec := range records {
					if err := w.Append(rec); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(records))/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(out.n)/float64(b.N*len(records)), "bytes/record")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	schema := kitchenSchema(b)
	records := kitchenRecords(1000)
	for _, codec := range Codecs {
		data := writeAll(b, schema, WriterOptions{Codec: codec}, records)
		for _, render := range []bool{false, true} {
			name := string(codec)
			if render {
				name += "/json"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
					if err != nil {
						b.Fatal(err)
					}
					if render {
						if _, err := WriteJSONLines(io.Discard, r); err != nil {
							b.Fatal(err)
						}
					} else {
						for r.Next() {
						}
						if err := r.Err(); err != nil {
							b.Fatal(err)
						}
					}
					_ = r.Close()
				}
				b.ReportMetric(float64(b.N*len(records))/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
