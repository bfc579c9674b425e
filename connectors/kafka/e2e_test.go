package kafka

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// End-to-end tests: a checkpointed job counts records per key from Kafka topic "in" into
// Kafka topic "out" (key KEY, value KEY<TAB>COUNT), its checkpoints in a riffle log. A
// read_committed reader of "out" must see, for every key, exactly KEY<TAB>1 ... KEY<TAB>n
// in order, whatever failed on the way.

// countConfig is one run of the counting job.
type countConfig struct {
	brokers     []string
	dir         string // the job's riffle log and state
	parallelism int
	bounded     bool
	delivery    Delivery
	interval    time.Duration
	restart     stream.RestartStrategy
	// batch, when set, is the job's BatchSize, with 2 batches per channel: a small
	// buffer in flight keeps the barriers close behind the records.
	batch int
	// fail, when set, is called before each record is counted, with the key and the
	// record's value; an error fails the record.
	fail func(key, value string) error
}

// counter is the keyed running count.
type counter struct {
	count state.ValueState[int64]
	fail  func(key, value string) error
}

func (c *counter) Open(ctx stream.Context) (err error) {
	c.count, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "count"})
	return err
}

func (c *counter) ProcessElement(_ operators.ProcessContext, key string, r stream.Record[kv], out stream.Output[kv]) error {
	if c.fail != nil {
		if err := c.fail(key, r.Value.V); err != nil {
			return err
		}
	}
	n, _, err := c.count.Value()
	if err != nil {
		return err
	}
	n++
	if err := c.count.Update(n); err != nil {
		return err
	}
	out.Emit(stream.Record[kv]{Value: kv{K: key, V: key + "\t" + strconv.FormatInt(n, 10)}, Timestamp: r.Timestamp})
	return nil
}

func (c *counter) OnTimer(operators.ProcessContext, string, int64, state.Domain, stream.Output[kv]) error {
	return nil
}

func decodeKV(r *kgo.Record) (kv, error) { return kv{K: string(r.Key), V: string(r.Value)}, nil }

// countJob builds the job; the caller runs it and then calls the returned close.
func countJob(t testing.TB, c countConfig) (*stream.Job, func()) {
	t.Helper()
	l, err := rlog.Open(filepath.Join(c.dir, "log"), rlog.Options{Logger: quiet})
	require.NoError(t, err)
	src, err := NewSource(SourceOptions{Brokers: c.brokers, Topic: "in", Bounded: c.bounded, Logger: quiet}, decodeKV)
	require.NoError(t, err)
	sink, err := NewSink(SinkOptions{Brokers: c.brokers, Topic: "out", Delivery: c.delivery,
		TransactionalIDPrefix: "riffle-count-out", Logger: quiet}, encodeKV)
	require.NoError(t, err)
	channelBatches := 0
	if c.batch > 0 {
		channelBatches = 2
	}
	job := stream.NewJob("count", stream.JobOptions{Parallelism: c.parallelism, Logger: quiet, Restart: c.restart,
		BatchSize: c.batch, ChannelBatches: channelBatches,
		Checkpoints: &stream.Checkpointing{Log: l, StateDir: filepath.Join(c.dir, "state"), Interval: c.interval}})
	in := stream.FromSource(job, "in", src, stream.WatermarkStrategy[kv]{NoWatermarks: true})
	counts := operators.KeyedProcess(stream.KeyBy(in, func(r kv) string { return r.K }), "count",
		func() operators.ProcessFunction[string, kv, kv] { return &counter{fail: c.fail} })
	counts.To("out", sink)
	return job, func() {
		sink.Close()
		require.NoError(t, l.Close())
	}
}

// input is the input produced so far: how many records per key.
type input struct {
	t      testing.TB
	addrs  []string
	parts  int32
	total  map[string]int
	n      int
	prefix string
}

func newInput(t testing.TB, addrs []string, parts int32) *input {
	return &input{t: t, addrs: addrs, parts: parts, total: map[string]int{}}
}

