package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/state"
)

// Snapshots bound the changelog. The changelog is what rebuilds a lost or corrupt
// Badger store, so retention must keep it; but replaying it from the job's first epoch
// grows without end. Every SnapshotBytes of changelog the journal writes a snapshot of
// the store as it stands after an epoch (state.Store.Snapshot; it carries the store's
// applied epoch and changelog position), and holds the log's retention at the changelog
// position of the oldest snapshot it keeps: restore = newest readable snapshot + the
// changelog after it, and the changelog before it may go.
//
// Files: <SnapshotDir>/snap-<epoch>-<changelog offset>.badger, written to a temporary
// name, fsynced and renamed, in the background (see snapshotter); the newest
// keepSnapshots are kept. (Older versions wrote Badger backups under the same names:
// state.Store.Load reads both.)

const keepSnapshots = 2

type snapshotFile struct {
	path      string
	epoch     uint64
	changelog int64
}

// listSnapshots returns the snapshots in dir, newest first.
func listSnapshots(dir string) []snapshotFile {
	des, _ := os.ReadDir(dir)
	var out []snapshotFile
	for _, de := range des {
		name := de.Name()
		rest, ok := strings.CutPrefix(name, "snap-")
		if !ok {
			continue
		}
		rest, ok = strings.CutSuffix(rest, ".badger")
		if !ok {
			continue
		}
		es, cs, ok := strings.Cut(rest, "-")
		e, err1 := strconv.ParseUint(es, 10, 64)
		c, err2 := strconv.ParseInt(cs, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, snapshotFile{path: filepath.Join(dir, name), epoch: e, changelog: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].epoch > out[j].epoch })
	return out
}

// holdName is the retention hold of the job's changelog.
func (j *Journal) holdName() string { return j.names.Changelog }

// holdChangelog holds retention at the oldest kept snapshot's changelog position (the
// changelog's start when there is none).
func (j *Journal) holdChangelog() error {
	at := int64(0)
	if snaps := listSnapshots(j.snapDir); len(snaps) > 0 {
		at = snaps[len(snaps)-1].changelog
	}
	lo, hi, err := j.log.QueueBounds(j.names.Changelog, 0)
	if err != nil {
		return err
	}
	return j.log.HoldRetention(j.holdName(), rlog.QueueRef{Topic: j.names.Changelog, Queue: 0}, min(max(at, lo), hi))
}

// snapshotter runs at most one snapshot at a time, in the background: a snapshot of a
// large store takes seconds (a Badger backup took tens of seconds at 10 M keys), and
// commits must not wait for it: while they waited, every epoch frozen meanwhile stayed in
// memory, frozen and unapplied (0.3 GB of the Go heap at 10 M keys).
type snapshotter struct {
	mu      sync.Mutex
	running bool
	done    chan struct{} // closed when the running snapshot ended
	stop    atomic.Bool   // Close: abandon the running snapshot
	carry   atomic.Int64  // changelog bytes of a failed snapshot, to count again
	last    atomic.Int64  // the last snapshot's size
}

// errSnapshotStopped abandons a snapshot when the journal closes.
var errSnapshotStopped = errors.New("checkpoint: journal closing")

