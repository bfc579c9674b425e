package compare

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tidwall/wal"
)

// TidwallWAL is github.com/tidwall/wal: a raw segmented log of byte slices indexed
// 1, 2, 3... with no topics, no per-queue indexes and no checksums. It keeps the tail
// segment (20 MB by default) in memory, and reads load whole segments into an LRU of 2.
func TidwallWAL() System {
	return System{
		Name: "tidwall/wal", Open: openWAL, Scale: 1,
		Durability: map[Workload]string{
			BatchLarge:     "NoSync=true: WriteBatch returns after write(2) (page cache); fsync only when a 20 MB segment is cycled and on Close",
			BatchSmall:     "NoSync=true: as (a)",
			SyncConcurrent: "NoSync=false (the default): every Write is write(2)+fsync under the log's mutex, so producers are serialized, one fsync per message (no group commit)",
			ReadAll:        "Read(index) per message, NoCopy=true (returns a slice of the cached segment, like riffle's aliasing bodies); loads each 20 MB segment whole",
		},
	}
}

type walStore struct {
	l *wal.Log
}

func openWAL(dir string, sync bool) (Store, error) {
	l, err := wal.Open(dir, &wal.Options{
		// NoSync=true for the async workloads: the like-for-like of riffle's Async and
		// JetStream's default (no fsync per append). The sync workload keeps the default
		// NoSync=false.
		NoSync: !sync,
		// NoCopy=true is a documented option that only affects Read: the returned slice
		// aliases the segment cache instead of a fresh copy per message. riffle's Read
		// also returns bodies aliasing a buffer, so this is the like-for-like setting
		// (and never slower than the default).
		NoCopy: true,
		// Everything else at its default: SegmentSize 20 MB, SegmentCacheSize 2,
		// binary format.
	})
	if err != nil {
		return nil, err
	}
	return &walStore{l: l}, nil
}

func (s *walStore) Close() error { return s.l.Close() }

func (s *walStore) AppendBatched(ctx context.Context, spec Spec) (Outcome, error) {
	n, batch := spec.Messages, spec.Batch
	var b wal.Batch
	lat := make([]time.Duration, 0, (n+batch-1)/batch)
	start := time.Now()
	for i := 0; i < n; i += batch {
		k := min(batch, n-i)
		t0 := time.Now()
		for j := range k {
			b.Write(uint64(i+j+1), spec.Bodies.At(i+j)) // wal indexes start at 1
		}
		if err := s.l.WriteBatch(&b); err != nil {
			return Outcome{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start)
	return Outcome{Messages: int64(n), Bytes: int64(n) * int64(spec.Bodies.Size()), Elapsed: el, Lat: lat, LatOf: "batch"}, nil
}

func (s *walStore) AppendSync(ctx context.Context, spec Spec) (Outcome, error) {
	// wal needs the caller to supply the next index, so the index is taken and the write
	// made under one mutex; wal's own mutex would serialize the write and its fsync anyway.
	var mu sync.Mutex
	next := uint64(1)
	return concurrentSync(spec, func(i int) error {
		mu.Lock()
		defer mu.Unlock()
		err := s.l.Write(next, spec.Bodies.At(i))
		next++
		return err
	})
}

func (s *walStore) ReadAll(ctx context.Context, n int, bodies *Bodies) (Outcome, error) {
	start := time.Now()
	var bytes int64
	for i := range n {
		data, err := s.l.Read(uint64(i + 1))
		if err != nil {
			return Outcome{}, fmt.Errorf("wal: read index %d: %w", i+1, err)
		}
		if err := bodies.Check(i, data); err != nil {
			return Outcome{}, err
		}
		bytes += int64(len(data))
	}
	return Outcome{Messages: int64(n), Bytes: bytes, Elapsed: time.Since(start)}, nil
}
