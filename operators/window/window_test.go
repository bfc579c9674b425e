package window_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

func TestStart(t *testing.T) {
	for _, c := range []struct{ ts, offset, size, want int64 }{
		{0, 0, 3000, 0},
		{2999, 0, 3000, 0},
		{3000, 0, 3000, 3000},
		{-1, 0, 3000, -3000}, // non-negative remainder
		{-3000, 0, 3000, -3000},
		{-3001, 0, 3000, -6000},
		{499, 500, 2000, -1500},
		{500, 500, 2000, 500},
		{-1501, 500, 2000, -3500},
		{10, -100, 1000, -100},
		{math.MaxInt64 - 1750, 0, 1000, math.MaxInt64 - 1807},
	} {
		assert.Equal(t, c.want, window.Start(c.ts, c.offset, c.size), "Start(%d, %d, %d)", c.ts, c.offset, c.size)
	}
}

func TestTimeWindow(t *testing.T) {
	w := window.TimeWindow{Start: 0, End: 3000}
	assert.Equal(t, int64(2999), w.MaxTimestamp())
	assert.True(t, w.Intersects(window.TimeWindow{Start: 3000, End: 6000}), "touching windows intersect")
	assert.True(t, w.Intersects(window.TimeWindow{Start: -10, End: 0}))
	assert.False(t, w.Intersects(window.TimeWindow{Start: 3001, End: 6000}))
	assert.Equal(t, window.TimeWindow{Start: -5, End: 3000}, w.Cover(window.TimeWindow{Start: -5, End: 10}))
	assert.Equal(t, "[0,3000)", w.String())
	assert.Equal(t, int64(math.MaxInt64), window.GlobalWindow{}.MaxTimestamp())
}

func TestWindowCodecs(t *testing.T) {
	ws := []window.TimeWindow{{math.MinInt64, -1}, {-1, 0}, {0, 1}, {5, 10}, {5, 11}, {math.MaxInt64 - 1, math.MaxInt64}}
	var prev []byte
	for _, w := range ws {
		b := window.TimeWindowCodec.Append(nil, w)
		require.Len(t, b, 16)
		got, err := window.TimeWindowCodec.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, w, got)
		assert.Less(t, string(prev), string(b), "namespaces sort in time order")
		prev = b
	}
	_, err := window.TimeWindowCodec.Decode([]byte{1, 2})
	assert.Error(t, err)
	g, err := window.GlobalWindowCodec.Decode(window.GlobalWindowCodec.Append(nil, window.GlobalWindow{}))
	require.NoError(t, err)
	assert.Equal(t, window.GlobalWindow{}, g)
}

func TestMergeTimeWindows(t *testing.T) {
	type group struct {
		members []window.TimeWindow
		result  window.TimeWindow
	}
	tw := func(s, e int64) window.TimeWindow { return window.TimeWindow{Start: s, End: e} }
	for _, c := range []struct {
		in   []window.TimeWindow
		want []group
	}{
		{[]window.TimeWindow{tw(0, 3), tw(5, 8)}, nil},
		{[]window.TimeWindow{tw(5, 8), tw(0, 3), tw(3, 4)}, []group{{[]window.TimeWindow{tw(0, 3), tw(3, 4)}, tw(0, 4)}}},
		{[]window.TimeWindow{tw(0, 3), tw(0, 3)}, nil}, // a set: equal windows do not merge
		{[]window.TimeWindow{tw(0, 10), tw(2, 2), tw(20, 25), tw(24, 30), tw(12, 13)},
			[]group{{[]window.TimeWindow{tw(0, 10), tw(2, 2)}, tw(0, 10)}, {[]window.TimeWindow{tw(20, 25), tw(24, 30)}, tw(20, 30)}}},
		{[]window.TimeWindow{tw(6, 9), tw(0, 3), tw(2, 7), tw(6, 9)}, []group{{[]window.TimeWindow{tw(0, 3), tw(2, 7), tw(6, 9)}, tw(0, 9)}}},
	} {
		var got []group
		window.MergeTimeWindows(append([]window.TimeWindow(nil), c.in...), func(ms []window.TimeWindow, r window.TimeWindow) {
			got = append(got, group{append([]window.TimeWindow(nil), ms...), r})
		})
		assert.Equal(t, c.want, got, "%v", c.in)
	}
}

func TestTriggerResult(t *testing.T) {
	assert.True(t, window.FireAndPurge.IsFire() && window.FireAndPurge.IsPurge())
	assert.False(t, window.Continue.IsFire() || window.Continue.IsPurge())
	assert.Equal(t, "FIRE_AND_PURGE", window.FireAndPurge.String())
}

