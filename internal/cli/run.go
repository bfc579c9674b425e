package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/riffle-streams/riffle/examples/runcount"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

func runCommand() *command {
	return &command{
		name:    "run",
		summary: "run a registered job",
		subs:    []*command{runcountCommand()},
	}
}

func runcountCommand() *command {
	return &command{
		name:    "runcount",
		summary: "count messages per key, exactly-once, from one topic into another",
		usage:   "--data DIR --input IN --output OUT [--parallelism P] [--checkpoint-interval D] [--bounded]",
		help: `Reads topic IN of the log in DIR, whose messages are lines KEY or KEY<TAB>VALUE (as
'riffle log produce' stores them, with or without --keyed). For each message it writes to
topic OUT a message with key KEY and body KEY<TAB>COUNT, COUNT being how many messages with
that key it has seen, this one included. OUT is created with as many queues as IN if it
does not exist.

The job is exactly-once: every --checkpoint-interval its output, its state and its input
offsets commit in one log transaction, and readers of OUT see only committed output. Its
state lives in DIR/jobs/runcount/state (Badger). Killed at any point and run again, with
any --parallelism, it resumes from its last checkpoint: OUT then holds, for every key,
exactly the bodies KEY<TAB>1 ... KEY<TAB>n in order. A second runner on the same DIR is
refused (the directory is locked); a stale runner in the same process is fenced.

--bounded stops after every message that was in IN when the job started, commits a final
checkpoint, and exits 0. Without it the job runs until Ctrl-C.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			input := fs.String("input", "", "input topic")
			output := fs.String("output", "", "output topic (created if missing)")
			par := fs.Int("parallelism", 1, "parallelism of every operator")
			interval := fs.Duration("checkpoint-interval", time.Second, "time between checkpoints")
			bounded := fs.Bool("bounded", false, "stop after the messages in the input when the job starts")
			return func(ctx context.Context, env *Env) error {
				if err := required("data", *data, "input", *input, "output", *output); err != nil {
					return err
				}
				if *par < 1 {
					return usageErr("--parallelism must be at least 1")
				}
				if *interval <= 0 {
					return usageErr("--checkpoint-interval must be positive")
				}
				return runRuncount(ctx, env, *data, *input, *output, *par, *interval, *bounded)
			}
		},
	}
}

func runRuncount(ctx context.Context, env *Env, dir, input, output string, par int, interval time.Duration, bounded bool) error {
	l, err := rlog.Open(dir, rlog.Options{Logger: env.Logger})
	if err != nil {
		return err
	}
	defer l.Close()
	job, err := runcount.Job(runcount.Options{Log: l, Input: input, Output: output, Parallelism: par,
		Bounded: bounded, StateDir: filepath.Join(dir, "jobs", "runcount", "state"), CheckpointInterval: interval,
		Logger: env.Logger, Restart: stream.RestartStrategy{MaxAttempts: 3, Delay: time.Second}})
	if err != nil {
		return err
	}
	start := time.Now()
	err = job.Run(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintf(env.Stderr, "riffle run runcount: stopped after %s; everything up to its last checkpoint is committed, and the next run resumes there\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
	return err
}
