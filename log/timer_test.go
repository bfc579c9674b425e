package log

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// timerLog opens a log on a mock clock whose background tickers, but the timer's, are
// quiet (the mock sleeps for every tick it fires).
func timerLog(t *testing.T, dir string, precision time.Duration, mock *clock.Mock) (*Log, Options) {
	t.Helper()
	opts := testOptions()
	opts.Clock = mock
	opts.TimerPrecision = precision
	opts.manualTimers = true
	opts.FlushInterval, opts.CheckpointInterval, opts.RetentionCheckInterval, opts.TxnCheckInterval = 1000*time.Hour, 1000*time.Hour, 1000*time.Hour, 1000*time.Hour
	return openT(t, dir, opts), opts
}

func newMock(ms int64) *clock.Mock {
	m := clock.NewMock()
	m.Set(time.UnixMilli(ms))
	return m
}

// advance moves the mock clock in steps and fires what is due, returning the bodies that
// became readable in queue 0 of topic "d" since offset *from.
func advance(t *testing.T, l *Log, mock *clock.Mock, d time.Duration, from *int64) []string {
	t.Helper()
	mock.Add(d)
	_, err := l.FireTimers(context.Background())
	require.NoError(t, err)
	f, err := l.Read(context.Background(), "d", 0, *from, ReadOptions{Max: 1000})
	require.NoError(t, err)
	*from = f.Next
	return bodies(f.Messages)
}

func TestDelayedDeliveryOnTimeInOrderNeverEarly(t *testing.T) {
	const base = 1_000_000_000
	mock := newMock(base)
	l, _ := timerLog(t, t.TempDir(), time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	// Appended out of due order; one plain message in between.
	for _, due := range []int64{5500, 2000, 3000, 2999, 10_000} {
		m := &Message{Topic: "d", Queue: 0, Body: []byte(fmt.Sprint("due+", due)), DeliverAt: base + due}
		require.NoError(t, l.Append(ctx, m))
		assert.Equal(t, int64(-1), m.Offset)
	}
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("now")}))
	var from int64
	assert.Equal(t, []string{"now"}, advance(t, l, mock, 0, &from))
	assert.Empty(t, advance(t, l, mock, 1999*time.Millisecond, &from), "due+2000 is not due at +1999")
	assert.Equal(t, []string{"due+2000"}, advance(t, l, mock, time.Millisecond, &from))
	assert.Empty(t, advance(t, l, mock, 998*time.Millisecond, &from), "at +2998 nothing")
	// 2999 and 3000 share the tick of 3 s (1 s precision: never early, up to a tick late).
	assert.Equal(t, []string{"due+2999", "due+3000"}, advance(t, l, mock, 2*time.Millisecond, &from))
	st, err := l.Timers(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), st.Pending)
	assert.Equal(t, int64(base+5500), st.NextDue)
	assert.Empty(t, advance(t, l, mock, 2499*time.Millisecond, &from))
	assert.Equal(t, []string{"due+5500"}, advance(t, l, mock, 501*time.Millisecond, &from), "fires at the tick after 5.5 s")
	assert.Equal(t, []string{"due+10000"}, advance(t, l, mock, 5*time.Second, &from))
	st, err = l.Timers(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Pending)
	assert.LessOrEqual(t, st.LastLag, int64(1000))
}

func TestDelayedTenMillisecondPrecision(t *testing.T) {
	const base = 5_000_000
	mock := newMock(base)
	l, _ := timerLog(t, t.TempDir(), 10*time.Millisecond, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	for _, due := range []int64{15, 20, 21, 35} {
		require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte(fmt.Sprint(due)), DeliverAt: base + due}))
	}
	var from int64
	assert.Empty(t, advance(t, l, mock, 14*time.Millisecond, &from))
	assert.Equal(t, []string{"15", "20"}, advance(t, l, mock, 6*time.Millisecond, &from))
	assert.Empty(t, advance(t, l, mock, 9*time.Millisecond, &from))
	assert.Equal(t, []string{"21"}, advance(t, l, mock, time.Millisecond, &from))
	assert.Equal(t, []string{"35"}, advance(t, l, mock, 10*time.Millisecond, &from))
}

