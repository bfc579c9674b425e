package log

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riffle-streams/riffle/log/internal/record"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The timing wheel lives on disk: a pending delayed message costs a record in the
// commitlog and a 40-byte entry in the timer log, and nothing in memory. What the wheel
// holds in memory is fixed when the log opens: 16 bytes per slot (TimerMaxDelay /
// TimerPrecision + 2 slots, at most 2^20) and one dirty bit per slot.

// tcHeapInUse is the heap in use after a full collection.
func tcHeapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// tcSchedule appends n delayed messages with 16-byte bodies, 1,000 per call, due at
// due(i) for message i (counted from first).
func tcSchedule(t testing.TB, l *Log, first, n int, due func(i int) int64) {
	t.Helper()
	ctx := context.Background()
	const batch = 1000
	msgs := make([]Message, batch)
	ptrs := make([]*Message, batch)
	for i := first; i < first+n; i += batch {
		k := min(batch, first+n-i)
		for j := range k {
			msgs[j] = Message{Topic: "d", Queue: (i + j) % 4, Body: fmt.Appendf(nil, "%016d", i+j), DeliverAt: due(i + j)}
			ptrs[j] = &msgs[j]
		}
		if err := l.AppendWith(ctx, Async, ptrs[:k]...); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTimerPendingMemoryIsBounded schedules 2,000,000 delayed messages (400,000 with
// -short) due over the next week, and checks that the heap does not grow with them.
//
// The bound: the wheel's fixed part is 604,802 slots at 1 s precision over 7 days, 9.7 MB,
// and the rest of an idle log (encode buffer pools, index write buffers, the runtime) is a
// few MB. 48 MB leaves room for the collector's slack; a wheel in memory would need at
// least 40 bytes per timer, 80 MB for 2,000,000. Between 100,000 and the end, growth must
// stay under 8 MB: under 4.2 bytes per extra pending timer (under 27 with -short).
func TestTimerPendingMemoryIsBounded(t *testing.T) {
	n := 2_000_000
	if testing.Short() {
		n = 400_000
	}
	mock := newMock(tcWallClock)
	opts := testOptions()
	opts.SegmentSize = 64 << 20
	opts.ConsumeQueueFileEntries = 300_000
	opts.Clock = mock
	opts.manualTimers = true
	opts.FlushInterval, opts.CheckpointInterval, opts.RetentionCheckInterval, opts.TxnCheckInterval = 1000*time.Hour, 1000*time.Hour, 1000*time.Hour, 1000*time.Hour
	dir := t.TempDir()
	l := openT(t, dir, opts)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 4))
	const hour = int64(time.Hour / time.Millisecond)
	// Due from 1 h to 7 days ahead, scattered over the wheel by a multiplicative hash.
	due := func(i int) int64 { return tcWallClock + hour + int64(i)*2654435761%(167*hour) }

	start := time.Now()
	tcSchedule(t, l, 0, 100_000, due)
	at100k := tcHeapInUse()
	tcSchedule(t, l, 100_000, 300_000, due)
	at400k := tcHeapInUse()
	tcSchedule(t, l, 400_000, n-400_000, due)
	atN := tcHeapInUse()
	secs := time.Since(start).Seconds()
	st, err := l.Timers(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(n), st.Pending)
	t.Logf("%d delayed messages scheduled in %.1fs (%.0f/s); heap in use %.1f MB at 100k pending, %.1f MB at 400k, %.1f MB at %d",
		n, secs, float64(n)/secs, float64(at100k)/1e6, float64(at400k)/1e6, float64(atN)/1e6, n)
	assert.Less(t, atN, uint64(48<<20), "heap with %d pending delayed messages", n)
	assert.Less(t, int64(atN)-int64(at100k), int64(8<<20), "heap growth from 100,000 to %d pending delayed messages", n)
	assert.Less(t, int64(at400k)-int64(at100k), int64(8<<20), "heap growth from 100,000 to 400,000 pending delayed messages")

	// The wheel is on disk: one 40-byte timer-log entry per pending timer.
	fi, err := os.Stat(filepath.Join(dir, "timerwheel", "timerlog"))
	require.NoError(t, err)
	assert.Equal(t, int64(n)*timerEntrySize, fi.Size())

	// The first two hours come due: exactly those are delivered, once.
	mock.Add(2 * time.Hour)
	fired, err := l.FireTimers(ctx)
	require.NoError(t, err)
	want := 0
	for i := range n {
		if due(i) <= mock.Now().UnixMilli() {
			want++
		}
	}
	require.Equal(t, want, fired)
	got := 0
	for q := range 4 {
		_, hi, err := l.QueueBounds("d", q)
		require.NoError(t, err)
		got += int(hi)
	}
	assert.Equal(t, want, got)
	st, err = l.Timers(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(n-want), st.Pending)
}

// BenchmarkTimers schedules RIFFLE_TIMER_BENCH_N delayed messages (default 10,000,000)
// with 16-byte bodies on the real clock, all due after the last is scheduled, spread over
// RIFFLE_TIMER_BENCH_SPREAD (default 60s), then lets the log fire them. It reports the
// scheduling rate, the heap in use and the RSS with all of them pending (and the largest
// RSS seen while they fire), and the firing lag: how long after its due time each message
// became visible (the store time of the fire record that delivered it), p50, p99 and max,
// against the precision. One run per precision, whatever b.N is: it takes minutes. The
// last line of each is JSON.
//
//	go test ./log -run '^$' -bench BenchmarkTimers -benchtime 1x -timeout 30m
func BenchmarkTimers(b *testing.B) {
	n := 10_000_000
	if s := os.Getenv("RIFFLE_TIMER_BENCH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	spread := 60 * time.Second
	if s := os.Getenv("RIFFLE_TIMER_BENCH_SPREAD"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		spread = v
	}
	for _, precision := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("pending=%d/precision=%v", n, precision), func(b *testing.B) {
			tcBenchTimers(b, n, spread, precision)
		})
	}
}

