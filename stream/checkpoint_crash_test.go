package stream_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/operators/join"
	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/stream"
)

// Crash tests of exactly-once checkpoints with event time (DESIGN.md §4): a child process
// (this test binary, re-executed into TestCheckpointCrashChild) runs a checkpointed job
// over topics of a log; the parent kills it with SIGKILL at a random moment, many times,
// with the parallelism alternating 1, 2, 3 and more input arriving between runs, then
// lets a last bounded run (of a random parallelism) finish the input. Between runs the parent opens the log (the
// child is dead: only one process may hold it) and reads the committed output:
//
//   - the windowed aggregation (tumbling 1 s windows, sum and count per key) must never
//     emit a (key, window) twice, and every result must equal the batch computation of its
//     window over the input so far: a window fires only once the watermark passed it, and
//     the input is generated so that no record is ever late, so an emitted result is
//     final. No window may fire before the largest watermark the input allows. At the end
//     the output is exactly the batch computation over all input.
//   - the interval join (orders and payments by id) must never emit a pair twice, every
//     pair must satisfy the join condition, and at the end the output is exactly the
//     batch join over all input.
//
// Both jobs also send their late records to a topic of their own, which must stay empty.
//
// Timing only chooses the kill points; what is checked does not depend on it. The seed
// is logged; RIFFLE_CKPT_CRASH_SEED=N replays a run's input and kill delays (the kill
// points themselves stay timing-dependent).

const (
	ckptKindEnv    = "RIFFLE_CKPT_CRASH_CHILD" // the child's job: "window" or "join"
	ckptDirEnv     = "RIFFLE_CKPT_CRASH_DIR"   // data directory: log/ and state/
	ckptParEnv     = "RIFFLE_CKPT_CRASH_PARALLELISM"
	ckptBoundedEnv = "RIFFLE_CKPT_CRASH_BOUNDED" // "1": a bounded run to the input's end
	ckptSeedEnv    = "RIFFLE_CKPT_CRASH_SEED"
	ckptDebugEnv   = "RIFFLE_CKPT_CRASH_DEBUG" // set: the child logs at debug level (run it by hand)
)

const (
	crashInterval = 40 * time.Millisecond // checkpoint interval of the child
	crashOOO      = 500                   // ms: the input's out-of-orderness, and the watermark's bound
	crashWindow   = 1000                  // ms: tumbling window size
	crashLower    = -200                  // ms: payment.ts >= order.ts + crashLower
	crashUpper    = 300                   // ms: payment.ts <= order.ts + crashUpper
	crashBaseTime = int64(1_700_000_000_000)
	crashKeys     = 200 // keys of the window job
	crashIDSpread = 125
)

func crashLogOptions(logger *slog.Logger) rlog.Options {
	// The event times are in 2023: age retention must not delete the input.
	return rlog.Options{RetentionAge: -1, Logger: logger}
}

// TestCheckpointCrashChild is the child process of the checkpoint crash tests; run
// directly, it skips.
func TestCheckpointCrashChild(t *testing.T) {
	kind := os.Getenv(ckptKindEnv)
	if kind == "" {
		t.Skip("runs only as the child process of the checkpoint crash tests")
	}
	dir := os.Getenv(ckptDirEnv)
	par, err := strconv.Atoi(os.Getenv(ckptParEnv))
	require.NoError(t, err)
	bounded := os.Getenv(ckptBoundedEnv) == "1"
	level := slog.LevelWarn
	if os.Getenv(ckptDebugEnv) != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	l, err := rlog.Open(filepath.Join(dir, "log"), crashLogOptions(logger))
	require.NoError(t, err)
	defer l.Close()
	opts := stream.JobOptions{Parallelism: par, Logger: logger,
		Checkpoints: &stream.Checkpointing{Log: l, StateDir: filepath.Join(dir, "state"), Interval: crashInterval}}
	var job *stream.Job
	switch kind {
	case "window":
		job = windowCrashJob(l, opts, bounded)
	case "join":
		job = joinCrashJob(l, opts, bounded)
	default:
		t.Fatalf("unknown job kind %q", kind)
	}
	require.NoError(t, job.Run(context.Background()))
}

