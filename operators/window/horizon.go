package window

import (
	"math"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// horizon is what a window operator remembers of the watermark across a restore.
//
// The runtime, like Flink, restarts a restored operator at MinWatermark. Flink's
// WindowOperator then takes elements for windows that fired, or were even cleaned up,
// before the snapshot, re-creates those windows and fires them again. Panes cannot do
// that: a window cleaned up before the snapshot would be re-created over panes that still
// hold its old elements (they are shared with later windows), and a window registers its
// timers with its first element only, so one whose timer fired before the snapshot would
// not fire again. Both rely on the watermark never going back.
//
// So the operator keeps, per key group, a lower bound of the watermark before the
// snapshot: the watermark at the latest event-time timer that fired for a key of the
// group, or at the latest element of such a key that was at or behind the watermark. Every
// decision that depends on the watermark (a window late or not, a window firing at once
// or setting a timer) is made at one of those two. The operator judges lateness against
// max(watermark, horizon), and triggers see that as CurrentWatermark. Without a restore
// the horizon never exceeds the watermark and changes nothing; after one, each key group
// resumes where its windows had got to, so a restore in the middle of a stream gives the
// results of a run without it. (Flink's SQL window operators, which slice too, restore
// their watermark for the same reason.) Writes happen only when a group's horizon rises.
//
// The horizon is keyed state: state "window-horizon" under the empty key of each key
// group, so it moves with its key group when a job is rescaled.
type horizon struct {
	b      state.Backend
	timers stream.TimerService
	st     state.ValueState[int64]
	start  int
	h      []int64
}

const horizonState = "window-horizon"

func (z *horizon) open(b state.Backend, timers stream.TimerService) error {
	st, err := state.NewValue(b, state.Desc[int64]{Name: horizonState})
	if err != nil {
		return err
	}
	kgs := b.KeyGroups()
	*z = horizon{b: b, timers: timers, st: st, start: kgs.Start, h: make([]int64, kgs.End-kgs.Start)}
	for i := range z.h {
		b.SetCurrentKey(nil, kgs.Start+i)
		v, ok, err := st.Value()
		if err != nil {
			return err
		}
		if !ok {
			v = math.MinInt64
		}
		z.h[i] = v
	}
	return nil
}

// watermark is max(watermark, horizon of the current key's group).
func (z *horizon) watermark() int64 {
	wm := z.timers.CurrentWatermark()
	if i := z.b.CurrentKeyGroup() - z.start; i >= 0 && i < len(z.h) && z.h[i] > wm {
		return z.h[i]
	}
	return wm
}

// advance raises the horizon of the current key's group to t.
func (z *horizon) advance(t int64) error {
	kg := z.b.CurrentKeyGroup()
	i := kg - z.start
	if i < 0 || i >= len(z.h) || t <= z.h[i] {
		return nil
	}
	z.h[i] = t
	key := z.b.CurrentKey()
	z.b.SetCurrentKey(nil, kg)
	err := z.st.Update(t)
	z.b.SetCurrentKey(key, kg)
	return err
}
