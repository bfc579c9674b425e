package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	badger "github.com/dgraph-io/badger/v4"
)

// ErrStoreClosed is returned by a Store's backends once the Store is closed.
var ErrStoreClosed = errors.New("state: store closed")

// StoreOptions configures a Store. The defaults fit a 2-core machine with little memory:
// Badger's own defaults take about 0.5 GB for a million small keys.
type StoreOptions struct {
	// MemTableSize is the size of one Badger memtable. Default 8 MiB: a memtable is
	// flushed by a table builder that holds it whole, and Badger keeps up to eight
	// builders' buffers for reuse (16 MiB memtables cost about 160 MB more at 10 M keys,
	// for no measurable throughput).
	MemTableSize int64
	// NumMemtables is how many memtables (one being written, the others being flushed)
	// Badger may hold at once. Default 4: with the default size, 32 MiB in all.
	NumMemtables int
	// BlockCacheSize is Badger's cache of decompressed table blocks. Default 16 MiB.
	BlockCacheSize int64
	// IndexCacheSize is Badger's cache of table indexes and Bloom filters; it also bounds
	// them (Badger keeps every index in memory when it is 0). Default 8 MiB.
	IndexCacheSize int64
	// NumCompactors is the number of Badger's compaction goroutines. Default 2.
	NumCompactors int
	// ValueLogFileSize is the size of one value-log file. Default 64 MiB.
	ValueLogFileSize int64
	// SyncWrites makes each Flush durable on disk before it returns. Default false: the
	// checkpoint protocol replays committed epochs that a crash lost (DESIGN.md §4).
	SyncWrites bool
	// CacheEntries is the number of entries a backend keeps in its cache after a Flush;
	// beyond it Flush evicts (clean) entries. Default 100,000; negative: never evict.
	CacheEntries int
	// MaxParallelism is the number of key groups; a backend given no range holds them
	// all. Default DefaultMaxParallelism.
	MaxParallelism int
	// Logger receives Badger's messages. Default: none.
	Logger *slog.Logger
}

// EnsureDefaults sets every zero field to its default.
func (o *StoreOptions) EnsureDefaults() {
	if o.MemTableSize == 0 {
		o.MemTableSize = 8 << 20
	}
	if o.NumMemtables == 0 {
		o.NumMemtables = 4
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = 16 << 20
	}
	if o.IndexCacheSize == 0 {
		o.IndexCacheSize = 8 << 20
	}
	if o.NumCompactors == 0 {
		o.NumCompactors = 2
	}
	if o.ValueLogFileSize == 0 {
		o.ValueLogFileSize = 64 << 20
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = 100_000
	}
	if o.MaxParallelism == 0 {
		o.MaxParallelism = DefaultMaxParallelism
	}
}

// Validate reports every problem of the options (after EnsureDefaults) at once.
func (o StoreOptions) Validate() error {
	var errs []error
	if o.MemTableSize < 1<<20 {
		errs = append(errs, fmt.Errorf("state: MemTableSize %d is below 1 MiB", o.MemTableSize))
	}
	if o.NumMemtables < 2 {
		errs = append(errs, fmt.Errorf("state: NumMemtables %d is below 2", o.NumMemtables))
	}
	if o.BlockCacheSize < 0 || o.IndexCacheSize < 0 {
		errs = append(errs, errors.New("state: negative cache size"))
	}
	if o.NumCompactors < 2 {
		errs = append(errs, fmt.Errorf("state: NumCompactors %d is below 2 (Badger needs 2)", o.NumCompactors))
	}
	if o.ValueLogFileSize < 1<<20 || o.ValueLogFileSize >= 2<<30 {
		errs = append(errs, fmt.Errorf("state: ValueLogFileSize %d is not in [1 MiB, 2 GiB)", o.ValueLogFileSize))
	}
	if o.MaxParallelism <= 0 || o.MaxParallelism > 1<<16 {
		errs = append(errs, fmt.Errorf("state: MaxParallelism %d is not in [1, 65536]", o.MaxParallelism))
	}
	return errors.Join(errs...)
}

