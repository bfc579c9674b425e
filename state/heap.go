package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/benbjohnson/clock"
)

// HeapOptions configures a Heap backend.
type HeapOptions struct {
	// MaxParallelism is the number of key groups. Default DefaultMaxParallelism.
	MaxParallelism int
	// KeyGroups this backend holds. Default all.
	KeyGroups KeyGroupRange
	// Clock for TTL. Default the real clock.
	Clock clock.Clock
}

// Heap keeps keyed state in Go maps: typed values, no serialization on access. Snapshot
// and Restore serialize with each state's codec. It backs jobs without durable state and
// tests; the Badger backend keeps the same interfaces.
type Heap struct {
	opts    HeapOptions
	key     []byte
	kg      int
	hasKey  bool
	tables  map[string]heapTable
	pending map[string][]rawEntry // restored entries of states not registered yet
	timers  *Timers
	// src, when set, is a durable store behind the tables (the Badger backend, which
	// owns this Heap): a read that misses a table loads the entry from src, and every
	// write marks its entry dirty until the owner flushes it. Nil for a plain Heap.
	src stateSource
}

// stateSource is the durable store behind a Heap's tables.
type stateSource interface {
	// load returns the encoded value and expiry of a state's entry (composite key).
	load(state string, composite []byte) (value []byte, expire int64, ok bool, err error)
}

// heapOwner is a backend whose keyed state lives in a Heap (the Heap itself, or a
// backend composed of one); the typed state constructors accept any of them.
type heapOwner interface{ heap() *Heap }

func (h *Heap) heap() *Heap { return h }

type rawEntry struct {
	key    string // composite: key group, key, namespace
	value  []byte
	expire int64
}

type heapTable interface {
	snapshot(dst []byte) []byte
	restore(entries []rawEntry) error
	kind() string
	// Used with a stateSource only: visitDirty calls fn with each dirty entry's final
	// value (or deleted), clearDirty forgets the dirty marks, size counts the cached
	// entries and evict drops up to n clean ones, returning how many it dropped.
	visitDirty(fn func(key string, value []byte, expire int64, deleted bool) error) error
	clearDirty()
	size() int
	evict(n int) int
}

// NewHeap returns an empty heap backend.
func NewHeap(opts HeapOptions) *Heap {
	if opts.MaxParallelism == 0 {
		opts.MaxParallelism = DefaultMaxParallelism
	}
	if opts.KeyGroups == (KeyGroupRange{}) {
		opts.KeyGroups = KeyGroupRange{0, opts.MaxParallelism}
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	return &Heap{opts: opts, tables: map[string]heapTable{}, pending: map[string][]rawEntry{}, timers: NewTimers()}
}

func (h *Heap) SetCurrentKey(key []byte, kg int) { h.key, h.kg, h.hasKey = key, kg, true }
func (h *Heap) CurrentKey() []byte               { return h.key }
func (h *Heap) CurrentKeyGroup() int             { return h.kg }
func (h *Heap) KeyGroups() KeyGroupRange         { return h.opts.KeyGroups }
func (h *Heap) Timers() *Timers                  { return h.timers }
func (h *Heap) Now() time.Time                   { return h.opts.Clock.Now() }

// composite appends the map key of (current key group, key, ns).
func (h *Heap) composite(dst, ns []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.kg))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h.key)))
	dst = append(dst, h.key...)
	return append(dst, ns...)
}

func compositeKeyGroup(k string) int { return int(binary.BigEndian.Uint16([]byte(k[:2]))) }

// Snapshot encodes: u32 table count, per table u16+name, u16+kind, u32 entry count, per
// entry u32+composite key, i64 expiry, u32+value; then the timers.
func (h *Heap) Snapshot() ([]byte, error) {
	names := make([]string, 0, len(h.tables))
	for n := range h.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	le := binary.LittleEndian
	b := le.AppendUint32(nil, uint32(len(names)+len(h.pending)))
	for _, n := range names {
		t := h.tables[n]
		b = appendStr(b, n)
		b = appendStr(b, t.kind())
		b = t.snapshot(b)
	}
	// Restored entries of states this run never registered are kept, not dropped.
	for n, es := range h.pending {
		b = appendStr(b, n)
		b = appendStr(b, "")
		b = appendRaw(b, es)
	}
	return h.timers.appendSnapshot(b), nil
}

