package compare

import (
	"context"
)

// plainGoSystem is each workload as a plain Go loop over the in-memory input, in one
// goroutine: what the computation costs without a framework, storage or guarantee.
func plainGoSystem() StreamSystem {
	return StreamSystem{
		Name: "plain-go",
		Runs: map[StreamWorkload]func(context.Context, *StreamInput, *Outputs) error{
			KeyedCount:    plainCount,
			Transform:     plainTransform,
			WindowedCount: plainWindow,
		},
		Semantics: map[StreamWorkload]string{
			KeyedCount:    "baseline, not a peer: a loop over the keys with a map[string]int64, in memory, no log, no durability",
			Transform:     "baseline, not a peer: a loop calling ParseLine, Keep and Format",
			WindowedCount: "baseline, not a peer: a loop with a map[int64]int64 per window, emitting a window's counts when the (ordered) event time leaves it",
		},
	}
}

func plainCount(_ context.Context, in *StreamInput, out *Outputs) error {
	spec := in.Spec
	keys := make([][]byte, spec.Keys)
	for k := range keys {
		keys[k] = []byte(CountKey(k, spec.Keys))
	}
	out.Start()
	counts := make(map[string]int64, spec.Keys)
	for i := range spec.Records {
		key := keys[i%spec.Keys]
		n := counts[string(key)] + 1
		counts[string(key)] = n
		out.Count(key, n)
	}
	return nil
}

func plainTransform(_ context.Context, in *StreamInput, out *Outputs) error {
	out.Start()
	for _, l := range in.Lines {
		p, err := ParseLine(l)
		if err != nil {
			return err
		}
		if Keep(p) {
			out.Line(Format(p))
		}
	}
	return nil
}

func plainWindow(_ context.Context, in *StreamInput, out *Outputs) error {
	out.Start()
	size := WindowSize.Milliseconds()
	counts := map[int64]int64{}
	start := int64(-1)
	flush := func() {
		for k, n := range counts {
			out.Window(k, start, n)
		}
		clear(counts)
	}
	for _, e := range in.Events {
		if s := e.TS - e.TS%size; s != start {
			flush()
			start = s
		}
		counts[e.Key]++
	}
	flush()
	return nil
}