func tcBenchTimers(b *testing.B, n int, spread, precision time.Duration) {
	dir := b.TempDir()
	l, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TimerPrecision: precision})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.CreateTopic(ctx, "d", 4); err != nil {
		b.Fatal(err)
	}
	// Schedule from 2 producers. Due times: after an estimate of the scheduling time at
	// 500,000/s (so that nothing is due before everything is pending), spread evenly.
	start := time.Now()
	first := start.Add(5*time.Second + time.Duration(n/500_000)*time.Second).UnixMilli()
	due := func(i int) int64 { return first + int64(i)*spread.Milliseconds()/int64(n) }
	var wg sync.WaitGroup
	const producers = 2
	for p := range producers {
		wg.Go(func() {
			per := n / producers
			tcSchedule(b, l, p*per, per, due)
		})
	}
	wg.Wait()
	schedSecs := time.Since(start).Seconds()
	if time.Now().UnixMilli() >= first {
		b.Logf("scheduling outran the estimate: some messages came due while others were still being scheduled")
	}
	heap := tcHeapInUse()
	rss := tcRSS()
	st, err := l.Timers(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pending := st.Pending

	// Wait for the last to come due and be delivered.
	firingRSS := rss
	for {
		firingRSS = max(firingRSS, tcRSS())
		st, err := l.Timers(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Pending == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The lag of every delivery, from the fire records.
	var lags []int64
	earliest, _ := l.cl.bounds()
	err = l.forEachRecord(earliest, func(r *record.Record, pos int64, size int) error {
		if r.Type != record.TypeTimerOp {
			return nil
		}
		o, err := decodeTimerOp(r.Body)
		if err != nil {
			return err
		}
		for _, f := range o.fired {
			lags = append(lags, r.StoreTime-f.deliver)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(lags) != n {
		b.Fatalf("%d delivered, want %d", len(lags), n)
	}
	slices.Sort(lags)
	pct := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))]) }
	res := map[string]any{
		"pending": pending, "precision_ms": precision.Milliseconds(), "spread_s": spread.Seconds(),
		"sched_msgs_per_sec": float64(n) / schedSecs, "heap_mb": float64(heap) / 1e6, "rss_mb": float64(rss) / 1e6,
		"lag_p50_ms": pct(0.5), "lag_p99_ms": pct(0.99), "lag_max_ms": pct(1), "lag_negative": lags[0] < 0,
		"rss_firing_max_mb": float64(firingRSS) / 1e6,
	}
	js, _ := json.Marshal(res)
	fmt.Println(string(js))
	b.ReportMetric(float64(n)/schedSecs, "sched_msgs/s")
	b.ReportMetric(float64(heap)/1e6, "heap_MB")
	b.ReportMetric(float64(rss)/1e6, "rss_MB")
	b.ReportMetric(pct(0.5), "lag_p50_ms")
	b.ReportMetric(pct(0.99), "lag_p99_ms")
	if lags[0] < 0 {
		b.Errorf("a message became visible %d ms before its due time", -lags[0])
	}
}

// tcRSS is the resident set size of this process (0 where /proc is missing).
func tcRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
