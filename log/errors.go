package log

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every method of a closed Log.
	ErrClosed = errors.New("log: closed")
	// ErrTopicExists is returned by CreateTopic for a topic that already exists.
	ErrTopicExists = errors.New("log: topic already exists")
	// ErrUnknownTopic is returned for a topic that does not exist.
	ErrUnknownTopic = errors.New("log: unknown topic")
	// ErrInvalidMessage wraps every validation error of a message; nothing of an invalid
	// message reaches the commitlog.
	ErrInvalidMessage = errors.New("log: invalid message")
	// ErrInvalidTopicName wraps a topic name that is empty, too long or has characters
	// outside [A-Za-z0-9_%|-].
	ErrInvalidTopicName = errors.New("log: invalid topic name")
	// ErrLocked means another process (or another Open in this process) holds the data
	// directory.
	ErrLocked = errors.New("log: data directory is locked")
)

// OffsetOutOfRangeError is returned by a read below a queue's earliest offset (deleted by
// retention) or beyond its end. Earliest and Latest bound the readable offsets [Earliest, Latest).
type OffsetOutOfRangeError struct {
	Topic    string
	Queue    int
	Offset   int64
	Earliest int64
	Latest   int64
}

func (e *OffsetOutOfRangeError) Error() string {
	return fmt.Sprintf("log: offset %d of %s/%d is out of range: readable offsets are [%d, %d)",
		e.Offset, e.Topic, e.Queue, e.Earliest, e.Latest)
}

// CorruptionError reports bytes on disk that fail validation. The log never returns
// corrupt data: the read that meets it fails with this error instead.
type CorruptionError struct {
	File   string // path of the file
	Offset int64  // byte offset in the file
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("log: corrupt data in %s at byte %d: %s", e.File, e.Offset, e.Reason)
}

// FailedError means an earlier write or fsync failed; the log refuses further appends
// rather than risk acknowledging data it cannot vouch for. Reopen the log to recover.
type FailedError struct{ Err error }

func (e *FailedError) Error() string {
	return "log: failed, reopen to recover: " + e.Err.Error()
}

func (e *FailedError) Unwrap() error { return e.Err }
