package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// cqEntrySize is the width of one consume-queue entry: position u64, size u32,
// tag hash u64, CRC-32C u32 of the first 20 bytes (see doc.go).
const cqEntrySize = 24

type cqEntry struct {
	pos     int64
	size    int32
	tagHash uint64
}

func putEntry(b []byte, e cqEntry) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(e.pos))
	le.PutUint32(b[8:], uint32(e.size))
	le.PutUint64(b[12:], e.tagHash)
	le.PutUint32(b[20:], record.Checksum(b[:20]))
}

func getEntry(b []byte) (cqEntry, bool) {
	le := binary.LittleEndian
	if record.Checksum(b[:20]) != le.Uint32(b[20:]) {
		return cqEntry{}, false
	}
	return cqEntry{pos: int64(le.Uint64(b[0:])), size: int32(le.Uint32(b[8:])), tagHash: le.Uint64(b[12:])}, true
}

// tagHash is the hash stored in consume-queue entries; 0 means no tags.
func tagHash(tags []byte) uint64 {
	if len(tags) == 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write(tags)
	return h.Sum64() | 1 // never 0
}

// cqFile holds entries [start, start+n).
type cqFile struct {
	start int64
	path  string
	f     *os.File
	n     int64 // entries written; guarded by consumeQueue.mu
}

// consumeQueue indexes one queue of one topic.
//
// Goroutines: the appender assigns offsets (next), writes entries and publishes max; readers
// read entries and min/max concurrently. mu guards files and each file's n.
type consumeQueue struct {
	topic   string
	id      int
	dir     string
	perFile int64

	mu    sync.RWMutex
	files []*cqFile

	min atomic.Int64 // first readable offset
	max atomic.Int64 // one past the last readable offset

	// Appender-owned.
	next    int64  // next offset to assign
	pending []byte // entries not yet written, starting at offset max
	dirty   bool   // written since the last checkpoint
}

func cqDir(root, topic string, q int) string {
	return filepath.Join(root, topic, strconv.Itoa(q))
}

// openConsumeQueue opens the files of one queue. It does not validate entries.
func openConsumeQueue(root, topic string, id int, perFile int) (*consumeQueue, error) {
	q := &consumeQueue{topic: topic, id: id, dir: cqDir(root, topic, id), perFile: int64(perFile)}
	if err := os.MkdirAll(q.dir, 0o755); err != nil {
		return nil, err
	}
	des, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		start, err := strconv.ParseInt(de.Name(), 10, 64)
		if err != nil || len(de.Name()) != 20 || de.IsDir() {
			continue
		}
		path := filepath.Join(q.dir, de.Name())
		f, err := os.OpenFile(path, os.O_RDWR, 0o644)
		if err != nil {
			q.close()
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			q.close()
			return nil, err
		}
		q.files = append(q.files, &cqFile{start: start, path: path, f: f, n: st.Size() / cqEntrySize})
	}
	sort.Slice(q.files, func(i, j int) bool { return q.files[i].start < q.files[j].start })
	// Files must be contiguous; anything after a gap is unusable and is dropped (the
	// recovery re-indexes it from the commitlog).
	for i := 1; i < len(q.files); i++ {
		prev := q.files[i-1]
		if prev.start+prev.n != q.files[i].start {
			for _, f := range q.files[i:] {
				f.f.Close()
				os.Remove(f.path)
			}
			q.files = q.files[:i]
			break
		}
	}
	q.setBoundsFromFiles()
	return q, nil
}

func (q *consumeQueue) setBoundsFromFiles() {
	if len(q.files) == 0 {
		q.min.Store(q.next)
		q.max.Store(q.next)
		return
	}
	first, last := q.files[0], q.files[len(q.files)-1]
	q.min.Store(first.start)
	q.max.Store(last.start + last.n)
	q.next = last.start + last.n
}

func (q *consumeQueue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var errs []error
	for _, f := range q.files {
		errs = append(errs, f.f.Close())
	}
	q.files = nil
	return errors.Join(errs...)
}

