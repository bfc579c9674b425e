package window_test

import (
	"fmt"
	"time"

	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/streamtest"
)

type Bid struct {
	Auction, Bidder, Price int64
}

type countBids struct{}

func (countBids) CreateAccumulator() int64 { return 0 }
func (countBids) Add(_ Bid, n int64) int64 { return n + 1 }
func (countBids) Result(n int64) int64     { return n }
func (countBids) Merge(a, b int64) int64   { return a + b }
func byAuctionOf(b Bid) int64              { return b.Auction }
func byBidderOf(b Bid) int64               { return b.Bidder }

// Bids per auction in windows of 10 s every 2 s (Nexmark q5's window).
func ExampleAggregate() {
	op := window.Aggregate[int64, Bid, int64, int64](window.Sliding(10*time.Second, 2*time.Second, 0), countBids{})
	h, _ := streamtest.NewKeyed(op, byAuctionOf, streamtest.Options{})
	for _, ts := range []int64{1000, 2500, 9000} {
		_ = h.ProcessElement(Bid{Auction: 7}, ts)
	}
	_ = h.ProcessWatermark(12_000)
	for _, r := range h.Output() {
		fmt.Printf("window ending %d: %d bids\n", r.Timestamp+1, r.Value)
	}
	// Output:
	// window ending 2000: 1 bids
	// window ending 4000: 2 bids
	// window ending 6000: 2 bids
	// window ending 8000: 2 bids
	// window ending 10000: 3 bids
	// window ending 12000: 2 bids
}

type Session struct {
	Bidder, Bids, Start, End int64
}

// A bidder's bids per session with a gap of 10 s (Nexmark q11's window).
func ExampleAggregateProcess() {
	op := window.AggregateProcess[int64, Bid, int64, int64](window.Session(10*time.Second), countBids{},
		func(bidder int64, w window.TimeWindow, n int64, out window.Collector[Session]) {
			out.Collect(Session{bidder, n, w.Start, w.End})
		})
	h, _ := streamtest.NewKeyed(op, byBidderOf, streamtest.Options{})
	for _, ts := range []int64{0, 4000, 14_000, 30_000} {
		_ = h.ProcessElement(Bid{Bidder: 3}, ts)
	}
	_ = h.ProcessWatermark(50_000)
	for _, r := range h.Output() {
		fmt.Printf("%+v\n", r.Value)
	}
	// Output:
	// {Bidder:3 Bids:3 Start:0 End:24000}
	// {Bidder:3 Bids:1 Start:30000 End:40000}
}
