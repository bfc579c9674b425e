package keyed

import (
	"errors"
	"fmt"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// NewReduce returns the rolling reduce of a keyed stream (Flink's KeyedStream.reduce):
// for each record it folds the value into its key's reduced value, reduce(acc, v), and
// emits the new reduced value with the record's timestamp. The first record of a key is
// emitted as it is.
//
// The reduced value lives in a value state described by desc: its Name defaults to
// "reduce", its Codec to state.CodecFor[T], and its TTL (default none) lets idle keys
// expire, after which a key starts over. Without a TTL the state holds one value per key
// ever seen.
func NewReduce[T any](reduce func(acc, v T) T, desc state.Desc[T]) stream.Operator[T, T] {
	if desc.Name == "" {
		desc.Name = "reduce"
	}
	return &reduceOp[T]{reduce: reduce, desc: desc}
}

type reduceOp[T any] struct {
	stream.BaseOperator
	reduce func(acc, v T) T
	desc   state.Desc[T]
	acc    state.ValueState[T]
	out    stream.Output[T]
}

func (o *reduceOp[T]) Open(ctx stream.Context, out stream.Output[T]) error {
	if o.reduce == nil {
		return errors.New("keyed: Reduce needs a reduce function")
	}
	if ctx.State() == nil {
		return ErrNotKeyed
	}
	acc, err := state.NewValue(ctx.State(), o.desc)
	if err != nil {
		return fmt.Errorf("keyed: reduce: %w", err)
	}
	o.acc, o.out = acc, out
	return nil
}

// ProcessElement reads and writes the value state once (a ReducingState would read it a
// second time to emit the result).
func (o *reduceOp[T]) ProcessElement(r stream.Record[T]) error {
	acc, ok, err := o.acc.Value()
	if err != nil {
		return err
	}
	v := r.Value
	if ok {
		v = o.reduce(acc, v)
	}
	if err := o.acc.Update(v); err != nil {
		return err
	}
	o.out.Emit(stream.Record[T]{Value: v, Timestamp: r.Timestamp})
	return nil
}

// NewAggregate returns the rolling aggregate of a keyed stream: for each record it adds
// the value to its key's accumulator (agg.CreateAccumulator for a new key, then agg.Add)
// and emits agg.Result of the accumulator with the record's timestamp.
//
// The accumulator lives in a value state described by desc: Name defaults to
// "aggregate", Codec to state.CodecFor[ACC] (encoding/gob for structs: give a codec for
// speed), TTL as for NewReduce.
func NewAggregate[IN, ACC, OUT any](agg state.Aggregate[IN, ACC, OUT], desc state.Desc[ACC]) stream.Operator[IN, OUT] {
	if desc.Name == "" {
		desc.Name = "aggregate"
	}
	return &aggregateOp[IN, ACC, OUT]{agg: agg, desc: desc}
}

type aggregateOp[IN, ACC, OUT any] struct {
	stream.BaseOperator
	agg  state.Aggregate[IN, ACC, OUT]
	desc state.Desc[ACC]
	acc  state.ValueState[ACC]
	out  stream.Output[OUT]
}

func (o *aggregateOp[IN, ACC, OUT]) Open(ctx stream.Context, out stream.Output[OUT]) error {
	if o.agg == nil {
		return errors.New("keyed: Aggregate needs an aggregate function")
	}
	if ctx.State() == nil {
		return ErrNotKeyed
	}
	acc, err := state.NewValue(ctx.State(), o.desc)
	if err != nil {
		return fmt.Errorf("keyed: aggregate: %w", err)
	}
	o.acc, o.out = acc, out
	return nil
}

func (o *aggregateOp[IN, ACC, OUT]) ProcessElement(r stream.Record[IN]) error {
	acc, ok, err := o.acc.Value()
	if err != nil {
		return err
	}
	if !ok {
		acc = o.agg.CreateAccumulator()
	}
	acc = o.agg.Add(r.Value, acc)
	if err := o.acc.Update(acc); err != nil {
		return err
	}
	o.out.Emit(stream.Record[OUT]{Value: o.agg.Result(acc), Timestamp: r.Timestamp})
	return nil
}
