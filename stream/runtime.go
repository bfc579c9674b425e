package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/riffle-streams/riffle/internal/checkpoint"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/state"
)

// This file is the executor: records flow through typed runners; chained operators are
// direct calls, other edges are bounded channels of batches. Each task (a chain of
// operators of one subtask) runs on its own goroutine and owns everything in it.

// control is what flows besides records.
type control interface {
	watermark(wm int64)
	// barrier passes checkpoint barrier e: everything before it belongs to epoch e.
	barrier(e uint64)
	end()
}

// input is the typed entry of a runner or a channel writer.
type input[T any] interface {
	control
	record(r Record[T])
}

// fanoutBuilder collects a node's targets; outputSet is the built fan-out (a *fanout[T]).
type fanoutBuilder interface {
	add(target any)
	setMetrics(m *subtaskMetrics)
}

type outputSet = fanoutBuilder

// fanout is a node's output: every record goes to every target.
type fanout[T any] struct {
	targets []input[T]
	m       *subtaskMetrics // the node's subtask: counts what it emits
}

func (f *fanout[T]) add(t any) { f.targets = append(f.targets, t.(input[T])) }

func (f *fanout[T]) setMetrics(m *subtaskMetrics) { f.m = m }

func (f *fanout[T]) Emit(r Record[T]) {
	f.m.out.Add(1)
	for _, t := range f.targets {
		t.record(r)
	}
}

func (f *fanout[T]) watermark(wm int64) {
	for _, t := range f.targets {
		t.watermark(wm)
	}
}

func (f *fanout[T]) barrier(e uint64) {
	for _, t := range f.targets {
		t.barrier(e)
	}
}

func (f *fanout[T]) end() {
	for _, t := range f.targets {
		t.end()
	}
}

// srcPos locates a record in its source: a split of the job and an offset in it.
type srcPos struct {
	split  int32 // index in jobRun.splits; -1: not from a source (a timer)
	offset int64
}

var timerPos = srcPos{split: -1}

// batch is what a channel carries.
type batch[T any] struct {
	from int // sender index within the receiving input
	kind batchKind
	recs []Record[T]
	pos  []srcPos
	wm   int64
	e    uint64     // a barrier's epoch
	pool *sync.Pool // where the receiver returns a data batch
}

type batchKind uint8

const (
	dataBatch batchKind = iota
	wmBatch
	endBatch
	barrierBatch
)

// subtaskEnv is one task's view of the running job.
type subtaskEnv struct {
	run      *jobRun
	id       int // the task's index in the run (checkpoint acknowledgements)
	subtask  int
	task     string // the head operator's name
	pos      srcPos // the record being processed
	current  string // the operator being called (for errors and panics)
	writers  []flusher
	err      error
	backends []state.Backend
	procNext []func() // processing-time timer pollers of keyed runners

	// With checkpoints: the last barrier the task passed, and what the barrier in
	// flight (or the end of the input) collected for the coordinator.
	lastEpoch uint64
	parts     taskParts
}

// ackBarrier hands what barrier e collected in the task to the coordinator.
func (e *subtaskEnv) ackBarrier(epoch uint64) {
	e.lastEpoch = epoch
	if e.err == nil {
		e.run.ckpt.ack(e.id, epoch, &e.parts)
	}
	e.parts = taskParts{}
}

// finishTask is the task's last acknowledgement (its input ended), for every epoch from
// the one after its last barrier on.
func (e *subtaskEnv) finishTask(source bool) {
	if c := e.run.ckpt; c != nil && e.err == nil {
		c.finish(e.id, e.lastEpoch+1, &e.parts, source)
		e.parts = taskParts{}
	}
}

// finalEpoch is the epoch the task's remaining output and state belong to once its
// input ended.
func (e *subtaskEnv) finalEpoch() uint64 { return e.lastEpoch + 1 }

type flusher interface{ flush() }

func (e *subtaskEnv) failed() bool { return e.err != nil || e.run.isDone() }

// fail records the first error of the task, with its context.
func (e *subtaskEnv) fail(op string, err error) {
	if e.err != nil {
		return
	}
	e.err = e.run.operatorError(op, e.subtask, e.pos, err, "")
}

// jobRun is one execution of a job.
type jobRun struct {
	j       *Job
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	err     error
	splits  []splitName
	chans   map[inputKey]any // []chan *batch[T] per node input
	nsend   map[inputKey]int // senders per node input
	base    map[*edge]int    // first sender index of an edge's senders
	ckpt    *coordinator     // nil without checkpoints
	metrics *runMetrics
	ntasks  int
	nsrc    int // source tasks
}

// parallelism maps every operator to its parallelism in this run.
func (r *jobRun) parallelism() map[string]int {
	m := map[string]int{}
	for _, n := range r.j.nodes {
		m[n.name] = n.parallelism
	}
	return m
}

type inputKey struct {
	n     *node
	input int
}

type splitName struct{ source, split string }

func (r *jobRun) isDone() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// stop records err (the first one wins) and stops every task.
func (r *jobRun) stop(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.once.Do(func() { close(r.done); r.cancel() })
}

// OperatorError is how a job fails: it names the operator, the subtask and, for errors
// while processing a record, where that record came from.
type OperatorError struct {
	Job         string
	Operator    string
	Subtask     int
	Parallelism int
	// Source, Split and Offset locate the record being processed ("" when the error was
	// not about a record from a source, for example in a timer).
	Source, Split string
	Offset        int64
	Err           error
	// Stack is set when the operator panicked.
	Stack string
}

func (e *OperatorError) Error() string {
	at := ""
	if e.Source != "" {
		at = fmt.Sprintf(" on the record at offset %d of split %q of source %q", e.Offset, e.Split, e.Source)
	}
	return fmt.Sprintf("job %q: operator %q (subtask %d of %d) failed%s: %v", e.Job, e.Operator, e.Subtask+1, e.Parallelism, at, e.Err)
}

func (e *OperatorError) Unwrap() error { return e.Err }

