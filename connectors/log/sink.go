package log

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// Sink writes records to a topic of a log.
//
// In a job with checkpoints (stream.JobOptions.Checkpoints) the messages are half
// messages of the job's checkpoint transactions: a reader sees epoch e's output only
// once e committed, together with the state and the input offsets that produced it, so
// the output is exactly-once across crashes. Without checkpoints the messages are
// appended directly (durable per batch; a restarted job may write them again).
type Sink[T any] struct {
	// Log is the log to write; with checkpoints it must be the job's checkpoint log
	// (nil: that log).
	Log *rlog.Log
	// Topic receives the messages (Encode may leave Message.Topic empty).
	Topic string
	// Queues, when positive, creates Topic with that many queues if it does not exist.
	Queues int
	// Encode turns a record into a message. Message.Queue picks the queue (rlog.ByKey:
	// by the hash of Message.Key); Message.Timestamp 0 takes the record's timestamp.
	Encode func(stream.Record[T]) (*rlog.Message, error)
	// BatchSize is how many messages a writer buffers before it sends them. Default 512.
	BatchSize int
}

// Open implements stream.Sink.
func (s *Sink[T]) Open(ctx stream.Context) (stream.SinkWriter[T], error) {
	if s.Encode == nil {
		return nil, errors.New("logconn: Sink needs an Encode function")
	}
	w := &writer[T]{sink: s, log: s.Log, size: s.BatchSize}
	if w.size <= 0 {
		w.size = 512
	}
	if txns := stream.Transactions(ctx); txns != nil {
		if w.log != nil && w.log != txns.Log() {
			return nil, fmt.Errorf("logconn: sink to %s: a checkpointed job's log sink must write the job's checkpoint log (its transactions are there)", s.Topic)
		}
		w.log, w.txns, w.epoch = txns.Log(), txns, txns.FirstEpoch()
	}
	if w.log == nil {
		return nil, fmt.Errorf("logconn: sink to %s: no Log", s.Topic)
	}
	if s.Queues > 0 {
		if err := w.log.CreateTopic(context.Background(), s.Topic, s.Queues); err != nil && !errors.Is(err, rlog.ErrTopicExists) {
			return nil, fmt.Errorf("logconn: create sink topic: %w", err)
		}
	}
	if _, err := w.log.Topic(s.Topic); err != nil {
		return nil, fmt.Errorf("logconn: sink topic: %w", err)
	}
	return w, nil
}

type writer[T any] struct {
	sink  *Sink[T]
	log   *rlog.Log
	txns  stream.TxnSender
	epoch uint64 // the epoch being written (with checkpoints)
	size  int
	buf   []*rlog.Message
	bytes atomic.Int64
}

// Bytes implements stream.ByteCounter: key and body bytes written.
func (w *writer[T]) Bytes() int64 { return w.bytes.Load() }

func (w *writer[T]) Write(r stream.Record[T]) error {
	m, err := w.sink.Encode(r)
	if err != nil {
		return fmt.Errorf("logconn: encode: %w", err)
	}
	if m.Topic == "" {
		m.Topic = w.sink.Topic
	}
	if m.Timestamp == 0 && r.Timestamp != stream.NoTimestamp && r.Timestamp > 0 {
		m.Timestamp = r.Timestamp
	}
	if err := w.log.ValidateMessage(m); err != nil {
		return fmt.Errorf("logconn: sink to %s: %w", m.Topic, err)
	}
	w.buf = append(w.buf, m)
	w.bytes.Add(int64(len(m.Key) + len(m.Body)))
	if len(w.buf) >= w.size {
		return w.flush()
	}
	return nil
}

func (w *writer[T]) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	var err error
	if w.txns != nil {
		err = w.txns.Send(context.Background(), w.epoch, w.buf...)
	} else {
		err = w.log.Append(context.Background(), w.buf...)
	}
	clear(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("logconn: sink to %s: %w", w.sink.Topic, err)
	}
	return nil
}

// PreCommit implements stream.PreCommitter: epoch's remaining messages join its
// transaction; the coordinator's commit of the epoch makes them visible.
func (w *writer[T]) PreCommit(epoch uint64) ([]byte, error) {
	if w.txns == nil {
		return nil, w.flush()
	}
	w.epoch = epoch
	err := w.flush()
	w.epoch = epoch + 1
	return nil, err
}

func (w *writer[T]) Close() error { return w.flush() }
