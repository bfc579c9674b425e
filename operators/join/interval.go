package join

import (
	"errors"
	"fmt"
	"time"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Bounds are the relative time bounds of an interval join: a left record a joins a right
// record b of its key when a.ts + Lower <= b.ts <= a.ts + Upper. Both bounds are
// inclusive unless excluded. Build them with Between.
type Bounds struct {
	Lower, Upper                   time.Duration
	LowerExclusive, UpperExclusive bool
}

// Between returns inclusive bounds [lower, upper] (Flink's between(lower, upper)).
func Between(lower, upper time.Duration) Bounds { return Bounds{Lower: lower, Upper: upper} }

// ExcludeLower makes the lower bound exclusive (Flink's lowerBoundExclusive).
func (b Bounds) ExcludeLower() Bounds { b.LowerExclusive = true; return b }

// ExcludeUpper makes the upper bound exclusive (Flink's upperBoundExclusive).
func (b Bounds) ExcludeUpper() Bounds { b.UpperExclusive = true; return b }

// millis returns the inclusive bounds in milliseconds.
func (b Bounds) millis() (lower, upper int64, err error) {
	var errs []error
	lower, errs = millis("lower bound", b.Lower, errs)
	upper, errs = millis("upper bound", b.Upper, errs)
	if b.LowerExclusive {
		lower++
	}
	if b.UpperExclusive {
		upper--
	}
	if len(errs) == 0 && lower > upper {
		errs = append(errs, fmt.Errorf("join: interval bounds [%v, %v] (exclusive lower %t, upper %t) hold no time", b.Lower, b.Upper, b.LowerExclusive, b.UpperExclusive))
	}
	return lower, upper, errors.Join(errs...)
}

// NewIntervalJoin returns the interval join of two keyed streams (Flink's
// KeyedStream.intervalJoin): each left record a joins each right record b of its key with
// a.ts + lower <= b.ts <= a.ts + upper, as soon as the second of the two arrives; a result
// has the later of the two timestamps. Records must have timestamps.
//
// Each input's records are kept in keyed map state, bucketed by timestamp, until the
// watermark shows no partner can arrive any more: a left record until the watermark
// reaches a.ts + max(upper, 0), a right one until b.ts + max(-lower, 0), each by an
// event-time timer. A record at or before the watermark is late (it could have partners
// that are gone) and goes to opts.LateLeft / opts.LateRight, or is dropped.
//
// It returns an error when the bounds hold no time or are not whole milliseconds.
func NewIntervalJoin[L, R, OUT any](b Bounds, fn JoinFunc[L, R, OUT], opts Options[L, R]) (stream.TwoInputOperator[L, R, OUT], error) {
	lower, upper, err := b.millis()
	if fn == nil {
		err = errors.Join(err, errors.New("join: no join function"))
	}
	if err != nil {
		return nil, err
	}
	o := &intervalJoin[L, R, OUT]{opts: opts}
	// The left side probes right records in [a.ts+lower, a.ts+upper]; the right side
	// probes left records in [b.ts-upper, b.ts-lower].
	o.left = intervalSide[L, R, OUT]{lo: lower, hi: upper, ns: []byte{'L'}, late: opts.LateLeft, join: fn}
	o.right = intervalSide[R, L, OUT]{lo: -upper, hi: -lower, ns: []byte{'R'}, late: opts.LateRight,
		join: func(r R, l L, out Collector[OUT]) error { return fn(l, r, out) }}
	return o, nil
}

type intervalJoin[L, R, OUT any] struct {
	opts  Options[L, R]
	col   collector[OUT]
	left  intervalSide[L, R, OUT]
	right intervalSide[R, L, OUT]
}

// intervalSide is one input of an interval join: A is its type, B the other input's.
type intervalSide[A, B, OUT any] struct {
	own    state.MapState[int64, []A] // this input's records by timestamp
	other  state.MapState[int64, []B]
	lo, hi int64  // a partner's timestamp lies in [ts+lo, ts+hi]
	ns     []byte // namespace of this side's cleanup timers
	late   stream.OutputTag[A]
	join   func(a A, b B, out Collector[OUT]) error
	ctx    stream.Context
	timers stream.TimerService
	col    *collector[OUT]

	// The record being probed, for visit (bound once, so probing allocates nothing).
	probe   A
	probeTs int64
	err     error
	visit   func(ts int64, bs []B) bool
}

func (s *intervalSide[A, B, OUT]) keepFor() int64 { return max(s.hi, 0) }

func (o *intervalJoin[L, R, OUT]) Open(ctx stream.Context, out stream.Output[OUT]) error {
	b, timers, err := keyedContext(ctx)
	if err != nil {
		return err
	}
	o.col = collector[OUT]{out: out}
	lc, rc := orDefault(o.opts.LeftCodec), orDefault(o.opts.RightCodec)
	ls, err := state.NewMap(b, state.MapDesc[int64, []L]{Name: "left", ValueCodec: sliceCodec[L]{lc}})
	if err != nil {
		return err
	}
	rs, err := state.NewMap(b, state.MapDesc[int64, []R]{Name: "right", ValueCodec: sliceCodec[R]{rc}})
	if err != nil {
		return err
	}
	o.left.own, o.left.other, o.right.own, o.right.other = ls, rs, rs, ls
	o.left.bind(ctx, timers, &o.col)
	o.right.bind(ctx, timers, &o.col)
	return nil
}

func (s *intervalSide[A, B, OUT]) bind(ctx stream.Context, timers stream.TimerService, col *collector[OUT]) {
	s.ctx, s.timers, s.col = ctx, timers, col
	s.visit = s.visitBucket
}

func (o *intervalJoin[L, R, OUT]) ProcessElement1(r stream.Record[L]) error { return o.left.arrive(r) }
func (o *intervalJoin[L, R, OUT]) ProcessElement2(r stream.Record[R]) error { return o.right.arrive(r) }

// arrive joins r with the stored records of the other input and stores it.
func (s *intervalSide[A, B, OUT]) arrive(r stream.Record[A]) error {
	ts := r.Timestamp
	if ts == stream.NoTimestamp {
		return ErrNoTimestamp
	}
	if ts <= s.timers.CurrentWatermark() {
		stream.EmitSide(s.ctx, s.late, r)
		return nil
	}
	bucket, had, err := s.own.Get(ts)
	if err != nil {
		return err
	}
	if err := s.own.Put(ts, append(bucket, r.Value)); err != nil {
		return err
	}
	if !had {
		s.timers.RegisterEventTimeTimer(s.ns, ts+s.keepFor())
	}
	s.probe, s.probeTs = r.Value, ts
	err = s.other.Range(s.visit)
	if s.err != nil {
		err, s.err = s.err, nil
	}
	var zero A
	s.probe = zero
	return err
}

func (s *intervalSide[A, B, OUT]) visitBucket(ts int64, bs []B) bool {
	if ts < s.probeTs+s.lo || ts > s.probeTs+s.hi {
		return true
	}
	s.col.ts = max(ts, s.probeTs)
	for _, b := range bs {
		if err := s.join(s.probe, b, s.col); err != nil {
			s.err = err
			return false
		}
	}
	return true
}

func (o *intervalJoin[L, R, OUT]) OnTimer(d state.Domain, t state.Timer) error {
	if d != state.EventTime || len(t.Namespace) != 1 {
		return nil
	}
	switch t.Namespace[0] {
	case 'L':
		return o.left.own.Remove(t.Timestamp - o.left.keepFor())
	case 'R':
		return o.right.own.Remove(t.Timestamp - o.right.keepFor())
	}
	return nil
}

func (o *intervalJoin[L, R, OUT]) OnWatermark(int64) error { return nil }
func (o *intervalJoin[L, R, OUT]) Close() error            { return nil }
