package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/hamba/avro/v2"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	"github.com/riffle-streams/riffle/connectors/nexmark"
	nexq "github.com/riffle-streams/riffle/examples/nexmark"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// NexmarkBenchResult is the JSON line `riffle nexmark bench` ends with.
type NexmarkBenchResult struct {
	Query                string   `json:"query"`
	Events               int64    `json:"events"`
	Seconds              float64  `json:"seconds"`
	EventsPerSec         float64  `json:"events_per_sec"`
	EventsPerSecPerCore  float64  `json:"events_per_sec_per_core"`
	RSSMB                float64  `json:"rss_mb"`
	BaselineEventsPerSec *float64 `json:"baseline_events_per_sec,omitempty"`
	Ratio                *float64 `json:"ratio,omitempty"`
}

func nexmarkBenchCommand() *command {
	return &command{
		name:    "bench",
		summary: "measure a Nexmark query's throughput",
		usage:   "--query qN --events N [--through-log] [--exactly-once] [--parallelism P] [--baseline] | --all --events N",
		help: `Runs the query on the in-process generator with a discarding sink and prints, as its last
line, one JSON object: {"query","events","seconds","events_per_sec",
"events_per_sec_per_core","rss_mb"}. events_per_sec_per_core divides the events by the CPU
time the process used (user + system), so it does not depend on how many cores were busy.
rss_mb is the peak resident memory of the process. With --baseline the same computation
also runs as a plain Go loop over the generator, with no framework, in the same process:
"baseline_events_per_sec" (per CPU second: the loop runs on one core) and "ratio"
(events_per_sec_per_core / baseline_events_per_sec) are added. --all runs every
implemented query and prints one line per query.

--through-log first writes the events, Avro-encoded, to a topic of an embedded log in a
temporary directory (not timed), then times the job reading that topic (decoding Avro)
and writing its results as JSON messages to another topic. --exactly-once (implies
--through-log) runs the job with checkpoints every second: results commit through the
log's transactions and state lives in Badger.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			query := fs.String("query", "", "the query, e.g. q5")
			n := fs.Int64("events", 10_000_000, "number of events")
			par := fs.Int("parallelism", 1, "parallelism of every operator")
			baseline := fs.Bool("baseline", false, "also run the plain-loop baseline")
			all := fs.Bool("all", false, "every implemented query")
			throughLog := fs.Bool("through-log", false, "read events from a log topic and write results to one")
			eo := fs.Bool("exactly-once", false, "checkpoints every second (implies --through-log)")
			cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed part to this file")
			return func(ctx context.Context, env *Env) error {
				queries := []string{*query}
				if *all {
					queries = nexq.Names()
				} else if _, ok := nexq.Queries[*query]; !ok {
					return usageErr("--query %q: implemented queries are %s", *query, strings.Join(nexq.Names(), ", "))
				}
				if *n <= 0 || *par < 1 {
					return usageErr("--events and --parallelism must be positive")
				}
				if *cpuprofile != "" {
					f, err := os.Create(*cpuprofile)
					if err != nil {
						return err
					}
					defer f.Close()
					profileFile = f
				}
				for _, q := range queries {
					res, err := nexmarkBench(ctx, q, *n, *par, *baseline || *all, *throughLog || *eo, *eo)
					if err != nil {
						return err
					}
					b, _ := json.Marshal(res)
					fmt.Fprintln(env.Stdout, string(b))
				}
				return nil
			}
		},
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func maxRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

func nexmarkBench(ctx context.Context, q string, n int64, par int, baseline, throughLog, eo bool) (NexmarkBenchResult, error) {
	opts := stream.JobOptions{Parallelism: par, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var events stream.Stream[nexmark.Event]
	out := nexq.NewJSONLines(nil)
	if throughLog {
		dir, err := os.MkdirTemp("", "riffle-nexbench-")
		if err != nil {
			return NexmarkBenchResult{}, err
		}
		defer os.RemoveAll(dir)
		l, err := rlog.Open(dir, rlog.Options{Logger: opts.Logger})
		if err != nil {
			return NexmarkBenchResult{}, err
		}
		defer l.Close()
		if err := fillEvents(ctx, l, "events", 4, n); err != nil {
			return NexmarkBenchResult{}, err
		}
		if eo {
			opts.Checkpoints = &stream.Checkpointing{Log: l, StateDir: filepath.Join(dir, "state"), Interval: time.Second}
		}
		job := stream.NewJob("bench-"+q, opts)
		schema := nexmark.Schema()
		events = stream.FromSource(job, "events", &logconn.Source[nexmark.Event]{Log: l, Topic: "events", Start: logconn.Earliest, Bounded: true,
			Decode: func(m *rlog.Message) (ev nexmark.Event, err error) { return ev, avro.Unmarshal(schema, m.Body, &ev) }}, nexq.Watermarks())
		out = nexq.NewLogJSONLines(l, "results")
	} else {
		job := stream.NewJob("bench-"+q, opts)
		events = stream.FromSource(job, "events", &nexmark.GeneratorSource{Config: nexmark.GeneratorConfig{NumEvents: n}, Parallel: par}, nexq.Watermarks())
	}
	job := events.Job()
	nexq.Queries[q](events, out)
	if profileFile != nil {
		if err := pprof.StartCPUProfile(profileFile); err == nil {
			defer pprof.StopCPUProfile()
		}
	}
	cpu0, t0 := cpuSeconds(), time.Now()
	if err := job.Run(ctx); err != nil {
		return NexmarkBenchResult{}, err
	}
	secs, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	res := NexmarkBenchResult{Query: q, Events: n, Seconds: secs, EventsPerSec: float64(n) / secs,
		EventsPerSecPerCore: float64(n) / cpu, RSSMB: maxRSSMB()}
	if fn, ok := nexq.Baselines[q]; ok && baseline {
		g, err := nexmark.NewGenerator(nexmark.GeneratorConfig{NumEvents: n})
		if err != nil {
			return res, err
		}
		c1 := cpuSeconds()
		fn(g)
		b := float64(n) / (cpuSeconds() - c1) // one goroutine: CPU time is its time on a core
		ratio := res.EventsPerSecPerCore / b
		res.BaselineEventsPerSec, res.Ratio = &b, &ratio
	}
	return res, nil
}

// profileFile, when set, receives a CPU profile of the timed part of the bench.
var profileFile *os.File

// fillEvents appends n generated events, Avro-encoded, to a new topic of l.
func fillEvents(ctx context.Context, l *rlog.Log, topic string, queues int, n int64) error {
	if err := l.CreateTopic(ctx, topic, queues); err != nil {
		return err
	}
	g, err := nexmark.NewGenerator(nexmark.GeneratorConfig{NumEvents: n})
	if err != nil {
		return err
	}
	schema := nexmark.Schema()
	var ev nexmark.Event
	batch := make([]*rlog.Message, 0, 4096)
	for i := 0; ; i++ {
		more := g.Next(&ev)
		if more {
			body, err := avro.Marshal(schema, &ev)
			if err != nil {
				return err
			}
			batch = append(batch, &rlog.Message{Topic: topic, Queue: i % queues, Timestamp: ev.EventTime(), Body: body})
		}
		if len(batch) == cap(batch) || (!more && len(batch) > 0) {
			if err := l.AppendWith(ctx, rlog.Async, batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if !more {
			return l.Checkpoint(ctx)
		}
	}
}
