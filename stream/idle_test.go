package stream_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// quietSource has two unbounded splits: "busy" yields one record for key "k" every
// 500 ms of the mock clock, event times 10, 110, 210, ...; "quiet" never yields anything.
type quietSource struct{ c clock.Clock }

func (s quietSource) Splits(context.Context) ([]string, error) { return []string{"busy", "quiet"}, nil }
func (s quietSource) Open(_ context.Context, split string) (stream.SplitReader[tsValue], error) {
	return &tickReader{c: s.c, busy: split == "busy", next: s.c.Now()}, nil
}

type tickReader struct {
	c    clock.Clock
	busy bool
	next time.Time
	k    int64
}

func (r *tickReader) Read(buf []stream.Record[tsValue]) (int, error) {
	if !r.busy || r.c.Now().Before(r.next) {
		return 0, nil
	}
	ts := 10 + 100*r.k
	buf[0] = stream.Record[tsValue]{Value: tsValue{"k", 1, ts}, Timestamp: ts}
	r.k++
	r.next = r.c.Now().Add(500 * time.Millisecond)
	return 1, nil
}
func (r *tickReader) Offset() int64 { return r.k }
func (r *tickReader) Wait(ctx context.Context) error {
	if !r.busy {
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case <-r.c.After(r.next.Sub(r.c.Now())):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (r *tickReader) Close() error { return nil }

// TestIdleSplitDoesNotHoldBackTheWatermark: the quiet split keeps the watermark at its
// minimum until Idleness passes; then the busy split's watermark fires the windows.
func TestIdleSplitDoesNotHoldBackTheWatermark(t *testing.T) {
	for _, idleness := range []time.Duration{0, time.Second} {
		mock := clock.NewMock()
		j := stream.NewJob("idle", stream.JobOptions{Clock: mock})
		src := stream.FromSource[tsValue](j, "src", quietSource{mock}, stream.WatermarkStrategy[tsValue]{Idleness: idleness})
		keyed := stream.KeyBy(src, func(v tsValue) string { return v.Key })
		got := streamtest.Collect(stream.TransformKeyed(keyed, "sum", func() stream.Operator[tsValue, string] { return &tumblingSum{} }))
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); j.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; time.Now().Before(deadline) && len(got.Values()) < 2 && (idleness > 0 || i < 20); i++ {
			mock.Add(500 * time.Millisecond)
			time.Sleep(5 * time.Millisecond) // lets the job goroutines run; assertions do not depend on it
		}
		cancel()
		wg.Wait()
		if idleness == 0 {
			assert.Empty(t, got.Values(), "without idleness the quiet split holds the watermark back")
			continue
		}
		require.GreaterOrEqual(t, len(got.Values()), 2)
		assert.Equal(t, []string{"k@99=1", "k@199=1"}, got.Values()[:2], "windows fire on the busy split's watermark alone")
	}
}
