package join_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators/join"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// driver runs a two-input operator as the runtime would, without a harness's
// bookkeeping (keys are encoded in advance, results are counted, not kept), so that
// benchmarks measure the operator and the state backend.
type driver struct {
	*streamtest.Context
	results int
}

func newDriver() *driver { return &driver{Context: streamtest.NewContext()} }

func (d *driver) Emit(stream.Record[pair]) { d.results++ }

// watermark fires the due event-time timers and moves the watermark.
func (d *driver) watermark(b testing.TB, op stream.TwoInputOperator[lrec, rrec, pair], wm int64) {
	if err := d.AdvanceWatermark(wm, op.OnTimer); err != nil {
		b.Fatal(err)
	}
	if err := op.OnWatermark(wm); err != nil {
		b.Fatal(err)
	}
}

func TestJoinsNeedAKeyedStream(t *testing.T) {
	d := newDriver()
	d.Heap = nil
	for _, op := range []stream.TwoInputOperator[lrec, rrec, pair]{
		windowJoin(t, join.Tumbling(time.Second))(),
		intervalJoin(t, join.Between(0, 0))(),
		regularJoin(t, join.Inner, 0)(),
	} {
		require.ErrorIs(t, op.Open(d, d), join.ErrNotKeyed)
	}
}

// benchJoin feeds b.N records, alternately left and right, one ms apart: record i has
// key keyOf(i) and a watermark of ts-lag follows every 256 records. It reports input
// records/s and results per record.
func benchJoin(b *testing.B, op stream.TwoInputOperator[lrec, rrec, pair], keyOf func(i int) uint64, lag int64) {
	d := newDriver()
	require.NoError(b, op.Open(d, d))
	var key [8]byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		binary.LittleEndian.PutUint64(key[:], keyOf(i))
		d.Heap.SetCurrentKey(key[:], state.KeyGroup(key[:], state.DefaultMaxParallelism))
		ts := int64(i)
		var err error
		if i%2 == 0 {
			err = op.ProcessElement1(stream.Record[lrec]{Value: lrec{V: ts}, Timestamp: ts})
		} else {
			err = op.ProcessElement2(stream.Record[rrec]{Value: rrec{V: ts}, Timestamp: ts})
		}
		if err != nil {
			b.Fatal(err)
		}
		if i%256 == 255 {
			d.watermark(b, op, ts-lag)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(d.results)/float64(b.N), "results/record")
}

// The record codecs of the benchmarks: snapshots only, but gob would be the default.
var benchOpts = join.Options[lrec, rrec]{LeftCodec: lcodec{}, RightCodec: rcodec{}}

type lcodec struct{}

func (lcodec) Append(dst []byte, v lrec) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(v.V))
}
func (lcodec) Decode(b []byte) (lrec, error) {
	return lrec{V: int64(binary.LittleEndian.Uint64(b))}, nil
}

type rcodec struct{}

func (rcodec) Append(dst []byte, v rrec) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(v.V))
}
func (rcodec) Decode(b []byte) (rrec, error) {
	return rrec{V: int64(binary.LittleEndian.Uint64(b))}, nil
}

func BenchmarkWindowJoin(b *testing.B) {
	// 200 keys. Tumbling and sliding: a key has a left and a right record every 400 ms.
	// Sessions: a key has a burst of 16 left and 16 right records in 32 ms every 6.4 s,
	// which makes one session.
	spread := func(i int) uint64 { return uint64(i/2*7919) % 200 }
	bursts := func(i int) uint64 { return uint64(i/32*7919) % 200 }
	for _, c := range []struct {
		name  string
		w     join.Windows
		keyOf func(int) uint64
	}{
		{"tumbling=1s", join.Tumbling(time.Second), spread},
		{"sliding=1s/250ms", join.Sliding(time.Second, 250*time.Millisecond), spread},
		{"session=100ms", join.Session(100 * time.Millisecond), bursts},
	} {
		b.Run(c.name, func(b *testing.B) {
			op, err := join.NewWindowJoin(c.w, toPair, benchOpts)
			require.NoError(b, err)
			benchJoin(b, op, c.keyOf, 100)
		})
	}
}

func BenchmarkIntervalJoin(b *testing.B) {
	op, err := join.NewIntervalJoin(join.Between(-time.Second, time.Second), toPair, benchOpts)
	require.NoError(b, err)
	benchJoin(b, op, func(i int) uint64 { return uint64(i/2*7919) % 200 }, 100)
}

// BenchmarkJoin is Nexmark q3's shape: keys keep arriving (a person with a few
// auctions), and every key's records join on arrival. Without a TTL the state grows
// with b.N.
func BenchmarkJoin(b *testing.B) {
	for _, c := range []struct {
		name string
		k    join.Kind
		ttl  time.Duration
	}{{"inner", join.Inner, 0}, {"inner ttl", join.Inner, time.Hour}, {"full outer", join.FullOuter, 0}} {
		b.Run(c.name, func(b *testing.B) {
			opts := benchOpts
			opts.TTL = c.ttl
			var op stream.TwoInputOperator[lrec, rrec, pair]
			var err error
			if c.k == join.Inner {
				op, err = join.NewJoin(toPair, opts)
			} else {
				op, err = join.NewOuterJoin(c.k, toOuterPair, opts)
			}
			require.NoError(b, err)
			benchJoin(b, op, func(i int) uint64 { return uint64(i / 8) }, 100)
		})
	}
}