// produce appends n records with keys k0..k22 (values BATCH-i), round-robin over the
// partitions, so that a key's records are spread over all of them.
func (in *input) produce(batch string, n int) {
	rs := make([]*kgo.Record, n)
	for i := range rs {
		k := "k" + strconv.Itoa(in.n%23)
		in.total[k]++
		rs[i] = &kgo.Record{Topic: "in", Partition: int32(in.n) % in.parts, Key: []byte(k), Value: []byte(batch + "-" + strconv.Itoa(i))}
		in.n++
	}
	produce(in.t, in.addrs, rs...)
}

// outputs returns the values read_committed readers see in "out", by key, in order.
func outputs(t testing.TB, addrs []string) (map[string][]string, int) {
	t.Helper()
	byKey := map[string][]string{}
	recs := visible(t, addrs, "out")
	for _, r := range recs {
		byKey[string(r.Key)] = append(byKey[string(r.Key)], string(r.Value))
	}
	return byKey, len(recs)
}

// checkCounts checks that every key's output is KEY<TAB>1 ... KEY<TAB>m in order, with m
// the key's total when complete, and at most its total otherwise. It returns how many
// outputs there are.
func checkCounts(t testing.TB, addrs []string, total map[string]int, complete bool) int {
	t.Helper()
	byKey, n := outputs(t, addrs)
	for k, vs := range byKey {
		require.LessOrEqual(t, len(vs), total[k], "key %s: more outputs than inputs: %v", k, vs)
		for i, v := range vs {
			require.Equal(t, k+"\t"+strconv.Itoa(i+1), v, "key %s, output %d (a duplicate or a gap)", k, i)
		}
	}
	if complete {
		for k, want := range total {
			require.Len(t, byKey[k], want, "key %s", k)
		}
	}
	return n
}

// follower counts the records of "out" a read_committed consumer has seen so far.
type follower struct {
	t  testing.TB
	cl *kgo.Client
	n  int
}

func newFollower(t testing.TB, addrs []string) *follower {
	cl := client(t, addrs, kgo.ConsumeTopics("out"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	t.Cleanup(cl.Close)
	return &follower{t: t, cl: cl}
}

// count returns how many records it has seen, after waiting at most 20 ms for more.
func (f *follower) count() int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	fs := f.cl.PollFetches(ctx)
	fs.EachError(func(_ string, _ int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) {
			require.NoError(f.t, err)
		}
	})
	f.n += fs.NumRecords()
	return f.n
}

