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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Exactly-once consume-transform-produce across SIGKILLs. A child process (this test
// binary, re-executed into TestTxnCrashChild) runs the loop the stream runtime runs:
// InitProducer("job"), then read the next messages of topic "in" from group "job"'s
// committed offsets, send one derived message per input message to topic "out" in a
// transaction, and commit it together with the advanced offsets of "in". A feeder
// goroutine keeps appending input. Now and then the child aborts a transaction, or plays
// zombie: it starts a new incarnation while a transaction of the old one is open, and the
// old one's commit must fail with *FencedError. The parent kills the child with SIGKILL at
// random moments, restarts it, and checks that "out" holds exactly one derived message per
// committed input message (no loss, no duplicate, nothing uncommitted, every transaction
// whole) and that acknowledged commits survive.
//
// Timing only chooses the kill points. The seed is printed; RIFFLE_TC_SEED=N replays the
// choices and RIFFLE_TC_KILLS=N sets the number of kills.

const (
	tcChildEnv  = "RIFFLE_TC_CHILD"  // "txn" or "timer"
	tcConfigEnv = "RIFFLE_TC_CONFIG" // the child's JSON configuration

	tcInQueues  = 3
	tcOutQueues = 4
	tcGroup     = "job"
)

// tcTxnConfig is what a transactional child runs.
type tcTxnConfig struct {
	Dir                string
	Seed               uint64
	Durability         Durability
	CheckpointInterval time.Duration
	Feed               int // input messages the child's feeder appends
}

func (c tcTxnConfig) options(logger *slog.Logger) Options {
	return Options{
		SegmentSize:             256 << 10,
		ConsumeQueueFileEntries: 100,
		MaxMessageSize:          64 << 10,
		Durability:              c.Durability,
		CheckpointInterval:      c.CheckpointInterval,
		Logger:                  logger,
	}
}

// tcInBody is the body of input message off of queue q.
func tcInBody(q int, off int64) string { return fmt.Sprintf("in/%d/%d", q, off) }

// tcOut is a derived message's identity: its input message and its transaction (producer
// incarnation, sequence, and its index i of the transaction's k messages).
type tcOut struct {
	q          int
	off        int64
	epoch, seq uint64
	i, k       int
}

func (o tcOut) body() string {
	return fmt.Sprintf("%d/%d|%d.%d|%d/%d", o.q, o.off, o.epoch, o.seq, o.i, o.k)
}

func tcParseOut(b []byte) (tcOut, bool) {
	var o tcOut
	_, err := fmt.Sscanf(string(b), "%d/%d|%d.%d|%d/%d", &o.q, &o.off, &o.epoch, &o.seq, &o.i, &o.k)
	return o, err == nil && o.body() == string(b) && o.i < o.k
}

func tcKey(q int, off int64) string { return fmt.Sprintf("%d/%d", q, off) }

// TestTxnCrashChild is the child process of TestTxnCrashConsumeTransformProduce; run
// directly, it skips.
func TestTxnCrashChild(t *testing.T) {
	if os.Getenv(tcChildEnv) != "txn" {
		t.Skip("runs only as the child process of TestTxnCrashConsumeTransformProduce")
	}
	var cfg tcTxnConfig
	if err := json.Unmarshal([]byte(os.Getenv(tcConfigEnv)), &cfg); err != nil {
		tcFail("config: %v", err)
	}
	tcTxnChild(cfg)
}

// tcFail ends a child with exit code 3: the parent reports it with the child's stderr.
func tcFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
	os.Exit(3)
}

// tcPrint reports a line to the parent; a child whose parent is gone stops.
func tcPrint(format string, args ...any) {
	if _, err := fmt.Fprintf(os.Stdout, format+"\n", args...); err != nil {
		os.Exit(4)
	}
}

