package keyed_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators/keyed"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

type bid struct {
	Auction int64
	Price   int64
}

func maxBid(acc, v bid) bid {
	if v.Price > acc.Price {
		return v
	}
	return acc
}

func byAuction(b bid) int64 { return b.Auction }

func TestReduceEmitsEachNewValue(t *testing.T) {
	h, err := streamtest.NewKeyed(keyed.NewReduce(maxBid, state.Desc[bid]{}), byAuction, streamtest.Options{})
	require.NoError(t, err)
	for i, b := range []bid{{1, 10}, {2, 5}, {1, 7}, {1, 12}, {2, 6}} {
		require.NoError(t, h.ProcessElement(b, int64(100+i)))
	}
	assert.Equal(t, []stream.Record[bid]{
		{Value: bid{1, 10}, Timestamp: 100},
		{Value: bid{2, 5}, Timestamp: 101},
		{Value: bid{1, 10}, Timestamp: 102}, // 7 does not beat 10: the old value again
		{Value: bid{1, 12}, Timestamp: 103},
		{Value: bid{2, 6}, Timestamp: 104},
	}, h.Output())
}

func TestReduceSnapshotRestore(t *testing.T) {
	sum := func(a, b int64) int64 { return a + b }
	key := func(v int64) int64 { return v % 3 }
	in := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	run := func(restoreAt int) []stream.Record[int64] {
		h, err := streamtest.NewKeyed(keyed.NewReduce(sum, state.Desc[int64]{Name: "sum"}), key, streamtest.Options{})
		require.NoError(t, err)
		var out []stream.Record[int64]
		for i, v := range in {
			if i == restoreAt {
				snap, err := h.Snapshot()
				require.NoError(t, err)
				out = append(out, h.TakeOutput()...)
				h, err = streamtest.NewKeyed(keyed.NewReduce(sum, state.Desc[int64]{Name: "sum"}), key, streamtest.Options{})
				require.NoError(t, err)
				require.NoError(t, h.Restore(snap))
			}
			require.NoError(t, h.ProcessElement(v, int64(i)))
		}
		return append(out, h.Output()...)
	}
	want := run(-1)
	assert.Equal(t, []int64{1, 2, 3, 5, 7, 9, 12, 15, 18, 22}, valuesOf(want))
	for _, at := range []int{1, 5, 9} {
		assert.Equal(t, want, run(at), "restored before record %d", at)
	}
}

func TestReduceTTLForgetsIdleKeys(t *testing.T) {
	h, err := streamtest.NewKeyed(keyed.NewReduce(func(a, b int64) int64 { return a + b },
		state.Desc[int64]{TTL: state.TTL{After: time.Second}}), func(int64) string { return "k" }, streamtest.Options{})
	require.NoError(t, err)
	require.NoError(t, h.ProcessElement(1, 0))
	require.NoError(t, h.SetProcessingTime(999))
	require.NoError(t, h.ProcessElement(2, 0)) // refreshes the entry: it now lives until 1999
	require.NoError(t, h.SetProcessingTime(1998))
	require.NoError(t, h.ProcessElement(3, 0))
	require.NoError(t, h.SetProcessingTime(2998))
	require.NoError(t, h.ProcessElement(4, 0))
	assert.Equal(t, []int64{1, 3, 6, 4}, valuesOf(h.Output()))
}

type avgAgg struct{}

func (avgAgg) CreateAccumulator() [2]int64      { return [2]int64{} }
func (avgAgg) Add(v int64, a [2]int64) [2]int64 { return [2]int64{a[0] + v, a[1] + 1} }
func (avgAgg) Result(a [2]int64) float64        { return float64(a[0]) / float64(a[1]) }
func (avgAgg) Merge(a, b [2]int64) [2]int64     { return [2]int64{a[0] + b[0], a[1] + b[1]} }

func TestAggregateEmitsEachResult(t *testing.T) {
	newH := func() *streamtest.Harness[bool, int64, float64] {
		h, err := streamtest.NewKeyed(keyed.NewAggregate[int64, [2]int64, float64](avgAgg{}, state.Desc[[2]int64]{}),
			func(v int64) bool { return v%2 == 0 }, streamtest.Options{})
		require.NoError(t, err)
		return h
	}
	h := newH()
	for _, v := range []int64{2, 1, 4, 3} {
		require.NoError(t, h.ProcessElement(v, v*10))
	}
	snap, err := h.Snapshot()
	require.NoError(t, err)
	r := newH()
	require.NoError(t, r.Restore(snap))
	require.NoError(t, r.ProcessElement(9, 90))
	require.NoError(t, r.ProcessElement(6, 60))
	assert.Equal(t, []stream.Record[float64]{{Value: 2, Timestamp: 20}, {Value: 1, Timestamp: 10},
		{Value: 3, Timestamp: 40}, {Value: 2, Timestamp: 30}}, h.Output())
	assert.Equal(t, []stream.Record[float64]{{Value: 13.0 / 3, Timestamp: 90}, {Value: 4, Timestamp: 60}}, r.Output())
}

func TestReduceAndAggregateNeedAKeyedStream(t *testing.T) {
	r := streamtest.New(keyed.NewReduce(func(a, b int) int { return a }, state.Desc[int]{}), streamtest.Options{})
	require.ErrorIs(t, r.Open(), keyed.ErrNotKeyed)
	a := streamtest.New(keyed.NewAggregate[int64, [2]int64, float64](avgAgg{}, state.Desc[[2]int64]{}), streamtest.Options{})
	require.ErrorIs(t, a.Open(), keyed.ErrNotKeyed)
	n := streamtest.New(keyed.NewReduce[int](nil, state.Desc[int]{}), streamtest.Options{})
	require.ErrorContains(t, n.Open(), "reduce function")
}

func valuesOf[T any](rs []stream.Record[T]) []T {
	out := make([]T, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}
