package nexmark

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/connectors/nexmark"
)

func bidAt(auction, bidder, price, ts int64) nexmark.Event {
	return nexmark.Event{Type: nexmark.BidEvent, Bid: &nexmark.Bid{Auction: auction, Bidder: bidder, Price: price, DateTime: ts, Extra: "e"}}
}

func personAt(id int64, name string, ts int64) nexmark.Event {
	return nexmark.Event{Type: nexmark.PersonEvent, Person: &nexmark.Person{ID: id, Name: name, State: "CA", DateTime: ts}}
}

func auctionAt(id, seller, category, ts, expires int64) nexmark.Event {
	return nexmark.Event{Type: nexmark.AuctionEvent, Auction: &nexmark.Auction{ID: id, Seller: seller, Category: category, DateTime: ts, Expires: expires}}
}

func TestQ0HandChecked(t *testing.T) {
	evs := []nexmark.Event{personAt(1000, "p", 1), bidAt(1000, 1001, 7, 2)}
	require.Equal(t, []string{`{"auction":1000,"bidder":1001,"price":7,"dateTime":2,"extra":"e"}`}, runQuery(t, "q0", evs, 1))
}

func TestQ4HandChecked(t *testing.T) {
	// Auction 1 (category 10) runs [1000, 5000]: bids 20 and 50 count, 90 at 6000 is after
	// expiry, 99 at 500 before its start. Auction 2 (category 10): bid 10 at its expiry
	// counts. Auction 3 (category 11): no bids, no final price. Averages: category 10
	// (50 + 10) / 2 = 30 after 50 alone; category 11 none.
	evs := []nexmark.Event{
		bidAt(1, 7, 99, 500), // before auction 1 starts (and before it is seen)
		auctionAt(1, 100, 10, 1000, 5000),
		auctionAt(2, 100, 10, 1500, 7000),
		auctionAt(3, 100, 11, 1600, 3000),
		bidAt(1, 7, 20, 2000),
		bidAt(1, 8, 50, 4000),
		bidAt(1, 9, 90, 6000),
		bidAt(2, 9, 10, 7000),
	}
	require.Equal(t, []string{`{"category":10,"avg":30}`, `{"category":10,"avg":50}`}, runQuery(t, "q4", evs, 1))
}

func TestQ5HandChecked(t *testing.T) {
	// Auction 1 has bids at 1000 and 1500, auction 2 at 1200 and 9000. Windows of 10 s
	// every 2 s holding them: [-8000,2000) ... [0,10000) for the first three. In
	// [-8000,2000), [-6000,4000), [-4000,6000), [-2000,8000) auction 1 leads 2 to 1; in
	// [0,10000) both have 2: a tie, both written; in [2000,12000) only auction 2 (9000).
	evs := []nexmark.Event{bidAt(1, 5, 1, 1000), bidAt(2, 5, 1, 1200), bidAt(1, 5, 1, 1500), bidAt(2, 5, 1, 9000)}
	require.Equal(t, []string{
		`{"window_start":-2000,"window_end":8000,"auction":1,"num":2}`,
		`{"window_start":-4000,"window_end":6000,"auction":1,"num":2}`,
		`{"window_start":-6000,"window_end":4000,"auction":1,"num":2}`,
		`{"window_start":-8000,"window_end":2000,"auction":1,"num":2}`,
		`{"window_start":0,"window_end":10000,"auction":1,"num":2}`,
		`{"window_start":0,"window_end":10000,"auction":2,"num":2}`,
		`{"window_start":2000,"window_end":12000,"auction":2,"num":1}`,
		`{"window_start":4000,"window_end":14000,"auction":2,"num":1}`,
		`{"window_start":6000,"window_end":16000,"auction":2,"num":1}`,
		`{"window_start":8000,"window_end":18000,"auction":2,"num":1}`,
	}, runQuery(t, "q5", evs, 1))
}

func TestQ8HandChecked(t *testing.T) {
	// Person 1 registers at 1000 and opens two auctions in [0,10000): one line. Person 2
	// registers at 9000 but opens its auction at 11000, in the next window: no line.
	evs := []nexmark.Event{
		personAt(1, "ann", 1000), auctionAt(10, 1, 10, 2000, 99000), auctionAt(11, 1, 10, 8000, 99000),
		personAt(2, "bob", 9000), auctionAt(12, 2, 10, 11000, 99000),
	}
	require.Equal(t, []string{`{"id":1,"name":"ann","window_start":0}`}, runQuery(t, "q8", evs, 2))
}
