package join

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Windows is the event-time window assigner of a window join: tumbling, sliding or
// session windows, with Flink's arithmetic (see the package documentation). The zero
// value is invalid; use Tumbling, Sliding or Session.
type Windows struct {
	kind                     windowKind
	size, slide, offset, gap time.Duration
}

type windowKind uint8

const (
	tumbling windowKind = iota + 1
	sliding
	session
)

// Tumbling returns windows [start, start+size) that tile event time.
func Tumbling(size time.Duration) Windows { return Windows{kind: tumbling, size: size, slide: size} }

// Sliding returns windows of size starting every slide; a record belongs to size/slide
// windows (none, when slide > size and it falls between two windows).
func Sliding(size, slide time.Duration) Windows {
	return Windows{kind: sliding, size: size, slide: slide}
}

// Session returns per-key session windows: a record at ts opens [ts, ts+gap), and windows
// that overlap or touch merge.
func Session(gap time.Duration) Windows { return Windows{kind: session, gap: gap} }

// WithOffset shifts the window starts of tumbling or sliding windows by offset (for
// example, days in another time zone); |offset| must be less than the slide.
func (w Windows) WithOffset(offset time.Duration) Windows {
	w.offset = offset
	return w
}

// String describes the windows, for error messages.
func (w Windows) String() string {
	switch w.kind {
	case tumbling:
		return fmt.Sprintf("tumbling %v windows (offset %v)", w.size, w.offset)
	case sliding:
		return fmt.Sprintf("sliding %v windows every %v (offset %v)", w.size, w.slide, w.offset)
	case session:
		return fmt.Sprintf("session windows with a gap of %v", w.gap)
	}
	return "no windows"
}

// spec is Windows validated and in milliseconds.
type spec struct {
	session                  bool
	size, slide, offset, gap int64
	pane                     int64 // gcd(size, slide): records are stored per pane
	lastPanes                int64 // panes a window's firing clears: min(size, slide)
}

