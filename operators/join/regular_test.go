package join_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators/join"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// toOuterPair makes a pair of an outer join; a missing side is -1.
func toOuterPair(l *lrec, r *rrec, out join.Collector[pair]) error {
	p := pair{L: -1, R: -1}
	if l != nil {
		p.K, p.L = l.K, l.V
	}
	if r != nil {
		p.K, p.R = r.K, r.V
	}
	out.Collect(p)
	return nil
}

func regularJoin(t testing.TB, k join.Kind, ttl time.Duration) func() stream.TwoInputOperator[lrec, rrec, pair] {
	return func() stream.TwoInputOperator[lrec, rrec, pair] {
		opts := join.Options[lrec, rrec]{TTL: ttl}
		var op stream.TwoInputOperator[lrec, rrec, pair]
		var err error
		if k == join.Inner {
			op, err = join.NewJoin(toPair, opts)
		} else {
			op, err = join.NewOuterJoin(k, toOuterPair, opts)
		}
		require.NoError(t, err)
		return op
	}
}

// Nexmark q3's shape: persons (left) and their auctions (right) arrive in any order.
func TestJoinEitherSideFirst(t *testing.T) {
	script{
		{R("a", 1, 5), nil},
		{L("a", 2, 3), []string{"a:2/1@5"}},
		{R("a", 3, 1), []string{"a:2/3@3"}},
		{L("b", 4, 10), nil},
		{WM(100), nil}, // time plays no part
		{L("a", 5, 7), []string{"a:5/1@7", "a:5/3@7"}},
		{R("b", 6, 2), []string{"b:4/6@10"}},
		{WM(stream.MaxWatermark), nil},
	}.checkState(t, regularJoin(t, join.Inner, 0), nil, nil, false)
}

func TestJoinStateGrowsWithoutTTL(t *testing.T) {
	h := newHarness(t, regularJoin(t, join.Inner, 0)())
	for i := range int64(50) {
		require.NoError(t, h.ProcessElement1(lrec{fmt.Sprint(i), i}, i))
		require.NoError(t, h.ProcessElement2(rrec{fmt.Sprint(i), i}, i))
	}
	require.NoError(t, h.ProcessWatermark(stream.MaxWatermark))
	require.NoError(t, h.SetProcessingTime(int64(time.Hour/time.Millisecond)))
	n, err := streamtest.StateEntries(h.Backend())
	require.NoError(t, err)
	assert.Equal(t, 100, n, "every key keeps both lists")
	assert.Len(t, h.Output(), 50)
}

func TestLeftOuterJoin(t *testing.T) {
	script{
		{L("a", 1, 1), nil},
		{L("a", 2, 2), nil},
		{R("b", 3, 3), nil}, // a right record without partner is not emitted
		{R("a", 4, 4), []string{"a:1/4@4", "a:2/4@4"}},
		{L("c", 5, 5), nil},
		{WM(1000), nil},
		{WM(stream.MaxWatermark), []string{"c:5/-1@5"}},
	}.check(t, regularJoin(t, join.LeftOuter, 0), nil, nil)
}

func TestRightOuterJoin(t *testing.T) {
	script{
		{L("a", 1, 1), nil},
		{R("b", 3, 3), nil},
		{R("a", 4, 4), []string{"a:1/4@4"}},
		{L("c", 5, 5), nil},
		{WM(stream.MaxWatermark), []string{"b:-1/3@3"}},
	}.check(t, regularJoin(t, join.RightOuter, 0), nil, nil)
}

func TestFullOuterJoinWithTTL(t *testing.T) {
	script{
		{PT(0), nil},
		{L("a", 1, 100), nil}, // lives until processing time 10
		{PT(5), nil},
		{R("a", 2, 101), []string{"a:1/2@101"}}, // until 15
		{PT(10), nil},                           // left 1 expires, having joined
		{L("a", 3, 102), []string{"a:3/2@102"}}, // until 20
		{PT(15), nil},
		{R("b", 4, 103), nil}, // until 25
		{PT(20), nil},
		{L("a", 5, 104), nil}, // until 30; right 2 is gone
		{PT(25), []string{"b:-1/4@103"}},
		{PT(29), nil},
		{R("a", 6, 105), []string{"a:5/6@105"}},
		{L("c", 7, 106), nil},
		{WM(stream.MaxWatermark), []string{"c:7/-1@106"}},
		{PT(100), nil},
	}.check(t, regularJoin(t, join.FullOuter, 10*ms), nil, nil)
}

