package stream

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/benbjohnson/clock"

	"github.com/riffle-streams/riffle/state"
)

// JobOptions configures a Job. Every field documents its default.
type JobOptions struct {
	// Parallelism of operators that do not set their own. Default 1.
	Parallelism int
	// MaxParallelism is the number of key groups, the upper bound of any keyed operator's
	// parallelism. Default 128. It is part of the state format: keep it across restarts.
	MaxParallelism int
	// BatchSize is the most records per batch on a channel between tasks. Default 512.
	BatchSize int
	// ChannelBatches is how many batches a channel buffers before its sender blocks
	// (backpressure). Default 16.
	ChannelBatches int
	// Clock is processing time. Default the real clock.
	Clock clock.Clock
	// Logger receives the job's log lines. Default slog.Default().
	Logger *slog.Logger
	// NewStateBackend creates the keyed state backend of one keyed operator subtask.
	// Default: an in-memory state.Heap.
	NewStateBackend func(operator string, subtask int, kgs state.KeyGroupRange) (state.Backend, error)
	// Checkpoints, when set, runs the job exactly-once with its state in Badger (and
	// NewStateBackend is not used). See Checkpointing.
	Checkpoints *Checkpointing
	// Restart restarts the job when it fails while running (see RestartStrategy).
	Restart RestartStrategy
}

