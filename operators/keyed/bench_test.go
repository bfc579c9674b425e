package keyed_test

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/riffle-streams/riffle/operators/keyed"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

func newBenchCtx() *streamtest.Context { return streamtest.NewContext() }

type encodedKey struct {
	b  []byte
	kg int
}

func benchKeys(n int) []encodedKey {
	ks := make([]encodedKey, n)
	for i := range ks {
		b := binary.LittleEndian.AppendUint64(nil, uint64(i))
		ks[i] = encodedKey{b, state.KeyGroup(b, state.DefaultMaxParallelism)}
	}
	return ks
}

type discard[T any] struct{ n int }

func (d *discard[T]) Emit(stream.Record[T]) { d.n++ }

func runOneInput[IN, OUT any](b *testing.B, op stream.Operator[IN, OUT], keys int, value func(i int) IN) {
	ctx := newBenchCtx()
	out := &discard[OUT]{}
	if err := op.Open(ctx, out); err != nil {
		b.Fatal(err)
	}
	ks := benchKeys(keys)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := ks[i%len(ks)]
		ctx.Heap.SetCurrentKey(k.b, k.kg)
		if err := op.ProcessElement(stream.Record[IN]{Value: value(i), Timestamp: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkReduce(b *testing.B) {
	for _, keys := range []int{1, 1000, 100_000} {
		b.Run(keyName(keys), func(b *testing.B) {
			runOneInput(b, keyed.NewReduce(func(a, v int64) int64 { return a + v }, state.Desc[int64]{}), keys,
				func(i int) int64 { return int64(i) })
		})
	}
}

func BenchmarkAggregate(b *testing.B) {
	for _, keys := range []int{1, 1000, 100_000} {
		b.Run(keyName(keys), func(b *testing.B) {
			runOneInput(b, keyed.NewAggregate[int64, [2]int64, float64](avgAgg{}, state.Desc[[2]int64]{}), keys,
				func(i int) int64 { return int64(i) })
		})
	}
}

// BenchmarkProcess counts per key in a value state and sets one event-time timer per
// key: the shape of most process functions.
func BenchmarkProcess(b *testing.B) {
	for _, keys := range []int{1, 1000, 100_000} {
		b.Run(keyName(keys), func(b *testing.B) {
			fn := &counter{}
			runOneInput(b, keyed.NewProcess[int64, int64, int64](fn, nil), keys, func(i int) int64 { return int64(i) })
		})
	}
}

type counter struct{ n state.ValueState[int64] }

func (c *counter) Open(ctx stream.Context) (err error) {
	c.n, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "n"})
	return err
}

func (c *counter) ProcessElement(ctx keyed.Context, key int64, r stream.Record[int64], out stream.Output[int64]) error {
	n, _, err := c.n.Value()
	if err != nil {
		return err
	}
	if n == 0 {
		ctx.RegisterEventTimeTimer(1 << 40)
	}
	out.Emit(stream.Record[int64]{Value: key, Timestamp: r.Timestamp})
	return c.n.Update(n + 1)
}

func (c *counter) OnTimer(keyed.Context, int64, int64, state.Domain, stream.Output[int64]) error {
	return nil
}

func keyName(n int) string { return fmt.Sprintf("keys=%d", n) }
