package keyed

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// ErrNotKeyed is returned by Open when an operator of this package runs on a stream that
// is not keyed (its stream.Context has no state backend or timer service).
var ErrNotKeyed = errors.New("keyed: the operator needs a keyed stream (the context has no keyed state)")

// ProcessFunction is Flink's KeyedProcessFunction: it sees every record of a keyed stream
// with its key, keeps keyed state, and sets timers for the current key.
//
// ProcessElement is called for each record; OnTimer for each timer the function set, when
// the watermark (domain state.EventTime) or the processing-time clock
// (state.ProcessingTime) reaches ts. Both emit any number of records to out, choosing
// each record's timestamp (usually r.Timestamp, or ts in OnTimer). An error fails the job.
//
// A function that needs state handles or resources before the first record implements
// Opener; one that needs to release them implements Closer.
type ProcessFunction[K, IN, OUT any] interface {
	ProcessElement(ctx Context, key K, r stream.Record[IN], out stream.Output[OUT]) error
	OnTimer(ctx Context, key K, ts int64, domain state.Domain, out stream.Output[OUT]) error
}

// Opener is implemented by a process function that sets itself up before the first record,
// typically creating its state handles from ctx.State() (state.NewValue and friends). An
// error fails Open.
type Opener interface {
	Open(ctx stream.Context) error
}

// Closer is implemented by a process function that releases resources at the end.
type Closer interface {
	Close() error
}

// Context is what a process function gets with each record and timer. It is the
// subtask's stream.Context (state, side outputs through stream.EmitSide, logger, clock)
// plus the record's timestamp and timers scoped to the current key. It is valid only
// during the call.
type Context interface {
	stream.Context
	// Timestamp is the event time of the record being processed (stream.NoTimestamp when
	// it has none), or the time of the timer in OnTimer.
	Timestamp() int64
	// CurrentWatermark is the operator's event time: the last watermark it received.
	CurrentWatermark() int64
	// CurrentProcessingTime is the subtask clock's time in ms.
	CurrentProcessingTime() int64
	// RegisterEventTimeTimer sets a timer for the current key that fires when the
	// watermark reaches ts. Setting the same time twice keeps one timer.
	RegisterEventTimeTimer(ts int64)
	// DeleteEventTimeTimer removes the current key's event-time timer at ts, if any.
	DeleteEventTimeTimer(ts int64)
	// RegisterProcessingTimeTimer sets a timer for the current key that fires when the
	// processing-time clock reaches ts.
	RegisterProcessingTimeTimer(ts int64)
	// DeleteProcessingTimeTimer removes the current key's processing-time timer at ts.
	DeleteProcessingTimeTimer(ts int64)
}

// ElementFunc adapts a function to a ProcessFunction that sets no timers (its OnTimer
// does nothing).
type ElementFunc[K, IN, OUT any] func(ctx Context, key K, r stream.Record[IN], out stream.Output[OUT]) error

// ProcessElement calls f.
func (f ElementFunc[K, IN, OUT]) ProcessElement(ctx Context, key K, r stream.Record[IN], out stream.Output[OUT]) error {
	return f(ctx, key, r, out)
}

// OnTimer does nothing.
func (f ElementFunc[K, IN, OUT]) OnTimer(Context, K, int64, state.Domain, stream.Output[OUT]) error {
	return nil
}

// NewProcess returns the operator that runs fn on a keyed stream. keyCodec is the codec
// the stream was keyed with (it decodes the runtime's current key for fn); nil means
// state.KeyCodecFor[K], whose error Open returns when K has no canonical encoding.
func NewProcess[K, IN, OUT any](fn ProcessFunction[K, IN, OUT], keyCodec state.KeyCodec[K]) stream.Operator[IN, OUT] {
	return &processOp[K, IN, OUT]{fn: fn, codec: keyCodec}
}

type processOp[K, IN, OUT any] struct {
	fn    ProcessFunction[K, IN, OUT]
	codec state.KeyCodec[K]
	out   stream.Output[OUT]
	ctx   processCtx
	// The decoded current key and its encoding: consecutive records of one key (common
	// after a key-by of batches) decode it once.
	key      K
	keyBytes []byte
	hasKey   bool
}

func (o *processOp[K, IN, OUT]) Open(ctx stream.Context, out stream.Output[OUT]) error {
	if ctx.State() == nil || ctx.Timers() == nil {
		return ErrNotKeyed
	}
	if o.codec == nil {
		c, err := state.KeyCodecFor[K]()
		if err != nil {
			return fmt.Errorf("keyed: process function: %w", err)
		}
		o.codec = c
	}
	o.out = out
	o.ctx = processCtx{Context: ctx, backend: ctx.State(), timers: ctx.Timers()}
	o.hasKey = false
	if op, ok := o.fn.(Opener); ok {
		return op.Open(ctx)
	}
	return nil
}

// currentKey decodes the backend's current key, reusing the last decoding when the key
// did not change.
func (o *processOp[K, IN, OUT]) currentKey() (K, error) {
	kb := o.ctx.backend.CurrentKey()
	if o.hasKey && bytes.Equal(kb, o.keyBytes) {
		return o.key, nil
	}
	k, err := o.codec.Decode(kb)
	if err != nil {
		o.hasKey = false
		return k, fmt.Errorf("keyed: decode the current key: %w", err)
	}
	o.key, o.keyBytes, o.hasKey = k, append(o.keyBytes[:0], kb...), true
	return k, nil
}

func (o *processOp[K, IN, OUT]) ProcessElement(r stream.Record[IN]) error {
	k, err := o.currentKey()
	if err != nil {
		return err
	}
	o.ctx.ts = r.Timestamp
	return o.fn.ProcessElement(&o.ctx, k, r, o.out)
}

func (o *processOp[K, IN, OUT]) OnTimer(d state.Domain, t state.Timer) error {
	k, err := o.currentKey()
	if err != nil {
		return err
	}
	o.ctx.ts = t.Timestamp
	return o.fn.OnTimer(&o.ctx, k, t.Timestamp, d, o.out)
}

func (o *processOp[K, IN, OUT]) OnWatermark(int64) error { return nil }

func (o *processOp[K, IN, OUT]) Close() error {
	if c, ok := o.fn.(Closer); ok {
		return c.Close()
	}
	return nil
}

// processCtx is the operator's one Context, reused for every call (no allocation per
// record). Timers use the nil namespace, which OnTimer does not distinguish.
type processCtx struct {
	stream.Context
	backend state.Backend
	timers  stream.TimerService
	ts      int64
}

func (c *processCtx) Timestamp() int64                { return c.ts }
func (c *processCtx) CurrentWatermark() int64         { return c.timers.CurrentWatermark() }
func (c *processCtx) CurrentProcessingTime() int64    { return c.timers.CurrentProcessingTime() }
func (c *processCtx) RegisterEventTimeTimer(ts int64) { c.timers.RegisterEventTimeTimer(nil, ts) }
func (c *processCtx) DeleteEventTimeTimer(ts int64)   { c.timers.DeleteEventTimeTimer(nil, ts) }
func (c *processCtx) RegisterProcessingTimeTimer(ts int64) {
	c.timers.RegisterProcessingTimeTimer(nil, ts)
}
func (c *processCtx) DeleteProcessingTimeTimer(ts int64) { c.timers.DeleteProcessingTimeTimer(nil, ts) }
