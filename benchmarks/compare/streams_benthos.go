package compare

import (
	"context"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"

	// Benthos' own components: the mapping (Bloblang) processor and the inproc output
	// its consumer functions use.
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// benthosBatch is the number of messages the slice input puts in each batch: riffle's
// source reads up to 512 records at a time (JobOptions.BatchSize default).
const benthosBatch = 512

// benthosMapping is the transform in Bloblang, Benthos' own mapping language.
const benthosMapping = `mapping: |
  let p = content().string().split(",")
  let id = $p.index(0).int64()
  let amount = $p.index(2).int64()
  root = if $amount < 250 { deleted() } else { "%d,%s,%d".format($id, $p.index(1).uppercase(), $amount) }
`

func benthosSystem() StreamSystem {
	return StreamSystem{
		Name: "benthos",
		Runs: map[StreamWorkload]func(context.Context, *StreamInput, *Outputs) error{
			Transform: func(ctx context.Context, in *StreamInput, out *Outputs) error {
				return benthosTransform(ctx, in, out, false)
			},
		},
		Semantics: map[StreamWorkload]string{
			Transform: "Benthos v4.76.0 embedded (public/service StreamBuilder): a BatchInput plugin over the same lines (batches of 512, no-op acks) -> " +
				"a Bloblang `mapping` processor (split, int64, uppercase, deleted() below 250, format) -> AddBatchConsumerFunc; " +
				"default pipeline threads (one per CPU), default metrics (none), logger discarded",
		},
	}
}

func benthosGoSystem() StreamSystem {
	return StreamSystem{
		Name: "benthos-go",
		Runs: map[StreamWorkload]func(context.Context, *StreamInput, *Outputs) error{
			Transform: func(ctx context.Context, in *StreamInput, out *Outputs) error {
				return benthosTransform(ctx, in, out, true)
			},
		},
		Semantics: map[StreamWorkload]string{
			Transform: "as benthos, with the transform as a Go BatchProcessor plugin running the same Go functions as riffle (ParseLine, Keep, Format) instead of Bloblang",
		},
	}
}

// sliceInput is a service.BatchInput over the input lines.
type sliceInput struct {
	lines [][]byte
	next  int
}

func (s *sliceInput) Connect(context.Context) error { return nil }

func (s *sliceInput) ReadBatch(context.Context) (service.MessageBatch, service.AckFunc, error) {
	if s.next >= len(s.lines) {
		return nil, nil, service.ErrEndOfInput
	}
	end := min(s.next+benthosBatch, len(s.lines))
	b := make(service.MessageBatch, 0, end-s.next)
	for _, l := range s.lines[s.next:end] {
		b = append(b, service.NewMessage(l))
	}
	s.next = end
	return b, func(context.Context, error) error { return nil }, nil
}

func (s *sliceInput) Close(context.Context) error { return nil }

// transformProc is the transform as a Go batch processor.
type transformProc struct{}

func (transformProc) ProcessBatch(_ context.Context, b service.MessageBatch) ([]service.MessageBatch, error) {
	res := make(service.MessageBatch, 0, len(b))
	for _, m := range b {
		raw, err := m.AsBytes()
		if err != nil {
			return nil, err
		}
		p, err := ParseLine(raw)
		if err != nil {
			return nil, err
		}
		if !Keep(p) {
			continue
		}
		m.SetBytes(Format(p))
		res = append(res, m)
	}
	return []service.MessageBatch{res}, nil
}

func (transformProc) Close(context.Context) error { return nil }

func benthosTransform(ctx context.Context, in *StreamInput, out *Outputs, goProc bool) error {
	env := service.NewEnvironment()
	err := env.RegisterBatchInput("bench_lines", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchInput, error) {
			return &sliceInput{lines: in.Lines}, nil
		})
	if err != nil {
		return err
	}
	if err := env.RegisterBatchProcessor("bench_transform", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchProcessor, error) {
			return transformProc{}, nil
		}); err != nil {
		return err
	}
	b := env.NewStreamBuilder()
	b.SetLogger(quietLogger)
	if err := b.AddInputYAML("bench_lines: {}"); err != nil {
		return err
	}
	proc := benthosMapping
	if goProc {
		proc = "bench_transform: {}"
	}
	if err := b.AddProcessorYAML(proc); err != nil {
		return err
	}
	var mu sync.Mutex
	var failed error
	if err := b.AddBatchConsumerFunc(func(_ context.Context, batch service.MessageBatch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			v, err := m.AsBytes()
			if err != nil {
				failed = err
				return err
			}
			if err := m.GetError(); err != nil {
				failed = err
				return err
			}
			out.Line(v)
		}
		return nil
	}); err != nil {
		return err
	}
	strm, err := b.Build()
	if err != nil {
		return err
	}
	out.Start()
	if err := strm.Run(ctx); err != nil {
		return err
	}
	return failed
}
