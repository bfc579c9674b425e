package log

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Crash tests: a child process (this test binary, re-executed into TestCrashChild) appends
// known messages and reports what the log acknowledged; the parent kills it with SIGKILL at
// a random moment, reopens the log in-process and checks the guarantees of doc.go: each
// queue holds a contiguous prefix of what was appended to it, without duplicates and
// with the right contents, including everything acknowledged (a process crash loses
// nothing acknowledged, in Sync and in Async mode). Many kills accumulate in one data
// directory, and the parent sometimes leaves recovery to the next child, which may be
// killed in turn while it recovers.
//
// Timing only chooses the kill points; what is checked does not depend on it. The seed
// is printed; RIFFLE_CRASH_SEED=N replays a run's choices (the kill points themselves
// stay timing-dependent), RIFFLE_CRASH_ITERATIONS=N overrides the number of kills.

const (
	childRoleEnv   = "RIFFLE_LOG_TEST_CHILD"        // "crash" or "lock"
	childConfigEnv = "RIFFLE_LOG_TEST_CHILD_CONFIG" // crash: a JSON crashConfig; lock: the directory
)

// crashConfig is what a crash child runs.
type crashConfig struct {
	Dir                string
	Durability         Durability
	Queues             int
	Producers          int // producer goroutines; producer p owns the queues q with q%Producers == p
	CheckpointInterval time.Duration
	Commit             bool   // a consumer goroutine reads and commits group "g"'s offsets
	Seed               uint64 // of this child's choices
}

func (c crashConfig) options(logger *slog.Logger) Options {
	return Options{
		SegmentSize:             256 << 10,
		ConsumeQueueFileEntries: 100,
		MaxMessageSize:          64 << 10,
		Durability:              c.Durability,
		CheckpointInterval:      c.CheckpointInterval,
		Logger:                  logger,
	}
}

const (
	crashTopic  = "crash"
	crashBudget = 1000 // messages per producer and child
)

// crashBody is the body of message seq of queue q: its identity and bytes that depend on
// it, so that records vary in size and a misplaced byte shows. Every 64th is 20-40 KiB:
// large writes take long enough for some kills to tear them.
func crashBody(q int, seq int64) []byte {
	pad := int((seq*7919 + int64(q)*131) % 700)
	if seq%64 == 7 {
		pad += 20<<10 + pad*29
	}
	b := make([]byte, 0, 24+pad)
	b = fmt.Appendf(b, "q%d-s%d|", q, seq)
	for i := range pad {
		b = append(b, byte('a'+(int64(i)+seq)%26))
	}
	return b
}

// TestCrashChild is the child process of the crash and lock tests; run directly, it skips.
func TestCrashChild(t *testing.T) {
	switch os.Getenv(childRoleEnv) {
	case "crash":
		var cfg crashConfig
		if err := json.Unmarshal([]byte(os.Getenv(childConfigEnv)), &cfg); err != nil {
			childFail("config: %v", err)
		}
		crashChild(cfg)
	case "lock":
		lockChild(os.Getenv(childConfigEnv))
	default:
		t.Skip("runs only as the child process of the crash and lock tests")
	}
}

// childFail ends a child with exit code 3, which the parent reports with its stderr.
func childFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
	os.Exit(3)
}

// childOut reports progress to the parent. Acknowledgements are folded into per-queue
// maxima and printed by a goroutine of its own, so that the log's goroutines (which run
// AppendAsync callbacks) spend their time writing the log rather than the pipe: a report
// may lag its acknowledgement, which only makes the parent expect less.
type childOut struct {
	acked, commits []atomic.Int64 // highest acknowledged, plus one (0: none)
	isIdle         atomic.Bool
	wake           chan struct{}
}

func newChildOut(queues int) *childOut {
	o := &childOut{acked: make([]atomic.Int64, queues), commits: make([]atomic.Int64, queues), wake: make(chan struct{}, 1)}
	go o.print()
	return o
}

func raise(v *atomic.Int64, n int64) {
	for {
		cur := v.Load()
		if n <= cur || v.CompareAndSwap(cur, n) {
			return
		}
	}
}

func (o *childOut) ack(q int, seq int64) {
	raise(&o.acked[q], seq+1)
	o.poke()
}

func (o *childOut) commit(q int, off int64) {
	raise(&o.commits[q], off+1)
	o.poke()
}

// idle reports that every producer has spent its budget.
func (o *childOut) idle() {
	o.isIdle.Store(true)
	o.poke()
}