func (w Windows) spec() (spec, error) {
	var errs []error
	var s spec
	switch w.kind {
	case tumbling, sliding:
		s.size, errs = millis("window size", w.size, errs)
		s.slide, errs = millis("window slide", w.slide, errs)
		s.offset, errs = millis("window offset", w.offset, errs)
		if s.size <= 0 || s.slide <= 0 {
			errs = append(errs, fmt.Errorf("join: %v: size and slide must be positive", w))
		} else if s.offset <= -s.slide || s.offset >= s.slide {
			errs = append(errs, fmt.Errorf("join: %v: |offset| must be less than the slide", w))
		} else {
			s.pane = gcd(s.size, s.slide)
			s.lastPanes = min(s.size, s.slide)
		}
	case session:
		s.session = true
		s.gap, errs = millis("session gap", w.gap, errs)
		if s.gap <= 0 {
			errs = append(errs, fmt.Errorf("join: %v: the gap must be positive", w))
		}
	default:
		errs = append(errs, errors.New("join: no windows given (use Tumbling, Sliding or Session)"))
	}
	return s, errors.Join(errs...)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// start returns the start of the window (or pane) of width w containing ts, aligned to
// offset: ts - ((ts - offset) mod w) with a non-negative remainder.
func start(ts, offset, w int64) int64 {
	r := (ts - offset) % w
	if r < 0 {
		r += w
	}
	return ts - r
}

// Window is a window [Start, End) of event time, in ms.
type Window struct{ Start, End int64 }

// MaxTimestamp is the last time in the window, End - 1: the time of its results.
func (w Window) MaxTimestamp() int64 { return w.End - 1 }

// CoGroupFunc gets, for one key and one window, every record of both inputs in the window
// (Flink's CoGroupFunction, plus the window). One side may be empty, never both. The
// slices are valid during the call only. It collects zero or more results; an error
// fails the job.
type CoGroupFunc[L, R, OUT any] func(w Window, left []L, right []R, out Collector[OUT]) error

// NewWindowJoin returns the window join of two keyed streams (Flink's
// join().where().equalTo().window()): for every window and key, each pair of a left and a
// right record of that window goes through fn when the watermark passes the window's end,
// and the results have the window's maxTimestamp (end - 1). Windows where one side has
// no records produce nothing. Allowed lateness is 0: a record whose windows have all
// fired is late, and goes to opts.LateLeft / opts.LateRight (or is dropped).
//
// Tumbling and sliding windows store each record once, in its pane (gcd(size, slide)
// wide), and a firing window reads its panes; the panes no later window needs are
// cleared when it fires. Session windows merge as in Flink, moving stored records only
// when a record bridges two sessions. Everything is keyed state and timers, so a
// snapshot carries it, and the state of a window is gone once the window fired.
//
// It returns an error describing every problem of w.
func NewWindowJoin[L, R, OUT any](w Windows, fn JoinFunc[L, R, OUT], opts Options[L, R]) (stream.TwoInputOperator[L, R, OUT], error) {
	if fn == nil {
		return NewWindowCoGroup[L, R, OUT](w, nil, opts)
	}
	return NewWindowCoGroup(w, func(_ Window, left []L, right []R, out Collector[OUT]) error {
		if len(right) == 0 {
			return nil
		}
		for _, l := range left {
			for _, r := range right {
				if err := fn(l, r, out); err != nil {
					return err
				}
			}
		}
		return nil
	}, opts)
}

// NewWindowCoGroup returns the window co-group of two keyed streams (Flink's
// coGroup().where().equalTo().window()): for every window and key with records, fn gets
// all records of both inputs in the window when the watermark passes the window's end;
// its results have the window's maxTimestamp. It is the window join's machinery with the
// whole window at hand: one result per key and window, outer joins, or the window's
// bounds in the result. Everything else is as for NewWindowJoin.
func NewWindowCoGroup[L, R, OUT any](w Windows, fn CoGroupFunc[L, R, OUT], opts Options[L, R]) (stream.TwoInputOperator[L, R, OUT], error) {
	s, err := w.spec()
	if fn == nil {
		err = errors.Join(err, errors.New("join: no join function"))
	}
	if err != nil {
		return nil, err
	}
	return &windowJoin[L, R, OUT]{spec: s, fn: fn, opts: opts}, nil
}

type windowJoin[L, R, OUT any] struct {
	spec
	fn     CoGroupFunc[L, R, OUT]
	opts   Options[L, R]
	ctx    stream.Context
	timers stream.TimerService
	left   windowSide[L]
	right  windowSide[R]
	// sessions holds a key's open session windows (session mode only).
	sessions state.ValueState[[]sessionWindow]
	col      collector[OUT]
	ns       [16]byte // namespace scratch
	merged   []bool   // session merge scratch: which open windows the new one absorbs
}

// windowSide is one input's stored records, per pane (or per session state window).
type windowSide[T any] struct {
	list state.ListState[T]
	ns   state.Namespaced
	late stream.OutputTag[T]
	buf  []T // the records of a firing window
}

func (s *windowSide[T]) open(b state.Backend, name string, codec state.Codec[T], late stream.OutputTag[T]) error {
	l, err := state.NewList(b, state.Desc[T]{Name: name, Codec: codec})
	if err != nil {
		return err
	}
	s.ns, err = namespaced(l)
	s.list, s.late = l, late
	return err
}

// gather appends the records stored in namespace ns to s.buf.
func (s *windowSide[T]) gather(ns []byte) error {
	s.ns.SetNamespace(ns)
	vs, err := s.list.Get()
	s.buf = append(s.buf, vs...)
	return err
}

func (s *windowSide[T]) clear(ns []byte) error {
	s.ns.SetNamespace(ns)
	return s.list.Clear()
}

func (o *windowJoin[L, R, OUT]) Open(ctx stream.Context, out stream.Output[OUT]) error {
	b, timers, err := keyedContext(ctx)
	if err != nil {
		return err
	}
	o.ctx, o.timers, o.col = ctx, timers, collector[OUT]{out: out}
	if err := o.left.open(b, "left", o.opts.LeftCodec, o.opts.LateLeft); err != nil {
		return err
	}
	if err := o.right.open(b, "right", o.opts.RightCodec, o.opts.LateRight); err != nil {
		return err
	}
	if o.session {
		o.sessions, err = state.NewValue(b, state.Desc[[]sessionWindow]{Name: "sessions", Codec: sessionsCodec{}})
	}
	return err
}

func (o *windowJoin[L, R, OUT]) ProcessElement1(r stream.Record[L]) error {
	return addToWindows(o, &o.left, r)
}

func (o *windowJoin[L, R, OUT]) ProcessElement2(r stream.Record[R]) error {
	return addToWindows(o, &o.right, r)
}

// addToWindows stores r in the windows it belongs to, or sends it to the late output.
func addToWindows[T, L, R, OUT any](o *windowJoin[L, R, OUT], side *windowSide[T], r stream.Record[T]) error {
	ts := r.Timestamp
	if ts == stream.NoTimestamp {
		return ErrNoTimestamp
	}
	wm := o.timers.CurrentWatermark()
	if o.session {
		sw, ok, err := o.mergeSession(ts, wm)
		if err != nil {
			return err
		}
		if !ok {
			stream.EmitSide(o.ctx, side.late, r)
			return nil
		}
		side.ns.SetNamespace(sw.stateNS(o.ns[:]))
		return side.list.Add(r.Value)
	}
	last := start(ts, o.offset, o.slide) // the last window containing ts, if any does
	if ts >= last+o.size || last+o.size-1 <= wm {
		// Between two sliding windows (in no window), or every window of ts has fired.
		// Late if behind the watermark, as Flink's window operator decides.
		if ts <= wm {
			stream.EmitSide(o.ctx, side.late, r)
		}
		return nil
	}
	pane := start(ts, o.offset, o.pane)
	side.ns.SetNamespace(paneNS(o.ns[:], pane))
	stored, err := side.list.Get()
	if err != nil {
		return err
	}
	if len(stored) == 0 {
		// The pane's first record of this side: make sure every window over the pane
		// that has not fired will fire. (The other side's first record does the same;
		// timers are de-duplicated.)
		for s := start(pane, o.offset, o.slide); s+o.size >= pane+o.pane; s -= o.slide {
			if s+o.size-1 > wm {
				o.timers.RegisterEventTimeTimer(paneNS(o.ns[:], s), s+o.size-1)
			}
		}
	}
	return side.list.Add(r.Value)
}

func (o *windowJoin[L, R, OUT]) OnTimer(d state.Domain, t state.Timer) error {
	if d != state.EventTime {
		return nil
	}
	if o.session {
		return o.fireSession(t)
	}
	if len(t.Namespace) != 8 {
		return fmt.Errorf("join: window timer with a namespace of %d bytes", len(t.Namespace))
	}
	s := int64(binary.BigEndian.Uint64(t.Namespace))
	for p := s; p < s+o.size; p += o.pane {
		ns := paneNS(o.ns[:], p)
		if err := o.left.gather(ns); err != nil {
			return err
		}
		if err := o.right.gather(ns); err != nil {
			return err
		}
	}
	err := o.fire(Window{s, s + o.size})
	// Panes before the next window's start belong to no later window.
	for p := s; p < s+o.lastPanes && err == nil; p += o.pane {
		ns := paneNS(o.ns[:], p)
		if err = o.left.clear(ns); err == nil {
			err = o.right.clear(ns)
		}
	}
	return err
}

// fire hands the gathered records of window w to fn and empties the buffers.
func (o *windowJoin[L, R, OUT]) fire(w Window) error {
	var err error
	if len(o.left.buf)+len(o.right.buf) > 0 {
		o.col.ts = w.MaxTimestamp()
		err = o.fn(w, o.left.buf, o.right.buf, &o.col)
	}
	clear(o.left.buf) // drop the references
	clear(o.right.buf)
	o.left.buf, o.right.buf = o.left.buf[:0], o.right.buf[:0]
	return err
}

func (o *windowJoin[L, R, OUT]) OnWatermark(int64) error { return nil }
func (o *windowJoin[L, R, OUT]) Close() error            { return nil }

func paneNS(dst []byte, start int64) []byte {
	binary.BigEndian.PutUint64(dst[:8], uint64(start))
	return dst[:8]
}

// --- session windows ---

// sessionWindow is an open session of a key: its window [Start, End), and the window its
// records are stored under (the namespace of the session's first window: merging
// windows keeps one of their state windows instead of moving records, as Flink's
// MergingWindowSet does).
//
// A session's timer is scoped by its state window, which never changes, and is not moved
// when the session grows (as nearly every record of a session makes it do): when it
// fires before the session's end, it is set again for the end. So each open session has
// a timer at or before its maxTimestamp, and growing a session costs no timer updates. A
// session merged into another leaves its timer behind, which then finds no session.
type sessionWindow struct {
	Start, End           int64
	StateStart, StateEnd int64
}

func (w sessionWindow) stateNS(dst []byte) []byte {
	binary.BigEndian.PutUint64(dst[:8], uint64(w.StateStart))
	binary.BigEndian.PutUint64(dst[8:16], uint64(w.StateEnd))
	return dst[:16]
}

// intersects is Flink's TimeWindow.intersects: windows that overlap or touch.
func intersects(s1, e1, s2, e2 int64) bool { return s1 <= e2 && e1 >= s2 }

// mergeSession adds the session window [ts, ts+gap) to the key's open sessions, merging
// every session it (transitively) overlaps or touches, and returns the merged session.
// ok is false when the record is late: its window is not merged into any open session
// and ended at or before the watermark.
func (o *windowJoin[L, R, OUT]) mergeSession(ts, wm int64) (_ sessionWindow, ok bool, _ error) {
	open, _, err := o.sessions.Value()
	if err != nil {
		return sessionWindow{}, false, err
	}
	s, e := ts, ts+o.gap
	o.merged = append(o.merged[:0], make([]bool, len(open))...)
	first, n := -1, 0
	for grown := true; grown; {
		grown = false
		for i, w := range open {
			if !o.merged[i] && intersects(s, e, w.Start, w.End) {
				o.merged[i], grown, n = true, true, n+1
				s, e = min(s, w.Start), max(e, w.End)
				if first < 0 || i < first {
					first = i
				}
			}
		}
	}
	if e-1 <= wm {
		// Not merged (open sessions all end after the watermark) and already over.
		return sessionWindow{}, false, nil
	}
	if first < 0 {
		w := sessionWindow{s, e, s, e}
		o.timers.RegisterEventTimeTimer(w.stateNS(o.ns[:]), e-1)
		return w, true, o.sessions.Update(append(open, w))
	}
	w := open[first]
	if n == 1 {
		if w.Start != s || w.End != e {
			w.Start, w.End = s, e
			open[first] = w
			err = o.sessions.Update(open)
		}
		return w, true, err
	}
	// The record bridges sessions: the merged one keeps the first's state window, and
	// the others' records move there.
	sources := make([][]byte, 0, n-1)
	kept := open[:0]
	for i, x := range open {
		if o.merged[i] && i != first {
			sources = append(sources, x.stateNS(make([]byte, 16)))
			continue
		}
		kept = append(kept, x)
	}
	into := w.stateNS(make([]byte, 16))
	if err := o.left.list.(state.Mergeable).MergeNamespaces(into, sources); err != nil {
		return sessionWindow{}, false, err
	}
	if err := o.right.list.(state.Mergeable).MergeNamespaces(into, sources); err != nil {
		return sessionWindow{}, false, err
	}
	w.Start, w.End = s, e
	for i := range kept {
		if kept[i].StateStart == w.StateStart && kept[i].StateEnd == w.StateEnd {
			kept[i] = w
		}
	}
	return w, true, o.sessions.Update(kept)
}

// fireSession handles the timer of the session stored under the timer's namespace: it
// sets the timer again if the session grew past it, and otherwise hands the session's
// records to fn and forgets the session.
func (o *windowJoin[L, R, OUT]) fireSession(t state.Timer) error {
	if len(t.Namespace) != 16 {
		return fmt.Errorf("join: session timer with a namespace of %d bytes", len(t.Namespace))
	}
	ss := int64(binary.BigEndian.Uint64(t.Namespace))
	se := int64(binary.BigEndian.Uint64(t.Namespace[8:]))
	open, _, err := o.sessions.Value()
	if err != nil {
		return err
	}
	at := -1
	for i, w := range open {
		if w.StateStart == ss && w.StateEnd == se {
			at = i
		}
	}
	if at < 0 {
		return nil // merged into another session
	}
	w := open[at]
	if w.End-1 > t.Timestamp {
		o.timers.RegisterEventTimeTimer(t.Namespace, w.End-1)
		return nil
	}
	ns := w.stateNS(o.ns[:])
	if err := o.left.gather(ns); err != nil {
		return err
	}
	if err := o.right.gather(ns); err != nil {
		return err
	}
	if err := o.fire(Window{w.Start, w.End}); err != nil {
		return err
	}
	if err := o.left.clear(ns); err != nil {
		return err
	}
	if err := o.right.clear(ns); err != nil {
		return err
	}
	open = append(open[:at], open[at+1:]...)
	if len(open) == 0 {
		return o.sessions.Clear()
	}
	return o.sessions.Update(open)
}

// sessionsCodec encodes open sessions as 32 bytes each.
type sessionsCodec struct{}

func (sessionsCodec) Append(dst []byte, ws []sessionWindow) []byte {
	le := binary.LittleEndian
	for _, w := range ws {
		dst = le.AppendUint64(dst, uint64(w.Start))
		dst = le.AppendUint64(dst, uint64(w.End))
		dst = le.AppendUint64(dst, uint64(w.StateStart))
		dst = le.AppendUint64(dst, uint64(w.StateEnd))
	}
	return dst
}

func (sessionsCodec) Decode(b []byte) ([]sessionWindow, error) {
	if len(b)%32 != 0 {
		return nil, errCorrupt
	}
	le := binary.LittleEndian
	ws := make([]sessionWindow, 0, len(b)/32)
	for ; len(b) > 0; b = b[32:] {
		ws = append(ws, sessionWindow{int64(le.Uint64(b)), int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:])), int64(le.Uint64(b[24:]))})
	}
	return ws, nil
}