// --- the windowed aggregation ---

// crashEvent is an input record of the window job: body "key,ts,value".
type crashEvent struct {
	Key    string
	Ts, V  int64
	Offset int64 // in its queue (diagnostics of late records)
}

// crashSum is a window result: body "key,start,sum,count".
type crashSum struct {
	Key               string
	Start, Sum, Count int64
}

func encodeEvent(e crashEvent) []byte {
	b := append([]byte(e.Key), ',')
	b = strconv.AppendInt(b, e.Ts, 10)
	b = append(b, ',')
	return strconv.AppendInt(b, e.V, 10)
}

func decodeEvent(m *rlog.Message) (crashEvent, error) {
	f := strings.Split(string(m.Body), ",")
	if len(f) != 3 {
		return crashEvent{}, fmt.Errorf("bad event %q", m.Body)
	}
	ts, err1 := strconv.ParseInt(f[1], 10, 64)
	v, err2 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return crashEvent{}, fmt.Errorf("bad event %q: %w", m.Body, err)
	}
	return crashEvent{Key: f[0], Ts: ts, V: v, Offset: m.Offset}, nil
}

func parseInts(body []byte, n int) ([]int64, error) {
	f := strings.Split(string(body), ",")
	if len(f) != n {
		return nil, fmt.Errorf("%q: want %d fields", body, n)
	}
	out := make([]int64, n)
	for i, s := range f {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", body, err)
		}
		out[i] = v
	}
	return out, nil
}

// sumCount aggregates a window's events into (sum, count).
type sumCount struct{}

func (sumCount) CreateAccumulator() [2]int64             { return [2]int64{} }
func (sumCount) Add(e crashEvent, acc [2]int64) [2]int64 { return [2]int64{acc[0] + e.V, acc[1] + 1} }
func (sumCount) Result(acc [2]int64) [2]int64            { return acc }
func (sumCount) Merge(a, b [2]int64) [2]int64            { return [2]int64{a[0] + b[0], a[1] + b[1]} }

// varintCodec encodes a fixed number of int64 fields as varints (gob, the default,
// is slow).
type varintCodec[T any] struct {
	fields func(*T) []*int64
}

func (c varintCodec[T]) Append(dst []byte, v T) []byte {
	for _, p := range c.fields(&v) {
		dst = binary.AppendVarint(dst, *p)
	}
	return dst
}

func (c varintCodec[T]) Decode(b []byte) (T, error) {
	var v T
	for _, p := range c.fields(&v) {
		x, n := binary.Varint(b)
		if n <= 0 {
			return v, errors.New("varintCodec: bad varint")
		}
		*p, b = x, b[n:]
	}
	if len(b) != 0 {
		return v, errors.New("varintCodec: trailing bytes")
	}
	return v, nil
}

var (
	sumCountCodec = varintCodec[[2]int64]{func(v *[2]int64) []*int64 { return []*int64{&v[0], &v[1]} }}
	recCodec      = varintCodec[crashRec]{func(r *crashRec) []*int64 { return []*int64{&r.ID, &r.Seq, &r.Ts} }}
)