// Store is the one Badger database of a job: it holds the keyed state of every operator
// subtask of the job (one database per job, not per task, bounds the memory). Each
// subtask gets its own Backend from Store.Backend.
//
// Key layout (all integers big-endian, so that a key-group range is a contiguous key
// range and a job rescaled to another parallelism reads other ranges of the same store):
//
//	state entry: 0x01 | u16 len | operator id | 's' | u16 key group | u16 len | state name | u32 len | namespace | user key
//	timer:       0x01 | u16 len | operator id | 't' | u16 key group | domain | u64 time | u32 len (LE) | user key | namespace
//
// The value of a state entry is its expiry (i64 ms since the epoch, little-endian; 0:
// never) followed by the state's codec encoding; a timer's value is empty. The first
// byte leaves room for job-wide records (such as the applied epoch) beside the state.
// Timers sit in their own range so that loading them does not scan the state.
//
// A Store is safe for concurrent use; each of its backends is used by one goroutine.
type Store struct {
	db   *badger.DB
	opts StoreOptions

	// mu guards closing against the backends' reads and flushes (Badger must not be
	// used after Close). Lock order: Store.mu only; backends hold no lock of their own.
	mu struct {
		sync.RWMutex
		closed bool
	}
}

const (
	tagKeyed byte = 0x01
	tagState byte = 's'
	tagTimer byte = 't'
)

// OpenStore opens (creating if needed) the state store in dir.
func OpenStore(dir string, opts StoreOptions) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	// A memtable's log that a crash left behind is replayed into a memtable of this
	// run's size, and Badger exits the process when it does not fit: a log written with a
	// larger MemTableSize (such as the former default, 16 MiB) needs that size. Badger
	// creates each log at twice its memtable's size.
	memTable := opts.MemTableSize
	if des, err := os.ReadDir(dir); err == nil {
		for _, de := range des {
			if fi, err := de.Info(); err == nil && strings.HasSuffix(de.Name(), ".mem") && fi.Size()/2 > memTable {
				memTable = fi.Size() / 2
			}
		}
	}
	bo := badger.DefaultOptions(dir).
		WithMemTableSize(memTable).
		WithNumMemtables(opts.NumMemtables).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithIndexCacheSize(opts.IndexCacheSize).
		WithNumCompactors(opts.NumCompactors).
		WithValueLogFileSize(opts.ValueLogFileSize).
		// Values up to the threshold live in the LSM tree and need no value-log GC; the
		// cap keeps it below Badger's batch limit (15% of a memtable).
		WithValueThreshold(min(1<<20, memTable/8)).
		WithSyncWrites(opts.SyncWrites).
		WithDetectConflicts(false). // only write batches and read-only views
		WithMetricsEnabled(false).
		WithLogger(badgerLogger{opts.Logger})
	// Tables of every level are Badger's base size (2 MiB) instead of doubling level by
	// level: a table builder holds its whole table in memory, Badger pools up to eight
	// builders' buffers, and Load's StreamWriter builds tables of the last level (64 MiB
	// with the doubling: 1.7 GB of builders while a 10 M-key snapshot loaded, 0.3 GB
	// without).
	bo.TableSizeMultiplier = 1
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("state: open store %s: %w", dir, err)
	}
	return &Store{db: db, opts: opts}, nil
}

// Close closes the database. It is idempotent: later calls return nil. Backends of a
// closed store return ErrStoreClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil
	}
	s.mu.closed = true
	return s.db.Close()
}

// RunValueLogGC rewrites value-log files with at least discardRatio (e.g. 0.5) of stale
// data until none is left or ctx ends. Badger never does it by itself: call it
// periodically. Only values above the store's value threshold use the value log.
func (s *Store) RunValueLogGC(ctx context.Context, discardRatio float64) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return ErrStoreClosed
	}
	for ctx.Err() == nil {
		switch err := s.db.RunValueLogGC(discardRatio); {
		case errors.Is(err, badger.ErrNoRewrite):
			return nil
		case err != nil:
			return err
		}
	}
	return ctx.Err()
}

