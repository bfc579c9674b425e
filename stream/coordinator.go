package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/riffle-streams/riffle/internal/checkpoint"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/state"
)

// The coordinator runs one checkpointed run's epochs (DESIGN.md §4):
//
//  1. every interval it triggers epoch e: each source task, between two reads, records
//     its splits' positions and sends barrier e down its outputs;
//  2. a task whose inputs all delivered barrier e (aligned: a sender's records after
//     its barrier wait until every sender's barrier came) freezes the dirty state of its
//     keyed operators as epoch e's changes, pre-commits its sinks, forwards the barrier
//     and acknowledges e with those parts; log sinks have been sending epoch e's output
//     into e's transaction all along;
//  3. once every task acknowledged e (a task whose input ended acknowledges every epoch
//     from its last one on), the coordinator commits e in epoch order: changelog and
//     checkpoint record into the transaction, one op record with the log offsets; then
//     Badger applies e and the backends release their frozen copy of it, and two-phase
//     commit sinks commit e.
type coordinator struct {
	run      *jobRun
	journal  *checkpoint.Journal
	interval time.Duration
	clock    clock.Clock
	logger   *slog.Logger
	first    uint64 // the first epoch of this run
	restored *checkpoint.Meta

	triggered atomic.Uint64 // the last epoch triggered
	wake      chan struct{} // an acknowledgement arrived

	mu struct {
		sync.Mutex
		ntasks      int
		trigCtx     context.Context // cancelled by the next trigger: wakes waiting sources
		trigStop    context.CancelFunc
		sources     int // live source tasks
		epochs      map[uint64]*pendingEpoch
		finished    map[int]uint64 // task -> its final epoch
		backends    []*state.StoreBackend
		sinks       map[string]TwoPhaseCommitSink
		committed   uint64
		positions   map[string]checkpoint.SplitState // every split's last committed position
		offsets     map[rlog.QueueRef]int64
		triggeredAt map[uint64]time.Time
		lastDur     time.Duration
		lastAt      time.Time
	}
	// Commits counts the epochs this run committed.
	commits atomic.Uint64
}

// pendingEpoch is what the tasks acknowledged of an epoch so far.
type pendingEpoch struct {
	acked     map[int]bool
	changes   []checkpoint.Change
	positions map[string]checkpoint.SplitState
	offsets   map[rlog.QueueRef]int64
	sinks     map[string][][]byte
}

// taskParts is what a task contributes to an epoch: filled while barrier e (or the end
// of the input) travels through the task's chain, handed over by ack or finish.
type taskParts struct {
	changes   []checkpoint.Change
	positions map[string]checkpoint.SplitState
	offsets   map[rlog.QueueRef]int64
	sinks     map[string][]byte
}

func (p *taskParts) position(key string, s checkpoint.SplitState, ref *rlog.QueueRef) {
	if p.positions == nil {
		p.positions = map[string]checkpoint.SplitState{}
	}
	p.positions[key] = s
	if ref != nil {
		if p.offsets == nil {
			p.offsets = map[rlog.QueueRef]int64{}
		}
		p.offsets[*ref] = s.Offset
	}
}

func newCoordinator(r *jobRun, jn *checkpoint.Journal, opts *Checkpointing) *coordinator {
	c := &coordinator{run: r, journal: jn, interval: opts.Interval, clock: r.j.opts.Clock,
		logger: r.j.opts.Logger.With("job", r.j.name), restored: jn.Last(), wake: make(chan struct{}, 1)}
	if c.interval <= 0 {
		c.interval = time.Second
	}
	c.first = 1
	if c.restored != nil {
		c.first = c.restored.Epoch + 1
	}
	c.triggered.Store(c.first - 1)
	c.mu.committed = c.first - 1
	c.mu.epochs = map[uint64]*pendingEpoch{}
	c.mu.finished = map[int]uint64{}
	c.mu.sinks = map[string]TwoPhaseCommitSink{}
	c.mu.positions = map[string]checkpoint.SplitState{}
	c.mu.offsets = map[rlog.QueueRef]int64{}
	c.mu.triggeredAt = map[uint64]time.Time{}
	if c.restored != nil {
		for k, v := range c.restored.Sources {
			c.mu.positions[k] = v
		}
	}
	c.mu.trigCtx, c.mu.trigStop = context.WithCancel(context.Background())
	return c
}

// splitKey names a source's split in checkpoint.Meta.Sources: "source/split".
func splitKey(source, split string) string { return source + "/" + split }

// restoredPosition returns where a split resumes, if the last checkpoint has it.
func (c *coordinator) restoredPosition(source, split string) (checkpoint.SplitState, bool) {
	if c.restored == nil {
		return checkpoint.SplitState{}, false
	}
	s, ok := c.restored.Sources[splitKey(source, split)]
	return s, ok
}

// triggerContext returns a context cancelled by the next trigger.
func (c *coordinator) triggerContext() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.trigCtx
}