// maybeSnapshot starts a snapshot after epoch a was applied, when enough changelog was
// written since the last one: SnapshotBytes, and at least as much as the last snapshot
// weighed (so that snapshots of a large state cost time linear in the changelog, not
// quadratic), and no snapshot is running. It fixes the snapshot's view of the store
// (exactly the store at a: the next epochs apply after it returns) and leaves the
// writing to a goroutine.
func (j *Journal) maybeSnapshot(a state.Applied) {
	j.sinceSnap += j.snap.carry.Swap(0)
	if j.snapBytes <= 0 || j.sinceSnap < max(j.snapBytes, j.snap.last.Load()) {
		return
	}
	s := &j.snap
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || s.stop.Load() {
		return
	}
	view, err := j.store.Snapshot()
	if err != nil {
		j.logger.Warn("state snapshot failed; the changelog is kept until one succeeds", "epoch", a.Epoch, "err", err)
		return
	}
	since := j.sinceSnap
	j.sinceSnap = 0
	s.running = true
	done := make(chan struct{})
	s.done = done
	go func() {
		defer func() {
			s.mu.Lock()
			s.running = false
			s.mu.Unlock()
			close(done)
		}()
		if j.snapHook != nil {
			j.snapHook()
		}
		start := time.Now()
		path, size, err := j.writeSnapshot(a, view)
		if err != nil {
			s.carry.Add(since)
			if !errors.Is(err, errSnapshotStopped) {
				j.logger.Warn("state snapshot failed; the changelog is kept until one succeeds", "epoch", a.Epoch, "err", err)
			}
			return
		}
		s.last.Store(size)
		snaps := listSnapshots(j.snapDir)
		for _, s := range snaps[min(len(snaps), keepSnapshots):] {
			os.Remove(s.path)
		}
		if err := j.holdChangelog(); err != nil {
			j.logger.Warn("cannot move the changelog's retention hold", "err", err)
		}
		j.logger.Info("state snapshot written", "epoch", a.Epoch, "file", path, "keys", view.Keys(), "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	}()
}

// waitSnapshot waits for the running snapshot, if any, to end.
func (j *Journal) waitSnapshot() {
	j.snap.mu.Lock()
	done := j.snap.done
	j.snap.mu.Unlock()
	if done != nil {
		<-done
	}
}

// stopSnapshots abandons the running snapshot (its temporary file is removed) and
// refuses new ones.
func (j *Journal) stopSnapshots() {
	j.snap.stop.Store(true)
	j.waitSnapshot()
}

// stoppableWriter fails once the journal closes, which ends a running snapshot.
type stoppableWriter struct {
	w    io.Writer
	stop *atomic.Bool
}

func (w stoppableWriter) Write(p []byte) (int, error) {
	if w.stop.Load() {
		return 0, errSnapshotStopped
	}
	return w.w.Write(p)
}

// writeSnapshot writes view (the store at a) as snap-<a.Epoch>-<a.Changelog>, and
// closes it.
func (j *Journal) writeSnapshot(a state.Applied, view *state.StoreSnapshot) (string, int64, error) {
	defer view.Close()
	if err := os.MkdirAll(j.snapDir, 0o755); err != nil {
		return "", 0, err
	}
	path := filepath.Join(j.snapDir, fmt.Sprintf("snap-%d-%d.badger", a.Epoch, a.Changelog))
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", 0, err
	}
	w := bufio.NewWriterSize(stoppableWriter{f, &j.snap.stop}, 1<<20)
	_, err = view.WriteTo(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	st, _ := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, err
	}
	var size int64
	if st != nil {
		size = st.Size()
	}
	return path, size, nil
}

// restoreSnapshot loads the newest readable snapshot into the (empty) store and returns
// what it had applied; zero without a usable snapshot.
func (j *Journal) restoreSnapshot(cfg Config) (*state.Store, state.Applied, error) {
	for _, s := range listSnapshots(j.snapDir) {
		store, err := state.OpenStore(cfg.StateDir, cfg.Store)
		if err != nil {
			return nil, state.Applied{}, err
		}
		a, err := loadSnapshot(store, s.path)
		if err == nil {
			j.logger.Info("state restored from a snapshot", "file", s.path, "epoch", a.Epoch)
			return store, a, nil
		}
		j.logger.Warn("state snapshot unreadable; trying an older one", "file", s.path, "err", err)
		store.Close()
		if err := os.RemoveAll(cfg.StateDir); err != nil {
			return nil, state.Applied{}, err
		}
	}
	store, err := state.OpenStore(cfg.StateDir, cfg.Store)
	return store, state.Applied{}, err
}

func loadSnapshot(store *state.Store, path string) (state.Applied, error) {
	f, err := os.Open(path)
	if err != nil {
		return state.Applied{}, err
	}
	defer f.Close()
	if err := store.Load(bufio.NewReaderSize(f, 1<<20)); err != nil {
		return state.Applied{}, err
	}
	return store.Applied()
}
