package nexmark

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/riffle-streams/riffle/connectors/nexmark"
	"github.com/riffle-streams/riffle/stream"
)

// BenchmarkQuery runs each query on the in-process generator with a discarding sink,
// parallelism 1. Reported: events/s (of all kinds) through the whole job.
func BenchmarkQuery(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			job := stream.NewJob(name, stream.JobOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			events := stream.FromSource(job, "events", &nexmark.GeneratorSource{Config: nexmark.GeneratorConfig{NumEvents: int64(b.N)}}, Watermarks())
			Queries[name](events, NewJSONLines(nil))
			b.ResetTimer()
			if err := job.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
