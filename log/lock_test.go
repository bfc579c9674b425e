package log

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockChild opens the log in dir, prints "locked" and holds it until its standard input
// closes.
func lockChild(dir string) {
	l, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		childFail("open: %v", err)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	if err := l.Close(); err != nil {
		childFail("close: %v", err)
	}
	os.Exit(0)
}

// startLockHolder starts a child process holding dir and waits until it holds it.
func startLockHolder(t *testing.T, dir string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childRoleEnv+"=lock", childConfigEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the lock holder did not start")
	require.Equal(t, "locked\n", line)
	return cmd, stdin
}

func TestDirectoryLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	holder, stdin := startLockHolder(t, dir)

	_, err := Open(dir, testOptions())
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), "locked")
	assert.Contains(t, err.Error(), "pid "+strconv.Itoa(holder.Process.Pid))
	assert.Contains(t, err.Error(), dir)

	// The holder closes: the directory is free.
	require.NoError(t, stdin.Close())
	require.NoError(t, holder.Wait())
	l, err := Open(dir, testOptions())
	require.NoError(t, err)
	require.NoError(t, l.Close())

	// A holder killed with SIGKILL never unlocks, but the kernel drops its lock.
	holder, _ = startLockHolder(t, dir)
	_, err = Open(dir, testOptions())
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, holder.Process.Signal(syscall.SIGKILL))
	err = holder.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled(), "%v", err)
	l, err = Open(dir, testOptions())
	require.NoError(t, err, "a dead holder's lock is released")
	require.NoError(t, l.Close())
}