// Restore merges a snapshot in, keeping the entries of this backend's key groups.
func (h *Heap) Restore(snap []byte) error {
	d := reader{b: snap}
	n := d.u32()
	for i := uint32(0); i < n && d.err == nil; i++ {
		name, _ := d.str(), d.str()
		cnt := d.u32()
		var es []rawEntry
		for j := uint32(0); j < cnt && d.err == nil; j++ {
			e := rawEntry{key: string(d.bytes()), expire: int64(d.u64())}
			e.value = append([]byte(nil), d.bytes()...)
			if len(e.key) >= 2 && h.opts.KeyGroups.Contains(compositeKeyGroup(e.key)) {
				es = append(es, e)
			}
		}
		if d.err != nil {
			break
		}
		if t, ok := h.tables[name]; ok {
			if err := t.restore(es); err != nil {
				return fmt.Errorf("state: restore %q: %w", name, err)
			}
		} else {
			h.pending[name] = append(h.pending[name], es...)
		}
	}
	if d.err != nil {
		return fmt.Errorf("state: corrupt snapshot: %w", d.err)
	}
	rest, err := h.timers.restore(d.b, h.opts.KeyGroups)
	if err == nil && len(rest) != 0 {
		err = errors.New("state: trailing bytes in snapshot")
	}
	return err
}

// table is the storage of one state: typed values per composite key. Cells are
// pointers so that an update of a cached key changes it in place, without a map write.
type table[T any] struct {
	h     *Heap
	name  string
	kindS string
	codec Codec[T]
	ttl   TTL
	m     map[string]*cell[T]
	// With h.src: the number of dirty cells (written since the last flush), and the keys
	// deleted since then (absent from m).
	ndirty  int
	deleted map[string]struct{}
	ns      []byte
	scratch []byte
}

type cell[T any] struct {
	v      T
	expire int64 // ms since the epoch; 0: never
	dirty  bool  // with h.src: written since the last flush
}

func register[T any](b Backend, name, kind string, codec Codec[T], ttl TTL) (*table[T], error) {
	o, ok := b.(heapOwner)
	if !ok {
		return nil, fmt.Errorf("state: backend %T is not supported", b)
	}
	h := o.heap()
	if name == "" {
		return nil, errors.New("state: a state needs a name")
	}
	if codec == nil {
		codec = CodecFor[T]()
	}
	if old, ok := h.tables[name]; ok {
		t, same := old.(*table[T])
		if !same || old.kind() != kind {
			return nil, fmt.Errorf("state: %q is already registered as a %s state of another type", name, old.kind())
		}
		return t, nil
	}
	t := &table[T]{h: h, name: name, kindS: kind, codec: codec, ttl: ttl, m: map[string]*cell[T]{}}
	h.tables[name] = t
	if es, ok := h.pending[name]; ok {
		delete(h.pending, name)
		if err := t.restore(es); err != nil {
			return nil, fmt.Errorf("state: restore %q: %w", name, err)
		}
	}
	return t, nil
}

func (t *table[T]) kind() string           { return t.kindS }
func (t *table[T]) SetNamespace(ns []byte) { t.ns = append(t.ns[:0], ns...) }
func (t *table[T]) now() int64             { return t.h.opts.Clock.Now().UnixMilli() }
func (t *table[T]) keyFor(ns []byte) []byte {
	t.scratch = t.h.composite(t.scratch[:0], ns)
	return t.scratch
}
func (t *table[T]) expiry() int64 {
	if t.ttl.After <= 0 {
		return 0
	}
	return t.now() + t.ttl.After.Milliseconds()
}

