package stream_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
)

// restartRig is a log with an input topic and a job factory over it.
type restartRig struct {
	t   *testing.T
	dir string
	l   *rlog.Log
}

func newRestartRig(t *testing.T) *restartRig {
	dir := t.TempDir()
	l, err := rlog.Open(filepath.Join(dir, "log"), rlog.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	require.NoError(t, l.CreateTopic(context.Background(), "in", 2))
	return &restartRig{t: t, dir: dir, l: l}
}

// append writes messages key=body with the given event times.
func (r *restartRig) append(keys []string, ts []int64) {
	var msgs []*rlog.Message
	for i, k := range keys {
		msgs = append(msgs, &rlog.Message{Topic: "in", Queue: rlog.ByKey, Key: []byte(k), Body: []byte(k), Timestamp: ts[i]})
	}
	require.NoError(r.t, r.l.Append(context.Background(), msgs...))
}

// job builds a checkpointed job: input keyed by message key into fn, output to "out".
func (r *restartRig) job(bounded bool, clk clock.Clock, fn func() operators.ProcessFunction[string, string, string]) *stream.Job {
	j := stream.NewJob("restart", stream.JobOptions{Parallelism: 2, Clock: clk,
		Checkpoints: &stream.Checkpointing{Log: r.l, StateDir: filepath.Join(r.dir, "state"), Interval: 20 * time.Millisecond}})
	in := stream.FromSource(j, "in", &logconn.Source[string]{Log: r.l, Topic: "in", Start: logconn.Earliest, Bounded: bounded,
		Decode: func(m *rlog.Message) (string, error) { return string(m.Body), nil }},
		stream.WatermarkStrategy[string]{})
	out := operators.KeyedProcess(stream.KeyBy(in, func(s string) string { return s }), "proc", fn)
	out.To("out", &logconn.Sink[string]{Log: r.l, Topic: "out", Queues: 1,
		Encode: func(rec stream.Record[string]) (*rlog.Message, error) {
			return &rlog.Message{Queue: 0, Body: []byte(rec.Value)}, nil
		}})
	return j
}

func (r *restartRig) output() []string {
	if _, err := r.l.Topic("out"); err != nil {
		return nil
	}
	f, err := r.l.Read(context.Background(), "out", 0, 0, rlog.ReadOptions{Max: 100000})
	require.NoError(r.t, err)
	var out []string
	for _, m := range f.Messages {
		out = append(out, string(m.Body))
	}
	return out
}

// timerFn registers an event-time timer 5 s after each record and emits "KEY@TS" when
// it fires.
type timerFn struct{}

func (timerFn) ProcessElement(ctx operators.ProcessContext, _ string, r stream.Record[string], _ stream.Output[string]) error {
	ctx.RegisterEventTimeTimer(r.Timestamp + 5000)
	return nil
}

func (timerFn) OnTimer(_ operators.ProcessContext, key string, ts int64, _ state.Domain, out stream.Output[string]) error {
	out.Emit(stream.Record[string]{Value: fmt.Sprintf("%s@%d", key, ts), Timestamp: ts})
	return nil
}

// TestEventTimersAcrossRestarts: timers registered in one run and not yet due fire in
// the next, exactly once; timers that fired before the stop do not fire again.
func TestEventTimersAcrossRestarts(t *testing.T) {
	r := newRestartRig(t)
	var keys []string
	var ts []int64
	for i := 0; i < 200; i++ {
		keys = append(keys, "k"+strconv.Itoa(i))
		ts = append(ts, 10_000+int64(i)*100) // 10 s .. 29.9 s: timers 15 s .. 34.9 s
	}
	r.append(keys, ts)

	// Run 1, unbounded: stopped (on a final checkpoint) once it has read everything.
	j := r.job(false, nil, func() operators.ProcessFunction[string, string, string] { return timerFn{} })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	require.Eventually(t, func() bool {
		for _, o := range j.Metrics().Operators {
			if o.Name == "proc" {
				// Everything read, and the watermark past 20 s: the first timers fired.
				return o.Totals().RecordsIn == 200 && o.Totals().Watermark >= 20_000
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	first := r.output()
	require.NotEmpty(t, first, "timers up to the watermark (29.9 s) fired in run 1")
	require.Less(t, len(first), 200, "later timers were still pending")

	// Run 2, bounded: its end raises the watermark to +inf and every pending timer fires.
	require.NoError(t, r.job(true, nil, func() operators.ProcessFunction[string, string, string] { return timerFn{} }).Run(context.Background()))
	all := r.output()
	want := make([]string, 200)
	for i := range want {
		want[i] = fmt.Sprintf("k%d@%d", i, ts[i]+5000)
	}
	sort.Strings(want)
	got := append([]string(nil), all...)
	sort.Strings(got)
	assert.Equal(t, want, got, "every timer fired exactly once across the two runs")
}

// ttlFn keeps a value per key with a processing-time TTL of 1 minute and emits, for each
// record, "KEY found" or "KEY absent", then refreshes it.
type ttlFn struct{ v state.ValueState[string] }

func (f *ttlFn) Open(ctx stream.Context) (err error) {
	f.v, err = state.NewValue(ctx.State(), state.Desc[string]{Name: "v", TTL: state.TTL{After: time.Minute}})
	return err
}

func (f *ttlFn) ProcessElement(_ operators.ProcessContext, key string, _ stream.Record[string], out stream.Output[string]) error {
	_, ok, err := f.v.Value()
	if err != nil {
		return err
	}
	out.Emit(stream.Record[string]{Value: fmt.Sprintf("%s %v", key, map[bool]string{true: "found", false: "absent"}[ok]), Timestamp: stream.NoTimestamp})
	return f.v.Update(key)
}

func (*ttlFn) OnTimer(operators.ProcessContext, string, int64, state.Domain, stream.Output[string]) error {
	return nil
}

// TestTTLAcrossRestarts: processing-time TTL holds across restarts: an entry written in
// one run is found 30 s later in the next, and is gone two minutes after its last write.
func TestTTLAcrossRestarts(t *testing.T) {
	r := newRestartRig(t)
	clk := clock.NewMock()
	clk.Set(time.Unix(1_700_000_000, 0))
	newFn := func() operators.ProcessFunction[string, string, string] { return &ttlFn{} }
	run := func() []string {
		before := len(r.output())
		require.NoError(t, r.job(true, clk, newFn).Run(context.Background()))
		return r.output()[before:]
	}
	r.append([]string{"a", "b"}, []int64{1, 2})
	assert.ElementsMatch(t, []string{"a absent", "b absent"}, run())

	clk.Add(30 * time.Second)
	r.append([]string{"a"}, []int64{3})
	assert.Equal(t, []string{"a found"}, run(), "30 s after its write")

	clk.Add(90 * time.Second) // a: 90 s after its refresh; b: 120 s after its write
	r.append([]string{"a", "b"}, []int64{4, 5})
	got := run()
	sort.Strings(got)
	assert.Equal(t, []string{"a absent", "b absent"}, got, "expired entries are never returned, across restarts too")
	assert.False(t, strings.Contains(strings.Join(got, ","), "found"))
}
