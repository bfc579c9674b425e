package compare

// Stream-processing workloads, side by side: the same input, the same computation and
// the same check of the output, on riffle's stream API and on a peer per workload
// (goka for the keyed running count, Benthos for the stateless transform, go-streams for
// the windowed count). RunStream runs one system on one workload in this process;
// RunStreams (streams_runner.go) repeats it, each run in a fresh child process when
// StreamConfig.Child is set, and reports the medians.

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
)

// StreamWorkload names one of the compared stream-processing workloads.
type StreamWorkload string

const (
	// KeyedCount is a running count per key with keyed state: for every input message,
	// the count of its key so far is emitted (examples/runcount). Input: Records
	// messages over Keys keys, pre-produced into the system's own log or broker.
	KeyedCount StreamWorkload = "count"
	// Transform is stateless: parse a CSV line, drop it if its amount is below 250
	// (a quarter of the lines), upper-case its second field and format it again.
	Transform StreamWorkload = "transform"
	// WindowedCount counts events per key in tumbling windows.
	WindowedCount StreamWorkload = "window"
)

// AllStreamWorkloads in the order they run.
var AllStreamWorkloads = []StreamWorkload{KeyedCount, Transform, WindowedCount}

// StreamSpec is one run of one system on one workload. It travels to a child process
// as JSON.
type StreamSpec struct {
	Workload StreamWorkload `json:"workload"`
	System   string         `json:"system"`
	// Records is the number of input records.
	Records int `json:"records"`
	// Keys is the number of distinct keys (KeyedCount, WindowedCount).
	Keys int `json:"keys"`
	// Dir is an empty scratch directory for the run's data (logs, state stores); the
	// caller removes it.
	Dir string `json:"dir"`
	// CPUProfile, if set, is written for the timed part of the run.
	CPUProfile string `json:"cpuprofile,omitempty"`
	// Collect keeps the outputs (sorted text lines) in the outcome: small inputs only.
	Collect bool `json:"collect,omitempty"`
	// CheckpointInterval of riffle's exactly-once KeyedCount; 0: runcount's default,
	// 1 s.
	CheckpointInterval time.Duration `json:"checkpoint_interval,omitempty"`
}

// StreamOutcome is what one run measured.
type StreamOutcome struct {
	Records int64         `json:"records"` // input records
	Outputs int64         `json:"outputs"` // output records received by the harness
	Elapsed time.Duration `json:"elapsed_ns"`
	// CPU is the process's user+system time (getrusage) during the timed part: every
	// goroutine of the system, its storage and, where it has one, its in-process broker.
	CPU time.Duration `json:"cpu_ns"`
	// Check says what the output was compared with; CheckErr is empty when it matched.
	Check    string `json:"check"`
	CheckErr string `json:"check_error,omitempty"`
	// RSSStart is VmRSS when the timed part starts (input already generated, and for
	// KeyedCount already produced; after a GC that returned free memory to the OS);
	// RSSPeak the highest VmRSS sampled every 2 ms until it ends; HWM the kernel's peak
	// (VmHWM) over the timed part alone: reset at its start through
	// /proc/self/clear_refs, read at its end (0 where that is not available). MaxRSS is
	// the process's peak over its whole life (getrusage maxrss: input generation and
	// the output check included).
	RSSStart int64 `json:"rss_start"`
	RSSPeak  int64 `json:"rss_peak"`
	HWM      int64 `json:"hwm"`
	MaxRSS   int64 `json:"max_rss"`
	// OtherCPU is the share of the machine's CPU other processes used during the timed
	// part; Load1 the 1-minute load average when it started.
	OtherCPU float64 `json:"other_cpu"`
	Load1    float64 `json:"load1"`
	// Lines are the sorted outputs, with Collect.
	Lines []string `json:"lines,omitempty"`
	// Checkpoints is the number of checkpoint epochs the run committed (riffle's
	// exactly-once KeyedCount; 0 elsewhere).
	Checkpoints int64 `json:"checkpoints,omitempty"`
	// Details are what the system reported about the run (Outputs.Detail): checkpoints
	// committed, start-up time.
	Details []string `json:"details,omitempty"`
}

// StreamSystem is one system's implementation of some of the workloads.
type StreamSystem struct {
	Name string
	// Runs, per workload, runs it on in and reports every output to out. The clock runs
	// from out.Start, which the function calls after its untimed set-up (pre-producing
	// the input into its log or broker, building the pipeline), to out.Stop or its
	// return.
	Runs map[StreamWorkload]func(ctx context.Context, in *StreamInput, out *Outputs) error
	// Semantics says, per workload, what the system guarantees and how it was set up.
	Semantics map[StreamWorkload]string
	// ProcessingTimeWindows: the system's WindowedCount windows are processing-time
	// windows, so only its totals per key can be checked.
	ProcessingTimeWindows bool
}

