package nexmark

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestGenerator(t testing.TB, cfg GeneratorConfig) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	require.NoError(t, err)
	return g
}

// generate returns the events of cfg, cloned, with their event numbers.
func generate(t testing.TB, cfg GeneratorConfig) []Event {
	t.Helper()
	g := newTestGenerator(t, cfg)
	var out []Event
	var ev Event
	for g.Next(&ev) {
		out = append(out, ev.Clone())
	}
	return out
}

func TestProportionsByEventNumber(t *testing.T) {
	events := generate(t, GeneratorConfig{NumEvents: 10_000})
	require.Len(t, events, 10_000)
	counts := map[EventType]int{}
	for n, ev := range events {
		require.NoError(t, ev.Validate())
		var want EventType
		switch rem := n % 50; {
		case rem == 0:
			want = PersonEvent
		case rem <= 3:
			want = AuctionEvent
		default:
			want = BidEvent
		}
		require.Equal(t, want, ev.Type, "event %d", n)
		counts[ev.Type]++
	}
	assert.Equal(t, map[EventType]int{PersonEvent: 200, AuctionEvent: 600, BidEvent: 9200}, counts, "1:3:46")

	// Other proportions follow the same rule.
	events = generate(t, GeneratorConfig{NumEvents: 2000, PersonProportion: 2, AuctionProportion: 5, BidProportion: 13})
	counts = map[EventType]int{}
	for _, ev := range events {
		counts[ev.Type]++
	}
	assert.Equal(t, map[EventType]int{PersonEvent: 200, AuctionEvent: 500, BidEvent: 1300}, counts, "2:5:13")
}

func TestIDRanges(t *testing.T) {
	events := generate(t, GeneratorConfig{NumEvents: 200_000})
	// within fails the test unless lo <= v <= hi; testify per event would
	// dominate the run time.
	within := func(n int, what string, v, lo, hi int64) {
		if v < lo || v > hi {
			t.Fatalf("event %d: %s %d not in [%d, %d]", n, what, v, lo, hi)
		}
	}
	nextPerson, nextAuction := int64(FirstPersonID), int64(FirstAuctionID)
	var hotAuction, hotBidder, hotSeller, bids, auctions int
	for n, ev := range events {
		// The newest person and auction before this event; references may
		// point up to ten ids beyond them, and back over the active people
		// or the auctions in flight (or to the hot item).
		lastPerson, lastAuction := nextPerson-1, nextAuction-1
		hotPersons := (lastPerson-FirstPersonID)/hotGroupSize*hotGroupSize + FirstPersonID
		switch ev.Type {
		case PersonEvent:
			within(n, "person id (consecutive from 1000)", ev.Person.ID, nextPerson, nextPerson)
			nextPerson++
		case AuctionEvent:
			a := ev.Auction
			within(n, "auction id (consecutive from 1000)", a.ID, nextAuction, nextAuction)
			nextAuction++
			within(n, "seller", a.Seller, max(FirstPersonID, min(hotPersons, lastPerson-DefaultActivePeople)), lastPerson+personIDLead)
			if a.Seller == hotPersons {
				hotSeller++
			}
			auctions++
		case BidEvent:
			b := ev.Bid
			hotAuctions := (lastAuction-FirstAuctionID)/hotGroupSize*hotGroupSize + FirstAuctionID
			within(n, "auction", b.Auction, max(FirstAuctionID, min(hotAuctions, lastAuction-DefaultInFlightAuctions)), lastAuction+auctionIDLead)
			within(n, "bidder", b.Bidder, max(FirstPersonID, min(hotPersons+1, lastPerson-DefaultActivePeople)), lastPerson+personIDLead)
			if b.Auction == hotAuctions {
				hotAuction++
			}
			if b.Bidder == hotPersons+1 {
				hotBidder++
			}
			bids++
		}
	}
	// Hot with probability 1-1/ratio, plus the odd random pick of the hot item.
	assert.InDelta(t, 1-1.0/DefaultHotAuctionRatio, float64(hotAuction)/float64(bids), 0.02, "hot auctions")
	assert.InDelta(t, 1-1.0/DefaultHotBiddersRatio, float64(hotBidder)/float64(bids), 0.02, "hot bidders")
	assert.InDelta(t, 1-1.0/DefaultHotSellersRatio, float64(hotSeller)/float64(auctions), 0.02, "hot sellers")
}

