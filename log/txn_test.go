package log

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func bodies(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func TestTxnCommitMakesMessagesVisibleWithOffsets(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "in", 1))
	require.NoError(t, l.CreateTopic(ctx, "out", 2))
	p, err := l.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint32(1), p.Epoch())

	tx := p.Begin()
	require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("a")}, &Message{Topic: "out", Queue: 1, Body: []byte("b")}))
	require.NoError(t, l.Append(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("plain")}))
	require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("c"), Properties: map[string]string{"k": "v"}}))

	// Invisible until commit; the plain message is visible at once.
	assert.Equal(t, []string{"plain"}, bodies(readAll(t, l, "out", 0)))
	assert.Empty(t, readAll(t, l, "out", 1))
	require.Len(t, l.OpenTransactions(), 1)
	assert.Equal(t, 3, l.OpenTransactions()[0].Messages)

	require.NoError(t, tx.Commit(ctx, "g", map[QueueRef]int64{{"in", 0}: 7}))
	msgs := readAll(t, l, "out", 0)
	assert.Equal(t, []string{"plain", "a", "c"}, bodies(msgs), "queue order is commit order")
	assert.Equal(t, []int64{0, 1, 2}, []int64{msgs[0].Offset, msgs[1].Offset, msgs[2].Offset})
	assert.Equal(t, map[string]string{"k": "v"}, msgs[2].Properties, "reserved properties are not shown")
	assert.Equal(t, "out", msgs[1].Topic)
	assert.Equal(t, []string{"b"}, bodies(readAll(t, l, "out", 1)))
	o, ok := l.CommittedOffset("g", "in", 0)
	assert.True(t, ok)
	assert.Equal(t, int64(7), o)
	assert.Empty(t, l.OpenTransactions())
	assert.ErrorIs(t, tx.Commit(ctx, "", nil), ErrTxnDone)

	// Appends after the commit continue the offsets; everything survives a reopen.
	m := &Message{Topic: "out", Queue: 0, Body: []byte("after")}
	require.NoError(t, l.Append(ctx, m))
	assert.Equal(t, int64(3), m.Offset)
	require.NoError(t, l.Close())
	l = openT(t, dir, testOptions())
	assert.Equal(t, []string{"plain", "a", "c", "after"}, bodies(readAll(t, l, "out", 0)))
	o, _ = l.CommittedOffset("g", "in", 0)
	assert.Equal(t, int64(7), o)
}

func TestTxnAbortDiscards(t *testing.T) {
	l := openT(t, t.TempDir(), testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "out", 1))
	p, err := l.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)
	tx := p.Begin()
	require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("x")}))
	require.NoError(t, tx.Abort(ctx))
	assert.Empty(t, readAll(t, l, "out", 0))
	assert.Empty(t, l.OpenTransactions())
	assert.ErrorIs(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("y")}), ErrTxnDone)
}

func TestTxnFencing(t *testing.T) {
	l := openT(t, t.TempDir(), testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "out", 1))
	old, err := l.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)
	tx := old.Begin()
	require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("zombie")}))

	cur, err := l.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint32(2), cur.Epoch())
	assert.Empty(t, l.OpenTransactions(), "the new incarnation aborted the old one's transaction")

	var fe *FencedError
	err = tx.Commit(ctx, "", nil)
	require.Error(t, err)
	var ae *TxnAbortedError
	require.ErrorAs(t, err, &ae, "the old transaction was aborted by fencing: %v", err)
	assert.Contains(t, err.Error(), "fenced")
	require.ErrorAs(t, old.Begin().Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("z")}), &fe)
	assert.Equal(t, uint32(1), fe.Epoch)
	assert.Equal(t, uint32(2), fe.Current)
	assert.Contains(t, fe.Error(), `producer "job" incarnation 1 is fenced by incarnation 2`)
	require.ErrorAs(t, old.Begin().Commit(ctx, "g", map[QueueRef]int64{{"out", 0}: 1}), &fe)
	_, ok := l.CommittedOffset("g", "out", 0)
	assert.False(t, ok, "a fenced commit moves no offsets")

	tx2 := cur.Begin()
	require.NoError(t, tx2.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("live")}))
	require.NoError(t, tx2.Commit(ctx, "", nil))
	assert.Equal(t, []string{"live"}, bodies(readAll(t, l, "out", 0)))
}

