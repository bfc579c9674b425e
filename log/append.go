package log

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// The write path, in two halves:
//
//   - Producers (the callers of Append, AppendAsync, CreateTopic, CommitOffsets) validate
//     their messages, resolve topics and queues, and encode the records into a buffer of
//     their own with a partial CRC (record.AppendPartial). That work runs on the callers'
//     goroutines, in parallel.
//   - The appender goroutine takes every request queued at that moment as one batch,
//     assigns queue offsets and the store time, seals each record (record.Seal finishes the
//     CRC over the 24 bytes it wrote), writes the producers' buffers with one pwritev
//     (no copy), dispatches the records to the consume queues and acknowledges.

// request is one unit of work for the appender.
type request struct {
	enc        []byte         // encoded records, CRCs partial until sealed
	metas      []recMeta      // one per record in enc
	msgs       []*Message     // filled with Offset and StoreTime when written
	sys        *record.Record // a system record, encoded by the appender after prepareSys
	txn        *TxnID         // half messages of this transaction
	prepared   any            // what prepareSys completed (a txnOp or timerOp), for staging
	durability Durability
	ctl        func() error // runs on the appender goroutine, alone
	err        error
	done       chan error  // receives the result, unless cb is set
	cb         func(error) // AppendAsync's callback
	pooled     bool        // enc came from encPool
}

type recMeta struct {
	size    int32
	queue   *consumeQueue // nil for system records
	tagHash uint64
	deliver int64 // a delayed message's due time; 0 otherwise
}

// finish delivers the request's result.
func (r *request) finish(err error) {
	if r.cb != nil {
		r.cb(err)
		return
	}
	r.done <- err
}

// Encode buffers are recycled through size-class pools (4 KiB to 8 MiB, by powers of 4):
// a pipelining producer would otherwise allocate, zero and garbage-collect one buffer per
// append, which costs more than the write itself.
var encPools [7]sync.Pool

const minEncClass = 12 // 4 KiB

func encClass(size int) int {
	c := 0
	for n := 1 << minEncClass; n < size; n <<= 2 {
		c++
	}
	return c
}

func getEnc(size int) ([]byte, bool) {
	c := encClass(size)
	if c >= len(encPools) {
		return make([]byte, 0, size), false
	}
	if b, ok := encPools[c].Get().(*[]byte); ok {
		return (*b)[:0], true
	}
	return make([]byte, 0, 1<<(minEncClass+2*c)), true
}

func (r *request) releaseEnc() {
	if r.pooled {
		// Put it back in the class its capacity serves in full.
		c := encClass(cap(r.enc))
		if 1<<(minEncClass+2*c) > cap(r.enc) {
			c--
		}
		if c >= 0 && c < len(encPools) {
			b := r.enc[:0]
			encPools[c].Put(&b)
		}
	}
	r.enc, r.pooled = nil, false
}

// Append appends messages with the log's default durability. It fills each message's
// Queue (when ByKey), Timestamp (when 0: the time of the call), Offset and StoreTime.
// Messages of one call are written contiguously and in order; after a crash a prefix of
// them may survive (use transactions for all-or-nothing). A message that fails validation
// fails the whole call before anything is written: the error wraps ErrInvalidMessage and
// names the message's index. Cancelling ctx abandons the wait, not the write.
func (l *Log) Append(ctx context.Context, msgs ...*Message) error {
	return l.AppendWith(ctx, DurabilityDefault, msgs...)
}

// AppendWith is Append with an explicit durability for this call.
func (l *Log) AppendWith(ctx context.Context, d Durability, msgs ...*Message) error {
	if len(msgs) == 0 {
		return nil
	}
	r, err := l.encodeMessages(msgs, d, nil)
	if err != nil {
		return err
	}
	return l.submit(ctx, r)
}

