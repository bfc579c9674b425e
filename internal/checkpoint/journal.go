// Package checkpoint is the log-and-Badger half of riffle's exactly-once protocol
// (DESIGN.md §4): it owns a job's checkpoint transactions, its changelog and
// checkpoint-metadata topics, and the recovery of its Badger store. The barrier half
// (sources, alignment, acknowledgements) lives in package stream, which drives a Journal.
//
// For each epoch e the job's outputs (log sinks), the state changes frozen at barrier e
// (changelog records), and one metadata record (source positions, sink pre-commit
// handles) are half messages of one transaction of the job's producer; one op record
// commits them together with the log-source offsets of the job's consumer group. Only
// after that commit does Badger apply the epoch's changes and record it as applied, so
// Badger never holds uncommitted state and recovery only replays committed changelog.
package checkpoint

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/state"
)

// Names derives every log name of a job from the job's name.
type Names struct {
	Producer   string // the transactional producer: one incarnation per run
	Group      string // the consumer group whose offsets commit with each epoch
	Changelog  string // the state changelog topic (one queue)
	Checkpoint string // the checkpoint metadata topic (one queue)
}

// NamesFor returns the log names of job; an error if the job's name cannot name topics.
func NamesFor(job string) (Names, error) {
	n := Names{Producer: "riffle_" + job, Group: "riffle_" + job,
		Changelog: "riffle_" + job + "_changelog", Checkpoint: "riffle_" + job + "_checkpoints"}
	if err := rlog.ValidateTopicName(n.Checkpoint); err != nil {
		return Names{}, fmt.Errorf("checkpoint: job name %q cannot name the job's topics (use letters, digits, _, -, %%, |; at most 100 characters): %w", job, err)
	}
	return n, nil
}

// SplitState is where a source split is: the offset of its next record and the largest
// timestamp it has read (its watermark's base).
type SplitState struct {
	Offset int64 `json:"offset"`
	MaxTs  int64 `json:"max_ts"`
}

// Meta is the metadata record of a committed epoch: what recovery resumes from.
type Meta struct {
	Epoch uint64 `json:"epoch"`
	// Sources maps "source/split" to the split's position after the epoch, for every
	// split the job has read (positions carry over from epoch to epoch).
	Sources map[string]SplitState `json:"sources"`
	// Sinks maps a two-phase-commit sink's name to its subtasks' pre-commit handles of
	// this epoch.
	Sinks map[string][][]byte `json:"sinks,omitempty"`
	// Time is when the epoch committed (ms since the epoch).
	Time int64 `json:"time"`
	// Parallelism maps operators to their parallelism in the run that wrote the epoch.
	Parallelism map[string]int `json:"parallelism,omitempty"`
	// MaxParallelism is the job's number of key groups: it cannot change.
	MaxParallelism int `json:"max_parallelism,omitempty"`
}

// Change is one operator subtask's change batch of an epoch (state.StoreBackend.Freeze).
type Change struct {
	Operator string
	Batch    []byte
}

// Config configures Open.
type Config struct {
	Log      *rlog.Log
	Job      string
	StateDir string
	Store    state.StoreOptions
	Logger   *slog.Logger
	// SnapshotDir holds the state snapshots. Default StateDir + ".snapshots".
	SnapshotDir string
	// SnapshotBytes is how much changelog is written between two snapshots. Default
	// 64 MiB; negative: no snapshots (the changelog is then kept from its start).
	SnapshotBytes int64
}

// Journal is one run's side of a job's checkpoints. Send is safe for concurrent use;
// Commit must be called by one goroutine, for epochs in increasing order.
type Journal struct {
	log    *rlog.Log
	store  *state.Store
	prod   *rlog.Producer
	names  Names
	logger *slog.Logger
	last   *Meta // the last committed epoch (nil: none yet)

	snapDir   string
	snapBytes int64
	sinceSnap int64 // changelog bytes since the last snapshot (the committing goroutine's)
	snap      snapshotter
	snapHook  func() // tests: called by a snapshot's goroutine before it writes

	mu   sync.Mutex
	txns map[uint64]*epochTxn
}

type epochTxn struct {
	mu  sync.Mutex
	txn *rlog.Txn
}

// changeChunk bounds one changelog message.
const changeChunk = 1 << 20

