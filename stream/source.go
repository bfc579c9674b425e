package stream

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Source produces records, split into parts read in parallel: subtask i of p reads
// splits i, i+p, i+2p, ... A bounded source's splits end with io.EOF; when every split of
// every source has ended, the watermark goes to MaxWatermark and every window fires.
type Source[T any] interface {
	// Splits lists the source's splits (log queues, partitions, file ranges).
	Splits(ctx context.Context) ([]string, error)
	// Open opens one split for reading.
	Open(ctx context.Context, split string) (SplitReader[T], error)
}

// SplitReader reads one split. It is used from one goroutine.
type SplitReader[T any] interface {
	// Read fills buf with the next records without blocking and returns how many: 0 when
	// none is available now. At the end of a bounded split it returns io.EOF itself
	// (possibly with n > 0); any other error, even one wrapping io.EOF (a truncated
	// record), fails the job with the split's position. Records may carry their event time in Timestamp.
	Read(buf []Record[T]) (n int, err error)
	// Offset is the position of the next record in the split (records are numbered
	// contiguously): it locates records in error messages, and checkpoints store it.
	Offset() int64
	// Wait blocks until Read may return records, or ctx ends. Readers that never block
	// return nil at once.
	Wait(ctx context.Context) error
	Close() error
}

// WatermarkStrategy says how a source's records get event time and how watermarks are
// generated, per split; a source subtask's watermark is the minimum over its splits that
// are not idle. A source subtask emits its watermark after each read (up to
// JobOptions.BatchSize records), as Flink's periodic generators do per interval: records
// of one read are never late relative to each other.
type WatermarkStrategy[T any] struct {
	// Timestamp extracts a record's event time (ms); nil keeps the time the source set.
	Timestamp func(T) int64
	// OutOfOrderness bounds how late a record may be: the watermark of a split is the
	// largest timestamp seen minus this minus 1 ms (0: monotonous timestamps).
	OutOfOrderness time.Duration
	// Idleness excludes a split from the minimum after it had no records for this long
	// (processing time), until it has records again. 0: never idle.
	Idleness time.Duration
	// NoWatermarks makes the source emit no watermark but MaxWatermark at its end
	// (processing-time jobs).
	NoWatermarks bool
}

// FromSource adds a source to the job.
func FromSource[T any](j *Job, name string, src Source[T], ws WatermarkStrategy[T]) Stream[T] {
	n := j.addNode(&node{name: j.uniqueName(name), kind: sourceNode})
	if l, ok := src.(CheckpointListener); ok {
		n.listener = l
	}
	n.newFanout = func() fanoutBuilder { return &fanout[T]{} }
	n.makeSource = func(env *subtaskEnv, outs outputSet) (sourceRunner, error) {
		return newSourceLoop(env, n, src, ws, outs.(*fanout[T]))
	}
	return Stream[T]{j: j, n: n}
}

// FromSlice is a bounded source of values, with timestamps from ts (nil: none), in one
// split.
func FromSlice[T any](j *Job, name string, values []T, ws WatermarkStrategy[T]) Stream[T] {
	return FromSource[T](j, name, &sliceSource[T]{values: values}, ws)
}

type sliceSource[T any] struct{ values []T }

func (s *sliceSource[T]) Splits(context.Context) ([]string, error) { return []string{"0"}, nil }
func (s *sliceSource[T]) Open(context.Context, string) (SplitReader[T], error) {
	return &sliceReader[T]{values: s.values}, nil
}

type sliceReader[T any] struct {
	values []T
	next   int
}

func (r *sliceReader[T]) Read(buf []Record[T]) (int, error) {
	n := 0
	for n < len(buf) && r.next < len(r.values) {
		buf[n] = Record[T]{Value: r.values[r.next], Timestamp: NoTimestamp}
		n++
		r.next++
	}
	if r.next == len(r.values) {
		return n, io.EOF
	}
	return n, nil
}
func (r *sliceReader[T]) Offset() int64                  { return int64(r.next) }
func (r *sliceReader[T]) Wait(ctx context.Context) error { return ctx.Err() }
func (r *sliceReader[T]) Close() error                   { return nil }

// splitWatermarks generates one split's watermarks.
type splitWatermarks struct {
	maxTs    int64
	bound    int64
	lastData time.Time
	idle     bool
	done     bool
}

func (w *splitWatermarks) current() int64 {
	if w.done {
		return MaxWatermark
	}
	if w.maxTs == MinWatermark {
		return MinWatermark
	}
	return w.maxTs - w.bound - 1
}

// Sink consumes a stream. Open is called once per subtask.
type Sink[T any] interface {
	Open(ctx Context) (SinkWriter[T], error)
}

// SinkWriter writes one subtask's records.
type SinkWriter[T any] interface {
	Write(r Record[T]) error
	// Close is called at the end of the input (after the final watermark) or when the
	// job stops.
	Close() error
}

// SinkFunc is a sink calling fn for every record (from every subtask: fn must be safe
// for concurrent use when the sink's parallelism is above 1).
type SinkFunc[T any] func(Record[T]) error

// Open returns fn as the writer of every subtask.
func (f SinkFunc[T]) Open(Context) (SinkWriter[T], error) { return funcWriter[T](f), nil }

type funcWriter[T any] func(Record[T]) error

func (f funcWriter[T]) Write(r Record[T]) error { return f(r) }
func (f funcWriter[T]) Close() error            { return nil }

// Discard is a sink that drops every record (benchmarks).
func Discard[T any]() Sink[T] { return SinkFunc[T](func(Record[T]) error { return nil }) }

// To writes s to sink, through a sink operator named name.
func (s Stream[T]) To(name string, sink Sink[T]) {
	n := s.j.addNode(&node{name: s.j.uniqueName(name), kind: sinkNode, sink: sink})
	connect(s, n, 0, forward, nil)
	setOneInput(n, func() Operator[T, struct{}] { return &sinkOp[T]{sink: sink} })
}

type sinkOp[T any] struct {
	BaseOperator
	sink Sink[T]
	w    SinkWriter[T]
}

func (o *sinkOp[T]) Open(ctx Context, _ Output[struct{}]) error {
	w, err := o.sink.Open(ctx)
	if err != nil {
		return fmt.Errorf("open sink: %w", err)
	}
	o.w = w
	return nil
}
func (o *sinkOp[T]) ProcessElement(r Record[T]) error { return o.w.Write(r) }

// countBytes lets the runner's metrics read a ByteCounter writer's bytes.
func (o *sinkOp[T]) countBytes(m *subtaskMetrics) {
	if bc, ok := o.w.(ByteCounter); ok {
		f := bc.Bytes
		m.bytes.Store(&f)
	}
}

// onBarrier pre-commits a PreCommitter writer's epoch e.
func (o *sinkOp[T]) onBarrier(env *subtaskEnv, name string, e uint64) error {
	pc, ok := o.w.(PreCommitter)
	if !ok {
		return nil
	}
	h, err := pc.PreCommit(e)
	if err != nil {
		return err
	}
	if _, ok := o.sink.(TwoPhaseCommitSink); ok {
		if env.parts.sinks == nil {
			env.parts.sinks = map[string][]byte{}
		}
		env.parts.sinks[name] = h
	}
	return nil
}
func (o *sinkOp[T]) Close() error {
	if o.w == nil {
		return nil
	}
	return o.w.Close()
}