func TestDelayedRollsBeyondTheWheel(t *testing.T) {
	old := maxTimerSlots
	maxTimerSlots = 8 // an 8 s wheel at 1 s precision
	defer func() { maxTimerSlots = old }()
	const base = 1_000_000
	mock := newMock(base)
	dir := t.TempDir()
	l, opts := timerLog(t, dir, time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("far"), DeliverAt: base + 30_000}))
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("near"), DeliverAt: base + 3_000}))
	var from int64
	var got []string
	for i := 0; i < 29; i++ {
		got = append(got, advance(t, l, mock, time.Second, &from)...)
		if i == 12 {
			// Restart in the middle of the rolling.
			require.NoError(t, l.Close())
			l = openT(t, dir, opts)
		}
	}
	assert.Equal(t, []string{"near"}, got, "far is not due before 30 s")
	assert.Equal(t, []string{"far"}, advance(t, l, mock, time.Second, &from))
}

func TestDelayedCancelByKey(t *testing.T) {
	const base = 1_000_000
	mock := newMock(base)
	l, _ := timerLog(t, t.TempDir(), time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Key: []byte("order-1"), Body: []byte("remind 1"), DeliverAt: base + 5000}))
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Key: []byte("order-2"), Body: []byte("remind 2"), DeliverAt: base + 5000}))
	require.NoError(t, l.CancelDelayed(ctx, "d", []byte("order-1")))
	// A delayed message with the same key appended after the cancel is not cancelled.
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Key: []byte("order-1"), Body: []byte("remind 1 again"), DeliverAt: base + 5000}))
	var from int64
	assert.Equal(t, []string{"remind 2", "remind 1 again"}, advance(t, l, mock, 6*time.Second, &from))
	st, err := l.Timers(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Pending)
}

func TestDelayedValidation(t *testing.T) {
	mock := newMock(1_000_000)
	l, _ := timerLog(t, t.TempDir(), time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	err := l.Append(ctx, &Message{Topic: "d", Queue: 0, DeliverAt: 1_000_000 + (8 * 24 * time.Hour).Milliseconds()})
	require.ErrorIs(t, err, ErrInvalidMessage)
	assert.Contains(t, err.Error(), "more than the maximum delay 168h0m0s")
	p, err := l.InitProducer(ctx, "p", ProducerOptions{})
	require.NoError(t, err)
	err = p.Begin().Send(ctx, &Message{Topic: "d", Queue: 0, DeliverAt: 1_005_000})
	require.ErrorIs(t, err, ErrInvalidMessage)
	assert.Contains(t, err.Error(), "cannot be part of a transaction")
	// A due time in the past is an ordinary message.
	m := &Message{Topic: "d", Queue: 0, DeliverAt: 5}
	require.NoError(t, l.Append(ctx, m))
	assert.Equal(t, int64(0), m.Offset)
}

// TestDelayedExactlyOnceAcrossCrashes snapshots the data directory (what a kill leaves)
// around firings and checks that each reopened copy delivers every message exactly once.
func TestDelayedExactlyOnceAcrossCrashes(t *testing.T) {
	const base = 1_000_000
	mock := newMock(base)
	src := t.TempDir()
	l, opts := timerLog(t, src, time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	const n = 40
	for i := 0; i < n; i++ {
		require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte(fmt.Sprint(i)), DeliverAt: base + int64(1000+i*250)}))
	}
	require.NoError(t, l.Checkpoint(ctx))
	var snaps []string
	var from int64
	for i := 0; i < 12; i++ {
		advance(t, l, mock, time.Second, &from)
		if i == 6 {
			require.NoError(t, l.Checkpoint(ctx))
		}
		dst := t.TempDir()
		require.NoError(t, snapshotDir(src, dst))
		snaps = append(snaps, dst)
	}
	for k, dir := range snaps {
		r := openT(t, dir, opts)
		mock.Add(time.Second) // everything is overdue by now: the reopened log delivers it
		_, err := r.FireTimers(ctx)
		require.NoError(t, err)
		msgs := readAll(t, r, "d", 0)
		require.Len(t, msgs, n, "snapshot %d", k)
		seen := map[string]bool{}
		for _, m := range msgs {
			require.False(t, seen[string(m.Body)], "snapshot %d delivered %s twice", k, m.Body)
			seen[string(m.Body)] = true
		}
		st, err := r.Timers(ctx)
		require.NoError(t, err)
		assert.Zero(t, st.Pending)
		require.NoError(t, r.Close())
	}
}

