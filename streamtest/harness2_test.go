package streamtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// tracer is a two-input operator that reports what the harness hands it: each record
// with the current key, each timer and each watermark. A record "timer N" registers an
// event-time timer at N for its key; "late" goes to the side output.
type tracer struct {
	ctx    stream.Context
	out    stream.Output[string]
	timers stream.TimerService
	count  state.ValueState[int64]
}

var lateTag = stream.NewOutputTag[string]("late")

func (o *tracer) Open(ctx stream.Context, out stream.Output[string]) error {
	o.ctx, o.out, o.timers = ctx, out, ctx.Timers()
	var err error
	o.count, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "count"})
	return err
}

func (o *tracer) element(input int, v string, ts int64) error {
	n, _, err := o.count.Value()
	if err != nil {
		return err
	}
	if err := o.count.Update(n + 1); err != nil {
		return err
	}
	var at int64
	if _, t, ok := strings.Cut(v, "timer "); ok {
		if _, err := fmt.Sscan(t, &at); err != nil {
			return err
		}
		o.timers.RegisterEventTimeTimer(nil, at)
	}
	if v == "late" {
		stream.EmitSide(o.ctx, lateTag, stream.Record[string]{Value: v, Timestamp: ts})
		return nil
	}
	o.out.Emit(stream.Record[string]{Value: fmt.Sprintf("in%d key=%s %q #%d wm=%d", input, o.ctx.State().CurrentKey(), v, n+1, o.timers.CurrentWatermark()), Timestamp: ts})
	return nil
}

func (o *tracer) ProcessElement1(r stream.Record[string]) error {
	return o.element(1, r.Value, r.Timestamp)
}
func (o *tracer) ProcessElement2(r stream.Record[int64]) error {
	return o.element(2, fmt.Sprint(r.Value), r.Timestamp)
}
func (o *tracer) OnTimer(d state.Domain, t state.Timer) error {
	o.out.Emit(stream.Record[string]{Value: fmt.Sprintf("timer %d key=%s", t.Timestamp, o.ctx.State().CurrentKey()), Timestamp: t.Timestamp})
	return nil
}
func (o *tracer) OnWatermark(wm int64) error {
	o.out.Emit(stream.Record[string]{Value: fmt.Sprintf("wm %d", wm)})
	return nil
}
func (o *tracer) Close() error { return nil }

func values(rs []stream.Record[string]) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}

func newTracer(t *testing.T) *Harness2[string, string, int64, string] {
	h, err := NewKeyed2[string](stream.TwoInputOperator[string, int64, string](&tracer{}),
		func(s string) string { return s[:1] },
		func(n int64) string { return fmt.Sprint(n % 10) }, Options{})
	require.NoError(t, err)
	return h
}

func TestHarness2KeysBothInputsAlike(t *testing.T) {
	h := newTracer(t)
	require.NoError(t, h.ProcessElement1("1 from the left", 5))
	require.NoError(t, h.ProcessElement2(21, 6))
	require.NoError(t, h.ProcessElement2(7, 7))
	assert.Equal(t, []string{
		`in1 key=1 "1 from the left" #1 wm=-9223372036854775808`,
		`in2 key=1 "21" #2 wm=-9223372036854775808`,
		`in2 key=7 "7" #1 wm=-9223372036854775808`,
	}, values(h.TakeOutput()))
}

func TestHarness2WatermarkIsTheMinimumOfBothInputs(t *testing.T) {
	h := newTracer(t)
	require.NoError(t, h.ProcessElement1("a timer 10", 1))
	require.NoError(t, h.ProcessElement1("b timer 20", 1))
	h.TakeOutput()
	require.NoError(t, h.ProcessWatermark1(30))
	assert.Empty(t, h.TakeOutput(), "input 2 is still at MinWatermark")
	require.NoError(t, h.ProcessWatermark2(15))
	assert.Equal(t, []string{"timer 10 key=a", "wm 15"}, values(h.TakeOutput()))
	require.NoError(t, h.ProcessWatermark2(12))
	require.NoError(t, h.ProcessWatermark1(25))
	assert.Empty(t, h.TakeOutput(), "an input's watermark never goes back")
	require.NoError(t, h.ProcessWatermark2(40))
	assert.Equal(t, []string{"timer 20 key=b", "wm 30"}, values(h.TakeOutput()), "input 1 holds it at 30 now")
	assert.Equal(t, int64(30), h.Watermark())
	assert.Equal(t, []int64{15, 30}, h.Watermarks())
}

func TestHarness2SnapshotRestoreAndSide(t *testing.T) {
	h := newTracer(t)
	CollectSide2(h, lateTag)
	require.NoError(t, h.ProcessElement1("a timer 10", 1))
	require.NoError(t, h.ProcessElement1("late", 1))
	require.Len(t, h.Side("late"), 1)
	assert.Equal(t, stream.Record[string]{Value: "late", Timestamp: 1}, h.Side("late")[0])
	snap, err := h.Snapshot()
	require.NoError(t, err)

	r := newTracer(t)
	require.NoError(t, r.Restore(snap))
	require.NoError(t, r.ProcessElement1("a again", 2))
	require.NoError(t, r.ProcessWatermark(10))
	assert.Equal(t, []string{`in1 key=a "a again" #2 wm=-9223372036854775808`, "timer 10 key=a", "wm 10"}, values(r.TakeOutput()))
	require.Error(t, r.Restore(snap), "only before Open")
}

func TestHarness2ProcessingTime(t *testing.T) {
	h, err := NewKeyed2[string](stream.TwoInputOperator[string, string, string](&ptimer{}),
		func(s string) string { return s }, func(s string) string { return s }, Options{})
	require.NoError(t, err)
	require.NoError(t, h.ProcessElement1("x", 0))
	require.NoError(t, h.ProcessElement2("y", 0))
	require.NoError(t, h.SetProcessingTime(99))
	assert.Empty(t, h.Output())
	require.NoError(t, h.SetProcessingTime(100))
	assert.ElementsMatch(t, []string{"x@100", "y@100"}, values(h.TakeOutput()))
	assert.Equal(t, int64(100), h.Clock().Now().UnixMilli())
}

type ptimer struct {
	stream.BaseOperator
	ctx stream.Context
	out stream.Output[string]
}

func (o *ptimer) Open(ctx stream.Context, out stream.Output[string]) error {
	o.ctx, o.out = ctx, out
	return nil
}
func (o *ptimer) ProcessElement1(stream.Record[string]) error {
	o.ctx.Timers().RegisterProcessingTimeTimer(nil, o.ctx.Timers().CurrentProcessingTime()+100)
	return nil
}
func (o *ptimer) ProcessElement2(r stream.Record[string]) error { return o.ProcessElement1(r) }
func (o *ptimer) OnTimer(d state.Domain, t state.Timer) error {
	if d == state.ProcessingTime {
		o.out.Emit(stream.Record[string]{Value: fmt.Sprintf("%s@%d", t.Key, t.Timestamp)})
	}
	return nil
}