// TestTxnCrashRecovery reopens copies of the data directory taken at every step of a
// transaction without closing the log (what a kill leaves), and checks all-or-nothing.
func TestTxnCrashRecovery(t *testing.T) {
	opts := testOptions()
	src := t.TempDir()
	l, err := Open(src, opts)
	require.NoError(t, err)
	defer l.Close()
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "in", 1))
	require.NoError(t, l.CreateTopic(ctx, "out", 3))
	p, err := l.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)
	snapshot := func() string {
		dst := t.TempDir()
		require.NoError(t, snapshotDir(src, dst))
		return dst
	}
	reopen := func(dir string) *Log {
		require.NoError(t, removeLock(dir))
		return openT(t, dir, opts)
	}
	// A first committed transaction, then a checkpoint, then one in flight.
	tx := p.Begin()
	for i := 0; i < 30; i++ {
		require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: i % 3, Body: []byte(fmt.Sprint("t1-", i))}))
	}
	require.NoError(t, tx.Commit(ctx, "g", map[QueueRef]int64{{"in", 0}: 30}))
	require.NoError(t, l.Checkpoint(ctx))
	tx = p.Begin()
	for i := 0; i < 30; i++ {
		require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: i % 3, Body: []byte(fmt.Sprint("t2-", i))}))
	}
	beforeCommit := snapshot()
	require.NoError(t, tx.Commit(ctx, "g", map[QueueRef]int64{{"in", 0}: 60}))
	afterCommit := snapshot()

	// Before the commit record: t2 is open (and invisible) after recovery.
	r := reopen(beforeCommit)
	total := 0
	for q := 0; q < 3; q++ {
		total += len(readAll(t, r, "out", q))
	}
	assert.Equal(t, 30, total)
	o, _ := r.CommittedOffset("g", "in", 0)
	assert.Equal(t, int64(30), o)
	open := r.OpenTransactions()
	require.Len(t, open, 1, "the open transaction is recovered with its messages")
	assert.Equal(t, 30, open[0].Messages)
	// The recovered job fences and aborts it.
	_, err = r.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)
	assert.Empty(t, r.OpenTransactions())

	// After the commit record: all of it, with its offsets.
	r = reopen(afterCommit)
	total = 0
	for q := 0; q < 3; q++ {
		msgs := readAll(t, r, "out", q)
		total += len(msgs)
		for i, m := range msgs {
			require.Equal(t, int64(i), m.Offset)
		}
	}
	assert.Equal(t, 60, total)
	o, _ = r.CommittedOffset("g", "in", 0)
	assert.Equal(t, int64(60), o)
	assert.Empty(t, r.OpenTransactions())
}

func TestTxnCheckBack(t *testing.T) {
	mock := clock.NewMock()
	mock.Set(time.Now())
	opts := testOptions()
	opts.Clock = mock
	opts.FlushInterval, opts.CheckpointInterval, opts.RetentionCheckInterval, opts.TxnCheckInterval = time.Hour, time.Hour, time.Hour, time.Hour
	opts.TxnCheckMax = 2
	l := openT(t, t.TempDir(), opts)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "out", 1))

	answers := map[uint64]TxnResolution{1: TxnCommit, 2: TxnRollback, 3: TxnUnknown}
	var asked []TxnID
	p, err := l.InitProducer(ctx, "local", ProducerOptions{Checker: func(ti TxnInfo) TxnResolution {
		asked = append(asked, ti.ID)
		return answers[ti.ID.Seq]
	}})
	require.NoError(t, err)
	for i := 1; i <= 3; i++ {
		tx := p.Begin()
		require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte(fmt.Sprint("half-", i))}))
	}
	assert.Zero(t, l.CheckTransactions(ctx), "nothing is older than the timeout yet")
	mock.Add(7 * time.Second)
	assert.Equal(t, 2, l.CheckTransactions(ctx), "commit and rollback resolved; unknown asked again later")
	assert.Equal(t, []string{"half-1"}, bodies(readAll(t, l, "out", 0)))
	require.Len(t, l.OpenTransactions(), 1)
	assert.Equal(t, 1, l.CheckTransactions(ctx), "second unknown answer reaches TxnCheckMax: aborted")
	assert.Empty(t, l.OpenTransactions())
	assert.Len(t, asked, 4)
}

func TestTxnRecoveryRebuildsDamagedQueue(t *testing.T) {
	// A transaction committed before the checkpoint, whose half messages were written
	// before a plain message committed after them: entries are not in position order.
	dir := t.TempDir()
	ctx := context.Background()
	l := openT(t, dir, testOptions())
	require.NoError(t, l.CreateTopic(ctx, "out", 1))
	p, err := l.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)
	tx := p.Begin()
	require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("h1")}))
	require.NoError(t, l.Append(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("m1")}))
	require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("h2")}))
	require.NoError(t, tx.Commit(ctx, "", nil))
	require.NoError(t, l.Append(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("m2")}))
	want := []string{"m1", "h1", "h2", "m2"}
	assert.Equal(t, want, bodies(readAll(t, l, "out", 0)))
	require.NoError(t, l.Close())

	require.NoError(t, removeAll(dir, "consumequeue"))
	l = openT(t, dir, testOptions())
	assert.Equal(t, []string{"out/0"}, l.Recovery().RebuiltQueues)
	assert.Equal(t, want, bodies(readAll(t, l, "out", 0)))
}

func removeLock(dir string) error { return nil } // flock dies with its holder; the file may stay

func removeAll(dir, sub string) error { return os.RemoveAll(dir + "/" + sub) }