func (r *jobRun) operatorError(op string, subtask int, pos srcPos, err error, stack string) error {
	var oe *OperatorError
	if errors.As(err, &oe) {
		return err
	}
	e := &OperatorError{Job: r.j.name, Operator: op, Subtask: subtask, Err: err, Stack: stack, Offset: -1}
	for _, n := range r.j.nodes {
		if n.name == op {
			e.Parallelism = n.parallelism
		}
	}
	if pos.split >= 0 && int(pos.split) < len(r.splits) {
		e.Source, e.Split, e.Offset = r.splits[pos.split].source, r.splits[pos.split].split, pos.offset
	}
	return e
}

// Run executes the job until its bounded sources are exhausted and every window has
// fired, an operator fails (the error is an *OperatorError), or ctx ends (ctx.Err()).
// User code that panics fails the job the same way; the process survives. With
// JobOptions.Checkpoints the job resumes from its last committed checkpoint, and a run
// that ends normally commits a final one. With JobOptions.Restart a failed run restarts.
func (j *Job) Run(ctx context.Context) error {
	if j.ran {
		return errors.New("stream: a job runs once")
	}
	j.ran = true
	if j.err != nil {
		return j.err
	}
	if len(j.nodes) == 0 {
		return errors.New("stream: the job is empty")
	}
	rs := j.opts.Restart
	for attempt := 0; ; {
		progress, err := j.runOnce(ctx)
		if err == nil || ctx.Err() != nil || !restartable(err) {
			return err
		}
		if progress {
			attempt = 0
		}
		attempt++
		j.restarts.Add(1)
		if attempt > rs.MaxAttempts {
			if rs.MaxAttempts > 0 {
				j.opts.Logger.Error("job failed; no restart attempts left", "job", j.name, "attempts", rs.MaxAttempts, "err", err)
			}
			return err
		}
		j.opts.Logger.Warn("job failed; restarting from the last checkpoint", "job", j.name,
			"attempt", attempt, "max_attempts", rs.MaxAttempts, "delay", rs.Delay, "err", err)
		select {
		case <-j.opts.Clock.After(rs.Delay):
		case <-ctx.Done():
			return err
		}
	}
}

// finalCheckpointTimeout bounds the final checkpoint of a cancelled run.
const finalCheckpointTimeout = 30 * time.Second

// restartable reports whether a failed run may be restarted: not when it was fenced by
// a newer run of the job (that run owns the job now).
func restartable(err error) bool {
	var fe *rlog.FencedError
	return !errors.As(err, &fe)
}

// runOnce is one run of the job; progress reports whether it committed a checkpoint.
func (j *Job) runOnce(ctx context.Context) (progress bool, err error) {
	// The run's context is cancelled by r.stop, not directly by ctx: with checkpoints,
	// cancelling ctx first takes a final checkpoint (below).
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	r := &jobRun{j: j, ctx: rctx, cancel: cancel, done: make(chan struct{}),
		chans: map[inputKey]any{}, nsend: map[inputKey]int{}, base: map[*edge]int{}}
	var journal *checkpoint.Journal
	if ck := j.opts.Checkpoints; ck != nil {
		if ck.Log == nil || ck.StateDir == "" {
			return false, errors.New("stream: Checkpointing needs a Log and a StateDir")
		}
		so := ck.Store
		if so.MaxParallelism != 0 && so.MaxParallelism != j.opts.MaxParallelism {
			return false, fmt.Errorf("stream: Checkpointing.Store.MaxParallelism %d differs from the job's MaxParallelism %d", so.MaxParallelism, j.opts.MaxParallelism)
		}
		so.MaxParallelism = j.opts.MaxParallelism
		if so.Logger == nil {
			so.Logger = j.opts.Logger
		}
		journal, _, err = checkpoint.Open(ctx, checkpoint.Config{Log: ck.Log, Job: j.name, StateDir: ck.StateDir, Store: so,
			Logger: j.opts.Logger, SnapshotBytes: ck.SnapshotBytes})
		if err != nil {
			return false, err
		}
		defer journal.Close()
		r.ckpt = newCoordinator(r, journal, ck)
		if err := r.ckpt.checkRestored(); err != nil {
			return false, err
		}
		if err := r.ckpt.recoverSinks(ctx); err != nil {
			return false, err
		}
	}
	tasks, err := r.plan()
	if err != nil {
		return false, err
	}
	j.cur.Store(r)
	// The caller's cancellation stops every task like a failure does.
	stopOnCancel := context.AfterFunc(ctx, func() {
		if r.ckpt != nil {
			r.ckpt.finalCheckpoint(finalCheckpointTimeout)
		}
		r.stop(ctx.Err())
	})
	defer stopOnCancel()
	var coordDone, coordQuit chan struct{}
	if c := r.ckpt; c != nil {
		c.mu.ntasks, c.mu.sources = r.ntasks, r.nsrc
		coordDone, coordQuit = make(chan struct{}), make(chan struct{})
		go func() { defer close(coordDone); c.loop(context.WithoutCancel(ctx), coordQuit) }()
	}
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t(); err != nil {
				r.stop(err)
			}
		}()
	}
	wg.Wait()
	if c := r.ckpt; c != nil {
		close(coordQuit)
		<-coordDone
		if r.err == nil {
			// Every task finished: commit the epochs they finished in.
			if err := c.commitComplete(context.WithoutCancel(ctx), true); err != nil {
				r.stop(err)
			}
		}
		if r.err != nil {
			journal.Abort(context.Background())
		}
		progress = c.commits.Load() > 0
	}
	r.once.Do(func() { close(r.done) })
	if r.err != nil {
		if ctx.Err() != nil && errors.Is(r.err, ctx.Err()) {
			return progress, ctx.Err()
		}
		return progress, r.err
	}
	return progress, ctx.Err()
}

