package window

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Merging windows (sessions), as Flink's MergingWindowSet.
//
// Each key has a merging window set, a value state of (window, state window) pairs: the
// windows in flight and, for each, the namespace its contents are kept under. When
// windows merge, the result takes over the state window of one of them (no copy of the
// contents it already holds) and the contents of the others' state windows are merged
// into it. Triggers and timers work on the windows themselves; their state is merged by
// the trigger's OnMerge. A timer of a window that has since been merged away finds no
// entry and does nothing.

const mergingSetState = "window-merging-set"

type mergeEntry[W Window] struct {
	Window, State W
}

type mergeGroup[W Window] struct {
	result W
	lo, hi int // members in Operator.members[lo:hi]
}

func (o *Operator[K, IN, ACC, OUT, W]) collectGroup(toBeMerged []W, result W) {
	lo := len(o.members)
	o.members = append(o.members, toBeMerged...)
	o.groups = append(o.groups, mergeGroup[W]{result, lo, len(o.members)})
}

func lookup[W Window](set []mergeEntry[W], w W) (W, bool) {
	for _, e := range set {
		if e.Window == w {
			return e.State, true
		}
	}
	var zero W
	return zero, false
}

func remove[W Window](set []mergeEntry[W], w W) ([]mergeEntry[W], bool) {
	for i, e := range set {
		if e.Window == w {
			return append(set[:i], set[i+1:]...), true
		}
	}
	return set, false
}

func put[W Window](set []mergeEntry[W], w, st W) []mergeEntry[W] {
	for i := range set {
		if set[i].Window == w {
			set[i].State = st
			return set
		}
	}
	return append(set, mergeEntry[W]{w, st})
}

func (o *Operator[K, IN, ACC, OUT, W]) processMerging(r stream.Record[IN]) (skipped bool, err error) {
	if err := o.assign(r); err != nil {
		return false, err
	}
	set, _, err := o.mset.Value()
	if err != nil {
		return false, err
	}
	changed := false
	skipped = true
	for _, w := range o.wins {
		var actual W
		var chg bool
		set, actual, chg, err = o.addWindow(set, w)
		if err != nil {
			return false, err
		}
		changed = changed || chg
		wm := o.hz.watermark()
		if o.isWindowLate(actual, wm) { // drop it: it would merge into a late window
			set, _ = remove(set, actual)
			changed = true
			continue
		}
		skipped = false
		st, ok := lookup(set, actual)
		if !ok {
			return false, fmt.Errorf("window: window %v is not in flight", actual)
		}
		o.sns = o.wcodec.Append(o.sns[:0], st)
		o.contents.setNamespace(o.sns)
		if _, err := o.contents.add(r.Value); err != nil {
			return false, err
		}
		o.ns = o.wcodec.Append(o.ns[:0], actual)
		o.tctx.ns = o.ns
		res, err := o.trig.OnElement(r.Timestamp, actual, &o.tctx)
		if err != nil {
			return false, err
		}
		if res.IsFire() {
			o.contents.setNamespace(o.sns)
			acc, ok, err := o.contents.get()
			if err != nil {
				return false, err
			}
			if !ok {
				continue
			}
			if err := o.emit(actual, acc); err != nil {
				return false, err
			}
		}
		if res.IsPurge() {
			o.contents.setNamespace(o.sns)
			if err := o.contents.clear(); err != nil {
				return false, err
			}
		}
		o.tctx.ns = o.ns
		o.registerCleanupTimer(actual)
	}
	if changed {
		err = o.persist(set)
	}
	return skipped, err
}

func (o *Operator[K, IN, ACC, OUT, W]) persist(set []mergeEntry[W]) error {
	if len(set) == 0 {
		return o.mset.Clear()
	}
	return o.mset.Update(set)
}

// addWindow adds newW to the set, merging it with the windows it meets, and returns the
// set and the window newW ended up in (Flink's MergingWindowSet.addWindow).
func (o *Operator[K, IN, ACC, OUT, W]) addWindow(set []mergeEntry[W], newW W) ([]mergeEntry[W], W, bool, error) {
	o.mws = o.mws[:0]
	for _, e := range set {
		o.mws = append(o.mws, e.Window)
	}
	o.mws = append(o.mws, newW)
	o.groups, o.members = o.groups[:0], o.members[:0]
	o.merging.MergeWindows(o.mws, o.collectFn)

	result, mergedNew, changed := newW, false, false
	for _, g := range o.groups {
		members := o.members[g.lo:g.hi]
		for i, m := range members {
			if m == newW {
				members = append(members[:i], members[i+1:]...)
				mergedNew, result = true, g.result
				break
			}
		}
		if len(members) == 0 {
			continue
		}
		// The result takes over the state window of one of the merged windows.
		stateW, ok := lookup(set, members[0])
		if !ok {
			return set, result, changed, fmt.Errorf("window: merged window %v is not in flight", members[0])
		}
		o.mstates = o.mstates[:0]
		for _, m := range members {
			var st W
			if st, ok = lookup(set, m); ok {
				set, _ = remove(set, m)
				if st != stateW {
					o.mstates = append(o.mstates, st)
				}
			}
		}
		set = put(set, g.result, stateW)
		changed = true
		// Merging one window into itself (newW inside it) changes nothing.
		if !(len(members) == 1 && members[0] == g.result) {
			if err := o.mergeWindows(g.result, members, stateW, o.mstates); err != nil {
				return set, result, changed, err
			}
		}
	}
	if len(o.groups) == 0 || (result == newW && !mergedNew) {
		// Flink puts (newW, newW) even when newW is already in flight, dropping its state
		// window; an equal window keeps its state here.
		if _, ok := lookup(set, newW); !ok {
			set = append(set, mergeEntry[W]{newW, newW})
			changed = true
		}
	}
	return set, result, changed, nil
}

