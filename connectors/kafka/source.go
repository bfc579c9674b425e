package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riffle-streams/riffle/stream"
)

// StartAt says where a source starts reading a partition that has no position in the
// job's checkpoint.
type StartAt int

const (
	// Earliest starts at the partition's first offset (the default).
	Earliest StartAt = iota
	// Latest starts at the partition's end (its last stable offset): only new records.
	Latest
)

// SourceOptions configures a source.
type SourceOptions struct {
	// Brokers are the seed brokers (host:port). Required.
	Brokers []string
	// Topic is read, one split per partition. Required.
	Topic string
	// Start is where a partition without a checkpointed position starts. Default
	// Earliest.
	Start StartAt
	// StartOffsets overrides Start for the partitions it has. A checkpoint's position
	// overrides both.
	StartOffsets map[int32]int64
	// Group, when set, names a Kafka consumer group the source reports to, the way
	// Flink's Kafka source does: a partition with neither a checkpointed position nor a
	// StartOffsets entry starts at the group's committed offset (Start applies when the
	// group has none), and after every committed checkpoint of the job the source
	// commits its partitions' positions to the group, so that Kafka's tools
	// (kafka-consumer-groups, lag exporters) show the job's progress. The source does
	// not join the group: riffle assigns partitions to subtasks itself, and the job's
	// checkpoint, not the group, is what it resumes from. Do not share the group with
	// consumers that join it.
	Group string
	// Bounded stops each partition at the end (last stable offset) it had when the
	// source opened it: the job then ends once every record before it was processed.
	Bounded bool
	// DeadLetter, when set, receives the records Decode rejects instead of failing the
	// job: the record's key, value, timestamp and headers, plus the headers
	// riffle.error (the reason) and riffle.source (topic/partition@offset). The topic
	// must exist. Dead letters are at-least-once: a restarted job may send a record
	// again.
	DeadLetter string
	// ClientOpts are added to every franz-go client the source makes (TLS, SASL, a
	// logger, fetch sizes); they are applied after the source's own options, which fix
	// the partition, the offset, read_committed and the reset policy: do not override
	// those.
	ClientOpts []kgo.Opt
	// Logger receives the source's notices. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SourceOptions) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports every problem of the options at once.
func (o *SourceOptions) Validate() error {
	var errs []error
	if len(o.Brokers) == 0 {
		errs = append(errs, errors.New("no Brokers"))
	}
	if o.Topic == "" {
		errs = append(errs, errors.New("no Topic"))
	}
	if o.Start != Earliest && o.Start != Latest {
		errs = append(errs, fmt.Errorf("Start %d: want Earliest or Latest", o.Start))
	}
	if o.DeadLetter != "" && o.DeadLetter == o.Topic {
		errs = append(errs, errors.New("DeadLetter is the source's own Topic"))
	}
	for p, off := range o.StartOffsets {
		if p < 0 || off < 0 {
			errs = append(errs, fmt.Errorf("StartOffsets[%d] = %d: want a partition and an offset >= 0", p, off))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("kafka: invalid source options: %w", errors.Join(errs...))
}

// Source reads a Kafka topic, one split per partition, with read_committed isolation.
// Make it with NewSource; see the package documentation.
type Source[T any] struct {
	opts   SourceOptions
	decode func(*kgo.Record) (T, error)
	sig    signal
}

// NewSource returns a source of opts.Topic whose records decode reads (required).
func NewSource[T any](opts SourceOptions, decode func(*kgo.Record) (T, error)) (*Source[T], error) {
	opts.EnsureDefaults()
	err := opts.Validate()
	if decode == nil {
		err = errors.Join(err, errors.New("kafka: NewSource needs a decode function"))
	}
	if err != nil {
		return nil, err
	}
	return &Source[T]{opts: opts, decode: decode}, nil
}

// Splits implements stream.Source: the topic's partitions, "0" to "N-1". Returns an
// error wrapping ErrNoTopic if the topic (or the dead-letter topic) does not exist.
func (s *Source[T]) Splits(ctx context.Context) ([]string, error) {
	var n int
	err := withAdmin(s.opts.Brokers, s.opts.ClientOpts, func(cl *kgo.Client) (err error) {
		if s.opts.DeadLetter != "" {
			if _, err := partitionCount(ctx, cl, s.opts.DeadLetter); err != nil {
				return fmt.Errorf("dead-letter topic: %w", err)
			}
		}
		n, err = partitionCount(ctx, cl, s.opts.Topic)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out, nil
}

// Open implements stream.Source: it resolves where the partition starts (and, bounded,
// where it ends); reading starts with the first Read or Wait, which fails with an
// *OffsetError if a SourceOptions.StartOffsets position is not within the partition
// (unless SeekTo replaced it).
func (s *Source[T]) Open(ctx context.Context, split string) (stream.SplitReader[T], error) {
	p, err := strconv.ParseInt(split, 10, 32)
	if err != nil || p < 0 {
		return nil, fmt.Errorf("kafka: bad split %q: want a partition number", split)
	}
	r := &reader[T]{src: s, part: int32(p), end: -1}
	err = withAdmin(s.opts.Brokers, s.opts.ClientOpts, func(cl *kgo.Client) (err error) {
		committed := int64(-1)
		if _, ok := s.opts.StartOffsets[r.part]; !ok && s.opts.Group != "" {
			if committed, err = groupOffset(ctx, cl, s.opts.Group, s.opts.Topic, r.part); err != nil {
				return err
			}
		}
		if off, ok := s.opts.StartOffsets[r.part]; ok {
			// Checked when reading starts: a checkpoint's position (SeekTo, right after
			// Open) replaces it, however stale it has become.
			r.next, r.checkStart = off, true
		} else if committed >= 0 {
			r.next, r.checkStart = committed, true
		} else {
			ts := listEarliest
			if s.opts.Start == Latest {
				ts = listLatest
			}
			if r.next, err = listOffset(ctx, cl, s.opts.Topic, r.part, ts, true); err != nil {
				return err
			}
		}
		if s.opts.Bounded {
			r.end, err = listOffset(ctx, cl, s.opts.Topic, r.part, listLatest, true)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// CheckpointCommitted implements stream.CheckpointListener: with SourceOptions.Group set,
// it commits the positions of a committed checkpoint to the group.
func (s *Source[T]) CheckpointCommitted(ctx context.Context, epoch uint64, positions map[string]int64) error {
	if s.opts.Group == "" {
		return nil
	}
	offsets := make(map[int32]int64, len(positions))
	for split, off := range positions {
		p, err := strconv.ParseInt(split, 10, 32)
		if err != nil {
			return fmt.Errorf("kafka: checkpoint %d names split %q: want a partition number", epoch, split)
		}
		offsets[int32(p)] = off
	}
	return withAdmin(s.opts.Brokers, s.opts.ClientOpts, func(cl *kgo.Client) error {
		return commitGroupOffsets(ctx, cl, s.opts.Group, s.opts.Topic, offsets)
	})
}

// signal wakes the waiting readers of a source whenever one of its partitions has
// fetched records: the runtime waits on one reader of a subtask for all of them.
type signal struct {
	mu  sync.Mutex
	gen uint64
	ch  chan struct{}
}

// current returns the generation now (readers note it when they read).
func (s *signal) current() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

func (s *signal) fire() {
	s.mu.Lock()
	s.gen++
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}

// wait returns once the generation is past seen, or ctx ends.
func (s *signal) wait(ctx context.Context, seen uint64) error {
	s.mu.Lock()
	if s.gen != seen {
		s.mu.Unlock()
		return nil
	}
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	ch := s.ch
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetched is what the poll goroutine hands a reader: records of its partition, or the
// error that stopped fetching.
type fetched struct {
	recs []*kgo.Record
	err  error
}

// reader reads one partition. Its fetching machinery (a franz-go client consuming only
// this partition and a goroutine polling it into ch) starts on the first Read or Wait
// and stops on SeekTo, at the end of a bounded partition, and on Close.
//
// Goroutines: the runtime's source goroutine calls every method; the poll goroutine
// only sends on ch and fires the source's signal, in that order, so that a reader woken
// by the signal finds the records.
type reader[T any] struct {
	src  *Source[T]
	part int32
	next int64 // offset of the next record
	end  int64 // bounded: the end offset; -1: unbounded
	// checkStart: next comes from SourceOptions.StartOffsets and was not checked yet.
	checkStart bool

	cl      *kgo.Client
	cancel  context.CancelFunc
	done    chan struct{}
	ch      chan fetched
	pending []*kgo.Record
	seen    uint64 // the signal's generation when Read last ran

	dlq   *kgo.Client
	bytes atomic.Int64
}

// checkOffset fails unless off is within the partition.
func (r *reader[T]) checkOffset(ctx context.Context, cl *kgo.Client, off int64) error {
	lo, err := listOffset(ctx, cl, r.src.opts.Topic, r.part, listEarliest, false)
	if err != nil {
		return err
	}
	hi, err := listOffset(ctx, cl, r.src.opts.Topic, r.part, listLatest, false)
	if err != nil {
		return err
	}
	if off < lo || off > hi {
		return &OffsetError{Topic: r.src.opts.Topic, Partition: r.part, Offset: off, Earliest: lo, End: hi}
	}
	return nil
}

func (r *reader[T]) atEnd() bool { return r.end >= 0 && r.next >= r.end }

// checkStartOffset checks, once, a position that came from SourceOptions.StartOffsets.
func (r *reader[T]) checkStartOffset() error {
	if !r.checkStart {
		return nil
	}
	err := withAdmin(r.src.opts.Brokers, r.src.opts.ClientOpts, func(cl *kgo.Client) error {
		return r.checkOffset(context.Background(), cl, r.next)
	})
	if err != nil {
		return err
	}
	r.checkStart = false
	return nil
}

// start starts fetching at r.next, unless it runs.
func (r *reader[T]) start() error {
	if r.cl != nil || r.atEnd() {
		return nil
	}
	o := &r.src.opts
	cl, err := newClient(o.Brokers, o.ClientOpts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: {r.part: kgo.NewOffset().At(r.next)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) occupy offsets too: seeing them lets a
		// bounded reader reach an end offset that is a marker, and keeps Offset exact.
		kgo.KeepControlRecords(),
		// An offset that retention deleted fails the job (*OffsetError at open, a fetch
		// error later) instead of skipping records silently.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cl, r.cancel, r.done, r.ch = cl, cancel, make(chan struct{}), make(chan fetched, 2)
	go r.poll(ctx, cl, r.ch, r.done)
	return nil
}

// poll runs in its own goroutine: it hands the client's fetches to the reader. A full
// ch blocks it, and the client stops fetching once it has one fetch buffered: memory is
// bounded per partition.
func (r *reader[T]) poll(ctx context.Context, cl *kgo.Client, ch chan<- fetched, done chan<- struct{}) {
	defer close(done)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		var f fetched
		fs.EachError(func(topic string, p int32, err error) {
			if f.err == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
				f.err = fmt.Errorf("kafka: fetch %s/%d: %w", topic, p, err)
			}
		})
		fs.EachRecord(func(rec *kgo.Record) { f.recs = append(f.recs, rec) })
		if len(f.recs) == 0 && f.err == nil {
			continue
		}
		select {
		case ch <- f:
		case <-ctx.Done():
			return
		}
		r.src.sig.fire()
		if f.err != nil {
			return
		}
	}
}

// stop stops fetching and drops what was fetched.
func (r *reader[T]) stop() {
	if r.cl == nil {
		return
	}
	r.cancel()
	r.cl.Close()
	<-r.done
	r.cl, r.cancel, r.done, r.ch, r.pending = nil, nil, nil, nil, nil
}

// Read implements stream.SplitReader.
func (r *reader[T]) Read(buf []stream.Record[T]) (int, error) {
	if err := r.checkStartOffset(); err != nil {
		return 0, err
	}
	if r.atEnd() {
		r.stop()
		return 0, io.EOF
	}
	r.seen = r.src.sig.current()
	if err := r.start(); err != nil {
		return 0, err
	}
	n := 0
	var nb int64
	defer func() { r.bytes.Add(nb) }()
	for n < len(buf) && !r.atEnd() {
		if len(r.pending) == 0 {
			select {
			case f := <-r.ch:
				if f.err != nil {
					r.stop()
					return n, f.err
				}
				r.pending = f.recs
			default:
			}
			if len(r.pending) == 0 {
				break
			}
		}
		rec := r.pending[0]
		r.pending[0] = nil
		r.pending = r.pending[1:]
		if rec.Offset < r.next {
			continue // before the position (cannot happen)
		}
		if r.end >= 0 && rec.Offset >= r.end {
			r.next = r.end // every offset before the end was passed (compaction may leave gaps)
			continue
		}
		if rec.Attrs.IsControl() {
			r.next = rec.Offset + 1
			continue
		}
		nb += int64(len(rec.Key) + len(rec.Value))
		v, err := r.src.decode(rec)
		if err != nil {
			derr := &DecodeError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Err: err}
			if r.src.opts.DeadLetter == "" {
				r.next = rec.Offset // Offset names the record
				return n, derr
			}
			if err := r.deadLetter(rec, derr); err != nil {
				r.next = rec.Offset
				return n, err
			}
			r.next = rec.Offset + 1
			continue
		}
		buf[n] = stream.Record[T]{Value: v, Timestamp: rec.Timestamp.UnixMilli()}
		n++
		r.next = rec.Offset + 1
	}
	if r.atEnd() {
		r.stop()
		return n, io.EOF
	}
	return n, nil
}

// deadLetter sends rec to the dead-letter topic and waits for the acknowledgement.
func (r *reader[T]) deadLetter(rec *kgo.Record, cause *DecodeError) error {
	o := &r.src.opts
	if r.dlq == nil {
		cl, err := newClient(o.Brokers, o.ClientOpts)
		if err != nil {
			return err
		}
		r.dlq = cl
	}
	headers := append([]kgo.RecordHeader(nil), rec.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: "riffle.error", Value: []byte(cause.Err.Error())},
		kgo.RecordHeader{Key: "riffle.source", Value: fmt.Appendf(nil, "%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)})
	out := &kgo.Record{Topic: o.DeadLetter, Key: rec.Key, Value: rec.Value, Headers: headers, Timestamp: rec.Timestamp}
	if err := r.dlq.ProduceSync(context.Background(), out).FirstErr(); err != nil {
		return fmt.Errorf("kafka: send %s/%d@%d to dead-letter topic %s: %w (decode error: %v)", rec.Topic, rec.Partition, rec.Offset, o.DeadLetter, err, cause.Err)
	}
	o.Logger.Warn("kafka: record sent to the dead-letter topic", "topic", rec.Topic, "partition", rec.Partition,
		"offset", rec.Offset, "dead_letter", o.DeadLetter, "err", cause.Err)
	return nil
}

// Offset implements stream.SplitReader: the offset after the last record (or
// transaction marker) read.
func (r *reader[T]) Offset() int64 { return r.next }

// Wait implements stream.SplitReader: it returns when this reader, or any other reader
// of the source, has fetched records since this reader's last Read (the runtime waits
// on one reader of a subtask for all of its splits).
func (r *reader[T]) Wait(ctx context.Context) error {
	if err := r.checkStartOffset(); err != nil {
		return err
	}
	if r.atEnd() || len(r.pending) > 0 {
		return nil
	}
	if err := r.start(); err != nil {
		return err
	}
	if len(r.ch) > 0 {
		return nil
	}
	return r.src.sig.wait(ctx, r.seen)
}

// SeekTo implements stream.Seeker: the next Read returns the record at offset (or the
// first one after it). Returns an *OffsetError if offset is not within the partition.
func (r *reader[T]) SeekTo(offset int64) error {
	err := withAdmin(r.src.opts.Brokers, r.src.opts.ClientOpts, func(cl *kgo.Client) error {
		return r.checkOffset(context.Background(), cl, offset)
	})
	if err != nil {
		return err
	}
	r.stop()
	r.next, r.checkStart = offset, false
	return nil
}

// Close implements stream.SplitReader. It may be called more than once.
func (r *reader[T]) Close() error {
	r.stop()
	if r.dlq != nil {
		r.dlq.Close()
		r.dlq = nil
	}
	return nil
}

// Bytes implements stream.ByteCounter: key and value bytes read.
func (r *reader[T]) Bytes() int64 { return r.bytes.Load() }
