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
)

const ms = time.Millisecond

var toPair = join.Map(func(l lrec, r rrec) pair { return pair{l.K, l.V, r.V} })

func windowJoin(t testing.TB, w join.Windows) func() stream.TwoInputOperator[lrec, rrec, pair] {
	return func() stream.TwoInputOperator[lrec, rrec, pair] {
		op, err := join.NewWindowJoin(w, toPair, join.Options[lrec, rrec]{LateLeft: lateL, LateRight: lateR})
		require.NoError(t, err)
		return op
	}
}

// script is a hand-checked scenario: after each step, the results it must emit.
type script []struct {
	step step
	want []string // sorted "K:L/R@ts"
}

func (sc script) steps() []step {
	out := make([]step, len(sc))
	for i, s := range sc {
		out[i] = s.step
	}
	return out
}

// check runs the script step by step, then checks that a run restored from a snapshot
// taken before any step gives the same results, and that no state is left.
func (sc script) check(t *testing.T, newOp func() stream.TwoInputOperator[lrec, rrec, pair], lateL, lateR []string) {
	sc.checkState(t, newOp, lateL, lateR, true)
}

// checkState is check, where empty says whether the operator must have no state left.
func (sc script) checkState(t *testing.T, newOp func() stream.TwoInputOperator[lrec, rrec, pair], lateL, lateR []string, empty bool) {
	var all []string
	for i := range sc {
		// Running the prefix up to i anew is quadratic, but scripts are short and each
		// step's output is then checked on its own.
		before, _ := run(t, newOp, sc.steps()[:i], -1)
		upTo, _ := run(t, newOp, sc.steps()[:i+1], -1)
		got := diff(upTo.out, before.out)
		assert.Equal(t, sc[i].want, got, "step %d: %v", i, sc[i].step)
		all = append(all, sc[i].want...)
	}
	want, h := run(t, newOp, sc.steps(), -1)
	assert.ElementsMatch(t, all, want.out)
	assert.Equal(t, lateL, want.lateL, "late left records")
	assert.Equal(t, lateR, want.lateR, "late right records")
	if empty {
		requireEmpty(t, h)
	}
	for at := 0; at < len(sc); at++ {
		got, h := run(t, newOp, sc.steps(), at)
		require.Equal(t, want, got, "restored before step %d", at)
		if empty {
			requireEmpty(t, h)
		}
	}
}

// diff returns the elements of a (sorted) beyond those of b (sorted, a subset).
func diff(a, b []string) []string {
	var out []string
	j := 0
	for _, x := range a {
		if j < len(b) && b[j] == x {
			j++
			continue
		}
		out = append(out, x)
	}
	return out
}

func TestWindowJoinTumbling(t *testing.T) {
	script{
		{L("a", 1, 1), nil},
		{L("a", 2, 5), nil},
		{L("b", 3, 7), nil},
		{R("a", 10, 3), nil},
		{R("b", 20, 12), nil},
		{R("a", 30, 9), nil},
		{WM(8), nil},
		{WM(9), []string{"a:1/10@9", "a:1/30@9", "a:2/10@9", "a:2/30@9"}}, // b has no right record in [0,10)
		{L("b", 4, 15), nil},
		{L("a", 5, 8), nil}, // late: [0,10) fired
		{WM1(19), nil},      // input 2 holds the watermark at 9
		{WM2(25), []string{"b:4/20@19"}},
		{WM(stream.MaxWatermark), nil},
	}.check(t, windowJoin(t, join.Tumbling(10*ms)), []string{"{a 5}@8"}, nil)
}

func TestWindowJoinTumblingWithOffset(t *testing.T) {
	script{
		{L("a", 1, 2), nil}, // [-7,3)
		{R("a", 2, 3), nil}, // [3,13)
		{L("a", 3, 12), nil},
		{WM(2), nil},
		{WM(12), []string{"a:3/2@12"}},
	}.check(t, windowJoin(t, join.Tumbling(10*ms).WithOffset(3*ms)), nil, nil)
}

