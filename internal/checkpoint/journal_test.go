package checkpoint

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/state"
)

// epochs commits n epochs through j, each setting key k<i> to value i for i in
// [from, from+n), and returns the last epoch.
func commitEpochs(t *testing.T, j *Journal, b *state.StoreBackend, first uint64, n int) uint64 {
	t.Helper()
	v, err := state.NewValue(b, state.Desc[string]{Name: "v"})
	require.NoError(t, err)
	e := first
	for i := 0; i < n; i++ {
		e = first + uint64(i)
		for k := 0; k < 20; k++ {
			key := []byte(fmt.Sprintf("k%02d", k))
			b.SetCurrentKey(key, state.KeyGroup(key, state.DefaultMaxParallelism))
			require.NoError(t, v.Update(fmt.Sprintf("epoch %d %s", e, bytes.Repeat([]byte{'x'}, 1000))))
		}
		batch, err := b.Freeze(e)
		require.NoError(t, err)
		require.NoError(t, j.Commit(context.Background(), &Meta{Epoch: e}, []Change{{Operator: "op", Batch: batch}}, nil))
		b.Release(e)
	}
	return e
}

func readAll(t *testing.T, store *state.Store) map[string]string {
	t.Helper()
	b, err := store.Backend("op", state.KeyGroupRange{}, nil)
	require.NoError(t, err)
	v, err := state.NewValue(b, state.Desc[string]{Name: "v"})
	require.NoError(t, err)
	out := map[string]string{}
	for k := 0; k < 20; k++ {
		key := []byte(fmt.Sprintf("k%02d", k))
		b.SetCurrentKey(key, state.KeyGroup(key, state.DefaultMaxParallelism))
		s, ok, err := v.Value()
		require.NoError(t, err)
		if ok {
			out[string(key)] = s[:len("epoch NN")]
		}
	}
	return out
}

// TestSnapshotsBoundTheChangelog: snapshots let retention delete old changelog, and a
// lost store is rebuilt from the newest snapshot plus the changelog after it.
func TestSnapshotsBoundTheChangelog(t *testing.T) {
	dir := t.TempDir()
	lopts := rlog.Options{SegmentSize: 256 << 10, MaxMessageSize: 64 << 10, RetentionBytes: 1}
	l, err := rlog.Open(filepath.Join(dir, "log"), lopts)
	require.NoError(t, err)
	defer func() { l.Close() }()
	var logs bytes.Buffer
	cfg := Config{Log: l, Job: "snap", StateDir: filepath.Join(dir, "state"), SnapshotBytes: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx := context.Background()

	j, meta, err := Open(ctx, cfg)
	require.NoError(t, err)
	require.Nil(t, meta)
	b, err := j.Store().Backend("op", state.KeyGroupRange{}, nil)
	require.NoError(t, err)
	last := commitEpochs(t, j, b, 1, 60) // ~20 KB of changelog per epoch: a snapshot every ~4
	j.waitSnapshot()                     // snapshots are written in the background
	snaps := listSnapshots(cfg.StateDir + ".snapshots")
	require.Len(t, snaps, keepSnapshots, "older snapshots are deleted")
	assert.Contains(t, logs.String(), "state snapshot written")

	_, err = l.EnforceRetention(ctx)
	require.NoError(t, err)
	lo, _, err := l.QueueBounds(j.Names().Changelog, 0)
	require.NoError(t, err)
	assert.Greater(t, lo, int64(0), "retention deleted changelog before the snapshots")
	assert.LessOrEqual(t, lo, snaps[len(snaps)-1].changelog, "the changelog after the oldest kept snapshot stays")
	want := readAll(t, j.Store())
	require.Equal(t, fmt.Sprintf("epoch %d", last), want["k00"])
	require.NoError(t, j.Close())

	// The store is lost: the next Open rebuilds it from a snapshot and the changelog.
	require.NoError(t, os.RemoveAll(cfg.StateDir))
	logs.Reset()
	j, meta, err = Open(ctx, cfg)
	require.NoError(t, err)
	require.Equal(t, last, meta.Epoch)
	assert.Contains(t, logs.String(), "state restored from a snapshot")
	assert.Equal(t, want, readAll(t, j.Store()))
	require.NoError(t, j.Close())

	// Without snapshots the lost store cannot be rebuilt: a clear error, nothing invented.
	require.NoError(t, os.RemoveAll(cfg.StateDir))
	require.NoError(t, os.RemoveAll(cfg.StateDir+".snapshots"))
	_, _, err = Open(ctx, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "retention deleted it")
}

// TestReplayAfterUnappliedCommits: epochs committed in the log but never applied (a
// crash between commit and apply) are replayed into the store on Open.
func TestReplayAfterUnappliedCommits(t *testing.T) {
	dir := t.TempDir()
	l, err := rlog.Open(filepath.Join(dir, "log"), rlog.Options{})
	require.NoError(t, err)
	defer l.Close()
	cfg := Config{Log: l, Job: "replay", StateDir: filepath.Join(dir, "state"), SnapshotBytes: -1,
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	ctx := context.Background()
	j, _, err := Open(ctx, cfg)
	require.NoError(t, err)
	b, err := j.Store().Backend("op", state.KeyGroupRange{}, nil)
	require.NoError(t, err)
	commitEpochs(t, j, b, 1, 3)
	want := readAll(t, j.Store())
	require.NoError(t, j.Close())

	// Roll the store back to epoch 1 by rebuilding it: remove it, replay only epoch 1,
	// as if epochs 2 and 3 had committed without being applied.
	require.NoError(t, os.RemoveAll(cfg.StateDir))
	j, meta, err := Open(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), meta.Epoch)
	a, err := j.Store().Applied()
	require.NoError(t, err)
	assert.Equal(t, uint64(3), a.Epoch)
	assert.Equal(t, want, readAll(t, j.Store()))

	// An open transaction of this run is aborted by the next Open (fencing).
	require.NoError(t, j.Send(ctx, 4, &rlog.Message{Topic: j.Names().Checkpoint, Queue: 0, Body: []byte("{}")}))
	require.Len(t, l.OpenTransactions(), 1)
	require.NoError(t, j.Close())
	j2, meta, err := Open(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), meta.Epoch, "the uncommitted epoch 4 is not the last checkpoint")
	assert.Empty(t, l.OpenTransactions())
	var fe *rlog.FencedError
	require.ErrorAs(t, j.Commit(ctx, &Meta{Epoch: 4}, nil, nil), &fe, "the old run is fenced")
	require.NoError(t, j2.Close())
}