func TestDeterminism(t *testing.T) {
	cfg := GeneratorConfig{Seed: 99, NumEvents: 5000}
	a, b := generate(t, cfg), generate(t, cfg)
	require.Equal(t, a, b, "same configuration, same events")

	// EventAt(n) is the n-th event, whatever the generator's position.
	g := newTestGenerator(t, GeneratorConfig{Seed: 99, FirstEvent: 4000})
	var ev Event
	for _, n := range []int64{4999, 0, 1, 2500, 49, 50} {
		g.EventAt(n, &ev)
		assert.Equal(t, a[n], ev.Clone(), "EventAt(%d)", n)
	}
	require.True(t, g.Next(&ev))
	assert.Equal(t, a[4000], ev.Clone(), "FirstEvent 4000 starts at event 4000")

	// A generator can start anywhere and be repositioned within its events.
	g = newTestGenerator(t, GeneratorConfig{Seed: 99})
	g.SetPosition(123)
	assert.Equal(t, int64(123), g.Position())
	require.True(t, g.Next(&ev))
	assert.Equal(t, a[123], ev.Clone())
	assert.Equal(t, a[3001:5000], generate(t, GeneratorConfig{Seed: 99, FirstEvent: 3001, NumEvents: 1999}))

	// Positions outside a generator's events clamp to them.
	g = newTestGenerator(t, GeneratorConfig{Seed: 99, FirstEvent: 4000, NumEvents: 10})
	g.SetPosition(123)
	assert.Equal(t, int64(4000), g.Position())
	g.SetPosition(5000)
	assert.Equal(t, int64(4010), g.Position())
	assert.False(t, g.Next(&ev))
}

func TestSeedsDiffer(t *testing.T) {
	a := generate(t, GeneratorConfig{Seed: 1, NumEvents: 2000})
	b := generate(t, GeneratorConfig{Seed: 2, NumEvents: 2000})
	same := 0
	for i := range a {
		require.Equal(t, a[i].Type, b[i].Type, "the kind depends on the event number only")
		if refLine(&a[i]) == refLine(&b[i]) {
			same++
		}
	}
	assert.Zero(t, same, "no event of seed 1 equals its counterpart of seed 2")
}

func TestSplitPartitionsTheSequence(t *testing.T) {
	cfg := GeneratorConfig{Seed: 5, NumEvents: 1003}
	all := generate(t, cfg)
	for _, n := range []int{1, 2, 3, 7, 2000} {
		gens := newTestGenerator(t, cfg).Split(n)
		require.Len(t, gens, n)
		got := make([]Event, len(all))
		seen := 0
		for i, g := range gens {
			var ev Event
			last := int64(-1)
			for pos := g.Position(); g.Next(&ev); pos = g.Position() {
				require.Equal(t, int64(i), pos%int64(n), "generator %d of %d yields every %d-th event", i, n, n)
				require.Greater(t, pos, last)
				last = pos
				got[pos] = ev.Clone()
				seen++
			}
			require.Equal(t, g.End(), g.Position())
		}
		require.Equal(t, len(all), seen, "split %d", n)
		require.Equal(t, all, got, "split %d yields exactly the events of the whole", n)
	}

	// Splitting a generator that has moved, and splitting again, divides
	// what is left.
	g := newTestGenerator(t, cfg)
	var ev Event
	for range 10 {
		g.Next(&ev)
	}
	halves := g.Split(2)
	quarters := halves[1].Split(2)
	var got []int64
	for _, q := range append([]*Generator{halves[0]}, quarters...) {
		for pos := q.Position(); q.Next(&ev); pos = q.Position() {
			require.Equal(t, all[pos], ev.Clone())
			got = append(got, pos)
		}
	}
	slices.Sort(got)
	require.Len(t, got, len(all)-10)
	for i, pos := range got {
		require.Equal(t, int64(10+i), pos)
	}

	// A restored subtask continues where it stopped.
	sub := newTestGenerator(t, cfg).Split(3)[1]
	sub.SetPosition(500)
	assert.Equal(t, int64(502), sub.Position(), "the first number ≥ 500 that is 1 mod 3")
	sub.SetPosition(-5)
	assert.Equal(t, int64(1), sub.Position())
	sub.SetPosition(1_000_000)
	assert.Equal(t, sub.End(), sub.Position())
	assert.False(t, sub.Next(&ev))

	assert.Panics(t, func() { g.Split(0) })
}

