package window

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Collector receives the results of a window function; each result becomes a record
// whose timestamp is the window's MaxTimestamp.
type Collector[T any] interface {
	Collect(v T)
}

// Operator is a window operator (Flink's WindowOperator) on a keyed stream of IN: it
// assigns elements to windows of type W, keeps their contents as ACC in keyed state,
// asks a trigger when to fire, and emits OUT with the window function. Build it with
// Reduce, ReduceProcess, Aggregate, AggregateProcess or Process, configure it with the
// With methods before Open, and hand it to the runtime (or a streamtest.Harness) as a
// stream.Operator[IN, OUT].
//
// An Operator is one subtask's: Clone it for each further subtask. All its state (window
// contents, trigger state, merging window sets, timers) is in the runtime's keyed state
// backend and timer service, so a snapshot restored into a fresh Operator continues where
// the old one stopped.
type Operator[K, IN, ACC, OUT any, W Window] struct {
	cfg config[K, IN, ACC, OUT, W]

	// set by Open
	mode      mode
	fast      fastKind
	eventTime bool
	pane      paneGeom
	trig      Trigger[W]
	merging   MergingAssigner[W]
	elemAsg   ElementAssigner[IN, W]
	wcodec    state.Codec[W]
	ctx       stream.Context
	timers    stream.TimerService
	backend   state.Backend
	contents  store[IN, ACC]
	mset      state.ValueState[[]mergeEntry[W]]
	tctx      TriggerContext
	coll      collector[OUT]
	actx      assignerCtx
	hz        horizon
	dropped   int64

	// caches and scratch buffers, reused across calls
	keyBytes  []byte
	keyVal    K
	keyOK     bool
	wins      []W
	ns, sns   []byte // namespace of the current window; of its state window or pane
	arena     []byte
	offs      []int
	nsList    [][]byte
	mws       []W
	members   []W
	groups    []mergeGroup[W]
	mstates   []W
	collectFn func([]W, W)
}

type config[K, IN, ACC, OUT any, W Window] struct {
	assigner  Assigner[W]
	trigger   Trigger[W]
	lateness  int64
	lateTag   *stream.OutputTag[IN]
	keyCodec  state.KeyCodec[K]
	needsKey  bool
	noSlicing bool
	list      bool // contents are the elements (ACC is []IN)
	accCodec  state.Codec[ACC]
	elemCodec state.Codec[IN]
	addFn     func(acc ACC, has bool, v IN) ACC
	mergeFn   func(a, b ACC) ACC
	emitFn    func(key K, w W, acc ACC, out Collector[OUT])
	errs      []error
}

type mode uint8

const (
	perWindow mode = iota // contents per window (Flink's layout)
	paned                 // contents per pane, shared by the windows covering it
	merging               // session windows: contents per state window
)

// fastKind marks the default triggers, whose behaviour the operator inlines: a window
// registers its timers with its first element only, and OnElement needs no call.
type fastKind uint8

const (
	fastNone fastKind = iota
	fastEventTime
	fastProcTime
)

type paneGeom struct{ size, slide, offset, pane int64 }

func newOperator[K, IN, ACC, OUT any, W Window](a Assigner[W]) *Operator[K, IN, ACC, OUT, W] {
	o := &Operator[K, IN, ACC, OUT, W]{}
	o.cfg.assigner = a
	if a == nil {
		o.cfg.errs = append(o.cfg.errs, fmt.Errorf("%w: no window assigner", ErrInvalid))
	}
	return o
}

func (o *Operator[K, IN, ACC, OUT, W]) fnMissing(what string) {
	o.cfg.errs = append(o.cfg.errs, fmt.Errorf("%w: no %s function", ErrInvalid, what))
}

