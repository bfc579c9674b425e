package keyed_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators/keyed"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

type user struct {
	Name  string
	Shard int32
}

type click struct {
	User user
	Page string
}

var lateClicks = stream.NewOutputTag[click]("late")

// countUntil counts a key's clicks from its first click until 10 ms of event time later,
// then reports the count and forgets the key. A "ping" page sets a processing-time
// timer 5 ms ahead that answers "pong". Late clicks go to a side output.
type countUntil struct {
	n      state.ValueState[int64]
	opened int
	closed int
}

func (c *countUntil) Open(ctx stream.Context) (err error) {
	c.opened++
	c.n, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "n"})
	return err
}

func (c *countUntil) Close() error { c.closed++; return nil }

func (c *countUntil) ProcessElement(ctx keyed.Context, key user, r stream.Record[click], out stream.Output[string]) error {
	if key != r.Value.User {
		return fmt.Errorf("key %v for a click of %v", key, r.Value.User)
	}
	if r.Timestamp <= ctx.CurrentWatermark() {
		stream.EmitSide(ctx, lateClicks, r)
		return nil
	}
	if r.Value.Page == "ping" {
		ctx.RegisterProcessingTimeTimer(ctx.CurrentProcessingTime() + 5)
		return nil
	}
	n, _, err := c.n.Value()
	if err != nil {
		return err
	}
	if n == 0 {
		ctx.RegisterEventTimeTimer(ctx.Timestamp() + 10)
		ctx.RegisterEventTimeTimer(ctx.Timestamp() + 10) // once
	}
	return c.n.Update(n + 1)
}

func (c *countUntil) OnTimer(ctx keyed.Context, key user, ts int64, d state.Domain, out stream.Output[string]) error {
	if ctx.Timestamp() != ts {
		return fmt.Errorf("timestamp %d in a timer at %d", ctx.Timestamp(), ts)
	}
	if d == state.ProcessingTime {
		out.Emit(stream.Record[string]{Value: fmt.Sprintf("pong %s", key.Name), Timestamp: ts})
		return nil
	}
	n, _, err := c.n.Value()
	if err != nil {
		return err
	}
	out.Emit(stream.Record[string]{Value: fmt.Sprintf("%s/%d: %d", key.Name, key.Shard, n), Timestamp: ts})
	return c.n.Clear()
}

func newCountHarness(t *testing.T, fn *countUntil) *streamtest.Harness[user, click, string] {
	h, err := streamtest.NewKeyed(keyed.NewProcess[user, click, string](fn, nil), func(c click) user { return c.User }, streamtest.Options{})
	require.NoError(t, err)
	streamtest.CollectSide(h, lateClicks)
	return h
}

var (
	ada   = user{"ada", 1}
	grace = user{"grace", 2}
)

// countScript runs the hand-checked scenario; restore, when set, replaces the harness by
// a restored one at the middle.
func countScript(t *testing.T, restore bool) (out []stream.Record[string], late []any, h *streamtest.Harness[user, click, string]) {
	h = newCountHarness(t, &countUntil{})
	step := func(err error) { t.Helper(); require.NoError(t, err) }
	step(h.ProcessElement(click{ada, "home"}, 1))
	step(h.ProcessElement(click{grace, "home"}, 2))
	step(h.ProcessElement(click{ada, "docs"}, 5))
	step(h.ProcessWatermark(10))
	assert.Empty(t, h.Output())
	step(h.ProcessWatermark(11))
	assert.Equal(t, []stream.Record[string]{{Value: "ada/1: 2", Timestamp: 11}}, h.Output())
	if restore {
		snap, err := h.Snapshot()
		require.NoError(t, err)
		out = h.TakeOutput()
		h = newCountHarness(t, &countUntil{})
		step(h.Restore(snap))
		step(h.ProcessWatermark(11)) // the sources' watermark after the restart
	}
	step(h.ProcessElement(click{grace, "late"}, 3))
	step(h.ProcessElement(click{grace, "blog"}, 12))
	step(h.ProcessElement(click{ada, "again"}, 13))
	step(h.ProcessWatermark(22))
	step(h.ProcessElement(click{grace, "ping"}, 30))
	step(h.SetProcessingTime(4))
	step(h.SetProcessingTime(5))
	step(h.ProcessWatermark(stream.MaxWatermark))
	return append(out, h.Output()...), h.Side(lateClicks.ID), h
}

