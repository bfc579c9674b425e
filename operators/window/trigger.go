package window

import (
	"bytes"
	"fmt"
	"time"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// TriggerResult is what a trigger decides for a window: fire (emit the window's result)
// and/or purge (clear the window's contents).
type TriggerResult uint8

const (
	// Continue does nothing.
	Continue TriggerResult = 0
	// Fire emits the window's result and keeps its contents.
	Fire TriggerResult = 1
	// Purge clears the window's contents without emitting. The window itself (its
	// metadata: trigger state, timers, its place among merging windows) stays until its
	// cleanup time.
	Purge TriggerResult = 2
	// FireAndPurge emits, then clears the contents.
	FireAndPurge TriggerResult = Fire | Purge
)

// IsFire reports whether r fires.
func (r TriggerResult) IsFire() bool { return r&Fire != 0 }

// IsPurge reports whether r purges.
func (r TriggerResult) IsPurge() bool { return r&Purge != 0 }

func (r TriggerResult) String() string {
	switch r {
	case Continue:
		return "CONTINUE"
	case Fire:
		return "FIRE"
	case Purge:
		return "PURGE"
	case FireAndPurge:
		return "FIRE_AND_PURGE"
	}
	return fmt.Sprintf("TriggerResult(%d)", uint8(r))
}

// Trigger decides when a window fires (Flink's Trigger). The operator calls it with the
// window's key current; everything a trigger remembers goes through ctx: timers (scoped to
// the key and window) and trigger state (TriggerReducingState, TriggerValueState), never
// the trigger's own fields, which all keys and windows share.
type Trigger[W Window] interface {
	// OnElement is called for every element added to w, with the element's timestamp.
	OnElement(ts int64, w W, ctx *TriggerContext) (TriggerResult, error)
	// OnEventTime is called when an event-time timer registered through ctx fires.
	OnEventTime(t int64, w W, ctx *TriggerContext) (TriggerResult, error)
	// OnProcessingTime is called when a processing-time timer registered through ctx fires.
	OnProcessingTime(t int64, w W, ctx *TriggerContext) (TriggerResult, error)
	// CanMerge reports whether the trigger supports merging windows (OnMerge).
	CanMerge() bool
	// OnMerge is called when windows merged into w (ctx.MergedWindowCount of them): merge
	// their trigger state into w's (MergeReducingTriggerState) and set w's timers. The
	// merged windows are cleared (Clear) afterwards.
	OnMerge(w W, ctx *TriggerContext) error
	// Clear removes the trigger's timers and state of w; called when w is cleaned up or
	// merged into another window.
	Clear(w W, ctx *TriggerContext) error
}

// neverPurger is implemented by the built-in triggers that never purge: sliding windows
// can then share panes between windows (a purge of one window would have to clear
// elements that overlapping windows still hold).
type neverPurger interface{ neverPurges() }

// TriggerContext is a trigger's access to the current key's timers and state, scoped to
// the window the trigger is called for.
type TriggerContext struct {
	timers  stream.TimerService
	backend state.Backend
	hz      *horizon
	ns      []byte   // namespace of the current window
	merged  [][]byte // namespaces of the windows being merged (OnMerge)
	handles map[string]*triggerHandle

	// reg and del remember the last timer registered and deleted during the current
	// operator call, so that the operator's and the trigger's identical requests (the
	// event-time trigger and the cleanup timer at lateness 0 are the same timer) reach the
	// timer service once. Reset before every call: between calls timers fire.
	reg, del timerMemo
}

type timerMemo struct {
	valid bool
	d     state.Domain
	ts    int64
	ns    []byte
}

func (m *timerMemo) is(d state.Domain, ns []byte, ts int64) bool {
	return m.valid && m.d == d && m.ts == ts && bytes.Equal(m.ns, ns)
}

func (m *timerMemo) set(d state.Domain, ns []byte, ts int64) {
	m.valid, m.d, m.ts, m.ns = true, d, ts, append(m.ns[:0], ns...)
}

type triggerHandle struct {
	st  any
	ns  state.Namespaced
	mrg state.Mergeable
}

func (c *TriggerContext) reset() { c.reg.valid, c.del.valid = false, false }

// CurrentWatermark is the operator's watermark (after a restore, at least the time the
// key's group of windows had got to: see the package documentation).
func (c *TriggerContext) CurrentWatermark() int64 {
	if c.hz != nil {
		return c.hz.watermark()
	}
	return c.timers.CurrentWatermark()
}

// CurrentProcessingTime is the processing time in ms.
func (c *TriggerContext) CurrentProcessingTime() int64 { return c.timers.CurrentProcessingTime() }

// MergedWindowCount is the number of windows merged into the window of OnMerge.
func (c *TriggerContext) MergedWindowCount() int { return len(c.merged) }

// RegisterEventTimeTimer sets a timer for the key and window at event time t; OnEventTime
// is called when the watermark reaches t. Registering twice keeps one timer.
func (c *TriggerContext) RegisterEventTimeTimer(t int64) { c.register(state.EventTime, t) }

// RegisterProcessingTimeTimer sets a processing-time timer at t.
func (c *TriggerContext) RegisterProcessingTimeTimer(t int64) { c.register(state.ProcessingTime, t) }

// DeleteEventTimeTimer removes an event-time timer of the key and window, if set.
func (c *TriggerContext) DeleteEventTimeTimer(t int64) { c.delete(state.EventTime, t) }

// DeleteProcessingTimeTimer removes a processing-time timer, if set.
func (c *TriggerContext) DeleteProcessingTimeTimer(t int64) { c.delete(state.ProcessingTime, t) }

func (c *TriggerContext) register(d state.Domain, t int64) {
	if c.reg.is(d, c.ns, t) {
		return
	}
	if d == state.EventTime {
		c.timers.RegisterEventTimeTimer(c.ns, t)
	} else {
		c.timers.RegisterProcessingTimeTimer(c.ns, t)
	}
	c.reg.set(d, c.ns, t)
	if c.del.is(d, c.ns, t) {
		c.del.valid = false
	}
}

func (c *TriggerContext) delete(d state.Domain, t int64) {
	if c.del.is(d, c.ns, t) {
		return
	}
	if d == state.EventTime {
		c.timers.DeleteEventTimeTimer(c.ns, t)
	} else {
		c.timers.DeleteProcessingTimeTimer(c.ns, t)
	}
	c.del.set(d, c.ns, t)
	if c.reg.is(d, c.ns, t) {
		c.reg.valid = false
	}
}

func (c *TriggerContext) handle(name string, create func() (any, error)) (*triggerHandle, error) {
	if h := c.handles[name]; h != nil {
		h.ns.SetNamespace(c.ns)
		return h, nil
	}
	s, err := create()
	if err != nil {
		return nil, fmt.Errorf("window: trigger state %q: %w", name, err)
	}
	h := &triggerHandle{st: s}
	var ok bool
	if h.ns, ok = s.(state.Namespaced); !ok {
		return nil, fmt.Errorf("window: trigger state %q has no namespaces", name)
	}
	h.mrg, _ = s.(state.Mergeable)
	if c.handles == nil {
		c.handles = map[string]*triggerHandle{}
	}
	c.handles[name] = h
	h.ns.SetNamespace(c.ns)
	return h, nil
}

// TriggerReducingState returns the reducing state d of the current key and window. Use
// the same name, type and reduce function on every call; a name is one state.
func TriggerReducingState[T any](ctx *TriggerContext, d state.Desc[T], reduce func(a, b T) T) (state.ReducingState[T], error) {
	h, err := ctx.handle(d.Name, func() (any, error) { return state.NewReducing(ctx.backend, d, reduce) })
	if err != nil {
		return nil, err
	}
	s, ok := h.st.(state.ReducingState[T])
	if !ok {
		return nil, fmt.Errorf("window: trigger state %q is used as two types", d.Name)
	}
	return s, nil
}

// TriggerValueState returns the value state d of the current key and window. Value
// states cannot merge: a trigger of merging windows keeps mergeable state only.
func TriggerValueState[T any](ctx *TriggerContext, d state.Desc[T]) (state.ValueState[T], error) {
	h, err := ctx.handle(d.Name, func() (any, error) { return state.NewValue(ctx.backend, d) })
	if err != nil {
		return nil, err
	}
	s, ok := h.st.(state.ValueState[T])
	if !ok {
		return nil, fmt.Errorf("window: trigger state %q is used as two types", d.Name)
	}
	return s, nil
}

// MergeReducingTriggerState merges the reducing state d of the windows being merged into
// the state of the window of OnMerge (Flink's OnMergeContext.mergePartitionedState).
func MergeReducingTriggerState[T any](ctx *TriggerContext, d state.Desc[T], reduce func(a, b T) T) error {
	if _, err := TriggerReducingState(ctx, d, reduce); err != nil {
		return err
	}
	if len(ctx.merged) == 0 {
		return nil
	}
	h := ctx.handles[d.Name]
	if h.mrg == nil {
		return fmt.Errorf("window: trigger state %q cannot merge", d.Name)
	}
	if err := h.mrg.MergeNamespaces(ctx.ns, ctx.merged); err != nil {
		return err
	}
	h.ns.SetNamespace(ctx.ns)
	return nil
}

// ---- built-in triggers ----

// EventTimeTrigger fires a window once the watermark passes its end (maxTimestamp), and
// at once for every element added to a window the watermark has passed (late elements
// within the allowed lateness). It is the default trigger of event-time assigners.
func EventTimeTrigger[W Window]() Trigger[W] { return eventTimeTrigger[W]{} }

type eventTimeTrigger[W Window] struct{}

func (eventTimeTrigger[W]) neverPurges()   {}
func (eventTimeTrigger[W]) CanMerge() bool { return true }
func (eventTimeTrigger[W]) String() string { return "EventTimeTrigger()" }
func (eventTimeTrigger[W]) OnElement(_ int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	if w.MaxTimestamp() <= ctx.CurrentWatermark() {
		return Fire, nil // the watermark is past the window: fire now
	}
	ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	return Continue, nil
}
func (eventTimeTrigger[W]) OnEventTime(t int64, w W, _ *TriggerContext) (TriggerResult, error) {
	if t == w.MaxTimestamp() {
		return Fire, nil
	}
	return Continue, nil
}
func (eventTimeTrigger[W]) OnProcessingTime(int64, W, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (eventTimeTrigger[W]) OnMerge(w W, ctx *TriggerContext) error {
	// Only register a timer if the watermark is not yet past the end of the merged window;
	// otherwise the element that caused the merge fires it at once (OnElement).
	if w.MaxTimestamp() > ctx.CurrentWatermark() {
		ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	}
	return nil
}
func (eventTimeTrigger[W]) Clear(w W, ctx *TriggerContext) error {
	ctx.DeleteEventTimeTimer(w.MaxTimestamp())
	return nil
}

// ProcessingTimeTrigger fires a window when the clock passes its end. It is the default
// trigger of processing-time assigners.
func ProcessingTimeTrigger[W Window]() Trigger[W] { return processingTimeTrigger[W]{} }

type processingTimeTrigger[W Window] struct{}

func (processingTimeTrigger[W]) neverPurges()   {}
func (processingTimeTrigger[W]) CanMerge() bool { return true }
func (processingTimeTrigger[W]) String() string { return "ProcessingTimeTrigger()" }
func (processingTimeTrigger[W]) OnElement(_ int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	ctx.RegisterProcessingTimeTimer(w.MaxTimestamp())
	return Continue, nil
}
func (processingTimeTrigger[W]) OnEventTime(int64, W, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (processingTimeTrigger[W]) OnProcessingTime(int64, W, *TriggerContext) (TriggerResult, error) {
	return Fire, nil
}
func (processingTimeTrigger[W]) OnMerge(w W, ctx *TriggerContext) error {
	if w.MaxTimestamp() > ctx.CurrentProcessingTime() {
		ctx.RegisterProcessingTimeTimer(w.MaxTimestamp())
	}
	return nil
}
func (processingTimeTrigger[W]) Clear(w W, ctx *TriggerContext) error {
	ctx.DeleteProcessingTimeTimer(w.MaxTimestamp())
	return nil
}

// NeverTrigger never fires: the default trigger of Global.
func NeverTrigger[W Window]() Trigger[W] { return neverTrigger[W]{} }

type neverTrigger[W Window] struct{}

func (neverTrigger[W]) neverPurges()   {}
func (neverTrigger[W]) CanMerge() bool { return true }
func (neverTrigger[W]) String() string { return "NeverTrigger()" }
func (neverTrigger[W]) OnElement(int64, W, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (neverTrigger[W]) OnEventTime(int64, W, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (neverTrigger[W]) OnProcessingTime(int64, W, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (neverTrigger[W]) OnMerge(W, *TriggerContext) error { return nil }
func (neverTrigger[W]) Clear(W, *TriggerContext) error   { return nil }

// CountTrigger fires a window every n elements (the count is trigger state named
// "count", merged when windows merge). It does not purge: wrap it in PurgingTrigger for
// windows of n elements each.
func CountTrigger[W Window](n int64) Trigger[W] { return countTrigger[W]{n} }

type countTrigger[W Window] struct{ n int64 }

var countDesc = state.Desc[int64]{Name: "count"}

func sum64(a, b int64) int64 { return a + b }

func (t countTrigger[W]) validate() error {
	if t.n <= 0 {
		return fmt.Errorf("%w: count trigger of %d elements", ErrInvalid, t.n)
	}
	return nil
}
func (countTrigger[W]) neverPurges()     {}
func (countTrigger[W]) CanMerge() bool   { return true }
func (t countTrigger[W]) String() string { return fmt.Sprintf("CountTrigger(%d)", t.n) }
func (t countTrigger[W]) OnElement(_ int64, _ W, ctx *TriggerContext) (TriggerResult, error) {
	c, err := TriggerReducingState(ctx, countDesc, sum64)
	if err != nil {
		return Continue, err
	}
	if err := c.Add(1); err != nil {
		return Continue, err
	}
	n, _, err := c.Get()
	if err != nil || n < t.n {
		return Continue, err
	}
	return Fire, c.Clear()
}
func (countTrigger[W]) OnEventTime(int64, W, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (countTrigger[W]) OnProcessingTime(int64, W, *TriggerContext) (TriggerResult, error) {
	return Continue, nil
}
func (countTrigger[W]) OnMerge(_ W, ctx *TriggerContext) error {
	return MergeReducingTriggerState(ctx, countDesc, sum64)
}
func (countTrigger[W]) Clear(_ W, ctx *TriggerContext) error {
	c, err := TriggerReducingState(ctx, countDesc, sum64)
	if err != nil {
		return err
	}
	return c.Clear()
}

// ContinuousEventTimeTrigger fires a window every interval of event time (at multiples
// of interval, starting with the first after the window's first element) and at the end
// of the window. The next firing time is trigger state named "fire-time".
func ContinuousEventTimeTrigger[W Window](interval time.Duration) Trigger[W] {
	return continuousTrigger[W]{interval: ms(interval)}
}

// ContinuousProcessingTimeTrigger fires a window every interval of processing time.
func ContinuousProcessingTimeTrigger[W Window](interval time.Duration) Trigger[W] {
	return continuousTrigger[W]{interval: ms(interval), procTime: true}
}

type continuousTrigger[W Window] struct {
	interval int64
	procTime bool
}

var fireTimeDesc = state.Desc[int64]{Name: "fire-time"}

func min64(a, b int64) int64 { return min(a, b) }

func (t continuousTrigger[W]) validate() error {
	if t.interval <= 0 {
		return fmt.Errorf("%w: continuous trigger interval %dms must be at least 1ms", ErrInvalid, t.interval)
	}
	return nil
}
func (continuousTrigger[W]) neverPurges()   {}
func (continuousTrigger[W]) CanMerge() bool { return true }
func (t continuousTrigger[W]) String() string {
	if t.procTime {
		return fmt.Sprintf("ContinuousProcessingTimeTrigger(%d)", t.interval)
	}
	return fmt.Sprintf("ContinuousEventTimeTrigger(%d)", t.interval)
}

func (t continuousTrigger[W]) OnElement(ts int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	if !t.procTime {
		if w.MaxTimestamp() <= ctx.CurrentWatermark() {
			return Fire, nil // the watermark is past the window: fire now
		}
		ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	} else {
		ts = ctx.CurrentProcessingTime()
	}
	ft, err := TriggerReducingState(ctx, fireTimeDesc, min64)
	if err != nil {
		return Continue, err
	}
	if _, ok, err := ft.Get(); err != nil || ok {
		return Continue, err
	}
	// Java's % (truncated, as Go's): the first firing is at a multiple of the interval.
	return Continue, t.registerNext(ts-ts%t.interval, w, ctx, ft)
}

func (t continuousTrigger[W]) registerNext(time int64, w W, ctx *TriggerContext, ft state.ReducingState[int64]) error {
	next := min(time+t.interval, w.MaxTimestamp())
	if err := ft.Add(next); err != nil {
		return err
	}
	t.register(ctx, next)
	return nil
}

func (t continuousTrigger[W]) register(ctx *TriggerContext, at int64) {
	if t.procTime {
		ctx.RegisterProcessingTimeTimer(at)
	} else {
		ctx.RegisterEventTimeTimer(at)
	}
}

func (t continuousTrigger[W]) onTime(time int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	// The event-time variant fires at the window's end by its own timer; the
	// processing-time one reaches the end through its chain of firing times (clamped to
	// maxTimestamp), as in Flink.
	if !t.procTime && time == w.MaxTimestamp() {
		return Fire, nil
	}
	ft, err := TriggerReducingState(ctx, fireTimeDesc, min64)
	if err != nil {
		return Continue, err
	}
	next, ok, err := ft.Get()
	if err != nil || !ok || next != time {
		return Continue, err
	}
	if err := ft.Clear(); err != nil {
		return Continue, err
	}
	return Fire, t.registerNext(time, w, ctx, ft)
}

func (t continuousTrigger[W]) OnEventTime(time int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	if t.procTime {
		return Continue, nil
	}
	return t.onTime(time, w, ctx)
}

func (t continuousTrigger[W]) OnProcessingTime(time int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	if !t.procTime {
		return Continue, nil
	}
	return t.onTime(time, w, ctx)
}

func (t continuousTrigger[W]) OnMerge(_ W, ctx *TriggerContext) error {
	if err := MergeReducingTriggerState(ctx, fireTimeDesc, min64); err != nil {
		return err
	}
	ft, err := TriggerReducingState(ctx, fireTimeDesc, min64)
	if err != nil {
		return err
	}
	next, ok, err := ft.Get()
	if err == nil && ok {
		t.register(ctx, next)
	}
	return err
}

func (t continuousTrigger[W]) Clear(_ W, ctx *TriggerContext) error {
	ft, err := TriggerReducingState(ctx, fireTimeDesc, min64)
	if err != nil {
		return err
	}
	next, ok, err := ft.Get()
	if err != nil || !ok {
		return err
	}
	if t.procTime {
		ctx.DeleteProcessingTimeTimer(next)
	} else {
		ctx.DeleteEventTimeTimer(next)
	}
	return ft.Clear()
}

// PurgingTrigger turns every Fire of t into FireAndPurge: each firing emits the elements
// since the last one. Purging clears a window's contents, not the window: it stays (with
// its trigger state and, for sessions, its extent) until its cleanup time.
func PurgingTrigger[W Window](t Trigger[W]) Trigger[W] { return purgingTrigger[W]{t} }

type purgingTrigger[W Window] struct{ t Trigger[W] }

func purging(r TriggerResult, err error) (TriggerResult, error) {
	if r.IsFire() {
		return FireAndPurge, err
	}
	return r, err
}

func (p purgingTrigger[W]) validate() error {
	if p.t == nil {
		return fmt.Errorf("%w: purging trigger of no trigger", ErrInvalid)
	}
	if v, ok := p.t.(validator); ok {
		return v.validate()
	}
	return nil
}
func (p purgingTrigger[W]) CanMerge() bool { return p.t.CanMerge() }
func (p purgingTrigger[W]) String() string { return fmt.Sprintf("PurgingTrigger(%v)", p.t) }
func (p purgingTrigger[W]) OnElement(ts int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	return purging(p.t.OnElement(ts, w, ctx))
}
func (p purgingTrigger[W]) OnEventTime(t int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	return purging(p.t.OnEventTime(t, w, ctx))
}
func (p purgingTrigger[W]) OnProcessingTime(t int64, w W, ctx *TriggerContext) (TriggerResult, error) {
	return purging(p.t.OnProcessingTime(t, w, ctx))
}
func (p purgingTrigger[W]) OnMerge(w W, ctx *TriggerContext) error { return p.t.OnMerge(w, ctx) }
func (p purgingTrigger[W]) Clear(w W, ctx *TriggerContext) error   { return p.t.Clear(w, ctx) }
