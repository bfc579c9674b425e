package log

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riffle-streams/riffle/log/internal/record"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tcWallClock is a realistic epoch for mock clocks: tick numbers of the size a real log
// sees (about 1.7e11 at 10 ms), not the small ones of a clock started at 1,000,000 ms.
const tcWallClock = 1_750_000_000_000

// A log replayed without a checkpoint (it was lost) rebuilds its wheel from tick 0: the
// delayed messages are parked on the wheel's last tick, about 1e6, and the clock's tick
// is 1.75e11 at 10 ms. The first firing must find them without walking every tick from 0
// to now on the appender goroutine.
func TestDelayedFirstFiringAfterReplayFromTickZeroIsQuick(t *testing.T) {
	mock := newMock(tcWallClock)
	dir := t.TempDir()
	opts := testOptions()
	opts.Clock = mock
	opts.TimerPrecision = 10 * time.Millisecond
	opts.manualTimers = true
	opts.FlushInterval, opts.CheckpointInterval, opts.RetentionCheckInterval, opts.TxnCheckInterval = 1000*time.Hour, 1000*time.Hour, 1000*time.Hour, 1000*time.Hour
	l, err := Open(dir, opts)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("v"), DeliverAt: tcWallClock + 1000}))
	require.NoError(t, l.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, "checkpoint")))

	// Not openT: a stuck appender would make its Close wait for ever.
	l, err = Open(dir, opts)
	require.NoError(t, err)
	done := make(chan []string, 1)
	go func() {
		var from int64
		done <- advance(t, l, mock, time.Second, &from)
	}()
	select {
	case got := <-done:
		assert.Equal(t, []string{"v"}, got)
		require.NoError(t, l.Close())
	case <-time.After(20 * time.Second):
		t.Fatal("the first firing did not finish within 20 s")
	}
}

// The wheel's cursor moves without a record when nothing is due, so recovery replays
// from the checkpoint's (older) cursor and places the timers written since then relative
// to it: further than the wheel reaches, they are parked at its last tick. A replayed fire
// record that moves the cursor past that tick must not strand them there.
func TestDelayedSurvivesReplayAfterUnrecordedCursorMoves(t *testing.T) {
	for _, tc := range []struct {
		name  string
		slots int64 // maxTimerSlots; 0 keeps the default
		// closedFor > 0: the log is fired, closed and reopened that much later, so that
		// its checkpoint's cursor is behind by more than the wheel's span.
		closedFor time.Duration
		// noCheckpoint: the killed log's checkpoint is lost too: replay from tick 0.
		noCheckpoint bool
	}{
		{name: "reopened after longer than the wheel's span", slots: 8, closedFor: 20 * time.Second},
		{name: "checkpoint lost", noCheckpoint: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.slots > 0 {
				old := maxTimerSlots
				maxTimerSlots = tc.slots // 8 slots: an 8 s wheel at 1 s precision
				defer func() { maxTimerSlots = old }()
			}
			mock := newMock(tcWallClock)
			src := t.TempDir()
			l, opts := timerLog(t, src, time.Second, mock)
			ctx := context.Background()
			require.NoError(t, l.CreateTopic(ctx, "d", 1))
			if tc.closedFor > 0 {
				_, err := l.FireTimers(ctx)
				require.NoError(t, err)
				require.NoError(t, l.Close())
				mock.Add(tc.closedFor)
				l = openT(t, src, opts)
			}
			_, err := l.FireTimers(ctx) // nothing pending: the cursor jumps to now, without a record
			require.NoError(t, err)
			now := mock.Now().UnixMilli()
			require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("v"), DeliverAt: now + 5000}))
			require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("w"), DeliverAt: now + 1000}))
			var from int64
			require.Equal(t, []string{"w"}, advance(t, l, mock, time.Second, &from), "w fires, with a record")

			// A kill now: reopen a copy of the directory.
			dst := t.TempDir()
			require.NoError(t, copyDir(src, dst))
			if tc.noCheckpoint {
				require.NoError(t, os.Remove(filepath.Join(dst, "checkpoint")))
			}
			r := openT(t, dst, opts)
			st, err := r.Timers(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(1), st.Pending)
			var got []string
			for range 10 {
				got = append(got, advance(t, r, mock, time.Second, &from)...)
			}
			assert.Equal(t, []string{"v"}, got, "the delayed message appended after the cursor moved is delivered")
			st, err = r.Timers(ctx)
			require.NoError(t, err)
			assert.Zero(t, st.Pending)
		})
	}
}