// AppendAsync hands msgs to the appender and returns without waiting; done is called
// with the result exactly once, on one of the log's goroutines (or on the caller's, for an
// error found before queueing): it must be short and must not call the Log. The messages
// must not be touched until then. AppendAsync blocks only when the appender's queue is
// full (backpressure).
func (l *Log) AppendAsync(d Durability, done func(error), msgs ...*Message) {
	if len(msgs) == 0 {
		done(nil)
		return
	}
	r, err := l.encodeMessages(msgs, d, nil)
	if err != nil {
		done(err)
		return
	}
	r.cb = done
	if err := l.enqueue(context.Background(), r); err != nil {
		r.releaseEnc()
		done(err)
	}
}

// ValidateMessage checks m against the log's limits without appending it: the same checks
// Append makes before anything is written (topic existence and queue range excepted).
func (l *Log) ValidateMessage(m *Message) error { return m.validate(&l.opts) }

// Options returns the options the log runs with, defaults filled in.
func (l *Log) Options() Options { return l.opts }

// Notify returns a channel that is closed the next time records become readable (or the
// log fails). Consumers of several queues read each without waiting and, when all were
// empty, wait on this channel (taken before the reads, so no append is missed).
func (l *Log) Notify() <-chan struct{} { return l.waitCh() }

// encodeMessages validates msgs, resolves their queues and encodes them, all or nothing:
// as messages, or as half messages of txn.
func (l *Log) encodeMessages(msgs []*Message, d Durability, txn *TxnID) (*request, error) {
	size := 0
	for i, m := range msgs {
		if err := m.validate(&l.opts); err != nil {
			if len(msgs) > 1 {
				return nil, fmt.Errorf("message %d: %w", i, err)
			}
			return nil, err
		}
		size += record.HeaderSize + len(m.Topic) + len(m.Tags) + len(m.Key) + record.PropsSize(m.Properties) + len(m.Body)
		if txn != nil {
			size += len(HalfTopic) + 128 + len(m.Topic) + len(txn.Producer)
		}
		if m.DeliverAt != 0 {
			size += len(TimerTopic) + 96 + len(m.Topic)
		}
	}
	if d == DurabilityDefault {
		d = l.opts.Durability
	}
	r := &request{msgs: msgs, durability: d, metas: make([]recMeta, len(msgs))}
	r.enc, r.pooled = getEnc(size)
	var t *topic
	var props []byte
	now := int64(0)
	for _, m := range msgs {
		if m.Timestamp == 0 || m.DeliverAt != 0 {
			now = l.opts.Clock.Now().UnixMilli()
			break
		}
	}
	for i, m := range msgs {
		if t == nil || t.name != m.Topic {
			if t = l.lookupTopic(m.Topic); t == nil {
				r.releaseEnc()
				return nil, fmt.Errorf("%w %q (create it first: riffle log topics create --topic %s --queues N)", ErrUnknownTopic, m.Topic, m.Topic)
			}
		}
		n := len(t.queues)
		switch {
		case m.Queue == ByKey && len(m.Key) > 0:
			m.Queue = QueueForKey(m.Key, n)
		case m.Queue == ByKey:
			m.Queue = int((t.rr.Add(1) - 1) % uint64(n))
		case m.Queue < 0 || m.Queue >= n:
			r.releaseEnc()
			return nil, fmt.Errorf("%w: message %d: topic %q has %d queues, no queue %d", ErrInvalidMessage, i, m.Topic, n, m.Queue)
		}
		if m.Timestamp == 0 {
			m.Timestamp = now
		}
		delayed := m.DeliverAt > now
		if delayed {
			if txn != nil {
				r.releaseEnc()
				return nil, fmt.Errorf("%w: message %d: a delayed message cannot be part of a transaction", ErrInvalidMessage, i)
			}
			if max := l.opts.TimerMaxDelay.Milliseconds(); m.DeliverAt-now > max {
				r.releaseEnc()
				return nil, fmt.Errorf("%w: message %d: due in %v, more than the maximum delay %v (Options.TimerMaxDelay)",
					ErrInvalidMessage, i, time.Duration(m.DeliverAt-now)*time.Millisecond, l.opts.TimerMaxDelay)
			}
		}
		rec := record.Record{Type: record.TypeMessage, Timestamp: m.Timestamp, Topic: t.nameBytes, Key: m.Key, Body: m.Body}
		if m.Tags != "" {
			rec.Tags = []byte(m.Tags)
		}
		if len(m.Properties) > 0 {
			props = record.EncodeProps(props[:0], m.Properties)
			rec.Props = props
		}
		if txn != nil {
			rec.Type, rec.Topic = record.TypeHalf, halfTopicBytes
			props = halfProps(record.EncodeProps(props[:0], m.Properties), txn, m.Topic, m.Queue)
			rec.Props = props
		}
		meta := recMeta{queue: t.queues[m.Queue]}
		if delayed {
			rec.Type, rec.Topic = record.TypeTimer, timerTopicBytes
			props = timerProps(record.EncodeProps(props[:0], m.Properties), m.Topic, m.Queue, m.DeliverAt)
			rec.Props = props
			meta.deliver = m.DeliverAt
		}
		r.enc = record.AppendPartial(r.enc, &rec)
		meta.size, meta.tagHash = int32(rec.Size()), tagHash(rec.Tags)
		r.metas[i] = meta
	}
	return r, nil
}

