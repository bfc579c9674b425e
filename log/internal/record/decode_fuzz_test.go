package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"testing"
)

// seedRecords are valid records of every shape the log writes.
func seedRecords() []Record {
	return []Record{
		{Type: TypeMessage, Queue: 3, QueueOffset: 42, StoreTime: 1_700_000_000_000, Timestamp: 1_699_999_999_999,
			Topic: []byte("orders"), Tags: []byte("red"), Key: []byte("ada"),
			Props: EncodeProps(nil, map[string]string{"a": "1", "trace": "xyz"}), Body: []byte("12 EUR")},
		{Type: TypeMessage, Topic: []byte("t")},
		{Type: TypeMessage, Flags: 0xffff, Queue: 1<<32 - 1, QueueOffset: -1, StoreTime: -1, Timestamp: -1,
			Topic: []byte("a-b_c%d|e"), Body: bytes.Repeat([]byte{0}, 300)},
		{Type: TypeTopic, Topic: []byte("orders"), Body: binary.LittleEndian.AppendUint32(nil, 4)},
		{Type: TypeOffsets, Topic: []byte("billing"), Body: []byte{1, 0, 0, 0, 6, 0, 'o', 'r', 'd', 'e', 'r', 's', 2, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0}},
		{Type: TypeTimerOp, Topic: []byte("rmq_sys_wheel_timer"), Body: []byte("x")},
	}
}

// reseal recomputes the CRC of an encoded record after its bytes were edited, so that a
// seed reaches the checks behind the CRC.
func reseal(b []byte) []byte {
	n := int(binary.LittleEndian.Uint32(b))
	binary.LittleEndian.PutUint32(b[4:], Checksum(b[Mutable:n]))
	le := binary.LittleEndian
	Seal(b[:n], le.Uint32(b[12:]), int64(le.Uint64(b[16:])), int64(le.Uint64(b[24:])))
	return b
}

// seedInputs are the valid records, each followed by garbage, and damaged variants.
func seedInputs() [][]byte {
	var out [][]byte
	for _, r := range seedRecords() {
		out = append(out, Append(nil, &r))
	}
	valid := Append(nil, &seedRecords()[0])
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(valid)
		f(b)
		return b
	}
	out = append(out,
		append(bytes.Clone(valid), valid...),                           // two records
		valid[:len(valid)-1],                                           // torn
		valid[:3],                                                      // torn inside the length
		edit(func(b []byte) { b[len(b)-1] ^= 1 }),                      // flipped body bit
		edit(func(b []byte) { b[20] ^= 0x80 }),                         // flipped queue-offset bit
		edit(func(b []byte) { b[8] = 0xA2; reseal(b) }),                // other magic, valid CRC
		edit(func(b []byte) { b[9] = 0; reseal(b) }),                   // type 0, valid CRC
		edit(func(b []byte) { b[9] = 200; reseal(b) }),                 // unknown type, valid CRC
		edit(func(b []byte) { b[44]++; reseal(b) }),                    // field lengths exceed the length
		edit(func(b []byte) { b[52]--; reseal(b) }),                    // field lengths short of it
		edit(func(b []byte) { b[48] = 0xff; b[49] = 0xff; reseal(b) }), // huge properties length
		edit(func(b []byte) { binary.LittleEndian.PutUint32(b, 55) }),  // length below the header
		edit(func(b []byte) { binary.LittleEndian.PutUint32(b, MaxRecordSize+1) }),
		edit(func(b []byte) { binary.LittleEndian.PutUint32(b, 1<<32-1) }),
		make([]byte, 64), // zeros, as after a preallocated or extended file
	)
	// Properties that end inside a name, with a valid CRC.
	bad := Record{Type: TypeMessage, Topic: []byte("t"), Props: []byte{5, 0, 'a'}}
	out = append(out, Append(nil, &bad))
	return out
}

// FuzzDecode feeds arbitrary bytes to the decoder. Whatever the input: no panic, an error
// is ErrShort or *CorruptError, and a record that decodes is exactly the bytes it came
// from (encoding it again gives them back), agrees with Length and DecodeHeader, keeps its
// fields within its own bytes, and is short when cut by one byte.
//
// The committed corpus lives in testdata/fuzz/FuzzDecode; seedInputs adds seeds that
// follow the current layout. Run with: go test ./log/internal/record -fuzz FuzzDecode
func FuzzDecode(f *testing.F) {
	for _, b := range seedInputs() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		n, err := Decode(b, &r)
		if err != nil {
			var ce *CorruptError
			if !errors.Is(err, ErrShort) && !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if n != 0 {
				t.Fatalf("error %v with length %d", err, n)
			}
			return
		}
		if n < HeaderSize || n > len(b) || n > MaxRecordSize || r.Size() != n {
			t.Fatalf("decoded length %d, size %d, input %d bytes", n, r.Size(), len(b))
		}
		if got := Append(nil, &r); !bytes.Equal(got, b[:n]) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", got, b[:n])
		}
		if l, err := Length(b); err != nil || l != n {
			t.Fatalf("Length = %d, %v; Decode says %d", l, err, n)
		}
		h, err := DecodeHeader(b)
		if err != nil || h.Length != n || h.Type != r.Type || h.Queue != r.Queue || h.QueueOffset != r.QueueOffset || h.StoreTime != r.StoreTime {
			t.Fatalf("DecodeHeader = %+v, %v; Decode gave %+v", h, err, r)
		}
		// Fields alias the input and cannot be appended into their neighbours.
		for _, field := range [][]byte{r.Topic, r.Tags, r.Key, r.Props, r.Body} {
			if cap(field) != len(field) {
				t.Fatalf("a field of %d bytes has capacity %d", len(field), cap(field))
			}
		}
		if _, err := Decode(b[:n-1], &Record{}); !errors.Is(err, ErrShort) {
			t.Fatalf("a record cut by one byte decodes with %v", err)
		}
		// Properties are checked when read, not by Decode: they decode or fail cleanly.
		props, err := DecodeProps(r.Props)
		if err == nil {
			again, err := DecodeProps(EncodeProps(nil, props))
			if err != nil || !maps.Equal(props, again) {
				t.Fatalf("properties %q: decoded %v, re-encoded and decoded %v, %v", r.Props, props, again, err)
			}
		} else if ce := (*CorruptError)(nil); !errors.As(err, &ce) {
			t.Fatalf("properties error of type %T", err)
		}
		Prop(r.Props, "a")
	})
}
