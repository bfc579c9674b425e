package window

import (
	"math"

	"github.com/riffle-streams/riffle/stream"
)

// Panes (slices) of tumbling and sliding windows.
//
// With size s, slide l and offset f, windows start at f + k*l and panes are the windows
// of size p = gcd(s, l) starting at f + j*p; every window is exactly s/p consecutive
// panes. An element is added to its one pane. Windows keep Flink's per-window timers and
// trigger state (a trigger sees the same calls as in Flink); only their contents are
// shared: when a window fires, its panes are folded (mergeFn) in time order.
//
// A pane's last window is the one starting at the greatest window start at or before the
// pane's start; it ends last, so its cleanup time is the pane's last use. At a window's
// cleanup the panes whose last window it is (those starting in [start, start+l)) are
// cleared. No window can still need them: the others covering them ended earlier.
//
// Why that equals Flink's per-window contents: a window's contents in Flink are the
// elements added while it was not late, and lateness only grows with the watermark. An
// element whose last window is late is late for all its windows and is not added to its
// pane. Otherwise its pane lives until that last window's cleanup, so every window that
// is not late when it fires sees exactly the elements Flink would have added to it: a
// window that was already late when an element came never fires again (its cleanup timer
// fired before the watermark made it late). Purging one window would have to remove
// elements the overlapping windows still hold, so sliding windows share panes only under
// triggers that never purge (Open decides); tumbling windows are one pane each.

// processPaned adds r to its pane and runs the triggers of its windows.
func (o *Operator[K, IN, ACC, OUT, W]) processPaned(r stream.Record[IN]) (skipped bool, err error) {
	ts := r.Timestamp
	eventTime := o.eventTime
	if !eventTime {
		ts = o.timers.CurrentProcessingTime()
	} else if ts == stream.NoTimestamp {
		return false, ErrNoTimestamp
	}
	p := &o.pane
	wm := o.hz.watermark()
	last := Start(ts, p.offset, p.slide) // start of the element's last window
	if eventTime && addClamped(last+p.size-1, o.cfg.lateness) <= wm {
		return true, nil // every window of the element is late
	}
	ps := Start(ts, p.offset, p.pane)
	o.sns = appendTimeWindow(o.sns[:0], ps, ps+p.pane)
	o.contents.setNamespace(o.sns)
	fresh, err := o.contents.add(r.Value)
	if err != nil {
		return false, err
	}
	// Windows that also cover the previous pane set their timers with its first element if
	// it has one: a fresh pane sets the timers of the windows starting at it only.
	shared := int64(math.MinInt64)
	if fresh && o.fast == fastEventTime && p.pane != p.size {
		o.sns = appendTimeWindow(o.sns[:0], ps-p.pane, ps)
		o.contents.setNamespace(o.sns)
		if _, ok, err := o.contents.get(); err != nil {
			return false, err
		} else if ok {
			shared = ps - p.pane
		}
	}
	// The element's windows, latest first as Flink assigns them.
	for start := last; start > ts-p.size; start -= p.slide {
		w := fromTW[W](TimeWindow{start, start + p.size})
		if eventTime && o.isWindowLate(w, wm) {
			continue
		}
		o.ns = appendTimeWindow(o.ns[:0], start, start+p.size)
		o.tctx.ns = o.ns
		if o.fast != fastNone {
			// A pane is fresh until its first element; until then none of the windows
			// covering it set timers for it, after it all of those not late did.
			if err := o.onElementFast(w, fresh && start > shared, wm); err != nil {
				return false, err
			}
			continue
		}
		res, err := o.trig.OnElement(r.Timestamp, w, &o.tctx)
		if err != nil {
			return false, err
		}
		if res.IsFire() {
			if err := o.fire(w); err != nil {
				return false, err
			}
		}
		if res.IsPurge() {
			if err := o.purge(w); err != nil {
				return false, err
			}
		}
		o.tctx.ns = o.ns
		o.registerCleanupTimer(w)
	}
	return false, nil
}

// paneContents folds the panes of w.
func (o *Operator[K, IN, ACC, OUT, W]) paneContents(w TimeWindow) (acc ACC, has bool, err error) {
	p := o.pane.pane
	if p == o.pane.size { // tumbling: the window is its pane
		o.sns = appendTimeWindow(o.sns[:0], w.Start, w.End)
		o.contents.setNamespace(o.sns)
		return o.contents.get()
	}
	for ps := w.Start; ps < w.End; ps += p {
		o.sns = appendTimeWindow(o.sns[:0], ps, ps+p)
		o.contents.setNamespace(o.sns)
		if acc, has, err = o.contents.fold(acc, has); err != nil {
			return acc, false, err
		}
	}
	return acc, has, nil
}

// clearPanesOf clears the panes whose last window is w: those starting in
// [w.Start, w.Start+slide).
func (o *Operator[K, IN, ACC, OUT, W]) clearPanesOf(w TimeWindow) error {
	p := o.pane.pane
	for ps := w.Start; ps < w.Start+o.pane.slide; ps += p {
		o.sns = appendTimeWindow(o.sns[:0], ps, ps+p)
		o.contents.setNamespace(o.sns)
		if err := o.contents.clear(); err != nil {
			return err
		}
	}
	return nil
}
