package nexmark

import (
	"bufio"
	"io"
	"sort"
	"sync"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	"github.com/riffle-streams/riffle/connectors/nexmark"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// Query wires one query between a stream of events and a sink of JSON lines.
type Query func(events stream.Stream[nexmark.Event], out *JSONLines)

// Queries are the implemented queries, by name.
var Queries = map[string]Query{
	"q0":  func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q0(e), out) },
	"q1":  func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q1(e), out) },
	"q2":  func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q2(e), out) },
	"q3":  func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q3(e), out) },
	"q4":  func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q4(e), out) },
	"q5":  func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q5(e), out) },
	"q7":  func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q7(e), out) },
	"q8":  func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q8(e), out) },
	"q11": func(e stream.Stream[nexmark.Event], out *JSONLines) { WriteJSON(Q11(e), out) },
}

// Names lists the implemented queries in order.
func Names() []string {
	out := make([]string, 0, len(Queries))
	for n := range Queries {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) < len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// JSONLines writes one JSON object per line, from any number of subtasks. A nil writer
// discards (benchmarks) but still counts.
type JSONLines struct {
	mu    sync.Mutex
	w     *bufio.Writer
	sink  func(string) // tests
	Count int64

	log   *rlog.Log // NewLogJSONLines: results go to a log topic instead
	topic string
}

// NewLogJSONLines sends the results to topic of l, one JSON message each, through a log
// sink: in a checkpointed job they commit with the checkpoints (exactly-once).
func NewLogJSONLines(l *rlog.Log, topic string) *JSONLines {
	return &JSONLines{log: l, topic: topic}
}

// NewJSONLines writes to w (nil: discard).
func NewJSONLines(w io.Writer) *JSONLines {
	if w == nil {
		return &JSONLines{}
	}
	return &JSONLines{w: bufio.NewWriterSize(w, 1<<20)}
}

// Write appends v as a JSON line.
func (j *JSONLines) Write(v any) error {
	if j.sink != nil {
		b, err := marshalJSON(v)
		if err != nil {
			return err
		}
		j.mu.Lock()
		j.sink(string(b))
		j.mu.Unlock()
		return nil
	}
	if j.w == nil {
		j.mu.Lock()
		j.Count++
		j.mu.Unlock()
		return nil
	}
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.Count++
	j.w.Write(b)
	return j.w.WriteByte('\n')
}

// Flush flushes buffered lines.
func (j *JSONLines) Flush() error {
	if j.w == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.w.Flush()
}

// WriteJSONFunc runs q with its results going to the lines of out (tests).
func WriteJSONFunc(q Query, events stream.Stream[nexmark.Event], out interface{ add(string) }) {
	j := &JSONLines{sink: out.add}
	q(events, j)
}

// WriteJSON sends a stream of results to out.
func WriteJSON[T any](s stream.Stream[T], out *JSONLines) {
	if out.log != nil {
		s.To("output", &logconn.Sink[T]{Log: out.log, Topic: out.topic, Queues: 1,
			Encode: func(r stream.Record[T]) (*rlog.Message, error) {
				b, err := marshalJSON(r.Value)
				return &rlog.Message{Queue: 0, Body: b}, err
			}})
		return
	}
	s.To("output", stream.SinkFunc[T](func(r stream.Record[T]) error { return out.Write(r.Value) }))
}