// A new log's wheel starts at the current tick, not at tick 0: the delayed messages
// appended before its first firing spread over the wheel, instead of piling up on its
// last tick as one list that the first firing would take whole.
func TestDelayedNewLogWheelStartsNow(t *testing.T) {
	mock := newMock(tcWallClock)
	l, _ := timerLog(t, t.TempDir(), time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	st, err := l.Timers(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(tcWallClock/1000), st.Cursor)
	for i := range 3 {
		require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte(fmt.Sprint(i)), DeliverAt: tcWallClock + int64(i+1)*1000}))
	}
	var from int64
	for i := range 3 {
		assert.Equal(t, []string{fmt.Sprint(i)}, advance(t, l, mock, time.Second, &from))
	}
}

// Delayed delivery across SIGKILLs. A child process (this test binary, re-executed into
// TestTimerCrashChild) appends delayed messages due over the next few seconds, on the
// real clock, while its timer goroutine fires them; the parent kills it at random
// moments, restarts it, and checks from the commitlog itself: every delayed message the
// log holds is delivered exactly once (one fire record lists it, its queue holds it once),
// none before its due time (the fire record's store time and last tick against DeliverAt),
// every acknowledged one is among them, and in the end none is left pending.
//
// Timing only chooses the kill points and the due times. The seed is printed;
// RIFFLE_TC_SEED=N replays the choices and RIFFLE_TC_KILLS=N sets the number of kills.

// tcTimerConfig is what a timer child runs.
type tcTimerConfig struct {
	Dir                string
	Seed               uint64
	Child              int // ids of its messages: Child*1e6 + goroutine*1e5 + i
	Durability         Durability
	Precision          time.Duration
	CheckpointInterval time.Duration
	Budget             int           // delayed messages per appending goroutine
	MaxDelay           time.Duration // due times are within this of the append
	FireLimit          int           // maxFireTimers in the child (0: the default)
}

const (
	tcTimerTopic  = "d"
	tcTimerQueues = 2
	tcAppenders   = 2
)

func (c tcTimerConfig) options(logger *slog.Logger) Options {
	return Options{
		SegmentSize:             256 << 10,
		ConsumeQueueFileEntries: 100,
		MaxMessageSize:          64 << 10,
		Durability:              c.Durability,
		CheckpointInterval:      c.CheckpointInterval,
		TimerPrecision:          c.Precision,
		Logger:                  logger,
	}
}

// TestTimerCrashChild is the child process of TestTimerCrashDelivery; run directly, it
// skips.
func TestTimerCrashChild(t *testing.T) {
	if os.Getenv(tcChildEnv) != "timer" {
		t.Skip("runs only as the child process of TestTimerCrashDelivery")
	}
	var cfg tcTimerConfig
	if err := json.Unmarshal([]byte(os.Getenv(tcConfigEnv)), &cfg); err != nil {
		tcFail("config: %v", err)
	}
	tcTimerChild(cfg)
}

// tcTimerChild appends delayed messages until its budget is spent, then waits to be
// killed while its timer goroutine fires them. It prints "ready" once the log is open
// and "ack G I" when the append of message I of goroutine G (and every one before it)
// returned.
func tcTimerChild(cfg tcTimerConfig) {
	if cfg.FireLimit > 0 {
		maxFireTimers = cfg.FireLimit // ticks fired by several records
	}
	l, err := Open(cfg.Dir, cfg.options(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		tcFail("open: %v", err)
	}
	tcPrint("ready")
	for g := range tcAppenders {
		go func() {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(g)))
			for i := 0; i < cfg.Budget; {
				msgs := make([]*Message, min(1+rng.IntN(8), cfg.Budget-i))
				now := time.Now().UnixMilli()
				for j := range msgs {
					delay := 1 + rng.Int64N(cfg.MaxDelay.Milliseconds())
					if rng.IntN(8) == 0 { // due within a tick or two: races with the firing
						delay = 1 + rng.Int64N(2*cfg.Precision.Milliseconds())
					}
					id := strconv.Itoa(cfg.Child*1_000_000 + g*100_000 + i + j)
					msgs[j] = &Message{Topic: tcTimerTopic, Queue: ByKey, Key: []byte(id), Body: fmt.Appendf(nil, "%s/%d", id, now+delay), DeliverAt: now + delay}
				}
				// A message whose due time passed before the log took it (a stall of a
				// millisecond will do) is an ordinary message: the parent checks it too.
				if err := l.Append(ctx, msgs...); err != nil {
					tcFail("append: %v", err)
				}
				i += len(msgs)
				tcPrint("ack %d %d", g, i-1)
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}()
	}
	select {} // until killed
}