// Backend returns the keyed state backend of one operator subtask: the state of operator
// operatorID in key groups kgs (all key groups when kgs is zero). It loads the timers of
// those key groups. Each call returns a new backend with its own cache; two live
// backends must not share an operator's key group.
//
// Returns ErrStoreClosed, or the error of reading the timers.
func (s *Store) Backend(operatorID string, kgs KeyGroupRange, clk clock.Clock) (*StoreBackend, error) {
	if len(operatorID) > 1<<16-1 {
		return nil, errors.New("state: operator id longer than 65535 bytes")
	}
	if kgs == (KeyGroupRange{}) {
		kgs = KeyGroupRange{0, s.opts.MaxParallelism}
	}
	h := NewHeap(HeapOptions{MaxParallelism: s.opts.MaxParallelism, KeyGroups: kgs, Clock: clk})
	b := &StoreBackend{h: h, store: s}
	b.prefix = append([]byte{tagKeyed}, byte(len(operatorID)>>8), byte(len(operatorID)))
	b.prefix = append(b.prefix, operatorID...)
	h.src = b
	if err := b.loadTimers(); err != nil {
		return nil, err
	}
	h.timers.journal = map[string]bool{}
	empty := true
	if err := b.scan(tagState, false, func(_, _ []byte) error { empty = false; return errStopScan }); err != nil && !errors.Is(err, errStopScan) {
		return nil, err
	}
	b.fresh = empty
	return b, nil
}

// StoreBackend is the Backend of one operator subtask on a Store. It is a write-back
// cache: the typed values live in memory as in a Heap, reads that miss go to Badger, and
// writes stay in memory, marked dirty, until Flush writes each dirty entry's final value
// in one batch. Timers live in memory and are written by Flush too.
//
// A StoreBackend is used by one goroutine.
type StoreBackend struct {
	h      *Heap
	store  *Store
	prefix []byte // tagKeyed | u16 len | operator id
	key    []byte // scratch for reads

	// frozen holds the changes Freeze took that the store has not applied yet, oldest
	// first: reads that miss the cache consult them (newest first) before Badger. The
	// checkpoint coordinator releases them from its own goroutine after Store.Apply.
	frozenMu sync.Mutex
	frozen   []frozenEpoch
	// The size of the last epoch Freeze took (changes, encoded bytes): the next one's
	// map and buffer start that large, instead of growing from empty every epoch.
	lastFreezeKeys, lastFreezeBytes int

	// fresh: Badger held no state of this backend's key groups when it opened, and the
	// cache has evicted nothing since: every entry is then in the cache or frozen, and a
	// miss needs no Badger read (new keys are the common miss).
	fresh bool
}

var _ Backend = (*StoreBackend)(nil)

func (b *StoreBackend) heap() *Heap                      { return b.h }
func (b *StoreBackend) SetCurrentKey(key []byte, kg int) { b.h.SetCurrentKey(key, kg) }
func (b *StoreBackend) CurrentKey() []byte               { return b.h.CurrentKey() }
func (b *StoreBackend) CurrentKeyGroup() int             { return b.h.CurrentKeyGroup() }
func (b *StoreBackend) KeyGroups() KeyGroupRange         { return b.h.KeyGroups() }
func (b *StoreBackend) Timers() *Timers                  { return b.h.Timers() }
func (b *StoreBackend) Now() time.Time                   { return b.h.Now() }

// CachedEntries is the number of state entries in the backend's cache.
func (b *StoreBackend) CachedEntries() int {
	n := 0
	for _, t := range b.h.tables {
		n += t.size()
	}
	return n
}

// appendStateKey appends the Badger key of a state's entry given by its Heap composite
// key (key group | u32 LE len | user key | namespace).
func (b *StoreBackend) appendStateKey(dst []byte, state, composite string) []byte {
	dst = append(dst, b.prefix...)
	dst = append(dst, tagState)
	dst = append(dst, composite[:2]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(state)))
	dst = append(dst, state...)
	klen := int(binary.LittleEndian.Uint32([]byte(composite[2:6])))
	key, ns := composite[6:6+klen], composite[6+klen:]
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(ns)))
	dst = append(dst, ns...)
	return append(dst, key...)
}

