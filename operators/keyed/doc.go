// Package keyed holds the operator cores of keyed streams: process functions with state
// and timers, and rolling reductions. Each constructor returns a stream.Operator that the
// runtime (or streamtest.Harness) drives; the user-facing transforms of package operators
// wrap them.
//
// # Process functions
//
// A ProcessFunction is Flink's KeyedProcessFunction. NewProcess runs one on a keyed
// stream:
//
//	type counter struct{ n state.ValueState[int64] }
//
//	func (c *counter) Open(ctx stream.Context) (err error) {
//		c.n, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "n"})
//		return err
//	}
//
//	func (c *counter) ProcessElement(ctx keyed.Context, key string, r stream.Record[Click], out stream.Output[Count]) error {
//		n, _, err := c.n.Value()
//		if err != nil {
//			return err
//		}
//		if n == 0 {
//			ctx.RegisterEventTimeTimer(r.Timestamp + 60_000) // report after a minute
//		}
//		return c.n.Update(n + 1)
//	}
//
//	func (c *counter) OnTimer(ctx keyed.Context, key string, ts int64, d state.Domain, out stream.Output[Count]) error {
//		n, _, err := c.n.Value()
//		if err != nil {
//			return err
//		}
//		out.Emit(stream.Record[Count]{Value: Count{key, n}, Timestamp: ts})
//		return c.n.Clear()
//	}
//
//	op := keyed.NewProcess[string, Click, Count](&counter{}, nil)
//
// The user's duties, in order:
//
//  1. Create state handles in Open (implement Opener) from ctx.State(); names are unique
//     per operator and are how a restored snapshot finds its state again. Give a
//     state.Codec for types encoding/gob handles slowly or not at all.
//  2. In ProcessElement and OnTimer, read and write state only through those handles:
//     the runtime has set the current key, so every handle reads and writes that key's
//     state. Keep nothing per key in the function's own fields; it would be lost on
//     restore and shared by all keys.
//  3. Set timers through the Context; they are per key, kept in the state backend (so a
//     snapshot carries them) and de-duplicated per time. An event-time timer fires when
//     the watermark reaches its time, a processing-time timer when the clock does.
//  4. Emit with a timestamp: usually the record's (r.Timestamp) or the timer's (ts).
//     Side outputs go through stream.EmitSide(ctx, tag, record).
//  5. Clear state you no longer need, or give it a state.TTL: keyed state otherwise
//     grows with the number of keys.
//
// The key passed to the function is the runtime's current key decoded with the key codec
// given to NewProcess (nil: state.KeyCodecFor[K], the default of key-by), decoded once
// per run of records of one key.
//
// # Rolling reductions
//
// NewReduce is Flink's KeyedStream.reduce: every record updates its key's reduced value
// and the new value is emitted at once, with the record's timestamp (an updating result:
// the last record emitted for a key holds its current value). NewAggregate does the same
// with a state.Aggregate, emitting Result of the accumulator. Both keep one value state
// per key; pass a state.Desc with a TTL to forget idle keys.
//
// All operators of this package return ErrNotKeyed from Open on a stream that is not
// keyed.
package keyed