func TestCategories(t *testing.T) {
	counts := map[int64]int{}
	for _, ev := range generate(t, GeneratorConfig{NumEvents: 100_000}) {
		if ev.Type == AuctionEvent {
			counts[ev.Auction.Category]++
		}
	}
	require.Len(t, counts, NumCategories)
	for c := int64(FirstCategoryID); c < FirstCategoryID+NumCategories; c++ {
		assert.InDelta(t, 0.2, float64(counts[c])/6000, 0.03, "category %d", c)
	}
}

func TestChannelsAndURLs(t *testing.T) {
	baseURL := `https://www\.nexmark\.com/[a-z_]{3,4}/[a-z_]{3,4}/[a-z_]{3,4}/item\.htm\?query=1`
	hotURLRe := regexp.MustCompile(`^` + baseURL + `$`)
	channelURLRe := regexp.MustCompile(`^` + baseURL + `(&channel_id=(-?\d+))?$`)

	events := generate(t, GeneratorConfig{Seed: 3, NumEvents: 100_000})
	hot := map[string]int{}
	urls := map[string]string{}
	bids, named := 0, 0
	for _, ev := range events {
		if ev.Type != BidEvent {
			continue
		}
		b := ev.Bid
		bids++
		isHot := slices.Contains(hotChannels[:], b.Channel)
		if isHot {
			hot[b.Channel]++
		} else {
			named++
		}
		if prev, ok := urls[b.Channel]; ok {
			if prev != b.URL {
				t.Fatalf("channel %s has URLs %s and %s", b.Channel, prev, b.URL)
			}
			continue
		}
		urls[b.Channel] = b.URL
		if isHot {
			require.Regexp(t, hotURLRe, b.URL)
			continue
		}
		num, ok := strings.CutPrefix(b.Channel, "channel-")
		require.True(t, ok, "channel %q", b.Channel)
		i, err := strconv.Atoi(num)
		require.NoError(t, err)
		require.True(t, i >= 0 && i < channelsNumber, "channel %q", b.Channel)
		m := channelURLRe.FindStringSubmatch(b.URL)
		require.NotNil(t, m, "url %q", b.URL)
		if m[1] != "" {
			assert.Equal(t, strconv.Itoa(int(javaAbs(javaReverse(int32(i))))), m[2], "channel_id of %s", b.Channel)
		}
	}
	assert.ElementsMatch(t, []string{"Google", "Facebook", "Baidu", "Apple"}, hotChannels[:])
	assert.InDelta(t, 0.5, float64(bids-named)/float64(bids), 0.01, "half the bids come through a hot channel")
	for _, c := range hotChannels {
		assert.InDelta(t, 0.125, float64(hot[c])/float64(bids), 0.01, "channel %s", c)
	}
	withID := 0
	for c, u := range urls {
		if strings.HasPrefix(c, "channel-") && strings.Contains(u, "&channel_id=") {
			withID++
		}
	}
	assert.InDelta(t, 0.9, float64(withID)/float64(len(urls)-len(hotChannels)), 0.02, "9 in 10 channel URLs have a channel_id")
	assert.Greater(t, len(urls), 9000, "bids spread over the 10,000 channels")

	// Channel URLs depend on the seed only.
	g := newTestGenerator(t, GeneratorConfig{Seed: 3, FirstEvent: 123_456})
	var ev Event
	for range 1000 {
		require.True(t, g.Next(&ev))
		if ev.Type == BidEvent {
			if u, ok := urls[ev.Bid.Channel]; ok {
				require.Equal(t, u, ev.Bid.URL)
			}
		}
	}
	other := newTestGenerator(t, GeneratorConfig{Seed: 4})
	assert.NotEqual(t, newTestGenerator(t, GeneratorConfig{Seed: 3}).hotURLs, other.hotURLs)
}

