package state

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testStore is a Store in a directory that survives Close, so that a test can simulate a
// new process by reopening it.
type testStore struct {
	t    testing.TB
	dir  string
	opts StoreOptions
	*Store
}

func openTestStore(t testing.TB, opts StoreOptions) *testStore {
	ts := &testStore{t: t, dir: t.TempDir(), opts: opts}
	ts.reopen()
	t.Cleanup(func() { _ = ts.Close() })
	return ts
}

// reopen closes the store (if open) and opens it again: a restart of the job.
func (ts *testStore) reopen() {
	if ts.Store != nil {
		require.NoError(ts.t, ts.Close())
	}
	s, err := OpenStore(ts.dir, ts.opts)
	require.NoError(ts.t, err)
	ts.Store = s
}

func (ts *testStore) backend(op string, kgs KeyGroupRange, clk clock.Clock) *StoreBackend {
	b, err := ts.Backend(op, kgs, clk)
	require.NoError(ts.t, err)
	return b
}

func TestStoreTypedStatesSurviveReopen(t *testing.T) {
	s := openTestStore(t, StoreOptions{})
	type handles struct {
		v   ValueState[string]
		l   ListState[int]
		m   MapState[string, int]
		r   ReducingState[int]
		a   AggregatingState[int64, float64]
		all []Namespaced
	}
	open := func(b Backend) handles {
		var h handles
		var err error
		h.v, err = NewValue(b, Desc[string]{Name: "v"})
		require.NoError(t, err)
		h.l, err = NewList(b, Desc[int]{Name: "l"})
		require.NoError(t, err)
		h.m, err = NewMap(b, MapDesc[string, int]{Name: "m"})
		require.NoError(t, err)
		h.r, err = NewReducing(b, Desc[int]{Name: "r"}, func(a, b int) int { return a + b })
		require.NoError(t, err)
		h.a, err = NewAggregating[int64, [2]int64, float64](b, Desc[[2]int64]{Name: "a"}, avg{})
		require.NoError(t, err)
		h.all = []Namespaced{h.v.(Namespaced), h.l.(Namespaced), h.m.(Namespaced), h.r.(Namespaced), h.a.(Namespaced)}
		return h
	}
	setNS := func(h handles, ns string) {
		for _, x := range h.all {
			x.SetNamespace([]byte(ns))
		}
	}

	b := s.backend("op", KeyGroupRange{}, nil)
	h := open(b)
	for _, k := range []string{"k1", "k2"} {
		key(b, k)
		for _, ns := range []string{"", "w1"} {
			setNS(h, ns)
			require.NoError(t, h.v.Update(k+ns))
			require.NoError(t, h.l.Add(1))
			require.NoError(t, h.l.Add(2))
			require.NoError(t, h.m.Put("x", 1))
			require.NoError(t, h.m.Put("y", 2))
			require.NoError(t, h.r.Add(3))
			require.NoError(t, h.r.Add(4))
			require.NoError(t, h.a.Add(2))
			require.NoError(t, h.a.Add(4))
		}
	}
	require.NoError(t, b.Flush())
	// Second epoch: in-place changes and deletions of flushed entries.
	key(b, "k2")
	setNS(h, "w1")
	require.NoError(t, h.v.Clear())
	require.NoError(t, h.l.Clear())
	require.NoError(t, h.m.Remove("x")) // changes the map in place
	require.NoError(t, h.r.Clear())
	require.NoError(t, h.a.Clear())
	require.NoError(t, b.Flush())
	key(b, "k1")
	require.NoError(t, h.v.Update("not flushed")) // lost with the process

	s.reopen()
	b = s.backend("op", KeyGroupRange{}, nil)
	h = open(b)
	for _, k := range []string{"k1", "k2"} {
		key(b, k)
		for _, ns := range []string{"", "w1"} {
			setNS(h, ns)
			gone := k == "k2" && ns == "w1"
			v, ok, err := h.v.Value()
			require.NoError(t, err)
			assert.Equal(t, !gone, ok, "%s/%s", k, ns)
			l, err := h.l.Get()
			require.NoError(t, err)
			r, rok, err := h.r.Get()
			require.NoError(t, err)
			a, aok, err := h.a.Get()
			require.NoError(t, err)
			var mk []string
			require.NoError(t, h.m.Range(func(k string, _ int) bool { mk = append(mk, k); return true }))
			sort.Strings(mk)
			if gone {
				assert.Empty(t, l)
				assert.False(t, rok)
				assert.False(t, aok)
				assert.Equal(t, []string{"y"}, mk)
				continue
			}
			assert.Equal(t, k+ns, v)
			assert.Equal(t, []int{1, 2}, l)
			assert.Equal(t, 7, r)
			assert.True(t, rok)
			assert.Equal(t, 3.0, a)
			assert.True(t, aok)
			assert.Equal(t, []string{"x", "y"}, mk)
		}
	}
}