func (t *table[T]) get(ns []byte) (T, bool, error) {
	var zero T
	if !t.h.hasKey {
		return zero, false, ErrNoKey
	}
	k := t.keyFor(ns)
	c, ok := t.m[string(k)]
	if !ok {
		var err error
		if c, err = t.load(k); err != nil || c == nil {
			return zero, false, err
		}
	}
	if c.expire != 0 {
		if c.expire <= t.now() {
			t.remove(k)
			return zero, false, nil
		}
		if t.ttl.RefreshOnRead {
			c.expire = t.expiry()
			t.markDirty(c)
		}
	}
	return c.v, true, nil
}

// load reads a cache miss from the durable store, if any, and caches it (nil: none). A
// key deleted since the last flush is not read back.
func (t *table[T]) load(k []byte) (*cell[T], error) {
	if t.h.src == nil {
		return nil, nil
	}
	if _, deleted := t.deleted[string(k)]; deleted {
		return nil, nil
	}
	raw, expire, ok, err := t.h.src.load(t.name, k)
	if err != nil || !ok {
		return nil, err
	}
	v, err := t.codec.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("state: decode %q: %w", t.name, err)
	}
	c := &cell[T]{v: v, expire: expire}
	t.m[string(k)] = c
	return c, nil
}

// markDirty records a write of c for the next flush (with a durable store only).
func (t *table[T]) markDirty(c *cell[T]) {
	if t.h.src != nil && !c.dirty {
		c.dirty = true
		t.ndirty++
	}
}

// touch marks the current entry of ns dirty after an in-place change of its value.
func (t *table[T]) touch(ns []byte) {
	if c, ok := t.m[string(t.keyFor(ns))]; ok {
		t.markDirty(c)
	}
}

func (t *table[T]) put(ns []byte, v T) error {
	if !t.h.hasKey {
		return ErrNoKey
	}
	k := t.keyFor(ns)
	if c, ok := t.m[string(k)]; ok {
		c.v, c.expire = v, t.expiry()
		t.markDirty(c)
		return nil
	}
	c := &cell[T]{v: v, expire: t.expiry()}
	t.m[string(k)] = c
	t.markDirty(c)
	if len(t.deleted) > 0 {
		delete(t.deleted, string(k))
	}
	return nil
}

func (t *table[T]) del(ns []byte) error {
	if !t.h.hasKey {
		return ErrNoKey
	}
	t.remove(t.keyFor(ns))
	return nil
}

// remove deletes k from the cache and, with a durable store, records the deletion.
func (t *table[T]) remove(k []byte) {
	if c, ok := t.m[string(k)]; ok {
		if c.dirty {
			t.ndirty--
		}
		delete(t.m, string(k))
	}
	if t.h.src != nil {
		if t.deleted == nil {
			t.deleted = map[string]struct{}{}
		}
		t.deleted[string(k)] = struct{}{}
	}
}

func (t *table[T]) snapshot(dst []byte) []byte {
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic snapshots
	now := t.now()
	es := make([]rawEntry, 0, len(keys))
	for _, k := range keys {
		c := t.m[k]
		if c.expire != 0 && c.expire <= now {
			continue
		}
		es = append(es, rawEntry{key: k, expire: c.expire, value: t.codec.Append(nil, c.v)})
	}
	return appendRaw(dst, es)
}

func (t *table[T]) restore(es []rawEntry) error {
	for _, e := range es {
		v, err := t.codec.Decode(e.value)
		if err != nil {
			return err
		}
		c := &cell[T]{v: v, expire: e.expire}
		if old, ok := t.m[e.key]; ok && old.dirty {
			t.ndirty--
		}
		t.m[e.key] = c
		t.markDirty(c)
		delete(t.deleted, e.key)
	}
	return nil
}

func (t *table[T]) visitDirty(fn func(key string, value []byte, expire int64, deleted bool) error) error {
	for k := range t.deleted {
		if err := fn(k, nil, 0, true); err != nil {
			return err
		}
	}
	if t.ndirty == 0 {
		return nil
	}
	var buf []byte
	for k, c := range t.m {
		if !c.dirty {
			continue
		}
		buf = t.codec.Append(buf[:0], c.v)
		if err := fn(k, buf, c.expire, false); err != nil {
			return err
		}
	}
	return nil
}

