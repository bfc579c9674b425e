package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// RecoveryReport says what Open found and what it repaired. Every repair is also logged.
type RecoveryReport struct {
	// CheckpointPos is the commitlog position of the checkpoint recovery started from
	// (-1 when there was no usable checkpoint).
	CheckpointPos int64
	// ScanFrom and End bound the commitlog bytes that were scanned and validated.
	ScanFrom, End int64
	// Records is the number of records scanned.
	Records int64
	// TruncatedBytes is how much of a torn or corrupt tail was cut (0: none), at TruncatedAt,
	// for TruncateReason.
	TruncatedBytes int64
	TruncatedAt    int64
	TruncateReason string
	// RebuiltQueues names the queues ("topic/queue") whose index was missing, behind or
	// corrupt and was rebuilt from the commitlog.
	RebuiltQueues []string
	// Problems lists everything else that was unexpected, in words.
	Problems []string
}

// Clean reports whether recovery found nothing to repair.
func (r RecoveryReport) Clean() bool {
	return r.TruncatedBytes == 0 && len(r.RebuiltQueues) == 0 && len(r.Problems) == 0
}

func (l *Log) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.recovery.Problems = append(l.recovery.Problems, msg)
	l.opts.Logger.Warn("log recovery: "+msg, "dir", l.dir)
}

// recover rebuilds the derived state from the checkpoint and one forward scan.
func (l *Log) recover() error {
	log := l.opts.Logger
	cl, err := openCommitLog(filepath.Join(l.dir, "commitlog"), l.opts.SegmentSize)
	if err != nil {
		return fmt.Errorf("log: open commitlog: %w", err)
	}
	l.cl = cl
	earliest, end := cl.bounds()
	l.recovery = RecoveryReport{CheckpointPos: -1}

	snap, err := l.readCheckpoint()
	if err != nil {
		return err
	}
	if snap == nil {
		snap = &snapshot{pos: earliest, groups: map[string]map[QueueRef]int64{}}
		if end > earliest {
			l.problem("no usable checkpoint: replaying the whole commitlog from position %d", earliest)
			l.adoptTopicDirs(snap)
		}
	} else {
		l.recovery.CheckpointPos = snap.pos
	}
	if snap.pos < earliest {
		l.problem("checkpoint position %d is below the earliest segment %d; replaying from %d", snap.pos, earliest, earliest)
		snap.pos = earliest
	}
	if snap.pos > end {
		l.problem("commitlog ends at %d but the checkpoint covers up to %d: %d bytes of commitlog are missing", end, snap.pos, snap.pos-end)
		snap.pos = end
	}
	P := snap.pos
	l.lastStore = snap.lastStore
	l.groups = snap.groups

	// Queues known at the checkpoint: verify their indexes and work out where each must
	// resume indexing.
	resume := map[*consumeQueue]int64{}
	for _, ts := range snap.topics {
		t, err := l.openTopic(ts.name, len(ts.next))
		if err != nil {
			return fmt.Errorf("log: open consume queues of %q: %w", ts.name, err)
		}
		l.topics[t.name] = t
		for i, q := range t.queues {
			r, err := l.resumePoint(q, ts.next[i], P, earliest)
			if err != nil {
				return err
			}
			resume[q] = r
		}
	}
	from := P
	for _, r := range resume {
		if r < from {
			from = r
		}
	}
	if from < earliest {
		from = earliest
	}
	l.recovery.ScanFrom = from
	if err := l.scan(from, P, resume); err != nil {
		return err
	}
	_, l.recovery.End = cl.bounds()
	earliest, _ = cl.bounds()
	for _, t := range l.topics {
		for _, q := range t.queues {
			if err := q.dropBefore(earliest); err != nil {
				return err
			}
		}
	}
	if !l.recovery.Clean() || l.recovery.End != P {
		log.Info("log recovered", "dir", l.dir, "checkpoint", P, "scanned_from", from, "end", l.recovery.End,
			"records", l.recovery.Records, "truncated_bytes", l.recovery.TruncatedBytes, "rebuilt_queues", len(l.recovery.RebuiltQueues))
	}
	return l.checkpoint()
}