func windowCrashJob(l *rlog.Log, opts stream.JobOptions, bounded bool) *stream.Job {
	job := stream.NewJob("crashwin", opts)
	events := stream.FromSource(job, "events",
		&logconn.Source[crashEvent]{Log: l, Topic: "events", Start: logconn.Earliest, Bounded: bounded, Decode: decodeEvent},
		stream.WatermarkStrategy[crashEvent]{Timestamp: func(e crashEvent) int64 { return e.Ts }, OutOfOrderness: crashOOO * time.Millisecond})
	late := stream.NewOutputTag[crashEvent]("late")
	sums := operators.Window(stream.KeyBy(events, func(e crashEvent) string { return e.Key }), "sum",
		window.AggregateProcess[string, crashEvent, [2]int64, [2]int64, crashSum](window.Tumbling(crashWindow*time.Millisecond, 0), sumCount{},
			func(key string, w window.TimeWindow, v [2]int64, out window.Collector[crashSum]) {
				out.Collect(crashSum{Key: key, Start: w.Start, Sum: v[0], Count: v[1]})
			}).WithAccumulatorCodec(sumCountCodec).WithLateOutput(late))
	sums.To("out", &logconn.Sink[crashSum]{Log: l, Topic: "win-out", Queues: 3, Encode: func(r stream.Record[crashSum]) (*rlog.Message, error) {
		s := r.Value
		b := append([]byte(s.Key), ',')
		b = strconv.AppendInt(b, s.Start, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, s.Sum, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, s.Count, 10)
		return &rlog.Message{Queue: rlog.ByKey, Key: []byte(s.Key), Body: b}, nil
	}})
	operators.SideOutput(sums, late).To("late", &logconn.Sink[crashEvent]{Log: l, Topic: "win-late", Queues: 1, Encode: func(r stream.Record[crashEvent]) (*rlog.Message, error) {
		return &rlog.Message{Queue: 0, Body: fmt.Appendf(encodeEvent(r.Value), " (offset %d)", r.Value.Offset)}, nil
	}})
	return job
}

// --- the interval join ---

// crashRec is an order or a payment: body "id,seq,ts". Seq numbers every input record
// of the join test.
type crashRec struct{ ID, Seq, Ts int64 }

func decodeRec(m *rlog.Message) (crashRec, error) {
	f, err := parseInts(m.Body, 3)
	if err != nil {
		return crashRec{}, err
	}
	return crashRec{ID: f[0], Seq: f[1], Ts: f[2]}, nil
}

func encodeRec(r crashRec) []byte {
	return fmt.Appendf(nil, "%d,%d,%d", r.ID, r.Seq, r.Ts)
}

func joinCrashJob(l *rlog.Log, opts stream.JobOptions, bounded bool) *stream.Job {
	job := stream.NewJob("crashjoin", opts)
	ws := stream.WatermarkStrategy[crashRec]{Timestamp: func(r crashRec) int64 { return r.Ts }, OutOfOrderness: crashOOO * time.Millisecond}
	orders := stream.FromSource(job, "orders",
		&logconn.Source[crashRec]{Log: l, Topic: "orders", Start: logconn.Earliest, Bounded: bounded, Decode: decodeRec}, ws)
	payments := stream.FromSource(job, "payments",
		&logconn.Source[crashRec]{Log: l, Topic: "payments", Start: logconn.Earliest, Bounded: bounded, Decode: decodeRec}, ws)
	id := func(r crashRec) int64 { return r.ID }
	lateOrders, latePayments := stream.NewOutputTag[crashRec]("late-orders"), stream.NewOutputTag[crashRec]("late-payments")
	pairs := operators.IntervalJoin(stream.KeyBy(orders, id), stream.KeyBy(payments, id), "join",
		join.Between(crashLower*time.Millisecond, crashUpper*time.Millisecond),
		join.Map(func(o, p crashRec) [3]int64 { return [3]int64{o.ID, o.Seq, p.Seq} }),
		join.Options[crashRec, crashRec]{LeftCodec: recCodec, RightCodec: recCodec, LateLeft: lateOrders, LateRight: latePayments})
	pairs.To("out", &logconn.Sink[[3]int64]{Log: l, Topic: "join-out", Queues: 3, Encode: func(r stream.Record[[3]int64]) (*rlog.Message, error) {
		return &rlog.Message{Queue: rlog.ByKey, Key: strconv.AppendInt(nil, r.Value[0], 10), Body: fmt.Appendf(nil, "%d,%d,%d", r.Value[0], r.Value[1], r.Value[2])}, nil
	}})
	operators.SideOutput(pairs, lateOrders).Union(operators.SideOutput(pairs, latePayments)).
		To("late", &logconn.Sink[crashRec]{Log: l, Topic: "join-late", Queues: 1, Encode: func(r stream.Record[crashRec]) (*rlog.Message, error) {
			return &rlog.Message{Queue: 0, Body: encodeRec(r.Value)}, nil
		}})
	return job
}

