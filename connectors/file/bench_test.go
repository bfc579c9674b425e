package file

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/riffle-streams/riffle/internal/avrofile"
	"github.com/riffle-streams/riffle/stream"
)

// BenchmarkAvroSource reads a file of 100,000 records into a struct (which goes through
// the generic value: see doc.go) and into map[string]any.
func BenchmarkAvroSource(b *testing.B) {
	path := filepath.Join(b.TempDir(), "in.avro")
	const n = 100_000
	writeAvro(b, path, recSchema, avrofile.WriterOptions{Codec: avrofile.CodecSnappy}, recs(0, n))
	b.Run("struct", func(b *testing.B) { benchRead[Rec](b, path, n) })
	b.Run("map", func(b *testing.B) { benchRead[map[string]any](b, path, n) })
}

func benchRead[T any](b *testing.B, path string, n int) {
	src, err := NewAvroSource[T](SourceOptions{Paths: []string{path}})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]stream.Record[T], 512)
	start := time.Now()
	for b.Loop() {
		rd, err := src.Open(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			k, err := rd.Read(buf)
			got += k
			if err != nil {
				break
			}
		}
		if got != n {
			b.Fatalf("read %d records", got)
		}
		rd.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkSink writes 100,000 records into one part and pre-commits it.
func BenchmarkSink(b *testing.B) {
	rs := recs(0, 100_000)
	for _, c := range []Codec{CodecNull, CodecSnappy, CodecZstandard} {
		b.Run(string(c), func(b *testing.B) {
			s, err := NewAvroSink[Rec](SinkOptions{Dir: b.TempDir(), Schema: recSchema, Codec: c, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			w := &writer[Rec]{s: s, ckpt: true, epoch: 1}
			start := time.Now()
			e := uint64(1)
			for b.Loop() {
				for _, r := range rs {
					if err := w.Write(stream.Record[Rec]{Value: r}); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := w.PreCommit(e); err != nil {
					b.Fatal(err)
				}
				e++
			}
			b.ReportMetric(float64(len(rs))*float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}
