package log

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// Delayed messages (see doc.go, "Delayed messages"). A message with a future DeliverAt is
// written as a timer record to rmq_sys_wheel_timer and inserted into a timing wheel; when
// its tick comes, the appender writes one fire record listing every timer it makes visible,
// with the queue offset each gets. The fire record is the commit point, so a timer is
// delivered exactly once, also across crashes.
//
// The wheel is single-level (RocketMQ 5's shape): slot i heads a linked list, in the
// append-only timer log, of the timers due at tick t with t mod slots == i. Slots are kept
// in memory and written to DATA/timerwheel/slots at checkpoints; the timer log is appended
// as timers arrive. A timer further away than the wheel's span is parked at the span's
// last tick and inserted again when that tick comes (rolling). One level suffices: with
// the default 1 s precision, 7 days are 604,800 slots (9.7 MB); finer precisions cap the
// wheel at 2^20 slots and roll, which costs one timer-log entry per span, against the
// complexity of cascading levels whose every cascade would need its own record.

// Timer-log entries: u64 position, u32 size, u32 flags, i64 deliver-at (ms), u64 key hash,
// u64 previous entry in the slot (byte offset + 1; 0 ends the list).
const timerEntrySize = 40

// maxTimerSlots caps the wheel (16 MiB of slots); finer precisions roll.
var maxTimerSlots int64 = 1 << 20 // a variable so that tests can make the wheel roll cheaply

// maxFireTimers bounds the timers one fire record lists (delivered, rolled or cancelled):
// its size, under 18 MB with 127-byte topic names, and the appender's work for it.
var maxFireTimers = 100_000 // a variable so that tests can split ticks cheaply

// wheel is the derived state of delayed messages. Appender-owned.
type wheel struct {
	dir       string
	precision int64 // ms per tick
	n         int64 // slots
	slots     []wslot
	dirty     []uint64 // one bit per slot changed since the last flush: memory fixed by n
	slotsFile *os.File
	logFile   *os.File
	logLen    int64
	cursor    int64 // every tick <= cursor has been fired
	pending   int64
	bySeg     map[int64]int64 // segment base -> pending timers whose record is in it
	cancels   map[uint64][]timerCancel
	// Recovery's replay (see settleReplay): timers written or rolled since the
	// checkpoint, by position, and timers fired or cancelled since.
	replayMoved map[int64]wentry
	replayGone  map[int64]bool
	lastLag     int64 // ms between the due time and the firing, of the last firing
	lastFire    int64 // store time of the last fire record
}

type wslot struct {
	tick int64 // the tick whose list this is
	head int64 // timer-log offset + 1 of the newest entry; 0: empty
}

type wentry struct {
	pos     int64
	size    int32
	deliver int64
	keyHash uint64
	prev    int64
}

type timerCancel struct {
	topic string
	key   string
	pos   int64 // the cancel record: timers written before it are cancelled
	at    int64 // its store time
}

