package nexmark

import (
	"fmt"
	"math"
)

// Constants of the Java model generators.
const (
	// personIDLead and auctionIDLead (PERSON_ID_LEAD, AUCTION_ID_LEAD) let
	// random references point up to ten ids beyond the newest person or
	// auction, so that a bid or auction can precede the record it refers to.
	personIDLead  = 10
	auctionIDLead = 10
	// hotGroupSize is HOT_SELLER_RATIO, HOT_AUCTION_RATIO and
	// HOT_BIDDER_RATIO of the Java model generators (all 100): the hot seller
	// is the first of the latest 100 persons, the hot bidder the second, the
	// hot auction the first of the latest 100 auctions.
	hotGroupSize = 100
)

// Generator makes Nexmark events. Its events are numbered 0, 1, 2, …; the
// event at number n depends on the configuration and n only, so a Generator
// can start anywhere (GeneratorConfig.FirstEvent, SetPosition), jump to any
// event (EventAt), and Split its events among generators running in
// parallel.
//
// A Generator is not safe for concurrent use; generators made by Split are
// independent of each other and of their parent.
type Generator struct {
	cfg GeneratorConfig // defaults filled in, valid

	// Derived from cfg.
	total         int64   // sum of the proportions
	delayMicros   float64 // Java's interEventDelayUs
	horizonEvents int64   // events until NumInFlightAuctions more auctions
	eventBase     uint64  // seed stream base of the events

	// The slice of event numbers this generator yields: origin,
	// origin+stride, … below end; next is the one Next yields next.
	origin, stride, next, end int64

	rnd      javaRandom
	person   Person
	auction  Auction
	bid      Bid
	strs     [3]arena // indexed by EventType
	hotURLs  [len(hotChannels)]string
	channels channelTable
}

// NewGenerator returns a generator of the events cfg describes, after filling
// in its defaults. It returns cfg.Validate's error if cfg is invalid.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	end := int64(math.MaxInt64)
	if cfg.NumEvents > 0 {
		end = cfg.FirstEvent + cfg.NumEvents
	}
	g := newGenerator(cfg)
	g.origin, g.stride, g.next, g.end = cfg.FirstEvent, 1, cfg.FirstEvent, end
	return g, nil
}

func newGenerator(cfg GeneratorConfig) *Generator {
	total := int64(cfg.PersonProportion + cfg.AuctionProportion + cfg.BidProportion)
	return &Generator{
		cfg:           cfg,
		total:         total,
		delayMicros:   cfg.interEventDelayMicros(),
		horizonEvents: int64(cfg.NumInFlightAuctions) * total / int64(cfg.AuctionProportion),
		eventBase:     streamBase(cfg.Seed, domainEvent),
		hotURLs:       hotURLs(cfg.Seed),
		channels:      channelTable{base: streamBase(cfg.Seed, domainChannel)},
	}
}

// Config returns the configuration of g, defaults filled in.
func (g *Generator) Config() GeneratorConfig { return g.cfg }

// Next fills ev with the next event of g and reports whether there was one.
// The records ev points to belong to g and are overwritten by its next call
// of Next or EventAt (see Event). In the steady state Next allocates only a
// 16 KiB slab for strings every hundred events or so.
func (g *Generator) Next(ev *Event) bool {
	if g.next >= g.end {
		return false
	}
	g.fill(g.next, ev)
	if g.next > g.end-g.stride {
		g.next = g.end
	} else {
		g.next += g.stride
	}
	return true
}

// Position returns the number of the event Next yields next, or End if g has
// no more events. A source checkpoints it and restores it with SetPosition.
func (g *Generator) Position() int64 { return g.next }

// End returns the number one past the last event g may yield
// (FirstEvent+NumEvents, or math.MaxInt64 for an endless sequence).
func (g *Generator) End() int64 { return g.end }

// SetPosition makes Next continue with the first event of g's share whose
// number is at least n, its share being FirstEvent, FirstEvent+1, … below
// End for a generator from NewGenerator, and every k-th of those for one from
// Split. Moving backwards is allowed; below the share's first event means
// its first event.
func (g *Generator) SetPosition(n int64) {
	switch {
	case n <= g.origin:
		g.next = g.origin
	case n >= g.end:
		g.next = g.end
	default:
		k := (n-g.origin-1)/g.stride + 1 // ⌈(n-origin)/stride⌉
		if k > (g.end-g.origin)/g.stride {
			g.next = g.end
		} else {
			g.next = min(g.origin+k*g.stride, g.end)
		}
	}
}