// parseStateKey is the inverse of appendStateKey for a key without the prefix and tag.
func parseStateKey(k []byte) (state string, composite []byte, err error) {
	d := bytes.NewReader(k)
	var kg, nl uint16
	var nsl uint32
	if binary.Read(d, binary.BigEndian, &kg) != nil || binary.Read(d, binary.BigEndian, &nl) != nil {
		return "", nil, errors.New("state: corrupt store key")
	}
	name := make([]byte, nl)
	if n, _ := d.Read(name); n != int(nl) || binary.Read(d, binary.BigEndian, &nsl) != nil || int(nsl) > d.Len() {
		return "", nil, errors.New("state: corrupt store key")
	}
	rest := k[len(k)-d.Len():]
	ns, key := rest[:nsl], rest[nsl:]
	composite = binary.BigEndian.AppendUint16(make([]byte, 0, 6+len(rest)), kg)
	composite = binary.LittleEndian.AppendUint32(composite, uint32(len(key)))
	composite = append(append(composite, key...), ns...)
	return string(name), composite, nil
}

// rangeBounds returns the keys bounding tag's entries of the backend's key groups.
func (b *StoreBackend) rangeBounds(tag byte) (lo, hi []byte) {
	kgs := b.h.opts.KeyGroups
	lo = binary.BigEndian.AppendUint16(append(append([]byte(nil), b.prefix...), tag), uint16(kgs.Start))
	hi = append(append([]byte(nil), b.prefix...), tag)
	if kgs.End > 0xFFFF {
		return lo, append(hi, 0xFF, 0xFF, 0xFF)
	}
	return lo, binary.BigEndian.AppendUint16(hi, uint16(kgs.End))
}

// scan calls fn with the key (without the prefix and tag) and value of every entry of
// tag in the backend's key groups. The slices are valid during the call only.
func (b *StoreBackend) scan(tag byte, withValues bool, fn func(k, v []byte) error) error {
	b.store.mu.RLock()
	defer b.store.mu.RUnlock()
	if b.store.mu.closed {
		return ErrStoreClosed
	}
	lo, hi := b.rangeBounds(tag)
	return b.store.db.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.PrefetchValues = withValues
		io.PrefetchSize = 64
		io.Prefix = lo[:len(b.prefix)+1]
		it := txn.NewIterator(io)
		defer it.Close()
		for it.Seek(lo); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if bytes.Compare(k, hi) >= 0 {
				break
			}
			var v []byte
			if withValues {
				var err error
				if v, err = item.ValueCopy(nil); err != nil {
					return err
				}
			}
			if err := fn(k[len(b.prefix)+1:], v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *StoreBackend) loadTimers() error {
	return b.scan(tagTimer, false, func(k, _ []byte) error {
		if len(k) < 2+1+8+4 {
			return errors.New("state: corrupt timer key")
		}
		t := Timer{KeyGroup: int(binary.BigEndian.Uint16(k)), Timestamp: int64(binary.BigEndian.Uint64(k[3:]))}
		d := reader{b: k[11:]}
		t.Key = d.bytes()
		t.Namespace = d.b
		if d.err != nil || k[2] > byte(ProcessingTime) {
			return errors.New("state: corrupt timer key")
		}
		b.h.timers.Register(Domain(k[2]), t) // copies the slices
		return nil
	})
}

// load implements stateSource: one point read of Badger.
func (b *StoreBackend) load(state string, composite []byte) ([]byte, int64, bool, error) {
	b.store.mu.RLock()
	defer b.store.mu.RUnlock()
	if b.store.mu.closed {
		return nil, 0, false, ErrStoreClosed
	}
	if !b.h.opts.KeyGroups.Contains(int(binary.BigEndian.Uint16(composite))) {
		return nil, 0, false, nil // another subtask's key: not this backend's state
	}
	b.key = b.appendStateKey(b.key[:0], state, string(composite))
	val, deleted, found := b.frozenValue(b.key)
	if found {
		if deleted {
			return nil, 0, false, nil
		}
		return val[8:], int64(binary.LittleEndian.Uint64(val)), true, nil
	}
	if b.fresh {
		return nil, 0, false, nil
	}
	err := b.store.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(b.key)
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("state: read %q: %w", state, err)
	}
	if len(val) < 8 {
		return nil, 0, false, fmt.Errorf("state: corrupt value of %q", state)
	}
	return val[8:], int64(binary.LittleEndian.Uint64(val)), true, nil
}