// tcTimerState is what the parent knows across kills.
type tcTimerState struct {
	acked    map[string]bool // ids whose append returned
	maxDue   int64           // the latest due time any child may have appended
	lags     []int64         // ms from due time to the fire record, of the last verification
	liveLags []int64         // the same, of fire records covering at most 2 ticks: a running log's
	timers   int
	plain    int // messages due before the log took them: appended as ordinary ones
	cuts     int // fire records that delivered part of a tick

	kills, earlyKills, verifications, truncations int
}

func TestTimerCrashDelivery(t *testing.T) {
	t.Parallel()
	kills := 30
	if testing.Short() {
		kills = 6
	}
	seed, kills := tcSeedAndKills(t, kills)
	rng := rand.New(rand.NewPCG(seed, 0))
	precision := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}[rng.IntN(4)]
	const maxDelay = 3 * time.Second
	t.Logf("timer precision %v, due times up to %v ahead", precision, maxDelay)
	dir := t.TempDir()
	base := tcTimerConfig{Dir: dir, Precision: precision, Durability: Async, MaxDelay: maxDelay}

	// A new log, whose wheel has never fired: its checkpoint's cursor is tick 0.
	opts := base.options(slog.New(slog.NewTextHandler(io.Discard, nil)))
	opts.manualTimers = true
	l, err := Open(dir, opts)
	require.NoError(t, err)
	require.NoError(t, l.CreateTopic(context.Background(), tcTimerTopic, tcTimerQueues))
	require.NoError(t, l.Close())

	st := &tcTimerState{acked: map[string]bool{}}
	start := time.Now()
	for it := range kills {
		cfg := base
		cfg.Seed, cfg.Child, cfg.Budget = rng.Uint64(), it, 150
		cfg.CheckpointInterval = []time.Duration{20 * time.Millisecond, 300 * time.Millisecond, 5 * time.Second}[rng.IntN(3)]
		if it == 0 {
			cfg.CheckpointInterval = 5 * time.Second // the default: a new log's first seconds go without a checkpoint
		}
		if rng.IntN(2) == 0 {
			cfg.Durability = Sync
		}
		cfg.FireLimit = []int{0, 3, 20}[rng.IntN(3)]
		cmd, lines, stderr := tcStartChild(t, "TestTimerCrashChild", "timer", cfg)
		handle := func(f []string) {
			if len(f) == 3 && f[0] == "ack" {
				g, err1 := strconv.Atoi(f[1])
				i, err2 := strconv.Atoi(f[2])
				if err1 == nil && err2 == nil {
					for ; i >= 0 && !st.acked[strconv.Itoa(it*1_000_000+g*100_000+i)]; i-- {
						st.acked[strconv.Itoa(it*1_000_000+g*100_000+i)] = true
					}
				}
			}
		}
		drain := tcKillPoint(t, rng, lines, &st.earlyKills, 1500*time.Millisecond, handle)
		tcKill(t, cmd, stderr, it)
		st.maxDue = time.Now().Add(maxDelay).UnixMilli() // the child is gone: nothing is due later
		drain()
		st.kills++
		if it == kills-1 || rng.IntN(3) == 0 {
			tcVerifyTimers(t, base, st, it, false)
		}
	}
	// Wait until everything is due, then fire it and check that nothing is left.
	time.Sleep(time.Until(time.UnixMilli(st.maxDue + 2*precision.Milliseconds())))
	tcVerifyTimers(t, base, st, kills, true)
	pct := func(lags []int64, p float64) int64 {
		slices.Sort(lags)
		if len(lags) == 0 {
			return -1
		}
		return lags[int(p*float64(len(lags)-1))]
	}
	t.Logf("%d kills (%d early) in %.1fs; %d verifications, %d torn tails cut; %d delayed messages delivered once each, %d acknowledged; "+
		"ms from due time to firing: p50 %d, p99 %d, max %d (by a running log: p50 %d, p99 %d); %d due before the log took them, appended as ordinary messages; %d fire records delivered part of a tick",
		st.kills, st.earlyKills, time.Since(start).Seconds(), st.verifications, st.truncations, st.timers, len(st.acked),
		pct(st.lags, 0.5), pct(st.lags, 0.99), pct(st.lags, 1), pct(st.liveLags, 0.5), pct(st.liveLags, 0.99), st.plain, st.cuts)
}