func keyHashOf(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

func openWheel(dir string, precision time.Duration, maxDelay time.Duration) (*wheel, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := precision.Milliseconds()
	n := maxDelay.Milliseconds()/p + 2
	if n > maxTimerSlots {
		n = maxTimerSlots
	}
	w := &wheel{dir: dir, precision: p, n: n, slots: make([]wslot, n), dirty: make([]uint64, (n+63)/64),
		bySeg: map[int64]int64{}, cancels: map[uint64][]timerCancel{},
		replayMoved: map[int64]wentry{}, replayGone: map[int64]bool{}}
	var err error
	if w.slotsFile, err = os.OpenFile(filepath.Join(dir, "slots"), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return nil, err
	}
	if w.logFile, err = os.OpenFile(filepath.Join(dir, "timerlog"), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		w.slotsFile.Close()
		return nil, err
	}
	return w, nil
}

func (w *wheel) close() error {
	return errors.Join(w.slotsFile.Close(), w.logFile.Close())
}

// load reads the slots file and cuts the timer log at logLen (the checkpoint's view). It
// reports false when the files do not match the checkpoint (the wheel must be rebuilt).
//
// A checkpoint writes the slots before the checkpoint file, so a kill in between leaves
// slots ahead of the checkpoint. Inserts only prepend to a slot's list, so the entries
// past logLen at the head of a list are those inserted since the checkpoint (the replay
// inserts them again), and following them back gives the list as of the checkpoint. A
// slot emptied since then stays empty: the fire record that emptied it is replayed and
// accounts for its timers.
func (w *wheel) load(logLen int64) (bool, error) {
	st, err := w.slotsFile.Stat()
	if err != nil {
		return false, err
	}
	lst, err := w.logFile.Stat()
	if err != nil {
		return false, err
	}
	if st.Size() != w.n*16 || lst.Size() < logLen || logLen%timerEntrySize != 0 {
		return false, nil
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(io.NewSectionReader(w.slotsFile, 0, st.Size()), b); err != nil {
		return false, err
	}
	for i := range w.slots {
		w.slots[i] = wslot{tick: int64(binary.LittleEndian.Uint64(b[i*16:])), head: int64(binary.LittleEndian.Uint64(b[i*16+8:]))}
		for w.slots[i].head > logLen {
			e, err := w.entryAt(w.slots[i].head)
			if err != nil || e.prev >= w.slots[i].head {
				return false, nil
			}
			w.slots[i].head = e.prev
			w.markDirty(int64(i))
		}
	}
	if err := w.logFile.Truncate(logLen); err != nil {
		return false, err
	}
	w.logLen = logLen
	return true, nil
}

// reset empties the wheel, in memory and on disk (before a rebuild).
func (w *wheel) reset() error {
	for i := range w.slots {
		w.slots[i] = wslot{}
	}
	if err := w.slotsFile.Truncate(0); err != nil {
		return err
	}
	if err := w.slotsFile.Truncate(w.n * 16); err != nil {
		return err
	}
	clear(w.dirty)
	w.logLen, w.pending, w.cursor = 0, 0, 0
	w.bySeg = map[int64]int64{}
	w.cancels = map[uint64][]timerCancel{}
	w.replayMoved, w.replayGone = map[int64]wentry{}, map[int64]bool{}
	return w.logFile.Truncate(0)
}

// tickOf is the first tick at or after deliverAt: a timer never fires early.
func (w *wheel) tickOf(deliverAt int64) int64 {
	return (deliverAt + w.precision - 1) / w.precision
}

// insert adds a timer to the slot of its tick (or of the span's last tick, if further).
func (w *wheel) insert(e wentry) error {
	t := w.tickOf(e.deliver)
	if t <= w.cursor {
		t = w.cursor + 1 // overdue: the next firing takes it
	}
	if t > w.cursor+w.n-1 {
		t = w.cursor + w.n - 1 // rolled
	}
	s := t % w.n
	sl := &w.slots[s]
	if sl.tick != t {
		*sl = wslot{tick: t}
	}
	var b [timerEntrySize]byte
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(e.pos))
	le.PutUint32(b[8:], uint32(e.size))
	le.PutUint64(b[16:], uint64(e.deliver))
	le.PutUint64(b[24:], e.keyHash)
	le.PutUint64(b[32:], uint64(sl.head))
	if _, err := w.logFile.WriteAt(b[:], w.logLen); err != nil {
		return err
	}
	w.logLen += timerEntrySize
	sl.head = w.logLen - timerEntrySize + 1
	w.markDirty(s)
	return nil
}

func (w *wheel) entryAt(ref int64) (wentry, error) {
	var b [timerEntrySize]byte
	if _, err := w.logFile.ReadAt(b[:], ref-1); err != nil {
		return wentry{}, fmt.Errorf("log: timer log %s at %d: %w", w.logFile.Name(), ref-1, err)
	}
	le := binary.LittleEndian
	return wentry{pos: int64(le.Uint64(b[0:])), size: int32(le.Uint32(b[8:])), deliver: int64(le.Uint64(b[16:])),
		keyHash: le.Uint64(b[24:]), prev: int64(le.Uint64(b[32:]))}, nil
}

// due collects at most limit timers of ticks (cursor, upTo], oldest tick first, and
// returns them with the last tick it took whole. When limit cuts a tick's list, it takes
// the newest of that tick's timers (the head of its list) and reports cut: the tick after
// the one returned is due, and partly taken.
//
// insert keeps every timer within (cursor, cursor+n-1], so the walk ends there: once it
// has looked at every slot, nothing lies further and the whole of (cursor, upTo] is done.
// Walking on to upTo tick by tick would cost as many steps as ticks the cursor is behind
// the clock, and a cursor restored from an old checkpoint, or a new wheel's cursor 0, is
// behind by years of ticks (1.7e11 at 10 ms), on the appender goroutine.
func (w *wheel) due(upTo int64, limit int) (out []wentry, last int64, cut bool, err error) {
	t := w.cursor
	end := min(upTo, w.cursor+w.n-1)
	for t < end && len(out) < limit {
		sl := w.slots[(t+1)%w.n]
		if sl.tick != t+1 || sl.head == 0 {
			t++
			if w.pending == 0 && len(out) == 0 && len(w.cancels) == 0 {
				return nil, upTo, false, nil // nothing anywhere: jump
			}
			continue
		}
		start := len(out)
		ref := sl.head
		for ref != 0 && len(out) < limit {
			e, err := w.entryAt(ref)
			if err != nil {
				return nil, 0, false, err
			}
			out = append(out, e)
			ref = e.prev
		}
		// The list is newest first: restore arrival order within the tick.
		for i, j := start, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		if ref != 0 {
			return out, t, true, nil
		}
		t++
	}
	if t == end {
		return out, upTo, false, nil
	}
	return out, t, false, nil
}

// popListed takes the timers listed off the head of the list of tick (the running log's
// fire record that cut the tick took those).
func (w *wheel) popListed(tick int64, listed map[int64]bool) error {
	s := tick % w.n
	sl := &w.slots[s]
	for sl.tick == tick && sl.head != 0 {
		e, err := w.entryAt(sl.head)
		if err != nil {
			return err
		}
		if !listed[e.pos] {
			break
		}
		sl.head = e.prev
		w.markDirty(s)
	}
	return nil
}

// busySlots calls fn for each slot holding timers of a tick in (from, to], in tick order
// when the range is shorter than the wheel.
func (w *wheel) busySlots(from, to int64, fn func(s int64) error) error {
	if to-from >= w.n {
		for s := range w.n {
			if sl := w.slots[s]; sl.head != 0 && sl.tick > from && sl.tick <= to {
				if err := fn(s); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for t := from + 1; t <= to; t++ {
		if sl := w.slots[t%w.n]; sl.tick == t && sl.head != 0 {
			if err := fn(t % w.n); err != nil {
				return err
			}
		}
	}
	return nil
}

// clear empties the slots of ticks (from, to].
func (w *wheel) clear(from, to int64) {
	w.busySlots(from, to, func(s int64) error {
		w.slots[s].head = 0
		w.markDirty(s)
		return nil
	})
}

// settleReplay places the timers recovery's replay kept apart; the scan calls it at its
// end.
//
// Replay starts from the checkpoint's wheel and cursor, but the running log placed its
// timers relative to a cursor that also moved without a record when nothing was due, and
// a kill between writing the slots and the checkpoint file leaves lists taken back to the
// checkpoint: a replayed timer does not land where the running log had put it, and a
// fire record replayed against such lists does not find the timers it names where it
// took them. So replay does not retrace the lists. It only notes the timers written or
// rolled since the checkpoint (replayMoved: their latest entry) and those fired or
// cancelled since (replayGone). Here every list drops those, a list still ahead of the
// cursor keeps the rest in place, and the noted timers, with those of lists the cursor
// has passed, are inserted relative to the final cursor, oldest record first. Each
// pending timer is then in the wheel exactly once.
func (w *wheel) settleReplay() error {
	var place []wentry
	for s := range w.n {
		sl := &w.slots[s]
		if sl.head == 0 {
			continue
		}
		var kept []wentry
		dropped := false
		for ref := sl.head; ref != 0; {
			e, err := w.entryAt(ref)
			if err != nil {
				return err
			}
			ref = e.prev
			if _, moved := w.replayMoved[e.pos]; moved || w.replayGone[e.pos] {
				dropped = true
				continue
			}
			kept = append(kept, e)
		}
		if !dropped && sl.tick > w.cursor && sl.tick <= w.cursor+w.n-1 {
			continue
		}
		sl.head = 0
		w.markDirty(s)
		place = append(place, kept...)
	}
	for _, e := range w.replayMoved {
		place = append(place, e)
	}
	slices.SortFunc(place, func(a, b wentry) int { return cmp.Compare(a.pos, b.pos) })
	for _, e := range place {
		if err := w.insert(e); err != nil {
			return err
		}
	}
	w.replayMoved, w.replayGone = map[int64]wentry{}, map[int64]bool{}
	return nil
}

func (w *wheel) markDirty(s int64) { w.dirty[s/64] |= 1 << (s % 64) }

// flush writes dirty slots, a run of adjacent ones at a time, and fsyncs both files (at
// a checkpoint).
func (w *wheel) flush() error {
	var buf []byte
	for s := int64(0); s < w.n; {
		if w.dirty[s/64] == 0 {
			s = (s/64 + 1) * 64
			continue
		}
		if w.dirty[s/64]&(1<<(s%64)) == 0 {
			s++
			continue
		}
		start := s
		buf = buf[:0]
		for ; s < w.n && w.dirty[s/64]&(1<<(s%64)) != 0 && len(buf) < 1<<20; s++ {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(w.slots[s].tick))
			buf = binary.LittleEndian.AppendUint64(buf, uint64(w.slots[s].head))
		}
		if _, err := w.slotsFile.WriteAt(buf, start*16); err != nil {
			return err
		}
	}
	clear(w.dirty)
	if err := w.slotsFile.Sync(); err != nil {
		return err
	}
	return w.logFile.Sync()
}

// --- records ---

const (
	timerFire     byte = 1
	timerCancelOp byte = 2
)

// timerOp is a fire or cancel record's body.
type timerOp struct {
	op        byte
	from, to  int64 // fire: ticks (from, to] are done
	fired     []firedTimer
	rolled    []wentry // inserted again further on
	cancelled []int64  // positions of timers dropped by a cancellation
	topic     string   // cancel
	key       []byte   // cancel
}

type firedTimer struct {
	pos     int64
	size    int32
	deliver int64
	tagHash uint64
	topic   string
	queue   int
	offset  int64
}

// encodeTimerOp lays out a fire record's body: u8 1, i64 from, i64 to, u32 n, per fired
// timer u64 position, u32 size, i64 deliver-at, u64 tag hash, u16+topic, u32 queue,
// u64 offset; u32 n, per rolled timer u64 position, u32 size, i64 deliver-at, u64 key
// hash; u32 n, per cancelled timer u64 position. A cancel record's: u8 2, u16+topic,
// u32+key.
func encodeTimerOp(o timerOp) []byte {
	le := binary.LittleEndian
	b := []byte{o.op}
	if o.op == timerCancelOp {
		b = appendString(b, o.topic)
		b = le.AppendUint32(b, uint32(len(o.key)))
		return append(b, o.key...)
	}
	b = le.AppendUint64(b, uint64(o.from))
	b = le.AppendUint64(b, uint64(o.to))
	b = le.AppendUint32(b, uint32(len(o.fired)))
	for _, f := range o.fired {
		b = le.AppendUint64(b, uint64(f.pos))
		b = le.AppendUint32(b, uint32(f.size))
		b = le.AppendUint64(b, uint64(f.deliver))
		b = le.AppendUint64(b, f.tagHash)
		b = appendString(b, f.topic)
		b = le.AppendUint32(b, uint32(f.queue))
		b = le.AppendUint64(b, uint64(f.offset))
	}
	b = le.AppendUint32(b, uint32(len(o.rolled)))
	for _, e := range o.rolled {
		b = le.AppendUint64(b, uint64(e.pos))
		b = le.AppendUint32(b, uint32(e.size))
		b = le.AppendUint64(b, uint64(e.deliver))
		b = le.AppendUint64(b, e.keyHash)
	}
	b = le.AppendUint32(b, uint32(len(o.cancelled)))
	for _, p := range o.cancelled {
		b = le.AppendUint64(b, uint64(p))
	}
	return b
}

func decodeTimerOp(b []byte) (timerOp, error) {
	d := decoder{b: b}
	o := timerOp{op: d.u8()}
	switch o.op {
	case timerCancelOp:
		o.topic = d.str()
		o.key = d.bytes(int(d.u32()))
	case timerFire:
		o.from, o.to = int64(d.u64()), int64(d.u64())
		n := d.u32()
		for i := uint32(0); i < n && d.err == nil; i++ {
			o.fired = append(o.fired, firedTimer{pos: int64(d.u64()), size: int32(d.u32()), deliver: int64(d.u64()),
				tagHash: d.u64(), topic: d.str(), queue: int(d.u32()), offset: int64(d.u64())})
		}
		n = d.u32()
		for i := uint32(0); i < n && d.err == nil; i++ {
			o.rolled = append(o.rolled, wentry{pos: int64(d.u64()), size: int32(d.u32()), deliver: int64(d.u64()), keyHash: d.u64()})
		}
		n = d.u32()
		for i := uint32(0); i < n && d.err == nil; i++ {
			o.cancelled = append(o.cancelled, int64(d.u64()))
		}
	default:
		d.fail("timer op")
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("timer op")
	}
	return o, d.err
}

// --- appender side ---

// prepareFire walks the due slots up to the tick in the record's body and completes the
// fire record: which timers become visible at which offsets, which roll, which were
// cancelled. It returns the completed op, so that staging it does not decode it again.
func (l *Log) prepareFire(r *record.Record) (timerOp, error) {
	w := l.wheel
	o, err := decodeTimerOp(r.Body)
	if err != nil {
		return timerOp{}, err
	}
	limit := maxFireTimers
	if l.opts.fireLimit > 0 {
		limit = l.opts.fireLimit
	}
	entries, last, cut, err := w.due(o.to, limit)
	if err != nil {
		return timerOp{}, err
	}
	if len(entries) == 0 {
		// Nothing due: move the cursor without a record. Replay, which starts from the
		// last record's cursor, places timers differently in the ticks skipped here, but
		// fire records list what they fire and clear what they cover, so the outcome is
		// the same (see doc.go).
		if last > w.cursor {
			w.cursor = last
		}
		return timerOp{}, errNothingDue
	}
	o.from, o.to = w.cursor, last
	// A cut tick is due too (due stops at upTo): only timers beyond it roll.
	through := last
	if cut {
		through = last + 1
	}
	next := map[*consumeQueue]int64{}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].deliver < entries[j].deliver })
	var rec record.Record
	for _, e := range entries {
		if w.tickOf(e.deliver) > through {
			o.rolled = append(o.rolled, e)
			continue
		}
		buf := make([]byte, e.size)
		if err := l.cl.readAt(e.pos, buf); err != nil {
			return timerOp{}, fmt.Errorf("log: read timer record at %d: %w", e.pos, err)
		}
		if _, err := record.Decode(buf, &rec); err != nil || rec.Type != record.TypeTimer {
			return timerOp{}, &CorruptionError{File: "commitlog", Offset: e.pos, Reason: fmt.Sprintf("timer record: %v", err)}
		}
		if l.timerCancelled(&rec, e) {
			o.cancelled = append(o.cancelled, e.pos)
			continue
		}
		q, err := l.realQueue(&rec, e.pos)
		if err != nil {
			return timerOp{}, err
		}
		off, ok := next[q]
		if !ok {
			off = q.next
		}
		next[q] = off + 1
		o.fired = append(o.fired, firedTimer{pos: e.pos, size: e.size, deliver: e.deliver, tagHash: tagHash(rec.Tags),
			topic: q.topic, queue: q.id, offset: off})
	}
	r.Body = encodeTimerOp(o)
	return o, nil
}