// Split divides the events g has not yet yielded among n new generators:
// counting those events from 0, generator i yields the i-th, (i+n)-th,
// (i+2n)-th, … of them. Together they
// yield exactly the events g would have, and since neighbouring events go to
// different generators all of them advance through event time together, like
// the parallel timelines of the Java generator. g itself is not changed. It
// panics if n < 1.
func (g *Generator) Split(n int) []*Generator {
	if n < 1 {
		panic(fmt.Sprintf("nexmark: Generator.Split(%d): n must be at least 1", n))
	}
	if g.stride > math.MaxInt64/int64(n) {
		panic(fmt.Sprintf("nexmark: Generator.Split(%d): stride %d × %d overflows", n, g.stride, n))
	}
	gens := make([]*Generator, n)
	for i := range gens {
		c := newGenerator(g.cfg)
		c.stride = g.stride * int64(n)
		c.end = g.end
		c.origin = g.end
		if off := int64(i) * g.stride; g.next < g.end && off < g.end-g.next {
			c.origin = g.next + off
		}
		c.next = c.origin
		gens[i] = c
	}
	return gens
}

// EventAt fills ev with event number n, the event a generator starting at
// event 0 yields n-th (counting from 0), whatever g's position and share;
// the position of g does not change. Ownership is as for Next. It panics if
// n is negative.
func (g *Generator) EventAt(n int64, ev *Event) {
	if n < 0 {
		panic(fmt.Sprintf("nexmark: Generator.EventAt(%d): negative event number", n))
	}
	g.fill(n, ev)
}

// fill makes the event at position pos. Position and event number coincide
// unless OutOfOrderGroupSize permutes them (Java's nextAdjustedEventNumber);
// the event number is also the event id that picks the kind and seeds the
// random draws (Java adds its firstEventId, which the Flink source sets to
// 1: see the package documentation).
func (g *Generator) fill(pos int64, ev *Event) {
	id := pos
	if gs := g.cfg.OutOfOrderGroupSize; gs > 1 {
		id = pos/gs*gs + (pos%gs)*(outOfOrderPrime%gs)%gs
	}
	ts := timestampForEvent(g.cfg.BaseTime, g.delayMicros, id)
	g.rnd.setSeed(streamSeed(g.eventBase, id))

	switch rem := id % g.total; {
	case rem < int64(g.cfg.PersonProportion):
		g.nextPerson(id, ts)
		*ev = Event{Type: PersonEvent, Person: &g.person}
	case rem < int64(g.cfg.PersonProportion+g.cfg.AuctionProportion):
		g.nextAuction(id, ts)
		*ev = Event{Type: AuctionEvent, Auction: &g.auction}
	default:
		g.nextBid(id, ts)
		*ev = Event{Type: BidEvent, Bid: &g.bid}
	}
}

// nextPerson is PersonGenerator.nextPerson.
func (g *Generator) nextPerson(id, ts int64) {
	r, a, p := &g.rnd, &g.strs[PersonEvent], &g.person

	p.ID = g.lastBase0PersonID(id) + FirstPersonID
	first := int(r.nextIntN(len32(firstNames[:])))
	last := int(r.nextIntN(len32(lastNames[:])))
	p.Name = personNames[first*len(lastNames)+last]

	b := a.buf(maxEmailLength)
	b = appendNextString(b, r, 7, ' ')
	b = append(b, '@')
	b = appendNextString(b, r, 5, ' ')
	b = append(b, ".com"...)
	p.EmailAddress = a.str(b)

	p.CreditCard = a.str(appendCreditCard(a.buf(creditCardLength), r))
	p.City = usCities[r.nextIntN(len32(usCities[:]))]
	p.State = usStates[r.nextIntN(len32(usStates[:]))]
	p.DateTime = ts

	size := 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State)
	n := extraLength(r, size, g.cfg.AvgPersonBytes)
	p.Extra = a.str(appendExactString(a.buf(n), r, n))
}

// nextAuction is AuctionGenerator.nextAuction.
func (g *Generator) nextAuction(id, ts int64) {
	r, a, au := &g.rnd, &g.strs[AuctionEvent], &g.auction

	au.ID = g.lastBase0AuctionID(id) + FirstAuctionID
	// P(hot seller) = 1 - 1/HotSellersRatio: the first of the latest 100 persons.
	if r.nextIntN(int32(g.cfg.HotSellersRatio)) > 0 {
		au.Seller = g.lastBase0PersonID(id) / hotGroupSize * hotGroupSize
	} else {
		au.Seller = g.nextBase0PersonID(id)
	}
	au.Seller += FirstPersonID
	au.Category = FirstCategoryID + int64(r.nextIntN(NumCategories))
	au.InitialBid = nextPrice(r)
	au.DateTime = ts
	au.Expires = ts + g.nextAuctionLength(id, ts)

	au.ItemName = a.str(appendNextString(a.buf(20), r, 20, ' '))
	au.Description = a.str(appendNextString(a.buf(100), r, 100, ' '))
	au.Reserve = au.InitialBid + nextPrice(r)

	size := 8 + len(au.ItemName) + len(au.Description) + 8 + 8 + 8 + 8 + 8
	n := extraLength(r, size, g.cfg.AvgAuctionBytes)
	au.Extra = a.str(appendExactString(a.buf(n), r, n))
}