// readCheckpoint returns the checkpoint, or nil if there is none or it is unusable.
func (l *Log) readCheckpoint() (*snapshot, error) {
	b, err := os.ReadFile(filepath.Join(l.dir, "checkpoint"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log: read checkpoint: %w", err)
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		l.problem("checkpoint file is corrupt (%v): ignoring it", err)
		return nil, nil
	}
	return s, nil
}

// adoptTopicDirs registers, for a replay without checkpoint, the topics whose consume-queue
// directories exist, so that their indexes are rebuilt even if the commitlog records that
// created them were deleted by retention.
func (l *Log) adoptTopicDirs(snap *snapshot) {
	des, _ := os.ReadDir(l.cqRoot)
	for _, de := range des {
		if !de.IsDir() || ValidateTopicName(de.Name()) != nil {
			continue
		}
		qs, _ := os.ReadDir(filepath.Join(l.cqRoot, de.Name()))
		n := 0
		for _, q := range qs {
			var id int
			if _, err := fmt.Sscanf(q.Name(), "%d", &id); err == nil && id+1 > n {
				n = id + 1
			}
		}
		if n > 0 {
			// Unknown counts: the whole index is rebuilt from the commitlog.
			next := make([]int64, n)
			for i := range next {
				next[i] = -1
			}
			snap.topics = append(snap.topics, topicSnap{name: de.Name(), next: next})
		}
	}
}

// resumePoint verifies q's index, cuts entries at or after the checkpoint position P
// (they are re-indexed by the scan) and returns the commitlog position from which q must
// be indexed again: P when the index is complete up to P, earlier when it is not.
func (l *Log) resumePoint(q *consumeQueue, expect, P, earliest int64) (int64, error) {
	name := fmt.Sprintf("%s/%d", q.topic, q.id)
	if !l.opts.SkipIndexVerification {
		bad, _, _, err := q.verify()
		if err != nil {
			return 0, fmt.Errorf("log: verify consume queue %s: %w", name, err)
		}
		if bad < q.max.Load() {
			l.problem("consume queue %s: entry at offset %d is corrupt; truncating the index there", name, bad)
			if err := q.truncate(bad); err != nil {
				return 0, err
			}
		}
	}
	// Entries are in commitlog order: binary search for the first at or after P.
	lo, hi := q.min.Load(), q.max.Load()
	cut := sort.Search(int(hi-lo), func(i int) bool {
		e, err := q.entry(lo + int64(i))
		return err != nil || e.pos >= P
	})
	if lo+int64(cut) < hi {
		if err := q.truncate(lo + int64(cut)); err != nil {
			return 0, err
		}
	}
	if q.max.Load() == expect {
		return P, nil
	}
	l.recovery.RebuiltQueues = append(l.recovery.RebuiltQueues, name)
	last, ok, err := q.lastEntry()
	if err != nil || !ok || expect < 0 {
		// Nothing usable: index the queue from scratch.
		if expect >= 0 {
			l.problem("consume queue %s is missing or unusable (%d entries, %d expected): rebuilding it from the commitlog", name, q.max.Load()-q.min.Load(), expect)
		}
		if err := q.truncate(0); err != nil {
			return 0, err
		}
		q.min.Store(0)
		q.max.Store(0)
		q.next = 0
		return earliest, nil
	}
	if q.max.Load() > expect {
		l.problem("consume queue %s has %d entries before the checkpoint, which counted %d: rebuilding", name, q.max.Load(), expect)
		if err := q.truncate(0); err != nil {
			return 0, err
		}
		return earliest, nil
	}
	l.problem("consume queue %s is behind the commitlog (%d of %d entries): re-indexing from offset %d", name, q.max.Load(), expect, q.max.Load())
	return last.pos + int64(last.size), nil
}

// scan reads every record from position from to the end, dispatching what the derived
// state has not seen, and cuts a torn or corrupt tail.
func (l *Log) scan(from, P int64, resume map[*consumeQueue]int64) error {
	segs := l.cl.snapshot()
	buf := make([]byte, 8<<20)
	var rec record.Record
	pending := 0
	for si, s := range segs {
		if s.base+s.size <= from && si < len(segs)-1 {
			continue
		}
		last := si == len(segs)-1
		off := int64(0)
		if from > s.base {
			off = from - s.base
		}
		for off < s.size {
			n := int64(len(buf))
			if rest := s.size - off; rest < n {
				n = rest
			}
			chunk := buf[:n]
			if _, err := s.f.ReadAt(chunk, off); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("log: read %s: %w", s.path, err)
			}
			p := 0
			for p < len(chunk) {
				size, err := record.Decode(chunk[p:], &rec)
				if errors.Is(err, record.ErrShort) && off+int64(p)+4 <= s.size {
					if need, lerr := record.Length(chunk[p:]); lerr == nil && off+int64(p)+int64(need) <= s.size {
						// The record continues past this chunk: read again from its start.
						if need > len(buf) {
							buf = make([]byte, need)
						}
						break
					}
				}
				if err != nil {
					pos := s.base + off + int64(p)
					reason := err.Error()
					if errors.Is(err, record.ErrShort) {
						reason = "record ends past the end of the file (torn write)"
					}
					if !last {
						return &CorruptionError{File: s.path, Offset: off + int64(p),
							Reason: reason + "; this is not the last segment, so later data cannot be indexed safely; move the segment files from this one on aside to open the log without them"}
					}
					return l.cutTail(s, pos, reason)
				}
				pos := s.base + off + int64(p)
				l.recovery.Records++
				if rec.StoreTime > l.lastStore {
					l.lastStore = rec.StoreTime
				}
				if err := l.replay(&rec, pos, size, P, resume); err != nil {
					return err
				}
				pending++
				if pending >= 4096 {
					if err := l.flushTouched(); err != nil {
						return err
					}
					pending = 0
				}
				p += size
			}
			if p == 0 {
				continue // buffer grown: retry the same offset
			}
			off += int64(p)
		}
	}
	return l.flushTouched()
}

