package nexmark

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// BenchmarkGenerator measures Next on the default configuration: 1 person, 3
// auctions and 46 bids in every 50 events.
func BenchmarkGenerator(b *testing.B) {
	g := newTestGenerator(b, GeneratorConfig{})
	var ev Event
	for range 20_000 { // warm the channel table
		g.Next(&ev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		g.Next(&ev)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkGeneratorKinds measures each kind of event on its own.
func BenchmarkGeneratorKinds(b *testing.B) {
	for _, k := range []struct {
		name string
		num  int64 // an event number of that kind
	}{{"person", 50}, {"auction", 51}, {"bid", 54}} {
		b.Run(k.name, func(b *testing.B) {
			g := newTestGenerator(b, GeneratorConfig{})
			var ev Event
			n := k.num
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				g.EventAt(n, &ev)
				n += 50
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkWriter measures encoding and compressing events into a container
// file in memory.
func BenchmarkWriter(b *testing.B) {
	for _, codec := range allCodecs {
		b.Run(string(codec), func(b *testing.B) {
			g := newTestGenerator(b, GeneratorConfig{})
			var ev Event
			var sink countingWriter
			w, err := NewWriter(&sink, WriterOptions{Codec: codec})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				g.Next(&ev)
				if err := w.Write(&ev); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(float64(sink.n)/float64(b.N), "bytes/event")
		})
	}
}

// BenchmarkReader measures decoding events from a container file in memory.
func BenchmarkReader(b *testing.B) {
	const events = 100_000
	for _, codec := range allCodecs {
		b.Run(string(codec), func(b *testing.B) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, WriterOptions{Codec: codec})
			if err != nil {
				b.Fatal(err)
			}
			g := newTestGenerator(b, GeneratorConfig{NumEvents: events})
			var ev Event
			for g.Next(&ev) {
				if err := w.Write(&ev); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			file := buf.Bytes()
			b.ReportAllocs()
			start := time.Now()
			var r *Reader
			for i := 0; b.Loop(); i++ {
				if i%events == 0 {
					if r != nil {
						_ = r.Close()
					}
					if r, err = NewReader(bytes.NewReader(file), "bench.avro"); err != nil {
						b.Fatal(err)
					}
				}
				if !r.Next(&ev) {
					b.Fatal(r.Err())
				}
			}
			_ = r.Close()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(float64(len(file))/events, "bytes/event")
		})
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)