func (l *Log) timerCancelled(rec *record.Record, e wentry) bool {
	for _, c := range l.wheel.cancels[e.keyHash] {
		if c.pos > e.pos && string(rec.Key) == c.key {
			if topic, _, err := realTarget(rec); err == nil && topic == c.topic {
				return true
			}
		}
	}
	return false
}

// stageTimer inserts a written timer record into the wheel.
func (l *Log) stageTimer(pos int64, size int, deliver int64, key []byte) error {
	w := l.wheel
	e := wentry{pos: pos, size: int32(size), deliver: deliver, keyHash: keyHashOf(key)}
	if l.replaying {
		w.replayMoved[pos] = e
	} else if err := w.insert(e); err != nil {
		return err
	}
	w.pending++
	if s := l.cl.segmentAt(pos); s != nil {
		w.bySeg[s.base]++
	}
	return nil
}

// stageTimerOp applies a fire or cancel record at pos.
func (l *Log) stageTimerOp(o timerOp, pos, storeTime int64) error {
	w := l.wheel
	if o.op == timerCancelOp {
		h := keyHashOf(o.key)
		w.cancels[h] = append(w.cancels[h], timerCancel{topic: o.topic, key: string(o.key), pos: pos, at: storeTime})
		return nil
	}
	if err := l.indexFired(o, pos); err != nil {
		return err
	}
	drop := func(p int64) {
		w.pending--
		if s := l.cl.segmentAt(p); s != nil {
			if w.bySeg[s.base]--; w.bySeg[s.base] <= 0 {
				delete(w.bySeg, s.base)
			}
		}
	}
	for _, f := range o.fired {
		drop(f.pos)
		if lag := storeTime - f.deliver; lag > w.lastLag || f.pos == o.fired[0].pos {
			w.lastLag = lag
		}
	}
	for _, p := range o.cancelled {
		drop(p)
	}
	if l.replaying {
		// Replay does not retrace the wheel's lists: it keeps the pending timers it
		// writes or moves apart and places them once, at its end (settleReplay). Only a
		// timer written before the checkpoint can be in the checkpoint's lists, so only
		// those are noted as gone: the set stays as small as the checkpoint's wheel, also
		// when there is no checkpoint and the whole commitlog replays.
		gone := func(p int64) {
			if p < l.recovery.CheckpointPos {
				w.replayGone[p] = true
			}
			delete(w.replayMoved, p)
		}
		for _, f := range o.fired {
			gone(f.pos)
		}
		for _, p := range o.cancelled {
			gone(p)
		}
		for _, e := range o.rolled {
			w.replayMoved[e.pos] = e
		}
		if o.to > w.cursor {
			w.cursor = o.to
		}
	} else {
		// A record that cut a tick (more timers than maxFireTimers) lists the newest of
		// its timers: the head of the list of the tick after the record's last. Only
		// then is there something to pop, and a set of what the record lists to build.
		if sl := w.slots[(o.to+1)%w.n]; sl.tick == o.to+1 && sl.head != 0 {
			listed := make(map[int64]bool, len(o.fired)+len(o.rolled)+len(o.cancelled))
			for _, f := range o.fired {
				listed[f.pos] = true
			}
			for _, e := range o.rolled {
				listed[e.pos] = true
			}
			for _, p := range o.cancelled {
				listed[p] = true
			}
			if err := w.popListed(o.to+1, listed); err != nil {
				return err
			}
		}
		w.clear(o.from, o.to)
		if o.to > w.cursor {
			w.cursor = o.to
		}
		for _, e := range o.rolled {
			if err := w.insert(e); err != nil {
				return err
			}
		}
	}
	if len(o.fired) > 0 {
		w.lastFire = storeTime
	}
	// Forget cancellations no timer written before them can still match.
	horizon := storeTime - l.opts.TimerMaxDelay.Milliseconds() - w.precision
	for h, cs := range w.cancels {
		keep := cs[:0]
		for _, c := range cs {
			if c.at > horizon {
				keep = append(keep, c)
			}
		}
		if len(keep) == 0 {
			delete(w.cancels, h)
		} else {
			w.cancels[h] = keep
		}
	}
	return nil
}

