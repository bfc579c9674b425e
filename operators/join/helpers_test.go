package join_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// Records of the two inputs: a key and a value that identifies the record in results.
type lrec struct {
	K string
	V int64
}

type rrec struct {
	K string
	V int64
}

// pair is a join result; an outer join's missing side is -1.
type pair struct {
	K    string
	L, R int64
}

func (p pair) String() string { return fmt.Sprintf("%s:%d/%d", p.K, p.L, p.R) }

var (
	lateL = stream.NewOutputTag[lrec]("late-left")
	lateR = stream.NewOutputTag[rrec]("late-right")
)

// step is one input of a scripted run: a record of either input, a watermark of either
// or both inputs, or a processing time.
type step struct {
	kind byte // 'l', 'r': records; '1', '2', 'w': watermarks; 'p': processing time
	k    string
	v    int64
	ts   int64
}

func (s step) String() string {
	switch s.kind {
	case 'l', 'r':
		return fmt.Sprintf("%c(%s,%d)@%d", s.kind, s.k, s.v, s.ts)
	case 'p':
		return fmt.Sprintf("pt %d", s.ts)
	}
	return fmt.Sprintf("wm%c %d", s.kind, s.ts)
}

func L(k string, v, ts int64) step { return step{'l', k, v, ts} }
func R(k string, v, ts int64) step { return step{'r', k, v, ts} }
func WM(ts int64) step             { return step{'w', "", 0, ts} }
func WM1(ts int64) step            { return step{'1', "", 0, ts} }
func WM2(ts int64) step            { return step{'2', "", 0, ts} }
func PT(ms int64) step             { return step{'p', "", 0, ms} }

// result is what a run produced, each part in a canonical order.
type result struct {
	out          []string // "value@ts", sorted
	lateL, lateR []string
}

type harness = streamtest.Harness2[string, lrec, rrec, pair]

func newHarness(t testing.TB, op stream.TwoInputOperator[lrec, rrec, pair]) *harness {
	h, err := streamtest.NewKeyed2[string](op, func(r lrec) string { return r.K }, func(r rrec) string { return r.K }, streamtest.Options{})
	require.NoError(t, err)
	streamtest.CollectSide2(h, lateL)
	streamtest.CollectSide2(h, lateR)
	return h
}

// run feeds steps to a new operator. At step restoreAt (if in range) it snapshots,
// replaces the harness by a new one restored from the snapshot, and gives it the
// watermarks and processing time the old one had (as sources and the clock would after
// a restart). It returns the result and the last harness.
func run(t testing.TB, newOp func() stream.TwoInputOperator[lrec, rrec, pair], steps []step, restoreAt int) (result, *harness) {
	h := newHarness(t, newOp())
	var res result
	wm := [2]int64{stream.MinWatermark, stream.MinWatermark}
	var pt int64
	collect := func() {
		for _, r := range h.TakeOutput() {
			res.out = append(res.out, fmt.Sprintf("%v@%d", r.Value, r.Timestamp))
		}
		for _, x := range h.Side(lateL.ID) {
			r := x.(stream.Record[lrec])
			res.lateL = append(res.lateL, fmt.Sprintf("%v@%d", r.Value, r.Timestamp))
		}
		for _, x := range h.Side(lateR.ID) {
			r := x.(stream.Record[rrec])
			res.lateR = append(res.lateR, fmt.Sprintf("%v@%d", r.Value, r.Timestamp))
		}
	}
	for i, s := range steps {
		if i == restoreAt {
			snap, err := h.Snapshot()
			require.NoError(t, err)
			collect()
			h = newHarness(t, newOp())
			require.NoError(t, h.Restore(snap))
			require.NoError(t, h.SetProcessingTime(pt))
			require.NoError(t, h.ProcessWatermark1(wm[0]))
			require.NoError(t, h.ProcessWatermark2(wm[1]))
		}
		var err error
		switch s.kind {
		case 'l':
			err = h.ProcessElement1(lrec{s.k, s.v}, s.ts)
		case 'r':
			err = h.ProcessElement2(rrec{s.k, s.v}, s.ts)
		case '1':
			wm[0] = max(wm[0], s.ts)
			err = h.ProcessWatermark1(s.ts)
		case '2':
			wm[1] = max(wm[1], s.ts)
			err = h.ProcessWatermark2(s.ts)
		case 'w':
			wm[0], wm[1] = max(wm[0], s.ts), max(wm[1], s.ts)
			err = h.ProcessWatermark(s.ts)
		case 'p':
			pt = s.ts
			err = h.SetProcessingTime(s.ts)
		}
		require.NoError(t, err, "step %d: %v", i, s)
	}
	collect()
	res.sort()
	return res, h
}