func (t *table[T]) clearDirty() {
	if t.ndirty > 0 {
		for _, c := range t.m {
			c.dirty = false
		}
		t.ndirty = 0
	}
	clear(t.deleted)
}

func (t *table[T]) size() int { return len(t.m) }

func (t *table[T]) evict(n int) int {
	dropped := 0
	for k, c := range t.m { // map order: an arbitrary choice of victims
		if dropped == n {
			break
		}
		if c.dirty {
			continue
		}
		delete(t.m, k)
		dropped++
	}
	return dropped
}

// --- typed states on a table ---

// Desc describes a state: its name (unique per operator), codec (default CodecFor) and TTL.
type Desc[T any] struct {
	Name  string
	Codec Codec[T]
	TTL   TTL
}

type valueState[T any] struct{ t *table[T] }

// NewValue returns the value state d of backend b.
func NewValue[T any](b Backend, d Desc[T]) (ValueState[T], error) {
	t, err := register(b, d.Name, "value", d.Codec, d.TTL)
	if err != nil {
		return nil, err
	}
	return &valueState[T]{t}, nil
}

func (s *valueState[T]) SetNamespace(ns []byte)  { s.t.SetNamespace(ns) }
func (s *valueState[T]) Value() (T, bool, error) { return s.t.get(s.t.ns) }
func (s *valueState[T]) Update(v T) error        { return s.t.put(s.t.ns, v) }
func (s *valueState[T]) Clear() error            { return s.t.del(s.t.ns) }

type listState[T any] struct{ t *table[[]T] }

// NewList returns the list state d of backend b (d.Codec encodes one element).
func NewList[T any](b Backend, d Desc[T]) (ListState[T], error) {
	ec := d.Codec
	if ec == nil {
		ec = CodecFor[T]()
	}
	t, err := register[[]T](b, d.Name, "list", listCodec[T]{ec}, d.TTL)
	if err != nil {
		return nil, err
	}
	return &listState[T]{t}, nil
}

func (s *listState[T]) SetNamespace(ns []byte) { s.t.SetNamespace(ns) }
func (s *listState[T]) Get() ([]T, error) {
	v, _, err := s.t.get(s.t.ns)
	return v, err
}
func (s *listState[T]) Add(v T) error {
	old, _, err := s.t.get(s.t.ns)
	if err != nil {
		return err
	}
	return s.t.put(s.t.ns, append(old, v))
}
func (s *listState[T]) Update(vs []T) error {
	if len(vs) == 0 {
		return s.t.del(s.t.ns)
	}
	return s.t.put(s.t.ns, append([]T(nil), vs...))
}
func (s *listState[T]) Clear() error { return s.t.del(s.t.ns) }
func (s *listState[T]) MergeNamespaces(target []byte, sources [][]byte) error {
	var all []T
	for _, src := range sources {
		v, _, err := s.t.get(src)
		if err != nil {
			return err
		}
		all = append(all, v...)
		if err := s.t.del(src); err != nil {
			return err
		}
	}
	old, _, err := s.t.get(target)
	if err != nil {
		return err
	}
	if len(old)+len(all) == 0 {
		return nil
	}
	return s.t.put(target, append(old, all...))
}

type reducingState[T any] struct {
	t      *table[T]
	reduce func(a, b T) T
}

// NewReducing returns the reducing state d of backend b.
func NewReducing[T any](b Backend, d Desc[T], reduce func(a, b T) T) (ReducingState[T], error) {
	t, err := register(b, d.Name, "reducing", d.Codec, d.TTL)
	if err != nil {
		return nil, err
	}
	return &reducingState[T]{t, reduce}, nil
}