// --- the parent ---

// crashScenario is one job's input and its batch model.
type crashScenario interface {
	// produce appends n more input records, in event-time order per queue up to crashOOO
	// of out-of-orderness, and adds them to the model.
	produce(t *testing.T, l *rlog.Log, n int)
	// check reads the output committed since the last check and compares it with the
	// model; complete: the output must now be all of it. It describes the progress.
	check(t *testing.T, l *rlog.Log, complete bool) string
	// inputs are the job's input topics and group the consumer group of its checkpoints.
	inputs() (group string, topics []string)
}

// outputReader reads a topic on from where it stopped.
type outputReader struct {
	topic string
	next  []int64
}

func (r *outputReader) read(t *testing.T, l *rlog.Log, fn func(m *rlog.Message)) {
	t.Helper()
	ti, err := l.Topic(r.topic)
	if err != nil {
		return // no output yet
	}
	if r.next == nil {
		r.next = make([]int64, len(ti.Queues))
	}
	for q := range ti.Queues {
		for {
			f, err := l.Read(context.Background(), r.topic, q, r.next[q], rlog.ReadOptions{Max: 1000})
			require.NoError(t, err)
			if len(f.Messages) == 0 {
				break
			}
			for i := range f.Messages {
				fn(&f.Messages[i])
			}
			r.next[q] = f.Next
		}
	}
}

// requireEmpty fails if a late topic has a message.
func requireEmpty(t *testing.T, l *rlog.Log, topic string) {
	t.Helper()
	(&outputReader{topic: topic}).read(t, l, func(m *rlog.Message) {
		t.Fatalf("%s/%d@%d: a late record: %s", topic, m.Queue, m.Offset, m.Body)
	})
}

func crashSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(ckptSeedEnv); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (%s=%d replays it)", seed, ckptSeedEnv, seed)
	return seed
}

// appendAll appends msgs in batches.
func appendAll(t *testing.T, l *rlog.Log, msgs []*rlog.Message) {
	t.Helper()
	for len(msgs) > 0 {
		n := min(len(msgs), 5000)
		require.NoError(t, l.Append(context.Background(), msgs[:n]...))
		msgs = msgs[n:]
	}
}

func createTopic(t *testing.T, l *rlog.Log, name string, queues int) {
	t.Helper()
	if err := l.CreateTopic(context.Background(), name, queues); err != nil && !errors.Is(err, rlog.ErrTopicExists) {
		require.NoError(t, err)
	}
}

// childCmd is the child process running kind's job.
func childCmd(kind, dir string, par int, bounded bool, out *bytes.Buffer) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointCrashChild$", "-test.count=1")
	b := "0"
	if bounded {
		b = "1"
	}
	cmd.Env = append(os.Environ(), ckptKindEnv+"="+kind, ckptDirEnv+"="+dir, ckptParEnv+"="+strconv.Itoa(par), ckptBoundedEnv+"="+b)
	cmd.Stdout, cmd.Stderr = out, out
	return cmd
}

