package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	badger "github.com/dgraph-io/badger/v4"
)

// Checkpointed state (DESIGN.md §4). Within an epoch a backend's writes stay in its
// cache, marked dirty. At the epoch's barrier Freeze turns the dirty entries into one
// encoded change batch: the changelog record the checkpoint transaction carries. The
// frozen changes stay readable in the backend (reads go dirty cache, then frozen
// epochs, then Badger) until the epoch commits and Store.Apply writes them to Badger
// together with the applied epoch; Release then drops them. Badger therefore never holds
// state of an epoch that did not commit, and recovery only ever rolls it forward, by
// replaying committed change batches.
//
// A change batch is a sequence of changes, each
//
//	u32 key length | key | u8 op (1 set, 0 delete) | [u32 value length | value]
//
// (little-endian), with keys and values exactly as the store writes them.

const (
	changeDelete byte = 0
	changeSet    byte = 1
)

// frozenEpoch is one Freeze's changes, readable until released. A nil value in m with
// ok set is a deletion.
type frozenEpoch struct {
	epoch uint64
	m     map[string][]byte // Badger key -> value (nil: deleted)
}

// Freeze takes every change since the previous Freeze (dirty entries with their final
// values, deletions, timers registered or removed) as the change batch of epoch: it
// returns the encoded batch (nil when nothing changed) and keeps the changes readable
// until Release(epoch). The cache then holds them as clean entries.
func (b *StoreBackend) Freeze(epoch uint64) ([]byte, error) {
	var a arena
	out := make([]byte, 0, min(b.lastFreezeBytes, 64<<20))
	m := make(map[string][]byte, min(b.lastFreezeKeys, 1<<20))
	err := b.visitChanges(&a, func(k, v []byte, deleted bool) error {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(k)))
		out = append(out, k...)
		if deleted {
			m[string(k)] = nil
			out = append(out, changeDelete)
			return nil
		}
		m[string(k)] = v
		out = append(out, changeSet)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(v)))
		out = append(out, v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: freeze epoch %d: %w", epoch, err)
	}
	b.forgetChanges()
	b.lastFreezeKeys, b.lastFreezeBytes = len(m), len(out)
	if len(m) == 0 {
		return nil, nil
	}
	b.frozenMu.Lock()
	b.frozen = append(b.frozen, frozenEpoch{epoch: epoch, m: m})
	b.frozenMu.Unlock()
	// Clean entries beyond the budget may go: a later miss finds them frozen or applied.
	b.store.mu.RLock()
	b.evictLocked()
	b.store.mu.RUnlock()
	return out, nil
}

// Release drops the frozen changes of every epoch up to and including epoch: the store
// has applied them. Safe to call from another goroutine than the backend's.
func (b *StoreBackend) Release(epoch uint64) {
	b.frozenMu.Lock()
	defer b.frozenMu.Unlock()
	i := 0
	for i < len(b.frozen) && b.frozen[i].epoch <= epoch {
		b.frozen[i] = frozenEpoch{}
		i++
	}
	b.frozen = b.frozen[i:]
}

// Frozen is the number of epochs frozen and not released.
func (b *StoreBackend) Frozen() int {
	b.frozenMu.Lock()
	defer b.frozenMu.Unlock()
	return len(b.frozen)
}

// frozenValue looks key up in the frozen epochs, newest first.
func (b *StoreBackend) frozenValue(key []byte) (v []byte, deleted, found bool) {
	b.frozenMu.Lock()
	defer b.frozenMu.Unlock()
	for i := len(b.frozen) - 1; i >= 0; i-- {
		if v, ok := b.frozen[i].m[string(key)]; ok {
			return v, v == nil, true
		}
	}
	return nil, false, false
}

// overlayFrozen applies the frozen epochs, oldest first, to a visit of the store's
// entries: fn gets each frozen key with its value or deletion.
func (b *StoreBackend) overlayFrozen(fn func(k string, v []byte)) {
	b.frozenMu.Lock()
	defer b.frozenMu.Unlock()
	for _, f := range b.frozen {
		for k, v := range f.m {
			fn(k, v)
		}
	}
}