// Message properties of changelog and metadata records.
const (
	propEpoch    = "riffle.epoch"
	propOperator = "riffle.operator"
)

// Open recovers a job for a new run: it opens (or rebuilds) the job's Badger store,
// starts a new incarnation of the job's producer (fencing every older one and aborting
// their open transactions), and replays the committed changelog that the store has not
// applied. It returns the journal and the last committed epoch's metadata (nil when the
// job never committed one).
func Open(ctx context.Context, cfg Config) (*Journal, *Meta, error) {
	names, err := NamesFor(cfg.Job)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SnapshotDir == "" {
		cfg.SnapshotDir = filepath.Clean(cfg.StateDir) + ".snapshots"
	}
	if cfg.SnapshotBytes == 0 {
		cfg.SnapshotBytes = 64 << 20
	}
	j := &Journal{log: cfg.Log, names: names, logger: cfg.Logger, txns: map[uint64]*epochTxn{},
		snapDir: cfg.SnapshotDir, snapBytes: cfg.SnapshotBytes}
	for _, t := range []string{names.Changelog, names.Checkpoint} {
		if err := cfg.Log.CreateTopic(ctx, t, 1); err != nil && !errors.Is(err, rlog.ErrTopicExists) {
			return nil, nil, fmt.Errorf("checkpoint: create topic %s: %w", t, err)
		}
	}
	// Fence first: from here on no older incarnation can commit, so the committed
	// epochs read below are final.
	if j.prod, err = cfg.Log.InitProducer(ctx, names.Producer, rlog.ProducerOptions{}); err != nil {
		return nil, nil, fmt.Errorf("checkpoint: fence older runs of job %q: %w", cfg.Job, err)
	}
	if j.last, err = j.readLastMeta(ctx); err != nil {
		return nil, nil, err
	}
	if err := j.openStore(ctx, cfg); err != nil {
		return nil, nil, err
	}
	if err := j.holdChangelog(); err != nil {
		j.store.Close()
		return nil, nil, err
	}
	return j, j.last, nil
}

// Store is the job's Badger store, recovered up to the last committed epoch.
func (j *Journal) Store() *state.Store { return j.store }

// Names returns the job's log names.
func (j *Journal) Names() Names { return j.names }

// Producer is this run's incarnation of the job's producer.
func (j *Journal) Producer() *rlog.Producer { return j.prod }

// Close abandons a snapshot in progress and closes the store. Open transactions are left
// to the next run, which aborts them.
func (j *Journal) Close() error {
	j.stopSnapshots()
	return j.store.Close()
}

func (j *Journal) readLastMeta(ctx context.Context) (*Meta, error) {
	_, hi, err := j.log.QueueBounds(j.names.Checkpoint, 0)
	if err != nil || hi == 0 {
		return nil, err
	}
	f, err := j.log.Read(ctx, j.names.Checkpoint, 0, hi-1, rlog.ReadOptions{Max: 1})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: read the last checkpoint of %s: %w", j.names.Checkpoint, err)
	}
	if len(f.Messages) != 1 {
		return nil, fmt.Errorf("checkpoint: %s/0@%d: no record", j.names.Checkpoint, hi-1)
	}
	m := new(Meta)
	if err := json.Unmarshal(f.Messages[0].Body, m); err != nil {
		return nil, fmt.Errorf("checkpoint: %s/0@%d: corrupt checkpoint record: %w", j.names.Checkpoint, hi-1, err)
	}
	return m, nil
}