// fileFor returns the file holding offset, or nil. Callers hold q.mu.
func (q *consumeQueue) fileForLocked(offset int64) *cqFile {
	i := sort.Search(len(q.files), func(i int) bool { return q.files[i].start > offset }) - 1
	if i < 0 {
		return nil
	}
	f := q.files[i]
	if offset >= f.start+f.n {
		return nil
	}
	return f
}

// read returns up to n entries from offset, stopping early at a file boundary. A bad
// entry yields a *CorruptionError.
func (q *consumeQueue) read(offset int64, n int, buf []byte) ([]cqEntry, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	f := q.fileForLocked(offset)
	if f == nil {
		return nil, nil
	}
	if avail := f.start + f.n - offset; int64(n) > avail {
		n = int(avail)
	}
	need := n * cqEntrySize
	if cap(buf) < need {
		buf = make([]byte, need)
	}
	buf = buf[:need]
	at := (offset - f.start) * cqEntrySize
	if _, err := f.f.ReadAt(buf, at); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	out := make([]cqEntry, n)
	for i := range out {
		e, ok := getEntry(buf[i*cqEntrySize:])
		if !ok {
			return nil, &CorruptionError{File: f.path, Offset: at + int64(i*cqEntrySize),
				Reason: fmt.Sprintf("consume-queue entry for offset %d fails its CRC (reopen the log to rebuild the index)", offset+int64(i))}
		}
		out[i] = e
	}
	return out, nil
}

// readAcross returns up to n entries from offset, across file boundaries.
func (q *consumeQueue) readAcross(offset int64, n int) ([]cqEntry, error) {
	var out []cqEntry
	for len(out) < n {
		es, err := q.read(offset, n-len(out), nil)
		if err != nil {
			return out, err
		}
		if len(es) == 0 {
			break
		}
		if out == nil {
			out = es
		} else {
			out = append(out, es...)
		}
		offset += int64(len(es))
	}
	return out, nil
}

// entry returns the entry at offset.
func (q *consumeQueue) entry(offset int64) (cqEntry, error) {
	var b [cqEntrySize]byte
	es, err := q.read(offset, 1, b[:])
	if err != nil {
		return cqEntry{}, err
	}
	if len(es) == 0 {
		return cqEntry{}, fmt.Errorf("log: %s/%d has no entry at offset %d", q.topic, q.id, offset)
	}
	return es[0], nil
}

// add queues the entry for offset to be written by flush. Appender only.
// Offsets must arrive in order; the first one of an empty queue sets its start.
func (q *consumeQueue) add(offset int64, e cqEntry) error {
	want := q.max.Load() + int64(len(q.pending)/cqEntrySize)
	if offset != want {
		if len(q.files) == 0 && len(q.pending) == 0 && offset > want {
			// An empty queue rebuilt from a commitlog whose start was deleted.
			q.min.Store(offset)
			q.max.Store(offset)
		} else {
			return fmt.Errorf("log: %s/%d: index entry for offset %d, expected %d", q.topic, q.id, offset, want)
		}
	}
	var b [cqEntrySize]byte
	putEntry(b[:], e)
	q.pending = append(q.pending, b[:]...)
	if offset >= q.next {
		q.next = offset + 1
	}
	return nil
}

// flush writes pending entries, then publishes them to readers all at once, so that a
// reader sees a transaction's messages in this queue together or not at all. Appender only.
func (q *consumeQueue) flush() error {
	at := q.max.Load()
	pending := q.pending
	for len(pending) > 0 {
		q.mu.RLock()
		var f *cqFile
		if len(q.files) > 0 {
			f = q.files[len(q.files)-1]
		}
		q.mu.RUnlock()
		if f == nil || f.n >= q.perFile {
			path := filepath.Join(q.dir, segmentName(at))
			nf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if err := syncDir(q.dir); err != nil {
				nf.Close()
				return err
			}
			f = &cqFile{start: at, path: path, f: nf}
			q.mu.Lock()
			q.files = append(q.files, f)
			q.mu.Unlock()
		}
		room := int(q.perFile-f.n) * cqEntrySize
		chunk := pending
		if len(chunk) > room {
			chunk = chunk[:room]
		}
		if _, err := f.f.WriteAt(chunk, f.n*cqEntrySize); err != nil {
			return err
		}
		k := int64(len(chunk) / cqEntrySize)
		q.mu.Lock()
		f.n += k
		q.mu.Unlock()
		at += k
		pending = pending[len(chunk):]
	}
	q.pending = q.pending[:0]
	q.max.Store(at)
	q.dirty = true
	return nil
}

