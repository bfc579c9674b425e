// Package join holds the operator cores that join two keyed streams: window joins,
// interval joins and regular (unbounded) joins. Each constructor returns a
// stream.TwoInputOperator; the runtime (or streamtest.Harness2) sets the current key
// from each record of either input, so records of equal keys meet, and drives the
// operator with records, watermarks (the minimum of both inputs') and timers. The
// user-facing transforms of package operators wrap these constructors.
//
// Every join keeps its records in the keyed state backend (list and map states with
// namespaces) and its deadlines in the timer service, so a snapshot taken between two
// calls restores the operator exactly. A join function sees a pair of records and
// collects zero or more results; the operator stamps each result with the pair's time.
//
// # Which join
//
//	join                            state per key                  results at            late records
//	NewWindowJoin, NewWindowCoGroup the records of open windows    window maxTimestamp   side output or dropped
//	NewIntervalJoin                 records still within bounds    max(left, right ts)   side output or dropped
//	NewJoin, NewOuterJoin           every record (or until TTL)    max(left, right ts)   none: nothing is late
//
// # Window join
//
// NewWindowJoin is Flink's stream.join(other).where(k1).equalTo(k2).window(w).apply(fn):
// for each window and key, fn gets the cross product of both inputs' records in the
// window when the watermark reaches the window's maxTimestamp. Windows follow Flink's
// arithmetic: a window is [start, end), maxTimestamp = end - 1, start = ts - ((ts -
// offset) mod slide) with a non-negative remainder; a session window of gap g for a
// record at ts is [ts, ts+g), and sessions that overlap or touch merge. Allowed lateness
// is 0: a record all of whose windows have fired (maxTimestamp <= watermark) is late.
//
//	op, err := join.NewWindowJoin(join.Tumbling(10*time.Second),
//		join.Map(func(p Person, a Auction) Sale { return Sale{p.Name, a.ID} }),
//		join.Options[Person, Auction]{})
//
// NewWindowCoGroup is the same machinery with Flink's coGroup instead of join: the
// function gets all records of both inputs of a key's window at once, and the window.
// It answers "once per key and window" (Nexmark q8: persons who registered and opened an
// auction in the same window, with the window's start) and outer window joins.
//
//	op, err := join.NewWindowCoGroup(join.Tumbling(10*time.Second),
//		func(w join.Window, ps []Person, as []Auction, out join.Collector[Seller]) error {
//			if len(as) > 0 {
//				for _, p := range ps {
//					out.Collect(Seller{p.ID, p.Name, w.Start})
//				}
//			}
//			return nil
//		}, join.Options[Person, Auction]{})
//
// # Interval join
//
// NewIntervalJoin is Flink's a.intervalJoin(b).between(lower, upper).process(fn): a left
// record a joins each right record b of its key with a.ts + lower <= b.ts <= a.ts + upper
// (bounds inclusive unless excluded), as soon as both are there. Records are kept until
// the watermark passes the last time a partner could have, so the state of a key is
// empty once the watermark is past all its records plus the bounds.
//
//	op, err := join.NewIntervalJoin(join.Between(0, time.Hour), fn, join.Options[Auction, Bid]{})
//
// # Regular join
//
// NewJoin is a join on the key alone, as SQL's FROM a JOIN b ON a.k = b.k on two streams
// (Nexmark q3): every record is stored and joins every stored record of the other input
// when it arrives, whichever arrives first. NewOuterJoin adds records that found no
// partner, emitted alone when they leave the state.
//
// A regular join forgets nothing by itself: its state grows with every record of both
// inputs. Set Options.TTL to bound it: a record then stays joinable for TTL of
// processing time after its arrival, and a per-key processing-time timer removes expired
// records (emitting the unmatched ones of an outer side).
//
// # The user's duties
//
//  1. Key both inputs with the same key type and codec (the runtime's key-by), so that
//     equal keys land in the same subtask and state.
//  2. Give timestamps and watermarks to both inputs of window and interval joins;
//     ErrNoTimestamp fails the job otherwise. Watermarks decide when windows fire and
//     when state is freed: an idle input holds both back.
//  3. Give Options.LeftCodec and RightCodec for record types where encoding/gob is slow.
//  4. Read late records from Options.LateLeft and LateRight if dropping them is wrong.
//  5. Give a regular join a TTL unless the key space and the input are bounded.
//
// # Differences from Flink
//
//   - Interval join: a record at or before the watermark is late (riffle's rule for
//     every operator: ts <= watermark). Flink's interval join only treats ts < watermark
//     as late, and such a record can miss partners Flink has already cleaned up.
//   - Window join: allowed lateness is always 0 and the trigger is the event-time one;
//     late records can go to side outputs (Flink's join API drops them).
//   - Regular outer joins emit a record without partner once, when it leaves the state,
//     instead of Flink SQL's insert-then-retract changelog: the output is append-only.
//     TTL is per record since its arrival, like Flink SQL's state TTL.
//   - Join functions cannot read the records' timestamps (Flink's ProcessJoinFunction
//     context); put times in the values where a function needs them.
package join