func TestDelayedWheelRebuiltWhenFilesAreLost(t *testing.T) {
	const base = 1_000_000
	mock := newMock(base)
	dir := t.TempDir()
	l, opts := timerLog(t, dir, time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	for i := 0; i < 10; i++ {
		require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte(fmt.Sprint(i)), DeliverAt: base + int64(1000*(i+1))}))
	}
	var from int64
	require.Len(t, advance(t, l, mock, 3*time.Second, &from), 3)
	require.NoError(t, l.Close())
	require.NoError(t, removeAll(dir, "timerwheel"))
	l = openT(t, dir, opts)
	assert.NotEmpty(t, l.Recovery().Problems)
	st, err := l.Timers(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(7), st.Pending)
	got := advance(t, l, mock, 10*time.Second, &from)
	assert.Equal(t, []string{"3", "4", "5", "6", "7", "8", "9"}, got)
}

func TestRetryLevelsThenDeadLetter(t *testing.T) {
	const base = 1_000_000
	mock := newMock(base)
	l, _ := timerLog(t, t.TempDir(), time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "orders", 1))
	require.NoError(t, l.Append(ctx, &Message{Topic: "orders", Queue: 0, Key: []byte("k"), Body: []byte("poison")}))
	m := readAll(t, l, "orders", 0)[0]
	retry, dlq := RetryTopic("billing"), DLQTopic("billing")
	var from int64
	for attempt := 0; attempt < MaxReconsumeTimes; attempt++ {
		dead, err := l.Retry(ctx, "billing", &m)
		require.NoError(t, err)
		require.False(t, dead)
		delay := RetryDelays[2+attempt]
		mock.Add(delay - time.Second)
		_, err = l.FireTimers(ctx)
		require.NoError(t, err)
		f, err := l.Read(ctx, retry, 0, from, ReadOptions{})
		require.NoError(t, err)
		require.Empty(t, f.Messages, "attempt %d: not before %v", attempt, delay)
		mock.Add(time.Second)
		_, err = l.FireTimers(ctx)
		require.NoError(t, err)
		f, err = l.Read(ctx, retry, 0, from, ReadOptions{})
		require.NoError(t, err)
		require.Len(t, f.Messages, 1, "attempt %d redelivered after %v", attempt, delay)
		from = f.Next
		m = f.Messages[0]
		assert.Equal(t, fmt.Sprint(attempt+1), m.Properties[PropReconsumeTimes])
		assert.Equal(t, "orders", m.Properties[PropRetryTopic])
		assert.Equal(t, "poison", string(m.Body))
	}
	dead, err := l.Retry(ctx, "billing", &m)
	require.NoError(t, err)
	assert.True(t, dead)
	msgs := readAll(t, l, dlq, 0)
	require.Len(t, msgs, 1)
	assert.Equal(t, "17", msgs[0].Properties[PropReconsumeTimes])
	assert.Equal(t, "k", string(msgs[0].Key))
}

// TestDelayedOverdueDeliveredOnOpenThenFiring runs the timer goroutine itself: a reopened
// log delivers what became overdue while it was closed, then keeps firing.
func TestDelayedOverdueDeliveredOnOpenThenFiring(t *testing.T) {
	const base = 1_000_000
	mock := newMock(base)
	dir := t.TempDir()
	l, opts := timerLog(t, dir, time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("overdue"), DeliverAt: base + 2000}))
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("later"), DeliverAt: base + 60_000}))
	require.NoError(t, l.Close())

	mock.Add(10 * time.Second) // while closed
	opts.manualTimers = false
	l = openT(t, dir, opts)
	waitFor := func(n int) []string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			msgs := readAll(t, l, "d", 0)
			if len(msgs) >= n || time.Now().After(deadline) {
				return bodies(msgs)
			}
			select {
			case <-l.Notify():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	assert.Equal(t, []string{"overdue"}, waitFor(1), "delivered at open, with no tick")
	for i := 0; i < 50; i++ {
		mock.Add(time.Second) // the goroutine's ticker fires
	}
	assert.Equal(t, []string{"overdue", "later"}, waitFor(2))
}
