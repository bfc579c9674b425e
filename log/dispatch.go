package log

import (
	"encoding/binary"
	"fmt"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// Dispatch turns written records into derived state: consume-queue entries for messages,
// topics, group offsets. The appender dispatches every batch it writes; recovery
// dispatches the records it replays. Both run on one goroutine.

// prepareSys validates a system record against the current state before it is written.
func (l *Log) prepareSys(r *record.Record) error {
	switch r.Type {
	case record.TypeTopic:
		if l.lookupTopic(string(r.Topic)) != nil {
			return fmt.Errorf("%w: %q", ErrTopicExists, r.Topic)
		}
		// Create the topic now, so that requests behind it can use it.
		return l.applyTopic(r)
	case record.TypeOffsets:
		return nil
	}
	return fmt.Errorf("log: internal: unexpected system record %v", r.Type)
}

// dispatchAll indexes written records and publishes them to readers.
func (l *Log) dispatchAll(items []dispatchItem) error {
	for i := range items {
		it := &items[i]
		if it.queue != nil {
			if err := it.queue.add(it.offset, cqEntry{pos: it.pos, size: int32(it.size), tagHash: it.tagHash}); err != nil {
				return err
			}
			l.touch(it.queue)
			continue
		}
		if err := l.dispatch(it.sys, it.pos, it.size, false); err != nil {
			return err
		}
	}
	return l.flushTouched()
}

// dispatch applies one decoded record. replay is true during recovery, when topic records
// must create their topics (in normal operation prepareSys did).
func (l *Log) dispatch(r *record.Record, pos int64, size int, replay bool) error {
	switch r.Type {
	case record.TypeMessage:
		t := l.topics[string(r.Topic)]
		if t == nil || int(r.Queue) >= len(t.queues) {
			return fmt.Errorf("log: record at position %d is for unknown queue %s/%d", pos, r.Topic, r.Queue)
		}
		q := t.queues[r.Queue]
		if err := q.add(r.QueueOffset, cqEntry{pos: pos, size: int32(size), tagHash: tagHash(r.Tags)}); err != nil {
			return err
		}
		l.touch(q)
	case record.TypeTopic:
		if replay && l.topics[string(r.Topic)] == nil {
			return l.applyTopic(r)
		}
	case record.TypeOffsets:
		d := decoder{b: r.Body}
		offs := d.offsets()
		if d.err != nil {
			return fmt.Errorf("log: offsets record at position %d: %w", pos, d.err)
		}
		l.mu.Lock()
		g := l.groups[string(r.Topic)]
		if g == nil {
			g = map[QueueRef]int64{}
			l.groups[string(r.Topic)] = g
		}
		for ref, o := range offs {
			g[ref] = o
		}
		l.mu.Unlock()
	}
	return nil
}

// touch remembers q for flushTouched, once per batch.
func (l *Log) touch(q *consumeQueue) {
	if len(q.pending) == cqEntrySize { // its first entry of this batch
		l.touched = append(l.touched, q)
	}
}

func (l *Log) flushTouched() error {
	for _, q := range l.touched {
		if err := q.flush(); err != nil {
			return err
		}
	}
	clear(l.touched)
	l.touched = l.touched[:0]
	return nil
}

// applyTopic creates the in-memory topic and its queue directories.
func (l *Log) applyTopic(r *record.Record) error {
	if len(r.Body) != 4 {
		return fmt.Errorf("log: topic record for %q has a %d-byte body", r.Topic, len(r.Body))
	}
	t, err := l.openTopic(string(r.Topic), int(binary.LittleEndian.Uint32(r.Body)))
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.topics[t.name] = t
	l.mu.Unlock()
	return nil
}

func (l *Log) openTopic(name string, n int) (*topic, error) {
	t := &topic{name: name, nameBytes: []byte(name), queues: make([]*consumeQueue, n)}
	for i := range t.queues {
		q, err := openConsumeQueue(l.cqRoot, name, i, l.opts.ConsumeQueueFileEntries)
		if err != nil {
			return nil, err
		}
		t.queues[i] = q
	}
	return t, nil
}
