package join

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Errors of the join operators.
var (
	// ErrNotKeyed is returned by Open on streams that are not keyed: joins keep their
	// records in keyed state.
	ErrNotKeyed = errors.New("join: both inputs must be keyed (the context has no keyed state)")
	// ErrNoTimestamp is returned for a record without event time (stream.NoTimestamp) in
	// a window or interval join, which place records by their timestamps.
	ErrNoTimestamp = errors.New("join: a record has no timestamp (window and interval joins need event time: assign timestamps and watermarks upstream)")
)

// Collector receives the results of a join function. The operator gives every result the
// timestamp of the pair being joined: the window's maxTimestamp in a window join, the later
// of the two records' timestamps in interval and regular joins.
type Collector[OUT any] interface {
	Collect(v OUT)
}

// JoinFunc joins one pair of records of a key: it collects zero, one or more results
// (Flink's FlatJoinFunction; a filter in the join condition collects nothing). An error
// fails the job.
type JoinFunc[L, R, OUT any] func(left L, right R, out Collector[OUT]) error

// Map adapts fn, which makes exactly one result per pair (Flink's JoinFunction), to a
// JoinFunc.
func Map[L, R, OUT any](fn func(left L, right R) OUT) JoinFunc[L, R, OUT] {
	return func(left L, right R, out Collector[OUT]) error {
		out.Collect(fn(left, right))
		return nil
	}
}

// Options configures a join. The zero value is valid.
type Options[L, R any] struct {
	// LeftCodec and RightCodec encode the stored records of each input in snapshots and
	// on disk. Default state.CodecFor (encoding/gob for structs: a codec of your own is
	// much faster).
	LeftCodec  state.Codec[L]
	RightCodec state.Codec[R]
	// LateLeft and LateRight, when their ID is set, receive the late records of each input
	// of a window or interval join instead of dropping them. Default: dropped.
	LateLeft  stream.OutputTag[L]
	LateRight stream.OutputTag[R]
	// TTL, for regular joins (NewJoin, NewOuterJoin), is how long a stored record stays
	// joinable, in processing time after its arrival. Default 0: records are kept
	// forever, and the state grows with every record of both inputs.
	TTL time.Duration
}

// collector stamps each result with the timestamp of the pair being joined.
type collector[OUT any] struct {
	out stream.Output[OUT]
	ts  int64
}

func (c *collector[OUT]) Collect(v OUT) { c.out.Emit(stream.Record[OUT]{Value: v, Timestamp: c.ts}) }

// keyedContext checks that ctx is keyed and returns its backend and timers.
func keyedContext(ctx stream.Context) (state.Backend, stream.TimerService, error) {
	b, ts := ctx.State(), ctx.Timers()
	if b == nil || ts == nil {
		return nil, nil, ErrNotKeyed
	}
	return b, ts, nil
}

// namespaced returns s as a state.Namespaced; every state of package state is one.
func namespaced(s any) (state.Namespaced, error) {
	n, ok := s.(state.Namespaced)
	if !ok {
		return nil, fmt.Errorf("join: state %T has no namespaces", s)
	}
	return n, nil
}

func millis(name string, d time.Duration, errs []error) (int64, []error) {
	if d%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("join: %s %v is not a whole number of milliseconds", name, d))
	}
	return d.Milliseconds(), errs
}

// --- codecs of stored values ---

// sliceCodec encodes a slice as a count and length-prefixed elements.
type sliceCodec[T any] struct{ elem state.Codec[T] }

func (c sliceCodec[T]) Append(dst []byte, vs []T) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(vs)))
	for _, v := range vs {
		at := len(dst)
		dst = c.elem.Append(append(dst, 0, 0, 0, 0), v)
		binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	return dst
}

var errCorrupt = errors.New("join: corrupt stored value")

func (c sliceCodec[T]) Decode(b []byte) ([]T, error) {
	if len(b) < 4 {
		return nil, errCorrupt
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n)*4 > uint64(len(b)) {
		return nil, errCorrupt
	}
	out := make([]T, 0, n)
	for range n {
		if len(b) < 4 {
			return nil, errCorrupt
		}
		l := binary.LittleEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return nil, errCorrupt
		}
		v, err := c.elem.Decode(b[4 : 4+l])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = b[4+l:]
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return out, nil
}

func orDefault[T any](c state.Codec[T]) state.Codec[T] {
	if c == nil {
		return state.CodecFor[T]()
	}
	return c
}
