package kafka

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riffle-streams/riffle/stream"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cluster starts a one-broker kfake cluster with topics of partitions partitions and
// returns its addresses.
func cluster(t testing.TB, partitions int32, topics []string, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// client returns a franz-go client of the cluster; the caller closes it.
func client(t testing.TB, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.DisableClientMetrics()}, opts...)...)
	require.NoError(t, err)
	return cl
}

// produce writes recs (their Partition is kept) and waits for them.
func produce(t testing.TB, addrs []string, recs ...*kgo.Record) {
	t.Helper()
	cl := client(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
}

// produceTxn writes recs in one transaction, committed or aborted.
func produceTxn(t testing.TB, addrs []string, id string, commit bool, recs ...*kgo.Record) {
	t.Helper()
	cl := client(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(id))
	defer cl.Close()
	ctx := context.Background()
	require.NoError(t, cl.BeginTransaction())
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	require.NoError(t, cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
}

// ends returns every partition's end: the last stable offset (committed) or the high
// watermark.
func ends(t testing.TB, addrs []string, topic string, committed bool) []int64 {
	t.Helper()
	cl := client(t, addrs)
	defer cl.Close()
	ctx := context.Background()
	n, err := partitionCount(ctx, cl, topic)
	require.NoError(t, err)
	out := make([]int64, n)
	for p := range out {
		out[p], err = listOffset(ctx, cl, topic, int32(p), listLatest, committed)
		require.NoError(t, err)
	}
	return out
}

// visible returns the records of topic a read_committed consumer sees now (up to each
// partition's last stable offset), partition by partition, with a franz-go consumer
// that shares nothing with the source.
func visible(t testing.TB, addrs []string, topic string) []*kgo.Record {
	t.Helper()
	lso := ends(t, addrs, topic, true)
	parts := map[int32]kgo.Offset{}
	next := map[int32]int64{}
	for p, e := range lso {
		if e > 0 {
			parts[int32(p)] = kgo.NewOffset().At(0)
			next[int32(p)] = 0
		}
	}
	if len(parts) == 0 {
		return nil
	}
	cl := client(t, addrs, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	done := func() bool {
		for p, n := range next {
			if n < lso[p] {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "timed out reading %s up to %v (at %v)", topic, lso, next)
		fs.EachError(func(_ string, _ int32, err error) { require.NoError(t, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= lso[r.Partition] {
				return
			}
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

func values(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// readAll reads a split until io.EOF, waiting when it has nothing.
func readAll[T any](t testing.TB, r stream.SplitReader[T]) []stream.Record[T] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]stream.Record[T], 7)
	var out []stream.Record[T]
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if n == 0 {
			require.NoError(t, r.Wait(ctx))
		}
	}
}

// readN reads n records from a split (unbounded), waiting when it has nothing.
func readN[T any](t testing.TB, r stream.SplitReader[T], n int) []stream.Record[T] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]stream.Record[T], 1)
	var out []stream.Record[T]
	for len(out) < n {
		k, err := r.Read(buf)
		require.NoError(t, err)
		out = append(out, buf[:k]...)
		if k == 0 {
			require.NoError(t, r.Wait(ctx))
		}
	}
	return out
}

func str(r *kgo.Record) (string, error) { return string(r.Value), nil }