// tcTxnChild runs the consume-transform-produce loop until it is killed. It prints
// "ready" once the log is open, "ack Q OFF" when a commit advancing queue Q of "in" to
// OFF returned, and "fenced" after each zombie drill that went as it must.
func tcTxnChild(cfg tcTxnConfig) {
	l, err := Open(cfg.Dir, cfg.options(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		tcFail("open: %v", err)
	}
	tcPrint("ready")
	ctx := context.Background()
	go tcFeed(l, cfg, rand.New(rand.NewPCG(cfg.Seed, 1)))

	rng := rand.New(rand.NewPCG(cfg.Seed, 2))
	p := tcInit(l)
	var cursor [tcInQueues]int64
	for q := range cursor {
		cursor[q], _ = l.CommittedOffset(tcGroup, "in", q)
	}
	for {
		// Read a few messages of some queues; wait for input when there is none.
		wait := l.Notify()
		var outs []tcOut
		took := map[int]int64{}
		for _, q := range rng.Perm(tcInQueues)[:1+rng.IntN(tcInQueues)] {
			f, err := l.Read(ctx, "in", q, cursor[q], ReadOptions{Max: 1 + rng.IntN(8)})
			if err != nil {
				tcFail("read in/%d@%d: %v", q, cursor[q], err)
			}
			for _, m := range f.Messages {
				if string(m.Body) != tcInBody(q, m.Offset) {
					tcFail("in/%d@%d is %q", q, m.Offset, m.Body)
				}
				outs = append(outs, tcOut{q: q, off: m.Offset})
			}
			if len(f.Messages) > 0 {
				took[q] = f.Next
			}
		}
		if len(outs) == 0 {
			select {
			case <-wait:
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}

		tx := p.Begin()
		msgs := make([]*Message, len(outs))
		for i := range outs {
			outs[i].epoch, outs[i].seq, outs[i].i, outs[i].k = uint64(p.Epoch()), tx.ID().Seq, i, len(outs)
			msgs[i] = &Message{Topic: "out", Queue: ByKey, Key: []byte(tcKey(outs[i].q, outs[i].off)), Body: []byte(outs[i].body())}
		}
		for len(msgs) > 0 { // in one or more Sends, with some work in between
			n := 1 + rng.IntN(len(msgs))
			if err := tx.Send(ctx, msgs[:n]...); err != nil {
				tcFail("send: %v", err)
			}
			msgs = msgs[n:]
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
		}
		offs := map[QueueRef]int64{}
		for q, next := range took {
			offs[QueueRef{"in", q}] = next
		}
		switch r := rng.IntN(40); {
		case r < 3: // abort: the input is read again
			if err := tx.Abort(ctx); err != nil {
				tcFail("abort: %v", err)
			}
		case r < 4: // zombie drill
			p = tcZombie(l, p, tx, offs)
			tcPrint("fenced")
		default:
			if err := tx.Commit(ctx, tcGroup, offs); err != nil {
				tcFail("commit: %v", err)
			}
			for q, next := range took {
				cursor[q] = next
				tcPrint("ack %d %d", q, next)
			}
		}
	}
}

// tcInit starts a new incarnation of "job" and checks that it fenced the older ones: no
// transaction of theirs is left open.
func tcInit(l *Log) *Producer {
	p, err := l.InitProducer(context.Background(), tcGroup, ProducerOptions{})
	if err != nil {
		tcFail("init producer: %v", err)
	}
	for _, ti := range l.OpenTransactions() {
		if ti.ID.Producer == tcGroup && ti.ID.Epoch < p.Epoch() {
			tcFail("transaction %s of a fenced incarnation is still open after incarnation %d started", ti.ID, p.Epoch())
		}
	}
	return p
}

// tcZombie starts a new incarnation while tx, a transaction of old, is open, and checks
// that old can neither commit tx nor do anything else. It returns the new incarnation.
func tcZombie(l *Log, old *Producer, tx *Txn, offs map[QueueRef]int64) *Producer {
	ctx := context.Background()
	p := tcInit(l)
	var fe *FencedError
	if err := tx.Commit(ctx, tcGroup, offs); !errors.As(err, &fe) || fe.Epoch != old.Epoch() || fe.Current != p.Epoch() {
		tcFail("commit of an open transaction of fenced incarnation %d: got %v, want *FencedError", old.Epoch(), err)
	}
	if err := old.Begin().Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("zombie")}); !errors.As(err, &fe) {
		tcFail("send of fenced incarnation %d: got %v, want *FencedError", old.Epoch(), err)
	}
	if err := old.Begin().Commit(ctx, tcGroup, offs); !errors.As(err, &fe) {
		tcFail("empty commit of fenced incarnation %d: got %v, want *FencedError", old.Epoch(), err)
	}
	return p
}