func (s *reducingState[T]) SetNamespace(ns []byte) { s.t.SetNamespace(ns) }
func (s *reducingState[T]) Get() (T, bool, error)  { return s.t.get(s.t.ns) }
func (s *reducingState[T]) Clear() error           { return s.t.del(s.t.ns) }
func (s *reducingState[T]) Add(v T) error {
	old, ok, err := s.t.get(s.t.ns)
	if err != nil {
		return err
	}
	if ok {
		v = s.reduce(old, v)
	}
	return s.t.put(s.t.ns, v)
}
func (s *reducingState[T]) MergeNamespaces(target []byte, sources [][]byte) error {
	acc, ok, err := s.t.get(target)
	if err != nil {
		return err
	}
	for _, src := range sources {
		v, has, err := s.t.get(src)
		if err != nil {
			return err
		}
		if has {
			if ok {
				acc = s.reduce(acc, v)
			} else {
				acc, ok = v, true
			}
		}
		if err := s.t.del(src); err != nil {
			return err
		}
	}
	if !ok {
		return nil
	}
	return s.t.put(target, acc)
}

type aggregatingState[IN, ACC, OUT any] struct {
	t   *table[ACC]
	agg Aggregate[IN, ACC, OUT]
}

// NewAggregating returns the aggregating state d (of accumulators) of backend b.
func NewAggregating[IN, ACC, OUT any](b Backend, d Desc[ACC], agg Aggregate[IN, ACC, OUT]) (AggregatingState[IN, OUT], error) {
	t, err := register(b, d.Name, "aggregating", d.Codec, d.TTL)
	if err != nil {
		return nil, err
	}
	return &aggregatingState[IN, ACC, OUT]{t, agg}, nil
}

func (s *aggregatingState[IN, ACC, OUT]) SetNamespace(ns []byte) { s.t.SetNamespace(ns) }
func (s *aggregatingState[IN, ACC, OUT]) Clear() error           { return s.t.del(s.t.ns) }
func (s *aggregatingState[IN, ACC, OUT]) Get() (OUT, bool, error) {
	var zero OUT
	acc, ok, err := s.t.get(s.t.ns)
	if err != nil || !ok {
		return zero, false, err
	}
	return s.agg.Result(acc), true, nil
}
func (s *aggregatingState[IN, ACC, OUT]) Add(v IN) error {
	acc, ok, err := s.t.get(s.t.ns)
	if err != nil {
		return err
	}
	if !ok {
		acc = s.agg.CreateAccumulator()
	}
	return s.t.put(s.t.ns, s.agg.Add(v, acc))
}
func (s *aggregatingState[IN, ACC, OUT]) MergeNamespaces(target []byte, sources [][]byte) error {
	acc, ok, err := s.t.get(target)
	if err != nil {
		return err
	}
	for _, src := range sources {
		v, has, err := s.t.get(src)
		if err != nil {
			return err
		}
		if has {
			if ok {
				acc = s.agg.Merge(acc, v)
			} else {
				acc, ok = v, true
			}
		}
		if err := s.t.del(src); err != nil {
			return err
		}
	}
	if !ok {
		return nil
	}
	return s.t.put(target, acc)
}

type mapState[K comparable, V any] struct{ t *table[map[K]V] }

// MapDesc describes a map state.
type MapDesc[K comparable, V any] struct {
	Name       string
	KeyCodec   Codec[K]
	ValueCodec Codec[V]
	TTL        TTL
}

// NewMap returns the map state d of backend b. TTL applies to the whole map of a key.
func NewMap[K comparable, V any](b Backend, d MapDesc[K, V]) (MapState[K, V], error) {
	kc, vc := d.KeyCodec, d.ValueCodec
	if kc == nil {
		kc = CodecFor[K]()
	}
	if vc == nil {
		vc = CodecFor[V]()
	}
	t, err := register[map[K]V](b, d.Name, "map", mapCodec[K, V]{kc, vc}, d.TTL)
	if err != nil {
		return nil, err
	}
	return &mapState[K, V]{t}, nil
}

