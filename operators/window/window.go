package window

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/riffle-streams/riffle/state"
)

// Window is the constraint of window types: TimeWindow, GlobalWindow, or a window type of
// a custom Assigner. A window is compared by value and knows the greatest timestamp it
// holds; its output records carry that timestamp.
type Window interface {
	comparable
	MaxTimestamp() int64
}

// TimeWindow is the window [Start, End) of event or processing time, in ms.
type TimeWindow struct {
	Start, End int64
}

// MaxTimestamp is End-1, the last timestamp in the window.
func (w TimeWindow) MaxTimestamp() int64 { return w.End - 1 }

// Intersects reports whether w and o overlap or touch: [0,3) and [3,6) intersect. It is
// inclusive at both ends, as Flink's TimeWindow.intersects, so that session windows that
// touch merge.
func (w TimeWindow) Intersects(o TimeWindow) bool { return w.Start <= o.End && w.End >= o.Start }

// Cover returns the smallest window that contains w and o.
func (w TimeWindow) Cover(o TimeWindow) TimeWindow {
	return TimeWindow{min(w.Start, o.Start), max(w.End, o.End)}
}

// String formats w as [start,end).
func (w TimeWindow) String() string {
	b := append([]byte{'['}, strconv.FormatInt(w.Start, 10)...)
	b = append(b, ',')
	b = strconv.AppendInt(b, w.End, 10)
	return string(append(b, ')'))
}

// GlobalWindow is the single window of Global: it holds every element of a key and ends
// at the end of time.
type GlobalWindow struct{}

// MaxTimestamp is math.MaxInt64.
func (GlobalWindow) MaxTimestamp() int64 { return math.MaxInt64 }

// String returns "global".
func (GlobalWindow) String() string { return "global" }

// Start returns the start of the window of the given size whose starts are offset from
// the epoch by offset, and that contains ts: ts - ((ts - offset) mod size) with a
// non-negative remainder (Flink's TimeWindow.getWindowStartWithOffset).
func Start(ts, offset, size int64) int64 {
	rem := (ts - offset) % size
	if rem < 0 {
		return ts - (rem + size)
	}
	return ts - rem
}

// Window namespaces. A window's state and timers are kept under its namespace bytes: a
// TimeWindow is 16 bytes, start then end, each big-endian with the sign bit flipped so
// that the bytes sort in time order; the GlobalWindow is the single byte 0.

const signBit = 1 << 63

func appendTimeWindow(dst []byte, start, end int64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(start)^signBit)
	return binary.BigEndian.AppendUint64(dst, uint64(end)^signBit)
}

func decodeTimeWindow(b []byte) (TimeWindow, error) {
	if len(b) != 16 {
		return TimeWindow{}, errBadNamespace
	}
	return TimeWindow{
		Start: int64(binary.BigEndian.Uint64(b) ^ signBit),
		End:   int64(binary.BigEndian.Uint64(b[8:]) ^ signBit),
	}, nil
}

var errBadNamespace = errors.New("window: corrupt window namespace")

type timeWindowCodec struct{}

func (timeWindowCodec) Append(dst []byte, w TimeWindow) []byte {
	return appendTimeWindow(dst, w.Start, w.End)
}
func (timeWindowCodec) Decode(b []byte) (TimeWindow, error) { return decodeTimeWindow(b) }

type globalWindowCodec struct{}

func (globalWindowCodec) Append(dst []byte, _ GlobalWindow) []byte { return append(dst, 0) }
func (globalWindowCodec) Decode(b []byte) (GlobalWindow, error) {
	if len(b) != 1 || b[0] != 0 {
		return GlobalWindow{}, errBadNamespace
	}
	return GlobalWindow{}, nil
}

// TimeWindowCodec encodes a TimeWindow as its 16-byte namespace: Start then End,
// big-endian with the sign bit flipped, so that namespaces sort in time order. Custom
// assigners of time windows return it from WindowCodec.
var TimeWindowCodec state.Codec[TimeWindow] = timeWindowCodec{}

// GlobalWindowCodec encodes the GlobalWindow as one zero byte.
var GlobalWindowCodec state.Codec[GlobalWindow] = globalWindowCodec{}