// StreamSystems returns every implemented system, riffle first.
func StreamSystems() []StreamSystem {
	return []StreamSystem{riffleStreams(), gokaSystem(), benthosSystem(), benthosGoSystem(), goStreamsSystem(), goStreamsKeyedSystem(), plainGoSystem()}
}

// StreamSystemByName finds a system of StreamSystems.
func StreamSystemByName(name string) (StreamSystem, bool) {
	for _, s := range StreamSystems() {
		if s.Name == name {
			return s, true
		}
	}
	return StreamSystem{}, false
}

// --- inputs ---

// StreamInput is a workload's input, generated before the clock starts.
type StreamInput struct {
	Spec StreamSpec
	// KeyedCount: message i has key CountKey(i) (and no value).
	// Transform: Lines.
	Lines [][]byte
	// WindowedCount: Events, in event-time order.
	Events []Event
}

// Event is an input of WindowedCount: a key and an event time in ms.
type Event struct {
	Key int64
	TS  int64
}

const (
	// WindowSize is the tumbling window of WindowedCount, in event time. Events are
	// EventStep apart: 1,000 events per window.
	WindowSize = time.Second
	EventStep  = time.Millisecond
	// eventBase is the event time of the first event (2026-01-01T00:00:00Z), a window
	// boundary.
	eventBase int64 = 1767225600000
	// TransformMinAmount: Transform drops lines whose amount is below it.
	TransformMinAmount = 250
)

// CountKey is the key of KeyedCount's message i.
func CountKey(i, keys int) string { return "key-" + strconv.Itoa(i%keys) }

// splitmix64 scatters i (deterministically: every system and run gets the same input).
func splitmix64(i uint64) uint64 {
	z := i + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

var actions = []string{"click", "view", "purchase", "scroll", "hover", "share", "like", "comment"}

// NewStreamInput generates the input of spec's workload.
func NewStreamInput(spec StreamSpec) *StreamInput {
	in := &StreamInput{Spec: spec}
	switch spec.Workload {
	case Transform:
		in.Lines = make([][]byte, spec.Records)
		buf := make([]byte, 0, 24*spec.Records)
		for i := range spec.Records {
			r := splitmix64(uint64(i))
			start := len(buf)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, ',')
			buf = append(buf, actions[r%uint64(len(actions))]...)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64((r>>8)%1000), 10)
			in.Lines[i] = buf[start:len(buf):len(buf)]
		}
	case WindowedCount:
		in.Events = make([]Event, spec.Records)
		for i := range spec.Records {
			in.Events[i] = Event{Key: int64(splitmix64(uint64(i)) % uint64(spec.Keys)), TS: eventBase + int64(i)*EventStep.Milliseconds()}
		}
	}
	return in
}

// --- the transform, shared by every system that runs Go code ---

// Parsed is a parsed Transform line.
type Parsed struct {
	ID     int64
	Action []byte
	Amount int64
}

// ParseLine parses "ID,ACTION,AMOUNT".
func ParseLine(line []byte) (Parsed, error) {
	i := indexByte(line, ',')
	if i < 0 {
		return Parsed{}, fmt.Errorf("no comma in %q", line)
	}
	j := indexByte(line[i+1:], ',')
	if j < 0 {
		return Parsed{}, fmt.Errorf("one comma in %q", line)
	}
	j += i + 1
	id, err := atoi(line[:i])
	if err != nil {
		return Parsed{}, err
	}
	amount, err := atoi(line[j+1:])
	if err != nil {
		return Parsed{}, err
	}
	return Parsed{ID: id, Action: line[i+1 : j], Amount: amount}, nil
}

// Keep is the filter: amounts of at least TransformMinAmount.
func Keep(p Parsed) bool { return p.Amount >= TransformMinAmount }

// Format writes "ID,ACTION,AMOUNT" with ACTION upper-cased (ASCII) into a new slice.
func Format(p Parsed) []byte {
	b := make([]byte, 0, 24)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, ',')
	for _, c := range p.Action {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	b = append(b, ',')
	return strconv.AppendInt(b, p.Amount, 10)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func atoi(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, fmt.Errorf("bad number %q", b)
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number %q", b)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// --- outputs and their check ---

// Outputs receives a run's outputs and checks them against the model: a count, an
// order-independent sum of 64-bit hashes of the outputs (a lost, duplicated or wrong
// output changes it) and, for WindowedCount, the total per key. It is not safe for
// concurrent use: a system whose outputs arrive on several goroutines serializes them.
type Outputs struct {
	workload StreamWorkload
	n        int64
	sum      uint64
	totals   map[int64]int64 // WindowedCount
	collect  bool
	lines    []string
	details  []string
	epochs   int64
	start    func()
	stop     func()
	started  bool
	stopped  bool
}

func newOutputs(w StreamWorkload, collect bool, start, stop func()) *Outputs {
	o := &Outputs{workload: w, collect: collect, start: start, stop: stop}
	if w == WindowedCount {
		o.totals = map[int64]int64{}
	}
	return o
}

// Start starts the clock: every system calls it once its untimed set-up (pre-producing
// the input, building the pipeline) is done. Later calls do nothing.
func (o *Outputs) Start() {
	if !o.started {
		o.started = true
		o.start()
	}
}

// Stop stops the clock: a system calls it once every output has reached the harness,
// before its untimed shutdown. If it does not, the clock stops when its run function
// returns. Later calls do nothing.
func (o *Outputs) Stop() {
	if o.started && !o.stopped {
		o.stopped = true
		o.stop()
	}
}

// Detail records a fact about the run for the report (checkpoints committed, start-up
// time).
func (o *Outputs) Detail(s string) { o.details = append(o.details, s) }

// Checkpoints records how many checkpoint epochs the run committed.
func (o *Outputs) Checkpoints(n int64) { o.epochs = n }

// Count records that key's running count reached n (KeyedCount).
func (o *Outputs) Count(key []byte, n int64) {
	o.n++
	o.sum += countHash(key, n)
	if o.collect {
		o.lines = append(o.lines, string(key)+"\t"+strconv.FormatInt(n, 10))
	}
}

func countHash(key []byte, n int64) uint64 {
	return xxhash.Sum64(key) ^ splitmix64(uint64(n))
}

// Line records a Transform output.
func (o *Outputs) Line(b []byte) {
	o.n++
	o.sum += xxhash.Sum64(b)
	if o.collect {
		o.lines = append(o.lines, string(b))
	}
}

// Window records that key had n events in the window starting at start (ms).
// Systems whose windows are not event-time windows pass start -1: only the totals
// per key are checked then.
func (o *Outputs) Window(key, start, n int64) {
	o.n++
	o.totals[key] += n
	if start >= 0 {
		o.sum += windowHash(key, start, n)
	}
	if o.collect {
		o.lines = append(o.lines, fmt.Sprintf("%d\t%d\t%d", key, start, n))
	}
}

func windowHash(key, start, n int64) uint64 {
	var b [24]byte
	binary.LittleEndian.PutUint64(b[:], uint64(key))
	binary.LittleEndian.PutUint64(b[8:], uint64(start))
	binary.LittleEndian.PutUint64(b[16:], uint64(n))
	return xxhash.Sum64(b[:])
}

// Lines returns the collected outputs, sorted.
func (o *Outputs) Lines() []string {
	l := slices.Clone(o.lines)
	slices.Sort(l)
	return l
}

// check compares the outputs with the model of in's workload and says what it checked.
// eventTime is false for a WindowedCount system whose windows are not event-time ones.
func (o *Outputs) check(in *StreamInput, eventTime bool) (what string, err error) {
	spec := in.Spec
	switch spec.Workload {
	case KeyedCount:
		var sum uint64
		seen := make([]int64, spec.Keys)
		key := make([]byte, 0, 16)
		for i := range spec.Records {
			k := i % spec.Keys
			seen[k]++
			key = append(append(key[:0], "key-"...), strconv.Itoa(k)...)
			sum += countHash(key, seen[k])
		}
		what = "every key's counts 1..n exactly once (count + hash sum of all outputs)"
		if o.n != int64(spec.Records) || o.sum != sum {
			return what, fmt.Errorf("%d outputs (want %d), hash sum %x (want %x)", o.n, spec.Records, o.sum, sum)
		}
	case Transform:
		var n int64
		var sum uint64
		for _, l := range in.Lines {
			p, err := ParseLine(l)
			if err != nil {
				return "", err
			}
			if Keep(p) {
				n++
				sum += xxhash.Sum64(Format(p))
			}
		}
		what = "the same output lines (count + hash sum)"
		if o.n != n || o.sum != sum {
			return what, fmt.Errorf("%d outputs (want %d), hash sum %x (want %x)", o.n, n, o.sum, sum)
		}
	case WindowedCount:
		type kw struct{ key, start int64 }
		perWindow := map[kw]int64{}
		totals := map[int64]int64{}
		size := WindowSize.Milliseconds()
		for _, e := range in.Events {
			perWindow[kw{e.Key, e.TS - e.TS%size}]++
			totals[e.Key]++
		}
		for k, n := range totals {
			if o.totals[k] != n {
				return "totals per key", fmt.Errorf("key %d: %d events counted, want %d", k, o.totals[k], n)
			}
		}
		if len(o.totals) != len(totals) {
			return "totals per key", fmt.Errorf("%d keys counted, want %d", len(o.totals), len(totals))
		}
		if !eventTime {
			return "totals per key only (windows by processing time)", nil
		}
		var sum uint64
		for w, n := range perWindow {
			sum += windowHash(w.key, w.start, n)
		}
		what = "every (key, window) count (count + hash sum) and totals per key"
		if o.n != int64(len(perWindow)) || o.sum != sum {
			return what, fmt.Errorf("%d window results (want %d), hash sum %x (want %x)", o.n, len(perWindow), o.sum, sum)
		}
	}
	return what, nil
}