func (l *Log) replay(r *record.Record, pos int64, size int, P int64, resume map[*consumeQueue]int64) error {
	if r.Type == record.TypeMessage {
		t := l.topics[string(r.Topic)]
		if t == nil || int(r.Queue) >= len(t.queues) {
			if pos < P {
				// A topic deleted from the snapshot's view (cannot happen today): skip.
				return nil
			}
			return &CorruptionError{File: "commitlog", Offset: pos, Reason: fmt.Sprintf("message for unknown queue %s/%d", r.Topic, r.Queue)}
		}
		q := t.queues[r.Queue]
		if r, ok := resume[q]; ok && pos < r {
			return nil
		}
		return l.dispatch(r, pos, size, true)
	}
	if pos < P {
		return nil
	}
	if r.Type == record.TypeTopic && l.topics[string(r.Topic)] == nil {
		// Created after the checkpoint: any index files on disk are from before the crash
		// and get rebuilt by this scan.
		os.RemoveAll(filepath.Join(l.cqRoot, string(r.Topic)))
	}
	return l.dispatch(r, pos, size, true)
}

// cutTail truncates the commitlog at pos, the first byte that is not a valid record.
func (l *Log) cutTail(s segment, pos int64, reason string) error {
	cut := s.base + s.size - pos
	l.recovery.TruncatedAt = pos
	l.recovery.TruncatedBytes = cut
	l.recovery.TruncateReason = reason
	l.opts.Logger.Warn("log recovery: cutting the commitlog tail", "dir", l.dir, "segment", s.path,
		"at_byte", pos-s.base, "position", pos, "dropped_bytes", cut, "reason", reason)
	if err := l.cl.truncate(pos); err != nil {
		return fmt.Errorf("log: truncate %s: %w", s.path, err)
	}
	return nil
}
