// Package streamtest runs operators and jobs in-process for tests: Harness drives one
// operator subtask by hand (records, watermarks, processing time on a mock clock,
// snapshot and restore), as Flink's operator test harnesses do.
package streamtest

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/benbjohnson/clock"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Harness drives one subtask of a one-input operator. Keyed harnesses set the current key
// from each record, as the runtime does on a keyed stream.
type Harness[K any, IN, OUT any] struct {
	op       stream.Operator[IN, OUT]
	keyOf    func(IN) K
	keyCodec state.KeyCodec[K]
	backend  *state.Heap
	clock    *clock.Mock
	wm       int64
	out      []stream.Record[OUT]
	wms      []int64
	side     map[string]any
	sideRecs map[string]*[]any
	opened   bool
	scratch  []byte
	maxPar   int
}

// Options configures a harness.
type Options struct {
	MaxParallelism int         // default 128
	Clock          *clock.Mock // default a mock at the epoch
}

// NewKeyed returns a harness for op on a stream keyed by keyOf.
func NewKeyed[K any, IN, OUT any](op stream.Operator[IN, OUT], keyOf func(IN) K, opts Options) (*Harness[K, IN, OUT], error) {
	kc, err := state.KeyCodecFor[K]()
	if err != nil {
		return nil, err
	}
	h := newHarness[K, IN, OUT](op, opts)
	h.keyOf, h.keyCodec = keyOf, kc
	h.backend = state.NewHeap(state.HeapOptions{MaxParallelism: h.maxPar, Clock: h.clock})
	return h, nil
}

// New returns a harness for op on a stream that is not keyed.
func New[IN, OUT any](op stream.Operator[IN, OUT], opts Options) *Harness[struct{}, IN, OUT] {
	return newHarness[struct{}, IN, OUT](op, opts)
}

func newHarness[K any, IN, OUT any](op stream.Operator[IN, OUT], opts Options) *Harness[K, IN, OUT] {
	if opts.MaxParallelism == 0 {
		opts.MaxParallelism = state.DefaultMaxParallelism
	}
	if opts.Clock == nil {
		opts.Clock = clock.NewMock()
	}
	return &Harness[K, IN, OUT]{op: op, clock: opts.Clock, wm: stream.MinWatermark, side: map[string]any{},
		sideRecs: map[string]*[]any{}, maxPar: opts.MaxParallelism}
}

// CollectSide makes the harness collect side output tag (call before Open).
func CollectSide[T any, K any, IN, OUT any](h *Harness[K, IN, OUT], tag stream.OutputTag[T]) {
	recs := &[]any{}
	h.sideRecs[tag.ID] = recs
	h.side[tag.ID] = stream.OutputFunc[T](func(r stream.Record[T]) { *recs = append(*recs, r) })
}

// Open opens the operator.
func (h *Harness[K, IN, OUT]) Open() error {
	h.opened = true
	return h.op.Open(h.context(), stream.OutputFunc[OUT](func(r stream.Record[OUT]) { h.out = append(h.out, r) }))
}

// Clock is the harness's processing time.
func (h *Harness[K, IN, OUT]) Clock() *clock.Mock { return h.clock }

// Backend is the keyed state (nil when not keyed).
func (h *Harness[K, IN, OUT]) Backend() *state.Heap { return h.backend }

// ProcessElement hands the operator one record.
func (h *Harness[K, IN, OUT]) ProcessElement(v IN, ts int64) error {
	if !h.opened {
		if err := h.Open(); err != nil {
			return err
		}
	}
	if h.keyOf != nil {
		h.setKey(h.keyOf(v))
	}
	return h.op.ProcessElement(stream.Record[IN]{Value: v, Timestamp: ts})
}

func (h *Harness[K, IN, OUT]) setKey(k K) {
	h.scratch = h.keyCodec.Append(h.scratch[:0], k)
	key := append([]byte(nil), h.scratch...)
	h.backend.SetCurrentKey(key, state.KeyGroup(key, h.maxPar))
}