func TestStoreTTLSurvivesReopen(t *testing.T) {
	mock := clock.NewMock()
	mock.Set(time.UnixMilli(1_000_000))
	s := openTestStore(t, StoreOptions{})
	b := s.backend("op", KeyGroupRange{}, mock)
	v, err := NewValue(b, Desc[string]{Name: "ttl", TTL: TTL{After: time.Second}})
	require.NoError(t, err)
	rv, err := NewValue(b, Desc[string]{Name: "ttl-read", TTL: TTL{After: time.Second, RefreshOnRead: true}})
	require.NoError(t, err)
	key(b, "k")
	require.NoError(t, v.Update("x"))
	require.NoError(t, rv.Update("y"))
	require.NoError(t, b.Flush())

	mock.Add(900 * time.Millisecond)
	s.reopen()
	b = s.backend("op", KeyGroupRange{}, mock)
	v, _ = NewValue(b, Desc[string]{Name: "ttl", TTL: TTL{After: time.Second}})
	rv, _ = NewValue(b, Desc[string]{Name: "ttl-read", TTL: TTL{After: time.Second, RefreshOnRead: true}})
	key(b, "k")
	_, ok, err := rv.Value() // refreshes the expiry: a write-back
	require.NoError(t, err)
	assert.True(t, ok)
	require.NoError(t, b.Flush())

	mock.Add(200 * time.Millisecond)
	s.reopen()
	b = s.backend("op", KeyGroupRange{}, mock)
	v, _ = NewValue(b, Desc[string]{Name: "ttl", TTL: TTL{After: time.Second}})
	rv, _ = NewValue(b, Desc[string]{Name: "ttl-read", TTL: TTL{After: time.Second, RefreshOnRead: true}})
	key(b, "k")
	_, ok, err = v.Value()
	require.NoError(t, err)
	assert.False(t, ok, "expired 1 s after the write, across a restart")
	_, ok, _ = rv.Value()
	assert.True(t, ok, "the flushed read refreshed it")
	require.NoError(t, b.Flush()) // deletes the expired entry from the store
	snap, err := b.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, 1, countSnapshotEntries(t, snap))
}

// countSnapshotEntries decodes a snapshot by restoring it into a Heap and counting the
// restored (pending) entries.
func countSnapshotEntries(t *testing.T, snap []byte) int {
	h := NewHeap(HeapOptions{})
	require.NoError(t, h.Restore(snap))
	n := 0
	for _, es := range h.pending {
		n += len(es)
	}
	return n
}

