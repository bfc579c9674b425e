// Package nexmark holds the Nexmark queries as ordinary riffle jobs, written with the
// public API as a newcomer would write them: each query is a function from the stream of
// events to the stream of its results, whose JSON form is the output QUERIES.md defines.
//
//	events := stream.FromSource(job, "events", &nexmark.GeneratorSource{...}, nexmark.Watermarks())
//	results := nexmarkq.Q5(events)
package nexmark
