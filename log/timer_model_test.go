package log

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/log/internal/record"
)

func mustDeliverAt(t *testing.T, r *record.Record) int64 {
	at, err := deliverAtOf(r)
	require.NoError(t, err)
	return at
}

// TestDelayedModelCrashes drives delayed messages through random appends, clock steps,
// single fire records (as the timer goroutine writes them, cut by a small
// maxFireTimers), checkpoints, halves of checkpoints (the slots written, not the
// checkpoint file) and crashes (a copy of the data directory taken between two of these
// steps, reopened), on a mock clock and a small wheel that turns many times. At the end
// every message must have been delivered exactly once (TestTimerCrashDelivery also checks
// that none is early).
//
// It is the deterministic, in-process counterpart of TestTimerCrashDelivery: a failing
// seed replays exactly (RIFFLE_TM_SEED).
func TestDelayedModelCrashes(t *testing.T) {
	seeds := 120
	if testing.Short() {
		seeds = 40
	}
	first := uint64(1)
	if s := os.Getenv("RIFFLE_TM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		first, seeds = n, 1
	}
	// The seeds run side by side: most of the time goes to fsyncs.
	for seed := first; seed < first+uint64(seeds); seed++ {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			if !tmRun(t, seed) {
				t.Errorf("seed %d failed (RIFFLE_TM_SEED=%d replays it)", seed, seed)
			}
		})
	}
}

