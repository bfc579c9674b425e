package log

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// ByKey as Message.Queue picks the queue by hashing the key (FNV-1a 64 modulo the queue
// count); a message without a key then goes round-robin.
const ByKey = -1

// Format limits of one message, in bytes.
const (
	MaxTopicLength = 127
	MaxTagsLength  = 255
	maxKeySize     = 64 << 10
	maxBodySize    = 64 << 20
	maxPropName    = 1<<16 - 1
)

// Message is what a producer appends and what a consumer reads. Append fills Queue (when
// ByKey), Offset and StoreTime; Read fills every field.
type Message struct {
	Topic string
	// Queue is the queue index in [0, queues), or ByKey.
	Queue int
	Key   []byte
	// Tags is a short label a consumer can filter on (RocketMQ's tag).
	Tags       string
	Properties map[string]string
	Body       []byte
	// Timestamp is the message's own time in ms since the epoch; 0 means the time of the
	// Append call.
	Timestamp int64
	// DeliverAt, when after the time of the Append call (ms since the epoch), makes this a
	// delayed message: it becomes readable in its queue at that time (to the log's timer
	// precision, never earlier), and Append sets Offset to -1. At most
	// Options.TimerMaxDelay ahead. Not allowed inside a transaction.
	DeliverAt int64

	// Offset is the message's index in its queue (set by Append and Read).
	Offset int64
	// StoreTime is when the log wrote the message, ms since the epoch (set by Append and Read).
	StoreTime int64
}

// QueueForKey returns the queue a key maps to among n queues. The hash is part of the
// on-disk contract: changing it would move keys between queues.
func QueueForKey(key []byte, n int) int {
	h := fnv.New64a()
	h.Write(key)
	return int(h.Sum64() % uint64(n))
}

// ValidateTopicName reports whether name may name a topic: 1 to 127 characters of
// [A-Za-z0-9_%|-] (RocketMQ's rule).
func ValidateTopicName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTopicName)
	}
	if len(name) > MaxTopicLength {
		return fmt.Errorf("%w: %q is %d characters, the limit is %d", ErrInvalidTopicName, name, len(name), MaxTopicLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '%' || c == '|'
		if !ok {
			return fmt.Errorf("%w: %q has %q at byte %d; allowed are letters, digits and _ - %% |", ErrInvalidTopicName, name, c, i)
		}
	}
	return nil
}

// validate checks m against the limits in o, independent of topics.
func (m *Message) validate(o *Options) error {
	if err := ValidateTopicName(m.Topic); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if len(m.Tags) > MaxTagsLength {
		return fmt.Errorf("%w: tags are %d bytes, the limit is %d", ErrInvalidMessage, len(m.Tags), MaxTagsLength)
	}
	if len(m.Key) > maxKeySize {
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", ErrInvalidMessage, len(m.Key), maxKeySize)
	}
	ps := 0
	for k, v := range m.Properties {
		if k == "" {
			return fmt.Errorf("%w: property with an empty name", ErrInvalidMessage)
		}
		if reservedProps[k] {
			return fmt.Errorf("%w: property name %q is reserved for the log's own use", ErrInvalidMessage, k)
		}
		if len(k) > maxPropName || len(v) > maxPropName {
			return fmt.Errorf("%w: property %.40q: name and value are limited to %d bytes each", ErrInvalidMessage, k, maxPropName)
		}
		ps += 4 + len(k) + len(v)
	}
	if ps > o.MaxPropertiesSize {
		return fmt.Errorf("%w: properties are %d bytes encoded, the limit is %d", ErrInvalidMessage, ps, o.MaxPropertiesSize)
	}
	if size := len(m.Key) + len(m.Tags) + ps + len(m.Body); size > o.MaxMessageSize {
		return fmt.Errorf("%w: message is %d bytes (key, tags, properties and body), the limit is %d", ErrInvalidMessage, size, o.MaxMessageSize)
	}
	return nil
}

// fromRecord fills m from a decoded message record.
func (m *Message) fromRecord(r *record.Record, topic string) error {
	props, err := record.DecodeProps(r.Props)
	if err != nil {
		return err
	}
	if r.Type != record.TypeMessage {
		for k := range reservedProps {
			delete(props, k)
		}
		if len(props) == 0 {
			props = nil
		}
	}
	*m = Message{
		Topic:      topic,
		Queue:      int(r.Queue),
		Tags:       string(r.Tags),
		Properties: props,
		Timestamp:  r.Timestamp,
		Offset:     r.QueueOffset,
		StoreTime:  r.StoreTime,
	}
	// Key and Body alias the caller's read buffer, which no one else holds.
	if len(r.Key) > 0 {
		m.Key = r.Key
	}
	m.Body = r.Body
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }
