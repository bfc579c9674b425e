package kafka

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// kv is what the sink tests write: a key and a value.
type kv struct{ K, V string }

func encodeKV(r stream.Record[kv]) (*kgo.Record, error) {
	return &kgo.Record{Key: []byte(r.Value.K), Value: []byte(r.Value.V)}, nil
}

func newSink(t *testing.T, o SinkOptions) *Sink[kv] {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := NewSink(o, encodeKV)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// write writes values with keys k0, k1, ... (spread over the partitions).
func write(t *testing.T, w stream.SinkWriter[kv], values ...string) {
	t.Helper()
	for i, v := range values {
		require.NoError(t, w.Write(stream.Record[kv]{Value: kv{K: "k" + strconv.Itoa(i%5), V: v}, Timestamp: stream.NoTimestamp}))
	}
}

// preCommit pre-commits w's epoch and returns the handle.
func preCommit(t *testing.T, w *txnWriter[kv], epoch uint64) []byte {
	t.Helper()
	h, err := w.PreCommit(epoch)
	require.NoError(t, err)
	return h
}

// crash abandons w's open transaction as a killed process would: its records are on the
// brokers, the transaction stays open.
func crash(t *testing.T, w *txnWriter[kv]) {
	t.Helper()
	require.NoError(t, w.cl.Flush(context.Background()))
	w.cl.Close()
	w.cl = nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// settled reports whether topic has no open transaction (the last stable offset of
// every partition is its high watermark).
func settled(t *testing.T, addrs []string, topic string) bool {
	return slices.Equal(ends(t, addrs, topic, true), ends(t, addrs, topic, false))
}

// ongoing lists the transactional ids with an open transaction.
func ongoing(t *testing.T, addrs []string) []string {
	t.Helper()
	cl := client(t, addrs)
	defer cl.Close()
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters = []string{"Ongoing"}
	resp, err := req.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	var out []string
	for _, ts := range resp.TransactionStates {
		out = append(out, ts.TransactionalID)
	}
	slices.Sort(out)
	return out
}

func TestSinkOptionsValidation(t *testing.T) {
	_, err := NewSink(SinkOptions{TransactionTimeout: time.Millisecond}, encodeKV)
	require.Error(t, err)
	for _, want := range []string{"kafka: invalid sink options", "no Brokers",
		"no TransactionalIDPrefix: ExactlyOnce needs one", "TransactionTimeout 1ms: want at least 1s"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = NewSink(SinkOptions{Brokers: []string{"x:9092"}, Delivery: 9}, encodeKV)
	assert.ErrorContains(t, err, "Delivery 9: want ExactlyOnce or AtLeastOnce")
	_, err = NewSink[kv](SinkOptions{Brokers: []string{"x:9092"}, Delivery: AtLeastOnce}, nil)
	assert.ErrorContains(t, err, "NewSink needs an encode function")

	// At-least-once needs no prefix; the timeout defaults.
	s, err := NewSink(SinkOptions{Brokers: []string{"x:9092"}, Delivery: AtLeastOnce}, encodeKV)
	require.NoError(t, err)
	assert.Equal(t, DefaultTransactionTimeout, s.opts.TransactionTimeout)
}

func TestSinkOpenAndEncode(t *testing.T) {
	addrs := cluster(t, 2, []string{"out"})
	ctx := streamtest.NewContext()
	_, err := newSink(t, SinkOptions{Brokers: addrs, Topic: "nope", TransactionalIDPrefix: "p"}).Open(ctx)
	require.ErrorIs(t, err, ErrNoTopic)

	failing := errors.New("no way")
	s, err := NewSink(SinkOptions{Brokers: addrs, TransactionalIDPrefix: "p", Logger: quiet}, func(r stream.Record[int]) (*kgo.Record, error) {
		switch r.Value {
		case 0:
			return nil, failing
		case 1:
			return nil, nil
		case 2:
			return &kgo.Record{Value: []byte("no topic")}, nil
		}
		return &kgo.Record{Topic: "out", Value: []byte(strconv.Itoa(r.Value))}, nil
	})
	require.NoError(t, err)
	defer s.Close()
	w := &txnWriter[int]{s: s, epoch: 1}
	err = w.Write(stream.Record[int]{Value: 0})
	assert.ErrorIs(t, err, failing)
	assert.EqualError(t, err, "kafka: encode: no way")
	assert.EqualError(t, w.Write(stream.Record[int]{Value: 1}), "kafka: encode returned no record")
	assert.EqualError(t, w.Write(stream.Record[int]{Value: 2}), "kafka: encode left Record.Topic empty and SinkOptions.Topic is not set")

	// The stream record's timestamp becomes the Kafka record's.
	require.NoError(t, w.Write(stream.Record[int]{Value: 3, Timestamp: 1_700_000_000_042}))
	h, err := w.PreCommit(1)
	require.NoError(t, err)
	require.NoError(t, s.CommitEpoch(context.Background(), 1, [][]byte{h}))
	got := visible(t, addrs, "out")
	require.Len(t, got, 1)
	assert.Equal(t, "3", string(got[0].Value))
	assert.Equal(t, int64(1_700_000_000_042), got[0].Timestamp.UnixMilli())

	err = s.CommitEpoch(context.Background(), 2, [][]byte{[]byte("junk")})
	assert.ErrorContains(t, err, `kafka: epoch 2: kafka: bad transaction handle "junk"`)
}

// clusters are the two kinds of transactions: KIP-890's (Kafka 4, transaction.version
// 2: EndTxn bumps the producer epoch) and the classic ones (Kafka 3.9).
var clusters = []struct {
	name string
	opts []kfake.Opt
}{
	{"kip890", nil},
	{"classic", []kfake.Opt{kfake.MaxVersions(kversion.V3_9_0())}},
}

// TestSinkTwoPhaseCommit: an epoch's records are in the topic but invisible to
// read_committed readers until CommitEpoch commits its transactions, one per subtask;
// committing again is harmless.
func TestSinkTwoPhaseCommit(t *testing.T) {
	for _, c := range clusters {
		t.Run(c.name, func(t *testing.T) {
			addrs := cluster(t, 3, []string{"out"}, append([]kfake.Opt{kfake.NumBrokers(3)}, c.opts...)...)
			s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "riffle-job-out"})
			ctx := context.Background()
			w0, w1 := s.newTxnWriter(0, 1), s.newTxnWriter(1, 1)

			e1 := seq("e1-", 0, 20)
			write(t, w0, e1[:12]...)
			write(t, w1, e1[12:]...)
			h01, h11 := preCommit(t, w0, 1), preCommit(t, w1, 1)
			h, err := parseHandle(h01)
			require.NoError(t, err)
			assert.Equal(t, "riffle-job-out-0-1", h.TxnID)
			h, err = parseHandle(h11)
			require.NoError(t, err)
			assert.Equal(t, "riffle-job-out-1-1", h.TxnID)

			e2 := seq("e2-", 0, 7)
			write(t, w0, e2...)
			h02, h12 := preCommit(t, w0, 2), preCommit(t, w1, 2)
			assert.Nil(t, h12, "an epoch without records has no transaction")

			assert.Empty(t, visible(t, addrs, "out"), "pre-committed records are invisible")
			var written int64
			for _, e := range ends(t, addrs, "out", false) {
				written += e
			}
			assert.GreaterOrEqual(t, written, int64(27), "pre-committed records are on the brokers")

			require.NoError(t, s.CommitEpoch(ctx, 1, [][]byte{h01, h11}))
			assert.Equal(t, sorted(e1), sorted(values(visible(t, addrs, "out"))))
			require.NoError(t, s.CommitEpoch(ctx, 1, [][]byte{h01, h11}), "committing again is harmless")
			require.NoError(t, s.Close())
			require.NoError(t, s.CommitEpoch(ctx, 1, [][]byte{h01, h11}), "also after Close")

			require.NoError(t, s.CommitEpoch(ctx, 2, [][]byte{h02, h12}))
			require.NoError(t, s.CommitEpoch(ctx, 2, [][]byte{h02, h12}))
			assert.Equal(t, sorted(append(e1, e2...)), sorted(values(visible(t, addrs, "out"))))
			assert.True(t, settled(t, addrs, "out"))

			// A key's records are in one partition, a writer's in order.
			var k0 []string
			partition := map[string]int32{}
			for _, r := range visible(t, addrs, "out") {
				if p, ok := partition[string(r.Key)]; ok {
					assert.Equal(t, p, r.Partition, "key %s", r.Key)
				}
				partition[string(r.Key)] = r.Partition
				if v := string(r.Value); string(r.Key) == "k0" && v != "e1-12" && v != "e1-17" {
					k0 = append(k0, v)
				}
			}
			assert.Equal(t, []string{"e1-0", "e1-5", "e1-10", "e2-0", "e2-5"}, k0)

			assert.Positive(t, w0.Bytes())
			require.NoError(t, w0.Close())
			require.NoError(t, w1.Close())
		})
	}
}

// TestSinkCloseAborts: a writer closed before its epoch was pre-committed (the job
// failed) aborts the epoch's transaction.
func TestSinkCloseAborts(t *testing.T) {
	addrs := cluster(t, 2, []string{"out"})
	s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p"})
	w := s.newTxnWriter(0, 4)
	write(t, w, "a", "b", "c")
	require.NoError(t, w.cl.Flush(context.Background()))
	assert.False(t, settled(t, addrs, "out"))
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	assert.True(t, settled(t, addrs, "out"))
	assert.Empty(t, visible(t, addrs, "out"))
}

// TestSinkRecover: after a crash, Recover commits the last committed epoch's
// transactions (the crash came before CommitEpoch) and aborts every open transaction of
// a later epoch under the sink's prefix, pre-committed or not, of any subtask, and no
// other transaction.
func TestSinkRecover(t *testing.T) {
	for _, c := range clusters {
		t.Run(c.name, func(t *testing.T) {
			addrs := cluster(t, 3, []string{"out", "side"}, c.opts...)
			ctx := context.Background()
			old := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p"})
			w0, w1, w2 := old.newTxnWriter(0, 1), old.newTxnWriter(1, 1), old.newTxnWriter(2, 1)
			var want []string
			epoch := func(e uint64, ws ...*txnWriter[kv]) [][]byte {
				var hs [][]byte
				for i, w := range ws {
					vs := seq("e"+strconv.FormatUint(e, 10)+"-s"+strconv.Itoa(i)+"-", 0, 5)
					write(t, w, vs...)
					hs = append(hs, preCommit(t, w, e))
					if e <= 2 {
						want = append(want, vs...)
					}
				}
				return hs
			}
			require.NoError(t, old.CommitEpoch(ctx, 1, epoch(1, w0, w1, w2)))
			h2 := epoch(2, w0, w1, w2) // committed by the job, then the crash before CommitEpoch
			h3 := epoch(3, w0, w2)     // pre-committed, the job never committed epoch 3
			write(t, w0, "e4-a", "e4-b")
			write(t, w1, "e3-c")
			crash(t, w0) // epoch 4 open
			crash(t, w1) // epoch 3 open
			// Another application's transaction, and ids that only look like the sink's.
			others := map[string]*kgo.Client{}
			for _, id := range []string{"other-0-9", "p-x-9", "p-0-9-1"} {
				cl := client(t, addrs, kgo.TransactionalID(id), kgo.DefaultProduceTopic("side"))
				require.NoError(t, cl.BeginTransaction())
				require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte(id)}).FirstErr())
				defer cl.Close()
				others[id] = cl
			}
			require.NoError(t, old.Close())
			assert.Equal(t, sorted([]string{"other-0-9", "p-0-2", "p-0-3", "p-0-4", "p-0-9-1", "p-1-2", "p-1-3", "p-2-2", "p-2-3", "p-x-9"}), ongoing(t, addrs))

			var logs bytes.Buffer
			s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p",
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, s.Recover(ctx, 2, h2))
			assert.Equal(t, []string{"other-0-9", "p-0-9-1", "p-x-9"}, ongoing(t, addrs))
			assert.Contains(t, logs.String(), "aborted open transactions of uncommitted epochs")
			assert.Contains(t, logs.String(), "count=4")
			assert.True(t, settled(t, addrs, "out"))
			assert.Equal(t, sorted(want), sorted(values(visible(t, addrs, "out"))))

			// Again (a crash during recovery): nothing changes.
			require.NoError(t, s.Recover(ctx, 2, h2))
			assert.Equal(t, sorted(want), sorted(values(visible(t, addrs, "out"))))

			// An aborted epoch cannot be committed any more.
			err := s.CommitEpoch(ctx, 3, h3)
			var lost *TransactionLostError
			require.ErrorAs(t, err, &lost)
			assert.Equal(t, "p-0-3", lost.TransactionalID)
			assert.Equal(t, uint64(3), lost.Epoch)

			// The next run writes epoch 3 again under the same ids.
			w := s.newTxnWriter(0, 3)
			write(t, w, "again")
			require.NoError(t, s.CommitEpoch(ctx, 3, [][]byte{preCommit(t, w, 3)}))
			assert.Equal(t, sorted(append(want, "again")), sorted(values(visible(t, addrs, "out"))))
			for _, cl := range others {
				require.NoError(t, cl.EndTransaction(ctx, kgo.TryCommit), "the other transactions were left alone")
			}
		})
	}
}

