// Package runcount is the first example a reader meets: a running count per key, read
// from one topic of the embedded log and written to another, exactly-once.
//
// Every message of the input topic is a line KEY or KEY<TAB>VALUE (as `riffle log
// produce` stores it: with --keyed the key is the message key, otherwise the line is the
// body). For each message the job emits a message with key KEY and body KEY<TAB>COUNT,
// COUNT being how many messages with that key it has seen, this one included.
//
// The whole job is a few lines of the public API:
//
//	lines := stream.FromSource(job, "input", &logconn.Source[Line]{...}, stream.WatermarkStrategy[Line]{NoWatermarks: true})
//	byKey := stream.KeyBy(lines, func(l Line) string { return l.Key })
//	counts := operators.KeyedProcess(byKey, "count", newCounter)  // keyed state: one int64 per key
//	counts.To("output", &logconn.Sink[Count]{...})
//
// Run it with checkpoints (Options.StateDir) and it survives any crash: after a restart
// with any parallelism the output topic holds, for every key, exactly the bodies
// KEY<TAB>1 … KEY<TAB>n in order. `riffle run runcount` is this job on the command line.
package runcount

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/stream/runner"
)

// Line is one input message: its key.
type Line struct{ Key string }

// Count is one output record: a key and its running count.
type Count struct {
	Key string
	N   int64
}

// Options configures the job.
type Options struct {
	Log           *rlog.Log
	Input, Output string
	// Parallelism of every operator. Default 1.
	Parallelism int
	// Bounded stops the job once it has processed every message that was in Input when
	// it started (and committed them).
	Bounded bool
	// StateDir, when set, runs the job exactly-once with its state in Badger there; the
	// job then resumes where its last checkpoint left it. Empty: in memory, no recovery.
	StateDir string
	// CheckpointInterval between checkpoints. Default 1 s.
	CheckpointInterval time.Duration
	Logger             *slog.Logger
	// Restart restarts the job after a failure inside it.
	Restart stream.RestartStrategy

	// Tests: failAt is called with the number of records counted so far (by all
	// subtasks, this run) and fails the record if it returns an error; maxParallelism
	// overrides the job's.
	failAt         func(n int64) error
	maxParallelism int
}

// ParseLine reads a message of the input topic.
func ParseLine(m *rlog.Message) (Line, error) {
	if m.Key != nil {
		return Line{Key: string(m.Key)}, nil
	}
	key := m.Body
	if i := bytes.IndexByte(key, '\t'); i >= 0 {
		key = key[:i]
	}
	return Line{Key: string(key)}, nil
}

// Encode writes an output message: key KEY, body KEY<TAB>COUNT.
func Encode(r stream.Record[Count]) (*rlog.Message, error) {
	body := make([]byte, 0, len(r.Value.Key)+12)
	body = append(append(body, r.Value.Key...), '\t')
	body = strconv.AppendInt(body, r.Value.N, 10)
	return &rlog.Message{Queue: rlog.ByKey, Key: []byte(r.Value.Key), Body: body}, nil
}

// counter keeps one count per key in keyed state.
type counter struct {
	count  state.ValueState[int64]
	failAt func() error // tests
}

func (c *counter) Open(ctx stream.Context) (err error) {
	c.count, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "count"})
	return err
}

func (c *counter) ProcessElement(_ operators.ProcessContext, key string, r stream.Record[Line], out stream.Output[Count]) error {
	if c.failAt != nil {
		if err := c.failAt(); err != nil {
			return err
		}
	}
	n, _, err := c.count.Value()
	if err != nil {
		return err
	}
	n++
	if err := c.count.Update(n); err != nil {
		return err
	}
	out.Emit(stream.Record[Count]{Value: Count{Key: key, N: n}, Timestamp: r.Timestamp})
	return nil
}

func (c *counter) OnTimer(operators.ProcessContext, string, int64, state.Domain, stream.Output[Count]) error {
	return nil
}

// Job builds the running-count job. The output topic is created with as many queues as
// the input topic if it does not exist.
func Job(o Options) (*stream.Job, error) {
	if o.Log == nil || o.Input == "" || o.Output == "" {
		return nil, errors.New("runcount: Log, Input and Output are required")
	}
	jo := stream.JobOptions{Parallelism: max(o.Parallelism, 1), Logger: o.Logger, Restart: o.Restart, MaxParallelism: o.maxParallelism}
	if o.StateDir != "" {
		jo.Checkpoints = &stream.Checkpointing{Log: o.Log, StateDir: o.StateDir, Interval: o.CheckpointInterval}
	}
	var failAt func() error
	if o.failAt != nil {
		var n atomic.Int64
		failAt = func() error { return o.failAt(n.Add(1)) }
	}
	return build(o.Log, o.Input, o.Output, o.Bounded, jo, failAt)
}

func build(l *rlog.Log, input, output string, bounded bool, jo stream.JobOptions, failAt func() error) (*stream.Job, error) {
	in, err := l.Topic(input)
	if err != nil {
		return nil, fmt.Errorf("runcount: input: %w", err)
	}
	job := stream.NewJob("runcount", jo)
	lines := stream.FromSource(job, "input",
		&logconn.Source[Line]{Log: l, Topic: input, Start: logconn.Earliest, Bounded: bounded, Decode: ParseLine},
		stream.WatermarkStrategy[Line]{NoWatermarks: true})
	byKey := stream.KeyBy(lines, func(l Line) string { return l.Key })
	counts := operators.KeyedProcess(byKey, "count", func() operators.ProcessFunction[string, Line, Count] { return &counter{failAt: failAt} })
	counts.To("output", &logconn.Sink[Count]{Log: l, Topic: output, Queues: len(in.Queues), Encode: Encode})
	return job, nil
}

// RunnerJob is runcount for the runner (stream/runner): `riffle run runcount`.
func RunnerJob() runner.Job {
	var input, output string
	return runner.Job{
		Name:    "runcount",
		Summary: "count messages per key, exactly-once, from one topic into another",
		Help: `Reads topic IN, whose messages are lines KEY or KEY<TAB>VALUE (as 'riffle log produce'
stores them, with or without --keyed). For each message it writes to topic OUT a message
with key KEY and body KEY<TAB>COUNT, COUNT being how many messages with that key it has
seen, this one included. OUT is created with as many queues as IN if it does not exist.
After any number of crashes and restarts, with any parallelism, OUT holds for every key
exactly the bodies KEY<TAB>1 ... KEY<TAB>n in order.`,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&input, "input", "", "input topic")
			fs.StringVar(&output, "output", "", "output topic (created with as many queues as the input if missing)")
		},
		Build: func(_ context.Context, c *runner.Config) (*stream.Job, error) {
			if input == "" || output == "" {
				return nil, &runner.UsageError{Msg: "--input and --output are required"}
			}
			return build(c.Log, input, output, c.Bounded, c.Options, nil)
		},
	}
}