func TestStoreMergeNamespaces(t *testing.T) {
	s := openTestStore(t, StoreOptions{})
	b := s.backend("op", KeyGroupRange{}, nil)
	l, _ := NewList(b, Desc[string]{Name: "l"})
	r, _ := NewReducing(b, Desc[int]{Name: "r"}, func(a, b int) int { return a + b })
	a, _ := NewAggregating[int64, [2]int64, float64](b, Desc[[2]int64]{Name: "a"}, avg{})
	key(b, "k")
	for i, ns := range []string{"s1", "s2", "t"} {
		for _, x := range []Namespaced{l.(Namespaced), r.(Namespaced), a.(Namespaced)} {
			x.SetNamespace([]byte(ns))
		}
		require.NoError(t, l.Add(ns))
		require.NoError(t, r.Add(i+1))
		require.NoError(t, a.Add(int64(10*(i+1))))
	}
	require.NoError(t, b.Flush())
	s.reopen()
	b = s.backend("op", KeyGroupRange{}, nil)
	l, _ = NewList(b, Desc[string]{Name: "l"})
	r, _ = NewReducing(b, Desc[int]{Name: "r"}, func(a, b int) int { return a + b })
	a, _ = NewAggregating[int64, [2]int64, float64](b, Desc[[2]int64]{Name: "a"}, avg{})
	key(b, "k")
	srcs := [][]byte{[]byte("s1"), []byte("s2")}
	for _, m := range []Mergeable{l.(Mergeable), r.(Mergeable), a.(Mergeable)} {
		require.NoError(t, m.MergeNamespaces([]byte("t"), srcs))
	}
	require.NoError(t, b.Flush())
	s.reopen()
	b = s.backend("op", KeyGroupRange{}, nil)
	l, _ = NewList(b, Desc[string]{Name: "l"})
	r, _ = NewReducing(b, Desc[int]{Name: "r"}, func(a, b int) int { return a + b })
	a, _ = NewAggregating[int64, [2]int64, float64](b, Desc[[2]int64]{Name: "a"}, avg{})
	key(b, "k")
	for _, x := range []Namespaced{l.(Namespaced), r.(Namespaced), a.(Namespaced)} {
		x.SetNamespace([]byte("t"))
	}
	lv, _ := l.Get()
	assert.Equal(t, []string{"t", "s1", "s2"}, lv)
	rv, _, _ := r.Get()
	assert.Equal(t, 6, rv)
	av, _, _ := a.Get()
	assert.Equal(t, 20.0, av)
	for _, ns := range srcs {
		for _, x := range []Namespaced{l.(Namespaced), r.(Namespaced), a.(Namespaced)} {
			x.SetNamespace(ns)
		}
		lv, _ := l.Get()
		assert.Empty(t, lv, "merged sources are cleared in the store")
		_, ok, _ := r.Get()
		assert.False(t, ok)
		_, ok, _ = a.Get()
		assert.False(t, ok)
	}
}

func TestStoreKeyGroupRangesAndRescaling(t *testing.T) {
	s := openTestStore(t, StoreOptions{})
	const n = 500
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	kgOf := func(k string) int { return KeyGroup([]byte(k), DefaultMaxParallelism) }
	// Two subtasks write their own keys, with a timer each.
	for i := 0; i < 2; i++ {
		b := s.backend("op", RangeForSubtask(DefaultMaxParallelism, 2, i), nil)
		v, _ := NewValue(b, Desc[int]{Name: "v"})
		for j, k := range keys {
			if b.KeyGroups().Contains(kgOf(k)) {
				key(b, k)
				require.NoError(t, v.Update(j))
				b.Timers().Register(EventTime, Timer{Timestamp: int64(j), KeyGroup: kgOf(k), Key: []byte(k)})
			}
		}
		require.NoError(t, b.Flush())
	}
	// Each sees only its keys, in reads and snapshots; timers load by range.
	seen := 0
	for i := 0; i < 2; i++ {
		b := s.backend("op", RangeForSubtask(DefaultMaxParallelism, 2, i), nil)
		v, _ := NewValue(b, Desc[int]{Name: "v"})
		mine := 0
		for j, k := range keys {
			key(b, k)
			got, ok, err := v.Value()
			require.NoError(t, err)
			if b.KeyGroups().Contains(kgOf(k)) {
				require.True(t, ok, k)
				assert.Equal(t, j, got)
				mine++
			} else {
				assert.False(t, ok, "%s belongs to the other subtask", k)
			}
		}
		snap, err := b.Snapshot()
		require.NoError(t, err)
		assert.Equal(t, mine, countSnapshotEntries(t, snap))
		assert.Equal(t, mine, b.Timers().Len(EventTime))
		seen += mine
	}
	assert.Equal(t, n, seen)

	// Rescale 2 -> 3 after a restart, and -> 1 (the union).
	s.reopen()
	total, timers := 0, 0
	for i := 0; i < 3; i++ {
		b := s.backend("op", RangeForSubtask(DefaultMaxParallelism, 3, i), nil)
		v, _ := NewValue(b, Desc[int]{Name: "v"})
		for j, k := range keys {
			key(b, k)
			got, ok, err := v.Value()
			require.NoError(t, err)
			if ok {
				assert.Equal(t, j, got)
				total++
			}
		}
		timers += b.Timers().Len(EventTime)
	}
	assert.Equal(t, n, total)
	assert.Equal(t, n, timers)
	b := s.backend("op", RangeForSubtask(DefaultMaxParallelism, 1, 0), nil)
	assert.Equal(t, n, b.Timers().Len(EventTime))
	snap, err := b.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, n, countSnapshotEntries(t, snap))
}