// Flush writes the final value of every entry written since the last Flush (and the
// deletions, and the timers registered or removed) to the store in one write batch, then
// forgets the dirty marks and, if the cache holds more than StoreOptions.CacheEntries
// entries, evicts clean ones. On error nothing is forgotten: a later Flush writes the
// same entries again. Jobs with checkpoints use Freeze instead, and the store applies
// each epoch's changes after the epoch commits.
//
// Badger commits a large batch in several transactions, so a crash during Flush can
// leave part of it applied.
//
// Returns ErrStoreClosed, or Badger's error.
func (b *StoreBackend) Flush() error {
	b.store.mu.RLock()
	defer b.store.mu.RUnlock()
	if b.store.mu.closed {
		return ErrStoreClosed
	}
	wb := b.store.db.NewWriteBatch()
	// The batch keeps the key and value slices until it commits: carve them from
	// chunks that are never reused.
	var a arena
	err := b.visitChanges(&a, func(k, v []byte, deleted bool) error {
		if deleted {
			return wb.Delete(k)
		}
		return wb.Set(k, v)
	})
	if err != nil {
		wb.Cancel()
		return fmt.Errorf("state: flush: %w", err)
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("state: flush: %w", err)
	}
	b.forgetChanges()
	b.evictLocked()
	return nil
}

// visitChanges calls fn with the Badger key and value of every change since the last
// Flush or Freeze: dirty entries, restored entries not yet registered, and timers. The
// slices are carved from a and stay valid.
func (b *StoreBackend) visitChanges(a *arena, fn func(k, v []byte, deleted bool) error) error {
	for name, t := range b.h.tables {
		err := t.visitDirty(func(ck string, v []byte, expire int64, deleted bool) error {
			k := a.take(b.appendStateKey(a.tail(), name, ck))
			if deleted {
				return fn(k, nil, true)
			}
			return fn(k, a.take(append(binary.LittleEndian.AppendUint64(a.tail(), uint64(expire)), v...)), false)
		})
		if err != nil {
			return err
		}
	}
	// Restored entries of states this run has not registered yet.
	for name, es := range b.h.pending {
		for _, e := range es {
			k := a.take(b.appendStateKey(a.tail(), name, e.key))
			if err := fn(k, a.take(append(binary.LittleEndian.AppendUint64(a.tail(), uint64(e.expire)), e.value...)), false); err != nil {
				return err
			}
		}
	}
	for jk, live := range b.h.timers.journal {
		k := a.take(append(append(append(a.tail(), b.prefix...), tagTimer), jk...))
		if err := fn(k, nil, !live); err != nil {
			return err
		}
	}
	return nil
}

// forgetChanges clears what visitChanges visited.
func (b *StoreBackend) forgetChanges() {
	for _, t := range b.h.tables {
		t.clearDirty()
	}
	clear(b.h.pending)
	clear(b.h.timers.journal)
}

// evictLocked drops clean cache entries beyond the budget (store.mu held, nothing dirty).
// Victims are arbitrary (Go map order), not least recently used.
func (b *StoreBackend) evictLocked() {
	budget := b.store.opts.CacheEntries
	if budget < 0 {
		return
	}
	need := b.CachedEntries() - budget
	if need > 0 {
		b.fresh = false
	}
	for _, t := range b.h.tables {
		if need <= 0 {
			break
		}
		need -= t.evict(need)
	}
}

