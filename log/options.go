package log

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"
)

// Durability says when an append is acknowledged.
type Durability uint8

const (
	// DurabilityDefault takes the log's Options.Durability (only meaningful per append).
	DurabilityDefault Durability = iota
	// Async acknowledges an append once it is written to the commitlog (the page cache) and
	// indexed; a background flusher fsyncs every Options.FlushInterval. A process crash loses
	// nothing; a machine crash may lose the last interval.
	Async
	// Sync acknowledges an append only after an fsync covering it. One fsync serves every
	// producer waiting at that moment (group commit).
	Sync
)

func (d Durability) String() string {
	switch d {
	case Async:
		return "async"
	case Sync:
		return "sync"
	}
	return "default"
}

// Options configures a Log. The zero value is usable: every field documents its default,
// which EnsureDefaults fills in.
type Options struct {
	// SegmentSize is the largest size of one commitlog segment file. A record never spans
	// segments. Default 1 GiB; at least 64 KiB, and at least MaxMessageSize plus overhead.
	SegmentSize int64

	// ConsumeQueueFileEntries is the number of 24-byte entries per consume-queue file.
	// Default 300,000 (about 7 MiB, as RocketMQ's 5.72 MB files of 20-byte entries).
	ConsumeQueueFileEntries int

	// Durability of appends that do not choose their own. Default Async.
	Durability Durability

	// FlushInterval is how often the commitlog is fsynced in Async mode. Default 500 ms.
	FlushInterval time.Duration

	// CheckpointInterval is how often the consume queues are fsynced and a recovery
	// checkpoint is written. Recovery scans the commitlog from the last checkpoint, so this
	// bounds the work after a crash. Default 5 s.
	CheckpointInterval time.Duration

	// MaxMessageSize bounds key, tags, properties and body together. Default 4 MiB.
	MaxMessageSize int
	// MaxPropertiesSize bounds the encoded properties of one message. Default 32 KiB.
	// Each property name and value is also bounded by 64 KiB - 1 by the format.
	MaxPropertiesSize int

	// RetentionAge deletes whole segments whose newest record is older. Default 72 h;
	// a negative value disables age retention.
	RetentionAge time.Duration
	// RetentionBytes deletes the oldest segments while the commitlog is larger. Default 0:
	// no size limit. The active segment is never deleted.
	RetentionBytes int64
	// RetentionCheckInterval is how often retention runs. Default 1 min.
	RetentionCheckInterval time.Duration

	// VerifyIndexesOnOpen checks the CRC of every consume-queue entry when the log opens,
	// truncating and rebuilding a queue from the commitlog at the first bad entry. Reads
	// always check the entries they use. Default true (set SkipIndexVerification to turn
	// it off for very large logs).
	SkipIndexVerification bool

	// TxnTimeout is how long a transaction may go without a Send before check-back asks
	// about it. Default 6 s (RocketMQ's transactionTimeOut).
	TxnTimeout time.Duration
	// TxnCheckInterval is how often check-back runs. Default 30 s.
	TxnCheckInterval time.Duration
	// TxnCheckMax is how many unknown answers (or checks without a checker) a
	// transaction gets before the log aborts it. Default 15 (RocketMQ's transactionCheckMax).
	TxnCheckMax int

	// TimerPrecision is the tick of the timing wheel of delayed messages: a delayed message
	// becomes readable within one tick after its due time, never before. Default 1 s; at
	// least 1 ms.
	TimerPrecision time.Duration
	// TimerMaxDelay bounds how far ahead a delayed message may be due. Default 7 days.
	TimerMaxDelay time.Duration

	// Clock is the source of store timestamps and timers. Default the real clock.
	Clock clock.Clock
	// Logger receives what recovery and retention did. Default slog.Default().
	Logger *slog.Logger

	// manualTimers turns off the timer goroutine (in-package tests fire explicitly: a
	// mock clock sleeps for every tick it fires).
	manualTimers bool
	// fireLimit, if positive, replaces maxFireTimers for this log (in-package tests
	// split ticks cheaply with it).
	fireLimit int
}