// Reduce returns a window operator that folds the elements of each window with reduce
// as they arrive and emits the folded value. reduce must be associative for sliding
// windows, whose panes are folded first and combined when a window fires; it must not
// modify its arguments' memory (pointers, slices, maps), which stays in state.
func Reduce[K, IN any, W Window](a Assigner[W], reduce func(a, b IN) IN) *Operator[K, IN, IN, IN, W] {
	o := newOperator[K, IN, IN, IN](a)
	if reduce == nil {
		o.fnMissing("reduce")
	}
	o.cfg.addFn = func(acc IN, has bool, v IN) IN {
		if has {
			return reduce(acc, v)
		}
		return v
	}
	o.cfg.mergeFn = reduce
	o.cfg.emitFn = func(_ K, _ W, acc IN, out Collector[IN]) { out.Collect(acc) }
	return o
}

// ReduceProcess is Reduce followed by a process window function: fn gets the key, the
// window and the reduced value when the window fires.
func ReduceProcess[K, IN, OUT any, W Window](a Assigner[W], reduce func(a, b IN) IN, fn func(key K, w W, v IN, out Collector[OUT])) *Operator[K, IN, IN, OUT, W] {
	o := newOperator[K, IN, IN, OUT](a)
	if reduce == nil || fn == nil {
		o.fnMissing("reduce or process")
	}
	o.cfg.addFn = func(acc IN, has bool, v IN) IN {
		if has {
			return reduce(acc, v)
		}
		return v
	}
	o.cfg.mergeFn = reduce
	o.cfg.emitFn = func(k K, w W, acc IN, out Collector[OUT]) { fn(k, w, acc, out) }
	o.cfg.needsKey = true
	return o
}

// Aggregate returns a window operator that adds the elements of each window to an
// accumulator as they arrive and emits agg.Result when it fires. agg.Merge combines the
// panes of sliding windows and merges sessions; Add and Merge must not modify memory
// of accumulators they do not return.
func Aggregate[K, IN, ACC, OUT any, W Window](a Assigner[W], agg state.Aggregate[IN, ACC, OUT]) *Operator[K, IN, ACC, OUT, W] {
	o := newOperator[K, IN, ACC, OUT](a)
	if agg == nil {
		o.fnMissing("aggregate")
		return o
	}
	o.cfg.addFn = func(acc ACC, has bool, v IN) ACC {
		if !has {
			acc = agg.CreateAccumulator()
		}
		return agg.Add(v, acc)
	}
	o.cfg.mergeFn = agg.Merge
	o.cfg.emitFn = func(_ K, _ W, acc ACC, out Collector[OUT]) { out.Collect(agg.Result(acc)) }
	return o
}

// AggregateProcess is Aggregate followed by a process window function: fn gets the key,
// the window and agg.Result of the window's accumulator when it fires.
func AggregateProcess[K, IN, ACC, V, OUT any, W Window](a Assigner[W], agg state.Aggregate[IN, ACC, V], fn func(key K, w W, v V, out Collector[OUT])) *Operator[K, IN, ACC, OUT, W] {
	o := newOperator[K, IN, ACC, OUT](a)
	if agg == nil || fn == nil {
		o.fnMissing("aggregate or process")
		return o
	}
	o.cfg.addFn = func(acc ACC, has bool, v IN) ACC {
		if !has {
			acc = agg.CreateAccumulator()
		}
		return agg.Add(v, acc)
	}
	o.cfg.mergeFn = agg.Merge
	o.cfg.emitFn = func(k K, w W, acc ACC, out Collector[OUT]) { fn(k, w, agg.Result(acc), out) }
	o.cfg.needsKey = true
	return o
}

// Process returns a window operator that keeps the elements of each window and calls
// fn with all of them when the window fires (Flink's ProcessWindowFunction). elements is
// valid during the call only and must not be modified. Elements come in arrival order
// within a pane and in pane (time) order across the panes of a sliding window.
func Process[K, IN, OUT any, W Window](a Assigner[W], fn func(key K, w W, elements []IN, out Collector[OUT])) *Operator[K, IN, []IN, OUT, W] {
	o := newOperator[K, IN, []IN, OUT](a)
	if fn == nil {
		o.fnMissing("process")
	}
	o.cfg.list = true
	o.cfg.emitFn = func(k K, w W, acc []IN, out Collector[OUT]) { fn(k, w, acc, out) }
	o.cfg.needsKey = true
	return o
}