func TestStoreOperatorsDoNotShareState(t *testing.T) {
	s := openTestStore(t, StoreOptions{})
	// "a" is a prefix of "ab": the length-prefixed operator id keeps them apart.
	ops := []string{"a", "ab", "", "b"}
	for i, op := range ops {
		b := s.backend(op, KeyGroupRange{}, nil)
		v, _ := NewValue(b, Desc[int]{Name: "v"})
		key(b, "k")
		require.NoError(t, v.Update(i))
		b.Timers().Register(ProcessingTime, Timer{Timestamp: int64(i), KeyGroup: b.CurrentKeyGroup(), Key: []byte("k")})
		require.NoError(t, b.Flush())
	}
	s.reopen()
	for i, op := range ops {
		b := s.backend(op, KeyGroupRange{}, nil)
		v, _ := NewValue(b, Desc[int]{Name: "v"})
		key(b, "k")
		got, ok, err := v.Value()
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, i, got, op)
		snap, err := b.Snapshot()
		require.NoError(t, err)
		assert.Equal(t, 1, countSnapshotEntries(t, snap), op)
		require.Equal(t, 1, b.Timers().Len(ProcessingTime), op)
		tm, _ := b.Timers().Next(ProcessingTime)
		assert.Equal(t, int64(i), tm.Timestamp, op)
	}
}

func TestStoreTimersPersistOnFlush(t *testing.T) {
	s := openTestStore(t, StoreOptions{})
	b := s.backend("op", KeyGroupRange{}, nil)
	reg := func(d Domain, ts int64, k, ns string) Timer {
		tm := Timer{Timestamp: ts, KeyGroup: KeyGroup([]byte(k), DefaultMaxParallelism), Key: []byte(k), Namespace: []byte(ns)}
		b.Timers().Register(d, tm)
		return tm
	}
	reg(EventTime, 30, "a", "w")
	t20 := reg(EventTime, 20, "b", "")
	reg(EventTime, -5, "c", "w2") // negative times round-trip
	reg(ProcessingTime, 7, "a", "")
	require.NoError(t, b.Flush())
	b.Timers().Delete(EventTime, t20)
	fired, ok := b.Timers().PopDue(EventTime, 0)
	require.True(t, ok)
	assert.Equal(t, int64(-5), fired.Timestamp)
	reg(EventTime, 40, "d", "")
	require.NoError(t, b.Flush())
	reg(EventTime, 50, "e", "") // not flushed: lost

	s.reopen()
	b = s.backend("op", KeyGroupRange{}, nil)
	var got []Timer
	for {
		tm, ok := b.Timers().PopDue(EventTime, 1000)
		if !ok {
			break
		}
		got = append(got, tm)
	}
	require.Len(t, got, 2)
	assert.Equal(t, Timer{Timestamp: 30, KeyGroup: KeyGroup([]byte("a"), DefaultMaxParallelism), Key: []byte("a"), Namespace: []byte("w")}, got[0])
	assert.Equal(t, int64(40), got[1].Timestamp)
	assert.Equal(t, 1, b.Timers().Len(ProcessingTime))
}

