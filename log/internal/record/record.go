// Package record encodes and decodes commitlog records. It is pure: no I/O, no clock.
//
// The byte layout is specified in log/doc.go; this file is its only implementation.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
)

// Magic is the format version byte of every record.
const Magic byte = 0xA1

// HeaderSize is the fixed part of a record, before its variable fields.
const HeaderSize = 56

// MaxRecordSize bounds a record's length field. Anything larger is treated as corruption,
// so that a flipped bit in a length can never make a reader allocate gigabytes.
const MaxRecordSize = 64 << 20

// Type says what a record means to the derived indexes.
type Type uint8

const (
	// TypeMessage is a user message in a topic's queue.
	TypeMessage Type = 1
	// TypeTopic creates a topic: Topic is its name, Body holds the queue count (u32).
	TypeTopic Type = 2
	// TypeOffsets commits consumer-group offsets: Body is an offsets payload.
	TypeOffsets Type = 3
	// TypeTxnInit opens a new incarnation of a transactional producer.
	TypeTxnInit Type = 4
	// TypeHalf is a message inside an open transaction (system topic RMQ_SYS_TRANS_HALF_TOPIC).
	TypeHalf Type = 5
	// TypeTxnOp commits or aborts a transaction (system topic RMQ_SYS_TRANS_OP_HALF_TOPIC).
	TypeTxnOp Type = 6
	// TypeTimer is a delayed message waiting in rmq_sys_wheel_timer.
	TypeTimer Type = 7
	// TypeTimerOp fires or cancels timers.
	TypeTimerOp Type = 8
	maxType          = TypeTimerOp
)

