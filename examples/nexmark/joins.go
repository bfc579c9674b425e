package nexmark

import (
	"time"

	"github.com/riffle-streams/riffle/connectors/nexmark"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/operators/join"
	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Persons and Auctions keep the persons and the auctions of a stream of events.
func Persons(events stream.Stream[nexmark.Event]) stream.Stream[nexmark.Person] {
	return operators.Process(events, "persons", func(e nexmark.Event, out *operators.Emitter[nexmark.Person]) error {
		if e.Person != nil {
			out.Emit(*e.Person)
		}
		return nil
	})
}

func Auctions(events stream.Stream[nexmark.Event]) stream.Stream[nexmark.Auction] {
	return operators.Process(events, "auctions", func(e nexmark.Event, out *operators.Emitter[nexmark.Auction]) error {
		if e.Auction != nil {
			out.Emit(*e.Auction)
		}
		return nil
	})
}

// Q3Out is q3's output.
type Q3Out struct {
	Name  string `json:"name"`
	City  string `json:"city"`
	State string `json:"state"`
	ID    int64  `json:"id"`
}

// Q3 (local item suggestion) joins every auction of category 10 with its seller, when the
// seller lives in Oregon, Idaho or California: a regular join, either side may come first.
func Q3(events stream.Stream[nexmark.Event]) stream.Stream[Q3Out] {
	auctions := Auctions(events).Filter(func(a nexmark.Auction) bool { return a.Category == 10 })
	persons := Persons(events).Filter(func(p nexmark.Person) bool {
		return p.State == "OR" || p.State == "ID" || p.State == "CA"
	})
	return operators.Join(
		stream.KeyBy(auctions, func(a nexmark.Auction) int64 { return a.Seller }),
		stream.KeyBy(persons, func(p nexmark.Person) int64 { return p.ID }),
		"q3", join.Map(func(a nexmark.Auction, p nexmark.Person) Q3Out {
			return Q3Out{Name: p.Name, City: p.City, State: p.State, ID: a.ID}
		}), join.Options[nexmark.Auction, nexmark.Person]{})
}

// Q4Out is q4's output: a category's average final price so far.
type Q4Out struct {
	Category int64   `json:"category"`
	Avg      float64 `json:"avg"`
}

// Q4 averages final prices per category. An auction's final price is the highest price
// of its bids made between its start and its expiry; it is known when the watermark
// passes the expiry. The running average per category is written whenever it changes.
func Q4(events stream.Stream[nexmark.Event]) stream.Stream[Q4Out] {
	byID := stream.KeyBy(Auctions(events), func(a nexmark.Auction) int64 { return a.ID })
	byAuction := stream.KeyBy(Bids(events), func(b nexmark.Bid) int64 { return b.Auction })
	finals := stream.TransformKeyed2(byID, byAuction, "q4-final", func() stream.TwoInputOperator[nexmark.Auction, nexmark.Bid, finalPrice] {
		return &winningBid{}
	})
	byCategory := stream.KeyBy(finals, func(f finalPrice) int64 { return f.Category })
	return operators.KeyedProcess(byCategory, "q4-avg", func() operators.ProcessFunction[int64, finalPrice, Q4Out] {
		return &categoryAverage{}
	})
}

type finalPrice struct {
	Category, Price int64
}

// winningBid keeps, per auction, the auction and the highest valid bid, and bids that
// came before their auction; it emits the final price at the auction's expiry.
type winningBid struct {
	ctx     stream.Context
	out     stream.Output[finalPrice]
	auction state.ValueState[nexmark.Auction]
	max     state.ValueState[int64]
	early   state.ListState[nexmark.Bid]
}

func (w *winningBid) Open(ctx stream.Context, out stream.Output[finalPrice]) error {
	w.ctx, w.out = ctx, out
	var err error
	if w.auction, err = state.NewValue(ctx.State(), state.Desc[nexmark.Auction]{Name: "auction"}); err != nil {
		return err
	}
	if w.max, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "max"}); err != nil {
		return err
	}
	w.early, err = state.NewList(ctx.State(), state.Desc[nexmark.Bid]{Name: "early"})
	return err
}

func (w *winningBid) offer(a nexmark.Auction, b nexmark.Bid) error {
	if b.DateTime < a.DateTime || b.DateTime > a.Expires {
		return nil
	}
	m, ok, err := w.max.Value()
	if err != nil || (ok && m >= b.Price) {
		return err
	}
	return w.max.Update(b.Price)
}

func (w *winningBid) ProcessElement1(r stream.Record[nexmark.Auction]) error {
	a := r.Value
	if err := w.auction.Update(a); err != nil {
		return err
	}
	early, err := w.early.Get()
	if err != nil {
		return err
	}
	for _, b := range early {
		if err := w.offer(a, b); err != nil {
			return err
		}
	}
	w.ctx.Timers().RegisterEventTimeTimer(nil, a.Expires)
	return w.early.Clear()
}

