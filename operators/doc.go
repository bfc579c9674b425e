// Package operators is the user's toolbox for building jobs on the stream API. Go methods
// cannot add type parameters, so transforms that change the record type are functions:
//
//	words := operators.FlatMap(lines, "split", strings.Fields)
//	counts := operators.Reduce(stream.KeyBy(pairs, wordOf), "count", sum)
//	hot := operators.Map(counts, "format", format)
//
// Type-preserving transforms are methods of stream.Stream (Filter, Union, Rebalance,
// Broadcast, To). Keyed and windowed operators work on a stream.KeyedStream, with keyed
// state and timers (package state); windows follow Flink's semantics exactly (package
// operators/window), and joins are in operators/join.
package operators
