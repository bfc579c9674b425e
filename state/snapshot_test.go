package state

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// putAll writes key i -> value of i for i in [from, to) through a backend and flushes.
func putAll(t *testing.T, b *StoreBackend, from, to int, value func(int) string) {
	t.Helper()
	v, err := NewValue(b, Desc[string]{Name: "v"})
	require.NoError(t, err)
	for i := from; i < to; i++ {
		key := []byte(fmt.Sprintf("key-%06d", i))
		b.SetCurrentKey(key, KeyGroup(key, DefaultMaxParallelism))
		require.NoError(t, v.Update(value(i)))
	}
	require.NoError(t, b.Flush())
}

// readAllKeys reads keys [0, n) of state "v" from a new backend of s.
func readAllKeys(t *testing.T, s *Store, n int) map[string]string {
	t.Helper()
	b, err := s.Backend("op", KeyGroupRange{}, nil)
	require.NoError(t, err)
	v, err := NewValue(b, Desc[string]{Name: "v"})
	require.NoError(t, err)
	out := map[string]string{}
	for i := 0; i < n; i++ {
		key := []byte(fmt.Sprintf("key-%06d", i))
		b.SetCurrentKey(key, KeyGroup(key, DefaultMaxParallelism))
		s, ok, err := v.Value()
		require.NoError(t, err)
		if ok {
			out[string(key)] = s
		}
	}
	return out
}

// TestStoreSnapshotIsTheStoreWhenTaken: a snapshot holds the store as it was when
// Snapshot returned, whatever is written while it streams out, and loads into an empty
// store; a Badger backup loads too; a truncated snapshot does not.
func TestStoreSnapshotIsTheStoreWhenTaken(t *testing.T) {
	defer func(n int) { snapshotIterKeys = n }(snapshotIterKeys)
	snapshotIterKeys = 100 // many iterators over the walk

	const n = 2000
	src := openTestStore(t, StoreOptions{})
	b := src.backend("op", KeyGroupRange{}, nil)
	big := strings.Repeat("x", 100<<10) // beyond an arena chunk
	value := func(i int) string {
		if i%500 == 0 {
			return big + fmt.Sprint(i)
		}
		return fmt.Sprintf("first %d", i)
	}
	putAll(t, b, 0, n/2, value)
	require.NoError(t, src.Apply(Applied{Epoch: 7, Changelog: 70}))
	want := readAllKeys(t, src.Store, n)

	view, err := src.Snapshot()
	require.NoError(t, err)
	// Writes after the view: overwrites and new keys.
	putAll(t, b, 0, n, func(i int) string { return fmt.Sprintf("second %d", i) })
	require.NoError(t, src.Apply(Applied{Epoch: 8, Changelog: 80}))
	var buf bytes.Buffer
	_, err = view.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(n/2+1), view.Keys(), "the state's keys and the applied record")
	view.Close()
	view.Close() // idempotent

	dst := openTestStore(t, StoreOptions{})
	require.NoError(t, dst.Load(bytes.NewReader(buf.Bytes())))
	a, err := dst.Applied()
	require.NoError(t, err)
	assert.Equal(t, Applied{Epoch: 7, Changelog: 70}, a)
	assert.Equal(t, want, readAllKeys(t, dst.Store, n))
	// The loaded store takes writes, and keeps everything across a reopen.
	putAll(t, dst.backend("op", KeyGroupRange{}, nil), n-10, n, func(i int) string { return fmt.Sprintf("third %d", i) })
	dst.reopen()
	got := readAllKeys(t, dst.Store, n)
	for i := n - 10; i < n; i++ {
		want[fmt.Sprintf("key-%06d", i)] = fmt.Sprintf("third %d", i)
	}
	assert.Equal(t, want, got)

	// A Badger backup (what older versions wrote) loads as well.
	var backup bytes.Buffer
	require.NoError(t, src.Backup(&backup))
	old := openTestStore(t, StoreOptions{})
	require.NoError(t, old.Load(&backup))
	assert.Equal(t, readAllKeys(t, src.Store, n), readAllKeys(t, old.Store, n))

	// A truncated snapshot is an error.
	for _, cut := range []int{len(snapshotMagic) + 10, buf.Len() - 3} {
		bad := openTestStore(t, StoreOptions{})
		assert.Error(t, bad.Load(bytes.NewReader(buf.Bytes()[:cut])), "cut at %d of %d", cut, buf.Len())
	}
	// A closed store refuses snapshots.
	require.NoError(t, src.Close())
	_, err = src.Snapshot()
	assert.ErrorIs(t, err, ErrStoreClosed)
}
