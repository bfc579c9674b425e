package log

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// Log is an embedded message log: one commitlog, topics of ordered queues indexed by
// consume queues, consumer-group offsets. It is safe for concurrent use.
//
// Goroutines and ownership (the lock order is closeMu, then mu, then the per-structure
// locks of commitLog and consumeQueue):
//   - the appender goroutine owns every mutation: it encodes and writes records, assigns
//     queue offsets, dispatches records to the derived indexes, rolls segments, writes
//     checkpoints and applies retention;
//   - the syncer goroutine fsyncs segments for Sync appends (group commit) and, in Async
//     mode, every FlushInterval;
//   - readers run on the callers' goroutines against published state only.
type Log struct {
	dir    string
	opts   Options
	lock   *os.File
	cl     *commitLog
	cqRoot string

	mu     sync.RWMutex // guards topics and groups
	topics map[string]*topic
	groups map[string]map[QueueRef]int64

	closeMu sync.RWMutex // held (read) while sending to reqs; Close takes it to refuse more
	closed  bool

	reqs     chan *request
	quit     chan struct{}
	done     chan struct{} // closed when the appender has exited
	syncJobs chan syncJob
	syncDone chan struct{}
	failed   atomic.Pointer[FailedError]

	notifyMu sync.Mutex
	notifyCh chan struct{}

	recovery RecoveryReport

	// Appender-owned.
	lastStore   int64
	rr          map[string]int
	buf         []byte
	items       []dispatchItem
	touched     []*consumeQueue
	unsynced    []*segment // segments rolled away from since the last checkpoint
	batch       []*request
	checkpoints *time.Ticker
}

type topic struct {
	name   string
	queues []*consumeQueue
}

// request is one unit of work for the appender.
type request struct {
	msgs       []*Message
	sys        *record.Record // a system record (topic creation, offsets)
	durability Durability
	ctl        func() error // runs on the appender goroutine, alone
	err        error
	done       chan error  // receives the result, unless cb is set
	cb         func(error) // AppendAsync's callback
}

// finish delivers the request's result.
func (r *request) finish(err error) {
	if r.cb != nil {
		r.cb(err)
		return
	}
	r.done <- err
}

type dispatchItem struct {
	pos  int64
	size int
	rec  record.Record // message records: only the fields dispatch needs
	req  *request
}

type syncJob struct {
	segs []*segment
	reqs []*request
}

// Open opens or creates the log in dir, recovering from whatever state a crash left.
func Open(dir string, opts Options) (*Log, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log: create data directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{
		dir:      dir,
		opts:     opts,
		lock:     lock,
		cqRoot:   filepath.Join(dir, "consumequeue"),
		topics:   map[string]*topic{},
		groups:   map[string]map[QueueRef]int64{},
		reqs:     make(chan *request, 1024),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		syncJobs: make(chan syncJob, 1024),
		syncDone: make(chan struct{}),
		notifyCh: make(chan struct{}),
		rr:       map[string]int{},
	}
	if err := l.recover(); err != nil {
		l.closeFiles()
		unlockDir(lock)
		return nil, err
	}
	go l.syncLoop()
	go l.appendLoop()
	return l, nil
}

// Dir returns the data directory.
func (l *Log) Dir() string { return l.dir }

// Recovery reports what opening the log found and repaired.
func (l *Log) Recovery() RecoveryReport { return l.recovery }

// Close flushes and fsyncs everything, writes a checkpoint and releases the directory.
// Appends waiting when Close is called complete first. Close is idempotent: later calls
// return nil.
func (l *Log) Close() error {
	l.closeMu.Lock()
	if l.closed {
		l.closeMu.Unlock()
		return nil
	}
	l.closed = true
	l.closeMu.Unlock()
	close(l.quit)
	<-l.done
	err := l.closeFiles()
	if uerr := unlockDir(l.lock); err == nil {
		err = uerr
	}
	return err
}

func (l *Log) closeFiles() error {
	var errs []error
	if l.cl != nil {
		errs = append(errs, l.cl.close())
	}
	for _, t := range l.topics {
		for _, q := range t.queues {
			errs = append(errs, q.close())
		}
	}
	return errors.Join(errs...)
}

// submit hands r to the appender and waits for its result (or ctx).
func (l *Log) submit(ctx context.Context, r *request) error {
	if f := l.failed.Load(); f != nil {
		return f
	}
	r.done = make(chan error, 1)
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		l.closeMu.RUnlock()
		return ctx.Err()
	}
	l.closeMu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The request may still be written; only the wait is abandoned.
		return ctx.Err()
	}
}

