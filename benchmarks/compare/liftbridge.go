package compare

import (
	"context"
	"fmt"
	"time"

	"github.com/liftbridge-io/liftbridge/server/commitlog"
)

// Liftbridge is github.com/liftbridge-io/liftbridge v1.9.0's server/commitlog: a
// Kafka-style commit log (segments of message sets plus an mmapped offset index), used
// directly as the library a Liftbridge partition writes to.
func Liftbridge() System {
	return System{
		Name: "liftbridge", Open: openLiftbridge, Scale: 1,
		Durability: map[Workload]string{
			BatchLarge: "Append(batch) returns after write(2) of the message set (page cache) and the index update (mmap); the commitlog never fsyncs on the append path (only its index on Close)",
			BatchSmall: "as (a)",
			ReadAll:    "NewReader(0, uncommitted=true) and ReadMessage per message (two preads and one allocation each); CRC checked",
		},
		Unsupported: map[Workload]string{
			SyncConcurrent: "n/a: server/commitlog has no fsync on the append path and exposes none (its segments are unexported); Liftbridge's durability is replication (AckPolicy ALL), which a single-node commitlog cannot show",
		},
	}
}

type lbStore struct {
	cl commitlog.CommitLog
}

func openLiftbridge(dir string, sync bool) (Store, error) {
	// Only Name and Path are set: segments of 1 GiB, HW checkpoint every 5 s and cleaner
	// every 5 min are the commitlog's defaults; the logger defaults to silent.
	cl, err := commitlog.New(commitlog.Options{Name: "bench", Path: dir})
	if err != nil {
		return nil, err
	}
	return &lbStore{cl: cl}, nil
}

func (s *lbStore) Close() error { return s.cl.Close() }

func (s *lbStore) AppendBatched(ctx context.Context, spec Spec) (Outcome, error) {
	n, batch := spec.Messages, spec.Batch
	msgs := make([]commitlog.Message, batch)
	ptrs := make([]*commitlog.Message, batch)
	lat := make([]time.Duration, 0, (n+batch-1)/batch)
	start := time.Now()
	for i := 0; i < n; i += batch {
		k := min(batch, n-i)
		ts := time.Now().UnixNano() // a Liftbridge partition stamps messages on receipt
		for j := range k {
			msgs[j] = commitlog.Message{Value: spec.Bodies.At(i + j), Timestamp: ts}
			ptrs[j] = &msgs[j]
		}
		t0 := time.Now()
		if _, err := s.cl.Append(ptrs[:k]); err != nil {
			return Outcome{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start)
	return Outcome{Messages: int64(n), Bytes: int64(n) * int64(spec.Bodies.Size()), Elapsed: el, Lat: lat, LatOf: "batch"}, nil
}

func (s *lbStore) AppendSync(ctx context.Context, spec Spec) (Outcome, error) {
	return Outcome{}, ErrUnsupported
}

func (s *lbStore) ReadAll(ctx context.Context, n int, bodies *Bodies) (Outcome, error) {
	start := time.Now()
	r, err := s.cl.NewReader(0, true)
	if err != nil {
		return Outcome{}, err
	}
	hdr := make([]byte, 28)
	var bytes int64
	for i := range n {
		m, off, _, _, err := r.ReadMessage(ctx, hdr)
		if err != nil {
			return Outcome{}, fmt.Errorf("liftbridge: message %d: %w", i, err)
		}
		if off != int64(i) {
			return Outcome{}, fmt.Errorf("liftbridge: got offset %d, want %d", off, i)
		}
		v := m.Value()
		if err := bodies.Check(i, v); err != nil {
			return Outcome{}, err
		}
		bytes += int64(len(v))
	}
	return Outcome{Messages: int64(n), Bytes: bytes, Elapsed: time.Since(start)}, nil
}
