package operators

import (
	"github.com/riffle-streams/riffle/operators/join"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Join is a regular keyed stream-stream join (inner): both sides are kept in keyed state
// and a record joins every stored record of the other side, so either may arrive first.
// State grows with the inputs unless opts sets a TTL.
func Join[K comparable, L, R, OUT any](l stream.KeyedStream[K, L], r stream.KeyedStream[K, R], name string, fn join.JoinFunc[L, R, OUT], opts join.Options[L, R]) stream.Stream[OUT] {
	return twoInput(l, r, name, func() (stream.TwoInputOperator[L, R, OUT], error) { return join.NewJoin(fn, opts) })
}

// IntervalJoin joins l and r when r's time is within bounds of l's
// (l.ts + lower <= r.ts <= l.ts + upper); state is freed as the watermark passes.
func IntervalJoin[K comparable, L, R, OUT any](l stream.KeyedStream[K, L], r stream.KeyedStream[K, R], name string, b join.Bounds, fn join.JoinFunc[L, R, OUT], opts join.Options[L, R]) stream.Stream[OUT] {
	return twoInput(l, r, name, func() (stream.TwoInputOperator[L, R, OUT], error) { return join.NewIntervalJoin(b, fn, opts) })
}

// WindowJoin joins the records of l and r of a key that fall in the same window; pairs
// are emitted when the window fires.
func WindowJoin[K comparable, L, R, OUT any](l stream.KeyedStream[K, L], r stream.KeyedStream[K, R], name string, w join.Windows, fn join.JoinFunc[L, R, OUT], opts join.Options[L, R]) stream.Stream[OUT] {
	return twoInput(l, r, name, func() (stream.TwoInputOperator[L, R, OUT], error) { return join.NewWindowJoin(w, fn, opts) })
}

func twoInput[K comparable, L, R, OUT any](l stream.KeyedStream[K, L], r stream.KeyedStream[K, R], name string, newOp func() (stream.TwoInputOperator[L, R, OUT], error)) stream.Stream[OUT] {
	return stream.TransformKeyed2(l, r, name, func() stream.TwoInputOperator[L, R, OUT] {
		op, err := newOp()
		if err != nil {
			return failedOp[L, R, OUT]{err}
		}
		return op
	})
}

// failedOp reports a construction error when the job opens it.
type failedOp[L, R, OUT any] struct{ err error }

func (f failedOp[L, R, OUT]) Open(stream.Context, stream.Output[OUT]) error { return f.err }
func (failedOp[L, R, OUT]) ProcessElement1(stream.Record[L]) error          { return nil }
func (failedOp[L, R, OUT]) ProcessElement2(stream.Record[R]) error          { return nil }
func (failedOp[L, R, OUT]) OnTimer(state.Domain, state.Timer) error         { return nil }
func (failedOp[L, R, OUT]) OnWatermark(int64) error                         { return nil }
func (failedOp[L, R, OUT]) Close() error                                    { return nil }