// tcFeed appends input: cfg.Feed messages in small batches, each message of queue q at
// offset off with body tcInBody(q, off) (the feeder is the only writer of "in").
func tcFeed(l *Log, cfg tcTxnConfig, rng *rand.Rand) {
	ctx := context.Background()
	var next [tcInQueues]int64
	for q := range next {
		_, next[q], _ = l.QueueBounds("in", q)
	}
	for fed := 0; fed < cfg.Feed; {
		q := rng.IntN(tcInQueues)
		msgs := make([]*Message, 1+rng.IntN(4))
		for i := range msgs {
			msgs[i] = &Message{Topic: "in", Queue: q, Body: []byte(tcInBody(q, next[q]+int64(i)))}
		}
		if err := l.Append(ctx, msgs...); err != nil {
			tcFail("feed: %v", err)
		}
		for i, m := range msgs {
			if m.Offset != next[q]+int64(i) {
				tcFail("in/%d: message %d got offset %d", q, next[q]+int64(i), m.Offset)
			}
		}
		next[q] += int64(len(msgs))
		fed += len(msgs)
		time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
	}
}

// tcTxnState is what the parent knows across kills.
type tcTxnState struct {
	acked     [tcInQueues]int64 // highest acknowledged committed offset per input queue
	committed [tcInQueues]int64 // committed offsets found by the last verification
	in, out   int64             // messages seen by the last verification

	openAtKill int // verifications that found the killed child's transaction open

	kills, earlyKills, verifications, drills, truncations int
}

func TestTxnCrashConsumeTransformProduce(t *testing.T) {
	t.Parallel()
	kills := 36
	if testing.Short() {
		kills = 8
	}
	seed, kills := tcSeedAndKills(t, kills)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	ctx := context.Background()

	// Topics and some input before the first child.
	l, err := Open(dir, tcTxnConfig{Durability: Async}.options(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	require.NoError(t, l.CreateTopic(ctx, "in", tcInQueues))
	require.NoError(t, l.CreateTopic(ctx, "out", tcOutQueues))
	for q := range tcInQueues {
		for off := range int64(200) {
			require.NoError(t, l.Append(ctx, &Message{Topic: "in", Queue: q, Body: []byte(tcInBody(q, off))}))
		}
	}
	require.NoError(t, l.Close())

	st := &tcTxnState{}
	start := time.Now()
	for it := range kills {
		cfg := tcTxnConfig{Dir: dir, Seed: rng.Uint64(), Durability: Async, Feed: 1000,
			CheckpointInterval: []time.Duration{5 * time.Millisecond, 100 * time.Millisecond, 5 * time.Second}[rng.IntN(3)]}
		if rng.IntN(2) == 0 {
			cfg.Durability = Sync
		}
		tcRunTxnChild(t, cfg, rng, st, it)
		// Sometimes leave the recovery to the next child (which may be killed in it).
		if it == kills-1 || rng.IntN(2) == 0 {
			tcVerifyTxnLog(t, dir, st, it)
		}
	}
	tcFinalFencing(t, dir, st)
	t.Logf("%d kills (%d early) in %.1fs; %d verifications (%d found a transaction open), %d zombie drills, %d torn tails cut; %d input messages, %d derived, committed offsets %v",
		st.kills, st.earlyKills, time.Since(start).Seconds(), st.verifications, st.openAtKill, st.drills, st.truncations, st.in, st.out, st.committed)
}

// tcSeedAndKills returns the run's seed (printed) and number of kills, from the
// environment when set.
func tcSeedAndKills(t *testing.T, kills int) (uint64, int) {
	t.Helper()
	if s := os.Getenv("RIFFLE_TC_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RIFFLE_TC_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = n
	}
	t.Logf("seed %d (RIFFLE_TC_SEED=%d replays the choices), %d kills", seed, seed, kills)
	return seed, kills
}

// tcStartChild starts this test binary as a child running test name with role and cfg,
// and returns its stdout lines on a channel (closed at EOF) and its stderr.
func tcStartChild(t *testing.T, name, role string, cfg any) (*exec.Cmd, <-chan []string, *lockedBuffer) {
	t.Helper()
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), tcChildEnv+"="+role, tcConfigEnv+"="+string(js))
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan []string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- strings.Fields(sc.Text())
		}
		io.Copy(io.Discard, stdout)
	}()
	return cmd, lines, stderr
}

