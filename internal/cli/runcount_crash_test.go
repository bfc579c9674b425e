package cli

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	rlog "github.com/riffle-streams/riffle/log"
)

// TestRuncountCrashLoop is the running-count contract of issue 5 as a crash test: a
// child `riffle run runcount` is killed with SIGKILL at random points, many times, with
// the parallelism alternating and more input arriving between runs; after every kill
// the output holds, per key, exactly KEY<TAB>1..m in order (no duplicate, no gap: what
// readers saw is never taken back); a last --bounded run completes it to KEY<TAB>1..n.
func TestRuncountCrashLoop(t *testing.T) {
	bin := riffleBinary(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	seed := rng.Int63()
	t.Logf("seed %d", seed)
	rng.Seed(seed)

	const keys = 37
	total := map[string]int{}
	produce := func(n int) {
		l, err := rlog.Open(dir, rlog.Options{})
		require.NoError(t, err)
		defer l.Close()
		if _, err := l.Topic("in"); err != nil {
			require.NoError(t, l.CreateTopic(context.Background(), "in", 3))
		}
		var msgs []*rlog.Message
		for i := 0; i < n; i++ {
			k := "k" + strconv.Itoa(rng.Intn(keys))
			total[k]++
			m := &rlog.Message{Topic: "in", Queue: rng.Intn(3), Body: []byte(k + "\tv" + strconv.Itoa(i))}
			if i%2 == 0 { // as `produce --keyed` stores it
				m.Key, m.Body, m.Queue = []byte(k), []byte("v"+strconv.Itoa(i)), rlog.ByKey
			}
			msgs = append(msgs, m)
		}
		require.NoError(t, l.Append(context.Background(), msgs...))
	}
	produce(300000)
	var seen outputSeen

	kills := 12
	if testing.Short() {
		kills = 4
	}
	for round := 0; round < kills; round++ {
		par := []int{1, 3, 2}[round%3]
		cmd := exec.Command(bin, "run", "runcount", "--data", dir, "--input", "in", "--output", "out",
			"--parallelism", strconv.Itoa(par), "--checkpoint-interval", "30ms")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(10+rng.Intn(300)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: the child ended before the kill: %v\n%s", round, err, stderr.String())
		}
		got := seen.check(t, dir, total, false)
		t.Logf("round %d (parallelism %d, killed after %s): %d of %d outputs committed", round, par, time.Since(start).Round(time.Millisecond), sum(got), sum(total))
		produce(150000)
	}
	out, err := exec.Command(bin, "run", "runcount", "--data", dir, "--input", "in", "--output", "out",
		"--parallelism", "2", "--checkpoint-interval", "30ms", "--bounded").CombinedOutput()
	require.NoError(t, err, "%s", out)
	seen.check(t, dir, total, true)
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// outputSeen is what a reader of topic out has read so far: its offsets and the last
// count of every key.
type outputSeen struct {
	next []int64
	got  map[string]int
}

// check reads topic out on from where the last check stopped and checks that every
// key's bodies are KEY<TAB>1..m in order, with m = total[key] when complete (m <=
// total[key] otherwise). It returns m per key.
func (s *outputSeen) check(t *testing.T, dir string, total map[string]int, complete bool) map[string]int {
	t.Helper()
	l, err := rlog.Open(dir, rlog.Options{})
	require.NoError(t, err)
	defer l.Close()
	if s.got == nil {
		s.got = map[string]int{}
	}
	got := s.got
	ti, err := l.Topic("out")
	if err != nil {
		require.False(t, complete, "no output topic")
		return got
	}
	if s.next == nil {
		s.next = make([]int64, len(ti.Queues))
	}
	for q := range ti.Queues {
		for off := s.next[q]; ; {
			f, err := l.Read(context.Background(), "out", q, off, rlog.ReadOptions{Max: 1000})
			require.NoError(t, err)
			if len(f.Messages) == 0 {
				break
			}
			for _, m := range f.Messages {
				k, n, ok := strings.Cut(string(m.Body), "\t")
				require.True(t, ok, "out/%d@%d: body %q", q, m.Offset, m.Body)
				require.Equal(t, k, string(m.Key), "out/%d@%d", q, m.Offset)
				want := got[k] + 1
				require.Equal(t, strconv.Itoa(want), n, "out/%d@%d: key %s: count %s after %d (a duplicate or a gap)", q, m.Offset, k, n, got[k])
				got[k] = want
			}
			off = f.Next
			s.next[q] = off
		}
	}
	for k, n := range total {
		if complete {
			require.Equal(t, n, got[k], "key %s", k)
		} else {
			require.LessOrEqual(t, got[k], n, "key %s", k)
		}
	}
	if complete {
		require.Len(t, got, len(total), fmt.Sprint("keys in the output"))
	}
	return got
}