// WithTrigger sets the trigger; the default is the assigner's DefaultTrigger.
func (o *Operator[K, IN, ACC, OUT, W]) WithTrigger(t Trigger[W]) *Operator[K, IN, ACC, OUT, W] {
	o.cfg.trigger = t
	return o
}

// WithAllowedLateness keeps windows of event time for d after the watermark passed their
// end (default 0): an element arriving in that time is added and, with the default
// trigger, fires its window again at once. A window's state is cleaned up when the
// watermark reaches maxTimestamp + d.
func (o *Operator[K, IN, ACC, OUT, W]) WithAllowedLateness(d time.Duration) *Operator[K, IN, ACC, OUT, W] {
	o.cfg.lateness = d.Milliseconds()
	return o
}

// WithLateOutput emits late elements (all of whose windows are past their cleanup time)
// to side output tag instead of dropping them. Without it they are counted in
// LateRecordsDropped.
func (o *Operator[K, IN, ACC, OUT, W]) WithLateOutput(tag stream.OutputTag[IN]) *Operator[K, IN, ACC, OUT, W] {
	o.cfg.lateTag = &tag
	return o
}

// WithKeyCodec sets the codec of the keys the runtime encoded (default
// state.KeyCodecFor[K]); process functions get keys decoded with it.
func (o *Operator[K, IN, ACC, OUT, W]) WithKeyCodec(c state.KeyCodec[K]) *Operator[K, IN, ACC, OUT, W] {
	o.cfg.keyCodec = c
	return o
}

// WithAccumulatorCodec sets the codec of the accumulators kept in state by Reduce and
// Aggregate operators (default state.CodecFor).
func (o *Operator[K, IN, ACC, OUT, W]) WithAccumulatorCodec(c state.Codec[ACC]) *Operator[K, IN, ACC, OUT, W] {
	o.cfg.accCodec = c
	return o
}

// WithElementCodec sets the codec of the elements kept in state by Process operators
// (and of the reduced values of Reduce ones); default state.CodecFor.
func (o *Operator[K, IN, ACC, OUT, W]) WithElementCodec(c state.Codec[IN]) *Operator[K, IN, ACC, OUT, W] {
	o.cfg.elemCodec = c
	return o
}

// WithoutSlicing keeps sliding windows' contents per window, as Flink's WindowOperator
// does, instead of in shared panes: each element is added to each of its windows. Use it
// for reduce functions that are not associative, or for Process functions that need each
// window's elements in arrival order.
func (o *Operator[K, IN, ACC, OUT, W]) WithoutSlicing() *Operator[K, IN, ACC, OUT, W] {
	o.cfg.noSlicing = true
	return o
}

// Clone returns an operator with o's configuration and no runtime state, for another
// subtask.
func (o *Operator[K, IN, ACC, OUT, W]) Clone() *Operator[K, IN, ACC, OUT, W] {
	return &Operator[K, IN, ACC, OUT, W]{cfg: o.cfg}
}

// LateRecordsDropped is the number of late elements dropped (counted only without
// WithLateOutput).
func (o *Operator[K, IN, ACC, OUT, W]) LateRecordsDropped() int64 { return o.dropped }

func (o *Operator[K, IN, ACC, OUT, W]) trigger() Trigger[W] {
	if o.cfg.trigger != nil {
		return o.cfg.trigger
	}
	if o.cfg.assigner == nil {
		return nil
	}
	return o.cfg.assigner.DefaultTrigger()
}

