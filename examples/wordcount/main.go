// Command wordcount is a user's own program with riffle's runner: it registers a job and
// hands the command line to runner.Main, so it gets the same flags, progress line,
// metrics endpoint, exactly-once checkpoints and clean stop as `riffle run`:
//
//	go run ./examples/wordcount wordcount --data DIR --in lines --out counts [--parallelism 2] [--http :8080]
//
// Every message of topic --in is a line of text; for each word the job writes
// WORD<TAB>COUNT to topic --out, COUNT being the running count of that word.
package main

import (
	"context"
	"flag"
	"os"
	"strconv"
	"strings"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/stream/runner"
)

func main() {
	runner.Register(job())
	os.Exit(runner.Main(os.Args[1:]))
}

// job is the wordcount job for the runner.
func job() runner.Job {
	var in, out string
	return runner.Job{
		Name:    "wordcount",
		Summary: "running count of words, exactly-once",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&in, "in", "lines", "input topic: one line of text per message")
			fs.StringVar(&out, "out", "counts", "output topic (created if missing)")
		},
		Build: func(_ context.Context, c *runner.Config) (*stream.Job, error) {
			job := stream.NewJob("wordcount", c.Options)
			lines := stream.FromSource(job, "lines", &logconn.Source[string]{Log: c.Log, Topic: in,
				Start: logconn.Earliest, Bounded: c.Bounded,
				Decode: func(m *rlog.Message) (string, error) { return string(m.Body), nil }},
				stream.WatermarkStrategy[string]{NoWatermarks: true})
			words := operators.FlatMap(lines, "split", strings.Fields)
			counts := operators.KeyedProcess(stream.KeyBy(words, func(w string) string { return w }), "count",
				func() operators.ProcessFunction[string, string, string] { return &counter{} })
			counts.To("counts", &logconn.Sink[string]{Log: c.Log, Topic: out, Queues: 4,
				Encode: func(r stream.Record[string]) (*rlog.Message, error) {
					word, _, _ := strings.Cut(r.Value, "\t")
					return &rlog.Message{Queue: rlog.ByKey, Key: []byte(word), Body: []byte(r.Value)}, nil
				}})
			return job, nil
		},
	}
}

// counter keeps a count per word in keyed state.
type counter struct{ n state.ValueState[int64] }

func (c *counter) Open(ctx stream.Context) (err error) {
	c.n, err = state.NewValue(ctx.State(), state.Desc[int64]{Name: "n"})
	return err
}

func (c *counter) ProcessElement(_ operators.ProcessContext, word string, _ stream.Record[string], out stream.Output[string]) error {
	n, _, err := c.n.Value()
	if err != nil {
		return err
	}
	n++
	if err := c.n.Update(n); err != nil {
		return err
	}
	out.Emit(stream.Record[string]{Value: word + "\t" + strconv.FormatInt(n, 10), Timestamp: stream.NoTimestamp})
	return nil
}

func (c *counter) OnTimer(operators.ProcessContext, string, int64, state.Domain, stream.Output[string]) error {
	return nil
}
