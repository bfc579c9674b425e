package nexmark

import (
	"errors"
	"fmt"
	"math"
)

// Identifiers and categories start at these values, as in the Java generator's
// GeneratorConfig, so that queries find matches even in small data sets.
const (
	FirstPersonID   = 1000
	FirstAuctionID  = 1000
	FirstCategoryID = 10
	// NumCategories is the number of auction categories: FirstCategoryID up to
	// FirstCategoryID+NumCategories-1.
	NumCategories = 5
)

// Defaults of GeneratorConfig: those of the Java NexmarkConfiguration, except
// DefaultBaseTime, which Java takes from the wall clock.
const (
	// DefaultBaseTime is 2025-01-01T00:00:00Z in milliseconds since the Unix epoch.
	DefaultBaseTime          = 1735689600000
	DefaultEventsPerSecond   = 10_000
	DefaultPersonProportion  = 1
	DefaultAuctionProportion = 3
	DefaultBidProportion     = 46
	DefaultAvgPersonBytes    = 200
	DefaultAvgAuctionBytes   = 500
	DefaultAvgBidBytes       = 100
	DefaultHotAuctionRatio   = 2
	DefaultHotSellersRatio   = 4
	DefaultHotBiddersRatio   = 4
	DefaultInFlightAuctions  = 100
	DefaultActivePeople      = 1000
	DefaultOutOfOrderGroup   = 1
)

// GeneratorConfig says which events a Generator makes. The zero value of every
// field means its default, which EnsureDefaults fills in; NewGenerator does so
// itself. The names in parentheses are the Java NexmarkConfiguration fields.
//
// A configuration and an event number determine the event completely: see the
// package documentation for this determinism contract.
type GeneratorConfig struct {
	// Seed selects one of many equally valid event sequences. Default 0 (a
	// valid seed like any other).
	Seed int64

	// BaseTime is the event time of event 0, in milliseconds since the Unix
	// epoch. Default DefaultBaseTime (Java uses the wall clock at start-up,
	// which would break determinism); as 0 means the default, the epoch
	// itself cannot be chosen, but any other time can.
	BaseTime int64

	// EventsPerSecond is the event-time rate (firstEventRate): event n has
	// time BaseTime + ⌊⌊n × 10⁶/EventsPerSecond⌋µs / 1000⌋, as in Java's
	// GeneratorConfig.timestampForEvent. It shapes event time only; how fast
	// events are produced in wall-clock time is the caller's business.
	// Default 10,000.
	EventsPerSecond int64

	// FirstEvent is the number of the first event to generate. Default 0.
	FirstEvent int64

	// NumEvents is how many events to generate from FirstEvent on, or 0 for
	// an endless sequence (until event number math.MaxInt64). Default 0.
	NumEvents int64

	// PersonProportion, AuctionProportion and BidProportion are the shares of
	// the event kinds (personProportion, auctionProportion, bidProportion):
	// event id n is a person if n mod total < PersonProportion, else an
	// auction if it is below PersonProportion+AuctionProportion, else a bid.
	// Each at least 1. Defaults 1, 3 and 46.
	PersonProportion  int
	AuctionProportion int
	BidProportion     int

	// AvgPersonBytes, AvgAuctionBytes and AvgBidBytes are the average sizes,
	// in the Java generator's accounting (8 bytes per number plus string
	// lengths), that each record's Extra string pads it to (avgPersonByteSize,
	// avgAuctionByteSize, avgBidByteSize). A value below a record's size
	// without padding leaves Extra empty. Defaults 200, 500 and 100.
	AvgPersonBytes  int
	AvgAuctionBytes int
	AvgBidBytes     int

	// HotAuctionRatio: a bid goes to the current hot auction with probability
	// 1 - 1/HotAuctionRatio, else to a random auction in flight
	// (hotAuctionRatio). Default 2.
	HotAuctionRatio int
	// HotSellersRatio: an auction is by the current hot seller with
	// probability 1 - 1/HotSellersRatio, else by a random active person
	// (hotSellersRatio). Default 4.
	HotSellersRatio int
	// HotBiddersRatio: a bid is by the current hot bidder with probability
	// 1 - 1/HotBiddersRatio, else by a random active person
	// (hotBiddersRatio). Default 4.
	HotBiddersRatio int

	// NumInFlightAuctions is the average number of auctions open at any time
	// (numInFlightAuctions): random bids pick among the last
	// NumInFlightAuctions auctions, and auction lengths are drawn so that on
	// average an auction expires when NumInFlightAuctions more have opened.
	// Default 100.
	NumInFlightAuctions int
	// NumActivePeople is how many of the most recent persons random sellers
	// and bidders are drawn from (numActivePeople). Default 1000.
	NumActivePeople int

	// OutOfOrderGroupSize makes event time go backwards within groups of this
	// many consecutive events (outOfOrderGroupSize): the event at position n
	// is event number ⌊n/g⌋g + (953n mod g), a permutation within each group
	// when g is not a multiple of the prime 953. 1 (the default) keeps event
	// time non-decreasing; see MaxOutOfOrderness for the bound otherwise.
	OutOfOrderGroupSize int64
}

