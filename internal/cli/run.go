package cli

import (
	"context"
	"errors"
	"flag"
	"sync"

	"github.com/riffle-streams/riffle/examples/runcount"
	"github.com/riffle-streams/riffle/stream/runner"
)

// builtinJobs registers the jobs riffle ships with, once.
var builtinJobs = sync.OnceFunc(func() {
	runner.Register(runcount.RunnerJob())
})

// runCommand is `riffle run NAME`: every registered job, with the runner's flags and
// its own. A user's program gets the same through runner.Main.
func runCommand() *command {
	builtinJobs()
	c := &command{name: "run", summary: "run a registered job, exactly-once"}
	for _, j := range runner.Jobs() {
		c.subs = append(c.subs, jobCommand(j))
	}
	return c
}

const runnerHelp = `Every job runs exactly-once: every --checkpoint-interval its outputs, its state and its
input offsets commit in one log transaction, and readers of its output topics see only
committed output. Its state lives in DIR/jobs/NAME/state (Badger). Killed at any point
and run again, with any --parallelism, it resumes from its last checkpoint. A second
runner on the same DIR is refused (the directory is locked).

--bounded stops after the input present when the job started, commits a final checkpoint
and exits 0. Without it the job runs until Ctrl-C (or SIGTERM), which stops it on a
final checkpoint (exit 0).

On a terminal a progress line shows records in and out per second, the watermark lag,
the last checkpoint and the state size (--progress log: log lines every 10 s instead).
--http ADDR serves /metrics (Prometheus), /healthz and /api/job (JSON).`

func jobCommand(j runner.Job) *command {
	usage := "--data DIR [--parallelism P] [--checkpoint-interval D] [--bounded] [--http ADDR]"
	if j.Name == "runcount" {
		usage = "--data DIR --input IN --output OUT [--parallelism P] [--checkpoint-interval D] [--bounded]"
	}
	help := runnerHelp
	if j.Help != "" {
		help = j.Help + "\n\n" + runnerHelp
	}
	return &command{
		name:    j.Name,
		summary: j.Summary,
		usage:   usage,
		help:    help,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			var f runner.Flags
			f.Define(fs)
			if j.Flags != nil {
				j.Flags(fs)
			}
			return func(ctx context.Context, env *Env) error {
				err := runner.Run(ctx, j, f, env.Stderr, env.Logger, nil)
				var ue *runner.UsageError
				if errors.As(err, &ue) {
					return usageErr("%s", ue.Msg)
				}
				return err
			}
		},
	}
}
