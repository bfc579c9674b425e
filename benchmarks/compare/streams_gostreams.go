package compare

import (
	"context"
	"time"

	"github.com/reugn/go-streams"
	ext "github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"
)

// GoStreamsWindow is go-streams' tumbling window: processing time (its TumblingWindow
// has no event-time option), so its windows cannot be riffle's 1 s of event time.
const GoStreamsWindow = 100 * time.Millisecond

// goStreamsChan is the buffer of the channels the harness feeds and drains.
const goStreamsChan = 1024

const goStreamsWindowNote = "go-streams v0.13.0: TumblingWindow is by processing time only (a ticker every 100 ms emits what arrived meanwhile); " +
	"its event-time option exists only on SlidingWindow (SlidingWindowOpts.EventTimeExtractor), whose windows still advance one slide per " +
	"wall-clock tick, so input replayed faster than real time would lose windows. Its windows therefore differ from riffle's 1 s event-time " +
	"windows, and only the totals per key are checked. "

func goStreamsSystem() StreamSystem {
	return StreamSystem{
		Name: "go-streams",
		Runs: map[StreamWorkload]func(context.Context, *StreamInput, *Outputs) error{
			WindowedCount: goStreamsWindow,
		},
		Semantics: map[StreamWorkload]string{
			WindowedCount: goStreamsWindowNote + "Pipeline: ChanSource (events sent by a goroutine, buffer 1024) -> TumblingWindow[Event](100 ms) -> " +
				"Map(count per key of the window's slice, map[int64]int64) -> ChanSink, in memory, no checkpoints",
		},
		ProcessingTimeWindows: true,
	}
}

func goStreamsKeyedSystem() StreamSystem {
	return StreamSystem{
		Name: "go-streams-keyed",
		Runs: map[StreamWorkload]func(context.Context, *StreamInput, *Outputs) error{
			WindowedCount: goStreamsKeyedWindow,
		},
		Semantics: map[StreamWorkload]string{
			WindowedCount: goStreamsWindowNote + "Pipeline: ChanSource -> Keyed(by key; per key: TumblingWindow[Event](100 ms) -> Map(len)) -> ChanSink " +
				"(go-streams' per-key idiom: each key gets its own window and goroutines)",
		},
		ProcessingTimeWindows: true,
	}
}

// goStreamsRun feeds the events into a pipeline built by via, and reports what reaches
// the sink: []WindowResult or WindowResult.
func goStreamsRun(ctx context.Context, in *StreamInput, out *Outputs, via func(streams.Source) streams.Flow) error {
	src := make(chan any, goStreamsChan)
	sinkc := make(chan any, goStreamsChan)
	out.Start()
	go func() {
		defer close(src)
		for _, e := range in.Events {
			select {
			case src <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	go via(ext.NewChanSource(src)).To(ext.NewChanSink(sinkc))
	for v := range sinkc {
		switch v := v.(type) {
		case []WindowResult:
			for _, r := range v {
				out.Window(r.Key, r.Start, r.N)
			}
		case WindowResult:
			out.Window(v.Key, v.Start, v.N)
		}
	}
	out.Stop()
	return ctx.Err()
}

func goStreamsWindow(ctx context.Context, in *StreamInput, out *Outputs) error {
	return goStreamsRun(ctx, in, out, func(s streams.Source) streams.Flow {
		return s.Via(flow.NewTumblingWindow[Event](GoStreamsWindow)).
			Via(flow.NewMap(func(w []Event) []WindowResult {
				counts := map[int64]int64{}
				for _, e := range w {
					counts[e.Key]++
				}
				res := make([]WindowResult, 0, len(counts))
				for k, n := range counts {
					res = append(res, WindowResult{Key: k, Start: -1, N: n})
				}
				return res
			}, 1))
	})
}

func goStreamsKeyedWindow(ctx context.Context, in *StreamInput, out *Outputs) error {
	return goStreamsRun(ctx, in, out, func(s streams.Source) streams.Flow {
		return s.Via(flow.NewKeyed(func(e Event) int64 { return e.Key },
			func() streams.Flow { return flow.NewTumblingWindow[Event](GoStreamsWindow) },
			func() streams.Flow {
				return flow.NewMap(func(w []Event) WindowResult {
					return WindowResult{Key: w[0].Key, Start: -1, N: int64(len(w))}
				}, 1)
			}))
	})
}
