// Command streamcompare runs the same stream-processing workloads side by side on
// riffle and on peers — a keyed running count (goka on kfake), a stateless transform
// (Benthos), a windowed count (go-streams) — each run in a fresh child process, and
// prints a table followed by one JSON object per row.
//
//	cd benchmarks/compare && go run ./cmd/streamcompare [flags]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/riffle-streams/riffle/benchmarks/compare"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == compare.StreamChildFlag {
		os.Exit(compare.StreamChildMain(os.Args[2:]))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "streamcompare:", err)
		os.Exit(1)
	}
}

func run() error {
	d := compare.StreamDefaults()
	var (
		systems    = flag.String("systems", strings.Join(d.Systems, ","), "comma-separated systems; each runs the workloads it implements")
		workloads  = flag.String("workloads", "count,transform,window", "comma-separated workloads: count (keyed running count), transform (stateless), window (windowed count)")
		countN     = flag.Int("count-records", d.CountRecords, "count: input messages")
		countK     = flag.Int("count-keys", d.CountKeys, "count: distinct keys")
		cpInterval = flag.Duration("checkpoint-interval", time.Second, "count: riffle's checkpoint interval (exactly-once)")
		transformN = flag.Int("transform-records", d.TransformRecords, "transform: input lines")
		windowN    = flag.Int("window-records", d.WindowRecords, "window: input events")
		windowK    = flag.Int("window-keys", d.WindowKeys, "window: distinct keys")
		runs       = flag.Int("runs", d.Runs, "measured runs per system and workload (medians are reported)")
		warmup     = flag.Float64("warmup", d.WarmupFraction, "warm-up run size as a fraction of a measured run (negative: no warm-up)")
		inProcess  = flag.Bool("in-process", false, "run everything in this process instead of a fresh child process per run (peak RSS is then not per run)")
		dir        = flag.String("dir", "", "parent directory of the runs' scratch directories (default the system temp dir)")
		out        = flag.String("out", "", "also write the JSON rows (one object per line) to this file")
		profiles   = flag.String("cpuprofile-dir", "", "write a CPU profile of each measured run's timed part into this directory")
		quiet      = flag.Bool("quiet", false, "no per-run progress on stderr")
		quietBelow = flag.Float64("wait-idle", 0, "before each run, wait until other processes use less than this percentage of the machine's CPU (0: don't wait)")
		quietWait  = flag.Duration("wait-idle-max", time.Minute, "longest wait of --wait-idle per run")
	)
	flag.Parse()

	cfg := compare.StreamConfig{
		Systems:      compare.SplitList(*systems),
		CountRecords: *countN, CountKeys: *countK, CheckpointInterval: *cpInterval, TransformRecords: *transformN,
		WindowRecords: *windowN, WindowKeys: *windowK,
		Runs: *runs, WarmupFraction: *warmup, Dir: *dir, CPUProfileDir: *profiles,
		QuietBelow: *quietBelow / 100, QuietWait: *quietWait, Progress: os.Stderr,
	}
	if *quiet {
		cfg.Progress = nil
	}
	for _, s := range cfg.Systems {
		if _, ok := compare.StreamSystemByName(s); !ok {
			return fmt.Errorf("unknown system %q", s)
		}
	}
	for _, w := range compare.SplitList(*workloads) {
		switch compare.StreamWorkload(w) {
		case compare.KeyedCount, compare.Transform, compare.WindowedCount:
			cfg.Workloads = append(cfg.Workloads, compare.StreamWorkload(w))
		default:
			return fmt.Errorf("unknown workload %q (want count, transform or window)", w)
		}
	}
	if len(cfg.Systems) == 0 || len(cfg.Workloads) == 0 {
		return fmt.Errorf("nothing to run")
	}
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.ChildExe = exe
	}
	if *profiles != "" {
		if err := os.MkdirAll(*profiles, 0o755); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	rows, err := compare.RunStreams(ctx, cfg)
	if err != nil {
		return err
	}
	if err := compare.WriteStreamTable(os.Stdout, rows); err != nil {
		return err
	}
	fmt.Printf("\ntotal %.1fs\n\n", time.Since(start).Seconds())
	if err := compare.WriteStreamJSONLines(os.Stdout, rows); err != nil {
		return err
	}
	if *out != "" {
		return compare.WriteFile(*out, func(w io.Writer) error { return compare.WriteStreamJSONLines(w, rows) })
	}
	return nil
}