// indexFired adds the index entries of fired timers (skipping those already indexed).
func (l *Log) indexFired(o timerOp, pos int64) error {
	for _, f := range o.fired {
		t := l.topics[f.topic]
		if t == nil || f.queue >= len(t.queues) {
			return fmt.Errorf("log: fire record at position %d names unknown queue %s/%d", pos, f.topic, f.queue)
		}
		q := t.queues[f.queue]
		if f.offset < q.next {
			continue
		}
		if err := q.add(f.offset, cqEntry{pos: f.pos, size: f.size, tagHash: f.tagHash}); err != nil {
			return err
		}
		l.touch(q)
		if hs, cs := l.cl.segmentAt(f.pos), l.cl.segmentAt(pos); hs != nil && hs != cs {
			l.noteLateCommit(hs.base, pos)
		}
	}
	return nil
}

// minPendingTimerSegment is the base of the oldest segment holding a pending timer, or -1.
func (l *Log) minPendingTimerSegment() int64 {
	min := int64(-1)
	for base, n := range l.wheel.bySeg {
		if n > 0 && (min < 0 || base < min) {
			min = base
		}
	}
	return min
}

// --- public API ---

// TimerStats describes the delayed messages.
type TimerStats struct {
	Pending int64
	// NextDue is the earliest due time (ms since the epoch) of a pending delayed message,
	// 0 if none.
	NextDue int64
	// LastFiring is the store time of the last fire record that delivered messages, and
	// LastLag how late (ms) the first message it delivered was against its due time.
	LastFiring, LastLag int64
	Precision           time.Duration
	Cursor              int64 // the last tick fired
}

