package kafka

import (
	"errors"
	"fmt"
)

// ErrNoTopic: the source's topic, the dead-letter topic or a sink's topic does not
// exist in the cluster (the connector never creates topics).
var ErrNoTopic = errors.New("kafka: no such topic")

// DecodeError is a record the source's Decode function rejected, with its position. It
// fails the job unless SourceOptions.DeadLetter is set.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("kafka: decode record %s/%d@%d: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// OffsetError is a position the source cannot read from: a checkpoint (or
// SourceOptions.StartOffsets) names an offset that is no longer, or not yet, in the
// partition, typically because retention deleted records the job had not read. The
// records between the position and Earliest are lost to the job.
type OffsetError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Earliest and End are the partition's first offset and its high watermark.
	Earliest, End int64
}

func (e *OffsetError) Error() string {
	if e.Offset < e.Earliest {
		return fmt.Sprintf("kafka: %s/%d: offset %d was deleted (the partition starts at %d): records %d to %d are lost to this job",
			e.Topic, e.Partition, e.Offset, e.Earliest, e.Offset, e.Earliest-1)
	}
	return fmt.Sprintf("kafka: %s/%d: offset %d is beyond the partition's end %d", e.Topic, e.Partition, e.Offset, e.End)
}

// TransactionLostError is a pre-committed Kafka transaction of a committed epoch that
// can no longer be committed: the broker aborted it (its TransactionTimeout passed
// before the job committed it, typically because the job was down that long) or a
// producer with the same transactional id fenced it. The epoch's records are not in the
// topic, while the job's state and input positions moved past them. Recover returns it
// unless SinkOptions.IgnoreLostTransactions is set.
type TransactionLostError struct {
	// TransactionalID and Epoch (the job's checkpoint epoch) name the transaction.
	TransactionalID string
	Epoch           uint64
	Err             error
}

func (e *TransactionLostError) Error() string {
	return fmt.Sprintf("kafka: transaction %s of committed epoch %d was aborted by the broker (transaction timeout) or fenced, so its records are lost from the topic: %v",
		e.TransactionalID, e.Epoch, e.Err)
}

func (e *TransactionLostError) Unwrap() error { return e.Err }