// Validate reports every configuration problem at once, each wrapping ErrInvalid. Open
// calls it.
func (o *Operator[K, IN, ACC, OUT, W]) Validate() error {
	errs := append([]error(nil), o.cfg.errs...)
	a, t := o.cfg.assigner, o.trigger()
	if v, ok := a.(validator); ok {
		if err := v.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if t == nil {
		errs = append(errs, fmt.Errorf("%w: no trigger", ErrInvalid))
	} else if v, ok := t.(validator); ok {
		if err := v.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.cfg.lateness < 0 {
		errs = append(errs, fmt.Errorf("%w: allowed lateness %dms is negative", ErrInvalid, o.cfg.lateness))
	}
	if a != nil && o.cfg.lateness > 0 && !a.IsEventTime() {
		errs = append(errs, fmt.Errorf("%w: allowed lateness is only valid for event-time windows", ErrInvalid))
	}
	if _, ok := a.(MergingAssigner[W]); ok && t != nil && !t.CanMerge() {
		errs = append(errs, fmt.Errorf("%w: trigger %v cannot be used with merging windows", ErrInvalid, t))
	}
	if eo, ok := a.(elementOnly); ok {
		if _, ok := a.(ElementAssigner[IN, W]); !ok {
			var v IN
			errs = append(errs, fmt.Errorf("%w: assigner needs elements of type %s, the operator's are %T", ErrInvalid, eo.elementType(), v))
		}
	}
	if o.cfg.needsKey && o.cfg.keyCodec == nil {
		if _, err := state.KeyCodecFor[K](); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalid, err))
		}
	}
	return errors.Join(errs...)
}

