package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	rlog "github.com/riffle-streams/riffle/log"
)

const riffleTopic = "bench"

// riffleDurability is shared by both riffle rows.
var riffleDurability = map[Workload]string{
	BatchLarge:     "Async: acked once written to the commitlog (page cache) and indexed; background fdatasync every 500 ms (FlushInterval default)",
	BatchSmall:     "Async: as (a)",
	SyncConcurrent: "Sync: acked after an fdatasync of the commitlog segment covering it; one fdatasync serves every append waiting at that moment (group commit). Consume-queue indexes are fsynced at checkpoints and rebuilt from the commitlog on recovery",
	ReadAll:        "Read(topic, queue 0, offset, Max 1000) in a loop; bodies alias one buffer per Read; every record's CRC is checked",
}

// Riffle is riffle's log with one synchronous AppendWith call per batch: the same shape
// as wal's WriteBatch and Liftbridge's Append.
func Riffle() System {
	return System{Name: "riffle", Open: openRiffle(false), Durability: riffleDurability, Scale: 1}
}

// RifflePipelined is riffle's log with AppendAsync: up to pipelineDepth batches in
// flight, as a pipelining producer (or JetStream's async publish) does.
func RifflePipelined() System {
	d := map[Workload]string{}
	for k, v := range riffleDurability {
		d[k] = v
	}
	d[BatchLarge] = fmt.Sprintf("Async, AppendAsync with up to %d batches in flight; otherwise as riffle", pipelineDepth)
	return System{
		Name: "riffle-pipelined", Open: openRiffle(true), Durability: d, Scale: 1,
		Unsupported: map[Workload]string{
			SyncConcurrent: "same code path as riffle (one Sync append per producer at a time)",
			ReadAll:        "same code path as riffle",
		},
	}
}

// pipelineDepth is the number of batches riffle-pipelined keeps in flight: 4 batches of
// 1,000 messages match nats.go's default async-publish window of 4,000 messages.
const pipelineDepth = 4

type riffleStore struct {
	l         *rlog.Log
	pipelined bool
}

func openRiffle(pipelined bool) func(dir string, sync bool) (Store, error) {
	return func(dir string, sync bool) (Store, error) {
		// Default options throughout; only the logger is silenced. The Sync store sets
		// Durability so that no 500 ms background flush runs beside the group commit.
		opts := rlog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if sync {
			opts.Durability = rlog.Sync
		}
		l, err := rlog.Open(dir, opts)
		if err != nil {
			return nil, err
		}
		if err := l.CreateTopic(context.Background(), riffleTopic, 1); err != nil {
			l.Close()
			return nil, err
		}
		return &riffleStore{l: l, pipelined: pipelined}, nil
	}
}

func (s *riffleStore) Close() error { return s.l.Close() }