// plan fixes parallelism and partitioning, decides chaining, makes channels, and returns
// one function per task.
func (r *jobRun) plan() ([]func() error, error) {
	j := r.j
	for _, n := range j.nodes {
		if n.kind == sideNode {
			continue
		}
		for _, e := range n.inputs {
			if e.part == forward && e.from.parallelism != n.parallelism {
				e.part = rebalance
			}
		}
		if n.keyed && n.parallelism > j.opts.MaxParallelism {
			return nil, fmt.Errorf("stream: %s: parallelism %d exceeds the max parallelism %d", n.name, n.parallelism, j.opts.MaxParallelism)
		}
		for _, sn := range n.sides {
			sn.parallelism = n.parallelism
		}
	}
	r.metrics = newRunMetrics(j.nodes)
	// Channels and sender numbering of every input that is not chained.
	for _, n := range j.nodes {
		for _, e := range n.inputs {
			if r.chained(e) {
				continue
			}
			k := inputKey{n, e.input}
			if _, ok := r.chans[k]; !ok {
				r.chans[k] = e.newChannels(n.parallelism, j.opts.ChannelBatches)
			}
			r.base[e] = r.nsend[k]
			r.nsend[k] += e.from.parallelism
		}
	}
	var tasks []func() error
	for _, n := range j.nodes {
		if !r.isHead(n) {
			continue
		}
		for i := 0; i < n.parallelism; i++ {
			env := &subtaskEnv{run: r, id: r.ntasks, subtask: i, task: n.name, pos: timerPos}
			if r.ckpt != nil {
				env.lastEpoch = r.ckpt.first - 1
			}
			r.ntasks++
			if n.kind == sourceNode {
				r.nsrc++
			}
			t, err := r.buildTask(n, env)
			if err != nil {
				return nil, err
			}
			tasks = append(tasks, t)
		}
	}
	return tasks, nil
}

// chained reports whether e is a direct call inside one task.
func (r *jobRun) chained(e *edge) bool {
	to := e.to
	return e.part == forward && e.from.parallelism == to.parallelism && len(to.inputs) == 1 &&
		!to.keyed && (to.kind == oneInputNode || to.kind == sinkNode)
}

func (r *jobRun) isHead(n *node) bool {
	switch n.kind {
	case sourceNode:
		return true
	case sideNode:
		return false
	}
	for _, e := range n.inputs {
		if !r.chained(e) {
			return true
		}
	}
	return false
}

// buildOutputs builds the fan-out of node n in the task of env.
func (r *jobRun) buildOutputs(n *node, env *subtaskEnv) (fanoutBuilder, error) {
	f := n.newFanout()
	f.setMetrics(r.metrics.of(n, env.subtask))
	for _, e := range n.outputs {
		if r.chained(e) {
			in, err := r.buildRunner(e.to, env)
			if err != nil {
				return nil, err
			}
			f.add(in)
			continue
		}
		w := e.newWriter(env, r.chans[inputKey{e.to, e.input}])
		env.writers = append(env.writers, w.(flusher))
		f.add(w)
	}
	return f, nil
}

// buildRunner builds node n (and what is chained after it) for the task of env.
func (r *jobRun) buildRunner(n *node, env *subtaskEnv) (any, error) {
	outs, err := r.buildOutputs(n, env)
	if err != nil {
		return nil, err
	}
	return n.makeRunner(env, outs)
}

// sideOutputs builds the fan-outs of the side outputs read from node n.
func (r *jobRun) sideOutputs(n *node, env *subtaskEnv) (map[string]any, error) {
	if len(n.sides) == 0 {
		return nil, nil
	}
	m := map[string]any{}
	for id, sn := range n.sides {
		f, err := r.buildOutputs(sn, env)
		if err != nil {
			return nil, err
		}
		m[id] = f
	}
	return m, nil
}

func (r *jobRun) buildTask(n *node, env *subtaskEnv) (func() error, error) {
	if n.kind == sourceNode {
		outs, err := r.buildOutputs(n, env)
		if err != nil {
			return nil, err
		}
		src, err := n.makeSource(env, outs)
		if err != nil {
			return nil, err
		}
		return r.guard(env, src.run), nil
	}
	run, err := r.buildRunner(n, env)
	if err != nil {
		return nil, err
	}
	loop := run.(taskLoop)
	return r.guard(env, func() error { return loop.loop(env) }), nil
}

// guard runs a task: a panic becomes an *OperatorError naming the operator being called.
func (r *jobRun) guard(env *subtaskEnv, fn func() error) func() error {
	return func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				op := env.current
				if op == "" {
					op = env.task
				}
				err = r.operatorError(op, env.subtask, env.pos, fmt.Errorf("panic: %v", p), string(debug.Stack()))
			}
		}()
		err = fn()
		if err == nil {
			err = env.err
		}
		return err
	}
}

// taskLoop is a head runner that reads its input channels.
type taskLoop interface {
	loop(env *subtaskEnv) error
}

// --- channel writers ---

type netWriter[T any] struct {
	env    *subtaskEnv
	e      *edge
	chans  []chan *batch[T]
	bufs   []*batch[T]
	route  func(T) int
	from   int
	rr     int
	size   int
	maxPar int
	pool   *sync.Pool
}

func newNetWriter[T any](env *subtaskEnv, e *edge, chans []chan *batch[T], route func(T) int) *netWriter[T] {
	r := env.run
	w := &netWriter[T]{env: env, e: e, chans: chans, bufs: make([]*batch[T], len(chans)), route: route,
		from: r.base[e] + env.subtask, size: r.j.opts.BatchSize, maxPar: r.j.opts.MaxParallelism,
		rr: env.subtask}
	w.pool = &sync.Pool{New: func() any {
		return &batch[T]{recs: make([]Record[T], 0, w.size), pos: make([]srcPos, 0, w.size)}
	}}
	return w
}

func (w *netWriter[T]) target(v T) int {
	switch w.e.part {
	case forward:
		return w.env.subtask
	case hashed:
		return state.SubtaskForKeyGroup(w.maxPar, len(w.chans), w.route(v))
	}
	w.rr++
	if w.rr >= len(w.chans) {
		w.rr = 0
	}
	return w.rr
}

func (w *netWriter[T]) record(r Record[T]) {
	if w.e.part == broadcast {
		for i := range w.chans {
			w.add(i, r)
		}
		return
	}
	w.add(w.target(r.Value), r)
}

func (w *netWriter[T]) add(i int, r Record[T]) {
	b := w.bufs[i]
	if b == nil {
		b = w.pool.Get().(*batch[T])
		b.recs, b.pos, b.pool = b.recs[:0], b.pos[:0], w.pool
		w.bufs[i] = b
	}
	b.recs = append(b.recs, r)
	b.pos = append(b.pos, w.env.pos)
	if len(b.recs) >= w.size {
		w.send(i)
	}
}