func TestStoreEvictionKeepsCorrectness(t *testing.T) {
	s := openTestStore(t, StoreOptions{CacheEntries: 100})
	b := s.backend("op", KeyGroupRange{}, nil)
	v, _ := NewValue(b, Desc[int]{Name: "v"})
	l, _ := NewList(b, Desc[int]{Name: "l"})
	const n = 2000
	for i := 0; i < n; i++ {
		key(b, strconv.Itoa(i))
		require.NoError(t, v.Update(i))
		require.NoError(t, l.Add(i))
	}
	require.NoError(t, b.Flush())
	assert.LessOrEqual(t, b.CachedEntries(), 100)
	for round := 1; round <= 3; round++ {
		for i := 0; i < n; i++ {
			key(b, strconv.Itoa(i))
			got, ok, err := v.Value()
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, i+round-1, got)
			require.NoError(t, v.Update(got+1))
			require.NoError(t, l.Add(i))
			if i%3 == 0 {
				require.NoError(t, v.Clear())
				require.NoError(t, v.Update(got+1))
			}
		}
		require.NoError(t, b.Flush())
		assert.LessOrEqual(t, b.CachedEntries(), 100)
	}
	for i := 0; i < n; i++ {
		key(b, strconv.Itoa(i))
		lv, err := l.Get()
		require.NoError(t, err)
		require.Equal(t, []int{i, i, i, i}, lv)
	}
}

func TestStoreSnapshotRestoreMatchesHeap(t *testing.T) {
	s := openTestStore(t, StoreOptions{CacheEntries: 10})
	b := s.backend("op", KeyGroupRange{}, nil)
	h := NewHeap(HeapOptions{})
	for _, be := range []Backend{b, h} {
		v, _ := NewValue(be, Desc[string]{Name: "v"})
		m, _ := NewMap(be, MapDesc[string, int]{Name: "m"})
		for i := 0; i < 50; i++ {
			key(be, strconv.Itoa(i))
			require.NoError(t, v.Update(fmt.Sprint("v", i)))
			require.NoError(t, m.Put("x", i))
			be.Timers().Register(EventTime, Timer{Timestamp: int64(i), KeyGroup: be.CurrentKeyGroup(), Key: be.CurrentKey()})
		}
		if be == b {
			require.NoError(t, b.Flush()) // some in the store only, some in the cache
		}
		for i := 0; i < 50; i += 5 {
			key(be, strconv.Itoa(i))
			require.NoError(t, v.Clear())
			require.NoError(t, m.Put("y", i))
		}
	}
	hs, err := h.Snapshot()
	require.NoError(t, err)
	bs, err := b.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, hs, bs, "same entries, same bytes")

	// A Heap snapshot restored into a fresh operator of the store, flushed, reopened.
	r := s.backend("restored", RangeForSubtask(DefaultMaxParallelism, 2, 1), nil)
	require.NoError(t, r.Restore(hs))
	require.NoError(t, r.Flush()) // the states are not registered yet: written raw
	s.reopen()
	r = s.backend("restored", RangeForSubtask(DefaultMaxParallelism, 2, 1), nil)
	h2 := NewHeap(HeapOptions{KeyGroups: RangeForSubtask(DefaultMaxParallelism, 2, 1)})
	require.NoError(t, h2.Restore(hs))
	for _, be := range []Backend{r, h2} {
		_, _ = NewValue(be, Desc[string]{Name: "v"})
		_, _ = NewMap(be, MapDesc[string, int]{Name: "m"})
	}
	rs, err := r.Snapshot()
	require.NoError(t, err)
	h2s, err := h2.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, h2s, rs)
}

