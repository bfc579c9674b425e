package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riffle-streams/riffle/stream"
)

// Delivery is a sink's guarantee in a checkpointed job.
type Delivery int

const (
	// ExactlyOnce writes each checkpoint epoch of each subtask in its own Kafka
	// transaction, committed after the job's checkpoint commits (the default).
	ExactlyOnce Delivery = iota
	// AtLeastOnce produces records directly (idempotent producer) and flushes them at
	// every checkpoint barrier: after a crash the records since the last checkpoint are
	// written again.
	AtLeastOnce
)

// DefaultTransactionTimeout is the default SinkOptions.TransactionTimeout: Kafka's
// default transaction.max.timeout.ms.
const DefaultTransactionTimeout = 15 * time.Minute

// SinkOptions configures a sink.
type SinkOptions struct {
	// Brokers are the seed brokers (host:port). Required.
	Brokers []string
	// Topic receives the records whose Record.Topic the encode function left empty.
	// The connector does not create topics.
	Topic string
	// Delivery is the guarantee in a checkpointed job. Default ExactlyOnce. A job
	// without checkpoints is always at-least-once.
	Delivery Delivery
	// TransactionalIDPrefix names the sink's Kafka transactions:
	// PREFIX-SUBTASK-EPOCH. Required with ExactlyOnce. Use riffle-JOB-SINK (the job's
	// and the sink operator's names), keep it stable across runs of the job (recovery
	// finds the transactions by it), and unique in the cluster: Recover aborts open
	// transactions of later epochs under this prefix.
	TransactionalIDPrefix string
	// TransactionTimeout is the Kafka transaction timeout: a pre-committed epoch's
	// transaction must be committed within it, or the broker aborts it and its records
	// are lost (see the package documentation). It bounds how long a crashed job may
	// stay down without losing output, must exceed the checkpoint interval plus the
	// time a commit takes, and may not exceed the brokers' transaction.max.timeout.ms.
	// Default DefaultTransactionTimeout.
	TransactionTimeout time.Duration
	// IgnoreLostTransactions makes Recover log a TransactionLostError and go on
	// (accepting the loss of that epoch's records) instead of failing the job.
	IgnoreLostTransactions bool
	// ClientOpts are added to every franz-go client the sink makes (TLS, SASL, a
	// logger, batching); they are applied after the sink's own options, which set the
	// transactional id and timeout: do not override those.
	ClientOpts []kgo.Opt
	// Logger receives what Recover did. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SinkOptions) EnsureDefaults() {
	if o.TransactionTimeout == 0 {
		o.TransactionTimeout = DefaultTransactionTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports every problem of the options at once.
func (o *SinkOptions) Validate() error {
	var errs []error
	if len(o.Brokers) == 0 {
		errs = append(errs, errors.New("no Brokers"))
	}
	switch o.Delivery {
	case ExactlyOnce:
		if o.TransactionalIDPrefix == "" {
			errs = append(errs, errors.New("no TransactionalIDPrefix: ExactlyOnce needs one (riffle-JOB-SINK, say)"))
		}
	case AtLeastOnce:
	default:
		errs = append(errs, fmt.Errorf("Delivery %d: want ExactlyOnce or AtLeastOnce", o.Delivery))
	}
	if o.TransactionTimeout < time.Second {
		errs = append(errs, fmt.Errorf("TransactionTimeout %v: want at least 1s", o.TransactionTimeout))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("kafka: invalid sink options: %w", errors.Join(errs...))
}

// Sink writes a stream to Kafka. Make it with NewSink; see the package documentation
// for its guarantees.
//
// CommitEpoch and Recover run on the job's coordinator goroutine; the writers run on
// their subtasks' goroutines and share nothing with them but the options: a
// pre-committed transaction is handed over as its handle, never as a client.
type Sink[T any] struct {
	opts   SinkOptions
	encode func(stream.Record[T]) (*kgo.Record, error)

	mu struct {
		sync.Mutex
		admin *kgo.Client // ends and fences transactions; made on first use
	}
}

var _ stream.TwoPhaseCommitSink = (*Sink[int])(nil)

// NewSink returns a sink whose records encode makes (required). The encode function may
// leave Record.Topic empty (SinkOptions.Topic) and Record.Timestamp zero (the stream
// record's timestamp, or the time of producing when it has none); Record.Partition is
// chosen by the client's partitioner (by default, by the hash of the key).
func NewSink[T any](opts SinkOptions, encode func(stream.Record[T]) (*kgo.Record, error)) (*Sink[T], error) {
	opts.EnsureDefaults()
	err := opts.Validate()
	if encode == nil {
		err = errors.Join(err, errors.New("kafka: NewSink needs an encode function"))
	}
	if err != nil {
		return nil, err
	}
	return &Sink[T]{opts: opts, encode: encode}, nil
}

// Open implements stream.Sink. In a checkpointed job with ExactlyOnce the writer is
// transactional; otherwise it is an idempotent producer. Returns an error wrapping
// ErrNoTopic if SinkOptions.Topic does not exist.
func (s *Sink[T]) Open(ctx stream.Context) (stream.SinkWriter[T], error) {
	if s.opts.Topic != "" {
		err := withAdmin(s.opts.Brokers, s.opts.ClientOpts, func(cl *kgo.Client) error {
			_, err := partitionCount(context.Background(), cl, s.opts.Topic)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if txns := stream.Transactions(ctx); txns != nil && s.opts.Delivery == ExactlyOnce {
		return s.newTxnWriter(ctx.Subtask(), txns.FirstEpoch()), nil
	}
	cl, err := newClient(s.opts.Brokers, s.opts.ClientOpts)
	if err != nil {
		return nil, err
	}
	return &plainWriter[T]{s: s, cl: cl}, nil
}

// record makes the Kafka record of r.
func (s *Sink[T]) record(r stream.Record[T]) (*kgo.Record, error) {
	rec, err := s.encode(r)
	if err != nil {
		return nil, fmt.Errorf("kafka: encode: %w", err)
	}
	if rec == nil {
		return nil, errors.New("kafka: encode returned no record")
	}
	if rec.Topic == "" {
		if s.opts.Topic == "" {
			return nil, errors.New("kafka: encode left Record.Topic empty and SinkOptions.Topic is not set")
		}
		rec.Topic = s.opts.Topic
	}
	if rec.Timestamp.IsZero() && r.Timestamp != stream.NoTimestamp && r.Timestamp >= 0 {
		rec.Timestamp = time.UnixMilli(r.Timestamp)
	}
	return rec, nil
}

// txnID is the transactional id of subtask sub's transaction of epoch e.
func (s *Sink[T]) txnID(sub int, e uint64) string {
	return s.opts.TransactionalIDPrefix + "-" + strconv.Itoa(sub) + "-" + strconv.FormatUint(e, 10)
}

// produceErr keeps the first error of a writer's produce promises (which run on
// franz-go's goroutines).
type produceErr struct {
	mu  sync.Mutex
	err error
}

func (p *produceErr) promise(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = fmt.Errorf("kafka: produce to %s: %w", r.Topic, err)
	}
	p.mu.Unlock()
}

func (p *produceErr) get() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// --- exactly-once ---

// handle is what a transactional writer's PreCommit returns for the checkpoint: enough
// to end the transaction from any process, the way Flink's KafkaSink resumes a
// transaction by its producer id and epoch.
type handle struct {
	TxnID         string `json:"txn"`
	ProducerID    int64  `json:"pid"`
	ProducerEpoch int16  `json:"epoch"`
}

// txnWriter writes each epoch in a Kafka transaction of its own transactional id
// (PREFIX-SUBTASK-EPOCH), opened by the epoch's first record. Used from the subtask's
// goroutine only.
type txnWriter[T any] struct {
	s     *Sink[T]
	sub   int
	epoch uint64      // the epoch being written
	cl    *kgo.Client // the epoch's producer, in a transaction; nil before its first record
	txnID string
	perr  *produceErr
	bytes atomic.Int64
}

func (s *Sink[T]) newTxnWriter(sub int, first uint64) *txnWriter[T] {
	return &txnWriter[T]{s: s, sub: sub, epoch: first}
}

// Bytes implements stream.ByteCounter: key and value bytes written.
func (w *txnWriter[T]) Bytes() int64 { return w.bytes.Load() }

// begin opens the transaction of the current epoch. Initializing the producer id fences
// an earlier producer of the same transactional id and aborts its open transaction (a
// previous run's attempt at this epoch).
func (w *txnWriter[T]) begin() error {
	o := &w.s.opts
	id := w.s.txnID(w.sub, w.epoch)
	cl, err := newClient(o.Brokers, o.ClientOpts,
		kgo.TransactionalID(id),
		kgo.TransactionTimeout(o.TransactionTimeout),
		// A producer lives for one epoch: telemetry would only delay its Close.
		kgo.DisableClientMetrics())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.TransactionTimeout)
	defer cancel()
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("kafka: init transactional producer %s: %w", id, err)
	}
	if err := cl.BeginTransaction(); err != nil {
		cl.Close()
		return fmt.Errorf("kafka: begin transaction %s: %w", id, err)
	}
	w.cl, w.txnID, w.perr = cl, id, &produceErr{}
	return nil
}

func (w *txnWriter[T]) Write(r stream.Record[T]) error {
	rec, err := w.s.record(r)
	if err != nil {
		return err
	}
	if w.cl == nil {
		if err := w.begin(); err != nil {
			return err
		}
	} else if err := w.perr.get(); err != nil {
		return err
	}
	w.bytes.Add(int64(len(rec.Key) + len(rec.Value)))
	w.cl.Produce(context.Background(), rec, w.perr.promise)
	return nil
}

// PreCommit implements stream.PreCommitter: it flushes epoch's transaction and returns
// its handle (nil for an epoch without records). The transaction stays open on the
// brokers: the producer client is closed without ending it, and CommitEpoch (or, after a
// crash, Recover) commits it by its handle.
func (w *txnWriter[T]) PreCommit(epoch uint64) ([]byte, error) {
	if w.cl == nil {
		w.epoch = epoch + 1
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.s.opts.TransactionTimeout)
	defer cancel()
	err := w.cl.Flush(ctx)
	if err == nil {
		err = w.perr.get()
	}
	var pid int64
	var pe int16
	if err == nil {
		pid, pe, err = w.cl.ProducerID(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: pre-commit transaction %s: %w", w.txnID, err)
	}
	h, err := json.Marshal(handle{TxnID: w.txnID, ProducerID: pid, ProducerEpoch: pe})
	if err != nil {
		return nil, err
	}
	w.cl.Close()
	w.cl, w.perr = nil, nil
	w.epoch = epoch + 1
	return h, nil
}

// Close aborts the transaction of an epoch that was not pre-committed (the job is
// stopping on a failure or a cancellation): its records will be processed again.
func (w *txnWriter[T]) Close() error {
	if w.cl == nil {
		return nil
	}
	cl := w.cl
	w.cl = nil
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("kafka: abort transaction %s: %w", w.txnID, err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("kafka: abort transaction %s: %w", w.txnID, err)
	}
	return nil
}

// CommitEpoch implements stream.TwoPhaseCommitSink: it commits the transactions whose
// handles epoch's writers returned. Committing a transaction that is committed already
// succeeds, so a repeated call does nothing. Returns a *TransactionLostError if a
// transaction was aborted by the broker or fenced.
func (s *Sink[T]) CommitEpoch(ctx context.Context, epoch uint64, handles [][]byte) error {
	if s.opts.Delivery != ExactlyOnce {
		return nil
	}
	for _, raw := range handles {
		if len(raw) == 0 {
			continue
		}
		h, err := parseHandle(raw)
		if err != nil {
			return fmt.Errorf("kafka: epoch %d: %w", epoch, err)
		}
		if err := s.commit(ctx, epoch, h); err != nil {
			return err
		}
	}
	return nil
}

// Recover implements stream.TwoPhaseCommitSink: it commits the transactions of the last
// committed epoch that are not committed yet (the crash came between the job's commit
// and CommitEpoch), then aborts every open transaction of a later epoch under
// TransactionalIDPrefix (pre-committed or being written when the previous run stopped:
// their input is read again). A transaction of the epoch that can no longer be committed
// returns a *TransactionLostError, unless IgnoreLostTransactions.
func (s *Sink[T]) Recover(ctx context.Context, epoch uint64, handles [][]byte) error {
	if s.opts.Delivery != ExactlyOnce {
		return nil
	}
	log := s.opts.Logger.With("sink", s.opts.TransactionalIDPrefix)
	for _, raw := range handles {
		if len(raw) == 0 {
			continue
		}
		h, err := parseHandle(raw)
		if err != nil {
			return fmt.Errorf("kafka: recover epoch %d: %w", epoch, err)
		}
		err = s.commit(ctx, epoch, h)
		var lost *TransactionLostError
		switch {
		case err == nil:
		case errors.Is(err, errExpired):
			log.Warn("kafka: the transactional id of a committed epoch expired on the brokers: assuming its transaction was committed before (after the timeout it cannot have stayed open)",
				"txn", h.TxnID, "epoch", epoch)
		case errors.As(err, &lost) && s.opts.IgnoreLostTransactions:
			log.Error("kafka: output of a committed epoch is lost (IgnoreLostTransactions)", "txn", h.TxnID, "epoch", epoch, "err", err)
		default:
			return err
		}
	}
	n, err := s.abortLater(ctx, epoch)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("kafka: aborted open transactions of uncommitted epochs", "count", n, "after_epoch", epoch)
	}
	return nil
}

// Close releases the connections CommitEpoch and Recover use. Call it after the job's
// Run returned; a later CommitEpoch or Recover opens them again. It may be called more
// than once.
func (s *Sink[T]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.admin != nil {
		s.mu.admin.Close()
		s.mu.admin = nil
	}
	return nil
}

// --- at-least-once ---

// plainWriter produces with an idempotent producer and flushes at barriers.
type plainWriter[T any] struct {
	s     *Sink[T]
	cl    *kgo.Client
	perr  produceErr
	bytes atomic.Int64
}

// Bytes implements stream.ByteCounter: key and value bytes written.
func (w *plainWriter[T]) Bytes() int64 { return w.bytes.Load() }

func (w *plainWriter[T]) Write(r stream.Record[T]) error {
	if err := w.perr.get(); err != nil {
		return err
	}
	rec, err := w.s.record(r)
	if err != nil {
		return err
	}
	w.bytes.Add(int64(len(rec.Key) + len(rec.Value)))
	w.cl.Produce(context.Background(), rec, w.perr.promise)
	return nil
}

func (w *plainWriter[T]) flush() error {
	if err := w.cl.Flush(context.Background()); err != nil {
		return fmt.Errorf("kafka: flush: %w", err)
	}
	return w.perr.get()
}

// PreCommit implements stream.PreCommitter: every record written before the barrier is
// acknowledged by the brokers before the checkpoint can commit.
func (w *plainWriter[T]) PreCommit(uint64) ([]byte, error) { return nil, w.flush() }

// Close flushes and closes the producer.
func (w *plainWriter[T]) Close() error {
	if w.cl == nil {
		return nil
	}
	err := w.flush()
	w.cl.Close()
	w.cl = nil
	return err
}