// DecodeChanges calls fn with every change of an encoded change batch.
func DecodeChanges(batch []byte, fn func(key, value []byte, deleted bool) error) error {
	le := binary.LittleEndian
	for len(batch) > 0 {
		if len(batch) < 5 {
			return errors.New("state: truncated change batch")
		}
		kl := int(le.Uint32(batch))
		if kl > len(batch)-5 {
			return errors.New("state: corrupt change batch: key length out of range")
		}
		k := batch[4 : 4+kl]
		op := batch[4+kl]
		batch = batch[5+kl:]
		switch op {
		case changeDelete:
			if err := fn(k, nil, true); err != nil {
				return err
			}
		case changeSet:
			if len(batch) < 4 || int(le.Uint32(batch)) > len(batch)-4 {
				return errors.New("state: corrupt change batch: value length out of range")
			}
			vl := int(le.Uint32(batch))
			if err := fn(k, batch[4:4+vl], false); err != nil {
				return err
			}
			batch = batch[4+vl:]
		default:
			return fmt.Errorf("state: corrupt change batch: op %d", op)
		}
	}
	return nil
}

// Applied is what the store has applied of the checkpoint stream: the last epoch whose
// changes are all in Badger, and the position after that epoch in the changelog (an
// offset in the caller's changelog queue). Zero values for a new store.
type Applied struct {
	Epoch     uint64
	Changelog int64
}

var appliedKey = []byte{0x00, 'a', 'p', 'p', 'l', 'i', 'e', 'd'}

// Applied returns the store's applied epoch.
func (s *Store) Applied() (Applied, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return Applied{}, ErrStoreClosed
	}
	var a Applied
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(appliedKey)
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 16 {
				return fmt.Errorf("state: corrupt applied-epoch record (%d bytes)", len(v))
			}
			a.Epoch = binary.LittleEndian.Uint64(v)
			a.Changelog = int64(binary.LittleEndian.Uint64(v[8:]))
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Applied{}, nil
	}
	return a, err
}

// Apply writes change batches of one committed epoch to Badger, then records the epoch
// as applied (with its changelog position). Batches are applied in order; applying the
// same batches again is harmless, so a crash in the middle is repaired by replaying the
// epoch. With StoreOptions.SyncWrites false the write is durable at Badger's pace: a lost
// tail is replayed from the changelog.
func (s *Store) Apply(a Applied, batches ...[]byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return ErrStoreClosed
	}
	wb := s.db.NewWriteBatch()
	for _, b := range batches {
		err := DecodeChanges(b, func(k, v []byte, deleted bool) error {
			if deleted {
				return wb.Delete(k)
			}
			return wb.Set(k, v)
		})
		if err != nil {
			wb.Cancel()
			return fmt.Errorf("state: apply epoch %d: %w", a.Epoch, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("state: apply epoch %d: %w", a.Epoch, err)
	}
	// The applied record goes last, in its own write: Badger splits a large batch into
	// several transactions, and the record must never precede the changes it vouches for.
	v := binary.LittleEndian.AppendUint64(nil, a.Epoch)
	v = binary.LittleEndian.AppendUint64(v, uint64(a.Changelog))
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(appliedKey, v) }); err != nil {
		return fmt.Errorf("state: record applied epoch %d: %w", a.Epoch, err)
	}
	return nil
}

// Sync makes everything written so far durable.
func (s *Store) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return ErrStoreClosed
	}
	return s.db.Sync()
}

// Backup writes a consistent copy of the whole store (Badger's backup format) to w.
// Store.Snapshot writes a smaller copy with less memory.
func (s *Store) Backup(w io.Writer) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return ErrStoreClosed
	}
	// One producer goroutine instead of Badger's default 8: a snapshot is background
	// work, and each producer buffers megabytes.
	st := s.db.NewStream()
	st.LogPrefix = "state snapshot"
	st.NumGo = 1
	_, err := st.Backup(w, 0)
	return err
}

// loadPendingWrites bounds the batches a Load has in flight (each up to 15% of a
// memtable, decoded); Badger's usual 256 let a 10 M-key backup load in 1.8 GB.
const loadPendingWrites = 8

// Load reads a snapshot (StoreSnapshot.WriteTo) or a Backup into the store, which
// should be empty (a snapshot replaces whatever it holds). No backend may be in use.
func (s *Store) Load(r io.Reader) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return ErrStoreClosed
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	if p, _ := br.Peek(len(snapshotMagic)); bytes.Equal(p, snapshotMagic) {
		br.Discard(len(snapshotMagic))
		return s.loadSnapshot(br)
	}
	return s.db.Load(br, loadPendingWrites)
}

// Size is the store's size on disk (LSM tree and value log), as Badger last measured it.
func (s *Store) Size() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return 0
	}
	lsm, vlog := s.db.Size()
	return lsm + vlog
}
