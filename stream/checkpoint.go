package stream

import (
	"context"
	"time"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/state"
)

// Checkpointing turns on exactly-once execution (DESIGN.md §4). Every Interval the
// sources inject a barrier; when it has passed every operator, epoch e's outputs (log
// sinks), its state changes (the changelog) and the source positions commit together in
// one transaction of Log, and the Badger store in StateDir applies the state. After a
// crash, Run resumes from the last committed epoch: no record is lost, none is counted
// twice, and a log sink's readers never see uncommitted output.
//
// The job's name names its state: its producer, its consumer group riffle_<name> (the
// offsets of log sources), and its topics riffle_<name>_changelog and
// riffle_<name>_checkpoints. Operator names name their state: keep them stable across
// versions of a job. The parallelism may change between runs: keyed state moves by key
// group.
//
// Two runs of one job cannot both make progress: the newer run fences the older one,
// whose next commit fails with *log.FencedError (another process cannot even open the
// log: its directory is locked).
type Checkpointing struct {
	// Log holds the transactions, the changelog and the checkpoint records. It is
	// usually the log the job's sources read and its sinks write.
	Log *rlog.Log
	// StateDir is the job's Badger directory. A missing or corrupt directory is rebuilt
	// from the changelog (with a warning in the job's log).
	StateDir string
	// Interval between checkpoints. Default 1 s.
	Interval time.Duration
	// Store configures the Badger store (memory budget).
	Store state.StoreOptions
	// SnapshotBytes is how much changelog the job writes between two snapshots of its
	// state (in StateDir + ".snapshots"). The log's retention keeps the changelog from
	// the oldest kept snapshot on and may delete what is before it; a lost StateDir is
	// rebuilt from the newest snapshot plus the changelog after it. Default 64 MiB;
	// negative: no snapshots (retention then keeps the whole changelog).
	SnapshotBytes int64
}

// RestartStrategy restarts a job that fails while running: after Delay, up to
// MaxAttempts times in a row, the job resumes from its last committed checkpoint (from
// the beginning when it has none). A restart that got at least one checkpoint committed
// resets the count. The zero value never restarts.
type RestartStrategy struct {
	MaxAttempts int
	Delay       time.Duration
}

// CheckpointListener is implemented by a Source that wants to hear of committed
// checkpoints. After an epoch commits (and its two-phase-commit sinks have committed),
// the coordinator calls CheckpointCommitted with the position after the epoch of every
// split of the source read so far, by split name. The Kafka source commits them to its
// consumer group, so that the group's lag tools show the job's progress.
//
// It is a notification: the checkpoint already holds the positions the job resumes
// from, so an error is logged and never fails the job, and a crash may skip a call.
// It runs on the coordinator's goroutine, concurrently with the source's readers, and
// should return promptly: the next epoch's commit waits for it.
type CheckpointListener interface {
	CheckpointCommitted(ctx context.Context, epoch uint64, positions map[string]int64) error
}

// Seeker is a SplitReader that can resume at an offset it reported: a checkpointed
// job's sources must implement it.
type Seeker interface {
	// SeekTo positions the reader so that the next Read returns the record at offset.
	SeekTo(offset int64) error
}

// LogSplit is a SplitReader of a log queue: a checkpointed job commits its offset in the
// job's consumer group with every epoch (riffle log offsets shows it).
type LogSplit interface {
	LogQueue() rlog.QueueRef
}

// PreCommitter is a SinkWriter that takes part in checkpoints: a two-phase-commit sink's
// first phase. PreCommit(e) is called when barrier e reaches the writer, after every
// record of epoch e was written (and once more when the input ends, for the last epoch):
// the writer makes those records durable but invisible and returns a handle that the
// checkpoint stores (nil if it needs none). Output of an epoch that never commits must
// stay invisible.
type PreCommitter interface {
	PreCommit(epoch uint64) (handle []byte, err error)
}

// TwoPhaseCommitSink is a Sink whose output commits with the job's checkpoints (the
// second phase). Log sinks need neither phase: their output is part of the checkpoint's
// log transaction (see TxnSender).
type TwoPhaseCommitSink interface {
	// CommitEpoch makes epoch's pre-committed output visible, given the handles its
	// subtasks' PreCommit returned. It is called once the epoch committed, from the
	// job's coordinator goroutine (concurrently with the writers), and must be idempotent:
	// after a crash it may run again for the same epoch.
	CommitEpoch(ctx context.Context, epoch uint64, handles [][]byte) error
	// Recover is called once before a checkpointed job starts, with the last committed
	// epoch (0: none) and its handles: commit them if not done yet, and discard every
	// pre-commit of later epochs.
	Recover(ctx context.Context, epoch uint64, handles [][]byte) error
}

// TxnSender writes into the job's checkpoint transactions: messages sent for epoch e
// become visible when e commits, atomically with the state and the source positions.
type TxnSender interface {
	// Send adds msgs to epoch's transaction. It fails when the job's run was fenced.
	Send(ctx context.Context, epoch uint64, msgs ...*rlog.Message) error
	// FirstEpoch is the first epoch of this run: records written before the first
	// barrier belong to it.
	FirstEpoch() uint64
	// Log is the log the transactions are in.
	Log() *rlog.Log
}

// Transactions returns the checkpoint transactions of the job ctx belongs to, or nil
// when the job runs without checkpoints. A log sink's writer uses it in Open.
func Transactions(ctx Context) TxnSender {
	if c, ok := ctx.(*opContext); ok && c.txns != nil {
		return c.txns
	}
	return nil
}
