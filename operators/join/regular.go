package join

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Kind is the kind of a regular join.
type Kind uint8

const (
	// Inner emits only pairs.
	Inner Kind = iota
	// LeftOuter also emits each left record that never found a right partner.
	LeftOuter
	// RightOuter also emits each right record that never found a left partner.
	RightOuter
	// FullOuter does both.
	FullOuter
)

func (k Kind) String() string {
	switch k {
	case Inner:
		return "inner"
	case LeftOuter:
		return "left outer"
	case RightOuter:
		return "right outer"
	case FullOuter:
		return "full outer"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// OuterJoinFunc joins a pair of an outer join, or a record without partner: then the
// missing side is nil. The pointers are valid during the call only (copy what you keep)
// and must not be written through.
type OuterJoinFunc[L, R, OUT any] func(left *L, right *R, out Collector[OUT]) error

// NewJoin returns the regular inner join of two keyed streams (a SQL join on the key,
// with no time condition): every record is stored in its key's state and joins, on
// arrival, every stored record of the other input, so either side may arrive first.
// A result has the later of the two records' timestamps.
//
// State grows with every record of both inputs unless opts.TTL is set: then a record
// stays joinable for TTL of processing time after its arrival and is dropped after,
// by a processing-time timer per key.
func NewJoin[L, R, OUT any](fn JoinFunc[L, R, OUT], opts Options[L, R]) (stream.TwoInputOperator[L, R, OUT], error) {
	if fn == nil {
		return nil, errors.New("join: no join function")
	}
	return newRegular(Inner, func(l *L, r *R, out Collector[OUT]) error { return fn(*l, *r, out) }, opts)
}

// NewOuterJoin returns a regular join of kind k (see NewJoin). Records of an outer side
// that found no partner are emitted through fn with the other side nil, when they leave
// the state: at their TTL, or at the end of the input (the watermark reaching
// stream.MaxWatermark), with their own timestamp. A record that joined once is never
// emitted alone, so the output holds no results to retract; the price is that without
// a TTL, a record without partner on an unbounded stream is emitted only at its end.
func NewOuterJoin[L, R, OUT any](k Kind, fn OuterJoinFunc[L, R, OUT], opts Options[L, R]) (stream.TwoInputOperator[L, R, OUT], error) {
	if fn == nil {
		return nil, errors.New("join: no join function")
	}
	return newRegular(k, fn, opts)
}

func newRegular[L, R, OUT any](k Kind, fn OuterJoinFunc[L, R, OUT], opts Options[L, R]) (*regularJoin[L, R, OUT], error) {
	var errs []error
	if k > FullOuter {
		errs = append(errs, fmt.Errorf("join: unknown join kind %v", k))
	}
	ttl, errs := millis("TTL", opts.TTL, errs)
	if ttl < 0 {
		errs = append(errs, fmt.Errorf("join: negative TTL %v", opts.TTL))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	o := &regularJoin[L, R, OUT]{kind: k, ttl: ttl, opts: opts}
	o.left = regularSide[L, R, OUT]{
		outer: k == LeftOuter || k == FullOuter,
		join:  fn,
		pad:   func(l *L, out Collector[OUT]) error { return fn(l, nil, out) },
	}
	o.right = regularSide[R, L, OUT]{
		outer: k == RightOuter || k == FullOuter,
		join:  func(r *R, l *L, out Collector[OUT]) error { return fn(l, r, out) },
		pad:   func(r *R, out Collector[OUT]) error { return fn(nil, r, out) },
	}
	return o, nil
}

type regularJoin[L, R, OUT any] struct {
	kind   Kind
	ttl    int64 // ms; 0: forever
	opts   Options[L, R]
	timers stream.TimerService
	col    collector[OUT]
	left   regularSide[L, R, OUT]
	right  regularSide[R, L, OUT]
}

// stored is a record in the state of a regular join.
type stored[T any] struct {
	V       T
	Ts      int64
	Expires int64 // processing time (ms) from which it is gone; 0: never
	Matched bool  // it joined at least once (kept up to date on outer sides only)
}

func (e *stored[T]) expired(now int64) bool { return e.Expires != 0 && e.Expires <= now }

// regularSide is one input of a regular join: A is its type, B the other input's.
type regularSide[A, B, OUT any] struct {
	list  state.ListState[stored[A]]
	outer bool                                       // its records without partner are emitted alone
	join  func(a *A, b *B, out Collector[OUT]) error // fn with the arguments in order
	pad   func(a *A, out Collector[OUT]) error       // fn with the other side nil
	buf   A                                          // the copy of a record handed to fn
}

func (o *regularJoin[L, R, OUT]) Open(ctx stream.Context, out stream.Output[OUT]) error {
	b, timers, err := keyedContext(ctx)
	if err != nil {
		return err
	}
	o.timers, o.col = timers, collector[OUT]{out: out}
	o.left.list, err = state.NewList(b, state.Desc[stored[L]]{Name: "left", Codec: storedCodec[L]{orDefault(o.opts.LeftCodec)}})
	if err != nil {
		return err
	}
	o.right.list, err = state.NewList(b, state.Desc[stored[R]]{Name: "right", Codec: storedCodec[R]{orDefault(o.opts.RightCodec)}})
	return err
}

func (o *regularJoin[L, R, OUT]) ProcessElement1(r stream.Record[L]) error {
	return arrive(o, &o.left, &o.right, r)
}

func (o *regularJoin[L, R, OUT]) ProcessElement2(r stream.Record[R]) error {
	return arrive(o, &o.right, &o.left, r)
}

// arrive joins r with the live records of the other input (dropping the expired ones on
// the way) and stores it.
func arrive[A, B, L, R, OUT any](o *regularJoin[L, R, OUT], own *regularSide[A, B, OUT], other *regularSide[B, A, OUT], r stream.Record[A]) error {
	var now, expires int64
	if o.ttl > 0 {
		now = o.timers.CurrentProcessingTime()
		expires = now + o.ttl
	}
	others, err := other.list.Get()
	if err != nil {
		return err
	}
	e := stored[A]{V: r.Value, Ts: r.Timestamp, Expires: expires}
	own.buf = r.Value
	// Compact others in place while joining: keep live records, flag new partners. (On
	// an error the half-compacted list is left behind; the job fails and restarts from a
	// snapshot anyway.)
	kept, changed := 0, false
	for i := range others {
		b := &others[i]
		if b.expired(now) {
			changed = true
			if err := emitAlone(o, other, b); err != nil {
				return err
			}
			continue
		}
		e.Matched = true
		if other.outer && !b.Matched {
			b.Matched, changed = true, true
		}
		o.col.ts = max(r.Timestamp, b.Ts)
		other.buf = b.V
		if err := own.join(&own.buf, &other.buf, &o.col); err != nil {
			return err
		}
		others[kept] = *b
		kept++
	}
	var zeroA A
	var zeroB B
	own.buf, other.buf = zeroA, zeroB // hold no records beyond the call
	if changed {
		clear(others[kept:])
		if err := other.list.Update(others[:kept]); err != nil {
			return err
		}
	}
	if kept == 0 && (o.ttl > 0 || o.kind != Inner) {
		mine, err := own.list.Get()
		if err != nil {
			return err
		}
		if len(mine) == 0 {
			// The key holds no records, so no timer covers it yet: one for the TTL, one
			// at the end of the input to emit records without partner and free the key.
			if o.ttl > 0 {
				o.timers.RegisterProcessingTimeTimer(nil, expires)
			}
			if o.kind != Inner {
				o.timers.RegisterEventTimeTimer(nil, stream.MaxWatermark)
			}
		}
	}
	return own.list.Add(e)
}

func (o *regularJoin[L, R, OUT]) OnTimer(d state.Domain, t state.Timer) error {
	if d == state.EventTime {
		// The end of the input: no partner can come any more.
		if err := endOfInput(o, &o.left); err != nil {
			return err
		}
		return endOfInput(o, &o.right)
	}
	now := max(o.timers.CurrentProcessingTime(), t.Timestamp)
	next1, err := expire(o, &o.left, now)
	if err != nil {
		return err
	}
	next2, err := expire(o, &o.right, now)
	if err != nil {
		return err
	}
	if next := min(next1, next2); next != noExpiry {
		o.timers.RegisterProcessingTimeTimer(nil, next)
	}
	return nil
}

const noExpiry = int64(1<<63 - 1)

// expire drops s's records that expired by now, emitting those of an outer side that
// never joined, and returns the earliest expiry of the records left (noExpiry if none).
func expire[A, B, L, R, OUT any](o *regularJoin[L, R, OUT], s *regularSide[A, B, OUT], now int64) (int64, error) {
	list, err := s.list.Get()
	if err != nil {
		return noExpiry, err
	}
	next, kept := noExpiry, 0
	for i := range list {
		e := &list[i]
		if e.expired(now) {
			if err := emitAlone(o, s, e); err != nil {
				return noExpiry, err
			}
			continue
		}
		if e.Expires != 0 {
			next = min(next, e.Expires)
		}
		list[kept] = *e
		kept++
	}
	if kept < len(list) {
		clear(list[kept:])
		err = s.list.Update(list[:kept])
	}
	return next, err
}

// endOfInput emits s's records that never joined, if s is an outer side, and clears s.
func endOfInput[A, B, L, R, OUT any](o *regularJoin[L, R, OUT], s *regularSide[A, B, OUT]) error {
	if s.outer {
		list, err := s.list.Get()
		if err != nil {
			return err
		}
		for i := range list {
			if err := emitAlone(o, s, &list[i]); err != nil {
				return err
			}
		}
	}
	return s.list.Clear()
}

// emitAlone emits e without partner if its side is outer and it never joined.
func emitAlone[A, B, L, R, OUT any](o *regularJoin[L, R, OUT], s *regularSide[A, B, OUT], e *stored[A]) error {
	if !s.outer || e.Matched {
		return nil
	}
	o.col.ts = e.Ts
	s.buf = e.V
	err := s.pad(&s.buf, &o.col)
	var zero A
	s.buf = zero
	return err
}

func (o *regularJoin[L, R, OUT]) OnWatermark(int64) error { return nil }
func (o *regularJoin[L, R, OUT]) Close() error            { return nil }

// storedCodec encodes a stored record: timestamp, expiry, matched flag, value.
type storedCodec[T any] struct{ v state.Codec[T] }

func (c storedCodec[T]) Append(dst []byte, e stored[T]) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Ts))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Expires))
	if e.Matched {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	return c.v.Append(dst, e.V)
}

func (c storedCodec[T]) Decode(b []byte) (stored[T], error) {
	if len(b) < 17 {
		return stored[T]{}, errCorrupt
	}
	v, err := c.v.Decode(b[17:])
	return stored[T]{
		V:       v,
		Ts:      int64(binary.LittleEndian.Uint64(b)),
		Expires: int64(binary.LittleEndian.Uint64(b[8:])),
		Matched: b[16] == 1,
	}, err
}
