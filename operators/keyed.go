package operators

import (
	"github.com/riffle-streams/riffle/operators/keyed"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// ProcessFunction is a keyed process function (Flink's KeyedProcessFunction): it gets
// each record with its key, keyed state and timers, and the timers it set.
type ProcessFunction[K, IN, OUT any] = keyed.ProcessFunction[K, IN, OUT]

// ProcessContext is what a keyed process function gets with each record and timer.
type ProcessContext = keyed.Context

// ElementFunc adapts a function to a ProcessFunction without timers.
type ElementFunc[K, IN, OUT any] = keyed.ElementFunc[K, IN, OUT]

// KeyedProcess runs fn on a keyed stream, one instance per subtask (newFn is called once
// per subtask, so each instance owns its fields).
func KeyedProcess[K comparable, IN, OUT any](k stream.KeyedStream[K, IN], name string, newFn func() ProcessFunction[K, IN, OUT]) stream.Stream[OUT] {
	return stream.TransformKeyed(k, name, func() stream.Operator[IN, OUT] { return keyed.NewProcess(newFn(), k.KeyCodec()) })
}

// Reduce keeps a rolling reduction per key and emits the new value for every record.
func Reduce[K comparable, T any](k stream.KeyedStream[K, T], name string, reduce func(acc, v T) T) stream.Stream[T] {
	return stream.TransformKeyed(k, name, func() stream.Operator[T, T] {
		return keyed.NewReduce(reduce, state.Desc[T]{Name: name})
	})
}

// Aggregate keeps a rolling aggregate per key and emits its result for every record.
func Aggregate[K comparable, IN, ACC, OUT any](k stream.KeyedStream[K, IN], name string, agg state.Aggregate[IN, ACC, OUT]) stream.Stream[OUT] {
	return stream.TransformKeyed(k, name, func() stream.Operator[IN, OUT] {
		return keyed.NewAggregate(agg, state.Desc[ACC]{Name: name})
	})
}
