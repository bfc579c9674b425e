// Package compare runs the same log workloads side by side, in one process, on riffle's
// embedded log and on peers: tidwall/wal, an embedded NATS JetStream file store and
// Liftbridge's server/commitlog.
//
// Every system implements the same four workloads (see Workload) as its own functions,
// written the way that system's API is meant to be used, over the same message bodies
// (Bodies). The runner (Run) gives each measured run a fresh data directory, does a
// warm-up run first, repeats each measurement and reports the median run, and samples
// the process's resident set size during each run.
//
// This package lives in its own module so that the peers never enter the product's
// go.mod.
package compare

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Workload names one of the compared workloads.
type Workload string

const (
	// BatchLarge appends 1 KiB messages in batches, acknowledged once in the page cache.
	BatchLarge Workload = "a"
	// BatchSmall is BatchLarge with 100-byte messages.
	BatchSmall Workload = "b"
	// SyncConcurrent appends one message at a time from 64 concurrent producers, each
	// waiting for its append to be fsynced (as each system defines it) before the next.
	SyncConcurrent Workload = "c"
	// ReadAll reads back, in order, everything the last measured run of BatchLarge wrote,
	// from the page cache.
	ReadAll Workload = "d"
)

// AllWorkloads in the order they run.
var AllWorkloads = []Workload{BatchLarge, BatchSmall, SyncConcurrent, ReadAll}

// Spec is what one run of a write workload does.
type Spec struct {
	// Messages to append (for SyncConcurrent: at most this many, see Deadline).
	Messages int
	// Batch is the number of messages per append call (batched workloads).
	Batch int
	// Producers is the number of concurrent producers (SyncConcurrent).
	Producers int
	// Deadline, if not zero, stops SyncConcurrent producers early: each producer starts
	// no new append after it. The run's throughput is then appended/elapsed.
	Deadline time.Time
	// Bodies gives message i its body.
	Bodies *Bodies
}

// Outcome is what one run measured.
type Outcome struct {
	Messages int64
	Bytes    int64 // message bodies only
	Elapsed  time.Duration
	// Lat holds one latency per acknowledged unit: a batch, or a message (LatOf says).
	Lat   []time.Duration
	LatOf string
}

// Store is one open instance of a system, in a data directory of its own.
type Store interface {
	// AppendBatched appends spec.Messages messages in batches of spec.Batch, with the
	// system's asynchronous durability (acknowledged without an fsync per append).
	AppendBatched(ctx context.Context, spec Spec) (Outcome, error)
	// AppendSync runs spec.Producers concurrent producers, each appending one message at
	// a time and waiting for it to be durable (as the system defines "sync") before the
	// next. The store was opened with sync set.
	AppendSync(ctx context.Context, spec Spec) (Outcome, error)
	// ReadAll reads messages 0..n-1 in order, checking each against bodies, and returns
	// how many it read. It fails if anything is missing or differs.
	ReadAll(ctx context.Context, n int, bodies *Bodies) (Outcome, error)
	// Close releases the store (its data directory is removed by the runner).
	Close() error
}

// System is one compared implementation.
type System struct {
	// Name as given to --systems and printed in the table.
	Name string
	// Open opens a fresh store in dir (empty); sync selects the system's per-append
	// fsync mode for SyncConcurrent.
	Open func(dir string, sync bool) (Store, error)
	// Durability says, per workload, what an acknowledgement means for this system.
	Durability map[Workload]string
	// Unsupported, per workload, explains why the system cannot run it honestly.
	Unsupported map[Workload]string
	// Scale multiplies the message counts of the batched workloads (a, b) for slow
	// systems, so that the default run stays short; figures are per message.
	Scale float64
}

// ErrUnsupported is returned by Store methods for a workload the system has no honest
// equivalent of.
var ErrUnsupported = errors.New("compare: workload not supported by this system")

// Bodies hands out message bodies: message i gets size bytes of a fixed pseudo-random
// (incompressible) pool starting at a position derived from i, so that bodies differ
// and every system gets the very same bytes without allocating per message.
type Bodies struct {
	size int
	pool []byte
}

const bodyPool = 4 << 20

// NewBodies returns bodies of size bytes (seeded, so every run sees the same bytes).
func NewBodies(size int) *Bodies {
	r := rand.New(rand.NewPCG(1, uint64(size)))
	pool := make([]byte, bodyPool+size)
	for i := 0; i+8 <= len(pool); i += 8 {
		binary.LittleEndian.PutUint64(pool[i:], r.Uint64())
	}
	return &Bodies{size: size, pool: pool}
}

// Size is the body size in bytes.
func (b *Bodies) Size() int { return b.size }

// At returns message i's body. Callers must not modify it.
func (b *Bodies) At(i int) []byte {
	off := (i * 4099) % bodyPool
	return b.pool[off : off+b.size : off+b.size]
}

// Check reports whether got is message i's body. It compares the length and the first
// and last 8 bytes: enough to catch a lost, duplicated or reordered message, at the
// same small cost for every system.
func (b *Bodies) Check(i int, got []byte) error {
	want := b.At(i)
	if len(got) != len(want) {
		return fmt.Errorf("message %d: body is %d bytes, want %d", i, len(got), len(want))
	}
	n := min(8, len(want))
	if string(got[:n]) != string(want[:n]) || string(got[len(got)-n:]) != string(want[len(want)-n:]) {
		return fmt.Errorf("message %d: body differs from what was appended", i)
	}
	return nil
}