func TestPricesAreLogUniform(t *testing.T) {
	var decades [6]int
	n := 0
	add := func(price int64) {
		if price < 100 || price > 100_000_000 {
			t.Fatalf("price %d not within $1 to $1M", price)
		}
		d := int(math.Log10(float64(price) / 100))
		decades[min(d, 5)]++
		n++
	}
	for _, ev := range generate(t, GeneratorConfig{NumEvents: 120_000}) {
		switch ev.Type {
		case BidEvent:
			add(ev.Bid.Price)
		case AuctionEvent:
			a := ev.Auction
			add(a.InitialBid)
			if a.Reserve <= a.InitialBid {
				t.Fatalf("reserve %d not above initial bid %d", a.Reserve, a.InitialBid)
			}
		}
	}
	for d, c := range decades {
		assert.InDelta(t, 1.0/6, float64(c)/float64(n), 0.01, "prices in [10^%d, 10^%d) dollars", d, d+1)
	}
}

func TestTimestampsFollowTheRate(t *testing.T) {
	const base = 1_600_000_000_000
	for _, tc := range []struct {
		rate int64
		want func(n int64) int64
	}{
		{1000, func(n int64) int64 { return base + n }},
		{10_000, func(n int64) int64 { return base + n/10 }},
		{1, func(n int64) int64 { return base + 1000*n }},
		{3, func(n int64) int64 { return base + int64(float64(n)*(1e6/3.0))/1000 }},
		{7_000_000, func(n int64) int64 { return base + int64(float64(n)*(1e6/7e6))/1000 }},
	} {
		g := newTestGenerator(t, GeneratorConfig{BaseTime: base, EventsPerSecond: tc.rate, NumEvents: 20_000})
		cfg := g.Config()
		var ev Event
		prev := int64(math.MinInt64)
		for n := int64(0); g.Next(&ev); n++ {
			ts := ev.EventTime()
			if want := tc.want(n); ts != want || ts != cfg.TimestampForEvent(n) || ts < prev {
				t.Fatalf("rate %d, event %d: time %d, want %d (previous %d)", tc.rate, n, ts, want, prev)
			}
			prev = ts
		}
	}
	assert.Zero(t, (&GeneratorConfig{OutOfOrderGroupSize: 1}).MaxOutOfOrderness())
}

func TestOutOfOrderBound(t *testing.T) {
	// The default, used by `riffle nexmark gen`, is in order: far below the
	// 4 s the queries allow.
	cfg := *(&GeneratorConfig{}).EnsureDefaults()
	require.Zero(t, cfg.MaxOutOfOrderness())

	for _, tc := range []struct{ group, rate int64 }{{100, 1000}, {1000, 10_000}, {2000, 500}, {9, 3}} {
		cfg := GeneratorConfig{OutOfOrderGroupSize: tc.group, EventsPerSecond: tc.rate, NumEvents: 20 * tc.group}
		g := newTestGenerator(t, cfg)
		gcfg := g.Config()
		bound := gcfg.MaxOutOfOrderness()
		maxTs, maxLag := g.Config().BaseTime, int64(0)
		var ev Event
		for g.Next(&ev) {
			ts := ev.EventTime()
			if maxTs-ts > maxLag {
				maxLag = maxTs - ts
			}
			maxTs = max(maxTs, ts)
		}
		assert.LessOrEqual(t, maxLag, bound, "group %d at %d/s", tc.group, tc.rate)
		assert.Positive(t, maxLag, "group %d at %d/s is out of order", tc.group, tc.rate)
		want := int64(math.Ceil(float64(tc.group-1)*1000/float64(tc.rate))) + 1
		assert.Equal(t, want, bound)
	}

	// Groups are permutations: each event of a full group appears once.
	g := newTestGenerator(t, GeneratorConfig{OutOfOrderGroupSize: 10, NumEvents: 1000})
	ref := newTestGenerator(t, GeneratorConfig{})
	seen := map[string]int{}
	var ev, want Event
	for n := int64(0); n < 1000; n++ {
		ref.EventAt(n, &want)
		seen[refLine(&want)]++
	}
	for g.Next(&ev) {
		seen[refLine(&ev)]--
	}
	for line, c := range seen {
		require.Zero(t, c, "event %.60s", line)
	}
}