// TestSinkRecoverFresh: a job's first run recovers epoch 0 (no checkpoint): it aborts
// what a previous attempt left open.
func TestSinkRecoverFresh(t *testing.T) {
	addrs := cluster(t, 1, []string{"out"})
	s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p"})
	w := s.newTxnWriter(0, 1)
	write(t, w, "x")
	preCommit(t, w, 1)
	require.NoError(t, s.Recover(context.Background(), 0, nil))
	assert.Empty(t, ongoing(t, addrs))
	assert.True(t, settled(t, addrs, "out"))
	assert.Empty(t, visible(t, addrs, "out"))
}

// TestSinkTransactionTimeout: a pre-committed transaction that stays uncommitted longer
// than TransactionTimeout (the job was down) is aborted by the broker: recovering its
// committed epoch reports the loss, or logs it with IgnoreLostTransactions.
func TestSinkTransactionTimeout(t *testing.T) {
	addrs := cluster(t, 1, []string{"out"})
	ctx := context.Background()
	s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p", TransactionTimeout: time.Second})
	w := s.newTxnWriter(0, 7)
	write(t, w, "lost")
	h := preCommit(t, w, 7)
	require.Eventually(t, func() bool { return settled(t, addrs, "out") }, 20*time.Second, 20*time.Millisecond,
		"the broker aborts the transaction after its timeout")

	err := s.Recover(ctx, 7, [][]byte{h})
	var lost *TransactionLostError
	require.ErrorAs(t, err, &lost)
	assert.Equal(t, "p-0-7", lost.TransactionalID)
	assert.Equal(t, uint64(7), lost.Epoch)
	assert.Contains(t, err.Error(), "aborted by the broker (transaction timeout) or fenced")

	var logs bytes.Buffer
	ignoring := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p", IgnoreLostTransactions: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, ignoring.Recover(ctx, 7, [][]byte{h}))
	assert.Contains(t, logs.String(), "output of a committed epoch is lost")
	assert.Empty(t, visible(t, addrs, "out"))
}

