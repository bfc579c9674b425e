package state

import (
	"errors"
	"time"

	"github.com/cespare/xxhash/v2"
)

// DefaultMaxParallelism is the number of key groups of a job unless it sets its own.
const DefaultMaxParallelism = 128

// KeyGroup returns the key group of an encoded key. The hash (xxHash64 of the encoded
// key, modulo maxParallelism) is part of the state format: never change it.
func KeyGroup(key []byte, maxParallelism int) int {
	return int(xxhash.Sum64(key) % uint64(maxParallelism))
}

// KeyGroupRange is the key groups [Start, End) of one subtask.
type KeyGroupRange struct{ Start, End int }

// Contains reports whether kg is in the range.
func (r KeyGroupRange) Contains(kg int) bool { return kg >= r.Start && kg < r.End }

// RangeForSubtask is Flink's assignment of contiguous key groups to subtask i of p.
func RangeForSubtask(maxParallelism, parallelism, i int) KeyGroupRange {
	start := (i*maxParallelism + parallelism - 1) / parallelism
	end := ((i+1)*maxParallelism + parallelism - 1) / parallelism
	return KeyGroupRange{start, end}
}

// SubtaskForKeyGroup is the subtask of p that owns key group kg.
func SubtaskForKeyGroup(maxParallelism, parallelism, kg int) int {
	return kg * parallelism / maxParallelism
}

// Backend is the keyed state of one operator subtask. The runtime sets the current key
// before it hands an operator a record or a timer; every state handle of the backend then
// reads and writes that key's state. Handles also have a current namespace (a window, for
// window operators; empty otherwise).
//
// A Backend is used by one goroutine.
type Backend interface {
	// SetCurrentKey scopes the state handles to an encoded key of key group kg.
	SetCurrentKey(key []byte, kg int)
	CurrentKey() []byte
	CurrentKeyGroup() int
	// KeyGroups is the range of key groups this backend holds.
	KeyGroups() KeyGroupRange
	// Snapshot encodes every entry of every state (and the timers) of the backend.
	Snapshot() ([]byte, error)
	// Restore loads a snapshot, keeping only the entries of this backend's key groups, so
	// that snapshots of other parallelisms can be merged in (rescaling). Call it before
	// any state is used; several snapshots may be restored.
	Restore(snapshot []byte) error
	// Timers returns the backend's timers.
	Timers() *Timers
	// Now is the backend's processing time (for TTL).
	Now() time.Time
}

// TTL configures expiry of state entries by processing time. Expired entries are never
// returned; they are dropped when read and by Backend cleanup.
type TTL struct {
	// After is how long an entry lives; 0 disables TTL.
	After time.Duration
	// RefreshOnRead extends an entry's life on reads too, not only on writes.
	RefreshOnRead bool
}

// ValueState holds one value per key and namespace.
type ValueState[T any] interface {
	// Value returns the value and whether there is one.
	Value() (T, bool, error)
	Update(v T) error
	Clear() error
}

// ListState holds a list per key and namespace.
type ListState[T any] interface {
	Get() ([]T, error)
	Add(v T) error
	Update(vs []T) error
	Clear() error
}

// MapState holds a map per key and namespace.
type MapState[K comparable, V any] interface {
	Get(k K) (V, bool, error)
	Put(k K, v V) error
	Remove(k K) error
	// Range calls fn for every entry, in no particular order, until fn returns false.
	Range(fn func(K, V) bool) error
	IsEmpty() (bool, error)
	Clear() error
}

// ReducingState folds added values with a reduce function.
type ReducingState[T any] interface {
	Get() (T, bool, error)
	Add(v T) error
	Clear() error
}

// AggregatingState folds added values into an accumulator; Get returns the result.
type AggregatingState[IN, OUT any] interface {
	Get() (OUT, bool, error)
	Add(v IN) error
	Clear() error
}

// Aggregate is an aggregate function (Flink's AggregateFunction).
type Aggregate[IN, ACC, OUT any] interface {
	CreateAccumulator() ACC
	Add(v IN, acc ACC) ACC
	Result(acc ACC) OUT
	Merge(a, b ACC) ACC
}

// Namespaced is implemented by every state handle: it selects the namespace (a window,
// for window operators) that later calls use. The namespace is the handle's own, not the
// backend's, and stays set until changed.
type Namespaced interface {
	SetNamespace(ns []byte)
}

// Mergeable is implemented by list, reducing and aggregating states: it merges the
// contents of the source namespaces into target and clears the sources (session windows).
type Mergeable interface {
	MergeNamespaces(target []byte, sources [][]byte) error
}

// ErrNoKey is returned by state access before SetCurrentKey.
var ErrNoKey = errors.New("state: no current key (keyed state is only available on a keyed stream)")