// Open checks the configuration (Validate) and creates the operator's state; it returns
// ErrNotKeyed on a stream that is not keyed.
func (o *Operator[K, IN, ACC, OUT, W]) Open(ctx stream.Context, out stream.Output[OUT]) error {
	if err := o.Validate(); err != nil {
		return err
	}
	b, ts := ctx.State(), ctx.Timers()
	if b == nil || ts == nil {
		return ErrNotKeyed
	}
	c := &o.cfg
	if c.needsKey && c.keyCodec == nil {
		c.keyCodec, _ = state.KeyCodecFor[K]()
	}
	o.ctx, o.backend, o.timers = ctx, b, ts
	o.coll.out = out
	if err := o.hz.open(b, ts); err != nil {
		return err
	}
	o.tctx = TriggerContext{timers: ts, backend: b, hz: &o.hz}
	o.actx.timers = ts
	o.trig = o.trigger()
	o.wcodec = c.assigner.WindowCodec()
	o.elemAsg, _ = c.assigner.(ElementAssigner[IN, W])
	o.collectFn = o.collectGroup

	var err error
	if c.list {
		var s store[IN, []IN]
		if s, err = newListStore(b, c.elemCodec); err == nil {
			o.contents = any(s).(store[IN, ACC])
		}
	} else {
		codec := c.accCodec
		if codec == nil && c.elemCodec != nil {
			codec, _ = any(c.elemCodec).(state.Codec[ACC]) // Reduce: ACC is IN
		}
		o.contents, err = newValueStore(b, codec, c.addFn, c.mergeFn)
	}
	if err != nil {
		return err
	}

	eventTime := c.assigner.IsEventTime()
	o.eventTime = eventTime
	o.mode = perWindow
	if m, ok := c.assigner.(MergingAssigner[W]); ok {
		o.mode, o.merging = merging, m
		o.mset, err = state.NewValue(b, state.Desc[[]mergeEntry[W]]{Name: mergingSetState, Codec: mergeSetCodec[W]{o.wcodec}})
		if err != nil {
			return err
		}
	} else if s, ok := c.assigner.(slicer); ok {
		size, slide, offset := s.slices()
		_, neverPurges := o.trig.(neverPurger)
		// Tumbling windows are their own single pane. Sliding ones share panes when no
		// window can be purged alone (see neverPurger) and time is event time: over
		// processing time a window can be assigned again after its cleanup, at the same
		// clock reading, which a pane outliving it would wrongly still hold.
		if size == slide || (eventTime && neverPurges && !c.noSlicing) {
			o.mode = paned
			o.pane = paneGeom{size: size, slide: slide, offset: offset, pane: gcd(size, slide)}
		}
	}
	o.fast = fastNone
	if o.mode != merging {
		switch o.trig.(type) {
		case eventTimeTrigger[W]:
			if eventTime {
				o.fast = fastEventTime
			}
		case processingTimeTrigger[W]:
			if !eventTime {
				o.fast = fastProcTime
			}
		}
	}
	return nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// OnWatermark does nothing: windows fire and are cleaned up by their timers, which the
// runtime fires before it calls OnWatermark.
func (o *Operator[K, IN, ACC, OUT, W]) OnWatermark(int64) error { return nil }

// Close does nothing; the state stays in the backend.
func (o *Operator[K, IN, ACC, OUT, W]) Close() error { return nil }

// ProcessElement adds r to its windows (dropping or side-outputting it when late) and
// fires windows whose trigger says so.
func (o *Operator[K, IN, ACC, OUT, W]) ProcessElement(r stream.Record[IN]) error {
	o.tctx.reset()
	if o.eventTime {
		// An element behind the watermark is judged against it: remember that (horizon).
		if wm := o.hz.watermark(); r.Timestamp <= wm {
			if err := o.hz.advance(wm); err != nil {
				return err
			}
		}
	}
	var skipped bool
	var err error
	switch o.mode {
	case paned:
		skipped, err = o.processPaned(r)
	case merging:
		skipped, err = o.processMerging(r)
	default:
		skipped, err = o.processWindows(r)
	}
	if err != nil || !skipped || !o.eventTime {
		return err
	}
	if addClamped(r.Timestamp, o.cfg.lateness) > o.hz.watermark() {
		return nil // in no window (a custom assigner's choice), but not late
	}
	if o.cfg.lateTag != nil {
		stream.EmitSide(o.ctx, *o.cfg.lateTag, r)
	} else {
		o.dropped++
	}
	return nil
}

// OnTimer handles a window's timer: the trigger decides whether to fire and purge; at the
// window's cleanup time its state goes.
func (o *Operator[K, IN, ACC, OUT, W]) OnTimer(d state.Domain, t state.Timer) error {
	o.tctx.reset()
	w, err := o.wcodec.Decode(t.Namespace)
	if err != nil {
		return err
	}
	o.ns = append(o.ns[:0], t.Namespace...)
	o.tctx.ns = o.ns
	if d == state.EventTime {
		if err := o.hz.advance(o.timers.CurrentWatermark()); err != nil {
			return err
		}
	}
	if o.mode == merging {
		return o.onTimerMerging(d, t.Timestamp, w)
	}

	var res TriggerResult
	switch o.fast {
	case fastEventTime:
		if d == state.EventTime && t.Timestamp == w.MaxTimestamp() {
			res = Fire
		}
	case fastProcTime:
		if d == state.ProcessingTime {
			res = Fire
		}
	default:
		if res, err = o.onTime(d, t.Timestamp, w); err != nil {
			return err
		}
	}
	if res.IsFire() {
		if err := o.fire(w); err != nil {
			return err
		}
	}
	if res.IsPurge() {
		if err := o.purge(w); err != nil {
			return err
		}
	}
	if !o.isCleanupTime(d, w, t.Timestamp) {
		return nil
	}
	// clearAllState
	if o.mode == paned {
		err = o.clearPanesOf(toTW(w))
	} else {
		o.contents.setNamespace(o.ns)
		err = o.contents.clear()
	}
	if err != nil || o.fast != fastNone {
		// The default triggers' Clear would delete their timer at maxTimestamp, which is
		// at or before the cleanup time: it has fired already.
		return err
	}
	o.tctx.ns = o.ns
	return o.trig.Clear(w, &o.tctx)
}

func (o *Operator[K, IN, ACC, OUT, W]) onTime(d state.Domain, t int64, w W) (TriggerResult, error) {
	if d == state.EventTime {
		return o.trig.OnEventTime(t, w, &o.tctx)
	}
	return o.trig.OnProcessingTime(t, w, &o.tctx)
}

// ---- non-merging windows ----

// processWindows adds r to each of its windows (Flink's layout).
func (o *Operator[K, IN, ACC, OUT, W]) processWindows(r stream.Record[IN]) (skipped bool, err error) {
	if err := o.assign(r); err != nil {
		return false, err
	}
	wm := o.hz.watermark()
	skipped = true
	for _, w := range o.wins {
		if o.isWindowLate(w, wm) {
			continue
		}
		skipped = false
		o.ns = o.wcodec.Append(o.ns[:0], w)
		o.contents.setNamespace(o.ns)
		fresh, err := o.contents.add(r.Value)
		if err != nil {
			return false, err
		}
		o.tctx.ns = o.ns
		if o.fast != fastNone {
			if err := o.onElementFast(w, fresh, wm); err != nil {
				return false, err
			}
			continue
		}
		res, err := o.trig.OnElement(r.Timestamp, w, &o.tctx)
		if err != nil {
			return false, err
		}
		if res.IsFire() {
			o.contents.setNamespace(o.ns)
			acc, ok, err := o.contents.get()
			if err != nil {
				return false, err
			}
			if !ok {
				continue
			}
			if err := o.emit(w, acc); err != nil {
				return false, err
			}
		}
		if res.IsPurge() {
			o.contents.setNamespace(o.ns)
			if err := o.contents.clear(); err != nil {
				return false, err
			}
		}
		o.tctx.ns = o.ns
		o.registerCleanupTimer(w)
	}
	return skipped, nil
}

// onElementFast is the default trigger's OnElement and the cleanup timer, for an element
// just added to w (o.ns). A window's timers are set with its first element: until its
// cleanup, which makes the window late for good, they stay set (the default triggers
// delete timers only in Clear), so later elements need no timer calls at all.
func (o *Operator[K, IN, ACC, OUT, W]) onElementFast(w W, fresh bool, wm int64) error {
	maxTs := w.MaxTimestamp()
	if o.fast == fastProcTime {
		if fresh {
			o.tctx.RegisterProcessingTimeTimer(maxTs)
			o.registerCleanupTimer(w)
		}
		return nil
	}
	if fresh {
		if maxTs > wm {
			o.tctx.RegisterEventTimeTimer(maxTs)
		}
		o.registerCleanupTimer(w)
	}
	if maxTs <= wm {
		return o.fire(w) // a late element within the allowed lateness fires at once
	}
	return nil
}

func (o *Operator[K, IN, ACC, OUT, W]) assign(r stream.Record[IN]) (err error) {
	if o.elemAsg != nil {
		o.wins, err = o.elemAsg.AssignElement(r.Value, r.Timestamp, &o.actx, o.wins[:0])
	} else {
		o.wins, err = o.cfg.assigner.AssignWindows(r.Timestamp, &o.actx, o.wins[:0])
	}
	return err
}

// fire emits the contents of w, whose namespace is o.ns (not merging).
func (o *Operator[K, IN, ACC, OUT, W]) fire(w W) error {
	var acc ACC
	var ok bool
	var err error
	if o.mode == paned {
		acc, ok, err = o.paneContents(toTW(w))
	} else {
		o.contents.setNamespace(o.ns)
		acc, ok, err = o.contents.get()
	}
	if err != nil || !ok {
		return err
	}
	return o.emit(w, acc)
}

// purge clears the contents of w (not merging). Panes are purged only when they are
// windows: sliding windows share panes only under never-purging triggers.
func (o *Operator[K, IN, ACC, OUT, W]) purge(w W) error {
	if o.mode == paned {
		tw := toTW(w)
		if o.pane.pane != o.pane.size {
			return fmt.Errorf("window: trigger %v purged the shared panes of %v", o.trig, tw)
		}
		o.sns = appendTimeWindow(o.sns[:0], tw.Start, tw.End)
		o.contents.setNamespace(o.sns)
	} else {
		o.contents.setNamespace(o.ns)
	}
	return o.contents.clear()
}

func (o *Operator[K, IN, ACC, OUT, W]) emit(w W, acc ACC) error {
	var k K
	if o.cfg.needsKey {
		var err error
		if k, err = o.currentKey(); err != nil {
			return err
		}
	}
	o.coll.ts = w.MaxTimestamp()
	o.cfg.emitFn(k, w, acc, &o.coll)
	return nil
}

func (o *Operator[K, IN, ACC, OUT, W]) currentKey() (K, error) {
	kb := o.backend.CurrentKey()
	if o.keyOK && bytes.Equal(kb, o.keyBytes) {
		return o.keyVal, nil
	}
	k, err := o.cfg.keyCodec.Decode(kb)
	if err != nil {
		o.keyOK = false
		return k, fmt.Errorf("window: decoding the key: %w", err)
	}
	o.keyBytes, o.keyVal, o.keyOK = append(o.keyBytes[:0], kb...), k, true
	return k, nil
}

// ---- time, lateness and cleanup ----

// cleanupTime is when w's state goes: maxTimestamp + allowed lateness for event time
// (math.MaxInt64 on overflow: never), maxTimestamp for processing time.
func (o *Operator[K, IN, ACC, OUT, W]) cleanupTime(w W) int64 {
	if o.eventTime {
		return addClamped(w.MaxTimestamp(), o.cfg.lateness)
	}
	return w.MaxTimestamp()
}

func addClamped(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func (o *Operator[K, IN, ACC, OUT, W]) isWindowLate(w W, wm int64) bool {
	return o.eventTime && o.cleanupTime(w) <= wm
}

func (o *Operator[K, IN, ACC, OUT, W]) isCleanupTime(d state.Domain, w W, t int64) bool {
	return (d == state.EventTime) == o.eventTime && t == o.cleanupTime(w)
}

// registerCleanupTimer sets w's cleanup timer; o.tctx.ns must be w's namespace.
func (o *Operator[K, IN, ACC, OUT, W]) registerCleanupTimer(w W) {
	ct := o.cleanupTime(w)
	if ct == math.MaxInt64 {
		return // no cleanup at the end of time
	}
	if o.eventTime {
		o.tctx.RegisterEventTimeTimer(ct)
	} else {
		o.tctx.RegisterProcessingTimeTimer(ct)
	}
}

// deleteCleanupTimer removes w's cleanup timer; o.tctx.ns must be w's namespace.
func (o *Operator[K, IN, ACC, OUT, W]) deleteCleanupTimer(w W) {
	ct := o.cleanupTime(w)
	if ct == math.MaxInt64 {
		return
	}
	if o.eventTime {
		o.tctx.DeleteEventTimeTimer(ct)
	} else {
		o.tctx.DeleteProcessingTimeTimer(ct)
	}
}

// ---- helpers ----

type collector[OUT any] struct {
	out stream.Output[OUT]
	ts  int64
}

func (c *collector[OUT]) Collect(v OUT) {
	c.out.Emit(stream.Record[OUT]{Value: v, Timestamp: c.ts})
}

type assignerCtx struct{ timers stream.TimerService }

func (c *assignerCtx) CurrentProcessingTime() int64 { return c.timers.CurrentProcessingTime() }

// toTW and fromTW convert between W and TimeWindow where W is TimeWindow (panes).
func toTW[W Window](w W) TimeWindow    { return any(w).(TimeWindow) }
func fromTW[W Window](tw TimeWindow) W { return any(tw).(W) }