func (s *mapState[K, V]) SetNamespace(ns []byte) { s.t.SetNamespace(ns) }
func (s *mapState[K, V]) Get(k K) (V, bool, error) {
	var zero V
	m, _, err := s.t.get(s.t.ns)
	if err != nil || m == nil {
		return zero, false, err
	}
	v, ok := m[k]
	return v, ok, nil
}
func (s *mapState[K, V]) Put(k K, v V) error {
	m, _, err := s.t.get(s.t.ns)
	if err != nil {
		return err
	}
	if m == nil {
		m = map[K]V{}
	}
	m[k] = v
	return s.t.put(s.t.ns, m)
}
func (s *mapState[K, V]) Remove(k K) error {
	m, _, err := s.t.get(s.t.ns)
	if err != nil || m == nil {
		return err
	}
	delete(m, k)
	if len(m) == 0 {
		return s.t.del(s.t.ns)
	}
	s.t.touch(s.t.ns) // changed in place: a durable backend must write it back
	return nil
}
func (s *mapState[K, V]) Range(fn func(K, V) bool) error {
	m, _, err := s.t.get(s.t.ns)
	if err != nil {
		return err
	}
	for k, v := range m {
		if !fn(k, v) {
			break
		}
	}
	return nil
}
func (s *mapState[K, V]) IsEmpty() (bool, error) {
	m, _, err := s.t.get(s.t.ns)
	return len(m) == 0, err
}
func (s *mapState[K, V]) Clear() error { return s.t.del(s.t.ns) }

// --- codecs of composite values and snapshot helpers ---

type listCodec[T any] struct{ elem Codec[T] }

func (c listCodec[T]) Append(dst []byte, vs []T) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(vs)))
	for _, v := range vs {
		dst = appendLenPrefixed(dst, func(b []byte) []byte { return c.elem.Append(b, v) })
	}
	return dst
}

func (c listCodec[T]) Decode(b []byte) ([]T, error) {
	d := reader{b: b}
	n := d.u32()
	out := make([]T, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		v, err := c.elem.Decode(d.bytes())
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, d.err
}

type mapCodec[K comparable, V any] struct {
	k Codec[K]
	v Codec[V]
}

func (c mapCodec[K, V]) Append(dst []byte, m map[K]V) []byte {
	type kv struct {
		k []byte
		v V
	}
	es := make([]kv, 0, len(m))
	for k, v := range m {
		es = append(es, kv{c.k.Append(nil, k), v})
	}
	sort.Slice(es, func(i, j int) bool { return string(es[i].k) < string(es[j].k) })
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(es)))
	for _, e := range es {
		dst = appendLenPrefixed(dst, func(b []byte) []byte { return append(b, e.k...) })
		dst = appendLenPrefixed(dst, func(b []byte) []byte { return c.v.Append(b, e.v) })
	}
	return dst
}

func (c mapCodec[K, V]) Decode(b []byte) (map[K]V, error) {
	d := reader{b: b}
	n := d.u32()
	m := make(map[K]V, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		k, err := c.k.Decode(d.bytes())
		if err != nil {
			return nil, err
		}
		v, err := c.v.Decode(d.bytes())
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, d.err
}

func appendLenPrefixed(dst []byte, fn func([]byte) []byte) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = fn(dst)
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendRaw(dst []byte, es []rawEntry) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, uint32(len(es)))
	for _, e := range es {
		dst = le.AppendUint32(dst, uint32(len(e.key)))
		dst = append(dst, e.key...)
		dst = le.AppendUint64(dst, uint64(e.expire))
		dst = le.AppendUint32(dst, uint32(len(e.value)))
		dst = append(dst, e.value...)
	}
	return dst
}

// reader decodes little-endian fields, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (d *reader) take(n int) []byte {
	if d.err != nil || n < 0 || len(d.b) < n {
		if d.err == nil {
			d.err = errors.New("truncated")
		}
		d.b = nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *reader) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}
func (d *reader) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}
func (d *reader) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}
func (d *reader) str() string   { return string(d.take(int(d.u16()))) }
func (d *reader) bytes() []byte { return d.take(int(d.u32())) }