// openStore opens the Badger store and rolls it forward to the last committed epoch.
// A store that cannot be opened, or that claims an epoch the log never committed, is
// moved aside and rebuilt from the changelog.
func (j *Journal) openStore(ctx context.Context, cfg Config) error {
	committed := uint64(0)
	if j.last != nil {
		committed = j.last.Epoch
	}
	_, statErr := os.Stat(cfg.StateDir)
	store, err := j.openLocked(ctx, cfg)
	if isLocked(err) {
		return fmt.Errorf("checkpoint: the state directory %s is in use by another run of job %q (it still holds Badger's lock after %s; that run was fenced and cannot commit any more): %w",
			cfg.StateDir, cfg.Job, lockWait, err)
	}
	var applied state.Applied
	if err == nil {
		if applied, err = store.Applied(); err == nil && applied.Epoch > committed {
			err = fmt.Errorf("it has applied epoch %d but the log's last committed epoch is %d", applied.Epoch, committed)
		}
		if err == nil && os.IsNotExist(statErr) && committed > 0 {
			err = fmt.Errorf("the directory is missing (the job has committed %d epochs)", committed)
		}
		if err != nil {
			store.Close()
		}
	}
	if err != nil {
		aside := fmt.Sprintf("%s.broken-%s", filepath.Clean(cfg.StateDir), time.Now().UTC().Format("20060102T150405.000"))
		j.logger.Warn("state store unusable: moving it aside and rebuilding it from the changelog",
			"dir", cfg.StateDir, "moved_to", aside, "err", err)
		if rerr := os.Rename(cfg.StateDir, aside); rerr != nil && !os.IsNotExist(rerr) {
			return fmt.Errorf("checkpoint: state store %s is unusable (%v) and cannot be moved aside: %w", cfg.StateDir, err, rerr)
		}
		if store, applied, err = j.restoreSnapshot(cfg); err != nil {
			return fmt.Errorf("checkpoint: create state store %s: %w", cfg.StateDir, err)
		}
	}
	j.store = store
	if err := j.replay(ctx, applied, committed); err != nil {
		store.Close()
		return err
	}
	return nil
}

// lockWait is how long Open waits for an older run of the job in this process to let go
// of the Badger directory: fenced by Open, its next commit fails and it closes.
const lockWait = 10 * time.Second