// EnsureDefaults replaces every zero field of c by its default and returns c.
func (c *GeneratorConfig) EnsureDefaults() *GeneratorConfig {
	setInt64 := func(p *int64, v int64) {
		if *p == 0 {
			*p = v
		}
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setInt64(&c.BaseTime, DefaultBaseTime)
	setInt64(&c.EventsPerSecond, DefaultEventsPerSecond)
	setInt(&c.PersonProportion, DefaultPersonProportion)
	setInt(&c.AuctionProportion, DefaultAuctionProportion)
	setInt(&c.BidProportion, DefaultBidProportion)
	setInt(&c.AvgPersonBytes, DefaultAvgPersonBytes)
	setInt(&c.AvgAuctionBytes, DefaultAvgAuctionBytes)
	setInt(&c.AvgBidBytes, DefaultAvgBidBytes)
	setInt(&c.HotAuctionRatio, DefaultHotAuctionRatio)
	setInt(&c.HotSellersRatio, DefaultHotSellersRatio)
	setInt(&c.HotBiddersRatio, DefaultHotBiddersRatio)
	setInt(&c.NumInFlightAuctions, DefaultInFlightAuctions)
	setInt(&c.NumActivePeople, DefaultActivePeople)
	setInt64(&c.OutOfOrderGroupSize, DefaultOutOfOrderGroup)
	return c
}

// Limits that keep every intermediate value of the generator in range.
const (
	maxProportionTotal = 1 << 20
	maxRecordBytes     = 1 << 20
	maxRatio           = 1 << 30
	maxPopulation      = 1 << 30
	maxOutOfOrderGroup = 1 << 32
)

// Validate reports every problem of c at once, joined into one error whose
// lines start with "nexmark: GeneratorConfig.". Zero fields are valid (they
// mean the default); call it before or after EnsureDefaults.
func (c *GeneratorConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("nexmark: GeneratorConfig.%s "+format, append([]any{field}, args...)...))
	}
	d := *c
	d.EnsureDefaults()

	if d.EventsPerSecond < 0 || d.EventsPerSecond > 1_000_000_000 {
		bad("EventsPerSecond", "= %d: must be in 1..1e9 (0 means %d)", c.EventsPerSecond, DefaultEventsPerSecond)
	}
	if d.FirstEvent < 0 {
		bad("FirstEvent", "= %d: must not be negative", d.FirstEvent)
	}
	if d.NumEvents < 0 {
		bad("NumEvents", "= %d: must not be negative (0 means endless)", d.NumEvents)
	} else if d.FirstEvent >= 0 && d.NumEvents > math.MaxInt64-d.FirstEvent {
		bad("NumEvents", "= %d: FirstEvent+NumEvents overflows int64", d.NumEvents)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"PersonProportion", d.PersonProportion}, {"AuctionProportion", d.AuctionProportion}, {"BidProportion", d.BidProportion}} {
		if p.v < 1 || p.v > maxProportionTotal {
			bad(p.name, "= %d: must be in 1..%d", p.v, maxProportionTotal)
		}
	}
	if t := d.PersonProportion + d.AuctionProportion + d.BidProportion; t > maxProportionTotal {
		bad("BidProportion", "= %d: the proportions add up to %d, more than %d", d.BidProportion, t, maxProportionTotal)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"AvgPersonBytes", d.AvgPersonBytes}, {"AvgAuctionBytes", d.AvgAuctionBytes}, {"AvgBidBytes", d.AvgBidBytes}} {
		if p.v < 1 || p.v > maxRecordBytes {
			bad(p.name, "= %d: must be in 1..%d", p.v, maxRecordBytes)
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"HotAuctionRatio", d.HotAuctionRatio}, {"HotSellersRatio", d.HotSellersRatio}, {"HotBiddersRatio", d.HotBiddersRatio}} {
		if p.v < 1 || p.v > maxRatio {
			bad(p.name, "= %d: must be in 1..%d (1 means no hot items)", p.v, maxRatio)
		}
	}
	if d.NumInFlightAuctions < 1 || d.NumInFlightAuctions > maxPopulation {
		bad("NumInFlightAuctions", "= %d: must be in 1..%d", d.NumInFlightAuctions, maxPopulation)
	}
	if d.NumActivePeople < 1 || d.NumActivePeople > maxPopulation {
		bad("NumActivePeople", "= %d: must be in 1..%d", d.NumActivePeople, maxPopulation)
	}
	if d.OutOfOrderGroupSize < 1 || d.OutOfOrderGroupSize > maxOutOfOrderGroup {
		bad("OutOfOrderGroupSize", "= %d: must be in 1..%d", d.OutOfOrderGroupSize, maxOutOfOrderGroup)
	} else if d.OutOfOrderGroupSize%outOfOrderPrime == 0 {
		bad("OutOfOrderGroupSize", "= %d: must not be a multiple of %d, or events repeat and go missing",
			d.OutOfOrderGroupSize, outOfOrderPrime)
	}
	return errors.Join(errs...)
}