func (s *riffleStore) AppendBatched(ctx context.Context, spec Spec) (Outcome, error) {
	if s.pipelined {
		return s.appendPipelined(spec)
	}
	n, batch := spec.Messages, spec.Batch
	msgs := make([]rlog.Message, batch)
	ptrs := make([]*rlog.Message, batch)
	lat := make([]time.Duration, 0, (n+batch-1)/batch)
	start := time.Now()
	for i := 0; i < n; i += batch {
		k := min(batch, n-i)
		for j := range k {
			msgs[j] = rlog.Message{Topic: riffleTopic, Queue: 0, Body: spec.Bodies.At(i + j)}
			ptrs[j] = &msgs[j]
		}
		t0 := time.Now()
		if err := s.l.AppendWith(ctx, rlog.Async, ptrs[:k]...); err != nil {
			return Outcome{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start)
	return Outcome{Messages: int64(n), Bytes: int64(n) * int64(spec.Bodies.Size()), Elapsed: el, Lat: lat, LatOf: "batch"}, nil
}

func (s *riffleStore) appendPipelined(spec Spec) (Outcome, error) {
	n, batch := spec.Messages, spec.Batch
	type slot struct {
		msgs []rlog.Message
		ptrs []*rlog.Message
	}
	slots := make([]slot, pipelineDepth)
	free := make(chan int, pipelineDepth) // slot ids; a slot is reused only after its callback
	for i := range slots {
		slots[i] = slot{make([]rlog.Message, batch), make([]*rlog.Message, batch)}
		free <- i
	}
	nb := (n + batch - 1) / batch
	lat := make([]time.Duration, nb)
	var firstErr atomic.Pointer[error]
	start := time.Now()
	for b := range nb {
		i := b * batch
		k := min(batch, n-i)
		id := <-free
		sl := &slots[id]
		for j := range k {
			sl.msgs[j] = rlog.Message{Topic: riffleTopic, Queue: 0, Body: spec.Bodies.At(i + j)}
			sl.ptrs[j] = &sl.msgs[j]
		}
		t0 := time.Now()
		s.l.AppendAsync(rlog.Async, func(err error) {
			// Runs on the log's goroutine: record and release the slot, nothing more.
			lat[b] = time.Since(t0)
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
			free <- id // never blocks: only pipelineDepth ids circulate
		}, sl.ptrs[:k]...)
	}
	for range pipelineDepth {
		<-free
	}
	el := time.Since(start)
	if e := firstErr.Load(); e != nil {
		return Outcome{}, *e
	}
	return Outcome{Messages: int64(n), Bytes: int64(n) * int64(spec.Bodies.Size()), Elapsed: el, Lat: lat, LatOf: "batch"}, nil
}

func (s *riffleStore) AppendSync(ctx context.Context, spec Spec) (Outcome, error) {
	return concurrentSync(spec, func(i int) error {
		m := &rlog.Message{Topic: riffleTopic, Queue: 0, Body: spec.Bodies.At(i)}
		return s.l.AppendWith(ctx, rlog.Sync, m)
	})
}

func (s *riffleStore) ReadAll(ctx context.Context, n int, bodies *Bodies) (Outcome, error) {
	start := time.Now()
	var off int64
	var bytes int64
	for off < int64(n) {
		f, err := s.l.Read(ctx, riffleTopic, 0, off, rlog.ReadOptions{Max: 1000})
		if err != nil {
			return Outcome{}, err
		}
		if len(f.Messages) == 0 {
			return Outcome{}, fmt.Errorf("riffle: read stopped at offset %d of %d", off, n)
		}
		for i := range f.Messages {
			m := &f.Messages[i]
			if m.Offset != off {
				return Outcome{}, fmt.Errorf("riffle: got offset %d, want %d", m.Offset, off)
			}
			if err := bodies.Check(int(off), m.Body); err != nil {
				return Outcome{}, err
			}
			bytes += int64(len(m.Body))
			off++
		}
	}
	return Outcome{Messages: off, Bytes: bytes, Elapsed: time.Since(start)}, nil
}

// concurrentSync runs spec.Producers closed-loop producers; each takes the next message
// index and calls appendOne, which returns once the message is durable. It stops at
// spec.Messages messages or, after spec.Deadline, before starting another append.
func concurrentSync(spec Spec, appendOne func(i int) error) (Outcome, error) {
	var next atomic.Int64
	lats := make([][]time.Duration, spec.Producers)
	errs := make([]error, spec.Producers)
	var wg sync.WaitGroup
	start := time.Now()
	for p := range spec.Producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if !spec.Deadline.IsZero() && time.Now().After(spec.Deadline) {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= spec.Messages {
					return
				}
				t0 := time.Now()
				if err := appendOne(i); err != nil {
					errs[p] = err
					return
				}
				lats[p] = append(lats[p], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Outcome{}, err
	}
	var lat []time.Duration
	for _, l := range lats {
		lat = append(lat, l...)
	}
	done := int64(len(lat))
	return Outcome{Messages: done, Bytes: done * int64(spec.Bodies.Size()), Elapsed: el, Lat: lat, LatOf: "message"}, nil
}
