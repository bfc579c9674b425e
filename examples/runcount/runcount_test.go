package runcount

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// fixture is a log with topic "in" and the expected counts of what it holds.
type fixture struct {
	t     *testing.T
	dir   string
	l     *rlog.Log
	total map[string]int
	seen  map[string]int // the last count read per key
	next  []int64        // next offset to read per output queue
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	l, err := rlog.Open(filepath.Join(dir, "log"), rlog.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	require.NoError(t, l.CreateTopic(context.Background(), "in", 3))
	return &fixture{t: t, dir: dir, l: l, total: map[string]int{}, seen: map[string]int{}}
}

func (f *fixture) produce(n int) {
	var msgs []*rlog.Message
	for i := 0; i < n; i++ {
		k := "k" + strconv.Itoa(i%23)
		f.total[k]++
		msgs = append(msgs, &rlog.Message{Topic: "in", Queue: rlog.ByKey, Key: []byte(k), Body: []byte("v")})
	}
	require.NoError(f.t, f.l.Append(context.Background(), msgs...))
}

func (f *fixture) options(par int) Options {
	return Options{Log: f.l, Input: "in", Output: "out", Parallelism: par, Bounded: true,
		StateDir: filepath.Join(f.dir, "state"), CheckpointInterval: 10 * time.Millisecond}
}

func (f *fixture) run(o Options) error {
	j, err := Job(o)
	require.NoError(f.t, err)
	return j.Run(context.Background())
}

// check reads the new output and checks every key's counts continue 1, 2, ... with no
// duplicate or gap, up to the expected totals.
func (f *fixture) check() {
	t := f.t
	ti, err := f.l.Topic("out")
	require.NoError(t, err)
	if f.next == nil {
		f.next = make([]int64, len(ti.Queues))
	}
	for q := range ti.Queues {
		for {
			fe, err := f.l.Read(context.Background(), "out", q, f.next[q], rlog.ReadOptions{Max: 1000})
			require.NoError(t, err)
			if len(fe.Messages) == 0 {
				break
			}
			for _, m := range fe.Messages {
				k, n, _ := strings.Cut(string(m.Body), "\t")
				require.Equal(t, strconv.Itoa(f.seen[k]+1), n, "key %s at out/%d@%d", k, q, m.Offset)
				f.seen[k]++
			}
			f.next[q] = fe.Next
		}
	}
	assert.Equal(t, f.total, f.seen)
}

// TestRescaleAndResume: bounded runs over growing input, with parallelism 1, 3, 2: each
// run continues the counts where the last one committed them (state moves by key group).
func TestRescaleAndResume(t *testing.T) {
	f := newFixture(t)
	for i, par := range []int{1, 3, 2} {
		f.produce(1000 + 500*i)
		require.NoError(t, f.run(f.options(par)))
		f.check()
	}
}

// TestStateRebuiltFromChangelog: a deleted or corrupt state directory is rebuilt from the
// changelog, with a warning; the counts continue exactly.
func TestStateRebuiltFromChangelog(t *testing.T) {
	f := newFixture(t)
	f.produce(1000)
	require.NoError(t, f.run(f.options(2)))
	f.check()

	var logs bytes.Buffer
	o := f.options(2)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))

	require.NoError(t, os.RemoveAll(o.StateDir))
	f.produce(700)
	require.NoError(t, f.run(o))
	f.check()
	assert.Contains(t, logs.String(), "moving it aside and rebuilding it from the changelog")
	assert.Contains(t, logs.String(), "directory is missing")

	// Garbage over Badger's manifest: the store cannot open.
	logs.Reset()
	require.NoError(t, os.WriteFile(filepath.Join(o.StateDir, "MANIFEST"), []byte("not a manifest"), 0o644))
	f.produce(300)
	require.NoError(t, f.run(o))
	f.check()
	assert.Contains(t, logs.String(), "moving it aside")
	matches, _ := filepath.Glob(o.StateDir + ".broken-*")
	assert.NotEmpty(t, matches, "the broken directory is kept aside for inspection")
}

// TestRestartStrategy: a failure inside the job restarts it from its last checkpoint;
// the output stays exactly-once. Without restarts the failure is Run's error.
func TestRestartStrategy(t *testing.T) {
	f := newFixture(t)
	f.produce(2000)
	o := f.options(2)
	o.Restart = stream.RestartStrategy{MaxAttempts: 2, Delay: time.Millisecond}
	var failed atomic.Bool
	o.failAt = func(n int64) error {
		if n == 700 && failed.CompareAndSwap(false, true) {
			return errors.New("injected failure")
		}
		return nil
	}
	require.NoError(t, f.run(o))
	assert.True(t, failed.Load())
	f.check()

	f.produce(100)
	o = f.options(1)
	o.failAt = func(n int64) error { return errors.New("always") }
	err := f.run(o)
	var oe *stream.OperatorError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "count", oe.Operator)
}

// TestZombieFenced: a newer run of the job fences an older one still running: the older
// stops with an error saying so, and the output stays exactly-once.
func TestZombieFenced(t *testing.T) {
	f := newFixture(t)
	f.produce(500)
	old := f.options(1)
	old.Bounded = false
	block, reached := make(chan struct{}), make(chan struct{})
	old.failAt = func(n int64) error {
		if n == 100 {
			close(reached)
			<-block // the old run stalls mid-epoch
		}
		return nil
	}
	j, err := Job(old)
	require.NoError(t, err)
	oldDone := make(chan error, 1)
	go func() { oldDone <- j.Run(context.Background()) }()
	<-reached

	// The new run fences the old one, then waits for it to let go of the state.
	newDone := make(chan error, 1)
	go func() { newDone <- f.run(f.options(2)) }()
	time.Sleep(100 * time.Millisecond)
	close(block)
	require.NoError(t, <-newDone)
	err = <-oldDone
	var fe *rlog.FencedError
	require.ErrorAs(t, err, &fe, "the old run learns it was fenced: %v", err)
	assert.Contains(t, err.Error(), "fenced")
	f.check()
}

// TestMaxParallelismIsFixed: a checkpoint written with one MaxParallelism is refused by
// a run with another.
func TestMaxParallelismIsFixed(t *testing.T) {
	f := newFixture(t)
	f.produce(10)
	require.NoError(t, f.run(f.options(1)))
	o := f.options(1)
	o.maxParallelism = 64
	err := f.run(o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MaxParallelism cannot change")
}
