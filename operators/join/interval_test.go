package join_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators/join"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

func intervalJoin(t testing.TB, b join.Bounds) func() stream.TwoInputOperator[lrec, rrec, pair] {
	return func() stream.TwoInputOperator[lrec, rrec, pair] {
		op, err := join.NewIntervalJoin(b, toPair, join.Options[lrec, rrec]{LateLeft: lateL, LateRight: lateR})
		require.NoError(t, err)
		return op
	}
}

func TestIntervalJoin(t *testing.T) {
	// b.ts in [a.ts-2, a.ts+3]: a left record is kept until the watermark reaches
	// a.ts+3, a right one until b.ts+2.
	script{
		{L("a", 1, 10), nil},
		{R("a", 2, 8), []string{"a:1/2@10"}},
		{R("a", 3, 13), []string{"a:1/3@13"}},
		{R("a", 4, 14), nil},
		{L("a", 5, 12), []string{"a:5/3@13", "a:5/4@14"}},
		{L("b", 6, 11), nil},
		{WM(12), nil},        // drops right 2 (8+2 <= 12)
		{R("a", 7, 12), nil}, // late: 12 <= watermark
		{R("a", 8, 13), []string{"a:1/8@13", "a:5/8@13"}},
		{WM(13), nil}, // drops left 1 (10+3)
		{L("a", 9, 14), []string{"a:9/3@14", "a:9/4@14", "a:9/8@14"}},
		{WM(stream.MaxWatermark), nil},
	}.check(t, intervalJoin(t, join.Between(-2*ms, 3*ms)), nil, []string{"{a 7}@12"})
}

func TestIntervalJoinExclusiveBounds(t *testing.T) {
	script{
		{L("a", 1, 10), nil},
		{R("a", 2, 10), nil},
		{R("a", 3, 11), []string{"a:1/3@11"}},
		{R("a", 4, 12), nil},
		{L("a", 5, 9), []string{"a:5/2@10"}},
		{WM(stream.MaxWatermark), nil},
	}.check(t, intervalJoin(t, join.Between(0, 2*ms).ExcludeLower().ExcludeUpper()), nil, nil)
}

// The state of a key is gone once the watermark passes its records plus the bounds,
// long before the end of the input.
func TestIntervalJoinFreesStateWithTheWatermark(t *testing.T) {
	h := newHarness(t, intervalJoin(t, join.Between(-5*ms, 20*ms))())
	for i := range int64(100) {
		require.NoError(t, h.ProcessElement1(lrec{string(rune('a' + i%7)), i}, i))
		require.NoError(t, h.ProcessElement2(rrec{string(rune('a' + i%5)), i}, i))
	}
	// Count the stored records through the operator's own map states (their names are
	// the operator's business, but this test wants to see inside).
	left, err := state.NewMap(h.Backend(), state.MapDesc[int64, []lrec]{Name: "left"})
	require.NoError(t, err)
	right, err := state.NewMap(h.Backend(), state.MapDesc[int64, []rrec]{Name: "right"})
	require.NoError(t, err)
	stored := func() (n int) {
		for k := range 7 {
			key := []byte{byte('a' + k)}
			h.Backend().SetCurrentKey(key, state.KeyGroup(key, state.DefaultMaxParallelism))
			require.NoError(t, left.Range(func(_ int64, v []lrec) bool { n += len(v); return true }))
			require.NoError(t, right.Range(func(_ int64, v []rrec) bool { n += len(v); return true }))
		}
		return n
	}
	require.Equal(t, 200, stored())
	require.NoError(t, h.ProcessWatermark(49))
	assert.Equal(t, 100-30+100-45, stored(), "left records up to 29 (29+20 <= 49), right up to 44 (44+5) are gone")
	assert.Equal(t, 100-30+100-45, h.Backend().Timers().Len(state.EventTime), "a timer per timestamp and side")
	require.NoError(t, h.ProcessWatermark(119))
	requireEmpty(t, h)
}

func TestIntervalJoinErrors(t *testing.T) {
	for _, b := range []join.Bounds{join.Between(3*ms, 2*ms), join.Between(0, 0).ExcludeLower(),
		join.Between(time.Microsecond, ms)} {
		_, err := join.NewIntervalJoin(b, toPair, join.Options[lrec, rrec]{})
		assert.Error(t, err, "%+v", b)
	}
	_, err := join.NewIntervalJoin[lrec, rrec, pair](join.Between(0, 0), nil, join.Options[lrec, rrec]{})
	assert.ErrorContains(t, err, "no join function")

	h := newHarness(t, intervalJoin(t, join.Between(0, 0))())
	assert.ErrorIs(t, h.ProcessElement2(rrec{"a", 1}, stream.NoTimestamp), join.ErrNoTimestamp)
	assert.ErrorIs(t, newHarness(t, intervalJoin(t, join.Between(0, 0))()).ProcessElement1(lrec{"a", 1}, stream.NoTimestamp), join.ErrNoTimestamp)
}

// intervalModel is the naive interval join: every record that is not late joins every
// earlier record of the other input it is in bounds with; nothing is ever forgotten.
func intervalModel(lower, upper int64, steps []step) result {
	var res result
	var seen []step
	wms := newWatermarks()
	wm := stream.MinWatermark
	for _, st := range steps {
		if st.kind != 'l' && st.kind != 'r' {
			wm = wms.apply(st)
			continue
		}
		if st.ts <= wm {
			res.late(st)
			continue
		}
		for _, o := range seen {
			if o.kind == st.kind || o.k != st.k {
				continue
			}
			l, r := st, o
			if st.kind == 'r' {
				l, r = o, st
			}
			if l.ts+lower <= r.ts && r.ts <= l.ts+upper {
				res.emit(pair{st.k, l.v, r.v}, max(l.ts, r.ts))
			}
		}
		seen = append(seen, st)
	}
	res.sort()
	return res
}

func TestIntervalJoinMatchesNestedLoopModel(t *testing.T) {
	cases := []struct {
		name         string
		b            join.Bounds
		lower, upper int64
	}{
		{"around", join.Between(-3*ms, 5*ms), -3, 5},
		{"same time", join.Between(0, 0), 0, 0},
		{"before", join.Between(-8*ms, -2*ms), -8, -2},
		{"after", join.Between(1*ms, 9*ms), 1, 9},
		{"exclusive lower", join.Between(-4*ms, 4*ms).ExcludeLower(), -3, 4},
		{"exclusive upper", join.Between(-4*ms, 4*ms).ExcludeUpper(), -4, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seeded(t, func(t *testing.T, rng *rand.Rand) {
				var results, late int
				for iter := range 100 {
					steps := randomSteps(rng, 200, 0)
					want := intervalModel(c.lower, c.upper, steps)
					restoreAt := rng.IntN(len(steps))
					got, h := run(t, intervalJoin(t, c.b), steps, restoreAt)
					require.Equal(t, want, got, "iteration %d, restored before step %d, steps %v", iter, restoreAt, steps)
					requireEmpty(t, h)
					results, late = results+len(want.out), late+len(want.lateL)+len(want.lateR)
				}
				t.Logf("%d results, %d late records", results, late)
				require.Positive(t, results)
				require.Positive(t, late)
			})
		})
	}
}
