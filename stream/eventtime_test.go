package stream_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// tsValue is a keyed value with event time.
type tsValue struct {
	Key string
	V   int64
	Ts  int64
}

// splitsSource has one split per slice of values.
type splitsSource struct{ splits [][]tsValue }

func (s splitsSource) Splits(context.Context) ([]string, error) {
	out := make([]string, len(s.splits))
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out, nil
}

func (s splitsSource) Open(_ context.Context, split string) (stream.SplitReader[tsValue], error) {
	var i int
	fmt.Sscan(split, &i)
	return &tsReader{vals: s.splits[i]}, nil
}

type tsReader struct {
	vals []tsValue
	next int
}

func (r *tsReader) Read(buf []stream.Record[tsValue]) (int, error) {
	n := 0
	for n < len(buf) && n < 3 && r.next < len(r.vals) { // small reads interleave splits
		buf[n] = stream.Record[tsValue]{Value: r.vals[r.next], Timestamp: stream.NoTimestamp}
		n++
		r.next++
	}
	if r.next == len(r.vals) {
		return n, errEOF
	}
	return n, nil
}
func (r *tsReader) Offset() int64                  { return int64(r.next) }
func (r *tsReader) Wait(ctx context.Context) error { return ctx.Err() }
func (r *tsReader) Close() error                   { return nil }

// tumblingSum sums values per key in 100 ms windows with state and event-time timers,
// and checks that no record arrives behind the watermark.
type tumblingSum struct {
	stream.BaseOperator
	ctx stream.Context
	out stream.Output[string]
	sum state.ValueState[int64]
	ns  [8]byte
}

func (o *tumblingSum) Open(ctx stream.Context, out stream.Output[string]) error {
	o.ctx, o.out = ctx, out
	var err error
	o.sum, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "sum"})
	return err
}

func (o *tumblingSum) window(end int64) []byte {
	binary.BigEndian.PutUint64(o.ns[:], uint64(end))
	return o.ns[:]
}

func (o *tumblingSum) ProcessElement(r stream.Record[tsValue]) error {
	if wm := o.ctx.Timers().CurrentWatermark(); r.Timestamp <= wm {
		return fmt.Errorf("record at %d behind the watermark %d", r.Timestamp, wm)
	}
	end := r.Timestamp - r.Timestamp%100 + 100
	ns := o.window(end)
	o.sum.(state.Namespaced).SetNamespace(ns)
	s, _, err := o.sum.Value()
	if err != nil {
		return err
	}
	o.ctx.Timers().RegisterEventTimeTimer(ns, end-1)
	return o.sum.Update(s + r.Value.V)
}

func (o *tumblingSum) OnTimer(_ state.Domain, t state.Timer) error {
	o.sum.(state.Namespaced).SetNamespace(t.Namespace)
	s, _, err := o.sum.Value()
	if err != nil {
		return err
	}
	o.out.Emit(stream.Record[string]{Value: fmt.Sprintf("%s@%d=%d", t.Key, t.Timestamp, s), Timestamp: t.Timestamp})
	return o.sum.Clear()
}

func TestEventTimeWindowsThroughTheExecutor(t *testing.T) {
	// Three splits with different event-time progress; each is in order.
	var splits [][]tsValue
	want := map[string]int64{}
	for s := 0; s < 3; s++ {
		var vals []tsValue
		for ts := int64(s * 7); ts < int64(1000+s*300); ts += int64(5 + s) {
			v := tsValue{Key: fmt.Sprint("k", ts%4), V: ts % 11, Ts: ts}
			vals = append(vals, v)
			want[fmt.Sprintf("%s@%d", v.Key, ts-ts%100+99)] += v.V
		}
		splits = append(splits, vals)
	}
	var wantLines []string
	for k, v := range want {
		wantLines = append(wantLines, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(wantLines)
	for _, p := range []int{1, 2} {
		j := stream.NewJob("tumbling", stream.JobOptions{Parallelism: p, BatchSize: 5})
		src := stream.FromSource[tsValue](j, "values", splitsSource{splits}, stream.WatermarkStrategy[tsValue]{
			Timestamp: func(v tsValue) int64 { return v.Ts },
		})
		keyed := stream.KeyBy(src, func(v tsValue) string { return v.Key })
		got := streamtest.Collect(stream.TransformKeyed(keyed, "sum", func() stream.Operator[tsValue, string] { return &tumblingSum{} }))
		require.NoError(t, j.Run(context.Background()), "p=%d", p)
		lines := got.Values()
		sort.Strings(lines)
		assert.Equal(t, wantLines, lines, "p=%d: every window fired exactly once, the last ones at the end of input", p)
		for _, r := range got.Records() {
			require.NotEqual(t, stream.NoTimestamp, r.Timestamp)
		}
	}
}