// mergeWindows is the merge function of addWindow: the trigger merges its state into
// result and clears the merged windows; their cleanup timers go; the contents of
// mergedStates are merged into stateResult.
func (o *Operator[K, IN, ACC, OUT, W]) mergeWindows(result W, merged []W, stateResult W, mergedStates []W) error {
	if o.eventTime {
		if wm := o.hz.watermark(); addClamped(result.MaxTimestamp(), o.cfg.lateness) <= wm {
			return fmt.Errorf("%w: watermark %d, window %v", ErrLateMerge, wm, result)
		}
	} else if now := o.timers.CurrentProcessingTime(); result.MaxTimestamp() <= now {
		return fmt.Errorf("%w: processing time %d, window %v", ErrLateMerge, now, result)
	}
	// Namespaces of the merged windows, then of the merged state windows, in one arena
	// (sliced once it no longer grows).
	o.arena, o.offs = o.arena[:0], o.offs[:0]
	for _, m := range merged {
		o.arena = o.wcodec.Append(o.arena, m)
		o.offs = append(o.offs, len(o.arena))
	}
	for _, m := range mergedStates {
		o.arena = o.wcodec.Append(o.arena, m)
		o.offs = append(o.offs, len(o.arena))
	}
	o.nsList = o.nsList[:0]
	for i, end := range o.offs {
		start := 0
		if i > 0 {
			start = o.offs[i-1]
		}
		o.nsList = append(o.nsList, o.arena[start:end:end])
	}
	mergedNS, stateNS := o.nsList[:len(merged)], o.nsList[len(merged):]

	o.ns = o.wcodec.Append(o.ns[:0], result)
	o.tctx.ns, o.tctx.merged = o.ns, mergedNS
	err := o.trig.OnMerge(result, &o.tctx)
	o.tctx.merged = nil
	if err != nil {
		return err
	}
	for i, m := range merged {
		o.tctx.ns = mergedNS[i]
		if err := o.trig.Clear(m, &o.tctx); err != nil {
			return err
		}
		o.deleteCleanupTimer(m)
	}
	o.sns = o.wcodec.Append(o.sns[:0], stateResult)
	return o.contents.merge(o.sns, stateNS)
}

func (o *Operator[K, IN, ACC, OUT, W]) onTimerMerging(d state.Domain, t int64, w W) error {
	set, _, err := o.mset.Value()
	if err != nil {
		return err
	}
	st, ok := lookup(set, w)
	if !ok {
		// A timer of a window merged away or cleaned up, whose trigger did not delete it.
		return nil
	}
	o.sns = o.wcodec.Append(o.sns[:0], st)
	res, err := o.onTime(d, t, w)
	if err != nil {
		return err
	}
	if res.IsFire() {
		o.contents.setNamespace(o.sns)
		acc, ok, err := o.contents.get()
		if err != nil {
			return err
		}
		if ok {
			if err := o.emit(w, acc); err != nil {
				return err
			}
		}
	}
	if res.IsPurge() {
		o.contents.setNamespace(o.sns)
		if err := o.contents.clear(); err != nil {
			return err
		}
	}
	if !o.isCleanupTime(d, w, t) {
		return nil
	}
	o.contents.setNamespace(o.sns)
	if err := o.contents.clear(); err != nil {
		return err
	}
	o.tctx.ns = o.ns
	if err := o.trig.Clear(w, &o.tctx); err != nil {
		return err
	}
	set, _ = remove(set, w)
	return o.persist(set)
}

// mergeSetCodec encodes a merging window set: u32 count, then per entry the window and
// its state window, each as u32 length + namespace bytes (little-endian lengths).
type mergeSetCodec[W Window] struct{ wc state.Codec[W] }

func (c mergeSetCodec[W]) Append(dst []byte, set []mergeEntry[W]) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(set)))
	for _, e := range set {
		dst = c.appendOne(dst, e.Window)
		dst = c.appendOne(dst, e.State)
	}
	return dst
}

func (c mergeSetCodec[W]) appendOne(dst []byte, w W) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = c.wc.Append(dst, w)
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

var errCorruptSet = errors.New("window: corrupt merging window set")

func (c mergeSetCodec[W]) Decode(b []byte) ([]mergeEntry[W], error) {
	if len(b) < 4 {
		return nil, errCorruptSet
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	set := make([]mergeEntry[W], 0, min(n, 1024))
	one := func() (W, error) {
		var zero W
		if len(b) < 4 {
			return zero, errCorruptSet
		}
		l := binary.LittleEndian.Uint32(b)
		if uint64(len(b)-4) < uint64(l) {
			return zero, errCorruptSet
		}
		w, err := c.wc.Decode(b[4 : 4+l])
		b = b[4+l:]
		return w, err
	}
	for i := uint32(0); i < n; i++ {
		w, err := one()
		if err != nil {
			return nil, err
		}
		st, err := one()
		if err != nil {
			return nil, err
		}
		set = append(set, mergeEntry[W]{w, st})
	}
	if len(b) != 0 {
		return nil, errCorruptSet
	}
	return set, nil
}