// Snapshot encodes every entry of every state of the backend's key groups, in the store
// and in the cache (dirty entries included), and the timers, in the Heap's format. It
// holds the whole state in memory while it runs.
func (b *StoreBackend) Snapshot() ([]byte, error) {
	states := map[string]map[string]rawEntry{}
	kinds := map[string]string{}
	entries := func(name string) map[string]rawEntry {
		m, ok := states[name]
		if !ok {
			m = map[string]rawEntry{}
			states[name] = m
		}
		return m
	}
	now := b.h.opts.Clock.Now().UnixMilli()
	live := func(expire int64) bool { return expire == 0 || expire > now }
	err := b.scan(tagState, true, func(k, v []byte) error {
		name, ck, err := parseStateKey(k)
		if err != nil {
			return err
		}
		if len(v) < 8 {
			return fmt.Errorf("state: corrupt value of %q", name)
		}
		if e := (rawEntry{key: string(ck), expire: int64(binary.LittleEndian.Uint64(v)), value: v[8:]}); live(e.expire) {
			entries(name)[e.key] = e
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: snapshot: %w", err)
	}
	// Frozen epochs not applied yet are newer than the store.
	var ferr error
	b.overlayFrozen(func(k string, v []byte) {
		if ferr != nil || len(k) <= len(b.prefix) || k[len(b.prefix)] != tagState {
			return
		}
		name, ck, err := parseStateKey([]byte(k[len(b.prefix)+1:]))
		if err != nil {
			ferr = err
			return
		}
		switch {
		case v == nil:
			delete(entries(name), string(ck))
		case len(v) < 8:
			ferr = fmt.Errorf("state: corrupt frozen value of %q", name)
		default:
			if e := (rawEntry{key: string(ck), expire: int64(binary.LittleEndian.Uint64(v)), value: v[8:]}); live(e.expire) {
				entries(name)[e.key] = e
			} else {
				delete(entries(name), e.key)
			}
		}
	})
	if ferr != nil {
		return nil, fmt.Errorf("state: snapshot: %w", ferr)
	}
	// The cache is newer than the store: its dirty entries and deletions win.
	for name, t := range b.h.tables {
		kinds[name] = t.kind()
		m := entries(name)
		err := t.visitDirty(func(k string, v []byte, expire int64, deleted bool) error {
			if deleted || !live(expire) {
				delete(m, k)
			} else {
				m[k] = rawEntry{key: k, expire: expire, value: append([]byte(nil), v...)}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for name, es := range b.h.pending {
		m := entries(name)
		for _, e := range es {
			m[e.key] = e
		}
	}
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(names)))
	for _, n := range names {
		m := states[n]
		es := make([]rawEntry, 0, len(m))
		for _, e := range m {
			es = append(es, e)
		}
		sort.Slice(es, func(i, j int) bool { return es[i].key < es[j].key })
		out = appendStr(out, n)
		out = appendStr(out, kinds[n])
		out = appendRaw(out, es)
	}
	return b.h.timers.appendSnapshot(out), nil
}

// Restore merges a snapshot in, keeping the entries of this backend's key groups (see
// Backend). The restored entries and timers are dirty: the next Flush writes them.
func (b *StoreBackend) Restore(snapshot []byte) error {
	b.fresh = false
	return b.h.Restore(snapshot)
}

// errStopScan ends a scan early.
var errStopScan = errors.New("stop scan")

// arena hands out byte slices that are never overwritten once taken.
type arena struct{ buf []byte }

const arenaChunk = 64 << 10

// tail returns an empty slice to append one item to.
func (a *arena) tail() []byte {
	if cap(a.buf)-len(a.buf) < 256 {
		a.buf = make([]byte, 0, arenaChunk)
	}
	return a.buf[len(a.buf):]
}

// take claims b, which was appended to tail(); if it outgrew the chunk, append already
// moved it to memory of its own.
func (a *arena) take(b []byte) []byte {
	if len(b) > 0 && len(a.buf) < cap(a.buf) && &a.buf[:len(a.buf)+1][len(a.buf)] == &b[0] {
		a.buf = a.buf[:len(a.buf)+len(b)]
	}
	return b[:len(b):len(b)]
}

// badgerLogger adapts a *slog.Logger (nil: discard) to Badger's logger.
type badgerLogger struct{ l *slog.Logger }

func (g badgerLogger) log(level slog.Level, format string, args []any) {
	if g.l != nil && g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "badger")
	}
}
func (g badgerLogger) Errorf(f string, a ...any)   { g.log(slog.LevelError, f, a) }
func (g badgerLogger) Warningf(f string, a ...any) { g.log(slog.LevelWarn, f, a) }
func (g badgerLogger) Infof(f string, a ...any)    { g.log(slog.LevelDebug, f, a) } // Badger's info is chatty
func (g badgerLogger) Debugf(f string, a ...any)   { g.log(slog.LevelDebug, f, a) }
