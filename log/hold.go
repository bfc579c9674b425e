package log

import (
	"fmt"
	"sync"
)

// Retention holds: a consumer that may need to read a queue again from some offset (a
// stream job rebuilding its state from its changelog, say) holds retention there.
// Retention then never deletes the segment holding that offset's record, nor any later
// one. Holds live in memory: a process sets its holds again after opening the log.

type holds struct {
	mu sync.Mutex
	m  map[string]int64 // name -> commitlog position
}

// HoldRetention keeps retention from deleting the record at offset of queue ref and
// everything after it, under name (a later call with the same name moves the hold).
// An offset at the queue's end holds from the next record on.
func (l *Log) HoldRetention(name string, ref QueueRef, offset int64) error {
	q, err := l.queue(ref.Topic, ref.Queue)
	if err != nil {
		return err
	}
	lo, hi := q.min.Load(), q.max.Load()
	if offset < lo || offset > hi {
		return &OffsetOutOfRangeError{Topic: ref.Topic, Queue: ref.Queue, Offset: offset, Earliest: lo, Latest: hi}
	}
	var pos int64
	if offset == hi {
		_, pos = l.cl.bounds()
	} else {
		e, err := q.entry(offset)
		if err != nil {
			return fmt.Errorf("log: hold retention at %s/%d@%d: %w", ref.Topic, ref.Queue, offset, err)
		}
		pos = e.pos
	}
	l.holds.mu.Lock()
	defer l.holds.mu.Unlock()
	if l.holds.m == nil {
		l.holds.m = map[string]int64{}
	}
	l.holds.m[name] = pos
	return nil
}

// ReleaseRetention drops the hold name.
func (l *Log) ReleaseRetention(name string) {
	l.holds.mu.Lock()
	defer l.holds.mu.Unlock()
	delete(l.holds.m, name)
}

// minHold returns the lowest held position, or -1.
func (l *Log) minHold() int64 {
	l.holds.mu.Lock()
	defer l.holds.mu.Unlock()
	min := int64(-1)
	for _, p := range l.holds.m {
		if min < 0 || p < min {
			min = p
		}
	}
	return min
}
