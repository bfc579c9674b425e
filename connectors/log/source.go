// Package log connects jobs to riffle's embedded log: a source over a topic's queues
// (one split per queue, offsets as positions, the message time as event time) — import
// it as logconn beside github.com/riffle-streams/riffle/log.
package log

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// StartAt says where a source starts reading each queue.
type StartAt int

const (
	// Committed starts at the group's committed offset, or the earliest offset when the
	// group has none (the default).
	Committed StartAt = iota
	// Earliest starts at the queue's earliest offset.
	Earliest
	// Latest starts at the queue's end: only new messages.
	Latest
)

// Source reads a topic of a log: one split per queue.
type Source[T any] struct {
	Log   *rlog.Log
	Topic string
	// Group whose committed offsets Committed starts from.
	Group string
	Start StartAt
	// Bounded stops each queue at the end it had when the source opened it.
	Bounded bool
	// Decode turns a message into a record value. An error fails the job, naming the
	// queue and offset, unless DeadLetter is set.
	Decode func(m *rlog.Message) (T, error)
	// DeadLetter, when set, receives messages Decode rejects (with the error in property
	// "riffle.error" and the message's position, TOPIC/QUEUE@OFFSET, in
	// "riffle.source"), appended to this topic (created with one queue if missing),
	// instead of failing the job. Nothing is skipped silently. A message is dead-lettered
	// once: after a checkpointed job restores its position, the messages it reads again
	// that the run before it dead-lettered are not appended a second time.
	DeadLetter string
	// Offsets, when set, overrides the start offset of queues it has (restoring from a
	// checkpoint).
	Offsets map[int]int64
}

// Splits lists the topic's queues.
func (s *Source[T]) Splits(context.Context) ([]string, error) {
	ti, err := s.Log.Topic(s.Topic)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ti.Queues))
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out, nil
}

// Open opens the reader of one queue.
func (s *Source[T]) Open(ctx context.Context, split string) (stream.SplitReader[T], error) {
	if s.Decode == nil {
		return nil, errors.New("logconn: Source needs a Decode function")
	}
	q, err := strconv.Atoi(split)
	if err != nil {
		return nil, fmt.Errorf("logconn: bad split %q", split)
	}
	lo, hi, err := s.Log.QueueBounds(s.Topic, q)
	if err != nil {
		return nil, err
	}
	off := lo
	switch s.Start {
	case Latest:
		off = hi
	case Committed:
		if s.Group != "" {
			if o, ok := s.Log.CommittedOffset(s.Group, s.Topic, q); ok {
				off = max(o, lo)
			}
		}
	}
	if o, ok := s.Offsets[q]; ok {
		off = o
	}
	r := &reader[T]{src: s, queue: q, next: off, end: -1, restored: -1}
	if s.Bounded {
		r.end = hi
	}
	if s.DeadLetter != "" {
		if err := s.Log.CreateTopic(ctx, s.DeadLetter, 1); err != nil && !errors.Is(err, rlog.ErrTopicExists) {
			return nil, err
		}
	}
	return r, nil
}

type reader[T any] struct {
	src   *Source[T]
	queue int
	next  int64
	end   int64 // -1: unbounded
	bytes atomic.Int64

	// restored is the offset SeekTo restored, -1 if none: messages from there on may have
	// been dead-lettered by an earlier run. lettered holds their offsets, read from the
	// dead-letter topic when the first rejected message after a restore comes.
	restored int64
	lettered map[int64]bool
}

func (r *reader[T]) Read(buf []stream.Record[T]) (int, error) {
	if r.end >= 0 && r.next >= r.end {
		return 0, io.EOF
	}
	max := len(buf)
	if r.end >= 0 && int64(max) > r.end-r.next {
		max = int(r.end - r.next)
	}
	f, err := r.src.Log.Read(context.Background(), r.src.Topic, r.queue, r.next, rlog.ReadOptions{Max: max})
	var oor *rlog.OffsetOutOfRangeError
	if errors.As(err, &oor) && r.next < oor.Earliest {
		return 0, fmt.Errorf("logconn: %s/%d: offsets %d to %d were deleted by retention before they were read: %w", r.src.Topic, r.queue, r.next, oor.Earliest-1, err)
	}
	if err != nil {
		return 0, err
	}
	n := 0
	var nb int64
	defer func() { r.bytes.Add(nb) }()
	for i := range f.Messages {
		m := &f.Messages[i]
		nb += int64(len(m.Key) + len(m.Body))
		v, err := r.src.Decode(m)
		if err != nil {
			if r.src.DeadLetter == "" {
				r.next = m.Offset // the error names this message's offset
				return n, fmt.Errorf("decode message %s/%d@%d: %w", m.Topic, m.Queue, m.Offset, err)
			}
			if derr := r.deadLetter(m, err); derr != nil {
				return n, derr
			}
			continue
		}
		buf[n] = stream.Record[T]{Value: v, Timestamp: m.Timestamp}
		n++
	}
	r.next = f.Next
	if r.end >= 0 && r.next >= r.end {
		return n, io.EOF
	}
	return n, nil
}