// openLocked opens the store, waiting up to lockWait while another run holds its lock.
func (j *Journal) openLocked(ctx context.Context, cfg Config) (*state.Store, error) {
	deadline := time.Now().Add(lockWait)
	logged := false
	for {
		store, err := state.OpenStore(cfg.StateDir, cfg.Store)
		if !isLocked(err) || time.Now().After(deadline) {
			return store, err
		}
		if !logged {
			j.logger.Info("waiting for the state directory: another run of the job holds it (it was just fenced and will stop)", "dir", cfg.StateDir)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// isLocked reports Badger's error for a directory another open DB holds.
func isLocked(err error) bool {
	return err != nil && (errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), "Cannot acquire directory lock"))
}

// replay applies the changelog after the store's applied position: every record there
// belongs to a committed epoch (uncommitted ones are invisible and the producer is
// fenced), in commit order.
func (j *Journal) replay(ctx context.Context, applied state.Applied, committed uint64) error {
	topic := j.names.Changelog
	lo, hi, err := j.log.QueueBounds(topic, 0)
	if err != nil {
		return err
	}
	from := applied.Changelog
	if from < lo {
		return fmt.Errorf("checkpoint: the state store needs changelog %s from offset %d, but retention deleted it up to offset %d and no snapshot in %s covers it: the state cannot be rebuilt", topic, from, lo, j.snapDir)
	}
	if from >= hi {
		return nil
	}
	start := time.Now()
	var batches [][]byte
	epoch, records := uint64(0), 0
	flush := func(next int64) error {
		if epoch <= applied.Epoch {
			return nil
		}
		err := j.store.Apply(state.Applied{Epoch: epoch, Changelog: next}, batches...)
		batches = batches[:0]
		return err
	}
	for off := from; off < hi; {
		f, err := j.log.Read(ctx, topic, 0, off, rlog.ReadOptions{Max: 256, MaxBytes: 16 << 20})
		if err != nil {
			return fmt.Errorf("checkpoint: replay changelog: %w", err)
		}
		for i := range f.Messages {
			m := &f.Messages[i]
			e, err := strconv.ParseUint(m.Properties[propEpoch], 10, 64)
			if err != nil {
				return fmt.Errorf("checkpoint: changelog %s/0@%d: bad epoch property: %w", topic, m.Offset, err)
			}
			if e != epoch {
				if err := flush(m.Offset); err != nil {
					return err
				}
				epoch = e
			}
			if e <= applied.Epoch {
				continue // applied already (the store records epochs after their changes)
			}
			batches = append(batches, m.Body) // the fetch buffer is not reused
			records++
		}
		off = f.Next
	}
	if err := flush(hi); err != nil {
		return err
	}
	j.logger.Info("state restored from the changelog", "changelog", topic, "from_offset", from, "to_offset", hi,
		"records", records, "epochs", fmt.Sprintf("%d..%d", applied.Epoch+1, committed), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// txn returns epoch's transaction, beginning it on first use.
func (j *Journal) txn(epoch uint64) *epochTxn {
	j.mu.Lock()
	defer j.mu.Unlock()
	t, ok := j.txns[epoch]
	if !ok {
		t = &epochTxn{txn: j.prod.Begin()}
		j.txns[epoch] = t
	}
	return t
}

// Send adds msgs to epoch's transaction: they become visible when the epoch commits.
func (j *Journal) Send(ctx context.Context, epoch uint64, msgs ...*rlog.Message) error {
	t := j.txn(epoch)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.txn.Send(ctx, msgs...)
}

// Commit commits epoch: it sends the changes as changelog records and meta as the
// checkpoint record into the epoch's transaction, commits it with the group offsets,
// then applies the changes to the store. meta.Epoch must be epoch.
func (j *Journal) Commit(ctx context.Context, meta *Meta, changes []Change, offsets map[rlog.QueueRef]int64) error {
	epoch := meta.Epoch
	t := j.txn(epoch)
	t.mu.Lock()
	defer t.mu.Unlock()
	es := strconv.FormatUint(epoch, 10)
	var msgs []*rlog.Message
	var batches [][]byte
	for _, c := range changes {
		if len(c.Batch) == 0 {
			continue
		}
		batches = append(batches, c.Batch)
		j.sinceSnap += int64(len(c.Batch))
		for _, chunk := range chunks(c.Batch, min(changeChunk, j.log.Options().MaxMessageSize/2)) {
			msgs = append(msgs, &rlog.Message{Topic: j.names.Changelog, Queue: 0, Body: chunk,
				Properties: map[string]string{propEpoch: es, propOperator: c.Operator}})
		}
	}
	body, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	msgs = append(msgs, &rlog.Message{Topic: j.names.Checkpoint, Queue: 0, Body: body,
		Properties: map[string]string{propEpoch: es}})
	if err := t.txn.Send(ctx, msgs...); err != nil {
		return fmt.Errorf("checkpoint: epoch %d: %w", epoch, err)
	}
	// Sync: an epoch is committed once it is on disk, so that no external two-phase
	// commit, nor Badger, ever runs ahead of a commit a power loss could take back. One
	// fsync per checkpoint.
	if err := t.txn.CommitWith(ctx, rlog.Sync, j.names.Group, offsets); err != nil {
		return fmt.Errorf("checkpoint: commit epoch %d: %w", epoch, err)
	}
	j.mu.Lock()
	delete(j.txns, epoch)
	j.mu.Unlock()
	j.last = meta
	// Only this producer writes the changelog and it commits in order, so the queue's
	// end is where this epoch's changelog ends.
	_, end, err := j.log.QueueBounds(j.names.Changelog, 0)
	if err != nil {
		return err
	}
	a := state.Applied{Epoch: epoch, Changelog: end}
	if err := j.store.Apply(a, batches...); err != nil {
		return fmt.Errorf("checkpoint: epoch %d committed, but applying it to the state store failed (the next run replays it): %w", epoch, err)
	}
	j.maybeSnapshot(a)
	return nil
}

// Abort aborts the open transactions of this run (a failed run; the next run would
// abort them anyway when it fences this one).
func (j *Journal) Abort(ctx context.Context) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for e, t := range j.txns {
		t.mu.Lock()
		_ = t.txn.Abort(ctx)
		t.mu.Unlock()
		delete(j.txns, e)
	}
}

// Last returns the last committed epoch's metadata (nil: none).
func (j *Journal) Last() *Meta { return j.last }

// chunks cuts a change batch at change boundaries into pieces of about max bytes.
func chunks(batch []byte, max int) [][]byte {
	if len(batch) <= max {
		return [][]byte{batch}
	}
	var out [][]byte
	start, pos := 0, 0
	le := binary.LittleEndian
	for pos < len(batch) {
		kl := int(le.Uint32(batch[pos:]))
		next := pos + 4 + kl + 1
		if batch[next-1] == 1 { // a set: value follows
			next += 4 + int(le.Uint32(batch[next:]))
		}
		if next-start > max && pos > start {
			out = append(out, batch[start:pos])
			start = pos
		}
		pos = next
	}
	return append(out, batch[start:])
}