// tcKill kills the child and checks that it was the kill that ended it.
func tcKill(t *testing.T, cmd *exec.Cmd, stderr *lockedBuffer, it int) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("kill %d: the child ended by itself (%v) instead of being killed; its stderr:\n%s", it, err, stderr)
	}
}

// tcKillPoint waits for the moment to kill a child: mostly a random time (below after)
// after it opened the log, sometimes a random time after its start (in Open's recovery,
// or before). handle sees every line the child prints meanwhile; the returned function
// drains the rest once the child is dead.
func tcKillPoint(t *testing.T, rng *rand.Rand, lines <-chan []string, early *int, after time.Duration, handle func([]string)) func() {
	t.Helper()
	var deadline <-chan time.Time // nil until chosen: blocks
	if rng.IntN(8) == 0 {
		*early++
		deadline = time.After(time.Duration(rng.Int64N(int64(60 * time.Millisecond))))
	}
	stuck := time.After(2 * time.Minute)
	for {
		select {
		case f, ok := <-lines:
			if !ok {
				return func() {} // the child ended by itself: tcKill reports it
			}
			if len(f) == 1 && f[0] == "ready" && deadline == nil {
				deadline = time.After(time.Duration(rng.Int64N(int64(after))))
			}
			handle(f)
		case <-stuck:
			t.Errorf("the child did not open the log within 2 minutes")
			deadline, stuck = time.After(0), nil
		case <-deadline:
			return func() {
				for f := range lines {
					handle(f)
				}
			}
		}
	}
}

func tcRunTxnChild(t *testing.T, cfg tcTxnConfig, rng *rand.Rand, st *tcTxnState, it int) {
	t.Helper()
	cmd, lines, stderr := tcStartChild(t, "TestTxnCrashChild", "txn", cfg)
	handle := func(f []string) {
		switch {
		case len(f) == 1 && f[0] == "fenced":
			st.drills++
		case len(f) == 3 && f[0] == "ack":
			q, err1 := strconv.Atoi(f[1])
			off, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 == nil && err2 == nil && q >= 0 && q < tcInQueues {
				st.acked[q] = max(st.acked[q], off)
			}
		}
	}
	drain := tcKillPoint(t, rng, lines, &st.earlyKills, 400*time.Millisecond, handle)
	tcKill(t, cmd, stderr, it)
	drain()
	st.kills++
}

