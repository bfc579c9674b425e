package nexmark

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/connectors/nexmark"
	"github.com/riffle-streams/riffle/stream"
)

// generated returns n generated events, shuffled so that events are out of order by less
// than 3 s of event time (QUERIES.md allows < 4 s), with the seed it used.
func generated(t *testing.T, n int) ([]nexmark.Event, uint64) {
	t.Helper()
	g, err := nexmark.NewGenerator(nexmark.GeneratorConfig{Seed: 7, NumEvents: int64(n)})
	require.NoError(t, err)
	var evs []nexmark.Event
	var ev nexmark.Event
	for g.Next(&ev) {
		evs = append(evs, ev.Clone())
	}
	seed := rand.Uint64()
	t.Logf("shuffle seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	// Swap neighbours within a 3 s window of event time.
	for i := range evs {
		j := i + rng.IntN(20)
		if j < len(evs) && evs[j].EventTime()-evs[i].EventTime() < 3000 {
			evs[i], evs[j] = evs[j], evs[i]
		}
	}
	return evs, seed
}

// runQuery runs query name over evs at parallelism p and returns its JSON lines, sorted.
func runQuery(t *testing.T, name string, evs []nexmark.Event, p int) []string {
	t.Helper()
	job := stream.NewJob(name, stream.JobOptions{Parallelism: p, BatchSize: 64})
	events := stream.FromSlice(job, "events", evs, Watermarks())
	var lines []string
	out := &capture{lines: &lines}
	WriteJSONFunc(Queries[name], events, out)
	require.NoError(t, job.Run(context.Background()))
	sort.Strings(lines)
	return lines
}

// naive turns results computed by a plain loop into sorted JSON lines.
func naive[T any](t *testing.T, rs []T) []string {
	var out []string
	for _, r := range rs {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func TestStatelessQueriesMatchBatch(t *testing.T) {
	evs, _ := generated(t, 5000)
	var q0 []Q0Out
	var q1 []BidOut
	var q2 []Q2Out
	for _, e := range evs {
		if b := e.Bid; b != nil {
			q0 = append(q0, Q0Out{b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra})
			q1 = append(q1, BidOut{b.Auction, b.Bidder, 0.908 * float64(b.Price), b.DateTime, b.Extra})
			if b.Auction%123 == 0 {
				q2 = append(q2, Q2Out{b.Auction, b.Price})
			}
		}
	}
	for _, p := range []int{1, 3} {
		require.Equal(t, naive(t, q0), runQuery(t, "q0", evs, p), "q0 p=%d", p)
		require.Equal(t, naive(t, q1), runQuery(t, "q1", evs, p), "q1 p=%d", p)
		require.Equal(t, naive(t, q2), runQuery(t, "q2", evs, p), "q2 p=%d", p)
	}
	require.NotEmpty(t, q2)
}

func TestQ1HandChecked(t *testing.T) {
	evs := []nexmark.Event{
		{Type: nexmark.BidEvent, Bid: &nexmark.Bid{Auction: 1000, Bidder: 2001, Price: 1000, DateTime: 5, Extra: "x"}},
		{Type: nexmark.PersonEvent, Person: &nexmark.Person{ID: 1000, DateTime: 6}},
		{Type: nexmark.BidEvent, Bid: &nexmark.Bid{Auction: 1230, Bidder: 2002, Price: 250, DateTime: 7}},
	}
	require.Equal(t, []string{
		`{"auction":1000,"bidder":2001,"price":908,"dateTime":5,"extra":"x"}`,
		`{"auction":1230,"bidder":2002,"price":227,"dateTime":7,"extra":""}`,
	}, runQuery(t, "q1", evs, 1))
	require.Equal(t, []string{`{"auction":1230,"price":250}`}, runQuery(t, "q2", evs, 2))
}

type capture struct{ lines *[]string }

func (c *capture) add(s string) { *c.lines = append(*c.lines, s) }