// runCrashLoop runs kind's job under the crash loop: initial records, then kills rounds
// of an unbounded child killed after 10-300 ms, each followed by a check and more
// records, then a bounded run to the end and the complete check.
func runCrashLoop(t *testing.T, kind string, rng *rand.Rand, sc crashScenario, initial, more, kills int) {
	dir := t.TempDir()
	withLog := func(fn func(l *rlog.Log)) {
		t.Helper()
		l, err := rlog.Open(filepath.Join(dir, "log"), crashLogOptions(nil))
		require.NoError(t, err)
		defer func() { require.NoError(t, l.Close()) }()
		fn(l)
	}
	group, topics := sc.inputs()
	// consumed sums the input offsets the last committed checkpoint holds, and the ends
	// of the input queues.
	consumed := func(l *rlog.Log) (done, total int64) {
		for _, tp := range topics {
			ti, err := l.Topic(tp)
			require.NoError(t, err)
			for q := range ti.Queues {
				_, hi, err := l.QueueBounds(tp, q)
				require.NoError(t, err)
				total += hi
				if o, ok := l.CommittedOffset(group, tp, q); ok {
					done += o
				}
			}
		}
		return done, total
	}
	withLog(func(l *rlog.Log) { sc.produce(t, l, initial) })

	var noCommit, mid, caughtUp int
	var prevDone int64
	start := time.Now()
	for round := 0; round < kills; round++ {
		par := []int{1, 2, 3}[round%3]
		var out bytes.Buffer
		cmd := childCmd(kind, dir, par, false, &out)
		began := time.Now()
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(10+rng.IntN(291)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: the child ended before the kill: %v\n%s", round, err, out.String())
		}
		killedAfter := time.Since(began)
		require.NotContains(t, out.String(), "DATA RACE", "round %d: the child (-race):\n%s", round, out.String())
		withLog(func(l *rlog.Log) {
			before := prevDone
			progress := sc.check(t, l, false)
			done, total := consumed(l)
			what := "mid-processing"
			switch {
			case done == before:
				what, noCommit = "before its first commit", noCommit+1
			case done == total:
				what, caughtUp = "caught up", caughtUp+1
			default:
				mid++
			}
			prevDone = done
			t.Logf("round %d (parallelism %d, killed after %s, %s): input %d of %d committed; %s",
				round, par, killedAfter.Round(time.Millisecond), what, done, total, progress)
			sc.produce(t, l, more)
		})
	}
	t.Logf("%d kills: %d mid-processing, %d before the run's first commit, %d after it caught up (%s)",
		kills, mid, noCommit, caughtUp, time.Since(start).Round(time.Millisecond))

	par := 1 + rng.IntN(3)
	var out bytes.Buffer
	cmd := childCmd(kind, dir, par, true, &out)
	began := time.Now()
	require.NoError(t, cmd.Start())
	// A watchdog only for diagnostics: a hung child dumps its goroutines.
	watchdog := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Signal(syscall.SIGQUIT) })
	err := cmd.Wait()
	watchdog.Stop()
	require.NoError(t, err, "the bounded run:\n%s", out.String())
	withLog(func(l *rlog.Log) {
		progress := sc.check(t, l, true)
		done, total := consumed(l)
		require.Equal(t, total, done, "the bounded run committed the whole input")
		t.Logf("bounded run (parallelism %d, %s): %s", par, time.Since(began).Round(time.Millisecond), progress)
	})
}

// eventClock is the event-time clock of generated input: each record is stamped up to
// crashOOO before the clock, which only goes forward. So within a queue a record is at
// most crashOOO behind the largest timestamp before it, and never late for a watermark
// of bound crashOOO, however the queues are interleaved and whenever the job restarts.
type eventClock struct {
	now int64
	rng *rand.Rand
}

func (c *eventClock) next() int64 {
	c.now += c.rng.Int64N(3) // 1 ms per record on average
	return c.now - c.rng.Int64N(crashOOO+1)
}

type winKey struct {
	key   string
	start int64
}

// windowScenario is the input of the window job and its batch result.
type windowScenario struct {
	rng    *rand.Rand
	clk    eventClock
	queues int
	maxTs  []int64 // per queue
	batch  map[winKey][2]int64
	seen   map[winKey]bool
	out    outputReader
}

func newWindowScenario(rng *rand.Rand) *windowScenario {
	s := &windowScenario{rng: rng, clk: eventClock{now: crashBaseTime, rng: rng}, queues: 4,
		batch: map[winKey][2]int64{}, seen: map[winKey]bool{}, out: outputReader{topic: "win-out"}}
	s.maxTs = make([]int64, s.queues)
	for q := range s.maxTs {
		s.maxTs[q] = math.MinInt64
	}
	return s
}

func (s *windowScenario) inputs() (string, []string) { return "riffle_crashwin", []string{"events"} }