// tcVerifyTxnLog reopens the log in this process and checks exactly-once.
func tcVerifyTxnLog(t *testing.T, dir string, st *tcTxnState, it int) {
	t.Helper()
	logs := &lockedBuffer{}
	l, err := Open(dir, tcTxnConfig{Durability: Async}.options(slog.New(slog.NewTextHandler(logs, nil))))
	require.NoError(t, err, "reopen after kill %d; log output:\n%s", it, logs)
	defer l.Close()
	st.verifications++
	rep := l.Recovery()
	if rep.TruncatedBytes > 0 {
		st.truncations++
	}
	// A process crash leaves a torn tail at worst; anything else is the log's own doing.
	require.Empty(t, rep.Problems, "kill %d: %+v\n%s", it, rep, logs)
	require.Empty(t, rep.RebuiltQueues, "kill %d: %+v\n%s", it, rep, logs)
	ctx := context.Background()
	if len(l.OpenTransactions()) > 0 {
		st.openAtKill++ // invisible until the next incarnation aborts it, as checked below
	}

	// "in": exactly what the feeders appended, and committed offsets within it that cover
	// every acknowledged commit and never go back.
	var committed [tcInQueues]int64
	var in int64
	for q := range tcInQueues {
		_, hi, err := l.QueueBounds("in", q)
		require.NoError(t, err)
		in += hi
		for off := int64(0); off < hi; {
			f, err := l.Read(ctx, "in", q, off, ReadOptions{Max: 1000})
			require.NoError(t, err, "kill %d: read in/%d@%d", it, q, off)
			require.NotEmpty(t, f.Messages)
			for _, m := range f.Messages {
				if m.Offset != off || string(m.Body) != tcInBody(q, off) {
					t.Fatalf("kill %d: in/%d@%d is %q at offset %d", it, q, off, m.Body, m.Offset)
				}
				off++
			}
		}
		c, _ := l.CommittedOffset(tcGroup, "in", q)
		require.LessOrEqual(t, c, hi, "kill %d: in/%d: committed offset beyond the queue's end", it, q)
		require.GreaterOrEqual(t, c, st.acked[q], "kill %d: in/%d: an acknowledged commit is lost", it, q)
		require.GreaterOrEqual(t, c, st.committed[q], "kill %d: in/%d: the committed offset went back", it, q)
		committed[q] = c
	}

	// "out": one derived message per committed input message and none for the others,
	// every transaction whole, each queue in commit order.
	type txnKey struct{ epoch, seq uint64 }
	seen := map[string]bool{}
	parts := map[txnKey][]bool{}
	var out int64
	for q := range tcOutQueues {
		_, hi, err := l.QueueBounds("out", q)
		require.NoError(t, err)
		out += hi
		var last txnKey
		for off := int64(0); off < hi; {
			f, err := l.Read(ctx, "out", q, off, ReadOptions{Max: 1000})
			require.NoError(t, err, "kill %d: read out/%d@%d", it, q, off)
			require.NotEmpty(t, f.Messages)
			for _, m := range f.Messages {
				o, ok := tcParseOut(m.Body)
				key := tcKey(o.q, o.off)
				if !ok || m.Offset != off || string(m.Key) != key || QueueForKey(m.Key, tcOutQueues) != q {
					t.Fatalf("kill %d: out/%d@%d (offset %d, key %q) is %q", it, q, off, m.Offset, m.Key, m.Body)
				}
				if seen[key] {
					t.Fatalf("kill %d: input %s was transformed twice: out/%d@%d is %q", it, key, q, off, m.Body)
				}
				seen[key] = true
				if o.off >= committed[o.q] {
					t.Fatalf("kill %d: out/%d@%d (%q) derives from input %s, beyond the committed offset %d", it, q, off, m.Body, key, committed[o.q])
				}
				tk := txnKey{o.epoch, o.seq}
				if tk.epoch < last.epoch || tk.epoch == last.epoch && tk.seq < last.seq {
					t.Fatalf("kill %d: out/%d@%d: transaction %d.%d after %d.%d: not in commit order", it, q, off, tk.epoch, tk.seq, last.epoch, last.seq)
				}
				last = tk
				p := parts[tk]
				if p == nil {
					p = make([]bool, o.k)
					parts[tk] = p
				}
				if len(p) != o.k || p[o.i] {
					t.Fatalf("kill %d: out/%d@%d (%q): its transaction has two sizes, or this message twice", it, q, off, m.Body)
				}
				p[o.i] = true
				off++
			}
		}
	}
	for tk, p := range parts {
		for i, ok := range p {
			require.True(t, ok, "kill %d: transaction %d.%d is partly visible: message %d of %d is missing", it, tk.epoch, tk.seq, i, len(p))
		}
	}
	var want int64
	for q := range tcInQueues {
		want += committed[q]
		for off := range committed[q] {
			if !seen[tcKey(q, off)] {
				t.Fatalf("kill %d: input in/%d@%d is committed but its derived message is missing", it, q, off)
			}
		}
	}
	require.Equal(t, want, out, "kill %d: derived messages", it)
	st.committed, st.in, st.out = committed, in, out
}

