package state

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func key(b Backend, k string) { b.SetCurrentKey([]byte(k), KeyGroup([]byte(k), DefaultMaxParallelism)) }

func TestStatesAreScopedByKeyAndNamespace(t *testing.T) {
	h := NewHeap(HeapOptions{})
	v, err := NewValue(h, Desc[int64]{Name: "count"})
	require.NoError(t, err)
	_, _, err = v.Value()
	require.ErrorIs(t, err, ErrNoKey)
	key(h, "a")
	require.NoError(t, v.Update(3))
	key(h, "b")
	_, ok, _ := v.Value()
	assert.False(t, ok)
	require.NoError(t, v.Update(5))
	key(h, "a")
	got, ok, _ := v.Value()
	assert.True(t, ok)
	assert.Equal(t, int64(3), got)
	v.(Namespaced).SetNamespace([]byte("w1"))
	_, ok, _ = v.Value()
	assert.False(t, ok, "another namespace")

	l, err := NewList(h, Desc[string]{Name: "list"})
	require.NoError(t, err)
	require.NoError(t, l.Add("x"))
	require.NoError(t, l.Add("y"))
	got2, _ := l.Get()
	assert.Equal(t, []string{"x", "y"}, got2)

	r, err := NewReducing(h, Desc[int]{Name: "sum"}, func(a, b int) int { return a + b })
	require.NoError(t, err)
	for _, ns := range []string{"s1", "s2", "s3"} {
		r.(Namespaced).SetNamespace([]byte(ns))
		require.NoError(t, r.Add(len(ns)*10))
		require.NoError(t, r.Add(1))
	}
	require.NoError(t, r.(Mergeable).MergeNamespaces([]byte("s1"), [][]byte{[]byte("s2"), []byte("s3")}))
	r.(Namespaced).SetNamespace([]byte("s1"))
	sum, _, _ := r.Get()
	assert.Equal(t, 63, sum)
	r.(Namespaced).SetNamespace([]byte("s2"))
	_, ok, _ = r.Get()
	assert.False(t, ok, "merged sources are cleared")

	m, err := NewMap(h, MapDesc[string, int]{Name: "m"})
	require.NoError(t, err)
	require.NoError(t, m.Put("k", 1))
	require.NoError(t, m.Put("j", 2))
	require.NoError(t, m.Remove("k"))
	n := 0
	require.NoError(t, m.Range(func(string, int) bool { n++; return true }))
	assert.Equal(t, 1, n)

	_, err = NewList(h, Desc[int64]{Name: "count"})
	require.Error(t, err, "a name is one state")
}

type avg struct{}

func (avg) CreateAccumulator() [2]int64      { return [2]int64{} }
func (avg) Add(v int64, a [2]int64) [2]int64 { return [2]int64{a[0] + v, a[1] + 1} }
func (avg) Result(a [2]int64) float64        { return float64(a[0]) / float64(a[1]) }
func (avg) Merge(a, b [2]int64) [2]int64     { return [2]int64{a[0] + b[0], a[1] + b[1]} }

func TestAggregatingAndTTL(t *testing.T) {
	mock := clock.NewMock()
	mock.Set(time.UnixMilli(1000))
	h := NewHeap(HeapOptions{Clock: mock})
	a, err := NewAggregating[int64, [2]int64, float64](h, Desc[[2]int64]{Name: "avg"}, avg{})
	require.NoError(t, err)
	key(h, "k")
	require.NoError(t, a.Add(2))
	require.NoError(t, a.Add(4))
	got, _, _ := a.Get()
	assert.Equal(t, 3.0, got)

	v, err := NewValue(h, Desc[string]{Name: "ttl", TTL: TTL{After: time.Second}})
	require.NoError(t, err)
	rv, err := NewValue(h, Desc[string]{Name: "ttl-read", TTL: TTL{After: time.Second, RefreshOnRead: true}})
	require.NoError(t, err)
	require.NoError(t, v.Update("x"))
	require.NoError(t, rv.Update("y"))
	mock.Add(900 * time.Millisecond)
	_, ok, _ := v.Value()
	assert.True(t, ok)
	_, ok, _ = rv.Value() // refreshes
	assert.True(t, ok)
	mock.Add(200 * time.Millisecond)
	_, ok, _ = v.Value()
	assert.False(t, ok, "expired 1 s after the write")
	_, ok, _ = rv.Value()
	assert.True(t, ok, "the read refreshed it")
	mock.Add(1100 * time.Millisecond)
	_, ok, _ = rv.Value()
	assert.False(t, ok)
}

func TestSnapshotRestoreByKeyGroups(t *testing.T) {
	h := NewHeap(HeapOptions{})
	v, _ := NewValue(h, Desc[int64]{Name: "count"})
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for i, k := range keys {
		key(h, k)
		require.NoError(t, v.Update(int64(i)))
		h.Timers().Register(EventTime, Timer{Timestamp: int64(100 + i), KeyGroup: h.CurrentKeyGroup(), Key: []byte(k)})
	}
	snap, err := h.Snapshot()
	require.NoError(t, err)
	// Rescale to 3 subtasks: each restores its key groups; together they hold everything.
	total, timers := 0, 0
	for i := 0; i < 3; i++ {
		r := NewHeap(HeapOptions{KeyGroups: RangeForSubtask(DefaultMaxParallelism, 3, i)})
		require.NoError(t, r.Restore(snap))
		rv, _ := NewValue(r, Desc[int64]{Name: "count"}) // registered after restore
		for j, k := range keys {
			key(r, k)
			got, ok, err := rv.Value()
			require.NoError(t, err)
			if r.KeyGroups().Contains(KeyGroup([]byte(k), DefaultMaxParallelism)) {
				require.True(t, ok)
				assert.Equal(t, int64(j), got)
				total++
			} else {
				assert.False(t, ok)
			}
		}
		timers += r.Timers().Len(EventTime)
	}
	assert.Equal(t, len(keys), total)
	assert.Equal(t, len(keys), timers)
}

func TestKeyGroupRanges(t *testing.T) {
	for _, p := range []int{1, 2, 3, 7, 128} {
		covered := 0
		for i := 0; i < p; i++ {
			r := RangeForSubtask(128, p, i)
			for kg := r.Start; kg < r.End; kg++ {
				assert.Equal(t, i, SubtaskForKeyGroup(128, p, kg), "p=%d kg=%d", p, kg)
				covered++
			}
		}
		assert.Equal(t, 128, covered)
	}
}

func TestTimersOrderAndDedupe(t *testing.T) {
	ts := NewTimers()
	for _, x := range []int64{30, 10, 20, 10} {
		ts.Register(EventTime, Timer{Timestamp: x, Key: []byte("k")})
	}
	ts.Delete(EventTime, Timer{Timestamp: 20, Key: []byte("k")})
	var got []int64
	for {
		t, ok := ts.PopDue(EventTime, 25)
		if !ok {
			break
		}
		got = append(got, t.Timestamp)
	}
	assert.Equal(t, []int64{10}, got)
	next, ok := ts.Next(EventTime)
	assert.True(t, ok)
	assert.Equal(t, int64(30), next.Timestamp)
}

type kstruct struct {
	A string
	B int32
}

func TestKeyCodecs(t *testing.T) {
	c, err := KeyCodecFor[kstruct]()
	require.NoError(t, err)
	b := c.Append(nil, kstruct{"x", -3})
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, kstruct{"x", -3}, got)
	_, err = KeyCodecFor[map[string]int]()
	require.Error(t, err)
	_, err = KeyCodecFor[*int]()
	require.Error(t, err)
}
