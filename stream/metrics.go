package stream

import (
	"sync/atomic"
	"time"
)

// subtaskMetrics are one operator subtask's counters, written by its task and read by
// Job.Metrics from any goroutine.
type subtaskMetrics struct {
	in, out atomic.Int64
	wm      atomic.Int64
	// bytes, when set, reports the bytes a source subtask read or a sink subtask wrote
	// (ByteCounter).
	bytes atomic.Pointer[func() int64]
}

// ByteCounter is a SplitReader or SinkWriter that counts the bytes it read or wrote (the
// runner's metrics report them). Bytes must be safe to call from any goroutine.
type ByteCounter interface {
	Bytes() int64
}

// runMetrics holds the counters of one run, per node and subtask.
type runMetrics struct {
	nodes map[*node][]*subtaskMetrics
	start time.Time
}

func newRunMetrics(nodes []*node) *runMetrics {
	m := &runMetrics{nodes: map[*node][]*subtaskMetrics{}, start: time.Now()}
	for _, n := range nodes {
		subs := make([]*subtaskMetrics, n.parallelism)
		for i := range subs {
			subs[i] = &subtaskMetrics{}
			subs[i].wm.Store(MinWatermark)
		}
		m.nodes[n] = subs
	}
	return m
}

func (m *runMetrics) of(n *node, subtask int) *subtaskMetrics { return m.nodes[n][subtask] }

// Metrics is a snapshot of a running job (Job.Metrics).
type Metrics struct {
	Job     string
	Running bool
	// Started is when the current run started; Restarts counts the runs before it.
	Started  time.Time
	Restarts int
	// Operators in the order the job declared them (a DAG in topological order).
	Operators   []OperatorMetrics
	Checkpoints CheckpointMetrics
}

// OperatorMetrics are one operator's counters.
type OperatorMetrics struct {
	Name        string
	Kind        string // source, operator, two-input, sink, side-output
	Parallelism int
	// Inputs name the operators feeding this one, with the partitioning of each edge.
	Inputs   []EdgeInfo
	Subtasks []SubtaskMetrics
}

// EdgeInfo describes an input edge.
type EdgeInfo struct {
	From         string `json:"from"`
	Partitioning string `json:"partitioning"` // forward, rebalance, broadcast, hash
	Chained      bool   `json:"chained"`
}

// SubtaskMetrics are one operator subtask's counters since its run started.
type SubtaskMetrics struct {
	RecordsIn, RecordsOut int64
	// Bytes a source subtask read or a sink subtask wrote (0 when its connector does not
	// count them).
	Bytes int64
	// Watermark is the subtask's current watermark (MinWatermark before the first).
	Watermark int64
}

// CheckpointMetrics describe the job's checkpoints (zero without checkpoints).
type CheckpointMetrics struct {
	Enabled bool
	// LastEpoch is the last committed epoch (also of earlier runs); Committed counts the
	// epochs this run committed.
	LastEpoch     uint64
	Committed     uint64
	LastDuration  time.Duration // from trigger to commit of the last epoch
	LastCommitted time.Time
	// StateBytes is the size of the job's Badger store on disk.
	StateBytes int64
}

// Totals sums an operator's subtasks.
func (o OperatorMetrics) Totals() SubtaskMetrics {
	t := SubtaskMetrics{Watermark: MaxWatermark}
	for _, s := range o.Subtasks {
		t.RecordsIn += s.RecordsIn
		t.RecordsOut += s.RecordsOut
		t.Bytes += s.Bytes
		t.Watermark = min(t.Watermark, s.Watermark)
	}
	if len(o.Subtasks) == 0 {
		t.Watermark = MinWatermark
	}
	return t
}

// Metrics returns a snapshot of the job's counters; safe to call from any goroutine
// while the job runs (and after: the last run's final counters).
func (j *Job) Metrics() Metrics {
	m := Metrics{Job: j.name}
	r := j.cur.Load()
	if r == nil {
		return m
	}
	m.Running = !r.isDone()
	m.Started = r.metrics.start
	m.Restarts = int(j.restarts.Load())
	for _, n := range j.nodes {
		om := OperatorMetrics{Name: n.name, Kind: n.kind.String(), Parallelism: n.parallelism}
		for _, e := range n.inputs {
			om.Inputs = append(om.Inputs, EdgeInfo{From: e.from.name, Partitioning: e.part.String(), Chained: r.chained(e)})
		}
		for _, sm := range r.metrics.nodes[n] {
			st := SubtaskMetrics{RecordsIn: sm.in.Load(), RecordsOut: sm.out.Load(), Watermark: sm.wm.Load()}
			if f := sm.bytes.Load(); f != nil {
				st.Bytes = (*f)()
			}
			om.Subtasks = append(om.Subtasks, st)
		}
		if n.kind == sourceNode {
			for i := range om.Subtasks {
				om.Subtasks[i].RecordsIn = om.Subtasks[i].RecordsOut
			}
		}
		m.Operators = append(m.Operators, om)
	}
	if c := r.ckpt; c != nil {
		m.Checkpoints = c.metrics()
	}
	return m
}

func (k nodeKind) String() string {
	return [...]string{"source", "operator", "two-input", "sink", "side-output"}[k]
}
