// Package kafka connects jobs to Apache Kafka through franz-go
// (github.com/twmb/franz-go): a source reading a topic with read_committed isolation,
// one split per partition, and a sink writing exactly-once through Kafka transactions
// committed with the job's checkpoints (DESIGN.md §5). The connector never creates
// topics.
//
// # Reading
//
//	src, err := kafka.NewSource(kafka.SourceOptions{
//		Brokers: []string{"localhost:9092"},
//		Topic:   "bids",
//	}, func(r *kgo.Record) (Bid, error) { return decodeBid(r.Value) })
//	bids := stream.FromSource(job, "bids", src, stream.WatermarkStrategy[Bid]{
//		OutOfOrderness: 5 * time.Second, // event time: the Kafka record's timestamp
//	})
//
// Each partition is a split, named by its number; subtask i of p reads partitions i,
// i+p, ..., each through a franz-go client of its own that consumes only that
// partition. The partitions are listed when the job starts: partitions added later are
// read after a restart. A record's stream timestamp is its Kafka timestamp (a
// WatermarkStrategy without a Timestamp function uses it), and watermarks are kept per
// partition: set WatermarkStrategy.Idleness if some partitions may stay empty.
//
// Records are read with read_committed isolation: records of aborted transactions are
// skipped, and records after an open transaction wait until it ends (the partition's
// last stable offset). A split's offset is the Kafka offset of the next record;
// transaction markers occupy offsets too, and are passed over.
//
// The source does not join a consumer group: riffle assigns partitions to subtasks
// itself, and a checkpointed job keeps each partition's offset in its checkpoint and
// resumes there. With SourceOptions.Group set, it reports to a group the way Flink's
// Kafka source does: after every committed checkpoint it commits the partitions'
// positions to the group (so that tools showing a group's lag see the job). A partition
// the checkpoint does not know starts at SourceOptions.StartOffsets, else at the group's
// committed offset (with a Group that has one), else at Start: Earliest (the default)
// or Latest (its last stable offset). With Bounded, each partition ends at the last stable
// offset it had when the job opened it, and the job ends once every record before it
// was processed.
//
// Nothing is skipped silently:
//
//   - A record Decode rejects fails the job with a *DecodeError naming its topic,
//     partition and offset, e.g. "kafka: decode record bids/3@1207: ...". With
//     SourceOptions.DeadLetter, it is sent to that topic instead (key, value,
//     timestamp and headers, plus the headers riffle.error, the reason, and
//     riffle.source, "topic/partition@offset") and reading goes on. Dead letters are
//     at-least-once: after a restart a record may be sent again.
//   - A position outside the partition (a checkpoint's or StartOffsets') fails with an
//     *OffsetError saying which records are lost, typically because retention deleted
//     records the job had not read (a job that was down longer than the topic's
//     retention). A reader overtaken by retention fails its fetch (wrapping
//     kerr.OffsetOutOfRange) rather than skipping ahead. A checkpointed job cannot
//     resume past such a loss by itself: its checkpoint's offsets win over StartOffsets.
//
// # Writing
//
//	sink, err := kafka.NewSink(kafka.SinkOptions{
//		Brokers:               []string{"localhost:9092"},
//		Topic:                 "results",
//		TransactionalIDPrefix: "riffle-hotitems-results", // stable across runs, unique in the cluster
//	}, func(r stream.Record[Result]) (*kgo.Record, error) {
//		return &kgo.Record{Key: []byte(r.Value.Item), Value: encodeResult(r.Value)}, nil
//	})
//	results.To("results", sink)
//	err = job.Run(ctx)
//	sink.Close()
//
// The encode function may set Record.Topic (else SinkOptions.Topic), Partition is
// chosen by the client's partitioner (by default by the hash of the key: a key's records
// stay in order in one partition), and a zero Record.Timestamp becomes the stream
// record's timestamp (or, without one, the time of producing).
//
// In a job with checkpoints (stream.JobOptions.Checkpoints) the sink is exactly-once
// by default (Delivery ExactlyOnce): each sink subtask writes each checkpoint epoch in a
// Kafka transaction of its own, whose transactional id is PREFIX-SUBTASK-EPOCH. It is a
// two-phase commit (Flink's KafkaSink):
//
//  1. the epoch's first record starts a transactional producer of that id and begins
//     the transaction (initializing the id also fences any earlier producer of it and
//     aborts that producer's open transaction);
//  2. at barrier e (PreCommit) the subtask flushes the epoch's records and hands the
//     checkpoint a handle: the transactional id, producer id and producer epoch. The
//     producer is closed; the transaction stays open on the brokers, its records
//     written but invisible to read_committed readers. An epoch without records has no
//     transaction;
//  3. once riffle committed epoch e (its source offsets and state), CommitEpoch ends
//     each of e's transactions by its handle with an EndTxn(commit) request, from any
//     process. Kafka answers a repeated commit with success, so committing twice is
//     harmless;
//  4. when a run starts, Recover gets the last committed epoch E and its handles. It
//     commits E's transactions (the crash came between riffle's commit and step 3),
//     then aborts every open transaction under the prefix of an epoch after E, of any
//     subtask (so also those of a previous run with another parallelism), found with
//     ListTransactions: pre-committed or still being written, their input is read
//     again. Transactions of other prefixes are left alone.
//
// So after any crash each record's output is in the topic once, as read_committed
// readers see it. Readers with read_uncommitted isolation (the default of many
// clients) also see the records of aborted transactions, hence duplicates. Output
// becomes visible one checkpoint late, when CommitEpoch runs: a job without checkpoints
// would never commit, so without checkpoints the sink is at-least-once (below).
//
// A writer closed before its epoch was pre-committed (the run failed or was cancelled)
// aborts its transaction. Call Sink.Close after Run returned: it closes the connection
// CommitEpoch and Recover use.
//
// # Transaction timeout and outages
//
// An open transaction holds back its partitions' last stable offset: read_committed
// consumers of those partitions (of any application) see nothing written after its
// start until it ends. In normal running that is one checkpoint. When the job crashes,
// its open transactions stay open until the job runs again (Recover ends them) or until
// the brokers abort them after SinkOptions.TransactionTimeout (default 15 minutes,
// Kafka's default transaction.max.timeout.ms, which bounds it).
//
// That timeout also bounds how long the job may be down. A transaction the broker
// aborted cannot be committed: if that happens to a transaction of an epoch riffle had
// already committed (the job crashed between the checkpoint and step 3 above, or could
// not reach the cluster, and did not come back within the timeout, counted from the
// epoch's first record), the epoch's output is lost, because the job's input positions
// and state have moved past it. Recover then fails the job with a
// *TransactionLostError rather than continue silently; with
// SinkOptions.IgnoreLostTransactions it logs the loss and goes on. Transactions of
// uncommitted epochs that time out are harmless: their input is read again. To survive
// longer outages raise the brokers' transaction.max.timeout.ms and TransactionTimeout
// together, accepting that a crashed job's open transactions then block read_committed
// readers that much longer if it is not restarted. The timeout must also exceed the
// checkpoint interval plus the time a checkpoint takes.
//
// Kafka keeps each transactional id for transactional.id.expiration.ms (7 days by
// default) after its last use. If the last committed epoch's id expired, Recover
// assumes its transaction was committed (an id expires only once its transaction
// ended), with a warning. Since every subtask uses a new id for each epoch it writes
// in, a busy job with parallelism p and a checkpoint every second leaves up to
// 86,400·p ids a day on the brokers' transaction coordinators until they expire:
// prefer longer checkpoint intervals for Kafka sinks, or a shorter
// transactional.id.expiration.ms.
//
// # At-least-once
//
// With Delivery AtLeastOnce, and in any job without checkpoints, each subtask produces
// its records directly with an idempotent producer: they are visible at once to every
// reader. At each checkpoint barrier (and when the sink closes) the subtask waits until
// the brokers acknowledged all its records, so a committed checkpoint never misses
// output; after a crash the records since the last checkpoint are written again
// (duplicates, never loss). No transactional id is used and Recover and CommitEpoch do
// nothing.
//
// # Clusters
//
// Kafka transactions need Kafka 0.11 or later. Recover finds the open transactions of
// later epochs with ListTransactions (Kafka 3.0 and later); on an older cluster it logs
// a warning and leaves them until their timeout or until the new run's producer of the
// same id fences them, so read_committed readers may wait that long after a crash
// (nothing is duplicated or lost). On a cluster with KIP-890 transactions (Kafka 4's
// transaction.version 2), where every EndTxn bumps the producer epoch, the sink commits
// with EndTxn v5, else with v4.
//
// SourceOptions.ClientOpts and SinkOptions.ClientOpts add franz-go options (TLS, SASL,
// logging, batching, fetch sizes) to every client the connector makes; do not override
// the ones the connector sets (partition, offsets, isolation level, transactional id and
// timeout).
//
// The tests run against kfake (github.com/twmb/franz-go/pkg/kfake), an in-process
// Kafka, with and without KIP-890 transactions, including a job killed with SIGKILL
// repeatedly. kfake completes transactions synchronously, so the retries a real broker
// needs (CONCURRENT_TRANSACTIONS while a transaction completes) are tested with
// injected errors only.
package kafka
