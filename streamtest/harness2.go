package streamtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// Harness2 drives one subtask of a keyed two-input operator (joins, connected streams):
// it sets the current key from each record of either input, as the runtime does, and
// keeps one watermark per input. The operator's watermark is the minimum of the two; it
// advances (firing due event-time timers, then OnWatermark) only when that minimum does.
type Harness2[K any, IN1, IN2, OUT any] struct {
	op       stream.TwoInputOperator[IN1, IN2, OUT]
	key1     func(IN1) K
	key2     func(IN2) K
	keyCodec state.KeyCodec[K]
	backend  *state.Heap
	clock    *clock.Mock
	in       [2]int64 // each input's watermark
	wm       int64    // the operator's watermark: min(in[0], in[1])
	out      []stream.Record[OUT]
	wms      []int64
	side     map[string]any
	sideRecs map[string]*[]any
	opened   bool
	scratch  []byte
	maxPar   int
}

// NewKeyed2 returns a harness for op on two streams keyed by key1 and key2 (both keys
// have type K and are encoded with state.KeyCodecFor[K], so equal keys meet).
func NewKeyed2[K any, IN1, IN2, OUT any](op stream.TwoInputOperator[IN1, IN2, OUT], key1 func(IN1) K,
	key2 func(IN2) K, opts Options) (*Harness2[K, IN1, IN2, OUT], error) {
	kc, err := state.KeyCodecFor[K]()
	if err != nil {
		return nil, err
	}
	if opts.MaxParallelism == 0 {
		opts.MaxParallelism = state.DefaultMaxParallelism
	}
	if opts.Clock == nil {
		opts.Clock = clock.NewMock()
	}
	return &Harness2[K, IN1, IN2, OUT]{
		op: op, key1: key1, key2: key2, keyCodec: kc,
		backend: state.NewHeap(state.HeapOptions{MaxParallelism: opts.MaxParallelism, Clock: opts.Clock}),
		clock:   opts.Clock, in: [2]int64{stream.MinWatermark, stream.MinWatermark}, wm: stream.MinWatermark,
		side: map[string]any{}, sideRecs: map[string]*[]any{}, maxPar: opts.MaxParallelism,
	}, nil
}

// CollectSide2 makes the harness collect side output tag (call before Open).
func CollectSide2[T any, K any, IN1, IN2, OUT any](h *Harness2[K, IN1, IN2, OUT], tag stream.OutputTag[T]) {
	recs := &[]any{}
	h.sideRecs[tag.ID] = recs
	h.side[tag.ID] = stream.OutputFunc[T](func(r stream.Record[T]) { *recs = append(*recs, r) })
}

// Open opens the operator; the first record or watermark opens it implicitly.
func (h *Harness2[K, IN1, IN2, OUT]) Open() error {
	h.opened = true
	return h.op.Open(&harness2Ctx[K, IN1, IN2, OUT]{h}, stream.OutputFunc[OUT](func(r stream.Record[OUT]) { h.out = append(h.out, r) }))
}

func (h *Harness2[K, IN1, IN2, OUT]) ensureOpen() error {
	if h.opened {
		return nil
	}
	return h.Open()
}

// Clock is the harness's processing time.
func (h *Harness2[K, IN1, IN2, OUT]) Clock() *clock.Mock { return h.clock }

// Backend is the keyed state.
func (h *Harness2[K, IN1, IN2, OUT]) Backend() *state.Heap { return h.backend }

// Watermark is the operator's current watermark (the minimum of both inputs').
func (h *Harness2[K, IN1, IN2, OUT]) Watermark() int64 { return h.wm }

// ProcessElement1 hands the operator one record of the first input.
func (h *Harness2[K, IN1, IN2, OUT]) ProcessElement1(v IN1, ts int64) error {
	if err := h.ensureOpen(); err != nil {
		return err
	}
	h.setKey(h.key1(v))
	return h.op.ProcessElement1(stream.Record[IN1]{Value: v, Timestamp: ts})
}

// ProcessElement2 hands the operator one record of the second input.
func (h *Harness2[K, IN1, IN2, OUT]) ProcessElement2(v IN2, ts int64) error {
	if err := h.ensureOpen(); err != nil {
		return err
	}
	h.setKey(h.key2(v))
	return h.op.ProcessElement2(stream.Record[IN2]{Value: v, Timestamp: ts})
}

func (h *Harness2[K, IN1, IN2, OUT]) setKey(k K) {
	h.scratch = h.keyCodec.Append(h.scratch[:0], k)
	key := append([]byte(nil), h.scratch...) // the backend may hold it until the next key
	h.backend.SetCurrentKey(key, state.KeyGroup(key, h.maxPar))
}

// ProcessWatermark1 advances the first input's watermark.
func (h *Harness2[K, IN1, IN2, OUT]) ProcessWatermark1(wm int64) error { return h.watermark(0, wm) }

// ProcessWatermark2 advances the second input's watermark.
func (h *Harness2[K, IN1, IN2, OUT]) ProcessWatermark2(wm int64) error { return h.watermark(1, wm) }

// ProcessWatermark advances both inputs' watermarks to wm.
func (h *Harness2[K, IN1, IN2, OUT]) ProcessWatermark(wm int64) error {
	if err := h.watermark(0, wm); err != nil {
		return err
	}
	return h.watermark(1, wm)
}