func TestProcessFunctionCountsUntilTimer(t *testing.T) {
	out, late, h := countScript(t, false)
	assert.Equal(t, []stream.Record[string]{
		{Value: "ada/1: 2", Timestamp: 11},
		{Value: "grace/2: 2", Timestamp: 12},
		{Value: "pong grace", Timestamp: 5},
		{Value: "ada/1: 1", Timestamp: 23},
	}, out)
	assert.Equal(t, []any{stream.Record[click]{Value: click{grace, "late"}, Timestamp: 3}}, late)

	n, err := streamtest.StateEntries(h.Backend())
	require.NoError(t, err)
	assert.Zero(t, n, "every key cleared its state")
	assert.Zero(t, h.Backend().Timers().Len(state.EventTime)+h.Backend().Timers().Len(state.ProcessingTime))
}

func TestProcessFunctionSnapshotRestore(t *testing.T) {
	want, wantLate, _ := countScript(t, false)
	got, gotLate, _ := countScript(t, true)
	assert.Equal(t, want, got)
	assert.Equal(t, wantLate, gotLate)
}

func TestProcessFunctionOpenCloseAndErrors(t *testing.T) {
	fn := &countUntil{}
	h := newCountHarness(t, fn)
	require.NoError(t, h.Open())
	require.NoError(t, h.Close())
	assert.Equal(t, 1, fn.opened)
	assert.Equal(t, 1, fn.closed)

	// A stream that is not keyed has no state: Open says so.
	nk := streamtest.New(keyed.NewProcess[user, click, string](&countUntil{}, nil), streamtest.Options{})
	require.ErrorIs(t, nk.Open(), keyed.ErrNotKeyed)

	// A key type without a canonical encoding and no codec.
	bad, err := streamtest.NewKeyed(keyed.NewProcess[map[string]int, string, string](
		keyed.ElementFunc[map[string]int, string, string](func(keyed.Context, map[string]int, stream.Record[string], stream.Output[string]) error { return nil }), nil),
		func(s string) string { return s }, streamtest.Options{})
	require.NoError(t, err)
	require.ErrorContains(t, bad.Open(), "no canonical key encoding")

	// Errors of the function come back unchanged.
	boom := fmt.Errorf("boom")
	e, err := streamtest.NewKeyed(keyed.NewProcess[string, string, string](
		keyed.ElementFunc[string, string, string](func(keyed.Context, string, stream.Record[string], stream.Output[string]) error { return boom }), nil),
		func(s string) string { return s }, streamtest.Options{})
	require.NoError(t, err)
	require.ErrorIs(t, e.ProcessElement("x", 1), boom)
}

// A process function can delete its timers.
func TestProcessFunctionDeletesTimers(t *testing.T) {
	fn := keyedFuncs[string, int64, string]{
		element: func(ctx keyed.Context, key string, r stream.Record[int64], out stream.Output[string]) error {
			if r.Value < 0 {
				ctx.DeleteEventTimeTimer(-r.Value)
				ctx.DeleteProcessingTimeTimer(-r.Value)
				return nil
			}
			ctx.RegisterEventTimeTimer(r.Value)
			ctx.RegisterProcessingTimeTimer(r.Value)
			return nil
		},
		timer: func(ctx keyed.Context, key string, ts int64, d state.Domain, out stream.Output[string]) error {
			out.Emit(stream.Record[string]{Value: fmt.Sprintf("%s %d %d", key, d, ts), Timestamp: ts})
			return nil
		},
	}
	h, err := streamtest.NewKeyed(keyed.NewProcess[string, int64, string](fn, state.CodecFor[string]()),
		func(int64) string { return "k" }, streamtest.Options{})
	require.NoError(t, err)
	for _, v := range []int64{10, 20, -10, 30, -30} {
		require.NoError(t, h.ProcessElement(v, 0))
	}
	require.NoError(t, h.ProcessWatermark(100))
	require.NoError(t, h.SetProcessingTime(100))
	assert.Equal(t, []stream.Record[string]{{Value: "k 0 20", Timestamp: 20}, {Value: "k 1 20", Timestamp: 20}}, h.Output())
}

type keyedFuncs[K, IN, OUT any] struct {
	element func(keyed.Context, K, stream.Record[IN], stream.Output[OUT]) error
	timer   func(keyed.Context, K, int64, state.Domain, stream.Output[OUT]) error
}

func (f keyedFuncs[K, IN, OUT]) ProcessElement(ctx keyed.Context, k K, r stream.Record[IN], out stream.Output[OUT]) error {
	return f.element(ctx, k, r, out)
}
func (f keyedFuncs[K, IN, OUT]) OnTimer(ctx keyed.Context, k K, ts int64, d state.Domain, out stream.Output[OUT]) error {
	return f.timer(ctx, k, ts, d, out)
}