func (w *netWriter[T]) send(i int) {
	b := w.bufs[i]
	if b == nil {
		return
	}
	w.bufs[i] = nil
	b.from, b.kind = w.from, dataBatch
	w.put(i, b)
}

func (w *netWriter[T]) put(i int, b *batch[T]) {
	select {
	case w.chans[i] <- b:
	case <-w.env.run.done:
	}
}

func (w *netWriter[T]) flush() {
	for i := range w.bufs {
		w.send(i)
	}
}

func (w *netWriter[T]) watermark(wm int64) {
	w.flush()
	for i := range w.chans {
		w.put(i, &batch[T]{from: w.from, kind: wmBatch, wm: wm})
	}
}

func (w *netWriter[T]) barrier(e uint64) {
	w.flush()
	for i := range w.chans {
		w.put(i, &batch[T]{from: w.from, kind: barrierBatch, e: e})
	}
}

func (w *netWriter[T]) end() {
	w.flush()
	for i := range w.chans {
		w.put(i, &batch[T]{from: w.from, kind: endBatch})
	}
}

// --- input gates ---

// gate tracks the watermarks and ends of one input's senders.
type gate struct {
	wms   []int64
	ended []bool
	live  int
	wm    int64
}

func newGate(senders int) *gate {
	g := &gate{wms: make([]int64, senders), ended: make([]bool, senders), live: senders, wm: MinWatermark}
	for i := range g.wms {
		g.wms[i] = MinWatermark
	}
	return g
}

// advance sets a sender's watermark and returns the input's (minimum) and whether it rose.
func (g *gate) advance(from int, wm int64) (int64, bool) {
	if wm <= g.wms[from] {
		return g.wm, false
	}
	g.wms[from] = wm
	min := MaxWatermark
	for _, w := range g.wms {
		if w < min {
			min = w
		}
	}
	if min > g.wm {
		g.wm = min
		return min, true
	}
	return g.wm, false
}

func (g *gate) finish(from int) (int64, bool) {
	if !g.ended[from] {
		g.ended[from] = true
		g.live--
	}
	return g.advance(from, MaxWatermark)
}

// --- one-input runners ---

type runnerCore struct {
	env     *subtaskEnv
	m       *subtaskMetrics
	name    string
	wm      int64
	backend state.Backend
	ctx     *opContext
	closed  bool
	sides   []control // side outputs get the operator's watermarks and end
}

func (c *runnerCore) sidesWatermark(wm int64) {
	for _, s := range c.sides {
		s.watermark(wm)
	}
}

func (c *runnerCore) sidesEnd() {
	for _, s := range c.sides {
		s.end()
	}
}

func (c *runnerCore) sidesBarrier(e uint64) {
	for _, s := range c.sides {
		s.barrier(e)
	}
}

// barrierHook is an operator with its own part in checkpoints (the sink operator).
type barrierHook interface {
	onBarrier(env *subtaskEnv, name string, e uint64) error
}

// preCommit runs op's checkpoint hook for epoch e, if it has one.
func (c *runnerCore) preCommit(op any, e uint64) {
	if h, ok := op.(barrierHook); ok && c.env.err == nil {
		c.env.current = c.name
		if err := h.onBarrier(c.env, c.name, e); err != nil {
			c.env.fail(c.name, fmt.Errorf("checkpoint %d: %w", e, err))
		}
	}
}

// freeze takes the keyed state's changes of epoch e into the task's parts.
func (c *runnerCore) freeze(e uint64) {
	sb, ok := c.backend.(*state.StoreBackend)
	if !ok || c.env.err != nil {
		return
	}
	batch, err := sb.Freeze(e)
	if err != nil {
		c.env.fail(c.name, err)
		return
	}
	if batch != nil {
		c.env.parts.changes = append(c.env.parts.changes, checkpoint.Change{Operator: c.name, Batch: batch})
	}
}

// setOneInput makes n run newOp, not keyed.
func setOneInput[IN, OUT any](n *node, newOp func() Operator[IN, OUT]) {
	n.newFanout = func() fanoutBuilder { return &fanout[OUT]{} }
	n.makeRunner = func(env *subtaskEnv, outs outputSet) (any, error) {
		return newOneInputRunner[IN, OUT, struct{}](env, n, newOp(), outs.(*fanout[OUT]), nil, nil)
	}
}

// setOneInputKeyed makes n run newOp keyed by k.
func setOneInputKeyed[K comparable, IN, OUT any](n *node, k KeyedStream[K, IN], newOp func() Operator[IN, OUT]) {
	n.newFanout = func() fanoutBuilder { return &fanout[OUT]{} }
	n.makeRunner = func(env *subtaskEnv, outs outputSet) (any, error) {
		return newOneInputRunner(env, n, newOp(), outs.(*fanout[OUT]), k.key, k.codec)
	}
}

type oneInputRunner[IN, OUT any, K comparable] struct {
	runnerCore
	op      Operator[IN, OUT]
	out     *fanout[OUT]
	keyOf   func(IN) K
	codec   state.KeyCodec[K]
	scratch []byte
	n       *node
}

func newOneInputRunner[IN, OUT any, K comparable](env *subtaskEnv, n *node, op Operator[IN, OUT], out *fanout[OUT], keyOf func(IN) K, codec state.KeyCodec[K]) (*oneInputRunner[IN, OUT, K], error) {
	r := &oneInputRunner[IN, OUT, K]{runnerCore: runnerCore{env: env, name: n.name, wm: MinWatermark}, op: op, out: out, keyOf: keyOf, codec: codec, n: n}
	if err := r.open(n, func(ctx Context) error { return op.Open(ctx, out) }, op.OnTimer); err != nil {
		return nil, err
	}
	if s, ok := any(op).(interface{ countBytes(*subtaskMetrics) }); ok {
		s.countBytes(r.m)
	}
	return r, nil
}