// Timers reports on delayed messages.
func (l *Log) Timers(ctx context.Context) (TimerStats, error) {
	var st TimerStats
	err := l.submit(ctx, &request{ctl: func() error {
		w := l.wheel
		st = TimerStats{Pending: w.pending, LastFiring: w.lastFire, LastLag: w.lastLag,
			Precision: time.Duration(w.precision) * time.Millisecond, Cursor: w.cursor}
		if w.pending == 0 {
			return nil
		}
		for t := w.cursor + 1; t < w.cursor+w.n; t++ {
			sl := w.slots[t%w.n]
			if sl.tick != t || sl.head == 0 {
				continue
			}
			for ref := sl.head; ref != 0; {
				e, err := w.entryAt(ref)
				if err != nil {
					return err
				}
				if st.NextDue == 0 || e.deliver < st.NextDue {
					st.NextDue = e.deliver
				}
				ref = e.prev
			}
			if w.tickOf(st.NextDue) <= t {
				break
			}
		}
		return nil
	}})
	return st, err
}

// CancelDelayed cancels every delayed message of topic with this key that was appended
// before the call and has not been delivered yet.
func (l *Log) CancelDelayed(ctx context.Context, topic string, key []byte) error {
	if _, err := l.topic(topic); err != nil {
		return err
	}
	if len(key) == 0 {
		return fmt.Errorf("log: CancelDelayed needs a key")
	}
	rec := &record.Record{Type: record.TypeTimerOp, Topic: []byte(TimerTopic),
		Body: encodeTimerOp(timerOp{op: timerCancelOp, topic: topic, key: key})}
	return l.submit(ctx, sysRequest(rec, DurabilityDefault))
}

