package operators

import (
	"github.com/riffle-streams/riffle/stream"
)

// Map applies fn to every record; the timestamp is kept.
func Map[T, U any](s stream.Stream[T], name string, fn func(T) U) stream.Stream[U] {
	return stream.Transform(s, name, func() stream.Operator[T, U] { return &mapOp[T, U]{fn: fn} })
}

type mapOp[T, U any] struct {
	stream.BaseOperator
	fn  func(T) U
	out stream.Output[U]
}

func (o *mapOp[T, U]) Open(_ stream.Context, out stream.Output[U]) error { o.out = out; return nil }
func (o *mapOp[T, U]) ProcessElement(r stream.Record[T]) error {
	o.out.Emit(stream.Record[U]{Value: o.fn(r.Value), Timestamp: r.Timestamp})
	return nil
}

// MapErr is Map with a function that can fail: an error fails the job, naming the
// operator and the record's position.
func MapErr[T, U any](s stream.Stream[T], name string, fn func(T) (U, error)) stream.Stream[U] {
	return stream.Transform(s, name, func() stream.Operator[T, U] { return &mapErrOp[T, U]{fn: fn} })
}

type mapErrOp[T, U any] struct {
	stream.BaseOperator
	fn  func(T) (U, error)
	out stream.Output[U]
}

func (o *mapErrOp[T, U]) Open(_ stream.Context, out stream.Output[U]) error { o.out = out; return nil }
func (o *mapErrOp[T, U]) ProcessElement(r stream.Record[T]) error {
	v, err := o.fn(r.Value)
	if err != nil {
		return err
	}
	o.out.Emit(stream.Record[U]{Value: v, Timestamp: r.Timestamp})
	return nil
}

// FlatMap emits every value fn returns for a record, with the record's timestamp.
func FlatMap[T, U any](s stream.Stream[T], name string, fn func(T) []U) stream.Stream[U] {
	return stream.Transform(s, name, func() stream.Operator[T, U] { return &flatMapOp[T, U]{fn: fn} })
}

type flatMapOp[T, U any] struct {
	stream.BaseOperator
	fn  func(T) []U
	out stream.Output[U]
}

func (o *flatMapOp[T, U]) Open(_ stream.Context, out stream.Output[U]) error { o.out = out; return nil }
func (o *flatMapOp[T, U]) ProcessElement(r stream.Record[T]) error {
	for _, v := range o.fn(r.Value) {
		o.out.Emit(stream.Record[U]{Value: v, Timestamp: r.Timestamp})
	}
	return nil
}

// Filter keeps the records for which keep returns true (stream.Stream.Filter).
func Filter[T any](s stream.Stream[T], keep func(T) bool) stream.Stream[T] { return s.Filter(keep) }

// Emitter is what a process function emits through: the main output, side outputs and
// the record's timestamp.
type Emitter[OUT any] struct {
	ctx stream.Context
	out stream.Output[OUT]
	ts  int64
}

// Emit emits v with the timestamp of the record being processed.
func (e *Emitter[OUT]) Emit(v OUT) { e.out.Emit(stream.Record[OUT]{Value: v, Timestamp: e.ts}) }

// EmitAt emits v with timestamp ts.
func (e *Emitter[OUT]) EmitAt(v OUT, ts int64) {
	e.out.Emit(stream.Record[OUT]{Value: v, Timestamp: ts})
}

// Timestamp is the timestamp of the record being processed.
func (e *Emitter[OUT]) Timestamp() int64 { return e.ts }

// Context is the operator's context (subtask, clock, logger).
func (e *Emitter[OUT]) Context() stream.Context { return e.ctx }

// EmitSide emits v with the record's timestamp to a side output (read it with SideOutput).
func EmitSide[T, OUT any](e *Emitter[OUT], tag stream.OutputTag[T], v T) {
	stream.EmitSide(e.ctx, tag, stream.Record[T]{Value: v, Timestamp: e.ts})
}

// Process runs fn for every record of a stream that is not keyed; fn emits any number of
// records, to the main output or side outputs. An error fails the job.
func Process[T, U any](s stream.Stream[T], name string, fn func(v T, out *Emitter[U]) error) stream.Stream[U] {
	return stream.Transform(s, name, func() stream.Operator[T, U] { return &processOp[T, U]{fn: fn} })
}

type processOp[T, U any] struct {
	stream.BaseOperator
	fn func(T, *Emitter[U]) error
	em Emitter[U]
}

func (o *processOp[T, U]) Open(ctx stream.Context, out stream.Output[U]) error {
	o.em = Emitter[U]{ctx: ctx, out: out}
	return nil
}
func (o *processOp[T, U]) ProcessElement(r stream.Record[T]) error {
	o.em.ts = r.Timestamp
	return o.fn(r.Value, &o.em)
}

// SideOutput returns the records an operator emitted to tag (stream.SideOutput).
func SideOutput[T, U any](s stream.Stream[U], tag stream.OutputTag[T]) stream.Stream[T] {
	return stream.SideOutput(s, tag)
}

// KeyBy partitions s by key (stream.KeyBy).
func KeyBy[T any, K comparable](s stream.Stream[T], key func(T) K) stream.KeyedStream[K, T] {
	return stream.KeyBy(s, key)
}

// Union merges streams of one type.
func Union[T any](s stream.Stream[T], others ...stream.Stream[T]) stream.Stream[T] {
	return s.Union(others...)
}