// TestJobExactlyOnce: the job reads a growing input while running; an operator fails
// once (after checkpoints committed output) and the restart strategy resumes it from the
// last checkpoint; it stops on a cancellation, then a bounded run with another
// parallelism finishes the input. The committed output is exact at every step.
func TestJobExactlyOnce(t *testing.T) {
	addrs := cluster(t, 4, []string{"in"}, kfake.NumBrokers(3), kfake.SeedTopics(3, "out"))
	in := newInput(t, addrs, 4)
	dir := t.TempDir()
	var failed atomic.Bool
	cfg := countConfig{brokers: addrs, dir: dir, parallelism: 2, interval: 20 * time.Millisecond,
		restart: stream.RestartStrategy{MaxAttempts: 2, Delay: time.Millisecond},
		fail: func(key, value string) error {
			if value == "B-300" && failed.CompareAndSwap(false, true) {
				return errors.New("injected failure")
			}
			return nil
		}}
	job, closeJob := countJob(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	var runErr error
	go func() {
		defer close(finished)
		runErr = job.Run(ctx)
	}()
	stop := func() error {
		cancel()
		<-finished
		closeJob()
		return runErr
	}
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	follow := newFollower(t, addrs)
	waitFor := func(total int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for follow.count() < total {
			select {
			case <-finished:
				t.Fatalf("the job stopped: %v", runErr)
			default:
			}
			require.True(t, time.Now().Before(deadline), "timed out waiting for %d outputs", total)
		}
		require.Equal(t, total, checkCounts(t, addrs, in.total, false))
	}

	in.produce("A", 600)
	waitFor(600)
	assert.False(t, failed.Load())
	in.produce("B", 600) // B-300 fails once, after output of A was committed
	waitFor(1200)
	assert.True(t, failed.Load())
	assert.Equal(t, 1, job.Metrics().Restarts)
	err := stop()
	stop = nil
	assert.ErrorIs(t, err, context.Canceled)
	checkCounts(t, addrs, in.total, true)

	in.produce("C", 800)
	cfg.parallelism, cfg.bounded, cfg.fail = 3, true, nil
	job, closeJob = countJob(t, cfg)
	require.NoError(t, job.Run(context.Background()))
	closeJob()
	assert.Equal(t, 2000, checkCounts(t, addrs, in.total, true))
	assert.True(t, settled(t, addrs, "out"), "no transaction is left open")
	assert.Empty(t, ongoing(t, addrs))
}

// TestJobAtLeastOnce: with AtLeastOnce the output is visible without waiting for the
// checkpoint; after a failure some counts may be written twice, but none is lost.
func TestJobAtLeastOnce(t *testing.T) {
	addrs := cluster(t, 4, []string{"in"}, kfake.SeedTopics(3, "out"))
	in := newInput(t, addrs, 4)
	in.produce("A", 1500)
	var failed atomic.Bool
	var seen atomic.Int64
	cfg := countConfig{brokers: addrs, dir: t.TempDir(), parallelism: 2, bounded: true, delivery: AtLeastOnce,
		interval: 10 * time.Millisecond, restart: stream.RestartStrategy{MaxAttempts: 2, Delay: time.Millisecond},
		fail: func(key, value string) error {
			if seen.Add(1) == 1000 && failed.CompareAndSwap(false, true) {
				return errors.New("injected failure")
			}
			return nil
		}}
	job, closeJob := countJob(t, cfg)
	require.NoError(t, job.Run(context.Background()))
	closeJob()
	require.True(t, failed.Load())

	byKey, n := outputs(t, addrs)
	assert.GreaterOrEqual(t, n, 1500)
	for k, want := range in.total {
		got := map[string]bool{}
		for _, v := range byKey[k] {
			got[v] = true
		}
		for i := 1; i <= want; i++ {
			assert.True(t, got[k+"\t"+strconv.Itoa(i)], "key %s: count %d is missing", k, i)
		}
		assert.Len(t, got, want, "key %s: %v", k, strings.Join(byKey[k], ","))
	}
	assert.Empty(t, ongoing(t, addrs), "at-least-once uses no transactions")
	t.Logf("%d outputs for 1500 inputs", n)
}

// The crash test: kfake runs in this process on TCP; a child process (this test binary,
// re-executed into TestKafkaCrashChild) runs the counting job, unbounded, and is killed
// with SIGKILL at random moments, with the parallelism changing between runs and more
// input arriving; then a bounded run finishes the input. After every kill the committed
// output must be a prefix of the exact output (no duplicate, no gap); at the end it must
// be all of it, with no transaction left open. The seed is logged;
// RIFFLE_KAFKA_CRASH_SEED=N replays the kill delays (the kill points stay
// timing-dependent).

const (
	crashBrokersEnv = "RIFFLE_KAFKA_CRASH_BROKERS"
	crashDirEnv     = "RIFFLE_KAFKA_CRASH_DIR"
	crashParEnv     = "RIFFLE_KAFKA_CRASH_PARALLELISM"
	crashBoundedEnv = "RIFFLE_KAFKA_CRASH_BOUNDED"
	crashSeedEnv    = "RIFFLE_KAFKA_CRASH_SEED"
)

// TestKafkaCrashChild is the crash test's child process; run directly, it skips.
func TestKafkaCrashChild(t *testing.T) {
	brokers := os.Getenv(crashBrokersEnv)
	if brokers == "" {
		t.Skip("runs only as the child process of TestJobSurvivesSIGKILL")
	}
	par, err := strconv.Atoi(os.Getenv(crashParEnv))
	require.NoError(t, err)
	cfg := countConfig{brokers: strings.Split(brokers, ","), dir: os.Getenv(crashDirEnv),
		parallelism: par, bounded: os.Getenv(crashBoundedEnv) == "1", interval: 25 * time.Millisecond}
	if !cfg.bounded {
		// Slow the counting down (to some thousand records per second) so that the kills
		// come while the job is busy: between the records of an epoch, its pre-commit,
		// its commit and the commit of its transactions.
		cfg.batch = 32
		var n atomic.Int64
		cfg.fail = func(string, string) error {
			if n.Add(1)%3 == 0 {
				time.Sleep(time.Millisecond)
			}
			return nil
		}
	}
	job, closeJob := countJob(t, cfg)
	require.NoError(t, job.Run(context.Background()))
	closeJob()
}

func TestJobSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (%s=%d replays it)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	addrs := cluster(t, 4, []string{"in"}, kfake.SeedTopics(3, "out"))
	dir := t.TempDir()
	in := newInput(t, addrs, 4)
	follow := newFollower(t, addrs)
	child := func(par int, bounded bool, out *bytes.Buffer) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKafkaCrashChild$", "-test.count=1")
		b := "0"
		if bounded {
			b = "1"
		}
		cmd.Env = append(os.Environ(), crashBrokersEnv+"="+strings.Join(addrs, ","), crashDirEnv+"="+dir,
			crashParEnv+"="+strconv.Itoa(par), crashBoundedEnv+"="+b)
		cmd.Stdout, cmd.Stderr = out, out
		return cmd
	}

	in.produce("r0", 1500)
	start := time.Now()
	// Up to 6 kills, at least 3: fewer on a slow machine (under -race a child takes
	// seconds to commit its first epoch), to keep the test's time near 20 s.
	kills := 0
	for round := range 6 {
		if round >= 3 && time.Since(start) > 10*time.Second {
			break
		}
		kills++
		par := 1 + round%3
		var out bytes.Buffer
		cmd := child(par, false, &out)
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails first
		// Kill it at a random moment, or, two rounds in three, at a random moment after it
		// committed output.
		began := time.Now()
		committed := follow.count()
		afterCommit := rng.IntN(3) > 0
		delay := time.Duration(100+rng.IntN(900)) * time.Millisecond
		if afterCommit {
			delay = time.Duration(rng.IntN(150)) * time.Millisecond
			for follow.count() == committed && time.Since(began) < 30*time.Second {
				select {
				case err := <-done:
					t.Fatalf("round %d: the child ended before its kill: %v\n%s", round, err, out.String())
				default:
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("round %d: the child ended before its kill: %v\n%s", round, err, out.String())
		case <-time.After(delay):
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := <-done
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: the child ended before its kill: %v\n%s", round, err, out.String())
		}
		require.NotContains(t, out.String(), "DATA RACE", "round %d: the child:\n%s", round, out.String())
		require.Less(t, time.Since(began), 30*time.Second, "round %d: no progress:\n%s", round, out.String())
		n := checkCounts(t, addrs, in.total, false)
		// The follower catches up: the next round's progress is its count going past n.
		for follow.count() < n {
			require.Less(t, time.Since(began), time.Minute, "round %d: the follower does not catch up", round)
		}
		what := "at random"
		if afterCommit {
			what = "after a commit"
		}
		t.Logf("round %d (parallelism %d, killed %s, after %v): %d of %d outputs committed, %d transactions open",
			round, par, what, time.Since(began).Round(time.Millisecond), n, in.n, len(ongoing(t, addrs)))
		in.produce("r"+strconv.Itoa(round+1), 600)
	}
	var out bytes.Buffer
	began := time.Now()
	cmd := child(2, true, &out)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "the bounded run:\n%s", out.String())
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the bounded run hangs:\n%s", out.String())
	}
	require.NotContains(t, out.String(), "DATA RACE", "the bounded run:\n%s", out.String())
	n := checkCounts(t, addrs, in.total, true)
	assert.Equal(t, in.n, n)
	assert.True(t, settled(t, addrs, "out"), "no transaction is left open")
	assert.Empty(t, ongoing(t, addrs))
	t.Logf("%d kills in %v, then the bounded run (%v): %d outputs", kills, began.Sub(start).Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond), n)
}