// FireTimers delivers every delayed message due by now, instead of waiting for the next
// tick of the timer goroutine. It returns how many were delivered.
func (l *Log) FireTimers(ctx context.Context) (int, error) {
	total := 0
	for {
		now := l.opts.Clock.Now().UnixMilli()
		rec := &record.Record{Type: record.TypeTimerOp, Topic: []byte(TimerTopic),
			Body: encodeTimerOp(timerOp{op: timerFire, to: now / int64(l.opts.TimerPrecision/time.Millisecond)})}
		r := sysRequest(rec, DurabilityDefault)
		if err := l.submit(ctx, r); err != nil {
			if errors.Is(err, errNothingDue) {
				return total, nil
			}
			return total, err
		}
		o, err := decodeTimerOp(rec.Body)
		if err != nil {
			return total, err
		}
		total += len(o.fired)
		if o.to >= now/int64(l.opts.TimerPrecision/time.Millisecond) {
			return total, nil
		}
	}
}

// errNothingDue makes the appender skip a fire record that would change nothing.
var errNothingDue = errors.New("log: no timer due")

// timerLoop fires due timers at every tick boundary; at start it delivers what is overdue.
//
// The ticks are aligned with the clock's tick boundaries. A ticker started between two
// boundaries fires a fixed fraction of a tick after each, and a message due just after a
// boundary then waits for that fraction on top of the rounding up to its tick: almost two
// ticks, where Options.TimerPrecision promises at most one. The loop realigns when a tick
// arrives more than an eighth of a tick after its boundary (the ticker runs on the
// monotonic clock, the boundaries on the wall clock, and the two drift apart).
func (l *Log) timerLoop() {
	defer close(l.timerDone)
	if l.opts.manualTimers {
		<-l.quit
		return
	}
	fire := func() {
		if _, err := l.FireTimers(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
			l.opts.Logger.Warn("log: firing timers failed", "err", err)
		}
	}
	fire()
	p := l.opts.TimerPrecision
	pm := p.Milliseconds()
	for {
		if phase := l.opts.Clock.Now().UnixMilli() % pm; phase != 0 {
			w := l.opts.Clock.Timer(time.Duration(pm-phase) * time.Millisecond)
			select {
			case <-l.quit:
				w.Stop()
				return
			case <-w.C:
			}
		}
		t := l.opts.Clock.Ticker(p)
		fire() // this boundary's tick; the ticker's first comes a tick later
		for aligned := true; aligned; {
			select {
			case <-l.quit:
				t.Stop()
				return
			case <-t.C:
				aligned = l.opts.Clock.Now().UnixMilli()%pm <= pm/8
				fire()
			}
		}
		t.Stop()
	}
}