func TestAuctionExpiry(t *testing.T) {
	g := newTestGenerator(t, GeneratorConfig{NumEvents: 200_000})
	cfg := g.Config()
	var ev Event
	var sum, count float64
	for n := int64(0); g.Next(&ev); n++ {
		if ev.Type != AuctionEvent {
			continue
		}
		a := ev.Auction
		// The horizon: the time until NumInFlightAuctions more auctions open.
		horizon := cfg.TimestampForEvent(n+100*50/3) - a.DateTime
		length := a.Expires - a.DateTime
		require.GreaterOrEqual(t, length, int64(1), "event %d", n)
		require.LessOrEqual(t, length, 2*horizon, "event %d", n)
		sum += float64(length) / float64(horizon)
		count++
	}
	assert.InDelta(t, 1, sum/count, 0.02, "auctions last one horizon on average")
}

func TestRecordSizesAverageTheConfiguredSizes(t *testing.T) {
	for _, cfg := range []GeneratorConfig{{NumEvents: 100_000}, {NumEvents: 50_000, AvgPersonBytes: 1000, AvgAuctionBytes: 2000, AvgBidBytes: 300}} {
		g := newTestGenerator(t, cfg)
		cfg := g.Config()
		var sums, counts [3]float64
		var ev Event
		for g.Next(&ev) {
			var size int
			switch ev.Type {
			case PersonEvent:
				p := ev.Person
				size = 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra)
			case AuctionEvent:
				a := ev.Auction
				size = 8 + len(a.ItemName) + len(a.Description) + 5*8 + len(a.Extra)
			case BidEvent:
				size = 4*8 + len(ev.Bid.Extra)
			}
			sums[ev.Type] += float64(size)
			counts[ev.Type]++
		}
		assert.InEpsilon(t, cfg.AvgPersonBytes, sums[PersonEvent]/counts[PersonEvent], 0.03)
		assert.InEpsilon(t, cfg.AvgAuctionBytes, sums[AuctionEvent]/counts[AuctionEvent], 0.03)
		assert.InEpsilon(t, cfg.AvgBidBytes, sums[BidEvent]/counts[BidEvent], 0.03)
	}
	// Sizes below a record's unpadded size mean no padding.
	for _, ev := range generate(t, GeneratorConfig{NumEvents: 100, AvgPersonBytes: 1, AvgAuctionBytes: 1, AvgBidBytes: 1}) {
		switch ev.Type {
		case PersonEvent:
			assert.Empty(t, ev.Person.Extra)
		case AuctionEvent:
			assert.Empty(t, ev.Auction.Extra)
		case BidEvent:
			assert.Empty(t, ev.Bid.Extra)
		}
	}
}

func TestRecordFields(t *testing.T) {
	word := `([a-z]([a-z ]*[a-z])?)?` // nextString: letters and spaces, trimmed
	emailRe := regexp.MustCompile(`^` + word + `@` + word + `\.com$`)
	cardRe := regexp.MustCompile(`^\d{4} \d{4} \d{4} \d{4}$`)
	extraRe := regexp.MustCompile("^[H-z]*$")
	wordRe := regexp.MustCompile(`^` + word + `$`)
	names := map[string]bool{}
	for _, ev := range generate(t, GeneratorConfig{NumEvents: 50_000}) {
		switch ev.Type {
		case PersonEvent:
			p := ev.Person
			first, last, ok := strings.Cut(p.Name, " ")
			require.True(t, ok)
			require.Contains(t, firstNames, first)
			require.Contains(t, lastNames, last)
			names[p.Name] = true
			require.Regexp(t, emailRe, p.EmailAddress)
			require.LessOrEqual(t, len(p.EmailAddress), maxEmailLength)
			require.Regexp(t, cardRe, p.CreditCard)
			require.Contains(t, usCities, p.City)
			require.Contains(t, usStates, p.State)
			require.Regexp(t, extraRe, p.Extra)
		case AuctionEvent:
			a := ev.Auction
			require.Regexp(t, wordRe, a.ItemName)
			require.LessOrEqual(t, len(a.ItemName), 19)
			require.Regexp(t, wordRe, a.Description)
			require.LessOrEqual(t, len(a.Description), 99)
			require.Regexp(t, extraRe, a.Extra)
		case BidEvent:
			require.Regexp(t, extraRe, ev.Bid.Extra)
		}
	}
	assert.Greater(t, len(names), 80, "names combine the 11 first and 9 last names")
}

