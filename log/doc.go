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
// rolls, checkpoints, retention). Producers encode and checksum their records on their own
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
//	u32 section count, per section: u8 id, u32 length, bytes (for later features)
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
