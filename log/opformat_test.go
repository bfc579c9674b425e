package log

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpRecordEncodings(t *testing.T) {
	o := txnOp{op: opCommit, id: TxnID{Producer: "p", Epoch: 2, Seq: 7}, count: 4, group: "g",
		offsets: map[QueueRef]int64{{"in", 0}: 10},
		queues:  []QueueRef{{"a", 0}, {"b", 3}, {"a", 1}},
		halves: []committedHalf{
			{pos: 100, size: 50, qi: 0, offset: 5},
			{pos: 150, size: 60, qi: 1, offset: 0, tagHash: 0xfeed},
			{pos: 900, size: 50, qi: 0, offset: 6},
			{pos: 2000, size: 70, qi: 2, offset: 42},
		}}
	b := encodeOp(o)
	got, err := decodeOp(b)
	require.NoError(t, err)
	assert.Equal(t, o, got)
	assert.Less(t, len(b), 100, "the compact layout")

	// The first layout, written by older logs, still decodes.
	le := binary.LittleEndian
	old := append([]byte(nil), b[:len(b)-len(encodeOp(txnOp{halves: o.halves, queues: o.queues}))+len(encodeOp(txnOp{}))-5]...)
	old = le.AppendUint32(old, uint32(len(o.halves)))
	for _, h := range o.halves {
		old = le.AppendUint64(old, uint64(h.pos))
		old = le.AppendUint32(old, uint32(h.size))
		old = le.AppendUint64(old, h.tagHash)
		old = appendString(old, o.queues[h.qi].Topic)
		old = le.AppendUint32(old, uint32(o.queues[h.qi].Queue))
		old = le.AppendUint64(old, uint64(h.offset))
	}
	got, err = decodeOp(old)
	require.NoError(t, err)
	assert.Equal(t, o, got)

	// Truncations and bad indexes fail, never panic.
	for i := 0; i < len(b); i++ {
		_, err := decodeOp(b[:i])
		assert.Error(t, err, "truncated at %d", i)
	}
	abort := encodeOp(txnOp{op: opAbort, id: o.id})
	got, err = decodeOp(abort)
	require.NoError(t, err)
	assert.Empty(t, got.halves)
}