// tcVerifyTimers reopens the log in this process (timers fired by hand only) and checks
// the delayed messages against the commitlog. With final, it fires everything due (all
// is) and requires that nothing is left pending.
func tcVerifyTimers(t *testing.T, cfg tcTimerConfig, st *tcTimerState, it int, final bool) {
	t.Helper()
	logs := &lockedBuffer{}
	opts := cfg.options(slog.New(slog.NewTextHandler(logs, nil)))
	opts.manualTimers = true
	l, err := Open(cfg.Dir, opts)
	require.NoError(t, err, "reopen after kill %d; log output:\n%s", it, logs)
	defer l.Close()
	st.verifications++
	rep := l.Recovery()
	if rep.TruncatedBytes > 0 {
		st.truncations++
	}
	require.Empty(t, rep.Problems, "kill %d: %+v\n%s", it, rep, logs)
	require.Empty(t, rep.RebuiltQueues, "kill %d: %+v\n%s", it, rep, logs)
	ctx := context.Background()
	if final {
		_, err := l.FireTimers(ctx)
		require.NoError(t, err)
	}

	// The commitlog: timer records, and the fire records that deliver them.
	type timer struct {
		id      string
		deliver int64
		fired   int
	}
	timers := map[int64]*timer{} // by position
	ids := map[string]bool{}     // of timer records and of ordinary messages
	plain := 0                   // ordinary messages: due before the log took them
	parse := func(body []byte) (string, int64) {
		id, due, ok := strings.Cut(string(body), "/")
		at, err := strconv.ParseInt(due, 10, 64)
		if !ok || err != nil {
			t.Fatalf("kill %d: a message of %s is %q", it, tcTimerTopic, body)
		}
		return id, at
	}
	precision := cfg.Precision.Milliseconds()
	var lags, liveLags []int64
	cuts := 0 // fire records that delivered part of a tick
	earliest, _ := l.cl.bounds()
	err = l.forEachRecord(earliest, func(r *record.Record, pos int64, size int) error {
		switch r.Type {
		case record.TypeTimer:
			at, err := deliverAtOf(r)
			require.NoError(t, err)
			id, due := parse(r.Body)
			require.Equal(t, due, at)
			require.False(t, ids[id], "kill %d: two records of message %s", it, id)
			ids[id] = true
			timers[pos] = &timer{id: id, deliver: at}
		case record.TypeMessage:
			if string(r.Topic) != tcTimerTopic {
				return nil
			}
			id, due := parse(r.Body)
			require.False(t, ids[id], "kill %d: two records of message %s", it, id)
			ids[id] = true
			plain++
			if r.StoreTime < due {
				t.Fatalf("kill %d: message %s due at %d was appended as an ordinary message at %d", it, id, due, r.StoreTime)
			}
		case record.TypeTimerOp:
			o, err := decodeTimerOp(r.Body)
			require.NoError(t, err)
			require.Empty(t, o.cancelled)
			for i, f := range o.fired {
				if i == 0 && slices.ContainsFunc(o.fired, func(f firedTimer) bool { return (f.deliver+precision-1)/precision > o.to }) {
					cuts++
				}
				tm := timers[f.pos]
				require.NotNil(t, tm, "kill %d: the fire record at %d names position %d, which is no timer record before it", it, pos, f.pos)
				require.Equal(t, tm.deliver, f.deliver)
				tm.fired++
				if tm.fired > 1 {
					t.Fatalf("kill %d: message %s (due %d) fired again by the fire record at %d", it, tm.id, tm.deliver, pos)
				}
				// Never early: not before its due time, and within the ticks the record
				// covers (up to the one after them, which a record may have cut).
				if r.StoreTime < tm.deliver || (tm.deliver+precision-1)/precision > o.to+1 {
					t.Fatalf("kill %d: message %s due at %d (tick %d) fired early: at %d, ticks up to %d", it, tm.id, tm.deliver, (tm.deliver+precision-1)/precision, r.StoreTime, o.to)
				}
				lags = append(lags, r.StoreTime-tm.deliver)
				if o.to-o.from <= 2 {
					liveLags = append(liveLags, r.StoreTime-tm.deliver)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	for id := range st.acked {
		require.True(t, ids[id], "kill %d: the append of delayed message %s was acknowledged, but its record is gone", it, id)
	}

	// The queues: each fired message once, nothing else.
	delivered := map[string]bool{}
	for q := range tcTimerQueues {
		for _, m := range readAll(t, l, tcTimerTopic, q) {
			id, _ := parse(m.Body)
			if delivered[id] || !ids[id] || string(m.Key) != id {
				t.Fatalf("kill %d: %s/%d@%d is %q (key %q): delivered twice, or no delayed message", it, tcTimerTopic, q, m.Offset, m.Body, m.Key)
			}
			delivered[id] = true
		}
	}
	fired := 0
	for _, tm := range timers {
		require.Equal(t, tm.fired == 1, delivered[tm.id], "kill %d: message %s: fired %d times, delivered %v", it, tm.id, tm.fired, delivered[tm.id])
		fired += tm.fired
	}
	require.Len(t, delivered, fired+plain, "kill %d: delivered messages", it)
	ts, err := l.Timers(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(len(timers)-fired), ts.Pending, "kill %d: pending count", it)
	if final {
		for _, tm := range timers {
			require.Equal(t, 1, tm.fired, "kill %d: message %s due at %d was never delivered", it, tm.id, tm.deliver)
		}
		require.Zero(t, ts.Pending)
	}
	st.lags, st.liveLags, st.timers, st.plain, st.cuts = lags, liveLags, fired, plain, cuts
}

// A checkpoint writes the wheel's slots in place, then the checkpoint file. A kill in
// between leaves slots ahead of the checkpoint: their lists start with timer-log entries
// the checkpoint does not count. Recovery takes the lists back to the checkpoint (the
// replay inserts those timers again) instead of rebuilding the wheel from the whole
// commitlog, and delivers everything exactly once.
func TestDelayedKillBetweenSlotsAndCheckpoint(t *testing.T) {
	mock := newMock(tcWallClock)
	src := t.TempDir()
	l, opts := timerLog(t, src, time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	_, err := l.FireTimers(ctx)
	require.NoError(t, err)
	for i := range 6 {
		require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte(fmt.Sprint("a", i)), DeliverAt: tcWallClock + int64(1000+i%3*1000)}))
	}
	require.NoError(t, l.Checkpoint(ctx))
	for i := range 6 { // into the same slots, and into new ones
		require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte(fmt.Sprint("b", i)), DeliverAt: tcWallClock + int64(2000+i%3*1000)}))
	}
	var from int64
	require.Equal(t, []string{"a0", "a3"}, advance(t, l, mock, time.Second, &from))
	// The first half of a checkpoint: the slots, not the checkpoint file.
	require.NoError(t, l.submit(ctx, &request{ctl: l.wheel.flush}))

	dst := t.TempDir()
	require.NoError(t, copyDir(src, dst))
	r := openT(t, dst, opts)
	assert.True(t, r.Recovery().Clean(), "%+v", r.Recovery())
	var got []string
	for range 5 {
		got = append(got, advance(t, r, mock, time.Second, &from)...)
	}
	assert.Equal(t, []string{"a1", "a4", "b0", "b3", "a2", "a5", "b1", "b4", "b2", "b5"}, got)
	st, err := r.Timers(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Pending)
}