func (r *result) sort() {
	slices.Sort(r.out)
	slices.Sort(r.lateL)
	slices.Sort(r.lateR)
}

// emit and late build a model's result.
func (r *result) emit(p pair, ts int64) { r.out = append(r.out, fmt.Sprintf("%v@%d", p, ts)) }
func (r *result) late(s step) {
	if s.kind == 'l' {
		r.lateL = append(r.lateL, fmt.Sprintf("%v@%d", lrec{s.k, s.v}, s.ts))
	} else {
		r.lateR = append(r.lateR, fmt.Sprintf("%v@%d", rrec{s.k, s.v}, s.ts))
	}
}

// requireEmpty checks that the operator holds no state and no timers any more.
func requireEmpty(t testing.TB, h *harness) {
	t.Helper()
	n, err := streamtest.StateEntries(h.Backend())
	require.NoError(t, err)
	require.Zero(t, n, "state entries left")
	require.Zero(t, h.Backend().Timers().Len(state.EventTime), "event-time timers left")
	require.Zero(t, h.Backend().Timers().Len(state.ProcessingTime), "processing-time timers left")
}

// randomSteps makes n steps over keys a, b, c with out-of-order timestamps, watermarks on
// either input that sometimes overtake records (so some are late), processing time
// moving on (with probability ptEvery in 20: the mock clock sleeps a real millisecond
// each time), and a final watermark of +inf on both inputs.
func randomSteps(rng *rand.Rand, n, ptEvery int) []step {
	var steps []step
	var now, wm, pt int64
	keys := []string{"a", "b", "c"}
	for i := range n {
		switch x := rng.IntN(20); {
		case x < ptEvery:
			pt += rng.Int64N(15 * 20 / int64(ptEvery))
			steps = append(steps, PT(pt))
		case x < 14+ptEvery/2:
			ts := now - rng.Int64N(20) + rng.Int64N(3) // out of order by up to 20 ms
			now += rng.Int64N(3)
			kind := byte('l')
			if rng.IntN(2) == 0 {
				kind = 'r'
			}
			steps = append(steps, step{kind, keys[rng.IntN(len(keys))], int64(i), ts})
		default:
			wm = max(wm, now-10-rng.Int64N(25))
			steps = append(steps, step{[]byte{'1', '2', 'w'}[rng.IntN(3)], "", 0, wm})
		}
	}
	return append(steps, WM(stream.MaxWatermark))
}

// watermarks tracks the operator's watermark (the minimum of both inputs') in a model.
type watermarks struct{ in [2]int64 }

func newWatermarks() *watermarks {
	return &watermarks{[2]int64{stream.MinWatermark, stream.MinWatermark}}
}

// apply moves the inputs' watermarks for s and returns the operator's watermark.
func (w *watermarks) apply(s step) int64 {
	switch s.kind {
	case '1':
		w.in[0] = max(w.in[0], s.ts)
	case '2':
		w.in[1] = max(w.in[1], s.ts)
	case 'w':
		w.in[0], w.in[1] = max(w.in[0], s.ts), max(w.in[1], s.ts)
	}
	return min(w.in[0], w.in[1])
}

// seeded runs fn with a fresh seed (or RIFFLE_SEED) and reports it on failure.
func seeded(t *testing.T, fn func(t *testing.T, rng *rand.Rand)) {
	seed := rand.Uint64()
	if s, ok := lookupSeed(); ok {
		seed = s
	}
	t.Logf("seed %d (rerun with RIFFLE_SEED=%d)", seed, seed)
	fn(t, rand.New(rand.NewPCG(seed, seed)))
}

func lookupSeed() (uint64, bool) {
	s := os.Getenv("RIFFLE_SEED")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}
