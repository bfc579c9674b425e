package nexmark

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/connectors/nexmark"
)

func bidsOf(evs []nexmark.Event) []nexmark.Bid {
	var out []nexmark.Bid
	for _, e := range evs {
		if e.Bid != nil {
			out = append(out, *e.Bid)
		}
	}
	return out
}

// naiveQ5 counts every auction in every sliding window [s, s+10 s), s a multiple of 2 s.
func naiveQ5(bids []nexmark.Bid) []Q5Out {
	counts := map[[2]int64]int64{} // (window start, auction)
	for _, b := range bids {
		last := b.DateTime - b.DateTime%2000
		for s := last; s > b.DateTime-10000; s -= 2000 {
			counts[[2]int64{s, b.Auction}]++
		}
	}
	max := map[int64]int64{}
	for k, n := range counts {
		if n > max[k[0]] {
			max[k[0]] = n
		}
	}
	var out []Q5Out
	for k, n := range counts {
		if n == max[k[0]] {
			out = append(out, Q5Out{k[0], k[0] + 10000, k[1], n})
		}
	}
	return out
}

func naiveQ7(bids []nexmark.Bid) []Q7Out {
	max := map[int64]int64{}
	for _, b := range bids {
		s := b.DateTime - b.DateTime%10000
		if b.Price > max[s] {
			max[s] = b.Price
		}
	}
	var out []Q7Out
	for _, b := range bids {
		s := b.DateTime - b.DateTime%10000
		if b.Price == max[s] {
			out = append(out, Q7Out{s, s + 10000, b.Auction, b.Price, b.Bidder, b.DateTime})
		}
	}
	return out
}

// naiveQ11 merges each bidder's bids into sessions: a bid joins the session when it is at
// most 10 s after the session's last bid (windows that touch merge).
func naiveQ11(bids []nexmark.Bid) []Q11Out {
	by := map[int64][]int64{}
	for _, b := range bids {
		by[b.Bidder] = append(by[b.Bidder], b.DateTime)
	}
	var out []Q11Out
	for bidder, ts := range by {
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		cur := Q11Out{Bidder: bidder, BidCount: 1, StartTime: ts[0], EndTime: ts[0] + 10000}
		for _, t := range ts[1:] {
			if t <= cur.EndTime {
				cur.BidCount++
				cur.EndTime = max(cur.EndTime, t+10000)
				continue
			}
			out = append(out, cur)
			cur = Q11Out{Bidder: bidder, BidCount: 1, StartTime: t, EndTime: t + 10000}
		}
		out = append(out, cur)
	}
	return out
}

func TestWindowedQueriesMatchBatch(t *testing.T) {
	evs, _ := generated(t, 6000)
	bids := bidsOf(evs)
	want := map[string][]string{
		"q5":  naive(t, naiveQ5(bids)),
		"q7":  naive(t, naiveQ7(bids)),
		"q11": naive(t, naiveQ11(bids)),
	}
	for _, q := range []string{"q5", "q7", "q11"} {
		require.NotEmpty(t, want[q])
		for _, p := range []int{1, 2} {
			require.Equal(t, want[q], runQuery(t, q, evs, p), "%s at parallelism %d", q, p)
		}
	}
}

func TestWindowedQueriesHandChecked(t *testing.T) {
	bid := func(auction, bidder, price, ts int64) nexmark.Event {
		return nexmark.Event{Type: nexmark.BidEvent, Bid: &nexmark.Bid{Auction: auction, Bidder: bidder, Price: price, DateTime: ts}}
	}
	evs := []nexmark.Event{bid(1, 7, 10, 1000), bid(2, 7, 30, 3000), bid(1, 8, 30, 9000), bid(2, 8, 5, 12_500), bid(1, 7, 1, 19_000)}
	require.Equal(t, []string{
		`{"window_start":0,"window_end":10000,"auction":1,"price":30,"bidder":8,"dateTime":9000}`,
		`{"window_start":0,"window_end":10000,"auction":2,"price":30,"bidder":7,"dateTime":3000}`,
		`{"window_start":10000,"window_end":20000,"auction":2,"price":5,"bidder":8,"dateTime":12500}`,
	}, runQuery(t, "q7", evs, 1))
	// Bidder 7: 1000, 3000 (gap 2 s), then 19,000 (16 s later: a new session). Bidder 9:
	// exactly 10 s apart, so the windows [30000,40000) and [40000,50000) touch and merge
	// (Flink's TimeWindow.intersects is inclusive).
	evs = append(evs, bid(3, 9, 1, 30_000), bid(3, 9, 1, 40_000))
	require.Equal(t, []string{
		`{"bidder":7,"bid_count":1,"starttime":19000,"endtime":29000}`,
		`{"bidder":7,"bid_count":2,"starttime":1000,"endtime":13000}`,
		`{"bidder":8,"bid_count":2,"starttime":9000,"endtime":22500}`,
		`{"bidder":9,"bid_count":2,"starttime":30000,"endtime":50000}`,
	}, runQuery(t, "q11", evs, 1))
}