func (o *childOut) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *childOut) print() {
	acked := make([]int64, len(o.acked))
	commits := make([]int64, len(o.commits))
	var buf []byte
	for range o.wake {
		buf = buf[:0]
		for q := range acked {
			if n := o.acked[q].Load(); n > acked[q] {
				acked[q] = n
				buf = fmt.Appendf(buf, "ack %d %d\n", q, n-1)
			}
			if n := o.commits[q].Load(); n > commits[q] {
				commits[q] = n
				buf = fmt.Appendf(buf, "commit %d %d\n", q, n-1)
			}
		}
		if o.isIdle.Load() {
			buf = append(buf, "idle\n"...)
		}
		if _, err := os.Stdout.Write(buf); err != nil {
			os.Exit(4) // the parent is gone
		}
	}
}

// crashChild appends until it is killed. It prints "ready" once the log is open, then
// "ack Q SEQ" after the log acknowledged message SEQ of queue Q (and all before it), and
// "commit Q OFF" after CommitOffsets acknowledged group "g" at OFF for queue Q.
func crashChild(cfg crashConfig) {
	l, err := Open(cfg.Dir, cfg.options(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		childFail("open: %v", err)
	}
	ctx := context.Background()
	if err := l.CreateTopic(ctx, crashTopic, cfg.Queues); err != nil && !errors.Is(err, ErrTopicExists) {
		childFail("create topic: %v", err)
	}
	fmt.Println("ready")
	out := newChildOut(cfg.Queues)
	var producing sync.WaitGroup
	for p := range cfg.Producers {
		var owned []int
		next := map[int]int64{}
		for q := p; q < cfg.Queues; q += cfg.Producers {
			owned = append(owned, q)
			_, next[q], _ = l.QueueBounds(crashTopic, q)
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(p)))
		producing.Go(func() { crashProducer(l, cfg, rng, owned, next, out) })
	}
	go func() {
		producing.Wait()
		out.idle()
	}()
	if cfg.Commit {
		go crashCommitter(l, cfg, rand.New(rand.NewPCG(cfg.Seed, 1<<32)), out)
	}
	select {} // until killed
}

func crashProducer(l *Log, cfg crashConfig, rng *rand.Rand, owned []int, next map[int]int64, out *childOut) {
	ctx := context.Background()
	sem := make(chan struct{}, 8) // AppendAsync calls in flight
	acked := func(msgs []*Message, seqs []int64, err error) {
		if err != nil {
			childFail("append: %v", err)
		}
		for i, m := range msgs {
			if m.Offset != seqs[i] {
				childFail("message %d of queue %d got offset %d", seqs[i], m.Queue, m.Offset)
			}
			out.ack(m.Queue, seqs[i])
		}
	}
	// A budget per child keeps the data (and the time to verify it) bounded; most kills
	// land before it is spent.
	for sent := 0; sent < crashBudget; {
		n := 1 + rng.IntN(4)
		if rng.IntN(16) == 0 {
			n = 64 // a long write, which a kill can tear
		}
		sent += n
		msgs := make([]*Message, n)
		seqs := make([]int64, n)
		for i := range msgs {
			q := owned[rng.IntN(len(owned))]
			seqs[i] = next[q]
			next[q]++
			msgs[i] = &Message{Topic: crashTopic, Queue: q, Body: crashBody(q, seqs[i])}
			if rng.IntN(4) == 0 {
				msgs[i].Key = []byte(strconv.FormatInt(seqs[i], 10))
			}
		}
		if cfg.Durability == Sync || rng.IntN(8) == 0 {
			acked(msgs, seqs, l.Append(ctx, msgs...))
			continue
		}
		sem <- struct{}{}
		l.AppendAsync(Async, func(err error) {
			acked(msgs, seqs, err)
			<-sem
		}, msgs...)
	}
}

// crashCommitter consumes the queues in random order and commits what it read. The
// committed offsets it acknowledges never decrease.
func crashCommitter(l *Log, cfg crashConfig, rng *rand.Rand, out *childOut) {
	ctx := context.Background()
	cur := make([]int64, cfg.Queues)
	for q := range cur {
		cur[q], _ = l.CommittedOffset("g", crashTopic, q)
	}
	wait, empty := l.Notify(), 0
	for {
		q := rng.IntN(cfg.Queues)
		f, err := l.Read(ctx, crashTopic, q, cur[q], ReadOptions{Max: 1 + rng.IntN(50)})
		if err != nil {
			childFail("read %d@%d: %v", q, cur[q], err)
		}
		if len(f.Messages) == 0 {
			if empty++; empty >= 2*cfg.Queues {
				<-wait // probably caught up everywhere
				wait, empty = l.Notify(), 0
			}
			continue
		}
		empty = 0
		offs := map[QueueRef]int64{{crashTopic, q}: f.Next}
		if other := rng.IntN(cfg.Queues); other != q && rng.IntN(4) == 0 {
			offs[QueueRef{crashTopic, other}] = cur[other] // a commit of several queues
		}
		if err := l.CommitOffsets(ctx, "g", offs); err != nil {
			childFail("commit: %v", err)
		}
		cur[q] = f.Next
		for ref, o := range offs {
			out.commit(ref.Queue, o)
		}
	}
}

