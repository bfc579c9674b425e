// Package window holds the window operators of keyed streams: Flink's DataStream window
// machinery (WindowOperator, assigners, triggers, allowed lateness, merging windows) as
// operator cores. Each constructor returns an *Operator, a stream.Operator[IN, OUT] that
// the runtime (or a streamtest.Harness) drives; the user-facing transform
// operators.Window wraps them. Results are exactly Flink's: the scenarios of WINDOWS.md
// and most of Flink's WindowOperatorTest run as golden tests in testdata/.
//
//	// q5: bids per auction in windows of 10 s every 2 s.
//	op := window.Aggregate[int64, Bid, int64, int64](
//		window.Sliding(10*time.Second, 2*time.Second, 0), countBids{})
//
//	// q11: a bidder's bids per session (gap 10 s), with the session's bounds.
//	op := window.AggregateProcess[int64, Bid, int64, int64](window.Session(10*time.Second), countBids{},
//		func(bidder int64, w window.TimeWindow, n int64, out window.Collector[Session]) {
//			out.Collect(Session{bidder, n, w.Start, w.End})
//		}).WithAllowedLateness(time.Second).WithLateOutput(lateBids)
//
// # Windows
//
// A TimeWindow is [Start, End) in ms; its MaxTimestamp is End-1, the last instant it
// holds. Every result of a window is emitted with its MaxTimestamp as timestamp. Windows
// of size s offset by f start at ts - ((ts - f) mod s), with a non-negative remainder
// (Start). The GlobalWindow of Global holds all elements of a key and ends at
// math.MaxInt64.
//
// # Assigners
//
// Tumbling(size, offset) and Sliding(size, slide, offset) put an element into the
// windows containing its timestamp: one for tumbling windows, size/slide (rounded up) for
// sliding ones. Session(gap) puts it into [ts, ts+gap) and merges windows that overlap or
// touch (TimeWindow.Intersects is inclusive, as in Flink: [0,3) and [3,6) merge), so a
// session ends gap after its last element; DynamicSession takes the gap from each
// element. Global puts everything into the GlobalWindow. The ...ProcessingTime variants
// assign by the clock's time when an element arrives instead of its timestamp; for them
// there is no watermark, lateness or late element.
//
// Assigners of event time need records with timestamps (ErrNoTimestamp otherwise). Each
// assigner has a default trigger: EventTimeTrigger for event time, ProcessingTimeTrigger
// for processing time, NeverTrigger for Global. A custom assigner implements Assigner
// (MergingAssigner if its windows merge, ElementAssigner if it needs the element) with a
// WindowCodec for its window type.
//
// # Triggers
//
// A trigger decides, for each window, on each element (OnElement) and at each of its
// timers (OnEventTime, OnProcessingTime), whether to Continue, Fire (emit the window's
// result), Purge (clear its contents) or FireAndPurge:
//
//   - EventTimeTrigger fires once the watermark passes the window's MaxTimestamp, and at
//     once for an element added to a window the watermark has passed (allowed lateness);
//   - ProcessingTimeTrigger fires when the clock passes the window's MaxTimestamp;
//   - CountTrigger(n) fires every n elements of a window;
//   - ContinuousEventTimeTrigger(d) and ContinuousProcessingTimeTrigger(d) fire every d
//     (at multiples of d from the window's first element) and at the window's end;
//   - PurgingTrigger(t) purges whenever t fires;
//   - NeverTrigger never fires.
//
// A trigger keeps what it needs in trigger state (TriggerReducingState,
// TriggerValueState: per key and window, in the keyed state backend) and sets timers
// through its TriggerContext; it never keeps per-window data in its own fields, which
// every key and window shares. Clear must remove its timers and state. On merging
// windows OnMerge merges the merged windows' trigger state into the result's
// (MergeReducingTriggerState) and sets the result's timers.
//
// Purging clears a window's contents, not the window: the window keeps its trigger state
// and timers, and a session keeps its extent, until the window's cleanup time (WINDOWS.md
// scenario 6: a purged session still merges with later elements).
//
// # Lateness
//
// With WithAllowedLateness(d), an event-time window lives until the watermark reaches
// its cleanup time MaxTimestamp + d (math.MaxInt64, meaning never, if that overflows); a
// timer at that time clears its contents, trigger state and timers. A window is late
// when its cleanup time is at or before the watermark; an element is late when all its
// windows are (then ts + d <= watermark). Late elements go to the side output of
// WithLateOutput, or are dropped and counted (LateRecordsDropped). An element added to a
// window the watermark has passed, but that is not late, fires the window again at once
// with EventTimeTrigger (with everything it holds, or only what came since the last
// firing under PurgingTrigger). Sessions: an element whose session merges into a
// window that is still alive joins it; one that would only start a session that is
// already late is late.
//
// # Window functions
//
// Reduce folds a window's elements as they arrive with a reduce function and emits the
// folded value; Aggregate adds them to an accumulator (a state.Aggregate) and emits
// Result. Both keep one value per window in state. Process keeps all elements of a window
// and gives them to a function with the key and the window when it fires (Flink's
// ProcessWindowFunction); ReduceProcess and AggregateProcess give the function the
// single reduced or aggregated value instead. Each result a function hands its Collector
// becomes a record with the window's MaxTimestamp.
//
// The functions' contracts, because values stay in state between calls: reduce
// functions and Aggregate.Add and Merge must not modify memory of values they do not
// return (pointers, slices, maps inside them); a Process function must not keep or modify
// the elements slice, which is valid during the call only. Reduce and Merge must be
// associative on sliding windows, whose panes are folded first and combined when a window
// fires.
//
// # Slicing: panes of sliding windows
//
// A sliding window operator does not write an element into each of its size/slide
// windows, as Flink's WindowOperator does. Windows of size s and slide l (offset f)
// consist of panes of p = gcd(s, l), starting at f + k*p; an element is added to its one
// pane (for Reduce and Aggregate a partial accumulator, for Process the pane's element
// list), and when a window fires its s/p panes are folded in time order (Reduce's
// function, Aggregate's Merge, or concatenation). Nexmark q5, windows of 10 s every 2 s,
// keeps one accumulator per auction and 2 s instead of five.
//
// Triggers still work per window: each window has its timers and trigger state, and a
// trigger sees the calls it would in Flink. With the default trigger a pane's first
// element sets the timers of those of its windows that do not also cover the pane before
// it (in q5, one window per pane); later elements set none. At a window's cleanup time
// the panes whose last window it is (the panes starting in [start, start+l)) are
// cleared: the other windows covering them have ended already. A window's contents are
// thus exactly the elements Flink would have added to it: an element some of whose
// windows are already late goes to its pane only if its last window is not, and the
// windows that were late for it have fired for good (see Restore below).
//
// Panes are used for event-time sliding windows under triggers that never purge
// (EventTimeTrigger, CountTrigger, the continuous triggers, NeverTrigger: purging one
// window would have to remove elements from panes the overlapping windows still need).
// Under PurgingTrigger or a custom trigger, for processing-time sliding windows, and
// with WithoutSlicing, sliding windows keep their contents per window as in Flink.
// Tumbling windows are their own single pane. Within a pane elements keep their arrival
// order; a Process function of a sliding window sees them in pane (time) order, unlike
// Flink's arrival order across the whole window: use WithoutSlicing where that matters.
//
// # Sessions
//
// Each key has a merging window set (value state "window-merging-set"): the session
// windows in flight and, for each, the state window whose namespace holds its contents.
// When an element's window merges windows, the result takes over the state window of one
// of them and the others' contents are merged into it, as state.Mergeable does;
// triggers merge their state in OnMerge, and the merged windows' timers are deleted.
// Everything is in keyed state, so snapshots and restores keep sessions intact.
//
// # State
//
// An operator's state is keyed state of the runtime's backend and timers of its timer
// service, nothing else, so a snapshot restored into a fresh operator (Clone) continues
// exactly:
//
//   - "window-contents": per window (pane, or session state window) the accumulator, or
//     the element list of Process;
//   - "window-merging-set": per key, the merging window set of session windows;
//   - "window-horizon": per key group, see Restore;
//   - trigger state under the triggers' names ("count", "fire-time", ...);
//   - event- and processing-time timers per key and window: the trigger's, and the
//     cleanup timer at the cleanup time.
//
// Windows are namespaces of 16 bytes: Start then End, big-endian with the sign bit
// flipped, so that they sort in time order (TimeWindowCodec); the GlobalWindow is one
// zero byte. Set codecs for values encoding/gob handles slowly or not at all
// (WithAccumulatorCodec, WithElementCodec); the key codec must be the runtime's
// (WithKeyCodec, default state.KeyCodecFor[K]).
//
// # Restore
//
// A restored operator starts at the minimum watermark, as in Flink, until the next
// watermark arrives. Flink's WindowOperator then accepts elements for windows that fired
// or were cleaned up before the snapshot, re-creates those windows and fires them again.
// This package does not: it keeps per key group the watermark at which the group's last
// timer fired or last element at or behind the watermark came (state
// "window-horizon"), and judges lateness against the greater of that and the watermark
// (triggers see it as CurrentWatermark). A restore in the middle of a stream thus gives
// the results of a run without one. Panes need that (a re-created window would see the
// old elements its panes share with later windows), and it spares a restored job
// duplicate firings; Flink's SQL window operators restore their watermark for the same
// reason.
//
// # Differences from Flink
//
//   - Panes (above): sliding windows fold partial results, so reduce functions and
//     Aggregate.Merge must be associative, and Process sees elements in pane order.
//   - Restore (above): lateness after a restore is judged against the horizon.
//   - Triggers get the element's timestamp, not the element (Flink's DeltaTrigger has no
//     counterpart). There are no evictors, and window functions get no per-window state
//     or side outputs (Flink's ProcessWindowFunction.Context).
//   - Flink's MergingWindowSet, when an element's window equals one in flight, maps it to
//     itself, dropping the contents of a merged window's state window (possible with
//     dynamic gaps); here the window keeps its state window.
//   - The key is the runtime's current key decoded with the key codec (cached while the
//     key does not change), not re-extracted from elements.
//
// The user's duties, in order:
//
//  1. Pick an assigner, a function and the key type: window.Reduce[K](assigner, fn) and
//     so on (K is inferred where the function takes the key).
//  2. Configure before Open: WithTrigger, WithAllowedLateness, WithLateOutput, codecs;
//     Validate reports every mistake at once (Open calls it).
//  3. Respect the functions' contracts above; keep trigger data in trigger state.
//  4. Give each subtask its own operator (Clone).
package window