// open creates the operator's context (and keyed backend) and opens it.
func (c *runnerCore) open(n *node, openOp func(Context) error, onTimer func(state.Domain, state.Timer) error) error {
	r := c.env.run
	j := r.j
	c.m = r.metrics.of(n, c.env.subtask)
	sides, err := r.sideOutputs(n, c.env)
	if err != nil {
		return err
	}
	for _, f := range sides {
		c.sides = append(c.sides, f.(control))
	}
	c.ctx = &opContext{name: n.name, subtask: c.env.subtask, par: n.parallelism, maxPar: j.opts.MaxParallelism,
		clock: j.opts.Clock, sides: sides,
		logger: j.opts.Logger.With("job", j.name, "operator", n.name, "subtask", c.env.subtask)}
	if r.ckpt != nil {
		c.ctx.txns = r.ckpt
	}
	if n.keyed {
		kgs := state.RangeForSubtask(j.opts.MaxParallelism, n.parallelism, c.env.subtask)
		var b state.Backend
		if r.ckpt != nil {
			sb, err := r.ckpt.journal.Store().Backend(n.name, kgs, j.opts.Clock)
			if err != nil {
				return fmt.Errorf("stream: state of %s: %w", n.name, err)
			}
			r.ckpt.addBackend(sb)
			b = sb
		} else if b, err = j.opts.NewStateBackend(n.name, c.env.subtask, kgs); err != nil {
			return fmt.Errorf("stream: state backend of %s: %w", n.name, err)
		}
		c.backend = b
		c.ctx.backend = b
		c.ctx.timers = &timerService{b: b, wm: &c.wm, clock: j.opts.Clock}
		c.env.backends = append(c.env.backends, b)
		c.env.procNext = append(c.env.procNext, func() { c.fireProcessing(onTimer) })
	}
	c.env.current = n.name
	if err := openOp(c.ctx); err != nil {
		return r.operatorError(n.name, c.env.subtask, timerPos, fmt.Errorf("open: %w", err), "")
	}
	return nil
}

// fireEvent fires the event-time timers up to wm.
func (c *runnerCore) fireEvent(wm int64, onTimer func(state.Domain, state.Timer) error) {
	if c.backend == nil {
		return
	}
	for !c.env.failed() {
		t, ok := c.backend.Timers().PopDue(state.EventTime, wm)
		if !ok {
			return
		}
		c.backend.SetCurrentKey(t.Key, t.KeyGroup)
		c.env.pos, c.env.current = timerPos, c.name
		if err := onTimer(state.EventTime, t); err != nil {
			c.env.fail(c.name, err)
		}
	}
}

// fireProcessing fires the processing-time timers that are due now.
func (c *runnerCore) fireProcessing(onTimer func(state.Domain, state.Timer) error) {
	now := c.env.run.j.opts.Clock.Now().UnixMilli()
	for !c.env.failed() {
		t, ok := c.backend.Timers().PopDue(state.ProcessingTime, now)
		if !ok {
			return
		}
		c.backend.SetCurrentKey(t.Key, t.KeyGroup)
		c.env.pos, c.env.current = timerPos, c.name
		if err := onTimer(state.ProcessingTime, t); err != nil {
			c.env.fail(c.name, err)
		}
	}
}

func (r *oneInputRunner[IN, OUT, K]) record(rec Record[IN]) {
	if r.env.err != nil {
		return
	}
	r.m.in.Add(1)
	if r.keyOf != nil {
		r.scratch = r.codec.Append(r.scratch[:0], r.keyOf(rec.Value))
		r.backend.SetCurrentKey(r.scratch, state.KeyGroup(r.scratch, r.ctx.maxPar))
	}
	r.env.current = r.name
	if err := r.op.ProcessElement(rec); err != nil {
		r.env.fail(r.name, err)
	}
}

func (r *oneInputRunner[IN, OUT, K]) watermark(wm int64) {
	if wm <= r.wm || r.env.err != nil {
		return
	}
	r.wm = wm
	r.m.wm.Store(wm)
	r.fireEvent(wm, r.op.OnTimer)
	r.env.current = r.name
	if err := r.op.OnWatermark(wm); err != nil {
		r.env.fail(r.name, err)
		return
	}
	r.out.watermark(wm)
	r.sidesWatermark(wm)
}

func (r *oneInputRunner[IN, OUT, K]) barrier(e uint64) {
	if r.env.err != nil {
		return
	}
	r.preCommit(r.op, e)
	r.freeze(e)
	r.out.barrier(e)
	r.sidesBarrier(e)
}

func (r *oneInputRunner[IN, OUT, K]) end() {
	if r.closed {
		return
	}
	r.closed = true
	r.watermark(MaxWatermark)
	ck := r.env.run.ckpt != nil
	if ck {
		r.preCommit(r.op, r.env.finalEpoch())
	}
	r.env.current = r.name
	if err := r.op.Close(); err != nil {
		r.env.fail(r.name, fmt.Errorf("close: %w", err))
	}
	if ck {
		r.freeze(r.env.finalEpoch())
	}
	r.out.end()
	r.sidesEnd()
}

// loop reads the node's input channel (the runner heads its task).
func (r *oneInputRunner[IN, OUT, K]) loop(env *subtaskEnv) error {
	run := env.run
	ch := run.chans[inputKey{r.n, 0}].([]chan *batch[IN])[env.subtask]
	g := newGate(run.nsend[inputKey{r.n, 0}])
	return inputLoop(env, ch, g, r, r)
}

// inputLoop drives one input channel into in until every sender ended.
func inputLoop[T any](env *subtaskEnv, ch chan *batch[T], g *gate, in input[T], head control) error {
	procTick, stopTick := processingTicker(env)
	defer stopTick()
	al := newAligner(len(g.wms))
	var deliver func(b *batch[T])
	deliver = func(b *batch[T]) {
		if al.holds(b.from) {
			al.hold(func() { deliver(b) })
			return
		}
		switch b.kind {
		case dataBatch:
			for i := range b.recs {
				env.pos = b.pos[i]
				in.record(b.recs[i])
			}
			clear(b.recs)
			b.pool.Put(b)
		case wmBatch:
			if wm, up := g.advance(b.from, b.wm); up {
				head.watermark(wm)
			}
		case endBatch:
			if wm, up := g.finish(b.from); up && g.live > 0 {
				head.watermark(wm)
			}
		case barrierBatch:
			al.arrive(b.from, b.e)
		}
		al.complete(env, g.live, head)
	}
	for g.live > 0 {
		select {
		case b := <-ch:
			deliver(b)
			if env.err != nil {
				return env.err
			}
			if len(ch) == 0 {
				for _, w := range env.writers {
					w.flush()
				}
			}
		case <-procTick:
			for _, f := range env.procNext {
				f()
			}
		case <-env.run.done:
			return env.run.ctx.Err()
		}
	}
	head.end()
	for _, w := range env.writers {
		w.flush()
	}
	env.finishTask(false)
	return env.err
}