func (r *reader[T]) deadLetter(m *rlog.Message, cause error) error {
	if r.restored >= 0 && m.Offset >= r.restored {
		if r.lettered == nil {
			var err error
			if r.lettered, err = r.letteredSince(r.restored); err != nil {
				return err
			}
		}
		if r.lettered[m.Offset] {
			return nil // dead-lettered by the run before the restore
		}
	}
	props := make(map[string]string, len(m.Properties)+2)
	for k, v := range m.Properties {
		props[k] = v
	}
	props["riffle.error"], props["riffle.source"] = cause.Error(), r.position(m.Offset)
	return r.src.Log.Append(context.Background(), &rlog.Message{Topic: r.src.DeadLetter, Queue: 0, Key: m.Key, Tags: m.Tags,
		Properties: props, Body: m.Body, Timestamp: m.Timestamp})
}

// position is how property riffle.source names a message of this reader's queue.
func (r *reader[T]) position(offset int64) string {
	return fmt.Sprintf("%s/%d@%d", r.src.Topic, r.queue, offset)
}

// letteredSince returns the offsets from from on of this reader's queue that the
// dead-letter topic holds, by reading it whole: dead letters are expected to be few.
func (r *reader[T]) letteredSince(from int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	prefix := fmt.Sprintf("%s/%d@", r.src.Topic, r.queue)
	lo, hi, err := r.src.Log.QueueBounds(r.src.DeadLetter, 0)
	if err != nil {
		return nil, fmt.Errorf("logconn: read dead-letter topic %s: %w", r.src.DeadLetter, err)
	}
	for off := lo; off < hi; {
		f, err := r.src.Log.Read(context.Background(), r.src.DeadLetter, 0, off, rlog.ReadOptions{Max: 1024})
		if err != nil {
			return nil, fmt.Errorf("logconn: read dead-letter topic %s at %d: %w", r.src.DeadLetter, off, err)
		}
		for _, m := range f.Messages {
			if rest, ok := strings.CutPrefix(m.Properties["riffle.source"], prefix); ok {
				if o, err := strconv.ParseInt(rest, 10, 64); err == nil && o >= from {
					out[o] = true
				}
			}
		}
		if f.Next <= off {
			break
		}
		off = f.Next
	}
	return out, nil
}

func (r *reader[T]) Offset() int64 { return r.next }

// Wait blocks until the log has new messages (unbounded readers).
func (r *reader[T]) Wait(ctx context.Context) error {
	ch := r.src.Log.Notify()
	if _, hi, err := r.src.Log.QueueBounds(r.src.Topic, r.queue); err == nil && hi > r.next {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *reader[T]) Close() error { return nil }

// Body decodes a message as its body (a string).
func Body(m *rlog.Message) (string, error) { return string(m.Body), nil }

// SeekTo implements stream.Seeker: a checkpointed job resumes the queue at offset.
func (r *reader[T]) SeekTo(offset int64) error {
	lo, hi, err := r.src.Log.QueueBounds(r.src.Topic, r.queue)
	if err != nil {
		return err
	}
	if offset < lo || offset > hi {
		return fmt.Errorf("logconn: %s/%d: offset %d of the checkpoint is outside the queue's offsets [%d, %d]", r.src.Topic, r.queue, offset, lo, hi)
	}
	r.next, r.restored, r.lettered = offset, offset, nil
	return nil
}

// Bytes implements stream.ByteCounter: key and body bytes read.
func (r *reader[T]) Bytes() int64 { return r.bytes.Load() }

// LogQueue implements stream.LogSplit.
func (r *reader[T]) LogQueue() rlog.QueueRef {
	return rlog.QueueRef{Topic: r.src.Topic, Queue: r.queue}
}