func TestStoreCloseAndOptions(t *testing.T) {
	// The smallest budget Validate accepts opens and works.
	var logs bytes.Buffer
	s := openTestStore(t, StoreOptions{MemTableSize: 1 << 20, NumMemtables: 2, BlockCacheSize: 1 << 20,
		IndexCacheSize: 1 << 20, ValueLogFileSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	b := s.backend("op", KeyGroupRange{}, nil)
	v, _ := NewValue(b, Desc[int]{Name: "v"})
	key(b, "k")
	require.NoError(t, v.Update(1))
	require.NoError(t, b.Flush())
	require.NoError(t, s.RunValueLogGC(context.Background(), 0.5))
	require.NoError(t, s.Close())
	assert.Contains(t, logs.String(), "component=badger", "Badger logs through the given logger")
	require.NoError(t, s.Close(), "Close is idempotent")
	assert.ErrorIs(t, b.Flush(), ErrStoreClosed)
	key(b, "other")
	_, _, err := v.Value()
	assert.ErrorIs(t, err, ErrStoreClosed)
	_, err = s.Backend("op", KeyGroupRange{}, nil)
	assert.ErrorIs(t, err, ErrStoreClosed)

	bad := StoreOptions{MemTableSize: 1, NumMemtables: 1, NumCompactors: 1}
	bad.EnsureDefaults()
	err = bad.Validate()
	require.Error(t, err)
	for _, f := range []string{"MemTableSize", "NumMemtables", "NumCompactors"} {
		assert.Contains(t, err.Error(), f)
	}
}

// TestStoreMatchesHeapRandomly runs the same random operations on a Heap and on a
// StoreBackend that flushes, evicts (a tiny cache) and restarts, and compares every read.
func TestStoreMatchesHeapRandomly(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	mock := clock.NewMock()
	mock.Set(time.UnixMilli(1_000_000))
	s := openTestStore(t, StoreOptions{CacheEntries: 8})
	type sides struct {
		v  ValueState[int]
		l  ListState[int]
		m  MapState[int, int]
		r  ReducingState[int]
		ns []Namespaced
	}
	ttl := TTL{After: 50 * time.Millisecond, RefreshOnRead: true}
	mk := func(b Backend) sides {
		var x sides
		x.v, _ = NewValue(b, Desc[int]{Name: "v", TTL: TTL{After: 80 * time.Millisecond}})
		x.l, _ = NewList(b, Desc[int]{Name: "l"})
		x.m, _ = NewMap(b, MapDesc[int, int]{Name: "m", TTL: ttl})
		x.r, _ = NewReducing(b, Desc[int]{Name: "r"}, func(a, b int) int { return a + b })
		x.ns = []Namespaced{x.v.(Namespaced), x.l.(Namespaced), x.m.(Namespaced), x.r.(Namespaced)}
		return x
	}
	h := NewHeap(HeapOptions{Clock: mock})
	b := s.backend("op", KeyGroupRange{}, mock)
	hs, bs := mk(h), mk(b)
	for step := 0; step < 5000; step++ {
		k := strconv.Itoa(rng.IntN(20))
		ns := []byte(strconv.Itoa(rng.IntN(3)))
		key(h, k)
		key(b, k)
		for i := range hs.ns {
			hs.ns[i].SetNamespace(ns)
			bs.ns[i].SetNamespace(ns)
		}
		x := rng.IntN(100)
		op := rng.IntN(14)
		msg := fmt.Sprintf("seed %d step %d key %s ns %s", seed, step, k, ns)
		switch op {
		case 0:
			require.NoError(t, hs.v.Update(x))
			require.NoError(t, bs.v.Update(x))
		case 1:
			require.NoError(t, hs.v.Clear())
			require.NoError(t, bs.v.Clear())
		case 2:
			require.NoError(t, hs.l.Add(x))
			require.NoError(t, bs.l.Add(x))
		case 3:
			require.NoError(t, hs.l.Update([]int{x, x}))
			require.NoError(t, bs.l.Update([]int{x, x}))
		case 4:
			require.NoError(t, hs.m.Put(x%5, x))
			require.NoError(t, bs.m.Put(x%5, x))
		case 5:
			require.NoError(t, hs.m.Remove(x%5))
			require.NoError(t, bs.m.Remove(x%5))
		case 6:
			require.NoError(t, hs.r.Add(x))
			require.NoError(t, bs.r.Add(x))
		case 7:
			srcs := [][]byte{[]byte("1"), []byte("2")}
			require.NoError(t, hs.l.(Mergeable).MergeNamespaces([]byte("0"), srcs))
			require.NoError(t, bs.l.(Mergeable).MergeNamespaces([]byte("0"), srcs))
			require.NoError(t, hs.r.(Mergeable).MergeNamespaces([]byte("0"), srcs))
			require.NoError(t, bs.r.(Mergeable).MergeNamespaces([]byte("0"), srcs))
		case 8:
			mock.Add(time.Duration(x) * time.Millisecond)
		case 9:
			require.NoError(t, b.Flush())
		case 10:
			if rng.IntN(10) == 0 { // restart: whatever was not flushed is lost, so flush first
				require.NoError(t, b.Flush())
				s.reopen()
				b = s.backend("op", KeyGroupRange{}, mock)
				bs = mk(b)
			}
		default:
			hv, hok, herr := hs.v.Value()
			bv, bok, berr := bs.v.Value()
			require.NoError(t, herr)
			require.NoError(t, berr)
			require.Equal(t, [2]any{hv, hok}, [2]any{bv, bok}, msg)
			hl, _ := hs.l.Get()
			bl, err := bs.l.Get()
			require.NoError(t, err)
			require.Equal(t, hl, bl, msg)
			got := map[int]int{}
			want := map[int]int{}
			require.NoError(t, hs.m.Range(func(k, v int) bool { want[k] = v; return true }))
			require.NoError(t, bs.m.Range(func(k, v int) bool { got[k] = v; return true }))
			require.Equal(t, want, got, msg)
			hr, hok, _ := hs.r.Get()
			br, bok, err := bs.r.Get()
			require.NoError(t, err)
			require.Equal(t, [2]any{hr, hok}, [2]any{br, bok}, msg)
		}
	}
	require.NoError(t, b.Flush())
	hsnap, err := h.Snapshot()
	require.NoError(t, err)
	bsnap, err := b.Snapshot()
	require.NoError(t, err)
	require.Equal(t, hsnap, bsnap)
}

// TestStoreMemoryBounded writes 1,000,000 keys of a value state in flushed batches:
// the Go heap stays bounded by the memtables and the cache budget, not the key count.
func TestStoreMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,000,000 keys")
	}
	s := openTestStore(t, StoreOptions{})
	b := s.backend("op", KeyGroupRange{}, nil)
	v, err := NewValue(b, Desc[int64]{Name: "count"})
	require.NoError(t, err)
	const n, batch = 1_000_000, 50_000
	var peak uint64
	var ms runtime.MemStats
	start := time.Now()
	kb := make([]byte, 0, 16)
	for i := 0; i < n; i++ {
		kb = strconv.AppendInt(kb[:0], int64(i), 10)
		b.SetCurrentKey(kb, KeyGroup(kb, DefaultMaxParallelism))
		require.NoError(t, v.Update(int64(i)))
		if (i+1)%batch == 0 {
			require.NoError(t, b.Flush())
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	elapsed := time.Since(start)
	t.Logf("1,000,000 keys written in %v (%.0f keys/s); peak heap in use after a flush %.1f MiB; cache %d entries; %s",
		elapsed, n/elapsed.Seconds(), float64(peak)/(1<<20), b.CachedEntries(), peakRSS())
	assert.Less(t, peak, uint64(256<<20), "heap in use")
	// Spot-check cold reads.
	for _, i := range []int{0, 1, 499_999, 999_999} {
		kb = strconv.AppendInt(kb[:0], int64(i), 10)
		b.SetCurrentKey(kb, KeyGroup(kb, DefaultMaxParallelism))
		got, ok, err := v.Value()
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int64(i), got)
	}
}

func BenchmarkStore(b *testing.B) {
	const keys = 100_000
	fill := func(tb testing.TB, s *testStore) {
		be := s.backend("op", KeyGroupRange{}, nil)
		v, _ := NewValue(be, Desc[int64]{Name: "count"})
		kb := make([]byte, 0, 16)
		for i := 0; i < keys; i++ {
			kb = strconv.AppendInt(kb[:0], int64(i), 10)
			be.SetCurrentKey(kb, KeyGroup(kb, DefaultMaxParallelism))
			require.NoError(tb, v.Update(int64(i)))
		}
		require.NoError(tb, be.Flush())
	}
	b.Run("update+flush", func(b *testing.B) {
		s := openTestStore(b, StoreOptions{})
		be := s.backend("op", KeyGroupRange{}, nil)
		v, _ := NewValue(be, Desc[int64]{Name: "count"})
		kb := make([]byte, 0, 16)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			kb = strconv.AppendInt(kb[:0], int64(i%keys), 10)
			be.SetCurrentKey(kb, KeyGroup(kb, DefaultMaxParallelism))
			if err := v.Update(int64(i)); err != nil {
				b.Fatal(err)
			}
			if i%10_000 == 9_999 {
				if err := be.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := be.Flush(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	})
	b.Run("cold-read", func(b *testing.B) {
		s := openTestStore(b, StoreOptions{CacheEntries: 1000})
		fill(b, s)
		s.reopen()
		be := s.backend("op", KeyGroupRange{}, nil)
		v, _ := NewValue(be, Desc[int64]{Name: "count"})
		kb := make([]byte, 0, 16)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			kb = strconv.AppendInt(kb[:0], int64(i%keys), 10)
			be.SetCurrentKey(kb, KeyGroup(kb, DefaultMaxParallelism))
			if _, ok, err := v.Value(); err != nil || !ok {
				b.Fatal(ok, err)
			}
			if i%keys == keys-1 { // every key cached once: evict to stay cold
				if err := be.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	})
}

// TestStoreBackendsFlushConcurrently runs the subtasks of two operators on their own
// goroutines over one store, as the executor does (run it with -race).
func TestStoreBackendsFlushConcurrently(t *testing.T) {
	s := openTestStore(t, StoreOptions{CacheEntries: 50})
	const p = 4
	errs := make(chan error, 2*p)
	for _, op := range []string{"x", "y"} {
		for i := 0; i < p; i++ {
			b := s.backend(op, RangeForSubtask(DefaultMaxParallelism, p, i), nil)
			go func() {
				errs <- func() error {
					v, err := NewReducing(b, Desc[int]{Name: "sum"}, func(a, b int) int { return a + b })
					if err != nil {
						return err
					}
					for epoch := 0; epoch < 5; epoch++ {
						for k := 0; k < 400; k++ {
							kb := []byte(strconv.Itoa(k))
							if kg := KeyGroup(kb, DefaultMaxParallelism); b.KeyGroups().Contains(kg) {
								b.SetCurrentKey(kb, kg)
								if err := v.Add(1); err != nil {
									return err
								}
							}
						}
						if err := b.Flush(); err != nil {
							return err
						}
					}
					return nil
				}()
			}()
		}
	}
	for i := 0; i < 2*p; i++ {
		require.NoError(t, <-errs)
	}
	for _, op := range []string{"x", "y"} {
		b := s.backend(op, KeyGroupRange{}, nil)
		v, _ := NewReducing(b, Desc[int]{Name: "sum"}, func(a, b int) int { return a + b })
		for k := 0; k < 400; k++ {
			key(b, strconv.Itoa(k))
			got, ok, err := v.Get()
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, 5, got, "%s/%d", op, k)
		}
	}
}

// peakRSS is the process's peak resident set (VmHWM) where /proc tells it.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "peak RSS unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return "peak RSS of the test process " + strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	return "peak RSS unknown"
}

// TestStoreReplaysLargerMemtables: memtable logs that a crash left behind, written with
// a larger MemTableSize than this run's (the default was 16 MiB), are replayed (Badger
// would exit the process on a memtable too small for them).
func TestStoreReplaysLargerMemtables(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(filepath.Join(dir, "before"), StoreOptions{MemTableSize: 16 << 20})
	require.NoError(t, err)
	defer s.Close()
	wb := s.db.NewWriteBatch()
	for i := 0; i < 140; i++ { // 14 MB: more than an 8 MiB memtable holds, not flushed yet
		require.NoError(t, wb.Set([]byte(fmt.Sprintf("k%03d", i)), bytes.Repeat([]byte{byte(i)}, 100<<10)))
	}
	require.NoError(t, wb.Flush())
	require.NoError(t, s.Sync())
	// The crash: a copy of the directory as it is on disk, memtable logs included.
	crashed := filepath.Join(dir, "crashed")
	require.NoError(t, os.MkdirAll(crashed, 0o755))
	des, err := os.ReadDir(filepath.Join(dir, "before"))
	require.NoError(t, err)
	mems := 0
	for _, de := range des {
		if de.Name() == "LOCK" {
			continue
		}
		if strings.HasSuffix(de.Name(), ".mem") {
			mems++
		}
		b, err := os.ReadFile(filepath.Join(dir, "before", de.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(crashed, de.Name()), b, 0o644))
	}
	require.NotZero(t, mems, "the data is in a memtable log")

	s2, err := OpenStore(crashed, StoreOptions{MemTableSize: 8 << 20})
	require.NoError(t, err)
	defer s2.Close()
	require.NoError(t, s2.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("k139"))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		assert.Equal(t, bytes.Repeat([]byte{139}, 100<<10), v)
		return err
	}))
}