// crashState is what the parent knows across kills.
type crashState struct {
	acked     []int64 // per queue: highest acknowledged sequence number, -1 for none
	commitAck []int64 // per queue: highest acknowledged commit, -1 for none
	verified  []int64 // per queue: messages verified so far
	committed []int64 // per queue: the committed offset found by the last verification

	kills, earlyKills, idleKills, verifications, truncations int
}

func crashTest(t *testing.T, cfg crashConfig, iterations int) {
	// The parent and child mostly wait for each other and for the disk: the four crash
	// tests overlap well even on two cores.
	t.Parallel()
	if testing.Short() {
		iterations = max(iterations/5, 3)
	}
	if s := os.Getenv("RIFFLE_CRASH_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		iterations = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RIFFLE_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = n
	}
	t.Logf("seed %d (RIFFLE_CRASH_SEED=%d replays the choices), %d kills", seed, seed, iterations)
	rng := rand.New(rand.NewPCG(seed, 0))
	cfg.Dir = t.TempDir()
	st := &crashState{
		acked: make([]int64, cfg.Queues), commitAck: make([]int64, cfg.Queues),
		verified: make([]int64, cfg.Queues), committed: make([]int64, cfg.Queues),
	}
	for q := range st.acked {
		st.acked[q], st.commitAck[q] = -1, -1
	}
	start := time.Now()
	for it := range iterations {
		cfg.Seed = rng.Uint64()
		runCrashChild(t, cfg, rng, st, it)
		// Sometimes leave the recovery to the next child (which may be killed in it).
		if it == iterations-1 || rng.IntN(2) == 0 {
			verifyCrashedLog(t, cfg, st, it)
		}
	}
	var msgs int64
	for _, n := range st.verified {
		msgs += n
	}
	t.Logf("%d kills (%d early, %d after the producers finished), %d verifications, %d torn tails cut, %d messages in %.1fs",
		st.kills, st.earlyKills, st.idleKills, st.verifications, st.truncations, msgs, time.Since(start).Seconds())
}

// runCrashChild starts a crash child, kills it at a random point and records what it
// acknowledged.
func runCrashChild(t *testing.T, cfg crashConfig, rng *rand.Rand, st *crashState, it int) {
	t.Helper()
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childRoleEnv+"=crash", childConfigEnv+"="+string(js))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	// The kill point, chosen in one of three ways. Early: a few ms after the start, which
	// may land in Open's recovery or before the topics exist. By progress: once the child
	// reports a random number of acknowledged appends, wherever the machine's speed puts
	// that. By time: 1 to 100 ms after the log is open.
	early, byProgress := false, int64(-1)
	switch k := rng.IntN(8); {
	case k == 0:
		early = true
		st.earlyKills++
	case k <= 4:
		byProgress = rng.Int64N(int64(cfg.Producers * crashBudget / 4))
	}
	progressed := make(chan struct{}) // closed when byProgress is reached

	ready := make(chan struct{})
	eof := make(chan struct{})
	idle := false
	acked := append([]int64(nil), st.acked...)
	commitAck := append([]int64(nil), st.commitAck...)
	go func(target int64) {
		defer close(eof)
		progress := int64(0)
		reached := func() {
			if target >= 0 {
				close(progressed)
				target = -1
			}
		}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 1 && f[0] == "ready" {
				close(ready)
				continue
			}
			if len(f) == 1 && f[0] == "idle" {
				idle = true
				reached() // no more progress is coming
				continue
			}
			if len(f) != 3 {
				continue // the test framework's own output
			}
			q, err1 := strconv.Atoi(f[1])
			n, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil || q < 0 || q >= len(acked) {
				continue
			}
			switch f[0] {
			case "ack":
				if n > acked[q] {
					progress += n - acked[q]
					acked[q] = n
				}
				if progress >= target {
					reached()
				}
			case "commit":
				commitAck[q] = max(commitAck[q], n)
			}
		}
		io.Copy(io.Discard, stdout)
	}(byProgress)

	var delay time.Duration
	if early {
		delay = time.Duration(rng.Int64N(int64(40 * time.Millisecond)))
	} else {
		select {
		case <-ready:
		case <-eof:
		case <-time.After(2 * time.Minute):
			t.Errorf("kill %d: the child did not open the log within 2 minutes", it)
		}
		delay = time.Millisecond + time.Duration(rng.Int64N(int64(100*time.Millisecond)))
		if byProgress >= 0 {
			delay = time.Minute // progressed is closed first
		}
	}
	select {
	case <-time.After(delay):
	case <-progressed:
	case <-eof:
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-eof
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("kill %d: the child ended by itself (%v) instead of being killed; its stderr:\n%s", it, err, stderr.String())
	}
	st.kills++
	if idle {
		st.idleKills++
	}
	st.acked, st.commitAck = acked, commitAck
}

