package window_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// The benchmarks drive an operator as the runtime would, without a harness's
// bookkeeping: keys are encoded in advance, event-time timers fire in order before each
// watermark. Figures are the operator's and the heap backend's (state and timers).
//
// The workloads are the window parts of Nexmark: q5 (count per auction in sliding
// windows of 10 s every 2 s), q7 (max price in tumbling windows of 10 s) and q11 (count
// per bidder in sessions with a gap of 10 s). Event time advances 1 ms every 10 bids (10k
// bids per second of event time, Nexmark's default rate), keys are uniform, and a
// watermark 1 s behind the latest timestamp comes every 1000 bids.

type bid struct {
	Auction, Bidder, Price, DateTime int64
}

func newBenchCtx() *streamtest.Context { return streamtest.NewContext() }

func watermark(b *testing.B, c *streamtest.Context, op interface {
	OnTimer(state.Domain, state.Timer) error
	OnWatermark(int64) error
}, wm int64) {
	if err := c.AdvanceWatermark(wm, op.OnTimer); err != nil {
		b.Fatal(err)
	}
	if err := op.OnWatermark(wm); err != nil {
		b.Fatal(err)
	}
}

type encodedKey struct {
	b  []byte
	kg int
}

type counting[T any] struct{ n int }

func (d *counting[T]) Emit(stream.Record[T]) { d.n++ }

// keyDist draws the key of bid i: uniformly from n keys, or as Nexmark does: the hot key
// (a new one every second of event time) with probability 1-1/hot, else uniformly from n.
type keyDist struct {
	name string
	n    int64
	hot  int64 // 0: uniform
}

func uniform(n int64) keyDist { return keyDist{fmt.Sprintf("uniform-%d", n), n, 0} }

func (d keyDist) draw(rng *rand.Rand, i int) int64 {
	if d.hot > 0 && rng.Int64N(d.hot) != 0 {
		return int64(i/10_000) % d.n
	}
	return rng.Int64N(d.n)
}

// runBids feeds b.N bids to op, keyed by d.
func runBids[OUT any](b *testing.B, op stream.Operator[bid, OUT], d keyDist) {
	ctx := newBenchCtx()
	out := &counting[OUT]{}
	if err := op.Open(ctx, out); err != nil {
		b.Fatal(err)
	}
	enc := make([]encodedKey, d.n)
	for i := range enc {
		k := binary.LittleEndian.AppendUint64(nil, uint64(i))
		enc[i] = encodedKey{k, state.KeyGroup(k, state.DefaultMaxParallelism)}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1 << 20
	bids := make([]bid, n)
	for i := range bids {
		k := d.draw(rng, i)
		bids[i] = bid{Auction: k, Bidder: k, Price: rng.Int64N(10_000)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var ts int64
	for i := 0; b.Loop(); i++ {
		ts = int64(i) / 10
		v := bids[i%n]
		v.DateTime = ts
		k := enc[v.Auction]
		ctx.Heap.SetCurrentKey(k.b, k.kg)
		if err := op.ProcessElement(stream.Record[bid]{Value: v, Timestamp: ts}); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			watermark(b, ctx, op, ts-1000)
		}
	}
	watermark(b, ctx, op, ts+1_000_000) // every window fires
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(out.n)/float64(b.N), "outputs/record")
}

func maxPrice(a, b bid) bid {
	if b.Price > a.Price {
		return b
	}
	return a
}

type countAgg struct{}

func (countAgg) CreateAccumulator() int64   { return 0 }
func (countAgg) Add(_ bid, acc int64) int64 { return acc + 1 }
func (countAgg) Result(acc int64) int64     { return acc }
func (countAgg) Merge(a, b int64) int64     { return a + b }
func byAuction(v bid) int64                 { return v.Auction }
func byBidder(v bid) int64                  { return v.Bidder }
func keysName(n int) string                 { return fmt.Sprintf("keys=%d", n) }

var (
	auctions = keyDist{"nexmark-auctions", 100, 2} // half the bids on the hot auction
	bidders  = keyDist{"nexmark-bidders", 1000, 4} // 3/4 of the bids by the hot bidder
)

// BenchmarkTumblingReduce is q7's window: the highest bid per 10 s (one key: the whole
// stream), and the same per auction.
func BenchmarkTumblingReduce(b *testing.B) {
	for _, d := range []keyDist{uniform(1), auctions, uniform(10_000)} {
		b.Run(d.name, func(b *testing.B) {
			runBids(b, window.Reduce[int64](window.Tumbling(10*time.Second, 0), maxPrice), d)
		})
	}
}

// BenchmarkSlidingCount is q5's window: bids per auction in windows of 10 s every 2 s,
// kept in panes of 2 s (and, for comparison, per window as Flink does).
func BenchmarkSlidingCount(b *testing.B) {
	for _, layout := range []string{"panes", "per-window"} {
		for _, d := range []keyDist{auctions, uniform(1000), uniform(10_000)} {
			b.Run(layout+"/"+d.name, func(b *testing.B) {
				op := window.Aggregate[int64, bid, int64, int64](window.Sliding(10*time.Second, 2*time.Second, 0), countAgg{})
				if layout == "per-window" {
					op.WithoutSlicing()
				}
				runBids(b, op, d)
			})
		}
	}
}

type session struct {
	Bidder, Count, Start, End int64
}

// BenchmarkSessions is q11's window: bids per bidder in sessions with a gap of 10 s.
func BenchmarkSessions(b *testing.B) {
	for _, d := range []keyDist{bidders, uniform(1000), uniform(10_000)} {
		b.Run(d.name, func(b *testing.B) {
			op := window.AggregateProcess(window.Session(10*time.Second), state.Aggregate[bid, int64, int64](countAgg{}),
				func(bidder int64, w window.TimeWindow, n int64, out window.Collector[session]) {
					out.Collect(session{bidder, n, w.Start, w.End})
				})
			runBids(b, op, d)
		})
	}
}