// Append appends messages with the log's default durability. It fills each message's
// Queue (when ByKey), Offset and StoreTime. Messages of one call are written contiguously
// and in order; after a crash a prefix of them may survive (use transactions for
// all-or-nothing). A message that fails validation fails the whole call before anything
// is written: the error wraps ErrInvalidMessage and names the message's index.
// Cancelling ctx abandons the wait, not the write.
func (l *Log) Append(ctx context.Context, msgs ...*Message) error {
	return l.AppendWith(ctx, DurabilityDefault, msgs...)
}

// AppendAsync hands msgs to the appender and returns without waiting; done is called
// with the result exactly once, on one of the log's goroutines: it must be short and must
// not call the Log. The messages must not be touched until then. AppendAsync blocks only
// when the appender's queue is full (backpressure). Validation errors and ErrClosed are
// delivered through done too.
func (l *Log) AppendAsync(d Durability, done func(error), msgs ...*Message) {
	for i, m := range msgs {
		if err := m.validate(&l.opts); err != nil {
			if len(msgs) > 1 {
				err = fmt.Errorf("message %d: %w", i, err)
			}
			done(err)
			return
		}
	}
	if d == DurabilityDefault {
		d = l.opts.Durability
	}
	if f := l.failed.Load(); f != nil {
		done(f)
		return
	}
	r := &request{msgs: msgs, durability: d, cb: done}
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		done(ErrClosed)
		return
	}
	l.reqs <- r
	l.closeMu.RUnlock()
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

// AppendWith is Append with an explicit durability for this call.
func (l *Log) AppendWith(ctx context.Context, d Durability, msgs ...*Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for i, m := range msgs {
		if err := m.validate(&l.opts); err != nil {
			if len(msgs) > 1 {
				return fmt.Errorf("message %d: %w", i, err)
			}
			return err
		}
	}
	if d == DurabilityDefault {
		d = l.opts.Durability
	}
	return l.submit(ctx, &request{msgs: msgs, durability: d})
}

// CreateTopic creates a topic with n ordered queues (1 to 65,536). It fails with
// ErrTopicExists if the topic exists, with any queue count.
func (l *Log) CreateTopic(ctx context.Context, name string, queues int) error {
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	if queues < 1 || queues > 1<<16 {
		return fmt.Errorf("log: topic %q: queue count %d outside [1, 65536]", name, queues)
	}
	body := binary.LittleEndian.AppendUint32(nil, uint32(queues))
	return l.submit(ctx, &request{sys: &record.Record{Type: record.TypeTopic, Topic: []byte(name), Body: body}, durability: Sync})
}

// TopicInfo describes a topic.
type TopicInfo struct {
	Name   string
	Queues []QueueInfo
}

// QueueInfo gives the readable offsets [Earliest, Latest) of one queue.
type QueueInfo struct {
	Queue    int
	Earliest int64
	Latest   int64
}

// Messages is the number of readable messages in all queues.
func (t TopicInfo) Messages() int64 {
	var n int64
	for _, q := range t.Queues {
		n += q.Latest - q.Earliest
	}
	return n
}

// Topics lists the user topics, sorted by name.
func (l *Log) Topics() []TopicInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]TopicInfo, 0, len(l.topics))
	for _, t := range l.topics {
		out = append(out, t.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Topic describes one topic, or fails with ErrUnknownTopic.
func (l *Log) Topic(name string) (TopicInfo, error) {
	t, err := l.topic(name)
	if err != nil {
		return TopicInfo{}, err
	}
	return t.info(), nil
}

func (t *topic) info() TopicInfo {
	ti := TopicInfo{Name: t.name, Queues: make([]QueueInfo, len(t.queues))}
	for i, q := range t.queues {
		ti.Queues[i] = QueueInfo{Queue: i, Earliest: q.min.Load(), Latest: q.max.Load()}
	}
	return ti
}

func (l *Log) topic(name string) (*topic, error) {
	l.mu.RLock()
	t := l.topics[name]
	l.mu.RUnlock()
	if t == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownTopic, name)
	}
	return t, nil
}

func (l *Log) queue(name string, q int) (*consumeQueue, error) {
	t, err := l.topic(name)
	if err != nil {
		return nil, err
	}
	if q < 0 || q >= len(t.queues) {
		return nil, fmt.Errorf("log: topic %q has %d queues, no queue %d", name, len(t.queues), q)
	}
	return t.queues[q], nil
}

// Checkpoint fsyncs the commitlog and the consume queues and writes a recovery checkpoint
// now, instead of waiting for CheckpointInterval.
func (l *Log) Checkpoint(ctx context.Context) error {
	return l.submit(ctx, &request{ctl: l.checkpoint})
}

