package streamtest

import (
	"sort"
	"sync"

	"github.com/riffle-streams/riffle/stream"
)

// Collected gathers a stream's records while a job runs in-process (any parallelism).
type Collected[T any] struct {
	mu   sync.Mutex
	recs []stream.Record[T]
}

// Collect adds a sink to s that gathers its records.
func Collect[T any](s stream.Stream[T]) *Collected[T] {
	c := &Collected[T]{}
	s.To("collect", stream.SinkFunc[T](func(r stream.Record[T]) error {
		c.mu.Lock()
		c.recs = append(c.recs, r)
		c.mu.Unlock()
		return nil
	}))
	return c
}

// Records returns the records gathered so far, in arrival order.
func (c *Collected[T]) Records() []stream.Record[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]stream.Record[T](nil), c.recs...)
}

// Values returns the values gathered so far, in arrival order.
func (c *Collected[T]) Values() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]T, len(c.recs))
	for i, r := range c.recs {
		out[i] = r.Value
	}
	return out
}

// Sorted returns the values sorted by less (for comparing outputs whose order is free).
func (c *Collected[T]) Sorted(less func(a, b T) bool) []T {
	v := c.Values()
	sort.SliceStable(v, func(i, j int) bool { return less(v[i], v[j]) })
	return v
}
