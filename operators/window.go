package operators

import (
	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/stream"
)

// Window runs a window operator on a keyed stream: build op with the constructors of
// package window (Reduce, Aggregate, Process and their ...Process forms, over Tumbling,
// Sliding, Session, DynamicSession or Global assigners), then WithTrigger,
// WithAllowedLateness and WithLateOutput as needed. Late records sent to a tag are read
// with SideOutput(result, tag). Each subtask runs its own clone of op.
//
//	top := operators.Window(byAuction, "count",
//		window.Aggregate[int64](window.Sliding(10*time.Second, 2*time.Second, 0), count{}))
func Window[K comparable, IN, ACC, OUT any, W window.Window](k stream.KeyedStream[K, IN], name string, op *window.Operator[K, IN, ACC, OUT, W]) stream.Stream[OUT] {
	op = op.WithKeyCodec(k.KeyCodec())
	return stream.TransformKeyed(k, name, func() stream.Operator[IN, OUT] { return op.Clone() })
}