// aligner aligns checkpoint barriers: once a sender delivered barrier e, its later
// batches wait until every live sender delivered e; then the task passes the barrier
// and takes the held batches in their order.
type aligner struct {
	epoch   uint64 // the barrier being aligned; 0: none
	blocked []bool // per sender
	n       int    // blocked senders
	held    []func()
}

func newAligner(senders int) *aligner { return &aligner{blocked: make([]bool, senders)} }

func (a *aligner) holds(from int) bool { return a.n > 0 && a.blocked[from] }

func (a *aligner) hold(f func()) { a.held = append(a.held, f) }

func (a *aligner) arrive(from int, e uint64) {
	if a.n > 0 && e != a.epoch {
		panic(fmt.Sprintf("stream: barrier %d arrived while aligning barrier %d", e, a.epoch))
	}
	a.epoch = e
	a.blocked[from] = true
	a.n++
}

// complete passes the barrier once every live sender delivered it.
func (a *aligner) complete(env *subtaskEnv, live int, head control) {
	if a.n == 0 || a.n < live {
		return
	}
	e := a.epoch
	head.barrier(e)
	env.ackBarrier(e)
	clear(a.blocked)
	a.n, a.epoch = 0, 0
	held := a.held
	a.held = nil
	for _, f := range held {
		f()
	}
}

// processingTicker polls processing-time timers of keyed runners every 10 ms of the
// job's clock (nil channel when the task has none).
func processingTicker(env *subtaskEnv) (<-chan time.Time, func()) {
	if len(env.procNext) == 0 {
		return nil, func() {}
	}
	t := env.run.j.opts.Clock.Ticker(10 * time.Millisecond)
	return t.C, t.Stop
}

// --- two-input runners ---

func setTwoInputKeyed[K comparable, A, B, OUT any](n *node, a KeyedStream[K, A], b KeyedStream[K, B], newOp func() TwoInputOperator[A, B, OUT]) {
	n.newFanout = func() fanoutBuilder { return &fanout[OUT]{} }
	n.makeRunner = func(env *subtaskEnv, outs outputSet) (any, error) {
		op := newOp()
		out := outs.(*fanout[OUT])
		r := &twoInputRunner[A, B, OUT, K]{runnerCore: runnerCore{env: env, name: n.name, wm: MinWatermark}, op: op, out: out, n: n, a: a, b: b}
		if err := r.open(n, func(ctx Context) error { return op.Open(ctx, out) }, op.OnTimer); err != nil {
			return nil, err
		}
		return r, nil
	}
}

type twoInputRunner[A, B, OUT any, K comparable] struct {
	runnerCore
	op      TwoInputOperator[A, B, OUT]
	out     *fanout[OUT]
	n       *node
	a       KeyedStream[K, A]
	b       KeyedStream[K, B]
	scratch []byte
}

func (r *twoInputRunner[A, B, OUT, K]) setKey(k K) {
	r.scratch = r.a.codec.Append(r.scratch[:0], k)
	r.backend.SetCurrentKey(r.scratch, state.KeyGroup(r.scratch, r.ctx.maxPar))
}

func (r *twoInputRunner[A, B, OUT, K]) watermark(wm int64) {
	if wm <= r.wm || r.env.err != nil {
		return
	}
	r.wm = wm
	r.m.wm.Store(wm)
	r.fireEvent(wm, r.op.OnTimer)
	r.env.current = r.name
	if err := r.op.OnWatermark(wm); err != nil {
		r.env.fail(r.name, err)
		return
	}
	r.out.watermark(wm)
	r.sidesWatermark(wm)
}

func (r *twoInputRunner[A, B, OUT, K]) barrier(e uint64) {
	if r.env.err != nil {
		return
	}
	r.preCommit(r.op, e)
	r.freeze(e)
	r.out.barrier(e)
	r.sidesBarrier(e)
}

func (r *twoInputRunner[A, B, OUT, K]) end() {
	if r.closed {
		return
	}
	r.closed = true
	r.watermark(MaxWatermark)
	ck := r.env.run.ckpt != nil
	if ck {
		r.preCommit(r.op, r.env.finalEpoch())
	}
	r.env.current = r.name
	if err := r.op.Close(); err != nil {
		r.env.fail(r.name, fmt.Errorf("close: %w", err))
	}
	if ck {
		r.freeze(r.env.finalEpoch())
	}
	r.out.end()
	r.sidesEnd()
}

// recordA and recordB hand a record of each input to the operator, with its key current.
func (r *twoInputRunner[A, B, OUT, K]) recordA(rec Record[A]) {
	if r.begin(r.a.key(rec.Value)) {
		r.done(r.op.ProcessElement1(rec))
	}
}

func (r *twoInputRunner[A, B, OUT, K]) recordB(rec Record[B]) {
	if r.begin(r.b.key(rec.Value)) {
		r.done(r.op.ProcessElement2(rec))
	}
}

// begin makes k the current key; false once the task failed.
func (r *twoInputRunner[A, B, OUT, K]) begin(k K) bool {
	if r.env.err != nil {
		return false
	}
	r.m.in.Add(1)
	r.setKey(k)
	r.env.current = r.name
	return true
}

func (r *twoInputRunner[A, B, OUT, K]) done(err error) {
	if err != nil {
		r.env.fail(r.name, err)
	}
}