// verifyCrashedLog reopens the log in-process and checks it against what was acknowledged
// and what earlier verifications saw.
func verifyCrashedLog(t *testing.T, cfg crashConfig, st *crashState, it int) {
	t.Helper()
	logs := &lockedBuffer{}
	l, err := Open(cfg.Dir, cfg.options(slog.New(slog.NewTextHandler(logs, nil))))
	require.NoError(t, err, "reopen after kill %d; log output:\n%s", it, logs)
	defer l.Close()
	st.verifications++
	rep := l.Recovery()
	if rep.TruncatedBytes > 0 {
		st.truncations++
	}
	// A process crash leaves every written byte in the page cache: the only damage it can
	// do is a torn tail. Anything else means the log wrote something inconsistent.
	require.Empty(t, rep.Problems, "kill %d: %+v\n%s", it, rep, logs)
	require.Empty(t, rep.RebuiltQueues, "kill %d: %+v\n%s", it, rep, logs)

	ti, err := l.Topic(crashTopic)
	if errors.Is(err, ErrUnknownTopic) {
		for q, a := range st.acked {
			require.Equal(t, int64(-1), a, "kill %d: queue %d acknowledged messages but its topic is gone", it, q)
		}
		return
	}
	require.NoError(t, err)
	require.Len(t, ti.Queues, cfg.Queues)
	ctx := context.Background()
	for q, qi := range ti.Queues {
		require.Zero(t, qi.Earliest, "kill %d: queue %d", it, q)
		require.GreaterOrEqual(t, qi.Latest, st.verified[q], "kill %d: queue %d lost messages an earlier reopen saw", it, q)
		require.Greater(t, qi.Latest, st.acked[q], "kill %d: queue %d lost acknowledged messages (acknowledged up to %d)", it, q, st.acked[q])
		for off := st.verified[q]; off < qi.Latest; {
			f, err := l.Read(ctx, crashTopic, q, off, ReadOptions{Max: 500})
			require.NoError(t, err, "kill %d: read %d@%d", it, q, off)
			require.NotEmpty(t, f.Messages, "kill %d: read %d@%d", it, q, off)
			for _, m := range f.Messages {
				// Plain comparisons: testify per message would dominate the test's time.
				want := crashBody(q, off)
				if m.Offset != off || m.Queue != q || !bytes.Equal(want, m.Body) ||
					(m.Key != nil && string(m.Key) != strconv.FormatInt(off, 10)) {
					t.Fatalf("kill %d: read %d@%d: got offset %d queue %d key %q body %.40q..., want body %.40q...",
						it, q, off, m.Offset, m.Queue, m.Key, m.Body, want)
				}
				off++
			}
		}
		st.verified[q] = qi.Latest
	}
	if !cfg.Commit {
		return
	}
	offs := l.CommittedOffsets("g")
	for q := range ti.Queues {
		o, ok := offs[QueueRef{crashTopic, q}]
		if st.commitAck[q] >= 0 {
			require.True(t, ok, "kill %d: queue %d: acknowledged commit %d is gone", it, q, st.commitAck[q])
		}
		require.GreaterOrEqual(t, o, st.commitAck[q], "kill %d: queue %d: committed offset below an acknowledged commit", it, q)
		require.GreaterOrEqual(t, o, st.committed[q], "kill %d: queue %d: committed offset went backwards", it, q)
		require.LessOrEqual(t, o, ti.Queues[q].Latest, "kill %d: queue %d: committed offset beyond the queue's end", it, q)
		st.committed[q] = o
	}
}

func TestCrashSync(t *testing.T) {
	crashTest(t, crashConfig{Durability: Sync, Queues: 8, Producers: 4, CheckpointInterval: 100 * time.Millisecond}, 40)
}

func TestCrashAsync(t *testing.T) {
	crashTest(t, crashConfig{Durability: Async, Queues: 8, Producers: 4, CheckpointInterval: 100 * time.Millisecond}, 40)
}

// Checkpoints every millisecond: kills land inside checkpoints (fsyncs, the temporary
// file, the rename) and recovery mostly starts from a checkpoint taken moments before.
func TestCrashCheckpointHeavy(t *testing.T) {
	crashTest(t, crashConfig{Durability: Async, Queues: 4, Producers: 2, CheckpointInterval: time.Millisecond, Commit: true}, 30)
}

// Group offsets are commitlog records too: an acknowledged commit survives, and the
// committed offset never passes the end of its queue.
func TestCrashGroupOffsets(t *testing.T) {
	crashTest(t, crashConfig{Durability: Sync, Queues: 4, Producers: 2, CheckpointInterval: 50 * time.Millisecond, Commit: true}, 30)
}