func tmRun(t *testing.T, seed uint64) bool {
	rng := rand.New(rand.NewPCG(seed, 7))
	fireLimit := []int{2, 5, 100_000}[rng.IntN(3)]
	precision := 10 * time.Millisecond
	const maxDelay = 300 // ms: a wheel of 32 slots
	mock := newMock(tcWallClock)
	dir := t.TempDir()
	opts := testOptions()
	opts.Clock = mock
	opts.TimerPrecision = precision
	opts.TimerMaxDelay = maxDelay * time.Millisecond
	opts.manualTimers = true
	opts.fireLimit = fireLimit
	opts.FlushInterval, opts.CheckpointInterval, opts.RetentionCheckInterval, opts.TxnCheckInterval = 1000*time.Hour, 1000*time.Hour, 1000*time.Hour, 1000*time.Hour
	l, err := Open(dir, opts)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "d", 2))

	due := map[string]int64{} // body -> due time
	var trace []string
	step := func(format string, args ...any) { trace = append(trace, fmt.Sprintf(format, args...)) }
	defer func() {
		if t.Failed() {
			t.Logf("seed %d, fire limit %d, steps:\n%s", seed, fireLimit, strings.Join(trace, "\n"))
		}
	}()
	id := 0
	check := func() {
		// The wheel's invariants: every pending timer in exactly one list, within
		// (cursor, cursor+n-1], and no other.
		var err error
		require.NoError(t, l.submit(ctx, &request{ctl: func() error { err = tmCheckWheel(l.wheel); return nil }}))
		if err != nil {
			t.Fatalf("after %q: %v", trace[len(trace)-1], err)
		}
	}
	for range 60 + rng.IntN(60) {
		if len(trace) > 0 {
			check()
		}
		now := mock.Now().UnixMilli()
		switch op := rng.IntN(100); {
		case op < 40: // appends
			k := 1 + rng.IntN(6)
			var msgs []*Message
			for range k {
				at := now + 1 + rng.Int64N(maxDelay)
				body := strconv.Itoa(id)
				id++
				due[body] = at
				msgs = append(msgs, &Message{Topic: "d", Queue: rng.IntN(2), Body: []byte(body), DeliverAt: at})
			}
			step("append %d at %d", k, now)
			require.NoError(t, l.Append(ctx, msgs...))
		case op < 60: // the clock moves: mostly a tick or two, sometimes beyond the wheel
			var d time.Duration
			switch rng.IntN(10) {
			case 0:
				d = time.Duration(rng.IntN(3*maxDelay)) * time.Millisecond
			default:
				d = time.Duration(rng.IntN(25)) * time.Millisecond
			}
			step("clock +%v", d)
			mock.Add(d)
		case op < 80:
			step("fire once at %d", now)
			tcFireOnce(t, l)
		case op < 85:
			step("fire all at %d", now)
			_, err := l.FireTimers(ctx)
			require.NoError(t, err)
		case op < 90:
			step("checkpoint")
			require.NoError(t, l.Checkpoint(ctx))
		case op < 94:
			step("flush slots")
			require.NoError(t, l.submit(ctx, &request{ctl: l.wheel.flush}))
		default:
			_, end := l.cl.bounds()
			step("crash at position %d", end)
			dst := t.TempDir()
			require.NoError(t, copyDir(dir, dst))
			require.NoError(t, l.Close())
			dir = dst
			l, err = Open(dir, opts)
			require.NoError(t, err)
			rep := l.Recovery()
			require.Empty(t, rep.Problems, "%+v", rep)
		}
	}
	// Everything due, everything fired.
	mock.Add(2 * maxDelay * time.Millisecond)
	_, err = l.FireTimers(ctx)
	require.NoError(t, err)
	got := map[string]int{}
	for q := range 2 {
		for _, m := range readAll(t, l, "d", q) {
			got[string(m.Body)]++
		}
	}
	ok := true
	if os.Getenv("RIFFLE_TM_SEED") != "" {
		earliest, _ := l.cl.bounds()
		require.NoError(t, l.forEachRecord(earliest, func(r *record.Record, pos int64, size int) error {
			switch r.Type {
			case record.TypeTimer:
				step("%d: timer %s due %d", pos, r.Body, mustDeliverAt(t, r))
			case record.TypeTimerOp:
				o, err := decodeTimerOp(r.Body)
				require.NoError(t, err)
				var fired, rolled []int64
				for _, f := range o.fired {
					fired = append(fired, f.pos)
				}
				for _, e := range o.rolled {
					rolled = append(rolled, e.pos)
				}
				step("%d: fire (%d, %d] at %d: fired %v rolled %v", pos, o.from, o.to, r.StoreTime, fired, rolled)
			}
			return nil
		}))
	}
	for body := range due {
		if got[body] != 1 {
			t.Errorf("message %s (due %d) delivered %d times", body, due[body], got[body])
			ok = false
		}
	}
	st, err := l.Timers(ctx)
	require.NoError(t, err)
	if st.Pending != 0 {
		t.Errorf("%d pending after everything fired (cursor %d)", st.Pending, st.Cursor)
		ok = false
	}
	require.NoError(t, l.Close())
	return ok && !t.Failed()
}

// tmCheckWheel checks the wheel's invariants (on the appender goroutine).
func tmCheckWheel(w *wheel) error {
	seen := map[int64]int64{} // timer position -> tick
	for i, sl := range w.slots {
		if sl.head == 0 {
			continue
		}
		if sl.tick%w.n != int64(i) {
			return fmt.Errorf("slot %d holds tick %d", i, sl.tick)
		}
		if sl.tick <= w.cursor || sl.tick > w.cursor+w.n-1 {
			return fmt.Errorf("slot %d: timers at tick %d, outside (cursor %d, %d]", i, sl.tick, w.cursor, w.cursor+w.n-1)
		}
		for ref := sl.head; ref != 0; {
			e, err := w.entryAt(ref)
			if err != nil {
				return err
			}
			if t, ok := seen[e.pos]; ok {
				return fmt.Errorf("timer at %d is listed at ticks %d and %d", e.pos, t, sl.tick)
			}
			seen[e.pos] = sl.tick
			ref = e.prev
		}
	}
	if int64(len(seen)) != w.pending {
		return fmt.Errorf("%d timers in the wheel, %d pending", len(seen), w.pending)
	}
	return nil
}
