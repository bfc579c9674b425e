package log

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testOptions keeps segments and index files small so that tests cross their boundaries.
func testOptions() Options {
	return Options{
		SegmentSize:             256 << 10,
		ConsumeQueueFileEntries: 100,
		MaxMessageSize:          64 << 10,
		Logger:                  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func openT(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func body(topic string, q int, i int) []byte {
	return []byte(fmt.Sprintf("%s/%d/%06d/%s", topic, q, i, strings.Repeat("x", i%300)))
}

// readAll reads a whole queue from its earliest offset.
func readAll(t *testing.T, l *Log, topic string, q int) []Message {
	t.Helper()
	lo, _, err := l.QueueBounds(topic, q)
	require.NoError(t, err)
	var out []Message
	for off := lo; ; {
		f, err := l.Read(context.Background(), topic, q, off, ReadOptions{Max: 37})
		require.NoError(t, err)
		if len(f.Messages) == 0 {
			return out
		}
		out = append(out, f.Messages...)
		off = f.Next
	}
}

func TestRoundTripManyTopicsAndQueues(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, testOptions())
	ctx := context.Background()
	topics := map[string]int{"orders": 4, "clicks": 1, "a-b_c%d|e": 3}
	for name, n := range topics {
		require.NoError(t, l.CreateTopic(ctx, name, n))
	}
	const perQueue = 300
	var wg sync.WaitGroup
	for name, n := range topics {
		for q := 0; q < n; q++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perQueue; i++ {
					m := &Message{Topic: name, Queue: q, Key: []byte(fmt.Sprint(i)), Tags: "t" + fmt.Sprint(i%3),
						Properties: map[string]string{"i": fmt.Sprint(i)}, Body: body(name, q, i)}
					if !assert.NoError(t, l.Append(ctx, m)) {
						return
					}
					assert.Equal(t, int64(i), m.Offset)
				}
			}()
		}
	}
	wg.Wait()
	check := func(l *Log) {
		for name, n := range topics {
			for q := 0; q < n; q++ {
				msgs := readAll(t, l, name, q)
				require.Len(t, msgs, perQueue, "%s/%d", name, q)
				for i, m := range msgs {
					require.Equal(t, int64(i), m.Offset)
					require.Equal(t, body(name, q, i), m.Body)
					require.Equal(t, fmt.Sprint(i), string(m.Key))
					require.Equal(t, fmt.Sprint(i), m.Properties["i"])
					require.Equal(t, q, m.Queue)
					require.Equal(t, name, m.Topic)
				}
			}
		}
	}
	check(l)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	l2 := openT(t, dir, testOptions())
	assert.True(t, l2.Recovery().Clean(), "%+v", l2.Recovery())
	check(l2)
	segs, _ := os.ReadDir(filepath.Join(dir, "commitlog"))
	assert.Greater(t, len(segs), 1, "the test must cross segment boundaries")
}

func TestAppendByKeyAndRoundRobin(t *testing.T) {
	l := openT(t, t.TempDir(), testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "k", 5))
	for i := 0; i < 50; i++ {
		m := &Message{Topic: "k", Queue: ByKey, Key: []byte(fmt.Sprint("key", i%7)), Body: []byte("v")}
		require.NoError(t, l.Append(ctx, m))
		assert.Equal(t, QueueForKey(m.Key, 5), m.Queue)
	}
	seen := map[int]int{}
	for i := 0; i < 10; i++ {
		m := &Message{Topic: "k", Queue: ByKey, Body: []byte("v")}
		require.NoError(t, l.Append(ctx, m))
		seen[m.Queue]++
	}
	assert.Len(t, seen, 5, "messages without key go round-robin")
}

func TestReopenContinuesOffsetsAndKeepsGroups(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := openT(t, dir, testOptions())
	require.NoError(t, l.CreateTopic(ctx, "t", 2))
	for i := 0; i < 10; i++ {
		require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: i % 2, Body: []byte{byte(i)}}))
	}
	require.NoError(t, l.CommitOffsets(ctx, "g1", map[QueueRef]int64{{"t", 0}: 3, {"t", 1}: 5}))
	require.NoError(t, l.CommitOffsets(ctx, "g1", map[QueueRef]int64{{"t", 0}: 4}))
	require.NoError(t, l.Close())

	l = openT(t, dir, testOptions())
	o, ok := l.CommittedOffset("g1", "t", 0)
	assert.True(t, ok)
	assert.Equal(t, int64(4), o)
	o, _ = l.CommittedOffset("g1", "t", 1)
	assert.Equal(t, int64(5), o)
	assert.Equal(t, []string{"g1"}, l.Groups())
	m := &Message{Topic: "t", Queue: 0, Body: []byte("next")}
	require.NoError(t, l.Append(ctx, m))
	assert.Equal(t, int64(5), m.Offset)
}

func TestGroupOffsetsReplayedWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := openT(t, dir, testOptions())
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: 0, Body: []byte("a")}))
	require.NoError(t, l.CommitOffsets(ctx, "g", map[QueueRef]int64{{"t", 0}: 1}))
	require.NoError(t, l.Close())
	// Without the checkpoint everything comes back from the commitlog records.
	require.NoError(t, os.Remove(filepath.Join(dir, "checkpoint")))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "consumequeue")))
	l = openT(t, dir, testOptions())
	o, ok := l.CommittedOffset("g", "t", 0)
	assert.True(t, ok)
	assert.Equal(t, int64(1), o)
	msgs := readAll(t, l, "t", 0)
	require.Len(t, msgs, 1)
	assert.Equal(t, "a", string(msgs[0].Body))
}

func TestBlockingReadWakesOnAppend(t *testing.T) {
	l := openT(t, t.TempDir(), testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	got := make(chan Fetch, 1)
	go func() {
		f, err := l.Read(ctx, "t", 0, 0, ReadOptions{Wait: true})
		assert.NoError(t, err)
		got <- f
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: 0, Body: []byte("hello")}))
	select {
	case f := <-got:
		require.Len(t, f.Messages, 1)
		assert.Equal(t, "hello", string(f.Messages[0].Body))
		assert.Equal(t, int64(1), f.Next)
	case <-time.After(5 * time.Second):
		t.Fatal("blocked read did not wake up")
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err := l.Read(cctx, "t", 0, 1, ReadOptions{Wait: true})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestTagFilter(t *testing.T) {
	l := openT(t, t.TempDir(), testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	for i := 0; i < 100; i++ {
		tag := []string{"red", "green", "blue", ""}[i%4]
		require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: 0, Tags: tag, Body: []byte(fmt.Sprint(i))}))
	}
	var bodies []string
	for off := int64(0); off < 100; {
		f, err := l.Read(ctx, "t", 0, off, ReadOptions{Max: 7, Tags: []string{"green", "blue"}})
		require.NoError(t, err)
		for _, m := range f.Messages {
			assert.Contains(t, []string{"green", "blue"}, m.Tags)
			bodies = append(bodies, string(m.Body))
		}
		off = f.Next
	}
	assert.Len(t, bodies, 50)
	assert.Equal(t, "1", bodies[0])
	assert.Equal(t, "2", bodies[1])
}

func TestOffsetOutOfRangeAndRetention(t *testing.T) {
	dir := t.TempDir()
	mock := clock.NewMock()
	mock.Set(time.Now())
	opts := testOptions()
	opts.Clock = mock
	opts.RetentionAge = time.Hour
	// The mock clock sleeps for every ticker tick it fires: keep background tickers quiet.
	opts.FlushInterval, opts.CheckpointInterval, opts.RetentionCheckInterval = 1000*time.Hour, 1000*time.Hour, 1000*time.Hour
	l := openT(t, dir, opts)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	for i := 0; i < 2000; i++ {
		require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: 0, Body: bytes.Repeat([]byte{'a'}, 500)}))
	}
	_, err := l.Read(ctx, "t", 0, 2001, ReadOptions{})
	var oor *OffsetOutOfRangeError
	require.ErrorAs(t, err, &oor)
	assert.Equal(t, int64(2000), oor.Latest)

	n, err := l.EnforceRetention(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing is old yet")
	mock.Add(2 * time.Hour)
	n, err = l.EnforceRetention(ctx)
	require.NoError(t, err)
	assert.Greater(t, n, 0)
	lo, hi, err := l.QueueBounds("t", 0)
	require.NoError(t, err)
	assert.Greater(t, lo, int64(0))
	assert.Equal(t, int64(2000), hi)
	_, err = l.Read(ctx, "t", 0, 0, ReadOptions{})
	require.ErrorAs(t, err, &oor)
	assert.Equal(t, lo, oor.Earliest)
	msgs := readAll(t, l, "t", 0)
	assert.Len(t, msgs, int(hi-lo))
	assert.Equal(t, lo, msgs[0].Offset)
	require.NoError(t, l.Close())

	l = openT(t, dir, opts)
	lo2, hi2, err := l.QueueBounds("t", 0)
	require.NoError(t, err)
	assert.Equal(t, lo, lo2)
	assert.Equal(t, hi, hi2)
}

