package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
	"github.com/golang/snappy"
)

// A store snapshot (Store.Snapshot) is the latest value of every key, in key order:
//
//	magic | snappy framed stream of: record* | end | uvarint count
//	record: uvarint shared | uvarint unshared | key suffix | uvarint value length | value
//	end:    uvarint 0 | uvarint 0
//
// A record's key is the previous key's first shared bytes followed by the suffix (keys
// share long prefixes: operator, state, key group). Snappy's framing checksums every
// chunk; the end marker and the count catch a truncated file. Store.Load reads it, and
// Badger's backup format (Store.Backup) too.
var snapshotMagic = []byte("riffle-state-snapshot-v1\n")

// snapshotIterKeys is how many keys one Badger iterator walks before the walk moves on
// with a new iterator (same view): an iterator pins the memtables and tables that
// existed when it was created, and a snapshot of a large store takes long.
var snapshotIterKeys = 1 << 16

// StoreSnapshot is a consistent, read-only view of a Store, fixed when Store.Snapshot
// returned: writes to the store after that are not in it. Write it with WriteTo, then
// Close it.
type StoreSnapshot struct {
	s    *Store
	mu   sync.Mutex
	txn  *badger.Txn // nil once closed
	keys int64
}

// Snapshot fixes a consistent view of the whole store. The caller may go on writing to
// the store at once, and write the view out (WriteTo) meanwhile, from any goroutine.
// Close the snapshot when done; an open snapshot keeps Badger from discarding the
// versions it sees.
func (s *Store) Snapshot() (*StoreSnapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return nil, ErrStoreClosed
	}
	return &StoreSnapshot{s: s, txn: s.db.NewTransaction(false)}, nil
}

// WriteTo writes the view to w (see the format above) and returns the bytes written.
// It holds little memory whatever the store's size: one key and value at a time, and
// the compressor's buffers. Store.Close waits for a WriteTo in progress: to stop it,
// make w fail.
func (ss *StoreSnapshot) WriteTo(w io.Writer) (int64, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.s.mu.RLock()
	defer ss.s.mu.RUnlock()
	if ss.s.mu.closed {
		return 0, ErrStoreClosed
	}
	if ss.txn == nil {
		return 0, errors.New("state: snapshot closed")
	}
	cw := &countWriter{w: w}
	if _, err := cw.Write(snapshotMagic); err != nil {
		return cw.n, err
	}
	sw := snappy.NewBufferedWriter(cw)
	var (
		prev, seek []byte
		hdr        [3 * binary.MaxVarintLen64]byte
		werr       error
		count      uint64
	)
	write := func(k, v []byte) error {
		shared := 0
		for shared < len(prev) && shared < len(k) && prev[shared] == k[shared] {
			shared++
		}
		n := binary.PutUvarint(hdr[:], uint64(shared))
		n += binary.PutUvarint(hdr[n:], uint64(len(k)-shared))
		if _, err := sw.Write(hdr[:n]); err != nil {
			return err
		}
		if _, err := sw.Write(k[shared:]); err != nil {
			return err
		}
		n = binary.PutUvarint(hdr[:], uint64(len(v)))
		if _, err := sw.Write(hdr[:n]); err != nil {
			return err
		}
		_, err := sw.Write(v)
		prev = append(prev[:0], k...)
		count++
		return err
	}
	io := badger.DefaultIteratorOptions
	io.PrefetchValues = false
	for done := false; !done; {
		it := ss.txn.NewIterator(io)
		if seek == nil {
			it.Rewind()
		} else {
			it.Seek(seek) // the last key written: skip it
			if it.Valid() && bytes.Equal(it.Item().Key(), seek) {
				it.Next()
			}
		}
		done = true
		for n := 0; it.Valid(); it.Next() {
			if n == snapshotIterKeys {
				seek = append(seek[:0], prev...)
				done = false
				break
			}
			item := it.Item()
			if werr = item.Value(func(v []byte) error { return write(item.Key(), v) }); werr != nil {
				break
			}
			n++
		}
		it.Close()
		if werr != nil {
			return cw.n, werr
		}
	}
	n := binary.PutUvarint(hdr[:], 0)
	n += binary.PutUvarint(hdr[n:], 0)
	n += binary.PutUvarint(hdr[n:], count)
	if _, err := sw.Write(hdr[:n]); err != nil {
		return cw.n, err
	}
	err := sw.Close() // flushes; does not close w
	ss.keys = int64(count)
	return cw.n, err
}

// Keys is the number of keys the last WriteTo wrote.
func (ss *StoreSnapshot) Keys() int64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.keys
}

// Close releases the view. It is idempotent.
func (ss *StoreSnapshot) Close() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.txn == nil {
		return
	}
	ss.s.mu.RLock()
	if !ss.s.mu.closed {
		ss.txn.Discard()
	}
	ss.s.mu.RUnlock()
	ss.txn = nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// loadSnapshot reads a snapshot (after its magic) into the store, replacing what it
// holds. Its keys are sorted: Badger's StreamWriter builds the tables directly, without
// memtables or compactions.
func (s *Store) loadSnapshot(r io.Reader) error {
	sr := bufio.NewReaderSize(snappy.NewReader(r), 64<<10)
	sw := s.db.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return fmt.Errorf("state: load snapshot: %w", err)
	}
	buf := z.NewBuffer(loadBatchBytes+loadBatchBytes/4, "state.Load")
	defer buf.Release()
	var (
		key   []byte
		count uint64
		kv    = pb.KV{Version: 1, StreamId: 1}
	)
	fail := func(what string, err error) error {
		sw.Cancel()
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("state: load snapshot: %s: %w", what, err)
	}
	var val []byte
	for {
		shared, err := binary.ReadUvarint(sr)
		if err != nil {
			return fail("record", err)
		}
		unshared, err := binary.ReadUvarint(sr)
		if err != nil {
			return fail("record", err)
		}
		if shared == 0 && unshared == 0 {
			break
		}
		if shared > uint64(len(key)) || unshared > 1<<16 {
			return fail("record", errors.New("bad key length"))
		}
		if need := int(shared + unshared); cap(key) < need {
			key = append(make([]byte, 0, 2*need), key[:shared]...)[:need]
		} else {
			key = key[:need]
		}
		if _, err := io.ReadFull(sr, key[shared:]); err != nil {
			return fail("key", err)
		}
		vl, err := binary.ReadUvarint(sr)
		if err != nil {
			return fail("value", err)
		}
		if vl > 1<<30 {
			return fail("value", errors.New("bad value length"))
		}
		if cap(val) < int(vl) {
			val = make([]byte, vl)
		}
		val = val[:vl]
		if _, err := io.ReadFull(sr, val); err != nil {
			return fail("value", err)
		}
		kv.Key, kv.Value = key, val
		badger.KVToBuffer(&kv, buf) // copies
		count++
		if buf.LenNoPadding() >= loadBatchBytes {
			if err := sw.Write(buf); err != nil {
				return fail("write", err)
			}
			buf.Reset()
		}
	}
	want, err := binary.ReadUvarint(sr)
	if err != nil {
		return fail("trailer", err)
	}
	if want != count {
		return fail("trailer", fmt.Errorf("%d keys, the trailer says %d", count, want))
	}
	if err := sw.Write(buf); err != nil {
		return fail("write", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("state: load snapshot: %w", err)
	}
	return nil
}

// loadBatchBytes is the size of one write of a Load to Badger's StreamWriter.
const loadBatchBytes = 4 << 20
