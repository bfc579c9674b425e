// Package stream is riffle's job API and its executor.
//
// # Writing a job
//
// A Job is a dataflow: sources produce streams, operators transform them, sinks consume
// them. Streams are typed (Stream[T]); transforms that change the type are functions of
// package operators, because Go methods cannot add type parameters.
//
//	job := stream.NewJob("hot-items", stream.JobOptions{Parallelism: 2})
//	bids := stream.FromSource(job, "bids", src, stream.WatermarkStrategy[Bid]{
//		Timestamp:      func(b Bid) int64 { return b.Time },
//		OutOfOrderness: 4 * time.Second,
//	})
//	byAuction := stream.KeyBy(bids, func(b Bid) int64 { return b.Auction })
//	counts := operators.Window(byAuction, "count", window.Aggregate[int64](window.Tumbling(10*time.Second, 0), count{}))
//	counts.To("print", stream.SinkFunc[int64](func(r stream.Record[int64]) error { ... }))
//	err := job.Run(ctx)
//
// Run returns when every bounded source is exhausted and every window has fired (the
// watermark goes to MaxWatermark at the end of bounded input), when an operator fails,
// or when ctx ends.
//
// # Sources, splits and watermarks
//
// A Source lists splits (log queues, partitions, file ranges); subtask i of p reads
// splits i, i+p, ... A SplitReader reads without blocking and waits with Wait, so one
// subtask reads many splits. Records carry event time (Record.Timestamp), set by the
// reader or by WatermarkStrategy.Timestamp. Each split generates watermarks (the largest
// timestamp minus the out-of-orderness minus 1 ms; idle splits are left out after
// Idleness); a subtask emits the minimum of its splits' after each read.
//
// # Keys, state and timers
//
// KeyBy partitions a stream by key: the key is encoded canonically (state.KeyCodecFor)
// and hashed into one of MaxParallelism key groups (128 by default); subtask i of p owns a
// contiguous range of key groups (Flink's assignment), so state moves by key group when
// parallelism changes. An operator added with TransformKeyed (or the operators package's
// keyed functions) gets keyed state (Context.State, package state) and timers
// (Context.Timers), scoped to the key of the record or timer being processed.
//
// # Execution
//
// Operators connected by forward edges with equal parallelism are chained into one
// goroutine: records pass by direct calls. Other edges are bounded channels of batches
// (JobOptions.BatchSize records, JobOptions.ChannelBatches batches): a slow operator
// back-pressures its producers. Rebalance and Broadcast choose how the next operator
// receives a stream; key-by edges route by key group. An operator's watermark is the
// minimum of its inputs'; event-time timers fire before the operator sees the watermark
// (OnTimer, then OnWatermark), processing-time timers when the job's clock reaches them.
//
// # Exactly-once: checkpoints
//
// JobOptions.Checkpoints (a Checkpointing: the log, a state directory, an interval) makes
// the job exactly-once, Flink's aligned checkpoints over the log's transactions:
//
//  1. every Interval the coordinator triggers epoch e; each source subtask, between two
//     reads, records its splits' offsets and watermark bases and sends barrier e;
//  2. a task passes barrier e once every input sender delivered it (a sender's batches
//     after its barrier wait meanwhile); passing it, each keyed operator freezes the
//     state it changed during e (state.StoreBackend.Freeze: one final value per key) and
//     keeps processing e+1 on top of it, and each sink pre-commits e;
//  3. when every task passed e, the coordinator commits e: the frozen changes (as
//     changelog records) and one checkpoint record (the source positions) join e's log
//     transaction, which log sinks have been writing e's output into all along, and one
//     op record commits it all with the log sources' offsets in the consumer group
//     riffle_<job>. Then Badger applies e and two-phase-commit sinks commit e.
//
// Run of a checkpointed job first recovers: it fences every older run of the job
// (their open transactions abort and their later commits fail with *log.FencedError),
// replays committed changelog Badger has not applied, and resumes each split at its
// committed offset. A task whose input ends acknowledges every later epoch with what is
// left, so a bounded run ends on a final checkpoint; cancelling ctx takes a final
// checkpoint too (within 30 s) before Run returns ctx.Err().
//
// What a checkpointed job needs of its parts:
//   - sources: split readers implement Seeker (resume at an offset); LogSplit readers
//     also commit their offsets in the job's consumer group;
//   - sinks: a log sink (package connectors/log) writes through Transactions(ctx) into
//     the epoch's transaction; an external sink makes its writer a PreCommitter and the
//     Sink a TwoPhaseCommitSink (pre-commit at the barrier, commit after the epoch
//     committed, idempotently; Recover at start commits the last epoch and discards
//     later ones: Flink's TwoPhaseCommitSinkFunction). Any other sink is at-least-once:
//     records after the last checkpoint are written again after a crash;
//   - operators: keyed state only (package state); fields of an operator struct are not
//     checkpointed. Operator names name their state, and sink names their pre-commit
//     handles: keep both stable across versions of a job.
//
// The parallelism may change between runs (state moves by key group); MaxParallelism
// may not. RestartStrategy restarts a failed run from its last checkpoint.
//
// # Errors
//
// An error returned by an operator or a panic in user code stops the job: Run returns an
// *OperatorError naming the job, the operator, the subtask and, when a record was being
// processed, its source, split and offset. The process survives.
//
// # Writing operators
//
// Operator and TwoInputOperator are the runtime's contracts (see their docs for the
// order of calls); embed BaseOperator for the methods you do not need. Package streamtest
// drives one operator subtask by hand, on a mock clock, with snapshot and restore.
package stream
