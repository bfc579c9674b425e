package checkpoint

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/state"
)

// Snapshots bound the changelog. The changelog is what rebuilds a lost or corrupt
// Badger store, so retention must keep it; but replaying it from the job's first epoch
// grows without end. Every SnapshotBytes of changelog the journal writes a Badger backup
// of the store as it stands after an epoch (the backup carries the store's applied epoch
// and changelog position), and holds the log's retention at the changelog position of
// the oldest snapshot it keeps: restore = newest readable snapshot + the changelog after
// it, and the changelog before it may go.
//
// Files: <SnapshotDir>/snap-<epoch>-<changelog offset>.badger, written to a temporary
// name, fsynced and renamed; the newest keepSnapshots are kept.

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

// maybeSnapshot takes a snapshot after epoch a was applied, when enough changelog was
// written since the last one: SnapshotBytes, and at least as much as the last snapshot
// weighed (so that snapshots of a large state cost time linear in the changelog, not
// quadratic). It runs on the committing goroutine, between two epochs' applies, so the
// backup is exactly the store at a.
func (j *Journal) maybeSnapshot(a state.Applied) {
	if j.snapBytes <= 0 || j.sinceSnap < max(j.snapBytes, j.lastSnapSize) {
		return
	}
	start := time.Now()
	path, size, err := j.writeSnapshot(a)
	if err != nil {
		j.logger.Warn("state snapshot failed; the changelog is kept until one succeeds", "epoch", a.Epoch, "err", err)
		return
	}
	j.sinceSnap, j.lastSnapSize = 0, size
	snaps := listSnapshots(j.snapDir)
	for _, s := range snaps[min(len(snaps), keepSnapshots):] {
		os.Remove(s.path)
	}
	if err := j.holdChangelog(); err != nil {
		j.logger.Warn("cannot move the changelog's retention hold", "err", err)
	}
	j.logger.Info("state snapshot written", "epoch", a.Epoch, "file", path, "bytes", size, "took", time.Since(start).Round(time.Millisecond))
}

func (j *Journal) writeSnapshot(a state.Applied) (string, int64, error) {
	if err := os.MkdirAll(j.snapDir, 0o755); err != nil {
		return "", 0, err
	}
	path := filepath.Join(j.snapDir, fmt.Sprintf("snap-%d-%d.badger", a.Epoch, a.Changelog))
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = j.store.Backup(w)
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
