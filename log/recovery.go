package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
	shortened := snap.pos > end
	if shortened {
		// The files lost bytes the checkpoint had seen (damage after a clean shutdown).
		// Validate the whole last segment, so that a partial record left at its end is cut
		// rather than appended after; index entries beyond the new end are dropped below.
		last := cl.snapshot()[len(cl.snapshot())-1]
		l.problem("commitlog ends at %d but the checkpoint covers up to %d: %d bytes of commitlog are missing; rescanning segment %s", end, snap.pos, snap.pos-end, last.path)
		snap.pos = last.base
	}
	P := snap.pos
	l.lastStore = snap.lastStore
	l.groups = snap.groups
	if b, ok := snap.ext[sectionTxns]; ok {
		if err := l.decodeTxnSection(b); err != nil {
			return fmt.Errorf("log: checkpoint's transaction section: %w", err)
		}
	}
	if l.wheel, err = openWheel(filepath.Join(l.dir, "timerwheel"), l.opts.TimerPrecision, l.opts.TimerMaxDelay); err != nil {
		return fmt.Errorf("log: open timer wheel: %w", err)
	}
	rebuildWheel := false
	if b, ok := snap.ext[sectionTimers]; ok {
		logLen, err := l.decodeTimerSection(b)
		if err != nil {
			return fmt.Errorf("log: checkpoint's timer section: %w", err)
		}
		if ok, err := l.wheel.load(logLen); err != nil {
			return fmt.Errorf("log: load timer wheel: %w", err)
		} else if !ok {
			l.problem("timer wheel files in %s do not match the checkpoint: rebuilding the wheel from the commitlog", l.wheel.dir)
			rebuildWheel = true
			// The scan stages into an empty wheel (rebuildWheel replaces it), not into
			// slots pointing past the timer log.
			if err := l.wheel.reset(); err != nil {
				return err
			}
		}
	} else {
		// No checkpoint (the scan below replays everything into an empty wheel), or
		// one without timers (rebuild).
		rebuildWheel = l.recovery.CheckpointPos >= 0
		if err := l.wheel.reset(); err != nil {
			return err
		}
		if end == earliest {
			// A new log: its wheel starts at the present, not at tick 0, from which
			// every timer would be parked on one tick beyond the wheel's span.
			l.wheel.cursor = l.opts.Clock.Now().UnixMilli() / l.wheel.precision
		}
	}

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
	// Open transactions' half messages before P are found again by scanning from the
	// first of them.
	if m := l.minOpenTxnPos(); m >= 0 && m < from {
		from = m
	}
	if from < earliest {
		from = earliest
	}
	l.recovery.ScanFrom = from
	l.replaying = true
	err = l.scan(from, P)
	l.replaying = false
	if err != nil {
		return err
	}
	if !rebuildWheel {
		if err := l.wheel.settleReplay(); err != nil {
			return fmt.Errorf("log: place replayed timers: %w", err)
		}
	}
	for _, t := range l.openTxns {
		if t.snapCount != 0 && t.snapCount > len(t.halves) {
			l.problem("open transaction %s had %d messages at the checkpoint, %d were found", t.id, t.snapCount, len(t.halves))
		}
		t.snapCount = 0
	}
	if rebuildWheel {
		if err := l.rebuildWheel(); err != nil {
			return fmt.Errorf("log: rebuild timer wheel: %w", err)
		}
	}
	_, l.recovery.End = cl.bounds()
	earliest, _ = cl.bounds()
	if shortened {
		if err := l.dropEntriesBeyond(l.recovery.End); err != nil {
			return err
		}
	}
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