// tcFinalFencing checks fencing in this process against the crashed log: the new
// incarnation aborts what the killed child left open, and an old incarnation kept open
// beside a newer one can neither commit nor send.
func tcFinalFencing(t *testing.T, dir string, st *tcTxnState) {
	l, err := Open(dir, tcTxnConfig{Durability: Sync}.options(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	defer l.Close()
	ctx := context.Background()
	old, err := l.InitProducer(ctx, tcGroup, ProducerOptions{})
	require.NoError(t, err)
	require.Empty(t, l.OpenTransactions(), "the killed child's open transaction was aborted by the new incarnation")
	tx := old.Begin()
	require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("zombie")}))
	require.Len(t, l.OpenTransactions(), 1)

	cur, err := l.InitProducer(ctx, tcGroup, ProducerOptions{})
	require.NoError(t, err)
	assert.Empty(t, l.OpenTransactions(), "the zombie's open transaction is aborted")
	var fe *FencedError
	err = tx.Commit(ctx, tcGroup, map[QueueRef]int64{{"in", 0}: st.committed[0] + 1})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, old.Epoch(), fe.Epoch)
	assert.Equal(t, cur.Epoch(), fe.Current)
	require.ErrorAs(t, old.Begin().Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("zombie")}), &fe)
	c, _ := l.CommittedOffset(tcGroup, "in", 0)
	assert.Equal(t, st.committed[0], c, "a fenced commit moves no offsets")
	_, hi, err := l.QueueBounds("out", 0)
	require.NoError(t, err)
	f, err := l.Read(ctx, "out", 0, 0, ReadOptions{Max: int(hi) + 1})
	require.NoError(t, err)
	for _, m := range f.Messages {
		require.False(t, bytes.Equal(m.Body, []byte("zombie")), "a zombie's message became visible")
	}
}

// A zombie's commit fails with *FencedError, whether or not its transaction has messages
// (doc.go: "sends and commits of older incarnations fail with *FencedError"), so that it
// knows to stop; the error still says that the log aborted the transaction.
func TestTxnZombieCommitFailsWithFencedError(t *testing.T) {
	l := openT(t, t.TempDir(), testOptions())
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "out", 1))
	old, err := l.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)
	tx := old.Begin()
	require.NoError(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("zombie")}))
	cur, err := l.InitProducer(ctx, "job", ProducerOptions{})
	require.NoError(t, err)

	err = tx.Commit(ctx, "g", nil)
	var fe *FencedError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, FencedError{Producer: "job", Epoch: old.Epoch(), Current: cur.Epoch()}, *fe)
	var ae *TxnAbortedError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, tx.ID(), ae.Txn)
	require.ErrorAs(t, tx.Send(ctx, &Message{Topic: "out", Queue: 0, Body: []byte("more")}), &fe)
	require.NoError(t, tx.Abort(ctx), "the log aborted it already: aborting is idempotent")
}

// Recovery reads the commitlog in 8 MiB chunks. A record that starts in the last three
// bytes of a chunk, its length field cut by the chunk's end, continues in the next chunk:
// it is not a torn tail. (Found by `riffle log bench --txn`, killed by SIGPIPE after
// 600 MB of acknowledged transactions: recovery cut 151 MB of them.)
func TestRecoveryScanRecordAcrossChunkEnd(t *testing.T) {
	const chunk = 8 << 20 // scan's buffer
	for _, k := range []int64{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("%d bytes in the first chunk", k), func(t *testing.T) {
			opts := testOptions()
			opts.SegmentSize = 64 << 20
			opts.MaxMessageSize = 1 << 20
			opts.FlushInterval, opts.CheckpointInterval, opts.RetentionCheckInterval = time.Hour, time.Hour, time.Hour
			src := t.TempDir()
			l := openT(t, src, opts)
			ctx := context.Background()
			require.NoError(t, l.CreateTopic(ctx, "t", 1))
			require.NoError(t, l.Checkpoint(ctx))
			_, from := l.cl.bounds() // where recovery will start scanning
			const overhead = 56 + 1  // header and topic "t"
			var n int64
			appendSized := func(size int64) {
				require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: 0, Body: bytes.Repeat([]byte{'x'}, int(size-overhead))}))
				n++
			}
			// Fill up to k bytes before the chunk's end, then cross it.
			for {
				_, end := l.cl.bounds()
				rest := from + chunk - k - end
				if rest < 1<<20 {
					appendSized(rest)
					break
				}
				appendSized(1 << 19)
			}
			_, end := l.cl.bounds()
			require.Equal(t, from+chunk-k, end)
			for range 3 {
				appendSized(1000)
			}

			// A kill now: reopen a copy.
			dst := t.TempDir()
			require.NoError(t, copyDir(src, dst))
			r := openT(t, dst, opts)
			assert.Zero(t, r.Recovery().TruncatedBytes, "%+v", r.Recovery())
			_, hi, err := r.QueueBounds("t", 0)
			require.NoError(t, err)
			assert.Equal(t, n, hi, "messages after recovery")
		})
	}
}