func TestValidateReportsEveryProblem(t *testing.T) {
	op := window.Reduce[string](window.Sliding(0, -time.Second, 0), (func(a, b kv) kv)(nil)).
		WithTrigger(window.CountTrigger[window.TimeWindow](0)).
		WithAllowedLateness(-time.Second)
	err := op.Validate()
	require.ErrorIs(t, err, window.ErrInvalid)
	for _, want := range []string{"no reduce function", "sliding window size", "count trigger of 0", "negative"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NoError(t, window.Reduce[string](window.Tumbling(time.Second, 0), sumKV).Validate())

	for name, err := range map[string]error{
		"tumbling offset":      window.Reduce[string](window.Tumbling(time.Second, time.Second), sumKV).Validate(),
		"session gap":          window.Reduce[string](window.Session(0), sumKV).Validate(),
		"processing lateness":  window.Reduce[string](window.TumblingProcessingTime(time.Second, 0), sumKV).WithAllowedLateness(time.Second).Validate(),
		"dynamic session type": window.Reduce[string](window.DynamicSession(func(int) time.Duration { return time.Second }), sumKV).Validate(),
		"non-merging trigger":  window.Reduce[string](window.Session(time.Second), sumKV).WithTrigger(noMerge{}).Validate(),
		"key codec":            window.Process(window.Tumbling(time.Second, 0), func(map[string]int, window.TimeWindow, []kv, window.Collector[kv]) {}).Validate(),
	} {
		assert.ErrorIs(t, err, window.ErrInvalid, name)
	}
}

type noMerge struct {
	window.Trigger[window.TimeWindow]
}

func (noMerge) CanMerge() bool { return false }

func TestErrors(t *testing.T) {
	h := streamtest.New[kv, kv](window.Reduce[string](window.Tumbling(time.Second, 0), sumKV), streamtest.Options{})
	require.ErrorIs(t, h.Open(), window.ErrNotKeyed)

	kh, err := streamtest.NewKeyed(window.Reduce[string](window.Tumbling(time.Second, 0), sumKV), keyOf, streamtest.Options{})
	require.NoError(t, err)
	require.ErrorIs(t, kh.ProcessElement(kv{"k", 1}, stream.NoTimestamp), window.ErrNoTimestamp)

	dh, err := streamtest.NewKeyed(window.Reduce[string](window.DynamicSession(func(kv) time.Duration { return 0 }), sumKV), keyOf, streamtest.Options{})
	require.NoError(t, err)
	require.ErrorIs(t, dh.ProcessElement(kv{"k", 1}, 5), window.ErrInvalid)
}

// Late records are counted when there is no late output, and the counter is the
// operator's (a metric, not state).
func TestLateRecordsDropped(t *testing.T) {
	op := window.Reduce[string](window.Tumbling(time.Second, 0), sumKV)
	h, err := streamtest.NewKeyed(op, keyOf, streamtest.Options{})
	require.NoError(t, err)
	require.NoError(t, h.ProcessElement(kv{"k", 1}, 500))
	require.NoError(t, h.ProcessWatermark(1500))
	require.NoError(t, h.ProcessElement(kv{"k", 1}, 999))
	require.NoError(t, h.ProcessElement(kv{"k", 1}, 1000))
	require.NoError(t, h.ProcessWatermark(2000))
	assert.Equal(t, int64(1), op.LateRecordsDropped())
	assert.Len(t, h.Output(), 2)

	c := op.Clone()
	assert.Equal(t, int64(0), c.LateRecordsDropped())
	assert.NoError(t, c.Validate())
}

// A trigger's state and timers work through the trigger context; a value state keeps
// the first element's timestamp of each window here.
type firstSeen struct {
	window.Trigger[window.TimeWindow]
}

var firstDesc = state.Desc[int64]{Name: "first"}

func (firstSeen) OnElement(ts int64, w window.TimeWindow, ctx *window.TriggerContext) (window.TriggerResult, error) {
	s, err := window.TriggerValueState(ctx, firstDesc)
	if err != nil {
		return window.Continue, err
	}
	if _, ok, err := s.Value(); err != nil || ok {
		return window.Continue, err
	}
	ctx.RegisterEventTimeTimer(ts + 100)
	return window.Continue, s.Update(ts)
}

func (firstSeen) OnEventTime(t int64, w window.TimeWindow, ctx *window.TriggerContext) (window.TriggerResult, error) {
	s, err := window.TriggerValueState(ctx, firstDesc)
	if err != nil {
		return window.Continue, err
	}
	first, ok, err := s.Value()
	if err != nil || !ok || first+100 != t {
		return window.Continue, err
	}
	return window.Fire, nil
}

func (firstSeen) Clear(w window.TimeWindow, ctx *window.TriggerContext) error {
	s, err := window.TriggerValueState(ctx, firstDesc)
	if err != nil {
		return err
	}
	return s.Clear()
}

func TestCustomTriggerState(t *testing.T) {
	op := window.Reduce[string](window.Tumbling(time.Second, 0), sumKV).
		WithTrigger(firstSeen{window.EventTimeTrigger[window.TimeWindow]()})
	h, err := streamtest.NewKeyed(op, keyOf, streamtest.Options{})
	require.NoError(t, err)
	for _, ts := range []int64{10, 20, 1050} {
		require.NoError(t, h.ProcessElement(kv{"k", 1}, ts))
	}
	require.NoError(t, h.ProcessWatermark(110))
	snap, err := h.Snapshot()
	require.NoError(t, err)
	require.Equal(t, []stream.Record[kv]{{Value: kv{"k", 2}, Timestamp: 999}}, h.TakeOutput())

	h2, err := streamtest.NewKeyed(op.Clone(), keyOf, streamtest.Options{})
	require.NoError(t, err)
	require.NoError(t, h2.Restore(snap))
	require.NoError(t, h2.ProcessWatermark(1150)) // [1000,2000) fires at 1150: its state was restored
	require.Equal(t, []stream.Record[kv]{{Value: kv{"k", 1}, Timestamp: 1999}}, h2.TakeOutput())
	require.NoError(t, h2.ProcessWatermark(5000)) // and the window's end fires nothing: not an EventTimeTrigger fire
	require.Empty(t, h2.TakeOutput())
}