// TestSnapshotInTheBackground: commits go on while a snapshot is written, the snapshot
// holds the store as it was at its epoch, and Close abandons a snapshot in progress.
func TestSnapshotInTheBackground(t *testing.T) {
	dir := t.TempDir()
	l, err := rlog.Open(filepath.Join(dir, "log"), rlog.Options{})
	require.NoError(t, err)
	defer l.Close()
	cfg := Config{Log: l, Job: "bg", StateDir: filepath.Join(dir, "state"), SnapshotBytes: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	ctx := context.Background()
	j, _, err := Open(ctx, cfg)
	require.NoError(t, err)
	started, release := make(chan struct{}, 1), make(chan struct{})
	j.snapHook = func() {
		started <- struct{}{}
		<-release
	}
	b, err := j.Store().Backend("op", state.KeyGroupRange{}, nil)
	require.NoError(t, err)
	// ~20 KB of changelog per epoch: the fourth epoch starts a snapshot, which waits.
	commitEpochs(t, j, b, 1, 4)
	<-started
	want := readAll(t, j.Store())
	require.Equal(t, "epoch 4 ", want["k00"]) // readAll keeps len("epoch NN")
	commitEpochs(t, j, b, 5, 8)               // not held up by the snapshot
	close(release)
	j.waitSnapshot()
	snaps := listSnapshots(cfg.StateDir + ".snapshots")
	require.Len(t, snaps, 1)
	require.Equal(t, uint64(4), snaps[0].epoch)
	// The snapshot is the store at epoch 4.
	other, err := state.OpenStore(filepath.Join(dir, "other"), state.StoreOptions{})
	require.NoError(t, err)
	a, err := loadSnapshot(other, snaps[0].path)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), a.Epoch)
	assert.Equal(t, want, readAll(t, other))
	require.NoError(t, other.Close())

	// Close while a snapshot waits to be written: it is abandoned, Close returns.
	release = make(chan struct{})
	commitEpochs(t, j, b, 13, 8)
	<-started
	closed := make(chan error)
	go func() { closed <- j.Close() }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	require.NoError(t, <-closed)
	snaps = listSnapshots(cfg.StateDir + ".snapshots")
	require.Len(t, snaps, 1, "the abandoned snapshot left no file")
	des, err := os.ReadDir(cfg.StateDir + ".snapshots")
	require.NoError(t, err)
	assert.Len(t, des, 1, "nor a temporary file")
}