// TestSinkExpiredTransactionalID: once the brokers forgot a committed epoch's
// transactional id (transactional.id.expiration.ms), Recover takes it as committed.
func TestSinkExpiredTransactionalID(t *testing.T) {
	addrs := cluster(t, 1, []string{"out"}, kfake.BrokerConfigs(map[string]string{"transactional.id.expiration.ms": "100"}))
	ctx := context.Background()
	s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p"})
	w := s.newTxnWriter(0, 1)
	write(t, w, "kept")
	h := preCommit(t, w, 1)
	require.NoError(t, s.CommitEpoch(ctx, 1, [][]byte{h}))
	cl := client(t, addrs)
	defer cl.Close()
	require.Eventually(t, func() bool {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{"p-0-1"}
		resp, err := req.RequestWith(ctx, cl)
		return err == nil && resp.TransactionStates[0].ErrorCode != 0
	}, 20*time.Second, 20*time.Millisecond, "the transactional id expires")

	var logs bytes.Buffer
	s = newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, s.Recover(ctx, 1, [][]byte{h}))
	assert.Contains(t, logs.String(), "expired on the brokers")
	assert.Equal(t, []string{"kept"}, values(visible(t, addrs, "out")))
}

// TestSinkRecoverOldCluster: a cluster before Kafka 3.0 cannot list transactions:
// Recover still commits the last epoch, and leaves later open transactions to their
// timeout (or to the next run's producers of the same ids), with a warning.
func TestSinkRecoverOldCluster(t *testing.T) {
	addrs := cluster(t, 1, []string{"out"}, kfake.MaxVersions(kversion.V2_8_0()))
	ctx := context.Background()
	s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p"})
	w := s.newTxnWriter(0, 1)
	write(t, w, "a")
	h1 := preCommit(t, w, 1)
	write(t, w, "b")
	preCommit(t, w, 2)

	var logs bytes.Buffer
	s = newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, s.Recover(ctx, 1, [][]byte{h1}))
	assert.Contains(t, logs.String(), "cannot list transactions")
	assert.Equal(t, []string{"a"}, values(visible(t, addrs, "out")))
	assert.False(t, settled(t, addrs, "out"), "epoch 2's transaction is still open")

	// The next run's producer of epoch 2 fences it.
	w = s.newTxnWriter(0, 2)
	write(t, w, "b again")
	require.NoError(t, s.CommitEpoch(ctx, 2, [][]byte{preCommit(t, w, 2)}))
	assert.Equal(t, []string{"a", "b again"}, values(visible(t, addrs, "out")))
	assert.True(t, settled(t, addrs, "out"))
}

