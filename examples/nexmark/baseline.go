package nexmark

import (
	"github.com/riffle-streams/riffle/connectors/nexmark"
)

// Baselines compute each query as a plain Go loop over the generator, with no framework:
// the practical limit a job can approach. Each returns the number of results.
var Baselines = map[string]func(g *nexmark.Generator) int64{
	"q0": func(g *nexmark.Generator) int64 {
		var ev nexmark.Event
		var n int64
		var sink Q0Out
		for g.Next(&ev) {
			if b := ev.Bid; b != nil {
				sink = Q0Out{b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra}
				n++
			}
		}
		_ = sink
		return n
	},
	"q1": func(g *nexmark.Generator) int64 {
		var ev nexmark.Event
		var n int64
		var sink BidOut
		for g.Next(&ev) {
			if b := ev.Bid; b != nil {
				sink = BidOut{b.Auction, b.Bidder, 0.908 * float64(b.Price), b.DateTime, b.Extra}
				n++
			}
		}
		_ = sink
		return n
	},
	"q2": func(g *nexmark.Generator) int64 {
		var ev nexmark.Event
		var n int64
		for g.Next(&ev) {
			if b := ev.Bid; b != nil && b.Auction%123 == 0 {
				n++
			}
		}
		return n
	},
}