func (r *twoInputRunner[A, B, OUT, K]) loop(env *subtaskEnv) error {
	run := env.run
	chA := run.chans[inputKey{r.n, 0}].([]chan *batch[A])[env.subtask]
	chB := run.chans[inputKey{r.n, 1}].([]chan *batch[B])[env.subtask]
	gA, gB := newGate(run.nsend[inputKey{r.n, 0}]), newGate(run.nsend[inputKey{r.n, 1}])
	procTick, stopTick := processingTicker(env)
	defer stopTick()
	nA := len(gA.wms)
	al := newAligner(nA + len(gB.wms))
	onWM := func() { r.watermark(minInt64(gA.wm, gB.wm)) }
	var deliverA func(b *batch[A])
	var deliverB func(b *batch[B])
	deliverA = func(b *batch[A]) {
		if al.holds(b.from) {
			al.hold(func() { deliverA(b) })
			return
		}
		handle(env, b, gA, r.recordA, onWM, al, 0)
		al.complete(env, gA.live+gB.live, r)
	}
	deliverB = func(b *batch[B]) {
		if al.holds(nA + b.from) {
			al.hold(func() { deliverB(b) })
			return
		}
		handle(env, b, gB, r.recordB, onWM, al, nA)
		al.complete(env, gA.live+gB.live, r)
	}
	for gA.live+gB.live > 0 {
		select {
		case b := <-chA:
			deliverA(b)
		case b := <-chB:
			deliverB(b)
		case <-procTick:
			for _, f := range env.procNext {
				f()
			}
		case <-env.run.done:
			return env.run.ctx.Err()
		}
		if env.err != nil {
			return env.err
		}
		if len(chA) == 0 && len(chB) == 0 {
			for _, w := range env.writers {
				w.flush()
			}
		}
	}
	r.end()
	for _, w := range env.writers {
		w.flush()
	}
	env.finishTask(false)
	return env.err
}

// handle takes one batch of one input of a two-input task; base is the input's first
// sender slot in the aligner.
func handle[T any](env *subtaskEnv, b *batch[T], g *gate, record func(Record[T]), onWM func(), al *aligner, base int) {
	switch b.kind {
	case dataBatch:
		for i := range b.recs {
			env.pos = b.pos[i]
			record(b.recs[i])
		}
		clear(b.recs)
		b.pool.Put(b)
	case wmBatch:
		if _, up := g.advance(b.from, b.wm); up {
			onWM()
		}
	case endBatch:
		if _, up := g.finish(b.from); up {
			onWM()
		}
	case barrierBatch:
		al.arrive(base+b.from, b.e)
	}
}

func minInt64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// --- sources ---

type sourceRunner interface {
	run() error
}

type sourceLoop[T any] struct {
	env     *subtaskEnv
	n       *node
	src     Source[T]
	ws      WatermarkStrategy[T]
	out     *fanout[T]
	readers []SplitReader[T]
	names   []string
	ids     []int32 // split indexes in the job's split table
	wms     []splitWatermarks
	wm      int64
	buf     []Record[T]
}

func newSourceLoop[T any](env *subtaskEnv, n *node, src Source[T], ws WatermarkStrategy[T], out *fanout[T]) (*sourceLoop[T], error) {
	return &sourceLoop[T]{env: env, n: n, src: src, ws: ws, out: out, wm: MinWatermark,
		buf: make([]Record[T], env.run.j.opts.BatchSize)}, nil
}

func (s *sourceLoop[T]) run() error {
	env, r := s.env, s.env.run
	ctx := r.ctx
	env.current = s.n.name
	splits, err := s.src.Splits(ctx)
	if err != nil {
		return r.operatorError(s.n.name, env.subtask, timerPos, fmt.Errorf("list splits: %w", err), "")
	}
	bound := s.ws.OutOfOrderness.Milliseconds()
	for i := env.subtask; i < len(splits); i += s.n.parallelism {
		rd, err := s.src.Open(ctx, splits[i])
		if err != nil {
			return r.operatorError(s.n.name, env.subtask, timerPos, fmt.Errorf("open split %q: %w", splits[i], err), "")
		}
		defer rd.Close()
		r.mu.Lock()
		s.ids = append(s.ids, int32(len(r.splits)))
		r.splits = append(r.splits, splitName{source: s.n.name, split: splits[i]})
		r.mu.Unlock()
		w := splitWatermarks{maxTs: MinWatermark, bound: bound, lastData: r.j.opts.Clock.Now()}
		if r.ckpt != nil {
			if err := s.restore(rd, splits[i], &w); err != nil {
				return r.operatorError(s.n.name, env.subtask, timerPos, err, "")
			}
		}
		s.readers = append(s.readers, rd)
		s.names = append(s.names, splits[i])
		s.wms = append(s.wms, w)
	}
	var counters []ByteCounter
	for _, rd := range s.readers {
		if bc, ok := rd.(ByteCounter); ok {
			counters = append(counters, bc)
		}
	}
	if len(counters) > 0 {
		f := func() (n int64) {
			for _, c := range counters {
				n += c.Bytes()
			}
			return n
		}
		s.env.run.metrics.of(s.n, env.subtask).bytes.Store(&f)
	}
	live := len(s.readers)
	clk := r.j.opts.Clock
	if r.ckpt != nil {
		s.advanceWatermark() // from the restored positions
	}
	for live > 0 {
		if r.ckpt != nil {
			for t := r.ckpt.triggered.Load(); env.lastEpoch < t && env.err == nil; {
				s.inject(env.lastEpoch + 1)
			}
		}
		progressed := false
		for i, rd := range s.readers {
			w := &s.wms[i]
			if w.done {
				continue
			}
			off := rd.Offset()
			n, err := rd.Read(s.buf)
			if n > 0 {
				progressed = true
				w.lastData, w.idle = clk.Now(), false
				s.emit(i, off, n)
				if env.err != nil {
					return env.err
				}
			}
			if err == io.EOF { // only a bare io.EOF ends a split: a wrapped one is an error (a truncated record, say)
				w.done = true
				live--
			} else if err != nil {
				env.pos = srcPos{split: s.ids[i], offset: rd.Offset()}
				return r.operatorError(s.n.name, env.subtask, env.pos, err, "")
			}
		}
		s.advanceWatermark()
		for _, w := range env.writers {
			w.flush()
		}
		if r.isDone() {
			return ctx.Err()
		}
		if !progressed && live > 0 {
			if err := s.wait(ctx); err != nil {
				return err
			}
		}
	}
	s.out.watermark(MaxWatermark)
	s.out.end()
	for _, w := range env.writers {
		w.flush()
	}
	if r.ckpt != nil {
		s.positions()
		env.finishTask(true)
	}
	return env.err
}

