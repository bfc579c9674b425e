package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/riffle-streams/riffle/connectors/nexmark"
	nexq "github.com/riffle-streams/riffle/examples/nexmark"
	"github.com/riffle-streams/riffle/stream"
)

func nexmarkCommand() *command {
	return &command{
		name:    "nexmark",
		summary: "generate Nexmark events and run the Nexmark queries",
		subs:    []*command{nexmarkGenCommand(), nexmarkRunCommand(), nexmarkBenchCommand()},
	}
}

func nexmarkGenCommand() *command {
	return &command{
		name:    "gen",
		summary: "write generated Nexmark events to an Avro container file",
		usage:   "--events N [--seed S] [--rate EVENTS_PER_SECOND] --out FILE.avro",
		help: `Events follow the nexmark/nexmark generator (1 person : 3 auctions : 46 bids by event
number), deterministic for a seed. --rate spaces event times (not the writing). The file
is an Avro Object Container File of event.avsc (codec zstandard unless --codec says null,
deflate or snappy).`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			n := fs.Int64("events", 0, "number of events")
			seed := fs.Int64("seed", 0, "generator seed")
			rate := fs.Int64("rate", 0, "event-time rate in events per second (default the generator's 10,000)")
			out := fs.String("out", "", "output file")
			codec := fs.String("codec", "zstandard", "null, deflate, snappy or zstandard")
			return func(ctx context.Context, env *Env) error {
				if err := required("out", *out); err != nil {
					return err
				}
				if *n <= 0 {
					return usageErr("--events must be positive")
				}
				c, err := nexmark.ParseCodec(*codec)
				if err != nil {
					return usageErr("--codec: %v", err)
				}
				g, err := nexmark.NewGenerator(nexmark.GeneratorConfig{Seed: *seed, EventsPerSecond: *rate, NumEvents: *n})
				if err != nil {
					return err
				}
				t0 := time.Now()
				written, err := nexmark.WriteFile(*out, g, nexmark.WriterOptions{Codec: c})
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stderr, "wrote %d events to %s in %s\n", written, *out, time.Since(t0).Round(time.Millisecond))
				return nil
			}
		},
	}
}

func nexmarkRunCommand() *command {
	return &command{
		name:    "run",
		summary: "run a Nexmark query and write its results as JSON lines",
		usage:   "--query qN (--input FILE.avro | --events N) [--output FILE.jsonl] [--parallelism P]",
		help: `Runs query qN as a streaming job over the events of --input (an Avro container file made
by 'riffle nexmark gen' or any Avro writer) or of the generator (--events N, --seed S):
event time, watermarks 4 s behind the largest event time, allowed lateness 0; at the end
of the input the watermark goes to +infinity so every window fires. One JSON object per
result line, to --output or standard output. Queries: ` + strings.Join(nexq.Names(), ", ") + `.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			query := fs.String("query", "", "the query, e.g. q5")
			input := fs.String("input", "", "events file (Avro container)")
			n := fs.Int64("events", 0, "generate this many events instead of reading a file")
			seed := fs.Int64("seed", 0, "generator seed (with --events)")
			output := fs.String("output", "", "results file (default standard output)")
			par := fs.Int("parallelism", 1, "parallelism of every operator")
			return func(ctx context.Context, env *Env) error {
				q, ok := nexq.Queries[*query]
				if !ok {
					return usageErr("--query %q: implemented queries are %s", *query, strings.Join(nexq.Names(), ", "))
				}
				if (*input == "") == (*n <= 0) {
					return usageErr("give exactly one of --input FILE.avro and --events N")
				}
				if *par < 1 {
					return usageErr("--parallelism %d must be at least 1", *par)
				}
				w := env.Stdout
				if *output != "" {
					f, err := os.Create(*output)
					if err != nil {
						return err
					}
					defer f.Close()
					w = f
				}
				out := nexq.NewJSONLines(w)
				job := stream.NewJob("nexmark-"+*query, stream.JobOptions{Parallelism: *par, Logger: env.Logger})
				var src stream.Source[nexmark.Event]
				if *input != "" {
					src = &nexmark.FileSource{Path: *input}
				} else {
					src = &nexmark.GeneratorSource{Config: nexmark.GeneratorConfig{Seed: *seed, NumEvents: *n}, Parallel: *par}
				}
				events := stream.FromSource(job, "events", src, nexq.Watermarks())
				q(events, out)
				t0 := time.Now()
				err := job.Run(ctx)
				if ferr := out.Flush(); err == nil {
					err = ferr
				}
				if err != nil {
					if errors.Is(err, context.Canceled) {
						return errors.New("interrupted")
					}
					return err
				}
				fmt.Fprintf(env.Stderr, "%s: %d results in %s\n", *query, out.Count, time.Since(t0).Round(time.Millisecond))
				return nil
			}
		},
	}
}