// resumePoint verifies q's index, cuts it to the entries the checkpoint counted (expect;
// later ones are rebuilt by the scan) and returns the commitlog position from which q must
// be indexed again: P when its index is complete up to P, earlier when it is not.
//
// Entries are cut by offset, not position: a committed transaction's entries point at
// half messages written before the commit, so positions are not ordered along a queue.
func (l *Log) resumePoint(q *consumeQueue, expect, P, earliest int64) (int64, error) {
	name := fmt.Sprintf("%s/%d", q.topic, q.id)
	if !l.opts.SkipIndexVerification {
		bad, err := q.verify()
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
	if expect >= 0 && q.max.Load() > expect {
		if err := q.truncate(expect); err != nil {
			return 0, err
		}
	}
	if q.max.Load() == expect {
		return P, nil
	}
	l.recovery.RebuiltQueues = append(l.recovery.RebuiltQueues, name)
	last, ok, err := q.lastEntry()
	if err != nil || !ok || expect < 0 {
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
	l.problem("consume queue %s is behind the commitlog (%d of %d entries): re-indexing from offset %d", name, q.max.Load(), expect, q.max.Load())
	// The missing entries' records (or, for transactions, their commits) come after the
	// last good entry's record.
	return last.pos, nil
}

// scan reads every record from position from to the end, dispatching what the derived
// state has not seen, and cuts a torn or corrupt tail.
func (l *Log) scan(from, P int64) error {
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
					// The record continues past this chunk, maybe even its length field
					// (then p > 0: the chunk is longer than 4 bytes): read again from its
					// start.
					need, lerr := record.Length(chunk[p:])
					if errors.Is(lerr, record.ErrShort) || lerr == nil && off+int64(p)+int64(need) <= s.size {
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
					if err := l.cutTail(s, pos, reason); err != nil {
						return err
					}
					return l.publish()
				}
				pos := s.base + off + int64(p)
				l.recovery.Records++
				if rec.StoreTime > l.lastStore {
					l.lastStore = rec.StoreTime
				}
				if err := l.replay(&rec, pos, size, P); err != nil {
					return err
				}
				pending++
				if pending >= 4096 {
					if err := l.publish(); err != nil {
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
	return l.publish()
}

// replay applies one scanned record. Before P the checkpoint already holds the derived
// state, so only what it does not hold is rebuilt: index entries missing from damaged
// queues (by offset), and the half messages of transactions still open at P.
func (l *Log) replay(r *record.Record, pos int64, size int, P int64) error {
	if pos >= P {
		if r.Type == record.TypeTopic && l.topics[string(r.Topic)] == nil {
			// Created after the checkpoint: index files on disk are from before the
			// crash and are rebuilt by this scan.
			os.RemoveAll(filepath.Join(l.cqRoot, string(r.Topic)))
		}
		return l.stage(r, pos, size, r.StoreTime)
	}
	switch r.Type {
	case record.TypeMessage:
		if t := l.topics[string(r.Topic)]; t == nil || int(r.Queue) >= len(t.queues) {
			return nil // its topic was not in the checkpoint: cannot happen today
		}
		return l.indexMessage(r, pos, size)
	case record.TypeTxnOp:
		o, err := decodeOp(r.Body)
		if err != nil {
			return fmt.Errorf("log: op record at position %d: %w", pos, err)
		}
		if o.op == opCommit {
			return l.indexCommitted(o, pos)
		}
	case record.TypeTimerOp:
		o, err := decodeTimerOp(r.Body)
		if err != nil {
			return fmt.Errorf("log: timer op record at position %d: %w", pos, err)
		}
		return l.indexFired(o, pos)
	case record.TypeHalf:
		id, err := txnOfHalf(r)
		if err != nil {
			return fmt.Errorf("log: record at position %d: %w", pos, err)
		}
		if t := l.openTxns[id]; t != nil && pos >= t.firstPos {
			q, err := l.realQueue(r, pos)
			if err != nil {
				return err
			}
			t.add(halfRef{pos: pos, size: int32(size), queue: q, tagHash: tagHash(r.Tags)})
		}
	}
	return nil
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

// dropEntriesBeyond cuts every queue's index at its first entry whose record does not end
// by position end (after the commitlog lost its tail).
func (l *Log) dropEntriesBeyond(end int64) error {
	for _, t := range l.topics {
		for _, q := range t.queues {
			cut := q.max.Load()
			for cut > q.min.Load() {
				e, err := q.entry(cut - 1)
				if err == nil && e.pos+int64(e.size) <= end {
					break
				}
				cut--
			}
			if cut < q.max.Load() {
				l.problem("consume queue %s/%d: %d entries point past the end of the commitlog; dropped", q.topic, q.id, q.max.Load()-cut)
				if err := q.truncate(cut); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// rebuildWheel rebuilds the timer wheel from the commitlog in two passes: the first finds
// every timer already fired or cancelled (fire records list them) and the last cursor; the
// second inserts the timers still pending. Retention never deletes a segment holding a
// pending timer, so every pending timer is found.
func (l *Log) rebuildWheel() error {
	w := l.wheel
	if err := w.reset(); err != nil {
		return err
	}
	done := map[int64]bool{}
	earliest, _ := l.cl.bounds()
	err := l.forEachRecord(earliest, func(r *record.Record, pos int64, size int) error {
		if r.Type != record.TypeTimerOp {
			return nil
		}
		o, err := decodeTimerOp(r.Body)
		if err != nil {
			return err
		}
		if o.op == timerCancelOp {
			h := keyHashOf(o.key)
			w.cancels[h] = append(w.cancels[h], timerCancel{topic: o.topic, key: string(o.key), pos: pos, at: r.StoreTime})
			return nil
		}
		for _, f := range o.fired {
			done[f.pos] = true
		}
		for _, p := range o.cancelled {
			done[p] = true
		}
		if o.to > w.cursor {
			w.cursor = o.to
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Only pending timers are inserted below, relative to the cursor: the present will
	// do (overdue ones fire at the next tick), and spreads them over the wheel.
	w.cursor = max(w.cursor, l.opts.Clock.Now().UnixMilli()/w.precision)
	err = l.forEachRecord(earliest, func(r *record.Record, pos int64, size int) error {
		if r.Type != record.TypeTimer || done[pos] {
			return nil
		}
		at, err := deliverAtOf(r)
		if err != nil {
			return err
		}
		return l.stageTimer(pos, size, at, r.Key)
	})
	if err == nil {
		l.problem("timer wheel rebuilt: %d delayed messages pending", w.pending)
	}
	return err
}

// forEachRecord calls fn for every record from position from (the commitlog is valid:
// recovery has run its scan).
func (l *Log) forEachRecord(from int64, fn func(r *record.Record, pos int64, size int) error) error {
	var rec record.Record
	buf := make([]byte, 4<<20)
	for _, s := range l.cl.snapshot() {
		if s.base+s.size <= from {
			continue
		}
		off := max(from-s.base, 0)
		for off < s.size {
			n := min(int64(len(buf)), s.size-off)
			if _, err := s.f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			p := 0
			for p < int(n) {
				size, err := record.Decode(buf[p:n], &rec)
				if errors.Is(err, record.ErrShort) && p > 0 {
					break // continues in the next chunk
				}
				if errors.Is(err, record.ErrShort) {
					need, _ := record.Length(buf[p:n])
					buf = make([]byte, need)
					break
				}
				if err != nil {
					return &CorruptionError{File: s.path, Offset: off + int64(p), Reason: err.Error()}
				}
				if err := fn(&rec, s.base+off+int64(p), size); err != nil {
					return err
				}
				p += size
			}
			off += int64(p)
		}
	}
	return nil
}