func TestWindowJoinSliding(t *testing.T) {
	script{
		{L("a", 1, 2), nil},  // [-5,5) [0,10)
		{R("a", 10, 7), nil}, // [0,10) [5,15)
		{R("a", 11, 12), nil},
		{L("a", 2, 13), nil},
		{WM(4), nil}, // [-5,5) has no right record
		{WM(9), []string{"a:1/10@9"}},
		{WM(14), []string{"a:2/10@14", "a:2/11@14"}},
		{L("a", 3, 9), nil},  // late: [0,10) and [5,15) fired
		{L("a", 4, 10), nil}, // [5,15) fired, [10,20) did not
		{WM(19), []string{"a:2/11@19", "a:4/11@19"}},
		{WM(stream.MaxWatermark), nil},
	}.check(t, windowJoin(t, join.Sliding(10*ms, 5*ms)), []string{"{a 3}@9"}, nil)
}

func TestWindowJoinSlidingWithGaps(t *testing.T) {
	script{
		{L("a", 1, 7), nil}, // in no window: [0,5), [10,15), ...
		{R("a", 2, 8), nil},
		{L("a", 3, 2), nil},
		{R("a", 4, 3), nil},
		{WM(100), []string{"a:3/4@4"}},
		{L("a", 5, 57), nil}, // in no window, and behind the watermark: late
		{R("a", 6, 101), nil},
		{WM(stream.MaxWatermark), nil},
	}.check(t, windowJoin(t, join.Sliding(5*ms, 10*ms)), []string{"{a 5}@57"}, nil)
}

// A co-group sees each key's window whole, with its bounds: Nexmark q8's persons who
// opened an auction in the window they registered in, once per person and window.
func TestWindowCoGroup(t *testing.T) {
	counts := func(w join.Windows) func() stream.TwoInputOperator[lrec, rrec, pair] {
		return func() stream.TwoInputOperator[lrec, rrec, pair] {
			op, err := join.NewWindowCoGroup(w, func(win join.Window, left []lrec, right []rrec, out join.Collector[pair]) error {
				k := ""
				if len(left) > 0 {
					k = left[0].K
				} else {
					k = right[0].K
				}
				out.Collect(pair{fmt.Sprintf("%s[%d,%d)", k, win.Start, win.End), int64(len(left)), int64(len(right))})
				return nil
			}, join.Options[lrec, rrec]{})
			require.NoError(t, err)
			return op
		}
	}
	script{
		{L("a", 1, 1), nil},
		{R("a", 2, 3), nil},
		{R("a", 3, 4), nil},
		{L("b", 4, 5), nil},
		{R("c", 5, 12), nil},
		{WM(9), []string{"a[0,10):1/2@9", "b[0,10):1/0@9"}},
		{WM(19), []string{"c[10,20):0/1@19"}},
	}.check(t, counts(join.Tumbling(10*ms)), nil, nil)
	script{
		{L("a", 1, 0), nil},
		{R("a", 2, 3), nil},
		{WM(100), []string{"a[0,8):1/1@7"}},
	}.check(t, counts(join.Session(5*ms)), nil, nil)
}

func TestWindowJoinSessions(t *testing.T) {
	script{
		{L("a", 1, 0), nil},
		{R("a", 2, 5), nil}, // a: [0,15)
		{L("b", 3, 0), nil},
		{R("b", 4, 20), nil}, // b: [0,10) and [20,30)
		{L("a", 5, 30), nil}, // a: [0,15) and [30,40)
		{R("a", 6, 15), nil}, // touches [0,15): [0,25)
		{R("a", 7, 22), nil}, // bridges [0,25) and [30,40): [0,40)
		{WM(29), nil},        // both b sessions fire with one side only
		{L("b", 8, 19), nil}, // late: [19,29) is over and merges with nothing open
		{WM(38), nil},
		{WM(39), []string{"a:1/2@39", "a:1/6@39", "a:1/7@39", "a:5/2@39", "a:5/6@39", "a:5/7@39"}},
		{L("a", 9, 40), nil}, // a new session
		{R("a", 10, 45), nil},
		{WM(stream.MaxWatermark), []string{"a:9/10@54"}},
	}.check(t, windowJoin(t, join.Session(10*ms)), []string{"{b 8}@19"}, nil)
}