func (o *JobOptions) ensureDefaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = 1
	}
	if o.MaxParallelism <= 0 {
		o.MaxParallelism = state.DefaultMaxParallelism
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.ChannelBatches <= 0 {
		o.ChannelBatches = 16
	}
	if o.Clock == nil {
		o.Clock = clock.New()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NewStateBackend == nil {
		o.NewStateBackend = func(_ string, _ int, kgs state.KeyGroupRange) (state.Backend, error) {
			return state.NewHeap(state.HeapOptions{MaxParallelism: o.MaxParallelism, KeyGroups: kgs, Clock: o.Clock}), nil
		}
	}
}

// Job is a dataflow under construction: sources, operators and sinks connected by
// streams. Build it with FromSource, the Stream methods and the operators package, then
// call Run. A Job runs once.
type Job struct {
	name  string
	opts  JobOptions
	nodes []*node
	names map[string]int
	ran   bool
	err   error // the first construction error, reported by Run

	cur      atomic.Pointer[jobRun] // the current (or last) run, for Metrics
	restarts atomic.Int64
}

// NewJob returns an empty job.
func NewJob(name string, opts JobOptions) *Job {
	opts.ensureDefaults()
	return &Job{name: name, opts: opts, names: map[string]int{}}
}

// Name returns the job's name.
func (j *Job) Name() string { return j.name }

// Options returns the job's options, defaults filled in.
func (j *Job) Options() JobOptions { return j.opts }

func (j *Job) fail(err error) {
	if j.err == nil {
		j.err = err
	}
}

// uniqueName makes operator names unique: "map", "map-2", ...
func (j *Job) uniqueName(name string) string {
	j.names[name]++
	if n := j.names[name]; n > 1 {
		return fmt.Sprintf("%s-%d", name, n)
	}
	return name
}

// partitioning says how records travel an edge.
type partitioning int

const (
	forward   partitioning = iota // subtask i to subtask i (chained when it can be)
	rebalance                     // round-robin
	broadcast                     // to every subtask
	hashed                        // by key group
)

func (p partitioning) String() string {
	return [...]string{"forward", "rebalance", "broadcast", "hash"}[p]
}

// node is one operator of the graph. Its typed behaviour lives in closures made by the
// generic functions that created it.
type node struct {
	id          int
	name        string
	parallelism int
	setPar      bool // parallelism set explicitly
	kind        nodeKind
	inputs      []*edge
	outputs     []*edge
	keyed       bool // its state is keyed by its (hash) input edges
	// makeRunner creates the node's runner for one subtask; outs is its fan-out.
	makeRunner func(env *subtaskEnv, outs outputSet) (any, error)
	// newFanout makes the node's typed output fan-out.
	newFanout func() fanoutBuilder
	// source only: creates the source subtask's loop.
	makeSource func(env *subtaskEnv, outs outputSet) (sourceRunner, error)
	// sides are the side outputs read from this node, by tag id.
	sides map[string]*node
	sink  any // a sink node's Sink
	// listener is a source node's Source, when it is a CheckpointListener.
	listener CheckpointListener
}

type nodeKind int

const (
	sourceNode nodeKind = iota
	oneInputNode
	twoInputNode
	sinkNode
	sideNode // a side output of its single input node; always chained to it
)

// edge carries records of one type from one node to another.
type edge struct {
	from, to *node
	input    int // 0, or 1 for the second input of a two-input node
	part     partitioning
	sideTag  string
	// typed constructors, made by the generic function that created the edge:
	newChannels func(n, capacity int) any // []chan *batch[T]
	// newWriter returns the typed writer (an input[T]) of one sending subtask.
	newWriter func(env *subtaskEnv, chans any) any
}

func (j *Job) addNode(n *node) *node {
	n.id = len(j.nodes)
	if n.parallelism == 0 {
		n.parallelism = j.opts.Parallelism
	}
	j.nodes = append(j.nodes, n)
	return n
}

// Stream is a stream of records of T: the output of a source or an operator.
type Stream[T any] struct {
	j    *Job
	n    *node
	part partitioning // how the next operator receives the records (forward unless set)
}

// Job returns the job the stream belongs to.
func (s Stream[T]) Job() *Job { return s.j }

// Name returns the name of the operator producing the stream.
func (s Stream[T]) Name() string { return s.n.name }

// SetParallelism sets the parallelism of the operator producing the stream (not of a
// keyed operator above its max parallelism) and returns the stream.
func (s Stream[T]) SetParallelism(p int) Stream[T] {
	if p < 1 {
		s.j.fail(fmt.Errorf("stream: %s: parallelism %d must be at least 1", s.n.name, p))
		return s
	}
	if s.n.keyed && p > s.j.opts.MaxParallelism {
		s.j.fail(fmt.Errorf("stream: %s: parallelism %d exceeds the max parallelism %d", s.n.name, p, s.j.opts.MaxParallelism))
		return s
	}
	s.n.parallelism, s.n.setPar = p, true
	return s
}

// connect makes an edge of T from s to the node to.
func connect[T any](s Stream[T], to *node, input int, part partitioning, route func(T) int) *edge {
	if part == forward {
		part = s.part
	}
	e := &edge{from: s.n, to: to, input: input, part: part}
	e.newChannels = func(n, capacity int) any {
		chans := make([]chan *batch[T], n)
		for i := range chans {
			chans[i] = make(chan *batch[T], capacity)
		}
		return chans
	}
	e.newWriter = func(env *subtaskEnv, chans any) any {
		return newNetWriter[T](env, e, chans.([]chan *batch[T]), route)
	}
	s.n.outputs = append(s.n.outputs, e)
	to.inputs = append(to.inputs, e)
	return e
}

// Rebalance makes the next operator receive the stream round-robin over its subtasks.
func (s Stream[T]) Rebalance() Stream[T] { s.part = rebalance; return s }

// Broadcast makes every subtask of the next operator receive every record.
func (s Stream[T]) Broadcast() Stream[T] { s.part = broadcast; return s }

type identity[T any] struct {
	BaseOperator
	out Output[T]
}

func (o *identity[T]) Open(_ Context, out Output[T]) error { o.out = out; return nil }
func (o *identity[T]) ProcessElement(r Record[T]) error    { o.out.Emit(r); return nil }

// Union merges s and others (of the same type) into one stream.
func (s Stream[T]) Union(others ...Stream[T]) Stream[T] {
	n := s.j.addNode(&node{name: s.j.uniqueName("union"), kind: oneInputNode})
	for _, in := range append([]Stream[T]{s}, others...) {
		if in.j != s.j {
			s.j.fail(fmt.Errorf("stream: union of streams of different jobs"))
			return s
		}
		connect(in, n, 0, rebalance, nil)
	}
	setOneInput[T, T](n, func() Operator[T, T] { return &identity[T]{} })
	return Stream[T]{j: s.j, n: n}
}

// Filter keeps the records for which keep returns true.
func (s Stream[T]) Filter(keep func(T) bool) Stream[T] {
	return Transform(s, "filter", func() Operator[T, T] { return &filterOp[T]{keep: keep} })
}

type filterOp[T any] struct {
	BaseOperator
	keep func(T) bool
	out  Output[T]
}

func (o *filterOp[T]) Open(_ Context, out Output[T]) error { o.out = out; return nil }
func (o *filterOp[T]) ProcessElement(r Record[T]) error {
	if o.keep(r.Value) {
		o.out.Emit(r)
	}
	return nil
}

// KeyedStream is a stream partitioned by a key: keyed operators after it see all records
// of a key in one subtask, with keyed state and timers.
type KeyedStream[K comparable, T any] struct {
	s     Stream[T]
	key   func(T) K
	codec state.KeyCodec[K]
}

// KeyBy partitions s by key. K must have a canonical encoding (state.KeyCodecFor):
// strings, integers, bools, or structs and arrays of them.
func KeyBy[T any, K comparable](s Stream[T], key func(T) K) KeyedStream[K, T] {
	c, err := state.KeyCodecFor[K]()
	if err != nil {
		s.j.fail(fmt.Errorf("stream: KeyBy after %s: %w", s.n.name, err))
	}
	return KeyedStream[K, T]{s: s, key: key, codec: c}
}

// Stream returns the keyed stream's records as a plain stream.
func (k KeyedStream[K, T]) Stream() Stream[T] { return k.s }

// KeyOf returns the key of a value.
func (k KeyedStream[K, T]) KeyOf(v T) K { return k.key(v) }

// KeyCodec returns the codec of the keys.
func (k KeyedStream[K, T]) KeyCodec() state.KeyCodec[K] { return k.codec }

// Transform adds an operator made by newOp (once per subtask) after s.
func Transform[IN, OUT any](s Stream[IN], name string, newOp func() Operator[IN, OUT]) Stream[OUT] {
	n := s.j.addNode(&node{name: s.j.uniqueName(name), kind: oneInputNode})
	connect(s, n, 0, forward, nil)
	setOneInput(n, newOp)
	return Stream[OUT]{j: s.j, n: n}
}

// TransformKeyed adds a keyed operator after k: records are routed by key group, and the
// operator has keyed state and timers.
func TransformKeyed[K comparable, IN, OUT any](k KeyedStream[K, IN], name string, newOp func() Operator[IN, OUT]) Stream[OUT] {
	j := k.s.j
	n := j.addNode(&node{name: j.uniqueName(name), kind: oneInputNode, keyed: true})
	connectKeyed(k, n, 0)
	setOneInputKeyed(n, k, newOp)
	return Stream[OUT]{j: j, n: n}
}

// TransformKeyed2 adds a keyed two-input operator (a join) after a and b, keyed alike.
func TransformKeyed2[K comparable, A, B, OUT any](a KeyedStream[K, A], b KeyedStream[K, B], name string, newOp func() TwoInputOperator[A, B, OUT]) Stream[OUT] {
	j := a.s.j
	if b.s.j != j {
		j.fail(fmt.Errorf("stream: %s joins streams of different jobs", name))
	}
	n := j.addNode(&node{name: j.uniqueName(name), kind: twoInputNode, keyed: true})
	connectKeyed(a, n, 0)
	connectKeyed(b, n, 1)
	setTwoInputKeyed(n, a, b, newOp)
	return Stream[OUT]{j: j, n: n}
}

func connectKeyed[K comparable, T any](k KeyedStream[K, T], to *node, input int) {
	j := k.s.j
	route := func(v T) int {
		// The subtask is decided at the writer, which knows the parallelism; here, the
		// key group.
		var buf [64]byte
		kb := k.codec.Append(buf[:0], k.key(v))
		return state.KeyGroup(kb, j.opts.MaxParallelism)
	}
	connect(k.s, to, input, hashed, route)
}

// SideOutput returns the records the operator producing s emits to tag (EmitSide).
func SideOutput[T, U any](s Stream[U], tag OutputTag[T]) Stream[T] {
	if s.n.sides == nil {
		s.n.sides = map[string]*node{}
	}
	if n, ok := s.n.sides[tag.ID]; ok {
		return Stream[T]{j: s.j, n: n}
	}
	n := s.j.addNode(&node{name: s.j.uniqueName(s.n.name + "-" + tag.ID), kind: sideNode, parallelism: s.n.parallelism})
	s.n.sides[tag.ID] = n
	n.newFanout = func() fanoutBuilder { return &fanout[T]{} }
	return Stream[T]{j: s.j, n: n}
}
