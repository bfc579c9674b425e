package file

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/stream"
)

// The crash test: a child process (this test binary, re-executed into
// TestFileCrashChild) runs a checkpointed job from Avro files through a map into the
// file sink; the parent kills it with SIGKILL at random moments, with the parallelism
// changing between runs, then lets a last run finish. After every run the published
// parts must hold each record at most once (and only whole, readable parts); after the
// last, each record exactly once, and no in-progress part may remain. The seed is
// logged; RIFFLE_FILE_CRASH_SEED=N replays the kill delays (the kill points stay
// timing-dependent).

const (
	crashDirEnv  = "RIFFLE_FILE_CRASH_DIR"
	crashParEnv  = "RIFFLE_FILE_CRASH_PARALLELISM"
	crashSeedEnv = "RIFFLE_FILE_CRASH_SEED"
)

func crashJob(t testing.TB, dir string, par int) *stream.Job {
	l, err := rlog.Open(filepath.Join(dir, "log"), rlog.Options{Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	src, err := NewAvroSource[Rec](SourceOptions{Glob: filepath.Join(dir, "in", "*.avro")})
	require.NoError(t, err)
	sink, err := NewAvroSink[Rec](SinkOptions{Dir: filepath.Join(dir, "out"), Schema: recSchema, Codec: CodecDeflate, Logger: quiet})
	require.NoError(t, err)
	job := stream.NewJob("crash", stream.JobOptions{Parallelism: par, Logger: quiet, BatchSize: 64,
		Checkpoints: &stream.Checkpointing{Log: l, StateDir: filepath.Join(dir, "state"), Interval: 15 * time.Millisecond}})
	in := stream.FromSource(job, "in", src, stream.WatermarkStrategy[Rec]{NoWatermarks: true})
	operators.Map(in, "slow", slow(10)).Rebalance().To("files", sink)
	return job
}

// TestFileCrashChild is the crash test's child process; run directly, it skips.
func TestFileCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child process of TestSinkSurvivesSIGKILL")
	}
	par, err := strconv.Atoi(os.Getenv(crashParEnv))
	require.NoError(t, err)
	require.NoError(t, crashJob(t, dir, par).Run(context.Background()))
}

func TestSinkSurvivesSIGKILL(t *testing.T) {
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

	dir := t.TempDir()
	const files, per = 4, 3000
	writeInputs(t, dir, files, per)
	sink, err := NewAvroSink[Rec](SinkOptions{Dir: filepath.Join(dir, "out"), Schema: recSchema})
	require.NoError(t, err)
	checkAtMostOnce := func(run int) int {
		if err := mkdir(sink.Dir()); err != nil {
			t.Fatal(err)
		}
		got := published(t, sink)
		seen := map[int64]bool{}
		for _, r := range got {
			require.False(t, seen[r.ID], "run %d: record %d published twice", run, r.ID)
			require.Equal(t, rec(int(r.ID)), r)
			seen[r.ID] = true
		}
		return len(got)
	}

	child := func(par int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashParEnv+"="+strconv.Itoa(par))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t.Cleanup(func() {
			if t.Failed() && out.Len() > 0 {
				t.Logf("child output:\n%s", out.String())
			}
		})
		return cmd
	}
	killed := 0
	for run := 0; run < 6; run++ {
		cmd := child(1 + run%3)
		require.NoError(t, cmd.Start())
		delay := time.Duration(80+rng.IntN(320)) * time.Millisecond
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err, "run %d ended before its kill", run)
		case <-time.After(delay):
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			<-done
			killed++
		}
		n := checkAtMostOnce(run)
		t.Logf("run %d (parallelism %d, kill after %v): %d records published, %d parts in progress",
			run, 1+run%3, delay, n, len(inProgress(t, sink.Dir())))
	}
	cmd := child(2)
	require.NoError(t, cmd.Run(), "the last run")
	require.Equal(t, files*per, checkAtMostOnce(99))
	require.Empty(t, inProgress(t, sink.Dir()))
	t.Logf("%d kills", killed)
}
