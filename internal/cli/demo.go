package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	"github.com/riffle-streams/riffle/connectors/nexmark"
	nexq "github.com/riffle-streams/riffle/examples/nexmark"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "watch a windowed streaming job run on the embedded log",
		usage:   "[--data DIR] [--duration D] [--rate N]",
		help: `Creates a data directory (a new temporary one unless --data is given) with a topic of four
queues, "events", which a producer fills with Nexmark events (Avro-encoded) at --rate
events per second. A streaming job reads the topic with event time and watermarks and
computes Nexmark q5, the hot items: per sliding window of 10 s every 2 s, the auctions
with the most bids. A progress line and the latest results print every second until
--duration passes or Ctrl-C; then it prints what to try next.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory (default: a new temporary directory)")
			dur := fs.Duration("duration", 20*time.Second, "how long to run")
			rate := fs.Int("rate", 20000, "events produced per second")
			return func(ctx context.Context, env *Env) error {
				if *rate <= 0 || *dur <= 0 {
					return usageErr("--rate and --duration must be positive")
				}
				return runDemo(ctx, env, *data, *dur, *rate)
			}
		},
	}
}

func runDemo(ctx context.Context, env *Env, dir string, dur time.Duration, rate int) error {
	out := env.Stdout
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "riffle-demo-"); err != nil {
			return err
		}
	}
	dir, _ = filepath.Abs(dir)
	l, err := rlog.Open(dir, rlog.Options{Logger: env.Logger})
	if err != nil {
		return err
	}
	defer l.Close()
	const topic = "events"
	if err := l.CreateTopic(ctx, topic, 4); err != nil && !errors.Is(err, rlog.ErrTopicExists) {
		return err
	}
	fmt.Fprintf(out, "riffle demo\n  data directory: %s\n  topic %q (4 queues) filled with Nexmark events at %d/s; job: q5 hot items\n\n", dir, topic, rate)

	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	schema := nexmark.Schema()
	var produced, consumed, results atomic.Int64
	// What the topic held before this run: a rerun on the same --data counts only its own
	// events.
	topicEnd := func() int64 {
		var n int64
		if ti, err := l.Topic(topic); err == nil {
			for _, q := range ti.Queues {
				n += q.Latest
			}
		}
		return n
	}
	before := topicEnd()

	// The producer: generated events, Avro-encoded, keyed by event kind and id.
	go func() {
		g, err := nexmark.NewGenerator(nexmark.GeneratorConfig{Seed: 1, EventsPerSecond: int64(rate), BaseTime: time.Now().UnixMilli()})
		if err != nil {
			return
		}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ev nexmark.Event
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			batch := make([]*rlog.Message, 0, rate/20)
			for len(batch) < cap(batch) && g.Next(&ev) {
				body, err := avro.Marshal(schema, &ev)
				if err != nil {
					return
				}
				batch = append(batch, &rlog.Message{Topic: topic, Queue: rlog.ByKey, Timestamp: ev.EventTime(), Body: body})
			}
			if err := l.Append(ctx, batch...); err != nil {
				return
			}
			produced.Add(int64(len(batch)))
		}
	}()

	// Exactly-once: results reach topic hot-items only when their checkpoint commits.
	job := stream.NewJob("demo-q5", stream.JobOptions{Logger: env.Logger, Checkpoints: &stream.Checkpointing{
		Log: l, StateDir: filepath.Join(dir, "jobs", "demo-q5", "state"), Interval: time.Second}})
	events := stream.FromSource(job, topic, &logconn.Source[nexmark.Event]{Log: l, Topic: topic, Start: logconn.Latest,
		Decode: func(m *rlog.Message) (nexmark.Event, error) {
			consumed.Add(1)
			var ev nexmark.Event
			return ev, avro.Unmarshal(schema, m.Body, &ev)
		}}, nexq.Watermarks())
	const resultTopic = "hot-items"
	nexq.Q5(events).To(resultTopic, &logconn.Sink[nexq.Q5Out]{Log: l, Topic: resultTopic, Queues: 1,
		Encode: func(r stream.Record[nexq.Q5Out]) (*rlog.Message, error) {
			b, err := json.Marshal(r.Value)
			return &rlog.Message{Queue: 0, Body: b}, err
		}})
	latest := map[int64][]nexq.Q5Out{} // committed results by window end
	var next int64                     // the next committed result to read
	if _, hi, err := l.QueueBounds(resultTopic, 0); err == nil {
		next = hi // a rerun on the same --data shows only its own results
	}
	readCommitted := func() {
		for {
			f, err := l.Read(ctx, resultTopic, 0, next, rlog.ReadOptions{Max: 1000})
			if err != nil || len(f.Messages) == 0 {
				return
			}
			for _, m := range f.Messages {
				var q nexq.Q5Out
				if json.Unmarshal(m.Body, &q) == nil {
					latest[q.WindowEnd] = append(latest[q.WindowEnd], q)
					results.Add(1)
				}
			}
			next = f.Next
		}
	}
	done := make(chan error, 1)
	go func() { done <- job.Run(ctx) }()

	start, last := time.Now(), time.Now()
	var lastIn int64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			readCommitted()
			// Counted from the topic: an append that was written as the demo stopped
			// may have returned the cancellation, uncounted by the producer.
			fmt.Fprintf(out, "\nstopped after %s on checkpoint %d: %d events produced, %d read by the job, %d results committed to topic %s\n",
				time.Since(start).Round(time.Second), job.Metrics().Checkpoints.LastEpoch, topicEnd()-before, consumed.Load(), results.Load(), resultTopic)
			fmt.Fprintf(out, `
What to try next:
  go run ./cmd/riffle log topics list --data %[1]s
  go run ./cmd/riffle log offsets --data %[1]s
  go run ./cmd/riffle log consume --data %[1]s --topic hot-items --from-beginning
  go run ./cmd/riffle run runcount --help
  go run ./cmd/riffle nexmark run --query q5 --events 200000
  go run ./cmd/riffle nexmark bench --all --events 5000000
  go test ./...
`, dir)
			return nil
		case now := <-tick.C:
			in := consumed.Load()
			rateIn := float64(in-lastIn) / now.Sub(last).Seconds()
			lastIn, last = in, now
			readCommitted()
			ends := make([]int64, 0, len(latest))
			for e := range latest {
				ends = append(ends, e)
			}
			sort.Slice(ends, func(i, j int) bool { return ends[i] > ends[j] })
			line := "waiting for the first window to close (windows close 4 s of event time after their end)"
			if len(ends) > 0 {
				w := latest[ends[0]]
				line = fmt.Sprintf("window [%s, %s): auction %d with %d bids", time.UnixMilli(w[0].WindowStart).Format("15:04:05"),
					time.UnixMilli(w[0].WindowEnd).Format("15:04:05"), w[0].Auction, w[0].Num)
				if len(w) > 1 {
					line += fmt.Sprintf(" (and %d tied)", len(w)-1)
				}
				for _, e := range ends[min(len(ends), 6):] {
					delete(latest, e)
				}
			}
			ck := job.Metrics().Checkpoints
			fmt.Fprintf(out, "[%3.0fs] in %7.0f events/s  produced %8d  checkpoint %3d (%4dms)  results %5d | hot item: %s\n",
				now.Sub(start).Seconds(), rateIn, produced.Load(), ck.LastEpoch, ck.LastDuration.Milliseconds(), results.Load(), line)
		}
	}
}