// With a TTL, an inner join's state empties as processing time passes.
func TestJoinTTLFreesState(t *testing.T) {
	h := newHarness(t, regularJoin(t, join.Inner, time.Second)())
	for i := range int64(100) {
		require.NoError(t, h.SetProcessingTime(i*10))
		require.NoError(t, h.ProcessElement1(lrec{fmt.Sprint(i % 7), i}, i))
		require.NoError(t, h.ProcessElement2(rrec{fmt.Sprint(i % 5), i}, i))
	}
	n, err := streamtest.StateEntries(h.Backend())
	require.NoError(t, err)
	require.Equal(t, 12, n, "a list per key and side")
	assert.LessOrEqual(t, h.Backend().Timers().Len(0)+h.Backend().Timers().Len(1), 7, "at most a timer per key")
	require.NoError(t, h.SetProcessingTime(1989))
	n, err = streamtest.StateEntries(h.Backend())
	require.NoError(t, err)
	assert.Equal(t, 2, n, "records 0..98 expired; 99 (left key 1, right key 4) lives until 1990")
	require.NoError(t, h.SetProcessingTime(1990))
	requireEmpty(t, h)
}

func TestJoinErrors(t *testing.T) {
	_, err := join.NewJoin[lrec, rrec, pair](nil, join.Options[lrec, rrec]{})
	assert.ErrorContains(t, err, "no join function")
	_, err = join.NewOuterJoin(join.Kind(9), toOuterPair, join.Options[lrec, rrec]{TTL: -time.Second})
	assert.ErrorContains(t, err, "Kind(9)")
	assert.ErrorContains(t, err, "negative TTL")

	boom := fmt.Errorf("boom")
	op, err := join.NewJoin(func(lrec, rrec, join.Collector[pair]) error { return boom }, join.Options[lrec, rrec]{})
	require.NoError(t, err)
	h := newHarness(t, op)
	require.NoError(t, h.ProcessElement1(lrec{"a", 1}, 1))
	require.ErrorIs(t, h.ProcessElement2(rrec{"a", 2}, 2), boom)
}

// regularModel is the naive regular join: every record joins every earlier record of
// the other input with its key that has not expired (arrived less than ttl ago; ttl 0:
// never expires); at the end, records of an outer side that never joined come alone.
func regularModel(k join.Kind, ttl int64, steps []step) result {
	type rec struct {
		step
		arrived int64
		matched bool
	}
	var res result
	var seen []*rec
	var pt int64
	for _, st := range steps {
		switch st.kind {
		case 'p':
			pt = st.ts
			continue
		case 'l', 'r':
		default:
			continue
		}
		x := &rec{step: st, arrived: pt}
		for _, o := range seen {
			if o.kind == st.kind || o.k != st.k || (ttl > 0 && o.arrived+ttl <= pt) {
				continue
			}
			l, r := x, o
			if st.kind == 'r' {
				l, r = o, x
			}
			res.emit(pair{st.k, l.v, r.v}, max(l.ts, r.ts))
			x.matched, o.matched = true, true
		}
		seen = append(seen, x)
	}
	for _, o := range seen {
		switch {
		case o.matched:
		case o.kind == 'l' && (k == join.LeftOuter || k == join.FullOuter):
			res.emit(pair{o.k, o.v, -1}, o.ts)
		case o.kind == 'r' && (k == join.RightOuter || k == join.FullOuter):
			res.emit(pair{o.k, -1, o.v}, o.ts)
		}
	}
	res.sort()
	return res
}

func TestJoinMatchesNestedLoopModel(t *testing.T) {
	for _, k := range []join.Kind{join.Inner, join.LeftOuter, join.RightOuter, join.FullOuter} {
		for _, ttl := range []int64{0, 200} {
			t.Run(fmt.Sprintf("%v ttl %d", k, ttl), func(t *testing.T) {
				seeded(t, func(t *testing.T, rng *rand.Rand) {
					iters, ptEvery := 100, 0
					if ttl > 0 {
						iters, ptEvery = 15, 1 // each processing-time step costs a real millisecond
					}
					var results int
					for iter := range iters {
						steps := randomSteps(rng, 200, ptEvery)
						want := regularModel(k, ttl, steps)
						restoreAt := rng.IntN(len(steps))
						got, h := run(t, regularJoin(t, k, time.Duration(ttl)*ms), steps, restoreAt)
						require.Equal(t, want, got, "iteration %d, restored before step %d, steps %v", iter, restoreAt, steps)
						if k != join.Inner {
							// The end of the input emptied it (processing timers may remain).
							n, err := streamtest.StateEntries(h.Backend())
							require.NoError(t, err)
							require.Zero(t, n)
						}
						results += len(want.out)
					}
					t.Logf("%d results", results)
					require.Positive(t, results)
				})
			})
		}
	}
}
