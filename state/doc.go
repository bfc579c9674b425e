// Package state is riffle's keyed state: the values a keyed operator keeps per key,
// and its timers.
//
// # Using state in an operator
//
// In Open, create handles from the operator's backend (Context.State()); the runtime
// sets the current key before each record and timer, and every handle then reads and
// writes that key's state:
//
//	count, err := state.NewValue(ctx.State(), state.Desc[int64]{Name: "count"})
//	...
//	n, _, err := count.Value()   // in ProcessElement: the current key's count
//	err = count.Update(n + 1)
//
// The kinds: ValueState, ListState, MapState, ReducingState (a reduce function folds
// added values), AggregatingState (an Aggregate folds them into an accumulator). A name
// is one state of one operator. Desc.Codec encodes values for snapshots and disk
// (CodecFor picks one by type: fixed-width numbers, raw strings and bytes, encoding/gob
// otherwise). Desc.TTL expires entries by processing time: an expired entry is never
// returned.
//
// Window operators also scope state by a namespace (the window): every handle implements
// Namespaced; list, reducing and aggregating states implement Mergeable, which folds the
// states of merged session windows into one.
//
// # Keys and key groups
//
// Keys are encoded canonically (KeyCodecFor: strings, integers, bools, and structs and
// arrays of them) and hashed with xxHash64 into MaxParallelism key groups (KeyGroup);
// subtask i of p owns the key groups RangeForSubtask(maxParallelism, p, i). The hash and
// the encodings are part of the state format: changing them would move keys.
//
// # Backends
//
//   - Heap keeps typed values in Go maps: nothing is serialized on access. Snapshot and
//     Restore serialize it (Restore keeps only the backend's key groups, so snapshots of
//     any parallelism merge).
//   - Store (OpenStore) is one Badger database per job, with an explicit memory budget;
//     Store.Backend gives each operator subtask a backend over its key groups. Its keys
//     are operator | key group | state | namespace | key, so a key-group range is a
//     contiguous range of keys. The heap tables act as a write-back cache: reads that miss
//     load from Badger, writes mark entries dirty, and Flush writes each dirty key's final
//     value in one WriteBatch.
//
// # Checkpoints
//
// In a checkpointed job (stream.Checkpointing) the Store never holds uncommitted state.
// Within an epoch a backend's writes stay dirty in its cache; at the epoch's barrier
// StoreBackend.Freeze turns them into one encoded change batch (each key's final value,
// deletions, timers) that the checkpoint's log transaction carries as changelog, and
// keeps them readable (reads: cache, frozen epochs newest first, Badger). Once the epoch
// committed, Store.Apply writes the batches and then the applied epoch with its
// changelog position, and Release drops the frozen copy. Recovery rolls forward only:
// replaying committed batches after the applied position is idempotent. Store.Snapshot
// (a consistent view, written out while the store goes on applying epochs) and
// Store.Load carry the snapshots that let retention delete old changelog.
//
// # Timers
//
// Timers holds an operator subtask's timers in two domains (event time, processing
// time), per key and namespace, deduplicated, popped in time order.
package state
