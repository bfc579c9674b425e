package compare

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"

	"github.com/riffle-streams/riffle/examples/runcount"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/stream"
)

var quietLogger = slog.New(slog.DiscardHandler)

// countQueues is the number of queues (partitions) of KeyedCount's input and output
// topics, for riffle and goka alike: runcount's shape in benchmarks/exactlyonce.
const countQueues = 4

func riffleStreams() StreamSystem {
	return StreamSystem{
		Name: "riffle",
		Runs: map[StreamWorkload]func(context.Context, *StreamInput, *Outputs) error{
			KeyedCount:    riffleCount,
			Transform:     riffleTransform,
			WindowedCount: riffleWindow,
		},
		Semantics: map[StreamWorkload]string{
			KeyedCount: "exactly-once: examples/runcount (log topic of 4 queues -> KeyBy -> keyed ValueState[int64] -> log sink), parallelism 1, " +
				"stream.Checkpointing every --checkpoint-interval (default 1 s; each run's committed epochs are listed under Runs; state in Badger, output and offsets committed in one log transaction per epoch); " +
				"timed from Job.Run to its return (bounded input: every count committed in the output topic)",
			Transform:     "stream.FromSlice -> operators.MapErr(parse) -> Filter -> Map(format) -> SinkFunc, parallelism 1 (one chained goroutine), no checkpoints",
			WindowedCount: "event time: FromSlice with timestamps (watermarks, out-of-orderness 0) -> KeyBy -> operators.Window(Tumbling 1 s, AggregateProcess count) -> SinkFunc, heap state, parallelism 1, no checkpoints",
		},
	}
}

// riffleCount is examples/runcount exactly-once, as benchmarks/exactlyonce runs it.
func riffleCount(ctx context.Context, in *StreamInput, out *Outputs) error {
	spec := in.Spec
	l, err := rlog.Open(filepath.Join(spec.Dir, "log"), rlog.Options{Logger: quietLogger})
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.CreateTopic(ctx, "in", countQueues); err != nil {
		return err
	}
	batch := make([]*rlog.Message, 0, 4096)
	for i := range spec.Records {
		batch = append(batch, &rlog.Message{Topic: "in", Queue: i % countQueues, Body: []byte(CountKey(i, spec.Keys))})
		if len(batch) == cap(batch) || i == spec.Records-1 {
			if err := l.AppendWith(ctx, rlog.Async, batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	j, err := runcount.Job(runcount.Options{
		Log: l, Input: "in", Output: "out", Bounded: true,
		StateDir: filepath.Join(spec.Dir, "state"), CheckpointInterval: spec.CheckpointInterval, Logger: quietLogger,
	})
	if err != nil {
		return err
	}
	out.Start()
	if err := j.Run(ctx); err != nil {
		return err
	}
	out.Stop()
	// The run must have been exactly-once: checkpoints on, and at least the final
	// epoch (which commits the last outputs with the input offsets) committed.
	cp := j.Metrics().Checkpoints
	if !cp.Enabled || cp.Committed == 0 {
		return fmt.Errorf("riffle count: checkpoints enabled %v, %d epochs committed: not an exactly-once run", cp.Enabled, cp.Committed)
	}
	out.Checkpoints(int64(cp.Committed))
	out.Detail(fmt.Sprintf("%d checkpoint epochs committed, the last in %.0f ms", cp.Committed, cp.LastDuration.Seconds()*1000))
	// Untimed: read back what the job committed.
	info, err := l.Topic("out")
	if err != nil {
		return err
	}
	for _, q := range info.Queues {
		off := q.Earliest
		for {
			f, err := l.Read(ctx, "out", q.Queue, off, rlog.ReadOptions{Max: 4096})
			if err != nil {
				return err
			}
			if len(f.Messages) == 0 {
				break
			}
			for i := range f.Messages {
				key, n, err := splitCount(f.Messages[i].Body)
				if err != nil {
					return err
				}
				out.Count(key, n)
			}
			off = f.Next
		}
	}
	return nil
}

// splitCount parses runcount's output body KEY<TAB>COUNT.
func splitCount(b []byte) ([]byte, int64, error) {
	i := bytes.IndexByte(b, '\t')
	if i < 0 {
		return nil, 0, fmt.Errorf("output %q is not KEY<TAB>COUNT", b)
	}
	n, err := strconv.ParseInt(string(b[i+1:]), 10, 64)
	return b[:i], n, err
}

func riffleTransform(ctx context.Context, in *StreamInput, out *Outputs) error {
	job := stream.NewJob("transform", stream.JobOptions{Logger: quietLogger})
	lines := stream.FromSlice(job, "lines", in.Lines, stream.WatermarkStrategy[[]byte]{NoWatermarks: true})
	parsed := operators.MapErr(lines, "parse", ParseLine)
	kept := operators.Filter(parsed, Keep)
	formatted := operators.Map(kept, "format", Format)
	formatted.To("sink", stream.SinkFunc[[]byte](func(r stream.Record[[]byte]) error {
		out.Line(r.Value)
		return nil
	}))
	out.Start()
	return job.Run(ctx)
}

// eventCount is the aggregate "how many events".
type eventCount struct{}

func (eventCount) CreateAccumulator() int64     { return 0 }
func (eventCount) Add(_ Event, acc int64) int64 { return acc + 1 }
func (eventCount) Result(acc int64) int64       { return acc }
func (eventCount) Merge(a, b int64) int64       { return a + b }

// WindowResult is one key's count in one window.
type WindowResult struct {
	Key, Start, N int64
}

func riffleWindow(ctx context.Context, in *StreamInput, out *Outputs) error {
	job := stream.NewJob("window", stream.JobOptions{Logger: quietLogger})
	events := stream.FromSlice(job, "events", in.Events, stream.WatermarkStrategy[Event]{
		Timestamp: func(e Event) int64 { return e.TS },
	})
	byKey := stream.KeyBy(events, func(e Event) int64 { return e.Key })
	counts := operators.Window(byKey, "count",
		window.AggregateProcess(window.Tumbling(WindowSize, 0), eventCount{},
			func(key int64, w window.TimeWindow, n int64, c window.Collector[WindowResult]) {
				c.Collect(WindowResult{Key: key, Start: w.Start, N: n})
			}))
	counts.To("sink", stream.SinkFunc[WindowResult](func(r stream.Record[WindowResult]) error {
		out.Window(r.Value.Key, r.Value.Start, r.Value.N)
		return nil
	}))
	out.Start()
	return job.Run(ctx)
}
