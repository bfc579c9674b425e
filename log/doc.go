// Package log is riffle's embedded message log, modelled on RocketMQ's store: one
// append-only commitlog interleaving every topic, topics of ordered queues, a consume
// queue (index) per queue, consumer-group offsets, crash recovery and retention.
//
// # Using it
//
//	l, err := log.Open("data", log.Options{})        // creates or recovers; locks the directory
//	defer l.Close()
//	err = l.CreateTopic(ctx, "orders", 4)             // 4 ordered queues
//	m := &log.Message{Topic: "orders", Queue: log.ByKey, Key: []byte("ada"), Body: []byte("...")}
//	err = l.Append(ctx, m)                            // m.Queue, m.Offset now set
//	f, err := l.Read(ctx, "orders", m.Queue, 0, log.ReadOptions{Max: 100, Wait: true})
//	err = l.CommitOffsets(ctx, "billing", map[log.QueueRef]int64{{Topic: "orders", Queue: 0}: f.Next})
//
// A message's queue is chosen explicitly (Queue in [0, queues)) or with ByKey by hashing
// its key (FNV-1a 64 modulo the queue count; round-robin without a key). Offsets in a queue
// are contiguous from 0. A reader blocks for new messages with ReadOptions.Wait, or watches
// Notify when it reads several queues.
//
// Durability is per log (Options.Durability) and per append (AppendWith): Sync acknowledges
// after an fsync that one goroutine shares among every producer waiting at that moment
// (group commit); Async acknowledges once the record is written and indexed, and fsyncs
// every FlushInterval. A message is readable once written and indexed, in both modes.
//
// # The principle
//
// Every change of visibility is a commitlog record: a message, a topic's creation, a
// consumer group's offset commit (and, with the transaction and timer features, commits,
// aborts and timer firings). The consume queues, the topic table and the group offsets are
// derived from the records. Recovery is therefore a snapshot (the checkpoint) plus one
// forward scan, and there is no second source of truth to disagree with the commitlog.
//
// # Goroutines
//
// One appender goroutine owns every mutation (appends, dispatch into the indexes, segment
// rolls, checkpoints, retention, transaction commits, timer firings). Producers encode and checksum their records on their own
// goroutines and queue them; the appender takes all queued requests as one batch, stamps
// each record with its queue offset and store time, completes the CRC, writes the batch
// with one pwritev and indexes it. A syncer goroutine fsyncs. Readers run on the callers'
// goroutines against published state. Lock order: Log.closeMu, Log.mu, then commitLog.mu
// or a consumeQueue's mu (never both).
//
// # Data directory
//
//	DATA/LOCK                                   flock'ed while open; holds the owner's pid
//	DATA/checkpoint                             recovery hint and snapshot (below)
//	DATA/commitlog/<20-digit start position>    segment files
//	DATA/consumequeue/<topic>/<queue>/<20-digit first offset>   index files
//	DATA/timerwheel/slots, DATA/timerwheel/timerlog             the timing wheel
//
// All integers are little-endian.
//
// # Commitlog
//
// The commitlog is a sequence of records addressed by position: a byte offset in the
// concatenation of the segments. A segment file is named by the position of its first byte
// in 20 decimal digits and holds at most Options.SegmentSize bytes (default 1 GiB); the next
// segment starts at the position where the previous one ends. A record never spans two
// segments: when the next record does not fit, the segment ends early (no padding) and a
// new one starts. Every record:
//
//	offset size field
//	0      4    length       whole record, this field included (56 to 64 MiB)
//	4      4    crc          CRC-32C (Castagnoli) of bytes [32, length) followed by bytes [8, 32)
//	8      1    magic        0xA1, the format version
//	9      1    type         1 message, 2 topic, 3 offsets (4-8: transactions and timers)
//	10     2    flags        0 (reserved)
//	12     4    queue        queue index (message records)
//	16     8    queue offset the message's offset in its queue
//	24     8    store time   ms since the epoch when the appender wrote it; never decreases
//	32     8    timestamp    the message's own time, ms since the epoch
//	40     2    topic length
//	42     2    tags length  (at most 255)
//	44     4    key length   (at most 64 KiB)
//	48     4    properties length
//	52     4    body length
//	56     ...  topic, tags, key, properties, body, in that order; the lengths add up to length
//
// Properties are a sequence of (u16 name length, name, u16 value length, value), sorted by
// name. The CRC covers the record's fields in an order that puts bytes [8, 32) last: queue,
// queue offset and store time are assigned by the appender, so a producer checksums the rest
// on its own goroutine and the appender extends the CRC over 24 bytes.
//
// Record types other than messages keep their payload in topic and body:
//
//	topic (2):   topic = the topic's name; body = u32 queue count
//	offsets (3): topic = the consumer group; body = u32 count, then per entry
//	             u16 topic length, topic, u32 queue, u64 next offset to read
//
// Transactions and timers (below) add these records; their topic field names the system
// topic they belong to, and their payload is in properties and body:
//
//	txn-init (4): topic RMQ_SYS_TRANS_OP_HALF_TOPIC; body = u16+producer id, u32 incarnation,
//	             u8 mode (1: local-transaction mode, older incarnations' transactions wait
//	             for check-back; 0: they are aborted by this record)
//	half (5):    topic RMQ_SYS_TRANS_HALF_TOPIC; key, tags, body as the message's; properties
//	             the message's, then REAL_TOPIC, REAL_QID, TRAN_PID, TRAN_EPOCH, TRAN_SEQ
//	txn-op (6):  topic RMQ_SYS_TRANS_OP_HALF_TOPIC; body = u8 op (1 commit, 2 abort),
//	             u8 reason (0 producer, 1 fenced, 2 check-back, 3 gave up), u16+producer id,
//	             u32 incarnation, u64 transaction sequence, u32 message count,
//	             u16+group, offsets body (as above), u32 n | 1<<31, then the committed
//	             half messages, compactly: uvarint q, q times (u16+topic, uvarint queue,
//	             uvarint first offset); n times (uvarint queue index, zigzag varint gap
//	             from the end of the previous half, uvarint size, u8 0 or u8 1 + u64 tag
//	             hash); a half's offset is its queue's first offset plus the earlier halves
//	             of that queue. (Bit 31 clear: the first layout, still read: per half u64
//	             position, u32 size, u64 tag hash, u16+topic, u32 queue, u64 queue offset.)
//	timer (7):   topic rmq_sys_wheel_timer; key, tags, body as the message's; properties the
//	             message's, then REAL_TOPIC, REAL_QID, TIMER_DELIVER_MS
//	timer-op (8): topic rmq_sys_wheel_timer; fire: u8 1, i64 from tick, i64 to tick, u32 n,
//	             per delivered message u64 position, u32 size, i64 due time, u64 tag hash,
//	             u16+topic, u32 queue, u64 queue offset; u32 n, per rolled timer u64 position,
//	             u32 size, i64 due time, u64 key hash; u32 n, per cancelled timer u64
//	             position (at most 100,000 timers in all; ticks (from, to] are done, and
//	             the timers listed may include some of tick to+1). cancel: u8 2,
//	             u16+topic, u32+key.
//
// # Consume queues
//
// Each queue's index is a sequence of 24-byte entries, entry i describing the message at
// queue offset i:
//
//	offset size field
//	0      8    position     of the record in the commitlog
//	8      4    size         of the record
//	12     8    tag hash     FNV-1a 64 of the tags with the low bit set; 0 for no tags
//	20     4    crc          CRC-32C of bytes [0, 20)
//
// Entries live in files of Options.ConsumeQueueFileEntries entries (default 300,000),
// each named by the queue offset of its first entry in 20 digits; files are contiguous, so
// the entry of offset o is found with a binary search over the (few) file names and one
// pread: O(1) in the number of messages. RocketMQ's entries are 20 bytes and unchecked;
// riffle adds the CRC so that a damaged index is detected instead of followed. A read also
// checks that the record it reaches is the message the entry claims (type, topic, queue,
// offset), so neither a bad index nor a bad record can make it return wrong data.
//
// # Checkpoint
//
// DATA/checkpoint is replaced atomically (write a temporary file, fsync, rename, fsync the
// directory) every CheckpointInterval, before retention deletes anything, and on Close.
// Before writing it, the appender fsyncs the commitlog and every index written since the
// last checkpoint, so the snapshot it records at position P is durable:
//
//	"RFLCKPT1" (8 bytes), u32 payload length, u32 CRC-32C of the payload, then the payload:
//	u64 P, u64 newest store time,
//	u32 topic count, per topic: u16 name length, name, u32 queue count, u64 next offset per queue
//	u32 group count, per group: u16 name length, name, then an offsets body as above
//	u32 section count, per section: u8 id, u32 length, bytes. Section 1 (transactions):
//	producers (u16+id, u32 incarnation, u8 mode), open transactions (u16+producer,
//	u32 incarnation, u64 sequence, u64 first position, i64 started, i64 last send, u32
//	messages), segments holding half messages committed in a later segment (u64 base,
//	u64 commit position). Section 2 (timers): u64 cursor tick, u64 timer-log length,
//	u64 pending, i64 last lag, i64 last firing, pending timers per segment (u64 base,
//	u64 count), cancellations (u16+topic, u32+key, u64 position, i64 time).
//
// # Recovery
//
// Open reads the checkpoint (a missing or corrupt one means: replay everything), then for
// each queue of the snapshot checks its index: entries failing their CRC, or out of order,
// cut the index there; entries at positions >= P are dropped (they are rebuilt below); if
// fewer entries remain than the snapshot counted, the queue must be re-indexed from the end
// of its last good entry (or from the start of the commitlog). Then one forward scan from
// the smallest of those positions and P validates every record (length, CRC, magic, type,
// field lengths) and dispatches it: messages to queues that need them, every other record
// at or after P to the topic table and the group offsets. The first invalid record of the
// last segment is a torn or corrupt tail and is cut, with a log line saying where and how
// many bytes; an invalid record in an earlier segment stops Open with a *CorruptionError
// (the data after it could not be indexed safely). Open then writes a fresh checkpoint.
// Log.Recovery reports what was found and done.
//
// Guarantees: nothing acknowledged in Sync mode is lost by a crash of the process or the
// machine; nothing acknowledged in Async mode is lost by a crash of the process; after any
// crash each queue holds a contiguous prefix of what was appended to it, without duplicates;
// no read ever returns data that fails its checks.
//
// # Transactions
//
// RocketMQ's transactional messages are at-least-once: on commit the broker copies the
// half message into the real topic and writes the op record afterwards, so a crash in
// between duplicates it, and consumer offsets do not take part. riffle's transactions are
// exactly-once, and commit consumer offsets with the messages (as Kafka's do):
//
//   - InitProducer(id) appends a txn-init record: the new incarnation. From that record on,
//     sends and commits of older incarnations fail with *FencedError (checked by the
//     appender, in log order, so no zombie write can slip past it). Without a checker the
//     same record aborts the older incarnations' open transactions.
//   - Txn.Send appends half records. They are indexed nowhere: no reader can see them.
//     Without a checker, Send does not wait for an fsync; the fsync of a Sync commit
//     covers the half records before it.
//   - Txn.Commit appends one txn-op record. The appender gives each half message of the
//     transaction the next offset of its real queue, in the order they were sent, and
//     writes those offsets into the record; staging the record adds the index entries
//     (pointing at the half records: no copy) and the group's offsets. That record is the
//     only commit point: replay derives everything from it, so after a crash a transaction
//     is wholly visible with its offsets, or not at all. A queue publishes a transaction's
//     entries at once, and its order is commit order.
//   - Local-transaction mode (RocketMQ's): with ProducerOptions.Checker, a transaction idle
//     for TxnTimeout is resolved by asking the checker every TxnCheckInterval; after
//     TxnCheckMax unknown answers, or for a producer no process has a checker for, the log
//     aborts it with a txn-op record whose reason says so. Unknown answers are counted in
//     memory, so a restart gives a transaction a fresh count.
//
// The checkpoint lists producers and open transactions (with the position of their first
// half record, from which recovery rescans their messages). A committed transaction's
// entries point back at half records written before later messages of the same queue, so
// positions are not ordered along a queue: recovery cuts indexes by offset, and retention
// keeps a segment until the commits of its half messages are deleted too. Open
// transactions keep their segments from retention. OffsetForTime is approximate on queues
// with transactional or delayed messages (their store time is when they were sent).
//
// # Delayed messages
//
// A message with Message.DeliverAt in the future is written as a timer record and inserted
// into a timing wheel; it becomes readable when due, to Options.TimerPrecision (default
// 1 s; 10 ms and 1 ms work), never before: its tick is the first at or after its due time.
// The wheel is single-level, as RocketMQ 5's: slot i heads a linked list, in the
// append-only DATA/timerwheel/timerlog (40-byte entries: u64 position, u32 size, u32
// flags, i64 due time, u64 key hash, u64 previous entry + 1), of the timers of the tick t
// with t mod slots = i; DATA/timerwheel/slots (16 bytes a slot: u64 tick, u64 head entry +
// 1) is written at checkpoints. Slots cover TimerMaxDelay / TimerPrecision ticks, at most
// 2^20 (16 MiB); a timer further away is parked at the wheel's last tick and inserted again
// when that tick comes (rolled). Why one level: a hierarchical wheel cascades timers
// between levels, and every cascade would have to be a record of its own to survive a
// crash; rolling costs one timer-log entry per span and only for delays beyond it (none
// with the defaults: 604,800 slots cover 7 days at 1 s).
//
// The appender fires: it walks the due slots and writes one timer-op record listing every
// message it delivers with the offset it gets in its real queue (in due order), the timers
// it rolls, and those a cancellation dropped. Staging the record indexes the messages
// (pointing at the timer records). Like a commit, the record is the commit point, so
// delivery is exactly-once across crashes; RocketMQ re-delivers about a second of timers
// after one. A record lists at most 100,000 timers, which bounds its size: a tick holding
// more is delivered by several records, each taking the newest of those left (the head
// of the tick's list), and the cursor passes the tick with the last. When nothing is due
// the cursor advances without a record, so replay, starting from the checkpoint's cursor,
// would place the timers written since on other ticks than the running log did, and a
// fire record replayed against such lists would not find the timers it names. Replay
// therefore does not retrace the lists: it notes the timers written or rolled since the
// checkpoint and those fired or cancelled since, and at its end drops them from the
// checkpoint's lists and inserts the pending ones relative to the final cursor. An opened log delivers everything overdue at once; a goroutine then fires at
// every tick boundary of the clock. CancelDelayed(topic, key) cancels the pending delayed
// messages of that key appended before it. A pending timer keeps its segment from
// retention. A checkpoint writes the slots before the checkpoint file: slots ahead of the
// checkpoint (a kill in between) are taken back along their lists to the checkpoint's
// timer-log length; wheel files that do not match the checkpoint otherwise are rebuilt
// from the commitlog in two passes (fired and cancelled timers first, then the pending
// ones). A new log's wheel starts at the current tick.
//
// Retry(group, m) hands a message a consumer failed on back to its group: through the
// delayed topic %RETRY%<group> after RocketMQ's delay level 3+n (10 s ... 2 h), and after
// 16 retries to %DLQ%<group>.
//
// # Retention
//
// Every RetentionCheckInterval, whole segments are deleted, oldest first and never the
// active one, while they are older than RetentionAge (by modification time, as RocketMQ) or
// the commitlog is larger than RetentionBytes. Index files wholly below the new start are
// deleted and each queue's earliest offset advances. A read below it fails with
// *OffsetOutOfRangeError carrying the earliest valid offset.
//
// # Limits and validation
//
// Topic and group names are 1 to 127 characters of [A-Za-z0-9_%|-]. A message (key, tags,
// properties and body) is at most Options.MaxMessageSize bytes (default 4 MiB), its encoded
// properties at most MaxPropertiesSize (default 32 KiB), tags at most 255 bytes, a key at
// most 64 KiB. An invalid message is rejected with an error wrapping ErrInvalidMessage
// before anything of its call reaches the commitlog.
package log
