package window

import (
	"fmt"
	"time"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// AssignerContext gives an assigner the processing time, for processing-time windows.
type AssignerContext interface {
	CurrentProcessingTime() int64
}

// Assigner puts elements into windows (Flink's WindowAssigner).
type Assigner[W Window] interface {
	// AssignWindows appends to dst the windows of an element with timestamp ts and
	// returns the extended slice. Returns ErrNoTimestamp when an event-time assigner gets
	// stream.NoTimestamp.
	AssignWindows(ts int64, ctx AssignerContext, dst []W) ([]W, error)
	// DefaultTrigger is the trigger used when the operator sets none.
	DefaultTrigger() Trigger[W]
	// IsEventTime reports whether windows are of event time: only then do watermarks,
	// allowed lateness and late records apply.
	IsEventTime() bool
	// WindowCodec encodes a window as the namespace of its state and timers. Encodings
	// must be deterministic and must never change for a job with state.
	WindowCodec() state.Codec[W]
}

// MergingAssigner is an assigner whose windows merge (sessions).
type MergingAssigner[W Window] interface {
	Assigner[W]
	// MergeWindows finds the windows that merge and calls merge once per group of two or
	// more distinct windows with the group and the window covering it. It may reorder
	// windows; toBeMerged may alias windows and is valid during the call only.
	MergeWindows(windows []W, merge func(toBeMerged []W, result W))
}

// ElementAssigner is implemented by assigners that need the element itself (DynamicSession).
// The operator calls AssignElement instead of AssignWindows when its assigner implements
// ElementAssigner for the operator's element type.
type ElementAssigner[IN any, W Window] interface {
	AssignElement(v IN, ts int64, ctx AssignerContext, dst []W) ([]W, error)
}

// validator is implemented by the built-in assigners: Validate of the operator reports
// their configuration errors.
type validator interface{ validate() error }

// slicer is implemented by tumbling and sliding event-time assigners: their windows are
// made of panes of gcd(size, slide) that the operator can share between windows.
type slicer interface {
	slices() (size, slide, offset int64)
}

// elementOnly marks assigners that cannot assign without the element.
type elementOnly interface{ elementType() string }

func ms(d time.Duration) int64 { return d.Milliseconds() }

// ---- tumbling ----

type tumbling struct {
	size, offset int64
	procTime     bool
	err          error
}

// Tumbling returns event-time tumbling windows of size, whose starts are offset from the
// epoch by offset (|offset| < size; use 0 for windows aligned to the epoch, -8h for days
// starting at midnight UTC+8, ...). Windows are [start, start+size) with start =
// ts - ((ts - offset) mod size). The default trigger is EventTimeTrigger.
func Tumbling(size, offset time.Duration) Assigner[TimeWindow] {
	return newTumbling(size, offset, false)
}

// TumblingProcessingTime is Tumbling over processing time: an element goes to the window
// of the clock's time when it arrives. The default trigger is ProcessingTimeTrigger.
func TumblingProcessingTime(size, offset time.Duration) Assigner[TimeWindow] {
	return newTumbling(size, offset, true)
}

func newTumbling(size, offset time.Duration, proc bool) *tumbling {
	t := &tumbling{size: ms(size), offset: ms(offset), procTime: proc}
	switch {
	case t.size <= 0:
		t.err = fmt.Errorf("%w: tumbling window size %v must be at least 1ms", ErrInvalid, size)
	case t.offset >= t.size || -t.offset >= t.size:
		t.err = fmt.Errorf("%w: tumbling window offset %v must be smaller than the size %v", ErrInvalid, offset, size)
	}
	return t
}

func (t *tumbling) validate() error { return t.err }
func (t *tumbling) slices() (size, slide, offset int64) {
	return t.size, t.size, t.offset % t.size
}
func (t *tumbling) IsEventTime() bool                    { return !t.procTime }
func (t *tumbling) WindowCodec() state.Codec[TimeWindow] { return TimeWindowCodec }
func (t *tumbling) DefaultTrigger() Trigger[TimeWindow] {
	return defaultTrigger[TimeWindow](t.procTime)
}
func (t *tumbling) String() string { return fmt.Sprintf("Tumbling(%d, %d)", t.size, t.offset) }
func (t *tumbling) AssignWindows(ts int64, ctx AssignerContext, dst []TimeWindow) ([]TimeWindow, error) {
	if t.procTime {
		ts = ctx.CurrentProcessingTime()
	} else if ts == stream.NoTimestamp {
		return dst, ErrNoTimestamp
	}
	s := Start(ts, t.offset%t.size, t.size)
	return append(dst, TimeWindow{s, s + t.size}), nil
}

// ---- sliding ----

type sliding struct {
	size, slide, offset int64
	procTime            bool
	err                 error
}

// Sliding returns event-time sliding windows of size, one starting every slide, offset
// from the epoch by offset (|offset| < slide). An element belongs to size/slide windows
// (rounded up); the last one starts at ts - ((ts - offset) mod slide). The default
// trigger is EventTimeTrigger.
//
// The operator does not write an element into each of its windows: it keeps the contents
// in panes of gcd(size, slide) and combines the panes of a window when the window fires
// (see the package documentation).
func Sliding(size, slide, offset time.Duration) Assigner[TimeWindow] {
	return newSliding(size, slide, offset, false)
}

// SlidingProcessingTime is Sliding over processing time. Its windows are kept per window,
// not in panes.
func SlidingProcessingTime(size, slide, offset time.Duration) Assigner[TimeWindow] {
	return newSliding(size, slide, offset, true)
}

func newSliding(size, slide, offset time.Duration, proc bool) *sliding {
	s := &sliding{size: ms(size), slide: ms(slide), offset: ms(offset), procTime: proc}
	switch {
	case s.size <= 0:
		s.err = fmt.Errorf("%w: sliding window size %v must be at least 1ms", ErrInvalid, size)
	case s.slide <= 0:
		s.err = fmt.Errorf("%w: sliding window slide %v must be at least 1ms", ErrInvalid, slide)
	case s.offset >= s.slide || -s.offset >= s.slide:
		s.err = fmt.Errorf("%w: sliding window offset %v must be smaller than the slide %v", ErrInvalid, offset, slide)
	}
	return s
}

func (s *sliding) validate() error                     { return s.err }
func (s *sliding) slices() (size, slide, offset int64) { return s.size, s.slide, s.offset }
func (s *sliding) IsEventTime() bool                   { return !s.procTime }
func (s *sliding) WindowCodec() state.Codec[TimeWindow] {
	return TimeWindowCodec
}
func (s *sliding) DefaultTrigger() Trigger[TimeWindow] { return defaultTrigger[TimeWindow](s.procTime) }
func (s *sliding) String() string {
	return fmt.Sprintf("Sliding(%d, %d, %d)", s.size, s.slide, s.offset)
}
func (s *sliding) AssignWindows(ts int64, ctx AssignerContext, dst []TimeWindow) ([]TimeWindow, error) {
	if s.procTime {
		ts = ctx.CurrentProcessingTime()
	} else if ts == stream.NoTimestamp {
		return dst, ErrNoTimestamp
	}
	// Latest window first, as Flink: late-but-allowed firings come out in this order.
	for start := Start(ts, s.offset, s.slide); start > ts-s.size; start -= s.slide {
		dst = append(dst, TimeWindow{start, start + s.size})
	}
	return dst, nil
}

// ---- sessions ----

type session struct {
	gap      int64
	procTime bool
	err      error
}

// Session returns event-time session windows: an element at ts is in [ts, ts+gap), and
// windows that overlap or touch merge, so a session ends gap after its last element.
// The default trigger is EventTimeTrigger.
func Session(gap time.Duration) MergingAssigner[TimeWindow] { return newSession(gap, false) }

// SessionProcessingTime is Session over processing time.
func SessionProcessingTime(gap time.Duration) MergingAssigner[TimeWindow] {
	return newSession(gap, true)
}

func newSession(gap time.Duration, proc bool) *session {
	s := &session{gap: ms(gap), procTime: proc}
	if s.gap <= 0 {
		s.err = fmt.Errorf("%w: session gap %v must be at least 1ms", ErrInvalid, gap)
	}
	return s
}

func (s *session) validate() error                      { return s.err }
func (s *session) IsEventTime() bool                    { return !s.procTime }
func (s *session) WindowCodec() state.Codec[TimeWindow] { return TimeWindowCodec }
func (s *session) DefaultTrigger() Trigger[TimeWindow]  { return defaultTrigger[TimeWindow](s.procTime) }
func (s *session) String() string                       { return fmt.Sprintf("Session(%d)", s.gap) }
func (s *session) MergeWindows(ws []TimeWindow, merge func([]TimeWindow, TimeWindow)) {
	MergeTimeWindows(ws, merge)
}
func (s *session) AssignWindows(ts int64, ctx AssignerContext, dst []TimeWindow) ([]TimeWindow, error) {
	if s.procTime {
		ts = ctx.CurrentProcessingTime()
	} else if ts == stream.NoTimestamp {
		return dst, ErrNoTimestamp
	}
	return append(dst, TimeWindow{ts, ts + s.gap}), nil
}

// DynamicSessionAssigner is the assigner of DynamicSession: session windows whose gap
// comes from each element.
type DynamicSessionAssigner[IN any] struct {
	gap      func(IN) time.Duration
	procTime bool
}

// DynamicSession returns event-time session windows whose gap is gap(element); gap must
// return at least 1ms (ErrInvalid otherwise, failing the job as in Flink). Windows merge
// as Session's. The operator's element type must be IN.
func DynamicSession[IN any](gap func(IN) time.Duration) *DynamicSessionAssigner[IN] {
	return &DynamicSessionAssigner[IN]{gap: gap}
}

// DynamicSessionProcessingTime is DynamicSession over processing time.
func DynamicSessionProcessingTime[IN any](gap func(IN) time.Duration) *DynamicSessionAssigner[IN] {
	return &DynamicSessionAssigner[IN]{gap: gap, procTime: true}
}

func (s *DynamicSessionAssigner[IN]) validate() error {
	if s.gap == nil {
		return fmt.Errorf("%w: dynamic session without a gap function", ErrInvalid)
	}
	return nil
}
func (s *DynamicSessionAssigner[IN]) elementType() string { var v IN; return fmt.Sprintf("%T", v) }

// IsEventTime reports whether the sessions are of event time.
func (s *DynamicSessionAssigner[IN]) IsEventTime() bool { return !s.procTime }

// WindowCodec is TimeWindowCodec.
func (s *DynamicSessionAssigner[IN]) WindowCodec() state.Codec[TimeWindow] { return TimeWindowCodec }

// DefaultTrigger is EventTimeTrigger, or ProcessingTimeTrigger over processing time.
func (s *DynamicSessionAssigner[IN]) DefaultTrigger() Trigger[TimeWindow] {
	return defaultTrigger[TimeWindow](s.procTime)
}

// MergeWindows merges overlapping or touching windows (MergeTimeWindows).
func (s *DynamicSessionAssigner[IN]) MergeWindows(ws []TimeWindow, merge func([]TimeWindow, TimeWindow)) {
	MergeTimeWindows(ws, merge)
}

// AssignWindows cannot assign without the element: it returns ErrInvalid. The operator
// uses AssignElement.
func (s *DynamicSessionAssigner[IN]) AssignWindows(int64, AssignerContext, []TimeWindow) ([]TimeWindow, error) {
	return nil, fmt.Errorf("%w: a dynamic session assigner needs the element", ErrInvalid)
}

// AssignElement assigns [ts, ts+gap(v)).
func (s *DynamicSessionAssigner[IN]) AssignElement(v IN, ts int64, ctx AssignerContext, dst []TimeWindow) ([]TimeWindow, error) {
	if s.procTime {
		ts = ctx.CurrentProcessingTime()
	} else if ts == stream.NoTimestamp {
		return dst, ErrNoTimestamp
	}
	gap := ms(s.gap(v))
	if gap <= 0 {
		return dst, fmt.Errorf("%w: dynamic session gap %dms must be at least 1ms", ErrInvalid, gap)
	}
	return append(dst, TimeWindow{ts, ts + gap}), nil
}

// MergeTimeWindows is the merge of session windows (Flink's TimeWindow.mergeWindows): it
// sorts ws by start, removes duplicates, and calls merge for every run of two or more
// windows where each intersects (Intersects: overlaps or touches) the cover of those
// before it. toBeMerged aliases ws.
func MergeTimeWindows(ws []TimeWindow, merge func(toBeMerged []TimeWindow, result TimeWindow)) {
	// Insertion sort: the windows of one key are few.
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j].Start < ws[j-1].Start; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
	lo, n := 0, 0 // current run is ws[lo:n] (compacted), cover its cover
	var cover TimeWindow
	for i, w := range ws {
		if i == 0 {
			cover, n = w, 1
			ws[0] = w
			continue
		}
		if cover.Intersects(w) {
			if !containsWindow(ws[lo:n], w) { // a set, as Flink's
				ws[n] = w
				n++
			}
			cover = cover.Cover(w)
			continue
		}
		if n-lo > 1 {
			merge(ws[lo:n], cover)
		}
		ws[n] = w
		lo, n, cover = n, n+1, w
	}
	if n-lo > 1 {
		merge(ws[lo:n], cover)
	}
}

func containsWindow[W Window](ws []W, w W) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

// ---- global ----

type global struct{}

// Global returns the assigner of a single window per key that never ends: an operator
// over it needs a trigger (CountTrigger, ContinuousEventTimeTrigger, ...), since the
// default, NeverTrigger, never fires. Its windows are not of event time.
func Global() Assigner[GlobalWindow] { return global{} }

func (global) IsEventTime() bool                      { return false }
func (global) WindowCodec() state.Codec[GlobalWindow] { return GlobalWindowCodec }
func (global) DefaultTrigger() Trigger[GlobalWindow]  { return NeverTrigger[GlobalWindow]() }
func (global) String() string                         { return "Global()" }
func (global) AssignWindows(_ int64, _ AssignerContext, dst []GlobalWindow) ([]GlobalWindow, error) {
	return append(dst, GlobalWindow{}), nil
}

func defaultTrigger[W Window](procTime bool) Trigger[W] {
	if procTime {
		return ProcessingTimeTrigger[W]()
	}
	return EventTimeTrigger[W]()
}