// --- checkpoint section ---

const sectionTimers = 2

func (l *Log) encodeTimerSection() []byte {
	w := l.wheel
	le := binary.LittleEndian
	var b []byte
	b = le.AppendUint64(b, uint64(w.cursor))
	b = le.AppendUint64(b, uint64(w.logLen))
	b = le.AppendUint64(b, uint64(w.pending))
	b = le.AppendUint64(b, uint64(w.lastLag))
	b = le.AppendUint64(b, uint64(w.lastFire))
	b = le.AppendUint32(b, uint32(len(w.bySeg)))
	for base, n := range w.bySeg {
		b = le.AppendUint64(b, uint64(base))
		b = le.AppendUint64(b, uint64(n))
	}
	var cs []timerCancel
	for _, c := range w.cancels {
		cs = append(cs, c...)
	}
	b = le.AppendUint32(b, uint32(len(cs)))
	for _, c := range cs {
		b = appendString(b, c.topic)
		b = le.AppendUint32(b, uint32(len(c.key)))
		b = append(b, c.key...)
		b = le.AppendUint64(b, uint64(c.pos))
		b = le.AppendUint64(b, uint64(c.at))
	}
	return b
}

// decodeTimerSection restores the wheel's counters; it returns the timer log's length.
func (l *Log) decodeTimerSection(b []byte) (int64, error) {
	w := l.wheel
	d := decoder{b: b}
	w.cursor = int64(d.u64())
	logLen := int64(d.u64())
	w.pending = int64(d.u64())
	w.lastLag = int64(d.u64())
	w.lastFire = int64(d.u64())
	n := d.u32()
	for i := uint32(0); i < n && d.err == nil; i++ {
		base := int64(d.u64())
		w.bySeg[base] = int64(d.u64())
	}
	n = d.u32()
	for i := uint32(0); i < n && d.err == nil; i++ {
		c := timerCancel{topic: d.str()}
		c.key = string(d.bytes(int(d.u32())))
		c.pos, c.at = int64(d.u64()), int64(d.u64())
		h := keyHashOf([]byte(c.key))
		w.cancels[h] = append(w.cancels[h], c)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("timer section")
	}
	return logLen, d.err
}

// deliverAtOf reads a timer record's due time.
func deliverAtOf(r *record.Record) (int64, error) {
	v, ok := record.Prop(r.Props, PropDeliverAt)
	if !ok {
		return 0, errors.New("timer record without " + PropDeliverAt)
	}
	return strconv.ParseInt(v, 10, 64)
}

func timerProps(dst []byte, topic string, queue int, deliverAt int64) []byte {
	dst = appendProp(dst, PropRealTopic, topic)
	dst = appendProp(dst, PropRealQueue, strconv.Itoa(queue))
	return appendProp(dst, PropDeliverAt, strconv.FormatInt(deliverAt, 10))
}
