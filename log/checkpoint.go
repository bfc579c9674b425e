package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// checkpointMagic starts the checkpoint file (see doc.go for the layout).
const checkpointMagic = "RFLCKPT1"

// snapshot is the derived state of the log as of commitlog position pos: replaying the
// records from pos on top of it gives the current state.
type snapshot struct {
	pos       int64 // every record before pos is reflected here and indexed durably
	lastStore int64 // newest store time written before pos
	topics    []topicSnap
	groups    map[string]map[QueueRef]int64
	ext       map[uint8][]byte // sections of later features (transactions, timers)
}

type topicSnap struct {
	name string
	next []int64 // per queue: the next offset, i.e. the number of entries before pos
}

// QueueRef names one queue of one topic.
type QueueRef struct {
	Topic string
	Queue int
}

func (s *snapshot) encode() []byte {
	var p []byte
	le := binary.LittleEndian
	p = le.AppendUint64(p, uint64(s.pos))
	p = le.AppendUint64(p, uint64(s.lastStore))
	p = le.AppendUint32(p, uint32(len(s.topics)))
	for _, t := range s.topics {
		p = appendString(p, t.name)
		p = le.AppendUint32(p, uint32(len(t.next)))
		for _, n := range t.next {
			p = le.AppendUint64(p, uint64(n))
		}
	}
	groups := make([]string, 0, len(s.groups))
	for g := range s.groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	p = le.AppendUint32(p, uint32(len(groups)))
	for _, g := range groups {
		p = appendString(p, g)
		p = appendOffsets(p, s.groups[g])
	}
	ids := make([]int, 0, len(s.ext))
	for id := range s.ext {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	p = le.AppendUint32(p, uint32(len(ids)))
	for _, id := range ids {
		p = append(p, byte(id))
		p = le.AppendUint32(p, uint32(len(s.ext[uint8(id)])))
		p = append(p, s.ext[uint8(id)]...)
	}
	out := make([]byte, 0, 16+len(p))
	out = append(out, checkpointMagic...)
	out = le.AppendUint32(out, uint32(len(p)))
	out = le.AppendUint32(out, record.Checksum(p))
	return append(out, p...)
}

func decodeSnapshot(b []byte) (*snapshot, error) {
	le := binary.LittleEndian
	if len(b) < 16 || string(b[:8]) != checkpointMagic {
		return nil, errors.New("bad magic")
	}
	n := int(le.Uint32(b[8:]))
	if len(b) != 16+n {
		return nil, fmt.Errorf("length %d, file has %d bytes of payload", n, len(b)-16)
	}
	p := b[16:]
	if record.Checksum(p) != le.Uint32(b[12:]) {
		return nil, errors.New("crc mismatch")
	}
	d := decoder{b: p}
	s := &snapshot{groups: map[string]map[QueueRef]int64{}, ext: map[uint8][]byte{}}
	s.pos = int64(d.u64())
	s.lastStore = int64(d.u64())
	nt := d.u32()
	for i := uint32(0); i < nt && d.err == nil; i++ {
		t := topicSnap{name: d.str()}
		nq := d.u32()
		if nq > 1<<16 {
			d.fail("queue count")
		}
		for j := uint32(0); j < nq && d.err == nil; j++ {
			t.next = append(t.next, int64(d.u64()))
		}
		s.topics = append(s.topics, t)
	}
	ng := d.u32()
	for i := uint32(0); i < ng && d.err == nil; i++ {
		g := d.str()
		s.groups[g] = d.offsets()
	}
	ne := d.u32()
	for i := uint32(0); i < ne && d.err == nil; i++ {
		id := d.u8()
		s.ext[id] = append([]byte(nil), d.bytes(int(d.u32()))...)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return s, d.err
}

// writeCheckpoint replaces DIR/checkpoint atomically: temp file, fsync, rename, fsync dir.
func writeCheckpoint(dir string, s *snapshot) error {
	tmp := filepath.Join(dir, "checkpoint.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(s.encode()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "checkpoint")); err != nil {
		return err
	}
	return syncDir(dir)
}

// --- small binary helpers shared by the checkpoint and system-record payloads ---

func appendString(p []byte, s string) []byte {
	p = binary.LittleEndian.AppendUint16(p, uint16(len(s)))
	return append(p, s...)
}

// appendOffsets encodes a map of queue offsets deterministically (sorted).
func appendOffsets(p []byte, m map[QueueRef]int64) []byte {
	refs := make([]QueueRef, 0, len(m))
	for r := range m {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Topic != refs[j].Topic {
			return refs[i].Topic < refs[j].Topic
		}
		return refs[i].Queue < refs[j].Queue
	})
	le := binary.LittleEndian
	p = le.AppendUint32(p, uint32(len(refs)))
	for _, r := range refs {
		p = appendString(p, r.Topic)
		p = le.AppendUint32(p, uint32(r.Queue))
		p = le.AppendUint64(p, uint64(m[r]))
	}
	return p
}

// decoder reads little-endian fields, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or invalid %s", what)
	}
	d.b = nil
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || len(d.b) < n {
		d.fail("field")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if b := d.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str() string { return string(d.bytes(int(d.u16()))) }

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) offsets() map[QueueRef]int64 {
	n := d.u32()
	m := make(map[QueueRef]int64)
	for i := uint32(0); i < n && d.err == nil; i++ {
		t := d.str()
		q := int(d.u32())
		m[QueueRef{t, q}] = int64(d.u64())
	}
	return m
}