func (s *windowScenario) produce(t *testing.T, l *rlog.Log, n int) {
	createTopic(t, l, "events", s.queues)
	msgs := make([]*rlog.Message, 0, n)
	for range n {
		e := crashEvent{Key: "k" + strconv.Itoa(s.rng.IntN(crashKeys)), Ts: s.clk.next(), V: s.rng.Int64N(1000) - 100}
		q := s.rng.IntN(s.queues)
		s.maxTs[q] = max(s.maxTs[q], e.Ts)
		k := winKey{e.Key, window.Start(e.Ts, 0, crashWindow)}
		acc := s.batch[k]
		s.batch[k] = [2]int64{acc[0] + e.V, acc[1] + 1}
		msgs = append(msgs, &rlog.Message{Topic: "events", Queue: q, Body: encodeEvent(e), Timestamp: e.Ts})
	}
	appendAll(t, l, msgs)
}

// watermarkLimit is the largest watermark the input allows: the minimum over the queues
// of the largest timestamp minus the bound minus 1 ms.
func (s *windowScenario) watermarkLimit() int64 {
	wm := int64(math.MaxInt64)
	for _, ts := range s.maxTs {
		if ts == math.MinInt64 {
			return math.MinInt64
		}
		wm = min(wm, ts-crashOOO-1)
	}
	return wm
}

func (s *windowScenario) check(t *testing.T, l *rlog.Log, complete bool) string {
	t.Helper()
	limit := s.watermarkLimit()
	s.out.read(t, l, func(m *rlog.Message) {
		at := fmt.Sprintf("win-out/%d@%d", m.Queue, m.Offset)
		f := strings.Split(string(m.Body), ",")
		require.Len(t, f, 4, "%s: %q", at, m.Body)
		v, err := parseInts([]byte(strings.Join(f[1:], ",")), 3)
		require.NoError(t, err, at)
		k := winKey{f[0], v[0]}
		require.Equal(t, f[0], string(m.Key), at)
		require.False(t, s.seen[k], "%s: window %s [%d,%d) emitted twice", at, k.key, k.start, k.start+crashWindow)
		s.seen[k] = true
		want, ok := s.batch[k]
		require.True(t, ok, "%s: window %s [%d,%d) has no input", at, k.key, k.start, k.start+crashWindow)
		require.Equal(t, want, [2]int64{v[1], v[2]}, "%s: window %s [%d,%d): (sum, count)", at, k.key, k.start, k.start+crashWindow)
		require.Equal(t, k.start+crashWindow-1, m.Timestamp, "%s: a result's time is its window's maxTimestamp", at)
		if !complete {
			require.LessOrEqual(t, k.start+crashWindow-1, limit, "%s: window %s [%d,%d) fired before the watermark could pass it", at, k.key, k.start, k.start+crashWindow)
		}
	})
	requireEmpty(t, l, "win-late")
	fireable := 0
	for k := range s.batch {
		if k.start+crashWindow-1 <= limit {
			fireable++
		}
	}
	if complete {
		for k := range s.batch {
			require.True(t, s.seen[k], "window %s [%d,%d) is missing", k.key, k.start, k.start+crashWindow)
		}
		require.Len(t, s.seen, len(s.batch))
	}
	return fmt.Sprintf("%d windows committed, %d can fire, %d in all", len(s.seen), fireable, len(s.batch))
}

// joinScenario is the input of the join job and its batch result.
type joinScenario struct {
	rng        *rand.Rand
	clk        eventClock
	seq        int64
	byID       map[int64]*[2][]crashRec // orders, payments
	recs       map[int64]crashRec       // by seq
	want       map[[2]int64]int64       // (order seq, payment seq) -> id
	seen       map[[2]int64]bool
	out        outputReader
	oqs, pqs   int
	nOrd, nPay int
}

func newJoinScenario(rng *rand.Rand) *joinScenario {
	return &joinScenario{rng: rng, clk: eventClock{now: crashBaseTime, rng: rng}, byID: map[int64]*[2][]crashRec{},
		recs: map[int64]crashRec{}, want: map[[2]int64]int64{}, seen: map[[2]int64]bool{},
		out: outputReader{topic: "join-out"}, oqs: 3, pqs: 2}
}

func (s *joinScenario) inputs() (string, []string) {
	return "riffle_crashjoin", []string{"orders", "payments"}
}

