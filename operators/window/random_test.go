package window_test

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators/window"
)

var (
	seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: from the clock)")
	iters    = flag.Int("iters", 100, "jobs per randomized test")
)

func testSeed(t *testing.T) uint64 {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	return seed
}

// model is a naive model of Flink's window operator with the default event-time trigger
// and a sum: windows are a map, every window holds its own sum, and a window has a timer
// at its end (pending until it fires).
type model struct {
	kind                     string
	size, slide, offset, gap int64
	lateness                 int64
	lateOut                  bool
	wm                       int64
	wins                     map[string]map[window.TimeWindow]*mwin
	out                      []string
}

type mwin struct {
	sum   int64
	timer bool
}

func (m *model) cleanup(w window.TimeWindow) int64 {
	c := w.End - 1 + m.lateness
	if c < w.End-1 {
		return math.MaxInt64
	}
	return c
}

func (m *model) emit(k string, w window.TimeWindow, sum int64) {
	if m.kind == "session" {
		m.out = append(m.out, fmt.Sprintf("expect (%q,%d,%d)@%d", k+"-"+strconv.FormatInt(sum, 10), w.Start, w.End, w.End-1))
	} else {
		m.out = append(m.out, fmt.Sprintf("expect (%s,%d)@%d", k, sum, w.End-1))
	}
}

func (m *model) late(k string, v, ts int64) {
	if m.lateOut {
		m.out = append(m.out, fmt.Sprintf("expect-late (%s,%d)@%d", k, v, ts))
	}
}

// windowsOf is every window of ts, latest first.
func (m *model) windowsOf(ts int64) []window.TimeWindow {
	var ws []window.TimeWindow
	for start := ts - ((ts-m.offset)%m.slide+m.slide)%m.slide; start+m.size > ts; start -= m.slide {
		ws = append(ws, window.TimeWindow{Start: start, End: start + m.size})
	}
	return ws
}

func (m *model) ingest(k string, v, ts int64) {
	if m.wins[k] == nil {
		m.wins[k] = map[window.TimeWindow]*mwin{}
	}
	kw := m.wins[k]
	if m.kind == "session" {
		res := window.TimeWindow{Start: ts, End: ts + m.gap}
		var merged []window.TimeWindow
		for again := true; again; {
			again = false
			for w := range kw {
				if w.Intersects(res) && !containsTW(merged, w) {
					merged = append(merged, w)
					res = res.Cover(w)
					again = true
				}
			}
		}
		if m.cleanup(res) <= m.wm {
			if len(merged) > 0 {
				panic("a merge made a window late")
			}
			m.late(k, v, ts)
			return
		}
		sum := v
		for _, w := range merged {
			sum += kw[w].sum
			delete(kw, w)
		}
		kw[res] = &mwin{sum: sum, timer: res.End-1 > m.wm}
		if res.End-1 <= m.wm {
			m.emit(k, res, sum)
		}
		return
	}
	skipped := true
	for _, w := range m.windowsOf(ts) {
		if m.cleanup(w) <= m.wm {
			continue
		}
		skipped = false
		mw := kw[w]
		if mw == nil {
			mw = &mwin{}
			kw[w] = mw
		}
		mw.sum += v
		if w.End-1 > m.wm {
			mw.timer = true
		} else {
			m.emit(k, w, mw.sum)
		}
	}
	if skipped && ts+m.lateness <= m.wm {
		m.late(k, v, ts)
	}
}

func containsTW(ws []window.TimeWindow, w window.TimeWindow) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

func (m *model) watermark(wm int64) {
	if wm <= m.wm {
		return
	}
	m.wm = wm
	type fire struct {
		k string
		w window.TimeWindow
	}
	var fires []fire
	for k, kw := range m.wins {
		for w, mw := range kw {
			if mw.timer && w.End-1 <= wm {
				fires = append(fires, fire{k, w})
				mw.timer = false
			}
		}
	}
	sort.Slice(fires, func(i, j int) bool {
		if fires[i].w.End != fires[j].w.End {
			return fires[i].w.End < fires[j].w.End
		}
		return fires[i].k < fires[j].k
	})
	for _, f := range fires {
		m.emit(f.k, f.w, m.wins[f.k][f.w].sum)
	}
	for _, kw := range m.wins {
		for w := range kw {
			if m.cleanup(w) <= wm {
				delete(kw, w)
			}
		}
	}
}

func (m *model) take() []string {
	out := m.out
	m.out = nil
	return out
}

func randomSpec(rng *rand.Rand, kind string) (*spec, *model) {
	s := &spec{assigner: kind, args: map[string]string{}, function: "sum"}
	m := &model{kind: kind, wins: map[string]map[window.TimeWindow]*mwin{}, wm: math.MinInt64}
	msd := func(n int64) string { return strconv.FormatInt(n, 10) + "ms" }
	switch kind {
	case "tumbling":
		m.size = 500 * (1 + rng.Int64N(8))
		m.slide = m.size
		m.offset = rng.Int64N(m.size) - m.size/2
		s.args["size"], s.args["offset"] = msd(m.size), msd(m.offset)
	case "sliding":
		m.slide = 250 * (1 + rng.Int64N(6))
		m.size = m.slide + 250*rng.Int64N(16)
		m.offset = rng.Int64N(m.slide)
		s.args["size"], s.args["slide"], s.args["offset"] = msd(m.size), msd(m.slide), msd(m.offset)
	case "session":
		m.gap = 250 * (1 + rng.Int64N(12))
		s.args["gap"] = msd(m.gap)
		s.function = "window-sum"
	}
	if rng.IntN(2) == 0 {
		m.lateness = 250 * rng.Int64N(12)
		s.lateness = time.Duration(m.lateness) * time.Millisecond
	}
	m.lateOut = rng.IntN(3) != 0
	s.late = m.lateOut
	return s, m
}