// --- the appender ---

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
			for {
				select {
				case r := <-l.reqs:
					l.serve(r)
					continue
				default:
				}
				break
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

const maxBatchBytes = 4 << 20

// serve handles r and every request queued behind it that fits in one batch.
func (l *Log) serve(r *request) {
	if r.ctl != nil {
		l.serveCtl(r)
		return
	}
	batch := append(l.batch[:0], r)
	size := r.approxSize()
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
			size += next.approxSize()
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
	if err != nil {
		var fe *FailedError
		if errors.As(err, &fe) {
			l.fail(fe.Err)
		}
	}
	r.finish(err)
}

func (r *request) approxSize() int {
	n := record.HeaderSize
	for _, m := range r.msgs {
		n += record.HeaderSize + len(m.Key) + len(m.Body)
	}
	return n
}

// writeBatch encodes, writes and dispatches a batch, then acknowledges it.
func (l *Log) writeBatch(batch []*request) {
	if f := l.failed.Load(); f != nil {
		for _, r := range batch {
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
	buf := l.buf[:0]
	items := l.items[:0]
	var rolled []*segment
	var err error

	put := func(rec *record.Record, req *request) {
		if err != nil {
			return
		}
		n := rec.Size()
		if end+int64(n) > seg.base+l.cl.segSize && end > seg.base {
			if err = l.cl.write(seg, buf); err != nil {
				return
			}
			buf = buf[:0]
			rolled = append(rolled, seg)
			if seg, err = l.cl.roll(end); err != nil {
				return
			}
		}
		items = append(items, dispatchItem{pos: end, size: n, rec: *rec, req: req})
		buf = record.Append(buf, rec)
		end += int64(n)
	}

	var props []byte
	for _, req := range batch {
		if req.sys != nil {
			if req.err = l.prepareSys(req.sys); req.err == nil {
				req.sys.StoreTime, req.sys.Timestamp = now, now
				put(req.sys, req)
			}
			continue
		}
		if req.err = l.prepareMessages(req.msgs); req.err != nil {
			continue
		}
		for _, m := range req.msgs {
			t := l.topics[m.Topic]
			q := t.queues[m.Queue]
			ts := m.Timestamp
			if ts == 0 {
				ts = now
			}
			start := len(props)
			props = record.EncodeProps(props, m.Properties)
			rec := record.Record{
				Type: record.TypeMessage, Queue: uint32(m.Queue), QueueOffset: q.next,
				StoreTime: now, Timestamp: ts,
				Topic: []byte(m.Topic), Tags: []byte(m.Tags), Key: m.Key, Props: props[start:len(props):len(props)], Body: m.Body,
			}
			m.Offset, m.StoreTime, m.Timestamp = q.next, now, ts
			q.next++
			put(&rec, req)
		}
	}
	if err == nil && len(buf) > 0 {
		err = l.cl.write(seg, buf)
	}
	if err == nil {
		err = l.dispatchAll(items)
	}
	l.buf = buf[:0]
	clear(items)
	l.items = items[:0]
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

// prepareMessages resolves topics and queues of one request, all or nothing.
func (l *Log) prepareMessages(msgs []*Message) error {
	for i, m := range msgs {
		t := l.topics[m.Topic]
		if t == nil {
			return fmt.Errorf("%w %q (create it first: riffle log topics create --topic %s --queues N)", ErrUnknownTopic, m.Topic, m.Topic)
		}
		switch {
		case m.Queue == ByKey && len(m.Key) > 0:
			m.Queue = QueueForKey(m.Key, len(t.queues))
		case m.Queue == ByKey:
			m.Queue = l.rr[m.Topic] % len(t.queues)
			l.rr[m.Topic]++
		case m.Queue < 0 || m.Queue >= len(t.queues):
			return fmt.Errorf("%w: message %d: topic %q has %d queues, no queue %d", ErrInvalidMessage, i, m.Topic, len(t.queues), m.Queue)
		}
	}
	return nil
}

// prepareSys validates a system record against the current state.
func (l *Log) prepareSys(r *record.Record) error {
	switch r.Type {
	case record.TypeTopic:
		if l.topics[string(r.Topic)] != nil {
			return fmt.Errorf("%w: %q", ErrTopicExists, r.Topic)
		}
		// Create the topic now so that later requests of the same batch can use it.
		return l.applyTopic(r)
	case record.TypeOffsets:
		return nil
	}
	return fmt.Errorf("log: internal: unexpected system record %v", r.Type)
}

// dispatchAll applies written records to the derived indexes and publishes them.
func (l *Log) dispatchAll(items []dispatchItem) error {
	for i := range items {
		if err := l.dispatch(&items[i].rec, items[i].pos, items[i].size, false); err != nil {
			return err
		}
	}
	return l.flushTouched()
}

// dispatch applies one record. replay is true during recovery, when topic records must
// create their topics (in normal operation prepareSys did).
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

func (l *Log) touch(q *consumeQueue) {
	if len(q.pending) == cqEntrySize { // first entry of this batch
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
	n := int(binary.LittleEndian.Uint32(r.Body))
	t, err := l.openTopic(string(r.Topic), n)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.topics[t.name] = t
	l.mu.Unlock()
	return nil
}

func (l *Log) openTopic(name string, n int) (*topic, error) {
	t := &topic{name: name, queues: make([]*consumeQueue, n)}
	for i := range t.queues {
		q, err := openConsumeQueue(l.cqRoot, name, i, l.opts.ConsumeQueueFileEntries)
		if err != nil {
			return nil, err
		}
		t.queues[i] = q
	}
	return t, nil
}

// notify wakes every blocked reader.
func (l *Log) notify() {
	l.notifyMu.Lock()
	close(l.notifyCh)
	l.notifyCh = make(chan struct{})
	l.notifyMu.Unlock()
}

func (l *Log) waitCh() <-chan struct{} {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	return l.notifyCh
}

// fail makes the log refuse further appends; the first error sticks.
func (l *Log) fail(err error) *FailedError {
	fe := &FailedError{Err: err}
	if l.failed.CompareAndSwap(nil, fe) {
		l.opts.Logger.Error("log: write failed; refusing further appends until reopened", "dir", l.dir, "err", err)
	}
	l.notify()
	return l.failed.Load()
}

// checkpoint makes everything written so far durable and records the recovery hint.
// Appender only.
func (l *Log) checkpoint() error {
	seg := l.cl.active()
	for _, s := range append(l.unsynced, seg) {
		if err := datasync(s.f); err != nil && !errors.Is(err, os.ErrClosed) {
			return &FailedError{Err: fmt.Errorf("fsync %s: %w", s.path, err)}
		}
	}
	l.unsynced = l.unsynced[:0]
	snap := &snapshot{lastStore: l.lastStore, groups: map[string]map[QueueRef]int64{}, ext: map[uint8][]byte{}}
	_, snap.pos = l.cl.bounds()
	l.mu.RLock()
	for _, t := range l.topics {
		ts := topicSnap{name: t.name, next: make([]int64, len(t.queues))}
		for i, q := range t.queues {
			ts.next[i] = q.next
		}
		snap.topics = append(snap.topics, ts)
	}
	for g, m := range l.groups {
		c := make(map[QueueRef]int64, len(m))
		for k, v := range m {
			c[k] = v
		}
		snap.groups[g] = c
	}
	l.mu.RUnlock()
	for _, t := range l.topics {
		for _, q := range t.queues {
			if err := q.sync(); err != nil {
				return &FailedError{Err: fmt.Errorf("fsync consume queue %s/%d: %w", q.topic, q.id, err)}
			}
		}
	}
	if err := writeCheckpoint(l.dir, snap); err != nil {
		return &FailedError{Err: fmt.Errorf("write checkpoint: %w", err)}
	}
	return nil
}

// --- the syncer ---

func (l *Log) syncLoop() {
	defer close(l.syncDone)
	var flush <-chan time.Time
	if l.opts.Durability == Async && l.opts.FlushInterval > 0 {
		t := l.opts.Clock.Ticker(l.opts.FlushInterval)
		defer t.Stop()
		flush = t.C
	}
	var jobs []syncJob
	for {
		select {
		case j, ok := <-l.syncJobs:
			if !ok {
				return
			}
			jobs = append(jobs[:0], j)
			// Group commit: every job queued now shares the fsyncs.
		more:
			for {
				select {
				case j, ok := <-l.syncJobs:
					if !ok {
						break more
					}
					jobs = append(jobs, j)
				default:
					break more
				}
			}
			l.syncJobsNow(jobs)
		case <-flush:
			if s := l.cl.active(); s != nil {
				if err := datasync(s.f); err != nil && !errors.Is(err, os.ErrClosed) {
					l.fail(fmt.Errorf("fsync %s: %w", s.path, err))
				}
			}
		}
	}
}

func (l *Log) syncJobsNow(jobs []syncJob) {
	seen := map[*segment]bool{}
	var err error
	for _, j := range jobs {
		for _, s := range j.segs {
			if seen[s] || err != nil {
				continue
			}
			seen[s] = true
			if e := datasync(s.f); e != nil && !errors.Is(e, os.ErrClosed) {
				err = fmt.Errorf("fsync %s: %w", s.path, e)
			}
		}
	}
	var res error
	if err != nil {
		res = l.fail(err)
	}
	for _, j := range jobs {
		for _, r := range j.reqs {
			r.finish(res)
		}
	}
}
