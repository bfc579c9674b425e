package log

import (
	"context"
	"errors"
	"fmt"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// ReadOptions shapes a Read.
type ReadOptions struct {
	// Max is the most messages to return. Default 256.
	Max int
	// MaxBytes stops a read once this many bytes of records are returned (at least one
	// message is returned regardless). Default 4 MiB.
	MaxBytes int
	// Tags, when set, keeps only messages whose tags equal one of them. Filtering uses the
	// tag hash in the index first and the record's own tags second.
	Tags []string
	// Wait blocks until at least one message is returned or ctx ends (then ctx.Err()).
	Wait bool
}

// Fetch is the result of a Read.
type Fetch struct {
	// Messages in queue order. Their Key and Body share one buffer owned by the caller.
	Messages []Message
	// Next is the offset to read from next: one past the last message examined (filtered
	// messages are skipped over).
	Next int64
}

// Read returns messages of one queue from offset on. A read at the queue's end returns
// no messages (or waits, with Wait). A read below the earliest offset or beyond the end
// fails with *OffsetOutOfRangeError. A read never returns corrupt data: bytes that fail
// their checks fail the read with *CorruptionError.
func (l *Log) Read(ctx context.Context, topic string, queue int, offset int64, opts ReadOptions) (Fetch, error) {
	q, err := l.queue(topic, queue)
	if err != nil {
		return Fetch{}, err
	}
	if opts.Max <= 0 {
		opts.Max = 256
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 4 << 20
	}
	var want map[uint64]bool
	if len(opts.Tags) > 0 {
		want = make(map[uint64]bool, len(opts.Tags))
		for _, t := range opts.Tags {
			want[tagHash([]byte(t))] = true
		}
	}
	for {
		wait := l.waitCh()
		min, max := q.min.Load(), q.max.Load()
		if offset < min || offset > max {
			return Fetch{Next: offset}, &OffsetOutOfRangeError{Topic: topic, Queue: queue, Offset: offset, Earliest: min, Latest: max}
		}
		if offset < max {
			f, err := l.readQueue(q, offset, max, opts, want)
			if err != nil || len(f.Messages) > 0 || !opts.Wait {
				return f, err
			}
			offset = f.Next
			continue // everything was filtered out: look again
		}
		if !opts.Wait {
			return Fetch{Next: offset}, nil
		}
		if l.isClosed() {
			return Fetch{Next: offset}, ErrClosed
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return Fetch{Next: offset}, ctx.Err()
		}
	}
}

func (l *Log) isClosed() bool {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	return l.closed
}

func (l *Log) readQueue(q *consumeQueue, offset, max int64, opts ReadOptions, want map[uint64]bool) (Fetch, error) {
	n := opts.Max
	if avail := max - offset; int64(n) > avail {
		n = int(avail)
	}
	if want != nil && n < 1024 {
		// Filtered reads scan more index entries per call.
		n = int(min(max-offset, 1024))
	}
	entries, err := q.readAcross(offset, n)
	if err != nil {
		return Fetch{Next: offset}, err
	}
	f := Fetch{Next: offset}
	// Keep the entries to read, then read runs of adjacent records with one pread each.
	type pick struct {
		off int64
		e   cqEntry
	}
	picks := make([]pick, 0, len(entries))
	bytes := 0
	for i, e := range entries {
		if len(picks) >= opts.Max || (bytes >= opts.MaxBytes && len(picks) > 0) {
			break
		}
		f.Next = offset + int64(i) + 1
		if want != nil && !want[e.tagHash] {
			continue
		}
		picks = append(picks, pick{offset + int64(i), e})
		bytes += int(e.size)
	}
	// Runs: records close together in the commitlog are read with one pread, gaps
	// included (records of other queues, usually): one syscall per record cost more than
	// the wasted bytes, up to readGap bytes between two records.
	type run struct {
		i, j      int
		pos, size int64
	}
	var runs []run
	total := int64(0)
	for i := 0; i < len(picks); {
		j, end := i+1, picks[i].e.pos+int64(picks[i].e.size)
		for j < len(picks) {
			p := picks[j].e
			if p.pos < end || p.pos-end > readGap || p.pos+int64(p.size)-picks[i].e.pos > readSpan {
				break
			}
			end = p.pos + int64(p.size)
			j++
		}
		runs = append(runs, run{i, j, picks[i].e.pos, end - picks[i].e.pos})
		total += end - picks[i].e.pos
		i = j
	}
	buf := make([]byte, total)
	f.Messages = make([]Message, 0, len(picks))
	var rec record.Record
	for _, r := range runs {
		span := buf[:r.size:r.size]
		buf = buf[r.size:]
		if err := l.cl.readAt(r.pos, span); err != nil {
			if errors.Is(err, errBelowEarliest) {
				return Fetch{Next: offset}, &OffsetOutOfRangeError{Topic: q.topic, Queue: q.id, Offset: picks[r.i].off, Earliest: q.min.Load(), Latest: q.max.Load()}
			}
			return Fetch{Next: offset}, err
		}
		for k := r.i; k < r.j; k++ {
			p := picks[k]
			at := p.e.pos - r.pos
			b := span[at : at+int64(p.e.size) : at+int64(p.e.size)]
			if err := l.checkRecord(b, &rec, q, p.off, p.e.pos); err != nil {
				return Fetch{Next: offset}, err
			}
			if want != nil && !want[tagHash(rec.Tags)] {
				continue // hash collision
			}
			if want != nil && !tagWanted(string(rec.Tags), opts.Tags) {
				continue
			}
			var m Message
			if err := m.fromRecord(&rec, q.topic); err != nil {
				return Fetch{Next: offset}, err
			}
			m.Queue, m.Offset = q.id, p.off
			f.Messages = append(f.Messages, m)
		}
	}
	return f, nil
}

// readGap is the largest gap between two records a read takes in to save a pread;
// readSpan bounds the bytes of one pread.
const (
	readGap  = 16 << 10
	readSpan = 4 << 20
)

func tagWanted(tags string, want []string) bool {
	for _, w := range want {
		if w == tags {
			return true
		}
	}
	return false
}

// checkRecord decodes b and checks that it is the record the index says it is.
func (l *Log) checkRecord(b []byte, rec *record.Record, q *consumeQueue, offset, pos int64) error {
	fail := func(reason string) error {
		seg := l.cl.segmentAt(pos)
		file, at := "commitlog", pos
		if seg != nil {
			file, at = seg.path, pos-seg.base
		}
		return &CorruptionError{File: file, Offset: at, Reason: fmt.Sprintf("message %s/%d@%d: %s", q.topic, q.id, offset, reason)}
	}
	n, err := record.Decode(b, rec)
	if err != nil {
		return fail(err.Error())
	}
	if n != len(b) {
		return fail(fmt.Sprintf("record is %d bytes, the index says %d", n, len(b)))
	}
	switch rec.Type {
	case record.TypeMessage:
		if string(rec.Topic) == q.topic && int(rec.Queue) == q.id && rec.QueueOffset == offset {
			return nil
		}
		return fail(fmt.Sprintf("index points at a message of %s/%d@%d", rec.Topic, rec.Queue, rec.QueueOffset))
	case record.TypeHalf, record.TypeTimer:
		// A committed transaction's or a fired timer's message is read where it was
		// written; its queue offset was assigned by the commit or the firing.
		topic, qi, err := realTarget(rec)
		if err == nil && topic == q.topic && qi == q.id {
			return nil
		}
		return fail(fmt.Sprintf("index points at a %v record for %s/%d", rec.Type, topic, qi))
	}
	return fail(fmt.Sprintf("index points at a %v record", rec.Type))
}

// QueueBounds returns the readable offsets [earliest, latest) of a queue.
func (l *Log) QueueBounds(topic string, queue int) (earliest, latest int64, err error) {
	q, err := l.queue(topic, queue)
	if err != nil {
		return 0, 0, err
	}
	return q.min.Load(), q.max.Load(), nil
}

// OffsetForTime returns the first offset of the queue whose store time is at or after ts
// (ms since the epoch), or the queue's latest offset if there is none. Store times never
// decrease along the commitlog, so this is a binary search over the index.
func (l *Log) OffsetForTime(topic string, queue int, ts int64) (int64, error) {
	q, err := l.queue(topic, queue)
	if err != nil {
		return 0, err
	}
	lo, hi := q.min.Load(), q.max.Load()
	var firstErr error
	var hdr [record.HeaderSize]byte
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, err := q.entry(mid)
		if err == nil {
			err = l.cl.readAt(e.pos, hdr[:])
		}
		var h record.Header
		if err == nil {
			h, err = record.DecodeHeader(hdr[:])
		}
		if err != nil {
			if errors.Is(err, errBelowEarliest) {
				lo = mid + 1 // deleted meanwhile: the answer is later
				continue
			}
			firstErr = err
			break
		}
		if h.StoreTime >= ts {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, firstErr
}

// --- consumer-group offsets ---

// CommitOffsets records the group's next offsets to read, as one commitlog record
// (durable with the log's default durability). Committing never moves other queues.
func (l *Log) CommitOffsets(ctx context.Context, group string, offsets map[QueueRef]int64) error {
	if err := ValidateTopicName(group); err != nil {
		return fmt.Errorf("log: invalid group name: %w", err)
	}
	for ref, o := range offsets {
		if _, err := l.queue(ref.Topic, ref.Queue); err != nil {
			return err
		}
		if o < 0 {
			return fmt.Errorf("log: group %q: negative offset %d for %s/%d", group, o, ref.Topic, ref.Queue)
		}
	}
	body := appendOffsets(nil, offsets)
	return l.submit(ctx, sysRequest(&record.Record{Type: record.TypeOffsets, Topic: []byte(group), Body: body}, l.opts.Durability))
}

// CommittedOffset returns the group's committed offset of one queue.
func (l *Log) CommittedOffset(group, topic string, queue int) (int64, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	o, ok := l.groups[group][QueueRef{topic, queue}]
	return o, ok
}

// CommittedOffsets returns a copy of every committed offset of the group.
func (l *Log) CommittedOffsets(group string) map[QueueRef]int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make(map[QueueRef]int64, len(l.groups[group]))
	for k, v := range l.groups[group] {
		out[k] = v
	}
	return out
}

// Groups lists the consumer groups that have committed offsets, sorted.
func (l *Log) Groups() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]string, 0, len(l.groups))
	for g := range l.groups {
		out = append(out, g)
	}
	sortStrings(out)
	return out
}