func joins(o, p crashRec) bool { return o.Ts+crashLower <= p.Ts && p.Ts <= o.Ts+crashUpper }

func (s *joinScenario) produce(t *testing.T, l *rlog.Log, n int) {
	createTopic(t, l, "orders", s.oqs)
	createTopic(t, l, "payments", s.pqs)
	msgs := make([]*rlog.Message, 0, n)
	for range n {
		ts := s.clk.next()
		// An id lives for about 1 s of event time: about 4 orders and 4 payments.
		id := s.clk.now/8 + s.rng.Int64N(crashIDSpread)
		s.seq++
		r := crashRec{ID: id, Seq: s.seq, Ts: ts}
		s.recs[r.Seq] = r
		sides := s.byID[id]
		if sides == nil {
			sides = &[2][]crashRec{}
			s.byID[id] = sides
		}
		if s.rng.IntN(2) == 0 {
			for _, p := range sides[1] {
				if joins(r, p) {
					s.want[[2]int64{r.Seq, p.Seq}] = id
				}
			}
			sides[0] = append(sides[0], r)
			s.nOrd++
			msgs = append(msgs, &rlog.Message{Topic: "orders", Queue: s.rng.IntN(s.oqs), Body: encodeRec(r), Timestamp: ts})
		} else {
			for _, o := range sides[0] {
				if joins(o, r) {
					s.want[[2]int64{o.Seq, r.Seq}] = id
				}
			}
			sides[1] = append(sides[1], r)
			s.nPay++
			msgs = append(msgs, &rlog.Message{Topic: "payments", Queue: s.rng.IntN(s.pqs), Body: encodeRec(r), Timestamp: ts})
		}
	}
	appendAll(t, l, msgs)
}

func (s *joinScenario) check(t *testing.T, l *rlog.Log, complete bool) string {
	t.Helper()
	s.out.read(t, l, func(m *rlog.Message) {
		at := fmt.Sprintf("join-out/%d@%d", m.Queue, m.Offset)
		v, err := parseInts(m.Body, 3)
		require.NoError(t, err, at)
		pair := [2]int64{v[1], v[2]}
		require.Equal(t, strconv.FormatInt(v[0], 10), string(m.Key), at)
		require.False(t, s.seen[pair], "%s: pair (order %d, payment %d) emitted twice", at, pair[0], pair[1])
		s.seen[pair] = true
		o, p := s.recs[pair[0]], s.recs[pair[1]]
		id, ok := s.want[pair]
		require.True(t, ok, "%s: (order %+v, payment %+v) is no pair of the batch join", at, o, p)
		require.Equal(t, id, v[0], "%s: id", at)
		require.Equal(t, max(o.Ts, p.Ts), m.Timestamp, "%s: a pair's time is the later of its records'", at)
	})
	requireEmpty(t, l, "join-late")
	if complete {
		for pair := range s.want {
			require.True(t, s.seen[pair], "pair (order %+v, payment %+v) is missing", s.recs[pair[0]], s.recs[pair[1]])
		}
		require.Len(t, s.seen, len(s.want))
	}
	return fmt.Sprintf("%d pairs committed of %d (%d orders, %d payments)", len(s.seen), len(s.want), s.nOrd, s.nPay)
}

// crashKills is the number of kills of a crash loop.
func crashKills() int {
	if testing.Short() {
		return 4
	}
	return 12
}

// The window job reads about 300,000 records/s on a 2-core machine and the join about
// 100,000, and a run's first commit comes 50-200 ms after its start (recovery, then the
// first barrier's alignment through full channels). Each loop adds more input between
// kills than a run reads in 300 ms, so that runs are killed with input still to read:
// about half after some commits, the others before their first one. Each loop takes 5-10
// s (and the bounded run reads the backlog).

func TestCheckpointCrashWindow(t *testing.T) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	runCrashLoop(t, "window", rng, newWindowScenario(rng), 150_000, 60_000, crashKills())
}

func TestCheckpointCrashJoin(t *testing.T) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	runCrashLoop(t, "join", rng, newJoinScenario(rng), 60_000, 25_000, crashKills())
}