func TestWindowJoinErrors(t *testing.T) {
	for _, w := range []join.Windows{{}, join.Tumbling(0), join.Sliding(10*ms, -1), join.Session(0),
		join.Tumbling(10 * ms).WithOffset(10 * ms), join.Tumbling(1500 * time.Microsecond)} {
		_, err := join.NewWindowJoin(w, toPair, join.Options[lrec, rrec]{})
		assert.Error(t, err, "%v", w)
	}
	_, err := join.NewWindowJoin[lrec, rrec, pair](join.Session(0), nil, join.Options[lrec, rrec]{})
	assert.ErrorContains(t, err, "gap")
	assert.ErrorContains(t, err, "no join function", "every problem at once")

	h := newHarness(t, windowJoin(t, join.Tumbling(10*ms))())
	assert.ErrorIs(t, h.ProcessElement1(lrec{"a", 1}, stream.NoTimestamp), join.ErrNoTimestamp)
}

// windowModel is the naive window join: every window of every record in its own list,
// no panes, no state windows, no timers.
func windowModel(w join.Windows, size, slide, offset, gap int64, steps []step) result {
	type window struct {
		k      string
		s, e   int64
		ls, rs []int64
	}
	var open []*window
	var res result
	wms := newWatermarks()
	wm := stream.MinWatermark
	for _, st := range steps {
		switch st.kind {
		case 'l', 'r':
			add := func(w *window) {
				if st.kind == 'l' {
					w.ls = append(w.ls, st.v)
				} else {
					w.rs = append(w.rs, st.v)
				}
			}
			if gap > 0 {
				merged := &window{k: st.k, s: st.ts, e: st.ts + gap}
				absorbed := false
				for again := true; again; {
					again = false
					for i, o := range open {
						if o.k == st.k && merged.s <= o.e && merged.e >= o.s {
							merged.s, merged.e = min(merged.s, o.s), max(merged.e, o.e)
							merged.ls, merged.rs = append(merged.ls, o.ls...), append(merged.rs, o.rs...)
							open = append(open[:i], open[i+1:]...)
							absorbed, again = true, true
							break
						}
					}
				}
				if !absorbed && merged.e-1 <= wm {
					res.late(st)
					continue
				}
				add(merged)
				open = append(open, merged)
				continue
			}
			live := 0
			for s := start(st.ts, offset, slide); s > st.ts-size; s -= slide {
				if s+size-1 <= wm {
					continue
				}
				live++
				var found *window
				for _, o := range open {
					if o.k == st.k && o.s == s {
						found = o
					}
				}
				if found == nil {
					found = &window{k: st.k, s: s, e: s + size}
					open = append(open, found)
				}
				add(found)
			}
			if live == 0 && st.ts <= wm {
				res.late(st)
			}
		default:
			wm = wms.apply(st)
			kept := open[:0]
			for _, o := range open {
				if o.e-1 > wm {
					kept = append(kept, o)
					continue
				}
				for _, l := range o.ls {
					for _, r := range o.rs {
						res.emit(pair{o.k, l, r}, o.e-1)
					}
				}
			}
			open = kept
		}
	}
	res.sort()
	return res
}

func start(ts, offset, w int64) int64 {
	r := (ts - offset) % w
	if r < 0 {
		r += w
	}
	return ts - r
}

func TestWindowJoinMatchesNestedLoopModel(t *testing.T) {
	cases := []struct {
		name                     string
		w                        join.Windows
		size, slide, offset, gap int64
	}{
		{"tumbling", join.Tumbling(10 * ms), 10, 10, 0, 0},
		{"tumbling offset", join.Tumbling(10 * ms).WithOffset(-4 * ms), 10, 10, -4, 0},
		{"sliding", join.Sliding(10*ms, 5*ms), 10, 5, 0, 0},
		{"sliding uneven", join.Sliding(10*ms, 4*ms).WithOffset(1 * ms), 10, 4, 1, 0},
		{"sliding with gaps", join.Sliding(4*ms, 10*ms), 4, 10, 0, 0},
		{"session", join.Session(6 * ms), 0, 0, 0, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seeded(t, func(t *testing.T, rng *rand.Rand) {
				var results, late int
				for iter := range 100 {
					steps := randomSteps(rng, 200, 0)
					want := windowModel(c.w, c.size, c.slide, c.offset, c.gap, steps)
					restoreAt := rng.IntN(len(steps))
					got, h := run(t, windowJoin(t, c.w), steps, restoreAt)
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