func TestRetentionBySize(t *testing.T) {
	opts := testOptions()
	opts.RetentionBytes = 600 << 10
	l := openT(t, t.TempDir(), opts)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	for i := 0; i < 3000; i++ {
		require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: 0, Body: bytes.Repeat([]byte{'a'}, 500)}))
	}
	_, err := l.EnforceRetention(ctx)
	require.NoError(t, err)
	assert.LessOrEqual(t, l.cl.totalSize(), int64(600<<10))
	lo, _, _ := l.QueueBounds("t", 0)
	assert.Greater(t, lo, int64(0))
}

func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, testOptions())
	_, err := Open(dir, testOptions())
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), "locked")
	assert.Contains(t, err.Error(), fmt.Sprint(os.Getpid()))
	require.NoError(t, l.Close())
	l2, err := Open(dir, testOptions())
	require.NoError(t, err)
	l2.Close()
}

func TestValidation(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 2))
	cases := []struct {
		name string
		msg  Message
		want string
	}{
		{"empty topic", Message{Body: []byte("x")}, "empty"},
		{"bad topic char", Message{Topic: "a b", Body: []byte("x")}, `' ' at byte 1`},
		{"long topic", Message{Topic: strings.Repeat("a", 128), Body: []byte("x")}, "limit is 127"},
		{"too big", Message{Topic: "t", Body: make([]byte, 64<<10+1)}, "limit is 65536"},
		{"long tags", Message{Topic: "t", Tags: strings.Repeat("t", 256)}, "tags are 256 bytes"},
		{"props too big", Message{Topic: "t", Properties: map[string]string{"k": strings.Repeat("v", 40<<10)}}, "properties are"},
		{"empty prop name", Message{Topic: "t", Properties: map[string]string{"": "v"}}, "empty name"},
		{"bad queue", Message{Topic: "t", Queue: 2}, "no queue 2"},
		{"negative queue", Message{Topic: "t", Queue: -5}, "no queue -5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.msg
			err := l.Append(ctx, &m)
			require.ErrorIs(t, err, ErrInvalidMessage)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	err := l.Append(ctx, &Message{Topic: "nope", Body: []byte("x")})
	require.ErrorIs(t, err, ErrUnknownTopic)
	assert.Contains(t, err.Error(), "riffle log topics create")
	require.ErrorIs(t, l.CreateTopic(ctx, "t", 3), ErrTopicExists)
	require.Error(t, l.CreateTopic(ctx, "z", 0))
	require.ErrorIs(t, l.CreateTopic(ctx, "bad/name", 1), ErrInvalidTopicName)
	// One bad message in a batch writes none of it.
	err = l.Append(ctx, &Message{Topic: "t", Body: []byte("ok")}, &Message{Topic: "t", Body: make([]byte, 1<<20)})
	require.ErrorIs(t, err, ErrInvalidMessage)
	assert.Contains(t, err.Error(), "message 1")
	_, hi, _ := l.QueueBounds("t", 0)
	assert.Zero(t, hi)
	_, err = Open(t.TempDir(), Options{SegmentSize: 100})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SegmentSize 100")
}

func TestOffsetForTime(t *testing.T) {
	mock := clock.NewMock()
	mock.Set(time.UnixMilli(1_000_000))
	opts := testOptions()
	opts.Clock = mock
	l := openT(t, t.TempDir(), opts)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	for i := 0; i < 100; i++ {
		require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: 0, Body: []byte("x")}))
		mock.Add(10 * time.Millisecond)
	}
	for _, c := range []struct{ ts, want int64 }{{0, 0}, {1_000_000, 0}, {1_000_001, 1}, {1_000_500, 50}, {1_000_990, 99}, {1_000_991, 100}, {9e12, 100}} {
		got, err := l.OffsetForTime("t", 0, c.ts)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "ts %d", c.ts)
	}
}

func TestClosedLog(t *testing.T) {
	l := openT(t, t.TempDir(), testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	require.NoError(t, l.Close())
	assert.ErrorIs(t, l.Append(ctx, &Message{Topic: "t", Body: []byte("x")}), ErrClosed)
	_, err := l.Read(ctx, "t", 0, 0, ReadOptions{Wait: true})
	assert.ErrorIs(t, err, ErrClosed)
}
