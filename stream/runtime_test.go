package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

type collector[T any] struct {
	mu   sync.Mutex
	recs []stream.Record[T]
}

func (c *collector[T]) sink() stream.Sink[T] {
	return stream.SinkFunc[T](func(r stream.Record[T]) error {
		c.mu.Lock()
		c.recs = append(c.recs, r)
		c.mu.Unlock()
		return nil
	})
}

func (c *collector[T]) values() []T {
	out := make([]T, len(c.recs))
	for i, r := range c.recs {
		out[i] = r.Value
	}
	return out
}

// counter is a keyed operator: it emits "key:count" for each record.
type counter struct {
	stream.BaseOperator
	ctx   stream.Context
	out   stream.Output[string]
	count state.ValueState[int64]
}

func (c *counter) Open(ctx stream.Context, out stream.Output[string]) error {
	c.ctx, c.out = ctx, out
	var err error
	c.count, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "count"})
	return err
}

func (c *counter) ProcessElement(r stream.Record[string]) error {
	n, _, err := c.count.Value()
	if err != nil {
		return err
	}
	n++
	if err := c.count.Update(n); err != nil {
		return err
	}
	c.out.Emit(stream.Record[string]{Value: fmt.Sprintf("%s:%d", r.Value, n), Timestamp: r.Timestamp})
	return nil
}

func words(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprint("w", i%7))
	}
	return out
}

func TestKeyedCountAcrossParallelism(t *testing.T) {
	for _, p := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("p=", p), func(t *testing.T) {
			j := stream.NewJob("count", stream.JobOptions{Parallelism: p, BatchSize: 7})
			src := stream.FromSlice(j, "words", words(700), stream.WatermarkStrategy[string]{})
			keyed := stream.KeyBy(src.Filter(func(s string) bool { return s != "w6" }), func(s string) string { return s })
			var c collector[string]
			stream.TransformKeyed(keyed, "count", func() stream.Operator[string, string] { return &counter{} }).To("collect", c.sink())
			require.NoError(t, j.Run(context.Background()))
			got := c.values()
			sort.Strings(got)
			var want []string
			for k := 0; k < 6; k++ {
				for n := 1; n <= 100; n++ {
					want = append(want, fmt.Sprintf("w%d:%d", k, n))
				}
			}
			sort.Strings(want)
			assert.Equal(t, want, got)
		})
	}
}

type failing struct {
	stream.BaseOperator
	out   stream.Output[string]
	panic bool
}

func (f *failing) Open(_ stream.Context, out stream.Output[string]) error { f.out = out; return nil }
func (f *failing) ProcessElement(r stream.Record[string]) error {
	if r.Value == "w5" {
		if f.panic {
			var m map[string]int
			m["boom"]++ // a nil map write: a real panic in user code
		}
		return errors.New("bad record")
	}
	return nil
}

func TestUserErrorsNameOperatorSubtaskAndPosition(t *testing.T) {
	for _, panics := range []bool{false, true} {
		j := stream.NewJob("failing", stream.JobOptions{Parallelism: 2})
		src := stream.FromSlice(j, "words", words(7), stream.WatermarkStrategy[string]{}) // one w5, at offset 5
		stream.Transform(src.Rebalance(), "check", func() stream.Operator[string, string] { return &failing{panic: panics} }).To("sink", stream.Discard[string]())
		err := j.Run(context.Background())
		require.Error(t, err)
		var oe *stream.OperatorError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, "check", oe.Operator)
		assert.Equal(t, "words", oe.Source)
		assert.Equal(t, "0", oe.Split)
		assert.Equal(t, int64(5), oe.Offset, "w5 is the 6th record")
		if panics {
			assert.Contains(t, err.Error(), "panic: assignment to entry in nil map")
			assert.NotEmpty(t, oe.Stack)
		} else {
			assert.Contains(t, err.Error(), `operator "check" (subtask`)
			assert.Contains(t, err.Error(), `offset 5 of split "0" of source "words": bad record`)
		}
	}
}

func TestCancelStopsAnUnboundedJob(t *testing.T) {
	j := stream.NewJob("forever", stream.JobOptions{})
	stream.FromSource[int](j, "ints", endless{}, stream.WatermarkStrategy[int]{}).To("sink", stream.Discard[int]())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- j.Run(ctx) }()
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

type endless struct{}

func (endless) Splits(context.Context) ([]string, error) { return []string{"a", "b"}, nil }
func (endless) Open(context.Context, string) (stream.SplitReader[int], error) {
	return &endlessReader{}, nil
}

type endlessReader struct{ n int64 }

func (r *endlessReader) Read(buf []stream.Record[int]) (int, error) {
	for i := range buf {
		buf[i] = stream.Record[int]{Value: int(r.n), Timestamp: r.n}
		r.n++
	}
	return len(buf), nil
}
func (r *endlessReader) Offset() int64                  { return r.n }
func (r *endlessReader) Wait(ctx context.Context) error { return nil }
func (r *endlessReader) Close() error                   { return nil }

var errEOF = io.EOF