var (
	halfTopicBytes  = []byte(HalfTopic)
	timerTopicBytes = []byte(TimerTopic)
)

// sysRequest makes a request of a system record; the appender encodes it after
// prepareSys, which may complete it (an incarnation's epoch, a commit's offsets).
func sysRequest(rec *record.Record, d Durability) *request {
	return &request{sys: rec, durability: d}
}

// enqueue hands r to the appender, unless the log is closed or failed.
func (l *Log) enqueue(ctx context.Context, r *request) error {
	if f := l.failed.Load(); f != nil {
		return f
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case l.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// submit hands r to the appender and waits for its result (or ctx).
func (l *Log) submit(ctx context.Context, r *request) error {
	r.done = make(chan error, 1)
	if err := l.enqueue(ctx, r); err != nil {
		r.releaseEnc()
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The request may still be written; only the wait is abandoned.
		return ctx.Err()
	}
}

// --- the appender goroutine ---

func (l *Log) appendLoop() {
	defer close(l.done)
	ckpt := l.opts.Clock.Ticker(l.opts.CheckpointInterval)
	defer ckpt.Stop()
	ret := l.opts.Clock.Ticker(l.opts.RetentionCheckInterval)
	defer ret.Stop()
	for {
		select {
		case r := <-l.reqs:
			l.serve(r)
		case <-ckpt.C:
			l.runCtl(l.checkpoint)
		case <-ret.C:
			l.runCtl(l.enforceRetention)
		case <-l.quit:
			// Close refuses new requests before closing quit, so this drain is complete.
			for drained := false; !drained; {
				select {
				case r := <-l.reqs:
					l.serve(r)
				default:
					drained = true
				}
			}
			l.runCtl(l.checkpoint)
			close(l.syncJobs)
			<-l.syncDone
			return
		}
	}
}

func (l *Log) runCtl(fn func() error) {
	if l.failed.Load() != nil {
		return
	}
	if err := fn(); err != nil {
		l.fail(err)
	}
}

const maxBatchBytes = 8 << 20

// serve handles r and every request queued behind it that fits in one batch.
func (l *Log) serve(r *request) {
	if r.ctl != nil {
		l.serveCtl(r)
		return
	}
	batch := append(l.batch[:0], r)
	size := len(r.enc)
	var ctl *request
drain:
	for size < maxBatchBytes {
		select {
		case next := <-l.reqs:
			if next.ctl != nil {
				ctl = next
				break drain
			}
			batch = append(batch, next)
			size += len(next.enc)
		default:
			break drain
		}
	}
	l.writeBatch(batch)
	clear(batch)
	l.batch = batch[:0]
	if ctl != nil {
		l.serveCtl(ctl)
	}
}

func (l *Log) serveCtl(r *request) {
	if f := l.failed.Load(); f != nil {
		r.finish(f)
		return
	}
	err := r.ctl()
	var fe *FailedError
	if errors.As(err, &fe) {
		l.fail(fe.Err)
	}
	r.finish(err)
}

// writeBatch seals, writes and dispatches a batch, then acknowledges it.
func (l *Log) writeBatch(batch []*request) {
	if f := l.failed.Load(); f != nil {
		for _, r := range batch {
			r.releaseEnc()
			r.finish(f)
		}
		return
	}
	now := l.opts.Clock.Now().UnixMilli()
	if now < l.lastStore {
		now = l.lastStore // store times never go backwards
	}
	l.lastStore = now
	seg := l.cl.active()
	end := seg.base + seg.size
	iovs := l.iovs[:0]
	var rolled []*segment
	var err error

write:
	for _, r := range batch {
		switch {
		case r.sys != nil:
			if r.prepared, r.err = l.prepareSys(r.sys); r.err != nil {
				continue
			}
			r.enc = record.AppendPartial(r.enc[:0], r.sys)
			r.metas = append(r.metas[:0], recMeta{size: int32(len(r.enc))})
		case r.txn != nil:
			if r.err = l.prepareHalves(r.txn); r.err != nil {
				continue
			}
		}
		off, run := 0, 0
		halves := l.halves[:0]
		for i, m := range r.metas {
			size := int(m.size)
			if end+int64(size) > seg.base+l.cl.segSize && end > seg.base {
				// A record never spans segments: write what we have and roll.
				if off > run {
					iovs = append(iovs, r.enc[run:off])
				}
				if err = l.cl.writev(seg, iovs); err != nil {
					break write
				}
				iovs = iovs[:0]
				rolled = append(rolled, seg)
				if seg, err = l.cl.roll(end); err != nil {
					break write
				}
				run = off
			}
			// Seal, then stage the record's effect on the derived state in batch order;
			// publish makes it visible once the batch is written.
			switch q := m.queue; {
			case r.sys != nil:
				record.Seal(r.enc[off:off+size], 0, 0, now)
				if err = l.stageSys(r.sys, r.prepared, end, size, now); err != nil {
					break write
				}
			case r.txn != nil:
				record.Seal(r.enc[off:off+size], 0, 0, now)
				r.msgs[i].StoreTime = now
				halves = append(halves, halfRef{pos: end, size: int32(size), queue: q, tagHash: m.tagHash})
			case m.deliver != 0:
				record.Seal(r.enc[off:off+size], 0, 0, now)
				msg := r.msgs[i]
				msg.Offset, msg.StoreTime = -1, now
				if err = l.stageTimer(end, size, m.deliver, msg.Key); err != nil {
					break write
				}
			default:
				qoff := q.next
				record.Seal(r.enc[off:off+size], uint32(q.id), qoff, now)
				if err = q.add(qoff, cqEntry{pos: end, size: int32(size), tagHash: m.tagHash}); err != nil {
					break write
				}
				l.touch(q)
				msg := r.msgs[i]
				msg.Offset, msg.StoreTime = qoff, now
			}
			end += int64(size)
			off += size
		}
		if len(halves) > 0 {
			l.stageHalves(*r.txn, halves, now) // one lock for the request's halves
		}
		l.halves = halves[:0]
		if off > run {
			iovs = append(iovs, r.enc[run:off])
		}
	}
	if err == nil && len(iovs) > 0 {
		err = l.cl.writev(seg, iovs)
	}
	clear(iovs)
	l.iovs = iovs[:0]
	for _, r := range batch {
		r.releaseEnc()
	}
	if err == nil {
		err = l.publish()
	}
	if err != nil {
		f := l.fail(err)
		for _, r := range batch {
			r.finish(f)
		}
		return
	}
	l.notify()
	l.unsynced = append(l.unsynced, rolled...)

	var syncReqs []*request
	for _, r := range batch {
		if r.err == nil && r.durability == Sync {
			syncReqs = append(syncReqs, r)
			continue
		}
		r.finish(r.err)
	}
	if len(syncReqs) > 0 || len(rolled) > 0 {
		l.syncJobs <- syncJob{segs: append(rolled, seg), reqs: syncReqs}
	}
}