// TestSinkAtLeastOnce: AtLeastOnce (and any sink in a job without checkpoints) produces
// directly: the records are visible once flushed, at each barrier and at Close.
func TestSinkAtLeastOnce(t *testing.T) {
	addrs := cluster(t, 2, []string{"out"})
	ctx := context.Background()
	s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", Delivery: AtLeastOnce})
	wr, err := s.Open(streamtest.NewContext())
	require.NoError(t, err)
	w, ok := wr.(*plainWriter[kv])
	require.True(t, ok, "%T", wr)
	write(t, w, "a", "b", "c")
	h, err := w.PreCommit(1)
	require.NoError(t, err)
	assert.Nil(t, h)
	assert.Equal(t, sorted([]string{"a", "b", "c"}), sorted(values(visible(t, addrs, "out"))))
	write(t, w, "d")
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	assert.Equal(t, sorted([]string{"a", "b", "c", "d"}), sorted(values(visible(t, addrs, "out"))))
	assert.Positive(t, w.Bytes())
	// The second phase does nothing.
	require.NoError(t, s.CommitEpoch(ctx, 1, [][]byte{[]byte("junk")}))
	require.NoError(t, s.Recover(ctx, 1, [][]byte{[]byte("junk")}))

	// ExactlyOnce without checkpoints is at-least-once too.
	s = newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p"})
	wr, err = s.Open(streamtest.NewContext())
	require.NoError(t, err)
	require.IsType(t, &plainWriter[kv]{}, wr)
	write(t, wr, "e")
	require.NoError(t, wr.Close())
	assert.Len(t, visible(t, addrs, "out"), 5)
}

