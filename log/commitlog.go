package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// segment is one commitlog file holding the bytes [base, base+size).
type segment struct {
	base int64
	path string
	f    *os.File
	// size is the number of valid bytes. The appender writes it; readers read it under
	// commitLog.mu, which the appender holds (write) whenever it publishes a new size.
	size int64
}

// commitLog is the ordered list of segment files.
//
// Goroutines: the appender is the only writer (appends, rolls, truncation, deletion);
// readers call readAt concurrently. mu guards segs and every segment's size.
type commitLog struct {
	dir     string
	segSize int64

	mu   sync.RWMutex
	segs []*segment // ascending base; the last one is active
}

func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// openCommitLog opens every segment file in dir, in order. It does not validate records.
func openCommitLog(dir string, segSize int64) (*commitLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	cl := &commitLog{dir: dir, segSize: segSize}
	for _, de := range names {
		base, err := strconv.ParseInt(de.Name(), 10, 64)
		if err != nil || len(de.Name()) != 20 || de.IsDir() {
			continue // not a segment; leave it alone
		}
		path := filepath.Join(dir, de.Name())
		f, err := os.OpenFile(path, os.O_RDWR, 0o644)
		if err != nil {
			cl.close()
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			cl.close()
			return nil, err
		}
		cl.segs = append(cl.segs, &segment{base: base, path: path, f: f, size: st.Size()})
	}
	sort.Slice(cl.segs, func(i, j int) bool { return cl.segs[i].base < cl.segs[j].base })
	if len(cl.segs) == 0 {
		if _, err := cl.roll(0); err != nil {
			return nil, err
		}
	}
	return cl, nil
}

func (cl *commitLog) close() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var errs []error
	for _, s := range cl.segs {
		errs = append(errs, s.f.Close())
	}
	cl.segs = nil
	return errors.Join(errs...)
}

// active returns the segment appends go to.
func (cl *commitLog) active() *segment {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	return cl.segs[len(cl.segs)-1]
}

// bounds returns the earliest readable position and the end of the commitlog.
func (cl *commitLog) bounds() (earliest, end int64) {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	last := cl.segs[len(cl.segs)-1]
	return cl.segs[0].base, last.base + last.size
}

// totalSize is the number of bytes in all segments.
func (cl *commitLog) totalSize() int64 {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	var n int64
	for _, s := range cl.segs {
		n += s.size
	}
	return n
}

// roll creates a new active segment starting at base. Appender only.
func (cl *commitLog) roll(base int64) (*segment, error) {
	path := filepath.Join(cl.dir, segmentName(base))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syncDir(cl.dir); err != nil {
		f.Close()
		return nil, err
	}
	s := &segment{base: base, path: path, f: f}
	cl.mu.Lock()
	cl.segs = append(cl.segs, s)
	cl.mu.Unlock()
	return s, nil
}

// writev appends the buffers to segment s with pwritev (no copy into a batch buffer) and
// publishes its new size. It may modify iovs. Appender only.
func (cl *commitLog) writev(s *segment, iovs [][]byte) error {
	const iovMax = 1024 // IOV_MAX on Linux
	fd := int(s.f.Fd())
	at := s.size
	for len(iovs) > 0 {
		chunk := iovs[:min(len(iovs), iovMax)]
		n, err := unix.Pwritev(fd, chunk, at)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", s.path, err)
		}
		at += int64(n)
		for n > 0 {
			if n >= len(iovs[0]) {
				n -= len(iovs[0])
				iovs = iovs[1:]
			} else {
				iovs[0] = iovs[0][n:]
				n = 0
			}
		}
	}
	cl.mu.Lock()
	s.size = at
	cl.mu.Unlock()
	return nil
}

// errBelowEarliest means the position was deleted by retention.
var errBelowEarliest = errors.New("log: position deleted by retention")

// readAt reads len(b) bytes at position pos, across segment boundaries if need be (a
// run of adjacent records can). It fails with errBelowEarliest for a deleted position
// and with an error for bytes not yet written.
func (cl *commitLog) readAt(pos int64, b []byte) error {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	if len(cl.segs) == 0 || pos < cl.segs[0].base {
		return errBelowEarliest
	}
	i := sort.Search(len(cl.segs), func(i int) bool { return cl.segs[i].base > pos }) - 1
	for len(b) > 0 {
		if i >= len(cl.segs) {
			return fmt.Errorf("log: read at position %d passes the end of the commitlog", pos)
		}
		s := cl.segs[i]
		off := pos - s.base
		n := int64(len(b))
		if off+n > s.size {
			n = s.size - off
		}
		if n <= 0 {
			return fmt.Errorf("log: read at position %d passes the end of segment %s (%d bytes)", pos, s.path, s.size)
		}
		// Reading under the read lock keeps retention from closing the file underneath
		// us; a pread from the page cache is short.
		if _, err := s.f.ReadAt(b[:n], off); err != nil {
			return err
		}
		b, pos, i = b[n:], pos+n, i+1
	}
	return nil
}

// segmentAt returns the segment holding pos, or nil.
func (cl *commitLog) segmentAt(pos int64) *segment {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	i := sort.Search(len(cl.segs), func(i int) bool { return cl.segs[i].base > pos }) - 1
	if i < 0 {
		return nil
	}
	return cl.segs[i]
}

// truncate cuts the commitlog at pos: the segment holding pos is cut there and every later
// segment is removed. Appender (or recovery) only.
func (cl *commitLog) truncate(pos int64) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	keep := len(cl.segs)
	for i, s := range cl.segs {
		if s.base > pos || (s.base == pos && i > 0) {
			keep = i
			break
		}
	}
	for _, s := range cl.segs[keep:] {
		s.f.Close()
		if err := os.Remove(s.path); err != nil {
			return err
		}
	}
	cl.segs = cl.segs[:keep]
	last := cl.segs[len(cl.segs)-1]
	if err := last.f.Truncate(pos - last.base); err != nil {
		return err
	}
	last.size = pos - last.base
	if err := last.f.Sync(); err != nil {
		return err
	}
	return syncDir(cl.dir)
}

// removeOldest deletes the n oldest segments. Appender only; never the active one.
// It leaves their files open: the syncer may be fsyncing them, and closes them after.
func (cl *commitLog) removeOldest(n int) ([]*segment, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if n >= len(cl.segs) {
		n = len(cl.segs) - 1
	}
	gone := cl.segs[:n:n]
	cl.segs = append([]*segment(nil), cl.segs[n:]...)
	var errs []error
	for _, s := range gone {
		errs = append(errs, os.Remove(s.path))
	}
	if n > 0 {
		errs = append(errs, syncDir(cl.dir))
	}
	return gone, errors.Join(errs...)
}

// snapshot returns a copy of the segment list (for retention decisions and stats).
func (cl *commitLog) snapshot() []segment {
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	out := make([]segment, len(cl.segs))
	for i, s := range cl.segs {
		out[i] = *s
	}
	return out
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
