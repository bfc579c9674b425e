package streamtest

import (
	"io"
	"log/slog"

	"github.com/benbjohnson/clock"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Context is a bare stream.Context for driving an operator directly, without a harness's
// bookkeeping (benchmarks): the caller sets the current key on Heap and moves WM itself.
type Context struct {
	Heap      *state.Heap // keyed state; nil for an operator on a stream that is not keyed
	MockClock *clock.Mock
	WM        int64 // the operator's current watermark, as its timers see it
}

// NewContext returns a keyed context (an empty heap backend) at MinWatermark on a mock
// clock.
func NewContext() *Context {
	c := clock.NewMock()
	return &Context{Heap: state.NewHeap(state.HeapOptions{Clock: c}), MockClock: c, WM: stream.MinWatermark}
}

func (c *Context) OperatorName() string     { return "bench" }
func (c *Context) Subtask() int             { return 0 }
func (c *Context) Parallelism() int         { return 1 }
func (c *Context) MaxParallelism() int      { return state.DefaultMaxParallelism }
func (c *Context) Clock() clock.Clock       { return c.MockClock }
func (c *Context) Logger() *slog.Logger     { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func (c *Context) SideOutput(id string) any { return nil }

// State is Heap, or nil when not keyed.
func (c *Context) State() state.Backend {
	if c.Heap == nil {
		return nil
	}
	return c.Heap
}

// Timers are Heap's timers scoped to its current key, or nil when not keyed.
func (c *Context) Timers() stream.TimerService {
	if c.Heap == nil {
		return nil
	}
	return stream.NewTimerService(c.Heap, &c.WM, c.MockClock)
}

// AdvanceWatermark moves WM to wm and fires the event-time timers due by then, in time
// order, each with its key current, as the runtime does before OnWatermark.
func (c *Context) AdvanceWatermark(wm int64, onTimer func(state.Domain, state.Timer) error) error {
	c.WM = wm
	for {
		t, ok := c.Heap.Timers().PopDue(state.EventTime, wm)
		if !ok {
			return nil
		}
		c.Heap.SetCurrentKey(t.Key, t.KeyGroup)
		if err := onTimer(state.EventTime, t); err != nil {
			return err
		}
	}
}
