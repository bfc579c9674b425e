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

	// mu guards the derived state that readers look at: topics, groups, producers, open
	// and recently ended transactions, late commits. The appender is its only writer.
	mu          sync.RWMutex
	topics      map[string]*topic
	groups      map[string]map[QueueRef]int64
	producers   map[string]*producerState
	openTxns    map[TxnID]*openTxn
	txnSizeHint map[string]int // producer -> halves of its last ended transaction
	doneTxns    map[TxnID]doneTxn
	doneOrder   []TxnID
	lateCommits map[int64]int64 // segment base -> latest commit position of its halves

	holds holds // retention holds (hold.go)

	checkersMu sync.Mutex
	checkers   map[string]TxnChecker // producers in local-transaction mode
	live       map[string]uint32     // producers initialised by this process: id -> epoch
	checkDone  chan struct{}
	timerDone  chan struct{}

	wheel *wheel // delayed messages; appender-owned

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
	iovs        [][]byte
	halves      []halfRef // scratch of writeBatch: one request's half messages
	pendingOffs []pendingOffsets
	touched     []*consumeQueue
	unsynced    []*segment // segments rolled away from since the last checkpoint
	batch       []*request
	replaying   bool // recovery's scan is staging the records after the checkpoint
}

type topic struct {
	name      string
	nameBytes []byte
	queues    []*consumeQueue
	rr        atomic.Uint64 // round-robin counter for messages without key
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

		producers:   map[string]*producerState{},
		openTxns:    map[TxnID]*openTxn{},
		txnSizeHint: map[string]int{},
		doneTxns:    map[TxnID]doneTxn{},
		lateCommits: map[int64]int64{},
		checkers:    map[string]TxnChecker{},
		live:        map[string]uint32{},
		checkDone:   make(chan struct{}),
		timerDone:   make(chan struct{}),
	}
	if err := l.recover(); err != nil {
		l.closeFiles()
		unlockDir(lock)
		return nil, err
	}
	go l.syncLoop()
	go l.appendLoop()
	go l.checkBackLoop()
	go l.timerLoop()
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
	<-l.checkDone
	<-l.timerDone
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
	if l.wheel != nil {
		errs = append(errs, l.wheel.close())
	}
	for _, t := range l.topics {
		for _, q := range t.queues {
			errs = append(errs, q.close())
		}
	}
	return errors.Join(errs...)
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
	return l.submit(ctx, sysRequest(&record.Record{Type: record.TypeTopic, Topic: []byte(name), Body: body}, Sync))
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

func (l *Log) lookupTopic(name string) *topic {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.topics[name]
}

func (l *Log) topic(name string) (*topic, error) {
	t := l.lookupTopic(name)
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
	snap.ext[sectionTxns] = l.encodeTxnSection()
	if err := l.wheel.flush(); err != nil {
		return &FailedError{Err: fmt.Errorf("write timer wheel: %w", err)}
	}
	snap.ext[sectionTimers] = l.encodeTimerSection()
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