func TestNextDoesNotAllocate(t *testing.T) {
	g := newTestGenerator(t, GeneratorConfig{})
	var ev Event
	for range 50_000 { // fill the channel table and the first slabs
		g.Next(&ev)
	}
	allocs := testing.AllocsPerRun(20_000, func() { g.Next(&ev) })
	assert.Less(t, allocs, 0.05, "only a new slab every few hundred events")
}

func TestGeneratorOwnsItsRecords(t *testing.T) {
	g := newTestGenerator(t, GeneratorConfig{})
	var a, b Event
	g.EventAt(10, &a)
	kept := a.Clone()
	extra := a.Bid.Extra
	g.EventAt(11, &b)
	assert.Same(t, a.Bid, b.Bid, "records are reused")
	assert.NotEqual(t, kept, b.Clone())
	assert.Equal(t, extra, kept.Bid.Extra, "strings stay valid and unchanged")
}

func TestGeneratorConfigDefaultsAndValidation(t *testing.T) {
	var cfg GeneratorConfig
	cfg.EnsureDefaults()
	assert.Equal(t, GeneratorConfig{
		BaseTime: DefaultBaseTime, EventsPerSecond: 10_000,
		PersonProportion: 1, AuctionProportion: 3, BidProportion: 46,
		AvgPersonBytes: 200, AvgAuctionBytes: 500, AvgBidBytes: 100,
		HotAuctionRatio: 2, HotSellersRatio: 4, HotBiddersRatio: 4,
		NumInFlightAuctions: 100, NumActivePeople: 1000, OutOfOrderGroupSize: 1,
	}, cfg)
	require.NoError(t, cfg.Validate())
	require.NoError(t, (&GeneratorConfig{}).Validate(), "zero fields mean defaults")

	bad := GeneratorConfig{
		EventsPerSecond: -1, FirstEvent: -1, NumEvents: -5, PersonProportion: -1,
		AvgBidBytes: -3, HotAuctionRatio: -2, NumActivePeople: -1, OutOfOrderGroupSize: 953 * 2,
	}
	err := bad.Validate()
	require.Error(t, err)
	for _, field := range []string{"EventsPerSecond", "FirstEvent", "NumEvents", "PersonProportion",
		"AvgBidBytes", "HotAuctionRatio", "NumActivePeople", "OutOfOrderGroupSize"} {
		assert.Contains(t, err.Error(), "nexmark: GeneratorConfig."+field, "every problem is reported")
	}
	_, err = NewGenerator(bad)
	require.Error(t, err)

	_, err = NewGenerator(GeneratorConfig{FirstEvent: math.MaxInt64 - 10, NumEvents: 11})
	require.ErrorContains(t, err, "overflows")
	g := newTestGenerator(t, GeneratorConfig{FirstEvent: math.MaxInt64 - 10, NumEvents: 10})
	assert.Equal(t, int64(math.MaxInt64), g.End())
	assert.Equal(t, int64(math.MaxInt64), newTestGenerator(t, GeneratorConfig{}).End(), "0 events means endless")
}

func TestEventHelpers(t *testing.T) {
	assert.Equal(t, "person", PersonEvent.String())
	assert.Equal(t, "auction", AuctionEvent.String())
	assert.Equal(t, "bid", BidEvent.String())
	assert.Equal(t, "EventType(7)", EventType(7).String())

	ev := Event{Type: BidEvent, Bid: &Bid{DateTime: 42}}
	require.NoError(t, ev.Validate())
	assert.Equal(t, int64(42), ev.EventTime())
	c := ev.Clone()
	assert.Equal(t, ev, c)
	assert.NotSame(t, ev.Bid, c.Bid)

	for _, bad := range []Event{
		{Type: BidEvent},
		{Type: PersonEvent, Bid: &Bid{}},
		{Type: BidEvent, Bid: &Bid{}, Person: &Person{}},
		{Type: 3, Bid: &Bid{}},
	} {
		assert.ErrorIs(t, bad.Validate(), ErrInvalidEvent, "%+v", bad)
	}
	assert.Panics(t, func() { (&Event{Type: 5}).EventTime() })

	g := newTestGenerator(t, GeneratorConfig{})
	assert.Panics(t, func() { g.EventAt(-1, &ev) })
}