// The timer goroutine fires at the clock's tick boundaries, whenever the log was opened:
// a message is readable within one tick of its due time (Options.TimerPrecision), not
// within two, as it was when the goroutine ticked at the phase of its start.
func TestDelayedTimerGoroutineTicksAtBoundaries(t *testing.T) {
	mock := newMock(tcWallClock - 5000)
	dir := t.TempDir()
	l, opts := timerLog(t, dir, time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 1))
	require.NoError(t, l.Close())

	// Reopened half a tick after a boundary, with the timer goroutine running.
	mock.Set(time.UnixMilli(tcWallClock + 500))
	opts.manualTimers = false
	l = openT(t, dir, opts)
	cursorReaches := func(tick int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := l.Timers(ctx)
			require.NoError(t, err)
			if st.Cursor >= tick {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the timer goroutine did not fire tick %d (clock at %d ms, cursor at tick %d)", tick, mock.Now().UnixMilli(), st.Cursor)
			}
			time.Sleep(time.Millisecond)
		}
	}
	const tick0 = tcWallClock / 1000
	cursorReaches(tick0) // the firing at start
	require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: 0, Body: []byte("m"), DeliverAt: tcWallClock + 1001}))
	mock.Add(500 * time.Millisecond)
	cursorReaches(tick0 + 1) // the boundary at +1 s
	mock.Add(time.Second)
	cursorReaches(tick0 + 2) // +2 s: m, due at +1.001 s, is readable 999 ms late
	assert.Equal(t, []string{"m"}, bodies(readAll(t, l, "d", 0)))
}

