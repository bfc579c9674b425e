package nexmark

import (
	"time"

	"github.com/riffle-streams/riffle/connectors/nexmark"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/stream"
)

// Watermarks is the strategy every query uses: event time from the event, at most 4 s out
// of order.
func Watermarks() stream.WatermarkStrategy[nexmark.Event] {
	return stream.WatermarkStrategy[nexmark.Event]{
		Timestamp:      func(e nexmark.Event) int64 { return e.EventTime() },
		OutOfOrderness: 4 * time.Second,
	}
}

// Bids keeps the bids of a stream of events.
func Bids(events stream.Stream[nexmark.Event]) stream.Stream[nexmark.Bid] {
	return operators.FlatMap(events, "bids", func(e nexmark.Event) []nexmark.Bid {
		if e.Bid == nil {
			return nil
		}
		return []nexmark.Bid{*e.Bid}
	})
}

// BidOut is the output of q0 and q1.
type BidOut struct {
	Auction  int64   `json:"auction"`
	Bidder   int64   `json:"bidder"`
	Price    float64 `json:"price"`
	DateTime int64   `json:"dateTime"`
	Extra    string  `json:"extra"`
}

// Q0Out is q0's output: every bid as it is (an integer price).
type Q0Out struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	DateTime int64  `json:"dateTime"`
	Extra    string `json:"extra"`
}

// Q0 passes every bid through: the cost of the framework itself.
func Q0(events stream.Stream[nexmark.Event]) stream.Stream[Q0Out] {
	return operators.Process(events, "q0", func(e nexmark.Event, out *operators.Emitter[Q0Out]) error {
		if b := e.Bid; b != nil {
			out.Emit(Q0Out{Auction: b.Auction, Bidder: b.Bidder, Price: b.Price, DateTime: b.DateTime, Extra: b.Extra})
		}
		return nil
	})
}

// Q1 converts every bid's price to euros: 0.908 × price, as a float.
func Q1(events stream.Stream[nexmark.Event]) stream.Stream[BidOut] {
	return operators.Process(events, "q1", func(e nexmark.Event, out *operators.Emitter[BidOut]) error {
		if b := e.Bid; b != nil {
			out.Emit(BidOut{Auction: b.Auction, Bidder: b.Bidder, Price: 0.908 * float64(b.Price), DateTime: b.DateTime, Extra: b.Extra})
		}
		return nil
	})
}

// Q2Out is q2's output.
type Q2Out struct {
	Auction int64 `json:"auction"`
	Price   int64 `json:"price"`
}

// Q2 selects the bids of every 123rd auction.
func Q2(events stream.Stream[nexmark.Event]) stream.Stream[Q2Out] {
	return operators.Process(events, "q2", func(e nexmark.Event, out *operators.Emitter[Q2Out]) error {
		if b := e.Bid; b != nil && b.Auction%123 == 0 {
			out.Emit(Q2Out{Auction: b.Auction, Price: b.Price})
		}
		return nil
	})
}
