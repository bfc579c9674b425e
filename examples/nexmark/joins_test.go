package nexmark

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/connectors/nexmark"
	"github.com/riffle-streams/riffle/stream"
)

func naiveQ3(evs []nexmark.Event) []Q3Out {
	persons := map[int64]nexmark.Person{}
	for _, e := range evs {
		if p := e.Person; p != nil && (p.State == "OR" || p.State == "ID" || p.State == "CA") {
			persons[p.ID] = *p
		}
	}
	var out []Q3Out
	for _, e := range evs {
		if a := e.Auction; a != nil && a.Category == 10 {
			if p, ok := persons[a.Seller]; ok {
				out = append(out, Q3Out{p.Name, p.City, p.State, a.ID})
			}
		}
	}
	return out
}

// naiveQ4 returns each category's final average.
func naiveQ4(evs []nexmark.Event) map[int64]float64 {
	auctions := map[int64]nexmark.Auction{}
	for _, e := range evs {
		if a := e.Auction; a != nil {
			auctions[a.ID] = *a
		}
	}
	final := map[int64]int64{}
	for _, e := range evs {
		b := e.Bid
		if b == nil {
			continue
		}
		a, ok := auctions[b.Auction]
		if !ok || b.DateTime < a.DateTime || b.DateTime > a.Expires {
			continue
		}
		if p, ok := final[a.ID]; !ok || b.Price > p {
			final[a.ID] = b.Price
		}
	}
	sum, n := map[int64]int64{}, map[int64]int64{}
	for id, p := range final {
		c := auctions[id].Category
		sum[c] += p
		n[c]++
	}
	out := map[int64]float64{}
	for c := range sum {
		out[c] = float64(sum[c]) / float64(n[c])
	}
	return out
}

func naiveQ8(evs []nexmark.Event) []Q8Out {
	opened := map[[2]int64]bool{} // (seller, window start)
	for _, e := range evs {
		if a := e.Auction; a != nil {
			opened[[2]int64{a.Seller, a.DateTime - a.DateTime%10000}] = true
		}
	}
	var out []Q8Out
	for _, e := range evs {
		if p := e.Person; p != nil {
			w := p.DateTime - p.DateTime%10000
			if opened[[2]int64{p.ID, w}] {
				out = append(out, Q8Out{p.ID, p.Name, w})
			}
		}
	}
	return out
}

func TestJoinQueriesMatchBatch(t *testing.T) {
	evs, _ := generated(t, 20000)
	for _, p := range []int{1, 3} {
		want3 := naive(t, naiveQ3(evs))
		require.NotEmpty(t, want3)
		require.Equal(t, want3, runQuery(t, "q3", evs, p), "q3 p=%d", p)
		want8 := naive(t, naiveQ8(evs))
		require.NotEmpty(t, want8)
		require.Equal(t, want8, runQuery(t, "q8", evs, p), "q8 p=%d", p)
	}
}

func TestQ4FinalAveragesMatchBatch(t *testing.T) {
	// Auctions last up to hours of event time: a longer run covers some expiries.
	evs, _ := generated(t, 60000)
	want := naiveQ4(evs)
	require.NotEmpty(t, want)
	for _, p := range []int{1, 2} {
		job := stream.NewJob("q4", stream.JobOptions{Parallelism: p, BatchSize: 64})
		var mu sync.Mutex
		last := map[int64]float64{}
		lines := 0
		Q4(stream.FromSlice(job, "events", evs, Watermarks())).To("check", stream.SinkFunc[Q4Out](func(r stream.Record[Q4Out]) error {
			mu.Lock()
			defer mu.Unlock()
			b, _ := json.Marshal(r.Value)
			var back map[string]any
			require.NoError(t, json.Unmarshal(b, &back))
			require.Contains(t, back, "category")
			require.Contains(t, back, "avg")
			last[r.Value.Category] = r.Value.Avg // lines of a category arrive in order
			lines++
			return nil
		}))
		require.NoError(t, job.Run(context.Background()))
		require.Equal(t, len(want), len(last), "p=%d", p)
		for c, avg := range want {
			require.InDelta(t, avg, last[c], 1e-9, "category %d, p=%d", c, p)
		}
		require.GreaterOrEqual(t, lines, len(want))
	}
}

func TestQ3EitherSideFirst(t *testing.T) {
	person := nexmark.Event{Type: nexmark.PersonEvent, Person: &nexmark.Person{ID: 1001, Name: "ada", City: "Bend", State: "OR", DateTime: 10}}
	auction := nexmark.Event{Type: nexmark.AuctionEvent, Auction: &nexmark.Auction{ID: 5000, Seller: 1001, Category: 10, DateTime: 20, Expires: 100}}
	other := nexmark.Event{Type: nexmark.AuctionEvent, Auction: &nexmark.Auction{ID: 5001, Seller: 1001, Category: 11, DateTime: 20, Expires: 100}}
	want := []string{`{"name":"ada","city":"Bend","state":"OR","id":5000}`}
	require.Equal(t, want, runQuery(t, "q3", []nexmark.Event{person, auction, other}, 1))
	require.Equal(t, want, runQuery(t, "q3", []nexmark.Event{auction, other, person}, 2))
	sort.Strings(want)
}
