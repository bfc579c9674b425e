package log

import (
	"encoding/binary"
	"fmt"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// Dispatch turns records into derived state: consume-queue entries, topics, group offsets,
// producers and open transactions, timers. The appender stages each record of a batch in
// order as it seals it, then publishes the batch once written; recovery stages the records
// it replays. Both run on one goroutine.

// prepareSys validates a system record against the current state, and completes it,
// before it is encoded and written. For commits and firings it returns the completed op
// (a txnOp or a timerOp), which stageSys applies without decoding the record again.
func (l *Log) prepareSys(r *record.Record) (any, error) {
	switch r.Type {
	case record.TypeTopic:
		if l.lookupTopic(string(r.Topic)) != nil {
			return nil, fmt.Errorf("%w: %q", ErrTopicExists, r.Topic)
		}
		// Create the topic now, so that requests behind it can use it.
		return nil, l.applyTopic(r)
	case record.TypeOffsets:
		return nil, nil
	case record.TypeTxnInit:
		return nil, l.prepareInit(r)
	case record.TypeTxnOp:
		return l.prepareOp(r)
	case record.TypeTimerOp:
		if len(r.Body) > 0 && r.Body[0] == timerFire {
			return l.prepareFire(r)
		}
		return nil, nil
	}
	return nil, fmt.Errorf("log: internal: unexpected system record %v", r.Type)
}

// stageSys stages a system record the appender prepared: prepared is what prepareSys
// returned for it.
func (l *Log) stageSys(r *record.Record, prepared any, pos int64, size int, storeTime int64) error {
	switch o := prepared.(type) {
	case txnOp:
		return l.stageOp(o, pos)
	case timerOp:
		return l.stageTimerOp(o, pos, storeTime)
	}
	return l.stage(r, pos, size, storeTime)
}

// stage applies the effect of a record written at pos. Messages are staged by the caller
// (the appender) or by replay.
func (l *Log) stage(r *record.Record, pos int64, size int, storeTime int64) error {
	switch r.Type {
	case record.TypeMessage:
		return l.indexMessage(r, pos, size)
	case record.TypeTopic:
		// Replay (the appender created it in prepareSys): create it, or complete a topic
		// recovery guessed from index directories with fewer queues.
		if t := l.lookupTopic(string(r.Topic)); t == nil || len(t.queues) < topicQueues(r) {
			return l.applyTopic(r)
		}
	case record.TypeOffsets:
		d := decoder{b: r.Body}
		offs := d.offsets()
		if d.err != nil {
			return fmt.Errorf("log: offsets record at position %d: %w", pos, d.err)
		}
		l.stageOffsets(string(r.Topic), offs)
	case record.TypeTxnInit:
		in, err := decodeInit(r.Body)
		if err != nil {
			return fmt.Errorf("log: init record at position %d: %w", pos, err)
		}
		l.stageInit(in)
	case record.TypeHalf:
		id, err := txnOfHalf(r)
		if err != nil {
			return fmt.Errorf("log: record at position %d: %w", pos, err)
		}
		q, err := l.realQueue(r, pos)
		if err != nil {
			return err
		}
		l.stageHalf(id, halfRef{pos: pos, size: int32(size), queue: q, tagHash: tagHash(r.Tags)}, storeTime)
	case record.TypeTxnOp:
		o, err := decodeOp(r.Body)
		if err != nil {
			return fmt.Errorf("log: op record at position %d: %w", pos, err)
		}
		return l.stageOp(o, pos)
	case record.TypeTimer:
		at, err := deliverAtOf(r)
		if err != nil {
			return fmt.Errorf("log: timer record at position %d: %w", pos, err)
		}
		return l.stageTimer(pos, size, at, r.Key)
	case record.TypeTimerOp:
		o, err := decodeTimerOp(r.Body)
		if err != nil {
			return fmt.Errorf("log: timer op record at position %d: %w", pos, err)
		}
		return l.stageTimerOp(o, pos, storeTime)
	}
	return nil
}

// indexMessage adds a message record's entry at the offset it carries, unless the index
// already holds it (recovery).
func (l *Log) indexMessage(r *record.Record, pos int64, size int) error {
	t := l.topics[string(r.Topic)]
	if t == nil || int(r.Queue) >= len(t.queues) {
		return fmt.Errorf("log: message at position %d is for unknown queue %s/%d", pos, r.Topic, r.Queue)
	}
	q := t.queues[r.Queue]
	if r.QueueOffset < q.next {
		return nil
	}
	if err := q.add(r.QueueOffset, cqEntry{pos: pos, size: int32(size), tagHash: tagHash(r.Tags)}); err != nil {
		return err
	}
	l.touch(q)
	return nil
}

// realQueue resolves the real queue of a half or timer record.
func (l *Log) realQueue(r *record.Record, pos int64) (*consumeQueue, error) {
	topic, qi, err := realTarget(r)
	if err != nil {
		return nil, fmt.Errorf("log: record at position %d: %w", pos, err)
	}
	t := l.topics[topic]
	if t == nil || qi < 0 || qi >= len(t.queues) {
		return nil, fmt.Errorf("log: record at position %d is for unknown queue %s/%d", pos, topic, qi)
	}
	return t.queues[qi], nil
}

type pendingOffsets struct {
	group string
	offs  map[QueueRef]int64
}

// stageOffsets queues a group-offset commit for publish.
func (l *Log) stageOffsets(group string, offs map[QueueRef]int64) {
	l.pendingOffs = append(l.pendingOffs, pendingOffsets{group, offs})
}

// publish makes everything staged visible: index entries and group offsets.
func (l *Log) publish() error {
	if err := l.flushTouched(); err != nil {
		return err
	}
	if len(l.pendingOffs) > 0 {
		l.mu.Lock()
		for _, p := range l.pendingOffs {
			g := l.groups[p.group]
			if g == nil {
				g = map[QueueRef]int64{}
				l.groups[p.group] = g
			}
			for ref, o := range p.offs {
				g[ref] = o
			}
		}
		l.mu.Unlock()
		clear(l.pendingOffs)
		l.pendingOffs = l.pendingOffs[:0]
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

// applyTopic creates the in-memory topic and its queue directories, or adds the queues
// a topic guessed by recovery lacks.
func (l *Log) applyTopic(r *record.Record) error {
	if len(r.Body) != 4 {
		return fmt.Errorf("log: topic record for %q has a %d-byte body", r.Topic, len(r.Body))
	}
	name, n := string(r.Topic), topicQueues(r)
	t := &topic{name: name, nameBytes: []byte(name), queues: make([]*consumeQueue, n)}
	if old := l.lookupTopic(name); old != nil {
		copy(t.queues, old.queues) // keep the queues already open (recovery may be indexing them)
	}
	for i := range t.queues {
		if t.queues[i] != nil {
			continue
		}
		q, err := openConsumeQueue(l.cqRoot, name, i, l.opts.ConsumeQueueFileEntries)
		if err != nil {
			return err
		}
		t.queues[i] = q
	}
	l.mu.Lock()
	l.topics[name] = t
	l.mu.Unlock()
	return nil
}

// openTopic opens a topic known from the checkpoint.
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

func topicQueues(r *record.Record) int {
	if len(r.Body) != 4 {
		return 0
	}
	return int(binary.LittleEndian.Uint32(r.Body))
}