func (w *winningBid) ProcessElement2(r stream.Record[nexmark.Bid]) error {
	a, ok, err := w.auction.Value()
	if err != nil {
		return err
	}
	if ok {
		return w.offer(a, r.Value)
	}
	// Its auction is later in the stream (events are up to 4 s out of order). Once the
	// watermark passes the bid, an auction that could make it valid cannot come any more.
	w.ctx.Timers().RegisterEventTimeTimer(nil, r.Value.DateTime)
	return w.early.Add(r.Value)
}

func (w *winningBid) OnTimer(_ state.Domain, t state.Timer) error {
	a, ok, err := w.auction.Value()
	if err != nil {
		return err
	}
	if !ok {
		return w.early.Clear() // bids without an auction in time
	}
	if t.Timestamp < a.Expires {
		return nil // an early bid's timer; the auction came
	}
	if m, has, err := w.max.Value(); err != nil {
		return err
	} else if has {
		w.out.Emit(stream.Record[finalPrice]{Value: finalPrice{a.Category, m}, Timestamp: a.Expires})
	}
	if err := w.max.Clear(); err != nil {
		return err
	}
	return w.auction.Clear()
}

func (w *winningBid) OnWatermark(int64) error { return nil }
func (w *winningBid) Close() error            { return nil }

// categoryAverage keeps the sum and count of final prices per category.
type categoryAverage struct {
	sum, n state.ValueState[int64]
}

func (c *categoryAverage) Open(ctx stream.Context) error {
	var err error
	if c.sum, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "sum"}); err != nil {
		return err
	}
	c.n, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "n"})
	return err
}

func (c *categoryAverage) ProcessElement(_ operators.ProcessContext, cat int64, r stream.Record[finalPrice], out stream.Output[Q4Out]) error {
	sum, _, err := c.sum.Value()
	if err != nil {
		return err
	}
	n, _, err := c.n.Value()
	if err != nil {
		return err
	}
	old := float64(0)
	if n > 0 {
		old = float64(sum) / float64(n)
	}
	sum, n = sum+r.Value.Price, n+1
	if err := c.sum.Update(sum); err != nil {
		return err
	}
	if err := c.n.Update(n); err != nil {
		return err
	}
	if avg := float64(sum) / float64(n); n == 1 || avg != old {
		out.Emit(stream.Record[Q4Out]{Value: Q4Out{Category: cat, Avg: avg}, Timestamp: r.Timestamp})
	}
	return nil
}

func (c *categoryAverage) OnTimer(operators.ProcessContext, int64, int64, state.Domain, stream.Output[Q4Out]) error {
	return nil
}

// Q8Out is q8's output: a person who registered and opened an auction in one window.
type Q8Out struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	WindowStart int64  `json:"window_start"`
}

// Q8 (monitor new users) finds, per tumbling window of 10 s, the persons who registered
// and opened an auction as seller in that window: a window join of persons with their
// auctions, after keeping one auction per seller and window (one line per person and
// window).
func Q8(events stream.Stream[nexmark.Event]) stream.Stream[Q8Out] {
	const size = 10 * time.Second
	type sellerWindow struct{ Seller, Start int64 }
	auctions := Auctions(events)
	bySellerWindow := stream.KeyBy(auctions, func(a nexmark.Auction) sellerWindow {
		return sellerWindow{a.Seller, window.Start(a.DateTime, 0, size.Milliseconds())}
	})
	firstPerWindow := operators.KeyedProcess(bySellerWindow, "q8-first", func() operators.ProcessFunction[sellerWindow, nexmark.Auction, nexmark.Auction] {
		return &firstOnly[sellerWindow, nexmark.Auction]{until: func(k sellerWindow) int64 { return k.Start + size.Milliseconds() - 1 }}
	})
	return operators.WindowJoin(
		stream.KeyBy(Persons(events), func(p nexmark.Person) int64 { return p.ID }),
		stream.KeyBy(firstPerWindow, func(a nexmark.Auction) int64 { return a.Seller }),
		"q8", join.Tumbling(size),
		join.Map(func(p nexmark.Person, _ nexmark.Auction) Q8Out {
			return Q8Out{ID: p.ID, Name: p.Name, WindowStart: window.Start(p.DateTime, 0, size.Milliseconds())}
		}), join.Options[nexmark.Person, nexmark.Auction]{})
}

// firstOnly passes the first record of each key and drops the rest until the watermark
// reaches until(key), when it forgets the key.
type firstOnly[K, T any] struct {
	until func(K) int64
	seen  state.ValueState[bool]
}

func (f *firstOnly[K, T]) Open(ctx stream.Context) error {
	var err error
	f.seen, err = state.NewValue(ctx.State(), state.Desc[bool]{Name: "seen"})
	return err
}

func (f *firstOnly[K, T]) ProcessElement(ctx operators.ProcessContext, k K, r stream.Record[T], out stream.Output[T]) error {
	if seen, _, err := f.seen.Value(); err != nil || seen {
		return err
	}
	ctx.RegisterEventTimeTimer(f.until(k))
	out.Emit(r)
	return f.seen.Update(true)
}

func (f *firstOnly[K, T]) OnTimer(operators.ProcessContext, K, int64, state.Domain, stream.Output[T]) error {
	return f.seen.Clear()
}
