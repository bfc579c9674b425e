package nexmark

import (
	"time"

	"github.com/riffle-streams/riffle/connectors/nexmark"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// count is the aggregate "how many": an int64 accumulator.
type count[T any] struct{}

func (count[T]) CreateAccumulator() int64 { return 0 }
func (count[T]) Add(_ T, acc int64) int64 { return acc + 1 }
func (count[T]) Result(acc int64) int64   { return acc }
func (count[T]) Merge(a, b int64) int64   { return a + b }

// Q5Out is q5's output: an auction with the most bids of a window.
type Q5Out struct {
	WindowStart int64 `json:"window_start"`
	WindowEnd   int64 `json:"window_end"`
	Auction     int64 `json:"auction"`
	Num         int64 `json:"num"`
}

// Q5 finds the hot items: per sliding window of 10 s every 2 s, the auctions with the
// most bids. Stage one counts bids per auction and window (the window operator shares
// 2 s slices between the five windows a bid belongs to); stage two, keyed by window,
// keeps the auctions at the maximum and emits them when the window is complete.
func Q5(events stream.Stream[nexmark.Event]) stream.Stream[Q5Out] {
	byAuction := stream.KeyBy(Bids(events), func(b nexmark.Bid) int64 { return b.Auction })
	counts := operators.Window(byAuction, "q5-count",
		window.AggregateProcess(window.Sliding(10*time.Second, 2*time.Second, 0), count[nexmark.Bid]{},
			func(auction int64, w window.TimeWindow, n int64, out window.Collector[Q5Out]) {
				out.Collect(Q5Out{WindowStart: w.Start, WindowEnd: w.End, Auction: auction, Num: n})
			}))
	byWindow := stream.KeyBy(counts, func(c Q5Out) int64 { return c.WindowEnd })
	return operators.KeyedProcess(byWindow, "q5-max", func() operators.ProcessFunction[int64, Q5Out, Q5Out] {
		return &maxOfWindow[Q5Out]{value: func(c Q5Out) int64 { return c.Num }}
	})
}

// maxOfWindow keeps, per key, the records with the largest value, and emits them when
// the watermark reaches the records' timestamp (the end of their window).
type maxOfWindow[T any] struct {
	value func(T) int64
	max   state.ValueState[int64]
	best  state.ListState[T]
}

func (m *maxOfWindow[T]) Open(ctx stream.Context) error {
	var err error
	if m.max, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "max"}); err != nil {
		return err
	}
	m.best, err = state.NewList(ctx.State(), state.Desc[T]{Name: "best"})
	return err
}

func (m *maxOfWindow[T]) ProcessElement(ctx operators.ProcessContext, _ int64, r stream.Record[T], _ stream.Output[T]) error {
	v := m.value(r.Value)
	max, ok, err := m.max.Value()
	if err != nil {
		return err
	}
	switch {
	case !ok || v > max:
		if err := m.max.Update(v); err != nil {
			return err
		}
		if err := m.best.Update([]T{r.Value}); err != nil {
			return err
		}
	case v == max:
		if err := m.best.Add(r.Value); err != nil {
			return err
		}
	}
	ctx.RegisterEventTimeTimer(r.Timestamp)
	return nil
}

func (m *maxOfWindow[T]) OnTimer(_ operators.ProcessContext, _ int64, ts int64, _ state.Domain, out stream.Output[T]) error {
	best, err := m.best.Get()
	if err != nil {
		return err
	}
	for _, b := range best {
		out.Emit(stream.Record[T]{Value: b, Timestamp: ts})
	}
	if err := m.best.Clear(); err != nil {
		return err
	}
	return m.max.Clear()
}

// Q7Out is q7's output: a bid with the highest price of its window.
type Q7Out struct {
	WindowStart int64 `json:"window_start"`
	WindowEnd   int64 `json:"window_end"`
	Auction     int64 `json:"auction"`
	Price       int64 `json:"price"`
	Bidder      int64 `json:"bidder"`
	DateTime    int64 `json:"dateTime"`
}

// Q7 finds the highest bids: per tumbling window of 10 s, every bid whose price equals
// the window's maximum. Keying by window spreads windows over subtasks; each window's
// bids are compared where they meet.
func Q7(events stream.Stream[nexmark.Event]) stream.Stream[Q7Out] {
	const size = 10_000
	withWindow := operators.Map(Bids(events), "q7-window", func(b nexmark.Bid) Q7Out {
		start := window.Start(b.DateTime, 0, size)
		return Q7Out{WindowStart: start, WindowEnd: start + size, Auction: b.Auction, Price: b.Price, Bidder: b.Bidder, DateTime: b.DateTime}
	})
	// Stamp each bid with its window's last millisecond: the max is emitted when the
	// watermark passes it.
	stamped := operators.Process(withWindow, "q7-stamp", func(b Q7Out, out *operators.Emitter[Q7Out]) error {
		out.EmitAt(b, b.WindowEnd-1)
		return nil
	})
	byWindow := stream.KeyBy(stamped, func(b Q7Out) int64 { return b.WindowStart })
	return operators.KeyedProcess(byWindow, "q7-max", func() operators.ProcessFunction[int64, Q7Out, Q7Out] {
		return &maxOfWindow[Q7Out]{value: func(b Q7Out) int64 { return b.Price }}
	})
}

// Q11Out is q11's output: one session of a bidder.
type Q11Out struct {
	Bidder    int64 `json:"bidder"`
	BidCount  int64 `json:"bid_count"`
	StartTime int64 `json:"starttime"`
	EndTime   int64 `json:"endtime"`
}

// Q11 counts the bids of each user session: session windows with a 10 s gap per bidder
// (windows that overlap or touch merge). A session window is [first bid, last bid + gap).
func Q11(events stream.Stream[nexmark.Event]) stream.Stream[Q11Out] {
	byBidder := stream.KeyBy(Bids(events), func(b nexmark.Bid) int64 { return b.Bidder })
	return operators.Window(byBidder, "q11",
		window.AggregateProcess(window.Session(10*time.Second), count[nexmark.Bid]{},
			func(bidder int64, w window.TimeWindow, n int64, out window.Collector[Q11Out]) {
				out.Collect(Q11Out{Bidder: bidder, BidCount: n, StartTime: w.Start, EndTime: w.End})
			}))
}