// nextAuctionLength is AuctionGenerator.nextAuctionLengthMs: uniform in
// [1, 2h] milliseconds, where the horizon h is the event time it takes for
// NumInFlightAuctions more auctions to open, so that on average that many
// auctions are open at once.
func (g *Generator) nextAuctionLength(id, ts int64) int64 {
	future := timestampForEvent(g.cfg.BaseTime, g.delayMicros, id+g.horizonEvents)
	horizon := future - ts
	return 1 + g.rnd.nextLongN(max(horizon*2, 1))
}

// nextBid is BidGenerator.nextBid.
func (g *Generator) nextBid(id, ts int64) {
	r, a, b := &g.rnd, &g.strs[BidEvent], &g.bid

	// P(hot auction) = 1 - 1/HotAuctionRatio: the first of the latest 100 auctions.
	if r.nextIntN(int32(g.cfg.HotAuctionRatio)) > 0 {
		b.Auction = g.lastBase0AuctionID(id) / hotGroupSize * hotGroupSize
	} else {
		b.Auction = g.nextBase0AuctionID(id)
	}
	b.Auction += FirstAuctionID
	// P(hot bidder) = 1 - 1/HotBiddersRatio: the second of the latest 100
	// persons, so hot bidders and hot sellers differ.
	if r.nextIntN(int32(g.cfg.HotBiddersRatio)) > 0 {
		b.Bidder = g.lastBase0PersonID(id)/hotGroupSize*hotGroupSize + 1
	} else {
		b.Bidder = g.nextBase0PersonID(id)
	}
	b.Bidder += FirstPersonID
	b.Price = nextPrice(r)

	if r.nextIntN(hotChannelsRatio) > 0 {
		i := r.nextIntN(len32(hotChannels[:]))
		b.Channel, b.URL = hotChannels[i], g.hotURLs[i]
	} else {
		b.Channel, b.URL = g.channels.get(r.nextIntN(channelsNumber))
	}
	b.DateTime = ts

	n := extraLength(r, 8+8+8+8, g.cfg.AvgBidBytes)
	b.Extra = a.str(appendExactString(a.buf(n), r, n))
}

// lastBase0PersonID is PersonGenerator.lastBase0PersonId: the id, less
// FirstPersonID, of the newest person at event id (the new one if id is a
// person).
func (g *Generator) lastBase0PersonID(id int64) int64 {
	epoch, offset := id/g.total, id%g.total
	if pp := int64(g.cfg.PersonProportion); offset >= pp {
		offset = pp - 1
	}
	return epoch*int64(g.cfg.PersonProportion) + offset
}

// lastBase0AuctionID is AuctionGenerator.lastBase0AuctionId: the id, less
// FirstAuctionID, of the newest auction at event id (the new one if id is an
// auction).
func (g *Generator) lastBase0AuctionID(id int64) int64 {
	pp, ap := int64(g.cfg.PersonProportion), int64(g.cfg.AuctionProportion)
	epoch, offset := id/g.total, id%g.total
	switch {
	case offset < pp: // a person: the last auction of the previous epoch
		epoch--
		offset = ap - 1
	case offset >= pp+ap: // a bid: the last auction of this epoch
		offset = ap - 1
	default: // an auction
		offset -= pp
	}
	return epoch*ap + offset
}

// nextBase0PersonID is PersonGenerator.nextBase0PersonId: one of the latest
// NumActivePeople persons, or of the next personIDLead ones.
func (g *Generator) nextBase0PersonID(id int64) int64 {
	numPeople := g.lastBase0PersonID(id) + 1
	active := min(numPeople, int64(g.cfg.NumActivePeople))
	return numPeople - active + g.rnd.nextLongN(active+personIDLead)
}

// nextBase0AuctionID is AuctionGenerator.nextBase0AuctionId: one of the
// latest NumInFlightAuctions auctions, or of the next auctionIDLead ones.
func (g *Generator) nextBase0AuctionID(id int64) int64 {
	maxAuction := g.lastBase0AuctionID(id)
	minAuction := max(maxAuction-int64(g.cfg.NumInFlightAuctions), 0)
	return minAuction + g.rnd.nextLongN(maxAuction-minAuction+1+auctionIDLead)
}

func len32(s []string) int32 { return int32(len(s)) }