func (c *coordinator) addBackend(b *state.StoreBackend) {
	c.mu.Lock()
	c.mu.backends = append(c.mu.backends, b)
	c.mu.Unlock()
}

func (c *coordinator) addSink(name string, s TwoPhaseCommitSink) {
	c.mu.Lock()
	c.mu.sinks[name] = s
	c.mu.Unlock()
}

// TxnSender implementation for log sinks.
func (c *coordinator) Send(ctx context.Context, epoch uint64, msgs ...*rlog.Message) error {
	return c.journal.Send(ctx, epoch, msgs...)
}
func (c *coordinator) FirstEpoch() uint64 { return c.first }
func (c *coordinator) Log() *rlog.Log     { return c.run.j.opts.Checkpoints.Log }

// epochLocked returns epoch e's pending state (c.mu held).
func (c *coordinator) epochLocked(e uint64) *pendingEpoch {
	p, ok := c.mu.epochs[e]
	if !ok {
		p = &pendingEpoch{acked: map[int]bool{}, positions: map[string]checkpoint.SplitState{},
			offsets: map[rlog.QueueRef]int64{}, sinks: map[string][][]byte{}}
		c.mu.epochs[e] = p
	}
	return p
}

func (p *pendingEpoch) add(parts *taskParts) {
	p.changes = append(p.changes, parts.changes...)
	for k, v := range parts.positions {
		p.positions[k] = v
	}
	for k, v := range parts.offsets {
		p.offsets[k] = v
	}
	for k, h := range parts.sinks {
		p.sinks[k] = append(p.sinks[k], h)
	}
}

// ack is task's acknowledgement of epoch e.
func (c *coordinator) ack(task int, e uint64, parts *taskParts) {
	c.mu.Lock()
	p := c.epochLocked(e)
	p.acked[task] = true
	p.add(parts)
	c.mu.Unlock()
	c.signal()
}

// finish is task's last acknowledgement: its input ended during epoch e, and it
// acknowledges e and every later epoch.
func (c *coordinator) finish(task int, e uint64, parts *taskParts, source bool) {
	c.mu.Lock()
	c.mu.finished[task] = e
	c.epochLocked(e).add(parts)
	if source {
		c.mu.sources--
	}
	c.mu.Unlock()
	c.signal()
}

func (c *coordinator) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// completeLocked reports whether every task acknowledged e.
func (c *coordinator) completeLocked(e uint64) bool {
	p := c.mu.epochs[e]
	for t := 0; t < c.mu.ntasks; t++ {
		if p != nil && p.acked[t] {
			continue
		}
		if f, ok := c.mu.finished[t]; ok && f <= e {
			continue
		}
		return false
	}
	return true
}

// loop triggers epochs every interval and commits the complete ones, until quit is
// closed (a commit in progress completes).
func (c *coordinator) loop(ctx context.Context, quit <-chan struct{}) {
	t := c.clock.Ticker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
			c.trigger()
		case <-c.wake:
			if err := c.commitComplete(ctx, false); err != nil {
				c.run.stop(err)
				return
			}
		}
	}
}

// trigger starts the next epoch, unless the previous one is still being aligned (at
// most one epoch in flight through the tasks, as Flink's default) or no source is live.
func (c *coordinator) trigger() {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.triggered.Load()
	if c.mu.sources == 0 || (last > c.mu.committed && !c.completeLocked(last)) {
		return
	}
	c.triggered.Store(last + 1)
	c.mu.triggeredAt[last+1] = time.Now()
	c.mu.trigStop()
	c.mu.trigCtx, c.mu.trigStop = context.WithCancel(context.Background())
}