// tcFireOnce writes at most one fire record, as one round of FireTimers does. It reports
// whether it wrote one.
func tcFireOnce(t *testing.T, l *Log) bool {
	t.Helper()
	now := l.opts.Clock.Now().UnixMilli()
	rec := &record.Record{Type: record.TypeTimerOp, Topic: []byte(TimerTopic),
		Body: encodeTimerOp(timerOp{op: timerFire, to: now / l.opts.TimerPrecision.Milliseconds()})}
	err := l.submit(context.Background(), sysRequest(rec, DurabilityDefault))
	if errors.Is(err, errNothingDue) {
		return false
	}
	require.NoError(t, err)
	return true
}

// A record lists at most maxFireTimers timers, also when one tick holds more: 1,600,000
// timers due within one second (at 1 s precision) would otherwise make a fire record of
// over 64 MiB, which recovery takes for a corrupt tail and cuts, with everything after
// it. The tick is delivered by several records; a kill between them delivers each timer
// once all the same.
func TestDelayedTickWithMoreTimersThanARecordTakes(t *testing.T) {
	old := maxFireTimers
	maxFireTimers = 10
	defer func() { maxFireTimers = old }()
	mock := newMock(tcWallClock)
	src := t.TempDir()
	l, opts := timerLog(t, src, time.Second, mock)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 2))
	var want []string
	for i := range 36 { // tick +2 s: 36 timers
		due := tcWallClock + 1001 + int64(i%7)*100
		want = append(want, fmt.Sprint(i))
		require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: i % 2, Body: []byte(fmt.Sprint(i)), DeliverAt: due}))
	}
	for i := 36; i < 40; i++ { // tick +3 s
		want = append(want, fmt.Sprint(i))
		require.NoError(t, l.Append(ctx, &Message{Topic: "d", Queue: i % 2, Body: []byte(fmt.Sprint(i)), DeliverAt: tcWallClock + 2500}))
	}
	require.NoError(t, l.Checkpoint(ctx))
	mock.Add(3 * time.Second)
	var snaps []string
	for tcFireOnce(t, l) {
		dst := t.TempDir()
		require.NoError(t, copyDir(src, dst))
		snaps = append(snaps, dst)
	}
	require.Len(t, snaps, 4, "fire records")

	check := func(l *Log, what string) {
		t.Helper()
		var got []string
		for q := range 2 {
			got = append(got, bodies(readAll(t, l, "d", q))...)
		}
		assert.ElementsMatch(t, want, got, "%s: each delivered once", what)
		st, err := l.Timers(ctx)
		require.NoError(t, err)
		assert.Zero(t, st.Pending, what)
		earliest, _ := l.cl.bounds()
		require.NoError(t, l.forEachRecord(earliest, func(r *record.Record, pos int64, size int) error {
			if r.Type == record.TypeTimerOp {
				o, err := decodeTimerOp(r.Body)
				require.NoError(t, err)
				assert.LessOrEqual(t, len(o.fired)+len(o.rolled)+len(o.cancelled), maxFireTimers, "%s: the fire record at %d", what, pos)
			}
			return nil
		}))
	}
	check(l, "the log")
	for i, dir := range snaps {
		r := openT(t, dir, opts)
		_, err := r.FireTimers(ctx)
		require.NoError(t, err)
		check(r, fmt.Sprintf("killed after fire record %d", i+1))
		require.NoError(t, r.Close())
	}
}