// restore seeks a split's reader to its position in the last checkpoint and restores the
// split's watermark base.
func (s *sourceLoop[T]) restore(rd SplitReader[T], split string, w *splitWatermarks) error {
	pos, ok := s.env.run.ckpt.restoredPosition(s.n.name, split)
	if !ok {
		return nil
	}
	sk, ok := rd.(Seeker)
	if !ok {
		return fmt.Errorf("split %q cannot resume at offset %d of the last checkpoint: its reader (%T) does not implement stream.Seeker", split, pos.Offset, rd)
	}
	if err := sk.SeekTo(pos.Offset); err != nil {
		return fmt.Errorf("resume split %q at offset %d: %w", split, pos.Offset, err)
	}
	w.maxTs = pos.MaxTs
	return nil
}

// positions records every split's position in the task's parts.
func (s *sourceLoop[T]) positions() {
	for i, rd := range s.readers {
		var ref *rlog.QueueRef
		if ls, ok := rd.(LogSplit); ok {
			q := ls.LogQueue()
			ref = &q
		}
		s.env.parts.position(splitKey(s.n.name, s.names[i]), checkpoint.SplitState{Offset: rd.Offset(), MaxTs: s.wms[i].maxTs}, ref)
	}
}

// inject records the splits' positions and sends barrier e through the task.
func (s *sourceLoop[T]) inject(e uint64) {
	s.positions()
	s.env.current = s.n.name
	s.out.barrier(e)
	s.env.ackBarrier(e)
}

// emit pushes the n records just read from split i (the first at offset off).
func (s *sourceLoop[T]) emit(i int, off int64, n int) {
	w := &s.wms[i]
	ts := s.ws.Timestamp
	for k := 0; k < n; k++ {
		rec := &s.buf[k]
		if ts != nil {
			rec.Timestamp = ts(rec.Value)
		}
		if rec.Timestamp > w.maxTs {
			w.maxTs = rec.Timestamp
		}
		s.env.pos = srcPos{split: s.ids[i], offset: off + int64(k)}
		s.out.Emit(*rec)
		if s.env.err != nil {
			return
		}
	}
	clear(s.buf[:n])
}

// advanceWatermark emits the minimum of the splits' watermarks when it rose.
func (s *sourceLoop[T]) advanceWatermark() {
	if s.ws.NoWatermarks {
		return
	}
	now := s.env.run.j.opts.Clock.Now()
	min, any := MaxWatermark, false
	for i := range s.wms {
		w := &s.wms[i]
		if !w.done && s.ws.Idleness > 0 && now.Sub(w.lastData) >= s.ws.Idleness {
			w.idle = true
		}
		if w.idle {
			continue
		}
		any = true
		if c := w.current(); c < min {
			min = c
		}
	}
	if any && min > s.wm && min != MaxWatermark {
		s.wm = min
		s.env.run.metrics.of(s.n, s.env.subtask).wm.Store(min)
		s.out.watermark(min)
	}
}

// wait blocks until a split may have records (or the idleness timeout passes).
func (s *sourceLoop[T]) wait(ctx context.Context) error {
	wctx := ctx
	if s.ws.Idleness > 0 {
		var cancel context.CancelFunc
		wctx, cancel = clockTimeout(ctx, s.env.run.j.opts.Clock, s.ws.Idleness)
		defer cancel()
	}
	if c := s.env.run.ckpt; c != nil {
		// A checkpoint trigger ends the wait: the barrier must not wait for data.
		tctx := c.triggerContext()
		if c.triggered.Load() > s.env.lastEpoch {
			return nil
		}
		var cancel context.CancelFunc
		wctx, cancel = context.WithCancel(wctx)
		defer cancel()
		defer context.AfterFunc(tctx, cancel)()
	}
	for i, rd := range s.readers {
		if !s.wms[i].done {
			err := rd.Wait(wctx)
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			return nil
		}
	}
	return nil
}

func clockTimeout(ctx context.Context, c clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	t := c.AfterFunc(d, cancel)
	return ctx, func() { t.Stop(); cancel() }
}

// --- operator context ---

type opContext struct {
	name    string
	subtask int
	par     int
	maxPar  int
	clock   clock.Clock
	logger  *slog.Logger
	backend state.Backend
	timers  TimerService
	sides   map[string]any
	txns    *coordinator // nil without checkpoints
}

func (c *opContext) OperatorName() string { return c.name }
func (c *opContext) Subtask() int         { return c.subtask }
func (c *opContext) Parallelism() int     { return c.par }
func (c *opContext) MaxParallelism() int  { return c.maxPar }
func (c *opContext) Clock() clock.Clock   { return c.clock }
func (c *opContext) Logger() *slog.Logger { return c.logger }
func (c *opContext) State() state.Backend { return c.backend }
func (c *opContext) Timers() TimerService { return c.timers }
func (c *opContext) SideOutput(id string) any {
	if f, ok := c.sides[id]; ok {
		return f
	}
	return nil
}

// NewTimerService returns the TimerService of a keyed operator: timers of backend b,
// scoped to its current key; *watermark is the operator's current watermark. The runtime
// and the test harnesses share it.
func NewTimerService(b state.Backend, watermark *int64, c clock.Clock) TimerService {
	return &timerService{b: b, wm: watermark, clock: c}
}

type timerService struct {
	b     state.Backend
	wm    *int64
	clock clock.Clock
}

func (s *timerService) t(ns []byte, ts int64) state.Timer {
	return state.Timer{Timestamp: ts, KeyGroup: s.b.CurrentKeyGroup(), Key: s.b.CurrentKey(), Namespace: ns}
}
func (s *timerService) CurrentWatermark() int64      { return *s.wm }
func (s *timerService) CurrentProcessingTime() int64 { return s.clock.Now().UnixMilli() }
func (s *timerService) RegisterEventTimeTimer(ns []byte, ts int64) {
	s.b.Timers().Register(state.EventTime, s.t(ns, ts))
}
func (s *timerService) DeleteEventTimeTimer(ns []byte, ts int64) {
	s.b.Timers().Delete(state.EventTime, s.t(ns, ts))
}
func (s *timerService) RegisterProcessingTimeTimer(ns []byte, ts int64) {
	s.b.Timers().Register(state.ProcessingTime, s.t(ns, ts))
}
func (s *timerService) DeleteProcessingTimeTimer(ns []byte, ts int64) {
	s.b.Timers().Delete(state.ProcessingTime, s.t(ns, ts))
}
