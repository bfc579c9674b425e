package state

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A fresh backend (nothing of its key groups in Badger) answers misses without Badger,
// until it evicts; a backend over key groups with state in Badger is not fresh.
func TestFreshBackendMisses(t *testing.T) {
	s := openTestStore(t, StoreOptions{CacheEntries: 2})
	b := s.backend("op", KeyGroupRange{}, nil)
	require.True(t, b.fresh)
	v, err := NewValue(b, Desc[int]{Name: "v"})
	require.NoError(t, err)
	for i, k := range []string{"a", "b", "c", "d"} {
		key(b, k)
		require.NoError(t, v.Update(i))
	}
	batch, err := b.Freeze(1)
	require.NoError(t, err)
	require.NoError(t, s.Apply(Applied{Epoch: 1}, batch))
	b.Release(1)
	assert.False(t, b.fresh, "evicting ends freshness")
	for i, k := range []string{"a", "b", "c", "d"} {
		key(b, k)
		got, ok, err := v.Value()
		require.NoError(t, err)
		require.True(t, ok, k)
		assert.Equal(t, i, got)
	}
	b2 := s.backend("op", KeyGroupRange{}, nil)
	assert.False(t, b2.fresh, "Badger holds state of its key groups")
	b3 := s.backend("other", KeyGroupRange{}, nil)
	assert.True(t, b3.fresh)
}