// TestRandomizedAgainstModel runs random jobs of tumbling, sliding and session sums on
// the operator (a random implementation of the function, panes or not) and on the model,
// and compares every output, including late records. Restores happen at random points;
// the watermark is handed to the restored operator again at once, as a runtime that
// restores it would (TestRandomizedPanesMatchPerWindow covers restores without that).
func TestRandomizedAgainstModel(t *testing.T) {
	seed := testSeed(t)
	for i := 0; i < *iters; i++ {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		kind := []string{"tumbling", "sliding", "session"}[i%3]
		s, m := randomSpec(rng, kind)
		impls := implsOf[s.function]
		v := variant{impl: impls[rng.IntN(len(impls))], noSlicing: rng.IntN(4) == 0}
		desc := fmt.Sprintf("seed %d job %d: %s %v lateness %v late-output %v, %v", seed, i, kind, s.args, s.lateness, s.late, v)
		r, err := newRunner(s, v)
		require.NoError(t, err, desc)
		keys := []string{"a", "b", "c", "d", "e"}[:1+rng.IntN(5)]
		var wm int64
		sent := false // a watermark was sent
		step := func(what string, got []string) {
			require.Equal(t, m.take(), got, "%s: after %s", desc, what)
		}
		for n := 0; n < 300; n++ {
			switch p := rng.IntN(100); {
			case p < 70:
				k, val := keys[rng.IntN(len(keys))], 1+rng.Int64N(9)
				ts := wm - 3000 + rng.Int64N(7000)
				require.NoError(t, r.ingest(kv{k, val}, ts), desc)
				m.ingest(k, val, ts)
				step(fmt.Sprintf("ingest %s %d@%d", k, val, ts), r.take())
			case p < 95:
				wm += rng.Int64N(1500)
				sent = true
				require.NoError(t, r.watermark(wm), desc)
				m.watermark(wm)
				step(fmt.Sprintf("watermark %d", wm), r.take())
			default:
				require.NoError(t, r.snapshotRestore(), desc)
				if sent {
					require.NoError(t, r.watermark(wm), desc)
				}
				step("snapshot-restore", r.take())
			}
		}
		require.NoError(t, r.watermark(math.MaxInt64), desc)
		m.watermark(math.MaxInt64)
		step("the final watermark", r.take())
	}
}

// TestRandomizedPanesMatchPerWindow compares sliding windows kept in panes with the same
// windows kept per window (Flink's layout) under random triggers, lateness and restores
// that set the watermark back (see horizon in the package).
func TestRandomizedPanesMatchPerWindow(t *testing.T) {
	seed := testSeed(t)
	triggers := [][]string{nil, {"count", "3"}, {"continuous-event-time", "700ms"}, {"event-time"}, {"count", "1"}}
	for i := 0; i < *iters; i++ {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		s, _ := randomSpec(rng, "sliding")
		s.trigger = triggers[rng.IntN(len(triggers))]
		impls := implsOf[s.function]
		impl := impls[rng.IntN(len(impls))]
		desc := fmt.Sprintf("seed %d job %d: sliding %v trigger %v lateness %v, %s", seed, i, s.args, s.trigger, s.lateness, impl)
		panes, err := newRunner(s, variant{impl: impl})
		require.NoError(t, err, desc)
		perWindow, err := newRunner(s, variant{impl: impl, noSlicing: true})
		require.NoError(t, err, desc)
		both := func(f func(r runner) error, what string) {
			require.NoError(t, f(panes), desc)
			require.NoError(t, f(perWindow), desc)
			require.Equal(t, perWindow.take(), panes.take(), "%s: after %s", desc, what)
		}
		keys := []string{"a", "b", "c"}[:1+rng.IntN(3)]
		var wm int64
		for n := 0; n < 300; n++ {
			switch p := rng.IntN(100); {
			case p < 70:
				k, val := keys[rng.IntN(len(keys))], 1+rng.Int64N(9)
				ts := wm - 3000 + rng.Int64N(7000)
				both(func(r runner) error { return r.ingest(kv{k, val}, ts) }, fmt.Sprintf("ingest %s %d@%d", k, val, ts))
			case p < 94:
				wm += rng.Int64N(1500)
				both(func(r runner) error { return r.watermark(wm) }, fmt.Sprintf("watermark %d", wm))
			default:
				both(func(r runner) error { return r.snapshotRestore() }, "snapshot-restore")
			}
		}
		both(func(r runner) error { return r.watermark(math.MaxInt64) }, "the final watermark")
	}
}