// sync fsyncs files written since the last call. Appender only.
func (q *consumeQueue) sync() error {
	if !q.dirty {
		return nil
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	// Only the last two files can have been written since the previous checkpoint unless
	// a checkpoint interval spans more than a file: sync all, it is cheap for clean files.
	for _, f := range q.files {
		if err := f.f.Sync(); err != nil {
			return err
		}
	}
	q.dirty = false
	return nil
}

// truncate drops every entry at or after offset. Appender (or recovery) only.
func (q *consumeQueue) truncate(offset int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	keep := len(q.files)
	for i, f := range q.files {
		if f.start >= offset {
			keep = i
			break
		}
	}
	for _, f := range q.files[keep:] {
		f.f.Close()
		if err := os.Remove(f.path); err != nil {
			return err
		}
	}
	q.files = q.files[:keep]
	if len(q.files) > 0 {
		last := q.files[len(q.files)-1]
		if n := offset - last.start; n < last.n {
			if err := last.f.Truncate(n * cqEntrySize); err != nil {
				return err
			}
			last.n = n
		}
	}
	q.pending = q.pending[:0]
	if len(q.files) == 0 {
		// Nothing left: the queue restarts where the caller says.
		q.next = offset
		q.min.Store(offset)
		q.max.Store(offset)
		return nil
	}
	first, last := q.files[0], q.files[len(q.files)-1]
	q.min.Store(first.start)
	q.max.Store(last.start + last.n)
	q.next = last.start + last.n
	q.dirty = true
	return nil
}

// verify checks the CRC and plausibility of every entry from the queue's start and
// returns the first offset that fails (max if all pass).
func (q *consumeQueue) verify() (bad int64, err error) {
	min, max := q.min.Load(), q.max.Load()
	buf := make([]byte, 0, 4096*cqEntrySize)
	for off := min; off < max; {
		n := int(min64(4096, max-off))
		es, rerr := q.read(off, n, buf)
		var ce *CorruptionError
		if errors.As(rerr, &ce) {
			for ; off < max; off++ { // find the exact entry
				if _, err := q.entry(off); err != nil {
					return off, nil
				}
			}
			return max, nil
		}
		if rerr != nil {
			return 0, rerr
		}
		if len(es) == 0 {
			return off, nil
		}
		for i, e := range es {
			if e.pos < 0 || e.size < record.HeaderSize {
				return off + int64(i), nil
			}
		}
		off += int64(len(es))
	}
	return max, nil
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// lastEntry returns the newest entry, if any.
func (q *consumeQueue) lastEntry() (cqEntry, bool, error) {
	max := q.max.Load()
	if max == q.min.Load() {
		return cqEntry{}, false, nil
	}
	e, err := q.entry(max - 1)
	return e, err == nil, err
}

// dropBefore removes index files wholly below commitlog position earliest and advances
// min to the first entry at or after it. Appender only.
func (q *consumeQueue) dropBefore(earliest int64) error {
	// Whole files first: a file is dead when its last entry is below earliest.
	for {
		q.mu.RLock()
		if len(q.files) < 2 {
			q.mu.RUnlock()
			break
		}
		f := q.files[0]
		q.mu.RUnlock()
		e, err := q.entry(f.start + f.n - 1)
		if err != nil || e.pos >= earliest {
			break
		}
		q.mu.Lock()
		q.files = q.files[1:]
		q.mu.Unlock()
		f.f.Close()
		if err := os.Remove(f.path); err != nil {
			return err
		}
	}
	// Then the first live entry by binary search, from the first remaining file.
	lo, hi := q.min.Load(), q.max.Load()
	q.mu.RLock()
	if len(q.files) > 0 && q.files[0].start > lo {
		lo = q.files[0].start
	}
	q.mu.RUnlock()
	first := sort.Search(int(hi-lo), func(i int) bool {
		e, err := q.entry(lo + int64(i))
		return err != nil || e.pos >= earliest
	})
	q.min.Store(lo + int64(first))
	return nil
}