func (t Type) String() string {
	switch t {
	case TypeMessage:
		return "message"
	case TypeTopic:
		return "topic"
	case TypeOffsets:
		return "offsets"
	case TypeTxnInit:
		return "txn-init"
	case TypeHalf:
		return "half"
	case TypeTxnOp:
		return "txn-op"
	case TypeTimer:
		return "timer"
	case TypeTimerOp:
		return "timer-op"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C (Castagnoli) of b.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Record is one decoded record. Its byte slices alias the buffer it was decoded from.
type Record struct {
	Type        Type
	Flags       uint16
	Queue       uint32
	QueueOffset int64
	StoreTime   int64 // ms since the epoch, set by the appender, non-decreasing in the commitlog
	Timestamp   int64 // ms since the epoch, the message's own time
	Topic       []byte
	Tags        []byte
	Key         []byte
	Props       []byte // encoded properties, see EncodeProps
	Body        []byte
}

// Size is the encoded length of r.
func (r *Record) Size() int {
	return HeaderSize + len(r.Topic) + len(r.Tags) + len(r.Key) + len(r.Props) + len(r.Body)
}

// The CRC covers the bytes [Mutable, length) first and then [8, Mutable): the fields the
// appender assigns (queue, queue offset, store time) come last, so that a producer can
// checksum everything else on its own goroutine and the appender only extends the CRC
// over 24 bytes (see log/doc.go).
const Mutable = 32

// Append encodes r, with its final CRC, at the end of dst and returns the extended slice.
// The caller guarantees the field lengths fit their length fields (the log validates them).
func Append(dst []byte, r *Record) []byte {
	start := len(dst)
	dst = AppendPartial(dst, r)
	Seal(dst[start:], r.Queue, r.QueueOffset, r.StoreTime)
	return dst
}

// AppendPartial encodes r at the end of dst with a partial CRC, covering [Mutable, length)
// only; Seal completes the record. Queue, QueueOffset and StoreTime of r are ignored.
func AppendPartial(dst []byte, r *Record) []byte {
	n := r.Size()
	start := len(dst)
	if cap(dst)-start < n {
		grown := make([]byte, start, 2*cap(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:start+n]
	b := dst[start:]
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(n))
	b[8] = Magic
	b[9] = byte(r.Type)
	le.PutUint16(b[10:], r.Flags)
	le.PutUint64(b[32:], uint64(r.Timestamp))
	le.PutUint16(b[40:], uint16(len(r.Topic)))
	le.PutUint16(b[42:], uint16(len(r.Tags)))
	le.PutUint32(b[44:], uint32(len(r.Key)))
	le.PutUint32(b[48:], uint32(len(r.Props)))
	le.PutUint32(b[52:], uint32(len(r.Body)))
	p := HeaderSize
	p += copy(b[p:], r.Topic)
	p += copy(b[p:], r.Tags)
	p += copy(b[p:], r.Key)
	p += copy(b[p:], r.Props)
	copy(b[p:], r.Body)
	le.PutUint32(b[4:], Checksum(b[Mutable:n]))
	return dst
}

// Seal writes the appender's fields into the partially encoded record b and completes its
// CRC. It must be called exactly once per AppendPartial.
func Seal(b []byte, queue uint32, queueOffset, storeTime int64) {
	le := binary.LittleEndian
	le.PutUint32(b[12:], queue)
	le.PutUint64(b[16:], uint64(queueOffset))
	le.PutUint64(b[24:], uint64(storeTime))
	le.PutUint32(b[4:], crc32.Update(le.Uint32(b[4:]), castagnoli, b[8:Mutable]))
}

// checksum computes a record's CRC as Seal leaves it.
func checksum(b []byte) uint32 {
	return crc32.Update(Checksum(b[Mutable:]), castagnoli, b[8:Mutable])
}

// ErrShort means the buffer ends before the record does. At the end of a commitlog
// segment that is a torn write; inside a read it means the caller must read more.
var ErrShort = errors.New("record: truncated")

// CorruptError means the bytes are not a valid record.
type CorruptError struct{ Reason string }

func (e *CorruptError) Error() string { return "record: corrupt: " + e.Reason }

func corrupt(format string, args ...any) error {
	return &CorruptError{Reason: fmt.Sprintf(format, args...)}
}

// Length returns the length field of the record at the start of b, validated only for
// plausibility. It returns ErrShort when fewer than 4 bytes are given.
func Length(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, ErrShort
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < HeaderSize || n > MaxRecordSize {
		return 0, corrupt("length %d outside [%d, %d]", n, HeaderSize, MaxRecordSize)
	}
	return n, nil
}

// Decode decodes the record at the start of b into r and returns its length.
// The record's CRC is verified, so a nil error means every byte is as written.
// It returns ErrShort if b ends inside the record, or a *CorruptError.
func Decode(b []byte, r *Record) (int, error) {
	n, err := Length(b)
	if err != nil {
		return 0, err
	}
	if len(b) < n {
		return 0, ErrShort
	}
	b = b[:n]
	le := binary.LittleEndian
	if got, want := checksum(b), le.Uint32(b[4:]); got != want {
		return 0, corrupt("crc32c %08x, header says %08x", got, want)
	}
	if b[8] != Magic {
		return 0, corrupt("magic %#x, want %#x", b[8], Magic)
	}
	t := Type(b[9])
	if t == 0 || t > maxType {
		return 0, corrupt("unknown record type %d", b[9])
	}
	topicLen := int(le.Uint16(b[40:]))
	tagsLen := int(le.Uint16(b[42:]))
	keyLen := int(le.Uint32(b[44:]))
	propsLen := int(le.Uint32(b[48:]))
	bodyLen := int(le.Uint32(b[52:]))
	// Sum in int64-safe steps: each field is below 2^32 and MaxRecordSize bounds n.
	if sum := HeaderSize + topicLen + tagsLen + keyLen + propsLen + bodyLen; sum != n {
		return 0, corrupt("field lengths add up to %d, record length is %d", sum, n)
	}
	*r = Record{
		Type:        t,
		Flags:       le.Uint16(b[10:]),
		Queue:       le.Uint32(b[12:]),
		QueueOffset: int64(le.Uint64(b[16:])),
		StoreTime:   int64(le.Uint64(b[24:])),
		Timestamp:   int64(le.Uint64(b[32:])),
	}
	p := HeaderSize
	r.Topic, p = b[p:p+topicLen:p+topicLen], p+topicLen
	r.Tags, p = b[p:p+tagsLen:p+tagsLen], p+tagsLen
	r.Key, p = b[p:p+keyLen:p+keyLen], p+keyLen
	r.Props, p = b[p:p+propsLen:p+propsLen], p+propsLen
	r.Body = b[p:n:n]
	return n, nil
}

// Header is the fixed part of a record, decodable without the rest (for index lookups).
type Header struct {
	Length      int
	Type        Type
	Queue       uint32
	QueueOffset int64
	StoreTime   int64
}

// DecodeHeader reads the fixed header at the start of b without verifying the CRC.
// Use it only for hints (time lookups); never return data on its word alone.
func DecodeHeader(b []byte) (Header, error) {
	n, err := Length(b)
	if err != nil {
		return Header{}, err
	}
	if len(b) < HeaderSize {
		return Header{}, ErrShort
	}
	le := binary.LittleEndian
	if b[8] != Magic {
		return Header{}, corrupt("magic %#x, want %#x", b[8], Magic)
	}
	return Header{
		Length:      n,
		Type:        Type(b[9]),
		Queue:       le.Uint32(b[12:]),
		QueueOffset: int64(le.Uint64(b[16:])),
		StoreTime:   int64(le.Uint64(b[24:])),
	}, nil
}

// EncodeProps encodes properties as a sequence of (u16 len, name, u16 len, value), sorted
// by name so that equal maps encode to equal bytes. It returns nil for an empty map.
func EncodeProps(dst []byte, props map[string]string) []byte {
	if len(props) == 0 {
		return dst
	}
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := props[k]
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// PropsSize is the encoded size of props.
func PropsSize(props map[string]string) int {
	n := 0
	for k, v := range props {
		n += 4 + len(k) + len(v)
	}
	return n
}

// DecodeProps decodes properties encoded by EncodeProps.
func DecodeProps(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	m := make(map[string]string)
	err := RangeProps(b, func(k, v []byte) bool { m[string(k)] = string(v); return true })
	return m, err
}

// RangeProps calls fn for each property in b, without allocating, until fn returns false.
func RangeProps(b []byte, fn func(name, value []byte) bool) error {
	for len(b) > 0 {
		if len(b) < 2 {
			return corrupt("properties end inside a name length")
		}
		kl := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+kl+2 {
			return corrupt("properties end inside a name")
		}
		k := b[2 : 2+kl]
		b = b[2+kl:]
		vl := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+vl {
			return corrupt("properties end inside a value")
		}
		v := b[2 : 2+vl]
		b = b[2+vl:]
		if !fn(k, v) {
			return nil
		}
	}
	return nil
}

// Prop returns the value of property name in encoded props b.
func Prop(b []byte, name string) (string, bool) {
	var out string
	var found bool
	_ = RangeProps(b, func(k, v []byte) bool {
		if string(k) == name {
			out, found = string(v), true
			return false
		}
		return true
	})
	return out, found
}