// ProcessWatermark advances the watermark: due event-time timers fire (in time order,
// each with its key current), then OnWatermark, then the watermark is "forwarded".
func (h *Harness[K, IN, OUT]) ProcessWatermark(wm int64) error {
	if !h.opened {
		if err := h.Open(); err != nil {
			return err
		}
	}
	if wm <= h.wm {
		return nil
	}
	h.wm = wm
	if err := h.fire(state.EventTime, wm); err != nil {
		return err
	}
	if err := h.op.OnWatermark(wm); err != nil {
		return err
	}
	h.wms = append(h.wms, wm)
	return nil
}

// SetProcessingTime moves the mock clock to ms and fires due processing-time timers.
func (h *Harness[K, IN, OUT]) SetProcessingTime(ms int64) error {
	h.clock.Set(unixMilli(ms))
	return h.fire(state.ProcessingTime, ms)
}

func (h *Harness[K, IN, OUT]) fire(d state.Domain, upTo int64) error {
	if h.backend == nil {
		return nil
	}
	for {
		t, ok := h.backend.Timers().PopDue(d, upTo)
		if !ok {
			return nil
		}
		h.backend.SetCurrentKey(t.Key, t.KeyGroup)
		if err := h.op.OnTimer(d, t); err != nil {
			return err
		}
	}
}

// Output returns the records emitted so far; TakeOutput also clears them.
func (h *Harness[K, IN, OUT]) Output() []stream.Record[OUT] { return h.out }

// TakeOutput returns and clears the records emitted so far.
func (h *Harness[K, IN, OUT]) TakeOutput() []stream.Record[OUT] {
	out := h.out
	h.out = nil
	return out
}

// Watermarks returns the watermarks forwarded so far.
func (h *Harness[K, IN, OUT]) Watermarks() []int64 { return h.wms }

// Side returns the records of a side output collected with CollectSide, as
// stream.Record[T] values.
func (h *Harness[K, IN, OUT]) Side(id string) []any {
	if r := h.sideRecs[id]; r != nil {
		return *r
	}
	return nil
}

// Snapshot returns the keyed state and timers (the watermark is not part of it: a
// restored operator starts at MinWatermark, as after a real restart).
func (h *Harness[K, IN, OUT]) Snapshot() ([]byte, error) {
	if h.backend == nil {
		return nil, nil
	}
	return h.backend.Snapshot()
}

// Restore loads a snapshot into this (unopened) harness.
func (h *Harness[K, IN, OUT]) Restore(snap []byte) error {
	if h.opened {
		return fmt.Errorf("streamtest: Restore before Open")
	}
	if h.backend == nil {
		return nil
	}
	return h.backend.Restore(snap)
}

// Close closes the operator.
func (h *Harness[K, IN, OUT]) Close() error { return h.op.Close() }

func (h *Harness[K, IN, OUT]) context() stream.Context {
	c := &harnessCtx[K, IN, OUT]{h: h}
	return c
}

type harnessCtx[K any, IN, OUT any] struct{ h *Harness[K, IN, OUT] }

func (c *harnessCtx[K, IN, OUT]) OperatorName() string { return "harness" }
func (c *harnessCtx[K, IN, OUT]) Subtask() int         { return 0 }
func (c *harnessCtx[K, IN, OUT]) Parallelism() int     { return 1 }
func (c *harnessCtx[K, IN, OUT]) MaxParallelism() int  { return c.h.maxPar }
func (c *harnessCtx[K, IN, OUT]) Clock() clock.Clock   { return c.h.clock }
func (c *harnessCtx[K, IN, OUT]) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
func (c *harnessCtx[K, IN, OUT]) SideOutput(id string) any { return c.h.side[id] }
func (c *harnessCtx[K, IN, OUT]) State() state.Backend {
	if c.h.backend == nil {
		return nil
	}
	return c.h.backend
}
func (c *harnessCtx[K, IN, OUT]) Timers() stream.TimerService {
	if c.h.backend == nil {
		return nil
	}
	return stream.NewTimerService(c.h.backend, &c.h.wm, c.h.clock)
}