// watermark moves input i's watermark forward (a smaller one is ignored, as the runtime's
// per-input watermarks only advance) and, when the minimum advances, fires due
// event-time timers in time order, calls OnWatermark and "forwards" the watermark.
func (h *Harness2[K, IN1, IN2, OUT]) watermark(i int, wm int64) error {
	if err := h.ensureOpen(); err != nil {
		return err
	}
	if wm <= h.in[i] {
		return nil
	}
	h.in[i] = wm
	m := min(h.in[0], h.in[1])
	if m <= h.wm {
		return nil
	}
	h.wm = m
	if err := h.fire(state.EventTime, m); err != nil {
		return err
	}
	if err := h.op.OnWatermark(m); err != nil {
		return err
	}
	h.wms = append(h.wms, m)
	return nil
}

// SetProcessingTime moves the mock clock to ms and fires due processing-time timers.
// (clock.Mock.Set sleeps a millisecond of real time; an unchanged time skips it.)
func (h *Harness2[K, IN1, IN2, OUT]) SetProcessingTime(ms int64) error {
	if err := h.ensureOpen(); err != nil {
		return err
	}
	if !h.clock.Now().Equal(time.UnixMilli(ms)) {
		h.clock.Set(time.UnixMilli(ms))
	}
	return h.fire(state.ProcessingTime, ms)
}

func (h *Harness2[K, IN1, IN2, OUT]) fire(d state.Domain, upTo int64) error {
	for {
		t, ok := h.backend.Timers().PopDue(d, upTo)
		if !ok {
			return nil
		}
		h.backend.SetCurrentKey(t.Key, t.KeyGroup)
		if err := h.op.OnTimer(d, t); err != nil {
			return err
		}
	}
}

// Output returns the records emitted so far.
func (h *Harness2[K, IN1, IN2, OUT]) Output() []stream.Record[OUT] { return h.out }

// TakeOutput returns and clears the records emitted so far.
func (h *Harness2[K, IN1, IN2, OUT]) TakeOutput() []stream.Record[OUT] {
	out := h.out
	h.out = nil
	return out
}

// Watermarks returns the operator watermarks forwarded so far.
func (h *Harness2[K, IN1, IN2, OUT]) Watermarks() []int64 { return h.wms }

// Side returns the records of a side output collected with CollectSide2, as
// stream.Record[T] values.
func (h *Harness2[K, IN1, IN2, OUT]) Side(id string) []any {
	if r := h.sideRecs[id]; r != nil {
		return *r
	}
	return nil
}

// Snapshot returns the keyed state and timers. The watermarks are not part of it: a
// restored operator starts at MinWatermark on both inputs, as after a real restart.
func (h *Harness2[K, IN1, IN2, OUT]) Snapshot() ([]byte, error) { return h.backend.Snapshot() }

// Restore loads a snapshot into this harness before it is opened.
func (h *Harness2[K, IN1, IN2, OUT]) Restore(snap []byte) error {
	if h.opened {
		return fmt.Errorf("streamtest: Restore before Open")
	}
	return h.backend.Restore(snap)
}

// Close closes the operator.
func (h *Harness2[K, IN1, IN2, OUT]) Close() error { return h.op.Close() }

type harness2Ctx[K any, IN1, IN2, OUT any] struct{ h *Harness2[K, IN1, IN2, OUT] }

func (c *harness2Ctx[K, IN1, IN2, OUT]) OperatorName() string { return "harness2" }
func (c *harness2Ctx[K, IN1, IN2, OUT]) Subtask() int         { return 0 }
func (c *harness2Ctx[K, IN1, IN2, OUT]) Parallelism() int     { return 1 }
func (c *harness2Ctx[K, IN1, IN2, OUT]) MaxParallelism() int  { return c.h.maxPar }
func (c *harness2Ctx[K, IN1, IN2, OUT]) Clock() clock.Clock   { return c.h.clock }
func (c *harness2Ctx[K, IN1, IN2, OUT]) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
func (c *harness2Ctx[K, IN1, IN2, OUT]) SideOutput(id string) any { return c.h.side[id] }
func (c *harness2Ctx[K, IN1, IN2, OUT]) State() state.Backend     { return c.h.backend }
func (c *harness2Ctx[K, IN1, IN2, OUT]) Timers() stream.TimerService {
	return stream.NewTimerService(c.h.backend, &c.h.wm, c.h.clock)
}

// StateEntries counts the live entries of every state of b, over all keys and namespaces
// (a list or map of one key and namespace is one entry), so that tests can check that an
// operator cleans up. It reads b's snapshot, whose layout Heap.Snapshot documents; timers
// are counted by b.Timers().Len.
func StateEntries(b *state.Heap) (int, error) {
	snap, err := b.Snapshot()
	if err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	bad := errors.New("streamtest: unexpected heap snapshot layout")
	take := func(n int) ([]byte, error) {
		if n < 0 || len(snap) < n {
			return nil, bad
		}
		v := snap[:n]
		snap = snap[n:]
		return v, nil
	}
	u32 := func() (int, error) {
		b, err := take(4)
		if err != nil {
			return 0, err
		}
		return int(le.Uint32(b)), nil
	}
	str := func() error { // u16 length + bytes
		b, err := take(2)
		if err == nil {
			_, err = take(int(le.Uint16(b)))
		}
		return err
	}
	tables, err := u32()
	if err != nil {
		return 0, err
	}
	total := 0
	for range tables {
		if err := str(); err != nil { // name
			return 0, err
		}
		if err := str(); err != nil { // kind
			return 0, err
		}
		n, err := u32()
		if err != nil {
			return 0, err
		}
		for range n {
			k, err := u32()
			if err == nil {
				_, err = take(k + 8) // composite key, expiry
			}
			if err == nil {
				k, err = u32()
			}
			if err == nil {
				_, err = take(k) // value
			}
			if err != nil {
				return 0, err
			}
		}
		total += n
	}
	return total, nil
}
