package stream

import (
	"log/slog"
	"math"

	"github.com/benbjohnson/clock"

	"github.com/riffle-streams/riffle/state"
)

// Record is one element of a stream: a value and its event time.
type Record[T any] struct {
	Value T
	// Timestamp is the event time in ms since the epoch, or NoTimestamp.
	Timestamp int64
}

// Time bounds.
const (
	// NoTimestamp marks a record without event time.
	NoTimestamp int64 = math.MinInt64
	// MinWatermark is the watermark before any input.
	MinWatermark int64 = math.MinInt64
	// MaxWatermark is the watermark at the end of bounded input: every window fires.
	MaxWatermark int64 = math.MaxInt64
)

// Output receives an operator's records. Emit must not retain r.Value's memory beyond
// the call unless the operator owns it.
type Output[T any] interface {
	Emit(r Record[T])
}

// OutputFunc adapts a function to Output.
type OutputFunc[T any] func(Record[T])

// Emit calls f.
func (f OutputFunc[T]) Emit(r Record[T]) { f(r) }

// OutputTag names a side output carrying T. Create it once and use it for both emitting
// (EmitSide) and reading (SideOutput of the operators package).
type OutputTag[T any] struct{ ID string }

// NewOutputTag returns a tag; ids must be unique within an operator.
func NewOutputTag[T any](id string) OutputTag[T] { return OutputTag[T]{ID: id} }

// Context is what an operator subtask gets from the runtime. It is used from the
// subtask's goroutine only.
type Context interface {
	// OperatorName, Subtask (0-based), Parallelism and MaxParallelism identify the subtask.
	OperatorName() string
	Subtask() int
	Parallelism() int
	MaxParallelism() int
	// Clock is processing time (a mock in tests).
	Clock() clock.Clock
	// Logger is scoped to the job, operator and subtask.
	Logger() *slog.Logger
	// State is the keyed state backend; nil for an operator on a stream that is not keyed.
	// The runtime sets the current key before each record and timer.
	State() state.Backend
	// Timers is the keyed timer service, scoped to the current key; nil when not keyed.
	Timers() TimerService
	// SideOutput returns the output of side output id, or nil when the job does not read
	// that side output (EmitSide then drops the record).
	SideOutput(id string) any
}

// EmitSide emits r to the side output tag of the operator whose context is ctx.
func EmitSide[T any](ctx Context, tag OutputTag[T], r Record[T]) {
	if o, ok := ctx.SideOutput(tag.ID).(Output[T]); ok {
		o.Emit(r)
	}
}

// TimerService registers timers for the current key. A namespace scopes a timer further
// (window operators use the window); plain process functions use nil. Registering the same
// (key, namespace, time) twice keeps one timer.
type TimerService interface {
	CurrentWatermark() int64
	CurrentProcessingTime() int64
	RegisterEventTimeTimer(namespace []byte, ts int64)
	DeleteEventTimeTimer(namespace []byte, ts int64)
	RegisterProcessingTimeTimer(namespace []byte, ts int64)
	DeleteProcessingTimeTimer(namespace []byte, ts int64)
}

// Operator processes one input stream. The runtime calls its methods from one goroutine:
// Open once, then ProcessElement for records, OnTimer for due timers and OnWatermark when
// the input's watermark advances, in stream order, and Close at the end.
//
// On a keyed stream the runtime sets the record's (or timer's) key as the current key of
// Context.State() and Context.Timers() before ProcessElement and OnTimer.
//
// An error fails the job; the runtime adds the operator's name, the subtask and the
// position of the record in its source.
type Operator[IN, OUT any] interface {
	Open(ctx Context, out Output[OUT]) error
	ProcessElement(r Record[IN]) error
	// OnTimer is called for every due timer: event-time timers when the watermark reaches
	// their time (before OnWatermark), processing-time timers when the clock does.
	OnTimer(domain state.Domain, t state.Timer) error
	// OnWatermark is called when the input watermark advances to wm, after the event-time
	// timers up to wm fired; the runtime forwards wm downstream afterwards.
	OnWatermark(wm int64) error
	// Close is called at the end of the input, after the final watermark, or when the job
	// stops; it is called once, after a successful Open.
	Close() error
}

// TwoInputOperator processes two input streams (joins, connected streams). Both inputs
// are keyed the same way or neither is.
type TwoInputOperator[IN1, IN2, OUT any] interface {
	Open(ctx Context, out Output[OUT]) error
	ProcessElement1(r Record[IN1]) error
	ProcessElement2(r Record[IN2]) error
	OnTimer(domain state.Domain, t state.Timer) error
	// OnWatermark receives the minimum of the two inputs' watermarks.
	OnWatermark(wm int64) error
	Close() error
}

// BaseOperator gives an operator no-op OnTimer, OnWatermark and Close; embed it.
type BaseOperator struct{}

func (BaseOperator) OnTimer(state.Domain, state.Timer) error { return nil }
func (BaseOperator) OnWatermark(int64) error                 { return nil }
func (BaseOperator) Close() error                            { return nil }