// outOfOrderPrime is the multiplier of Java's GeneratorConfig.nextAdjustedEventNumber.
const outOfOrderPrime = 953

// interEventDelayMicros is Java's interEventDelayUs for one generator
// timeline: 10⁶ / rate microseconds, as a double.
func (c *GeneratorConfig) interEventDelayMicros() float64 {
	return 1_000_000.0 / float64(c.EventsPerSecond)
}

// TimestampForEvent returns the event time, in milliseconds since the Unix
// epoch, of event number n (Java's GeneratorConfig.timestampForEvent):
// BaseTime + ⌊n × interEventDelayUs⌋ / 1000 with interEventDelayUs =
// 10⁶/EventsPerSecond computed in floating point. It is non-decreasing in n.
// Zero fields of c mean their defaults.
func (c *GeneratorConfig) TimestampForEvent(n int64) int64 {
	d := *c
	d.EnsureDefaults()
	return timestampForEvent(d.BaseTime, d.interEventDelayMicros(), n)
}

func timestampForEvent(baseTime int64, delayMicros float64, n int64) int64 {
	return baseTime + int64(float64(n)*delayMicros)/1000
}

// MaxOutOfOrderness returns, in milliseconds, how far event time can go
// backwards: every event a generator with this configuration yields has an
// event time of at least T - MaxOutOfOrderness(), where T is the greatest
// event time it yielded before (this holds for each generator Split makes as
// well). It is 0 when OutOfOrderGroupSize is 1 (event time never decreases)
// and otherwise ⌈(OutOfOrderGroupSize-1) × 1000/EventsPerSecond⌉ + 1. Hence
// watermarks with a bounded out-of-orderness B ≥ MaxOutOfOrderness() never
// make a generated event late; riffle's Nexmark queries use B = 4 s.
// Zero fields of c mean their defaults.
func (c *GeneratorConfig) MaxOutOfOrderness() int64 {
	if c.OutOfOrderGroupSize <= 1 {
		return 0
	}
	d := *c
	d.EnsureDefaults()
	c = &d
	// Disorder stays within a group: all numbers of group k precede those of
	// group k+1. Within a group the times lie between timestampForEvent(b)
	// and timestampForEvent(b+g-1); the two floors differ by at most
	// ⌈(g-1)·delay/1000⌉ + 1 for any base b.
	span := float64(c.OutOfOrderGroupSize-1) * c.interEventDelayMicros() / 1000
	return int64(math.Ceil(span)) + 1
}
