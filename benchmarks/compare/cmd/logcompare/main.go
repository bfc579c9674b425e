// Command logcompare runs the same log workloads side by side on riffle's embedded log
// and on peers (tidwall/wal, embedded NATS JetStream, Liftbridge's commitlog) and prints
// a table followed by one JSON object per row.
//
//	cd benchmarks/compare && go run ./cmd/logcompare [flags]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/riffle-streams/riffle/benchmarks/compare"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "logcompare:", err)
		os.Exit(1)
	}
}

func run() error {
	d := compare.Defaults()
	var (
		systems    = flag.String("systems", "riffle,riffle-pipelined,wal,jetstream,liftbridge", "comma-separated systems to run (riffle, riffle-pipelined, wal, jetstream, liftbridge)")
		workloads  = flag.String("workloads", "a,b,c,d", "comma-separated workloads: a (batched 1 KiB), b (batched 100 B), c (sync, concurrent producers), d (read back a)")
		messages   = flag.Int("messages", d.Messages, "workload a: messages per run")
		size       = flag.Int("size", d.Size, "workloads a, c, d: body size in bytes")
		small      = flag.Int("small-messages", d.SmallMessages, "workload b: messages per run")
		smallSize  = flag.Int("small-size", d.SmallSize, "workload b: body size in bytes")
		batch      = flag.Int("batch", d.Batch, "workloads a, b: messages per append call")
		producers  = flag.Int("sync-producers", d.SyncProducers, "workload c: concurrent producers")
		syncMsgs   = flag.Int("sync-messages", d.SyncMessages, "workload c: most messages per run")
		syncDur    = flag.Duration("sync-duration", d.SyncDuration, "workload c: producers start no new append after this")
		runs       = flag.Int("runs", d.Runs, "measured runs per system and workload (the median is reported)")
		warmup     = flag.Float64("warmup", d.WarmupFraction, "warm-up run size as a fraction of a measured run")
		jsScale    = flag.Float64("jetstream-scale", compare.JetStreamScale, "fraction of workloads a and b messages JetStream appends (it is much slower per message)")
		dir        = flag.String("dir", "", "parent directory of the per-run data directories (default the system temp dir)")
		out        = flag.String("out", "", "also write the JSON rows (one object per line) to this file")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		quiet      = flag.Bool("quiet", false, "no per-run progress on stderr")
		quietBelow = flag.Float64("wait-idle", 0, "before each measured run, wait until other processes use less than this percentage of the machine's CPU (0: don't wait)")
		quietWait  = flag.Duration("wait-idle-max", time.Minute, "longest wait of --wait-idle per run")
	)
	flag.Parse()

	all := map[string]compare.System{}
	for _, s := range []compare.System{compare.Riffle(), compare.RifflePipelined(), compare.TidwallWAL(), compare.JetStream(), compare.Liftbridge()} {
		all[s.Name] = s
	}
	alias := map[string]string{"wal": "tidwall/wal", "tidwall": "tidwall/wal", "jetstream": "nats-jetstream", "nats": "nats-jetstream"}
	cfg := compare.Config{
		Messages: *messages, Size: *size, SmallMessages: *small, SmallSize: *smallSize, Batch: *batch,
		SyncProducers: *producers, SyncMessages: *syncMsgs, SyncDuration: *syncDur,
		Runs: *runs, WarmupFraction: *warmup, Dir: *dir, Progress: os.Stderr,
		QuietBelow: *quietBelow / 100, QuietWait: *quietWait,
	}
	if *quiet {
		cfg.Progress = nil
	}
	for _, name := range compare.SplitList(*systems) {
		if a, ok := alias[name]; ok {
			name = a
		}
		s, ok := all[name]
		if !ok {
			return fmt.Errorf("unknown system %q", name)
		}
		if s.Name == "nats-jetstream" {
			s.Scale = *jsScale
		}
		cfg.Systems = append(cfg.Systems, s)
	}
	for _, w := range compare.SplitList(*workloads) {
		switch compare.Workload(w) {
		case compare.BatchLarge, compare.BatchSmall, compare.SyncConcurrent, compare.ReadAll:
			cfg.Workloads = append(cfg.Workloads, compare.Workload(w))
		default:
			return fmt.Errorf("unknown workload %q (want a, b, c or d)", w)
		}
	}
	if len(cfg.Systems) == 0 || len(cfg.Workloads) == 0 {
		return fmt.Errorf("nothing to run")
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	rows, err := compare.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := compare.WriteTable(os.Stdout, rows); err != nil {
		return err
	}
	fmt.Printf("\ntotal %.1fs; process peak RSS (getrusage maxrss) %.0f MB\n\n", time.Since(start).Seconds(), float64(compare.MaxRSS())/1e6)
	if err := compare.WriteJSONLines(os.Stdout, rows); err != nil {
		return err
	}
	if *out != "" {
		return compare.WriteFile(*out, func(w io.Writer) error { return compare.WriteJSONLines(w, rows) })
	}
	return nil
}
