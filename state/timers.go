package state

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"sort"
)

// Domain is the time domain of a timer.
type Domain uint8

const (
	EventTime Domain = iota
	ProcessingTime
)

// Timer is one registered timer of an operator: a time, for a key and a namespace.
type Timer struct {
	Timestamp int64
	KeyGroup  int
	Key       []byte
	Namespace []byte
}

// Timers holds the timers of one operator subtask in two time domains. Registering the
// same (key, namespace, time) twice keeps one timer. Timers fire in time order.
type Timers struct {
	q   [2]timerHeap
	set [2]map[string]struct{}
	// journal, when not nil, holds the last change of each timer since it was taken:
	// journalKey -> live (registered) or not (deleted or fired). The Badger backend
	// persists it on Flush.
	journal map[string]bool
}

// journalKey is key group (2 bytes, big-endian) | domain | timerID: a timer's key in
// the Badger backend after the operator prefix.
func journalKey(d Domain, t Timer, id string) string {
	b := make([]byte, 0, 3+len(id))
	b = binary.BigEndian.AppendUint16(b, uint16(t.KeyGroup))
	b = append(b, byte(d))
	return string(append(b, id...))
}

func (ts *Timers) record(d Domain, t Timer, id string, live bool) {
	if ts.journal != nil {
		ts.journal[journalKey(d, t, id)] = live
	}
}

// NewTimers returns an empty timer store.
func NewTimers() *Timers {
	return &Timers{set: [2]map[string]struct{}{{}, {}}}
}

func timerID(t Timer) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(t.Timestamp))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Key)))
	b = append(b, t.Key...)
	return string(append(b, t.Namespace...))
}

// Register adds a timer (once).
func (ts *Timers) Register(d Domain, t Timer) {
	id := timerID(t)
	if _, ok := ts.set[d][id]; ok {
		return
	}
	t.Key = append([]byte(nil), t.Key...)
	t.Namespace = append([]byte(nil), t.Namespace...)
	ts.set[d][id] = struct{}{}
	heap.Push(&ts.q[d], t)
	ts.record(d, t, id, true)
}

// Delete removes a timer, if registered. t.KeyGroup must be the timer's key group.
func (ts *Timers) Delete(d Domain, t Timer) {
	if ts.journal == nil {
		delete(ts.set[d], timerID(t)) // no string allocated for the id
		return
	}
	id := timerID(t)
	if _, ok := ts.set[d][id]; ok {
		delete(ts.set[d], id)
		ts.record(d, t, id, false)
	}
}

// Next returns the earliest live timer of domain d without removing it.
func (ts *Timers) Next(d Domain) (Timer, bool) {
	q := &ts.q[d]
	for q.Len() > 0 {
		t := (*q)[0]
		if _, ok := ts.set[d][timerID(t)]; ok {
			return t, true
		}
		heap.Pop(q) // deleted: drop lazily
	}
	return Timer{}, false
}

// PopDue removes and returns the earliest timer of domain d with Timestamp <= upTo.
func (ts *Timers) PopDue(d Domain, upTo int64) (Timer, bool) {
	t, ok := ts.Next(d)
	if !ok || t.Timestamp > upTo {
		return Timer{}, false
	}
	heap.Pop(&ts.q[d])
	if ts.journal == nil {
		delete(ts.set[d], timerID(t)) // no string allocated for the id
		return t, true
	}
	id := timerID(t)
	delete(ts.set[d], id)
	ts.record(d, t, id, false)
	return t, true
}

// Len is the number of live timers of domain d.
func (ts *Timers) Len(d Domain) int { return len(ts.set[d]) }

func (ts *Timers) appendSnapshot(dst []byte) []byte {
	le := binary.LittleEndian
	for d := range ts.q {
		var live []Timer
		for _, t := range ts.q[d] {
			if _, ok := ts.set[d][timerID(t)]; ok {
				live = append(live, t)
			}
		}
		sort.Slice(live, func(i, j int) bool { return timerID(live[i]) < timerID(live[j]) })
		dst = le.AppendUint32(dst, uint32(len(live)))
		for _, t := range live {
			dst = le.AppendUint64(dst, uint64(t.Timestamp))
			dst = binary.BigEndian.AppendUint16(dst, uint16(t.KeyGroup))
			dst = le.AppendUint32(dst, uint32(len(t.Key)))
			dst = append(dst, t.Key...)
			dst = le.AppendUint32(dst, uint32(len(t.Namespace)))
			dst = append(dst, t.Namespace...)
		}
	}
	return dst
}

func (ts *Timers) restore(b []byte, kgs KeyGroupRange) ([]byte, error) {
	d := reader{b: b}
	for dom := range ts.q {
		n := d.u32()
		for i := uint32(0); i < n && d.err == nil; i++ {
			t := Timer{Timestamp: int64(d.u64())}
			if kg := d.take(2); kg != nil {
				t.KeyGroup = int(binary.BigEndian.Uint16(kg))
			}
			t.Key = append([]byte(nil), d.bytes()...)
			t.Namespace = append([]byte(nil), d.bytes()...)
			if d.err == nil && kgs.Contains(t.KeyGroup) {
				ts.Register(Domain(dom), t)
			}
		}
	}
	return d.b, d.err
}

type timerHeap []Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].Timestamp != h[j].Timestamp {
		return h[i].Timestamp < h[j].Timestamp
	}
	// Deterministic order within a time.
	if c := bytes.Compare(h[i].Key, h[j].Key); c != 0 {
		return c < 0
	}
	return bytes.Compare(h[i].Namespace, h[j].Namespace) < 0
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(Timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