// newCluster is cluster, returning the cluster itself (faults).
func newCluster(t *testing.T, partitions int32, topics []string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// TestSinkCommitRetries: a commit answered with a transient coordinator error
// (CONCURRENT_TRANSACTIONS: the transaction is still completing) is retried. kfake
// completes transactions synchronously and never answers so by itself: the errors are
// injected.
func TestSinkCommitRetries(t *testing.T) {
	c := newCluster(t, 1, []string{"out"})
	addrs := c.ListenAddrs()
	s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p"})
	w := s.newTxnWriter(0, 1)
	write(t, w, "a")
	h := preCommit(t, w, 1)
	faults := c.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, TxnID: "p-0-1", Err: kerr.ConcurrentTransactions, Count: 2},
		kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, TxnID: "p-0-1", Err: kerr.CoordinatorLoadInProgress})
	require.NoError(t, s.CommitEpoch(context.Background(), 1, [][]byte{h}))
	assert.Equal(t, 3, faults.Hits())
	assert.Equal(t, []string{"a"}, values(visible(t, addrs, "out")))

	// Other errors are not retried; a cancelled context ends the retries.
	w = s.newTxnWriter(0, 2)
	write(t, w, "b")
	h = preCommit(t, w, 2)
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, TxnID: "p-0-2", Err: kerr.TransactionalIDAuthorizationFailed})
	err := s.CommitEpoch(context.Background(), 2, [][]byte{h})
	assert.ErrorIs(t, err, kerr.TransactionalIDAuthorizationFailed)
	assert.ErrorContains(t, err, "kafka: commit transaction p-0-2 of epoch 2")
	busy := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, TxnID: "p-0-2", Err: kerr.ConcurrentTransactions, Count: -1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = s.CommitEpoch(ctx, 2, [][]byte{h})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.GreaterOrEqual(t, busy.Hits(), 2)
	busy.Remove()
	require.NoError(t, s.CommitEpoch(context.Background(), 2, [][]byte{h}))
	assert.Equal(t, []string{"a", "b"}, values(visible(t, addrs, "out")))
}

// TestSinkProduceError: a record the brokers refuse fails the epoch's pre-commit (the job
// fails); closing the writer then aborts the transaction.
func TestSinkProduceError(t *testing.T) {
	c := newCluster(t, 1, []string{"out"})
	addrs := c.ListenAddrs()
	s := newSink(t, SinkOptions{Brokers: addrs, Topic: "out", TransactionalIDPrefix: "p"})
	w := s.newTxnWriter(0, 1)
	write(t, w, "a")
	require.NoError(t, w.cl.Flush(context.Background()))
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.TopicAuthorizationFailed})
	write(t, w, "refused")
	_, err := w.PreCommit(1)
	assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	assert.ErrorContains(t, err, "kafka: pre-commit transaction p-0-1: kafka: produce to out")
	err = w.Write(stream.Record[kv]{Value: kv{K: "k", V: "after"}})
	assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed, "the writer stays failed")
	require.NoError(t, w.Close())
	assert.True(t, settled(t, addrs, "out"))
	assert.Empty(t, visible(t, addrs, "out"))
}