// finalCheckpoint triggers one more epoch now and waits until it committed (or the run
// ended, or timeout passed): a cancelled run stops on a checkpoint of everything it
// processed before the cancellation, instead of replaying it next time.
func (c *coordinator) finalCheckpoint(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	start := c.triggered.Load()
	target := uint64(0)
	for time.Now().Before(deadline) && !c.run.isDone() {
		if target == 0 {
			c.trigger()
			if t := c.triggered.Load(); t > start {
				target = t
			} else if c.sourcesDone() {
				return
			}
		} else if c.committed() >= target {
			c.logger.Info("stopped on a final checkpoint", "epoch", c.committed())
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	if target != 0 {
		c.logger.Warn("stopping without a final checkpoint", "epoch", target, "timeout", timeout)
	}
}

func (c *coordinator) sourcesDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.sources == 0
}

// commitComplete commits, in order, every epoch after the last committed one that is
// complete. With final (every task finished), every epoch up to the last one any task
// finished in must be complete.
func (c *coordinator) commitComplete(ctx context.Context, final bool) error {
	for {
		c.mu.Lock()
		e := c.mu.committed + 1
		if !c.completeLocked(e) {
			c.mu.Unlock()
			return nil
		}
		last := c.triggered.Load()
		for _, f := range c.mu.finished {
			last = max(last, f)
		}
		if e > last {
			c.mu.Unlock()
			return nil // nothing triggered or finished in e yet
		}
		p := c.mu.epochs[e]
		if p == nil {
			p = &pendingEpoch{}
		}
		delete(c.mu.epochs, e)
		for k, v := range p.positions {
			c.mu.positions[k] = v
		}
		for k, v := range p.offsets {
			c.mu.offsets[k] = v
		}
		meta := &checkpoint.Meta{Epoch: e, Sources: copyMap(c.mu.positions), Sinks: p.sinks, Time: c.clock.Now().UnixMilli(),
			Parallelism: c.run.parallelism(), MaxParallelism: c.run.j.opts.MaxParallelism}
		offsets := copyMap(c.mu.offsets)
		backends := append([]*state.StoreBackend(nil), c.mu.backends...)
		sinks := c.mu.sinks
		c.mu.Unlock()

		// Changes in a stable order: the changelog then reads the same on every run.
		sort.SliceStable(p.changes, func(i, j int) bool { return p.changes[i].Operator < p.changes[j].Operator })
		start := time.Now()
		if err := c.journal.Commit(ctx, meta, p.changes, offsets); err != nil {
			var fe *rlog.FencedError
			if errors.As(err, &fe) {
				return fmt.Errorf("job %q: this run was fenced by a newer run of the same job, and stops without committing epoch %d: %w", c.run.j.name, e, err)
			}
			return fmt.Errorf("job %q: %w", c.run.j.name, err)
		}
		for _, b := range backends {
			b.Release(e)
		}
		for name, hs := range p.sinks {
			if s, ok := sinks[name]; ok {
				if err := s.CommitEpoch(ctx, e, hs); err != nil {
					return fmt.Errorf("job %q: sink %q: commit epoch %d: %w", c.run.j.name, name, e, err)
				}
			}
		}
		c.notifySources(ctx, meta)
		c.mu.Lock()
		c.mu.committed = e
		now := time.Now()
		if t, ok := c.mu.triggeredAt[e]; ok {
			c.mu.lastDur = now.Sub(t)
			delete(c.mu.triggeredAt, e)
		} else {
			c.mu.lastDur = now.Sub(start)
		}
		c.mu.lastAt = now
		c.mu.Unlock()
		c.commits.Add(1)
		c.logger.Debug("checkpoint committed", "epoch", e, "changes", len(p.changes), "took", time.Since(start))
	}
}

// notifySources tells the sources that listen (CheckpointListener) the positions of
// their splits in a committed epoch. Errors are logged: the checkpoint holds the
// positions that count.
func (c *coordinator) notifySources(ctx context.Context, meta *checkpoint.Meta) {
	for _, n := range c.run.j.nodes {
		if n.listener == nil {
			continue
		}
		positions := map[string]int64{}
		prefix := splitKey(n.name, "")
		for k, v := range meta.Sources {
			if split, ok := strings.CutPrefix(k, prefix); ok {
				positions[split] = v.Offset
			}
		}
		if len(positions) == 0 {
			continue
		}
		if err := n.listener.CheckpointCommitted(ctx, meta.Epoch, positions); err != nil {
			c.logger.Warn("a source could not take note of a committed checkpoint; the checkpoint itself is committed",
				"source", n.name, "epoch", meta.Epoch, "err", err)
		}
	}
}

// checkRestored refuses a checkpoint the job cannot read.
func (c *coordinator) checkRestored() error {
	m := c.restored
	if m != nil && m.MaxParallelism != 0 && m.MaxParallelism != c.run.j.opts.MaxParallelism {
		return fmt.Errorf("stream: job %q: its checkpoint (epoch %d) was written with MaxParallelism %d, and this run has %d: keyed state is addressed by key group, so MaxParallelism cannot change",
			c.run.j.name, m.Epoch, m.MaxParallelism, c.run.j.opts.MaxParallelism)
	}
	return nil
}

// recoverSinks completes the two-phase commit of the last committed epoch and lets
// every two-phase-commit sink discard what later epochs pre-committed.
func (c *coordinator) recoverSinks(ctx context.Context) error {
	for _, n := range c.run.j.nodes {
		s, ok := n.sink.(TwoPhaseCommitSink)
		if !ok {
			continue
		}
		var e uint64
		var hs [][]byte
		if c.restored != nil {
			e, hs = c.restored.Epoch, c.restored.Sinks[n.name]
		}
		if err := s.Recover(ctx, e, hs); err != nil {
			return fmt.Errorf("stream: job %q: sink %q: recover epoch %d: %w", c.run.j.name, n.name, e, err)
		}
		c.addSink(n.name, s)
	}
	return nil
}

// metrics returns the checkpoint counters.
func (c *coordinator) metrics() CheckpointMetrics {
	c.mu.Lock()
	m := CheckpointMetrics{Enabled: true, LastEpoch: c.mu.committed, Committed: c.commits.Load(),
		LastDuration: c.mu.lastDur, LastCommitted: c.mu.lastAt}
	c.mu.Unlock()
	m.StateBytes = c.journal.Store().Size()
	return m
}

// Committed returns the last committed epoch.
func (c *coordinator) committed() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.committed
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
