package operators_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/operators/join"
	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

type wc struct {
	Word string
	N    int
}

func TestWordCountWithReduce(t *testing.T) {
	lines := []string{"a b a", "c a", "b"}
	for _, p := range []int{1, 2} {
		j := stream.NewJob("wc", stream.JobOptions{Parallelism: p})
		words := operators.FlatMap(stream.FromSlice(j, "lines", lines, stream.WatermarkStrategy[string]{}), "split",
			func(l string) []wc {
				var out []wc
				for _, w := range strings.Fields(l) {
					out = append(out, wc{w, 1})
				}
				return out
			})
		counts := operators.Reduce(stream.KeyBy(words, func(w wc) string { return w.Word }), "count",
			func(acc, v wc) wc { return wc{acc.Word, acc.N + v.N} })
		got := streamtest.Collect(counts)
		require.NoError(t, j.Run(context.Background()))
		final := map[string]int{}
		for _, v := range got.Values() {
			final[v.Word] = max(final[v.Word], v.N)
		}
		assert.Equal(t, map[string]int{"a": 3, "b": 2, "c": 1}, final)
		assert.Len(t, got.Values(), 6, "one running value per word occurrence")
	}
}

type reading struct {
	Sensor string
	V      int64
	Ts     int64
}

// alarm counts a sensor's readings above 10 per second of event time and emits each
// second's count when the watermark passes it (a timer per second).
type alarm struct{ perSecond state.MapState[int64, int64] }

func (a *alarm) Open(ctx stream.Context) error {
	var err error
	a.perSecond, err = state.NewMap(ctx.State(), state.MapDesc[int64, int64]{Name: "per-second"})
	return err
}
func (a *alarm) ProcessElement(ctx operators.ProcessContext, _ string, r stream.Record[reading], _ stream.Output[string]) error {
	if r.Value.V <= 10 {
		return nil
	}
	end := r.Timestamp - r.Timestamp%1000 + 999
	n, _, err := a.perSecond.Get(end)
	if err != nil {
		return err
	}
	ctx.RegisterEventTimeTimer(end)
	return a.perSecond.Put(end, n+1)
}
func (a *alarm) OnTimer(_ operators.ProcessContext, sensor string, ts int64, _ state.Domain, out stream.Output[string]) error {
	n, _, err := a.perSecond.Get(ts)
	if err != nil {
		return err
	}
	out.Emit(stream.Record[string]{Value: fmt.Sprintf("%s:%d@%d", sensor, n, ts), Timestamp: ts})
	return a.perSecond.Remove(ts)
}

func readings() []reading {
	return []reading{{"s1", 12, 100}, {"s2", 5, 200}, {"s1", 30, 900}, {"s2", 11, 1500}, {"s1", 1, 2100}, {"s1", 50, 2500}}
}

func TestKeyedProcessWithTimers(t *testing.T) {
	j := stream.NewJob("alarms", stream.JobOptions{Parallelism: 2})
	src := stream.FromSlice(j, "readings", readings(), stream.WatermarkStrategy[reading]{Timestamp: func(r reading) int64 { return r.Ts }})
	got := streamtest.Collect(operators.KeyedProcess(stream.KeyBy(src, func(r reading) string { return r.Sensor }), "alarm",
		func() operators.ProcessFunction[string, reading, string] { return &alarm{} }))
	require.NoError(t, j.Run(context.Background()))
	out := got.Values()
	sort.Strings(out)
	assert.Equal(t, []string{"s1:1@2999", "s1:2@999", "s2:1@1999"}, out)
}

func TestWindowDSLWithLateSideOutput(t *testing.T) {
	// Batches of one record: the source emits a watermark after every record (it emits
	// one per read, as Flink's periodic watermarks do per interval). The reading at 100
	// then arrives after the one at 2500 has moved the watermark to 2499 (no
	// out-of-orderness allowed): its window [0,1000) is late.
	j := stream.NewJob("windows", stream.JobOptions{BatchSize: 1})
	rs := append(readings(), reading{"s1", 7, 100})
	src := stream.FromSlice(j, "readings", rs, stream.WatermarkStrategy[reading]{Timestamp: func(r reading) int64 { return r.Ts }})
	late := stream.NewOutputTag[reading]("late")
	sums := operators.Window(stream.KeyBy(src, func(r reading) string { return r.Sensor }), "sum",
		window.Reduce[string](window.Tumbling(time.Second, 0), func(a, b reading) reading { return reading{a.Sensor, a.V + b.V, b.Ts} }).
			WithLateOutput(late))
	got := streamtest.Collect(sums)
	gotLate := streamtest.Collect(operators.SideOutput(sums, late))
	require.NoError(t, j.Run(context.Background()))
	var out []string
	for _, r := range got.Records() {
		out = append(out, fmt.Sprintf("%s=%d@%d", r.Value.Sensor, r.Value.V, r.Timestamp))
	}
	sort.Strings(out)
	assert.Equal(t, []string{"s1=42@999", "s1=51@2999", "s2=11@1999", "s2=5@999"}, out)
	assert.Equal(t, []reading{{"s1", 7, 100}}, gotLate.Values())
}

func TestJoinConstructionErrorFailsTheJob(t *testing.T) {
	j := stream.NewJob("bad join", stream.JobOptions{})
	a := stream.KeyBy(stream.FromSlice(j, "a", []int{1}, stream.WatermarkStrategy[int]{}), func(v int) int { return v })
	b := stream.KeyBy(stream.FromSlice(j, "b", []int{1}, stream.WatermarkStrategy[int]{}), func(v int) int { return v })
	operators.IntervalJoin(a, b, "interval", join.Between(time.Second, -time.Second), join.Map(func(x, y int) int { return x + y }),
		join.Options[int, int]{}).To("sink", stream.Discard[int]())
	err := j.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `operator "interval"`)
}
