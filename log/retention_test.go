package log

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Retention deletes the segment that held the topic's creation record; a replay without
// the checkpoint then learns the topic from its index directories, and every queue keeps
// its earliest offset, its messages and its end.
func TestRetentionThenReplayWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	opts, logs := capturingOptions()
	opts.RetentionBytes = 600 << 10
	l, err := Open(dir, opts)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 3))
	for i := 0; i < 3000; i++ {
		m := &Message{Topic: "t", Queue: i % 3, Body: append([]byte(fmt.Sprint(i, "/")), bytes.Repeat([]byte{'r'}, 500)...)}
		require.NoError(t, l.Append(ctx, m))
	}
	require.NoError(t, l.CommitOffsets(ctx, "g", map[QueueRef]int64{{"t", 1}: 999}))
	n, err := l.EnforceRetention(ctx)
	require.NoError(t, err)
	require.Positive(t, n)
	assert.Contains(t, logs.String(), "log retention deleted segments")
	earliest, _ := l.cl.bounds()
	require.Positive(t, earliest, "the topic's record is gone")
	before := l.Topics()
	require.NoError(t, l.Close())

	require.NoError(t, os.Remove(filepath.Join(dir, "checkpoint")))
	l, err = Open(dir, opts)
	require.NoError(t, err)
	defer l.Close()
	assert.Contains(t, l.Recovery().Problems, fmt.Sprintf("no usable checkpoint: replaying the whole commitlog from position %d", earliest))
	require.Equal(t, before, l.Topics())
	for q, qi := range before[0].Queues {
		require.Positive(t, qi.Earliest)
		msgs := readAll(t, l, "t", q)
		require.Len(t, msgs, int(qi.Latest-qi.Earliest))
		for k, m := range msgs {
			i := int(qi.Earliest+int64(k))*3 + q
			require.True(t, bytes.HasPrefix(m.Body, []byte(fmt.Sprint(i, "/"))), "t/%d@%d", q, m.Offset)
		}
		m := &Message{Topic: "t", Queue: q, Body: []byte("next")}
		require.NoError(t, l.Append(ctx, m))
		assert.Equal(t, qi.Latest, m.Offset)
	}
	o, ok := l.CommittedOffset("g", "t", 1)
	assert.True(t, ok, "the offsets record is after the deleted segments")
	assert.Equal(t, int64(999), o)
}

// Retention may delete a segment while the syncer still fsyncs it for a Sync append (here
// RetentionBytes keeps only the active segment, and segments roll all the time). That
// must neither fail the append nor the log: the syncer closes deleted segments itself,
// after the fsyncs queued before their deletion. A stress test: before the fix most runs
// failed with "fsync ...: bad file descriptor", and -race flagged the close racing the
// fsync every time.
func TestRetentionWhileSyncing(t *testing.T) {
	opts := testOptions()
	opts.RetentionBytes = 1
	l := openT(t, t.TempDir(), opts)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	const n = 5000
	retained := make(chan error, 1)
	go func() {
		for range n {
			if _, err := l.EnforceRetention(ctx); err != nil {
				retained <- err
				return
			}
		}
		retained <- nil
	}()
	body := bytes.Repeat([]byte{'s'}, 30<<10)
	var failed atomic.Pointer[error]
	inflight := make(chan struct{}, 32)
	for range n {
		inflight <- struct{}{}
		l.AppendAsync(Sync, func(err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
			<-inflight
		}, &Message{Topic: "t", Body: body})
	}
	for range cap(inflight) {
		inflight <- struct{}{}
	}
	require.NoError(t, <-retained)
	if err := failed.Load(); err != nil {
		t.Fatal(*err)
	}
}