const (
	minSegmentSize   = 64 << 10
	segmentOverhead  = 64 << 10 // room for the record header, topic, tags and properties
	defaultSegment   = 1 << 30
	defaultCQEntries = 300_000
)

// EnsureDefaults fills every zero field with its default and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.SegmentSize == 0 {
		o.SegmentSize = defaultSegment
	}
	if o.ConsumeQueueFileEntries == 0 {
		o.ConsumeQueueFileEntries = defaultCQEntries
	}
	if o.Durability == DurabilityDefault {
		o.Durability = Async
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 500 * time.Millisecond
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 5 * time.Second
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = 4 << 20
	}
	if o.MaxPropertiesSize == 0 {
		o.MaxPropertiesSize = 32 << 10
	}
	if o.RetentionAge == 0 {
		o.RetentionAge = 72 * time.Hour
	}
	if o.RetentionCheckInterval == 0 {
		o.RetentionCheckInterval = time.Minute
	}
	if o.TxnTimeout == 0 {
		o.TxnTimeout = 6 * time.Second
	}
	if o.TxnCheckInterval == 0 {
		o.TxnCheckInterval = 30 * time.Second
	}
	if o.TxnCheckMax == 0 {
		o.TxnCheckMax = 15
	}
	if o.TimerPrecision == 0 {
		o.TimerPrecision = time.Second
	}
	if o.TimerMaxDelay == 0 {
		o.TimerMaxDelay = 7 * 24 * time.Hour
	}
	if o.Clock == nil {
		o.Clock = clock.New()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports every problem of o at once. Call it after EnsureDefaults.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("log: options: "+format, args...)) }
	if o.SegmentSize < minSegmentSize {
		bad("SegmentSize %d is below the minimum %d", o.SegmentSize, minSegmentSize)
	}
	if o.MaxMessageSize <= 0 {
		bad("MaxMessageSize %d must be positive", o.MaxMessageSize)
	}
	if int64(o.MaxMessageSize)+segmentOverhead > o.SegmentSize {
		bad("MaxMessageSize %d does not fit a segment of %d bytes (needs %d bytes of overhead)", o.MaxMessageSize, o.SegmentSize, segmentOverhead)
	}
	if o.MaxMessageSize > maxBodySize {
		bad("MaxMessageSize %d exceeds the format's limit %d", o.MaxMessageSize, maxBodySize)
	}
	if o.MaxPropertiesSize <= 0 || o.MaxPropertiesSize > 1<<20 {
		bad("MaxPropertiesSize %d must be in (0, 1 MiB]", o.MaxPropertiesSize)
	}
	if o.ConsumeQueueFileEntries < 16 {
		bad("ConsumeQueueFileEntries %d is below 16", o.ConsumeQueueFileEntries)
	}
	if o.Durability != Async && o.Durability != Sync {
		bad("Durability %d is neither Async nor Sync", o.Durability)
	}
	if o.FlushInterval < 0 || o.CheckpointInterval < 0 || o.RetentionCheckInterval < 0 {
		bad("intervals must not be negative")
	}
	if o.TxnTimeout < 0 || o.TxnCheckInterval < 0 || o.TxnCheckMax < 0 {
		bad("transaction timeouts and TxnCheckMax must not be negative")
	}
	if o.TimerPrecision < time.Millisecond || o.TimerPrecision%time.Millisecond != 0 {
		bad("TimerPrecision %v must be a whole number of milliseconds, at least 1 ms", o.TimerPrecision)
	}
	if o.TimerMaxDelay < o.TimerPrecision {
		bad("TimerMaxDelay %v is below TimerPrecision %v", o.TimerMaxDelay, o.TimerPrecision)
	}
	if o.RetentionBytes < 0 {
		bad("RetentionBytes %d must not be negative", o.RetentionBytes)
	}
	return errors.Join(errs...)
}
