package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The same contract through the real binary: exit codes, stdout and stderr as a shell
// sees them, and two riffle processes sharing one data directory.

var (
	binDir    string // created by TestMain, removed after the tests
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "riffle-cli-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// riffleBinary builds cmd/riffle once per test run.
func riffleBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(binDir, "riffle")
		out, err := exec.Command(goTool, "build", "-o", binPath, "github.com/riffle-streams/riffle/cmd/riffle").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/riffle: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// exe runs the binary to completion.
func exe(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(riffleBinary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run riffle %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func TestBinaryRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r := exe(t, "", "log", "topics", "create", "--data", dir, "--topic", "orders", "--queues", "4")
	require.Equal(t, 0, r.code, "%s", r)
	r = exe(t, "ada\t12 EUR\ngrace\t7 EUR\nada\t3 EUR\n", "log", "produce", "--data", dir, "--topic", "orders", "--keyed", "--sync")
	require.Equal(t, 0, r.code, "%s", r)
	assert.Contains(t, r.stderr, "produced 3 messages to orders")

	r = exe(t, "", "log", "consume", "--data", dir, "--topic", "orders", "--from-beginning", "--format", "json", "--group", "billing")
	require.Equal(t, 0, r.code, "%s", r)
	msgs := consumeJSON(t, r.stdout)
	require.Len(t, msgs, 3)
	var ada []string
	for _, m := range msgs {
		if *m.Key == "ada" {
			ada = append(ada, m.Value)
		}
	}
	assert.Equal(t, []string{"12 EUR", "3 EUR"}, ada, "one key, one queue, in order")

	r = exe(t, "", "log", "consume", "--data", dir, "--topic", "orders", "--group", "billing", "--from-beginning")
	require.Equal(t, 0, r.code, "%s", r)
	assert.Empty(t, r.stdout, "the group consumed everything")

	r = exe(t, "", "log", "offsets", "--data", dir, "--group", "billing")
	require.Equal(t, 0, r.code, "%s", r)
	assert.Contains(t, r.stdout, "LAG")
	r = exe(t, "", "log", "topics", "list", "--data", dir)
	require.Equal(t, 0, r.code, "%s", r)
	assert.Contains(t, r.stdout, "orders")
	assert.Contains(t, strings.Join(strings.Fields(r.stdout), " "), "orders 4 3")
}

func TestBinaryErrors(t *testing.T) {
	dir := t.TempDir()
	require.Equal(t, 0, exe(t, "", "log", "topics", "create", "--data", dir, "--topic", "t").code)
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		want  []string
	}{
		{"a\n", []string{"log", "produce", "--data", dir, "--topic", "nope"}, 1, []string{"unknown topic", "riffle log topics create"}},
		{"ok\n" + strings.Repeat("x", 4<<20+1) + "\n", []string{"log", "produce", "--data", dir, "--topic", "t"}, 1, []string{"line 2", "the limit is 4194304"}},
		{"", []string{"log", "consume", "--data", dir, "--topic", "t", "--nope"}, 2, []string{"flag provided but not defined", "riffle log consume --help"}},
		{"", []string{"log"}, 2, []string{"Usage:"}},
		{"", []string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
	} {
		r := exe(t, c.stdin, c.args...)
		assert.Equal(t, c.code, r.code, "riffle %s\n%s", strings.Join(c.args, " "), r)
		for _, w := range c.want {
			assert.Contains(t, r.stderr, w, "riffle %s", strings.Join(c.args, " "))
		}
		assert.Empty(t, r.stdout, "riffle %s", strings.Join(c.args, " "))
	}
	r := exe(t, "", "log", "consume", "--data", dir, "--topic", "t", "--from-beginning")
	assert.Equal(t, "ok\n", r.stdout, "the line before the invalid one is stored")
}

func TestBinaryHelp(t *testing.T) {
	r := exe(t, "", "log", "produce", "--help")
	require.Equal(t, 0, r.code, "%s", r)
	for _, f := range []string{"--data", "--topic", "--keyed", "--queue", "--sync"} {
		assert.Contains(t, r.stdout, "  "+f)
	}
	r = exe(t, "", "--help")
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "riffle log consume")
}

// Two processes: consume --follow waits while produce, another process, appends.
func TestBinaryFollowWithConcurrentProducer(t *testing.T) {
	dir := t.TempDir()
	require.Equal(t, 0, exe(t, "", "log", "topics", "create", "--data", dir, "--topic", "f", "--queues", "2").code)
	require.Equal(t, 0, exe(t, "first\n", "log", "produce", "--data", dir, "--topic", "f").code)

	consume := exec.Command(riffleBinary(t), "log", "consume", "--data", dir, "--topic", "f", "--group", "tail",
		"--from-beginning", "--follow", "--max", "3", "--timeout", "60s")
	var stderr bytes.Buffer
	consume.Stderr = &stderr
	stdout, err := consume.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, consume.Start())
	t.Cleanup(func() { consume.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "consume prints the first message; stderr:\n%s", &stderr)
	assert.Equal(t, "first", lines.Text())

	// consume is following now; a producer process appends.
	r := exe(t, "second\nthird\n", "log", "produce", "--data", dir, "--topic", "f", "--sync")
	require.Equal(t, 0, r.code, "produce beside consume --follow\n%s", r)

	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	require.NoError(t, consume.Wait(), "stderr:\n%s", &stderr)
	assert.ElementsMatch(t, []string{"second", "third"}, rest)
}

// SIGINT ends consume --follow with exit 0, and what it printed is committed.
func TestBinaryFollowStopsOnSIGINT(t *testing.T) {
	dir := t.TempDir()
	require.Equal(t, 0, exe(t, "", "log", "topics", "create", "--data", dir, "--topic", "s").code)
	require.Equal(t, 0, exe(t, "a\nb\n", "log", "produce", "--data", dir, "--topic", "s").code)
	consume := exec.Command(riffleBinary(t), "log", "consume", "--data", dir, "--topic", "s", "--group", "g", "--from-beginning", "--follow")
	var stderr bytes.Buffer
	consume.Stderr = &stderr
	stdout, err := consume.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, consume.Start())
	t.Cleanup(func() { consume.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	for _, want := range []string{"a", "b"} {
		require.True(t, lines.Scan(), "stderr:\n%s", &stderr)
		require.Equal(t, want, lines.Text())
	}
	require.NoError(t, consume.Process.Signal(syscall.SIGINT))
	for lines.Scan() {
	}
	done := make(chan error, 1)
	go func() { done <- consume.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "stderr:\n%s", &stderr)
	case <-time.After(60 * time.Second):
		t.Fatal("consume --follow did not stop on SIGINT")
	}
	r := exe(t, "", "log", "offsets", "--data", dir, "--group", "g")
	require.Equal(t, 0, r.code, "%s", r)
	assert.Equal(t, []string{"g", "s", "0", "2", "2", "0"}, strings.Fields(r.lines()[1]))
}

func TestBinaryBench(t *testing.T) {
	r := exe(t, "", "log", "bench", "--data", t.TempDir(), "--messages", "1000", "--size", "64", "--producers", "2")
	require.Equal(t, 0, r.code, "%s", r)
	lines := r.lines()
	res := benchJSON(t, lines[len(lines)-1])
	assert.Equal(t, float64(1000), res["messages"])
	assert.Equal(t, float64(64000), res["bytes"])
}
