package log_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

func openLog(t *testing.T) *rlog.Log {
	l, err := rlog.Open(t.TempDir(), rlog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func TestBoundedSourceReadsEveryQueue(t *testing.T) {
	l := openLog(t)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "in", 3))
	for i := 0; i < 300; i++ {
		require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "in", Queue: i % 3, Body: []byte(strconv.Itoa(i)), Timestamp: int64(1000 + i)}))
	}
	for _, p := range []int{1, 2, 3} {
		j := stream.NewJob("read", stream.JobOptions{Parallelism: p})
		src := stream.FromSource[string](j, "in", &logconn.Source[string]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true, Decode: logconn.Body},
			stream.WatermarkStrategy[string]{})
		got := streamtest.Collect(src)
		require.NoError(t, j.Run(ctx))
		vals := got.Values()
		sort.Slice(vals, func(a, b int) bool { x, _ := strconv.Atoi(vals[a]); y, _ := strconv.Atoi(vals[b]); return x < y })
		require.Len(t, vals, 300, "p=%d", p)
		for i, v := range vals {
			require.Equal(t, strconv.Itoa(i), v)
		}
		for _, r := range got.Records() {
			n, _ := strconv.Atoi(r.Value)
			require.Equal(t, int64(1000+n), r.Timestamp, "the message time is the event time")
		}
	}
}

func TestUnboundedSourceFollowsNewMessages(t *testing.T) {
	l := openLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, l.CreateTopic(ctx, "in", 2))
	j := stream.NewJob("follow", stream.JobOptions{})
	src := stream.FromSource[string](j, "in", &logconn.Source[string]{Log: l, Topic: "in", Decode: logconn.Body}, stream.WatermarkStrategy[string]{})
	seen := make(chan string, 100)
	src.To("sink", stream.SinkFunc[string](func(r stream.Record[string]) error { seen <- r.Value; return nil }))
	done := make(chan error)
	go func() { done <- j.Run(ctx) }()
	for i := 0; i < 10; i++ {
		require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "in", Queue: i % 2, Body: []byte(fmt.Sprint("m", i))}))
	}
	var got []string
	for len(got) < 10 {
		select {
		case v := <-seen:
			got = append(got, v)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v arrived", got)
		}
	}
	sort.Strings(got)
	assert.Equal(t, []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"}, got)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestUndecodableMessageFailsTheJobOrGoesToTheDeadLetterTopic(t *testing.T) {
	l := openLog(t)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "in", 1))
	for _, b := range []string{"1", "2", "x", "4"} {
		require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "in", Queue: 0, Body: []byte(b)}))
	}
	decode := func(m *rlog.Message) (int, error) { return strconv.Atoi(string(m.Body)) }
	j := stream.NewJob("strict", stream.JobOptions{})
	stream.FromSource[int](j, "numbers", &logconn.Source[int]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true, Decode: decode},
		stream.WatermarkStrategy[int]{}).To("sink", stream.Discard[int]())
	err := j.Run(ctx)
	require.Error(t, err)
	var oe *stream.OperatorError
	require.True(t, errors.As(err, &oe))
	assert.Contains(t, err.Error(), `decode message in/0@2: strconv.Atoi: parsing "x"`)
	assert.Equal(t, int64(2), oe.Offset)

	j = stream.NewJob("lenient", stream.JobOptions{})
	got := streamtest.Collect(stream.FromSource[int](j, "numbers", &logconn.Source[int]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true,
		Decode: decode, DeadLetter: "in-dlq"}, stream.WatermarkStrategy[int]{}))
	require.NoError(t, j.Run(ctx))
	assert.Equal(t, []int{1, 2, 4}, got.Values())
	f, err := l.Read(ctx, "in-dlq", 0, 0, rlog.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, f.Messages, 1)
	assert.Equal(t, "x", string(f.Messages[0].Body))
	assert.Contains(t, f.Messages[0].Properties["riffle.error"], "invalid syntax")
	assert.Equal(t, "in/0@2", f.Messages[0].Properties["riffle.source"])
}

// A checkpointed job that restores its position reads again what the run before it
// read after its last checkpoint: a rejected message among those is already in the
// dead-letter topic and is not appended a second time; a new one is.
func TestDeadLetterOnceAcrossRestores(t *testing.T) {
	l := openLog(t)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "in", 2))
	for _, b := range []string{"1", "x", "3", "y"} {
		require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "in", Queue: 1, Body: []byte(b)}))
	}
	decode := func(m *rlog.Message) (int, error) { return strconv.Atoi(string(m.Body)) }
	src := &logconn.Source[int]{Log: l, Topic: "in", Start: logconn.Earliest, Decode: decode, DeadLetter: "dlq"}
	read := func(restore int64) []int {
		t.Helper()
		r, err := src.Open(ctx, "1")
		require.NoError(t, err)
		defer r.Close()
		if restore >= 0 {
			require.NoError(t, r.(stream.Seeker).SeekTo(restore))
		}
		buf := make([]stream.Record[int], 16)
		n, err := r.Read(buf)
		require.NoError(t, err)
		var out []int
		for _, rec := range buf[:n] {
			out = append(out, rec.Value)
		}
		return out
	}
	letters := func() []string {
		t.Helper()
		f, err := l.Read(ctx, "dlq", 0, 0, rlog.ReadOptions{})
		require.NoError(t, err)
		var out []string
		for _, m := range f.Messages {
			out = append(out, string(m.Body)+" "+m.Properties["riffle.source"])
		}
		return out
	}

	assert.Equal(t, []int{1, 3}, read(-1))
	assert.Equal(t, []string{"x in/1@1", "y in/1@3"}, letters())
	// Restored at offset 1, and again at 0: x and y were dead-lettered already.
	assert.Equal(t, []int{3}, read(1))
	assert.Equal(t, []int{1, 3}, read(0))
	assert.Equal(t, []string{"x in/1@1", "y in/1@3"}, letters())
	// A message rejected for the first time after a restore is dead-lettered.
	require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "in", Queue: 1, Body: []byte("z")}))
	assert.Equal(t, []int{3}, read(2))
	assert.Equal(t, []string{"x in/1@1", "y in/1@3", "z in/1@4"}, letters())
	// Without a restore (a job that is not checkpointed), every read dead-letters.
	assert.Equal(t, []int{1, 3}, read(-1))
	assert.Len(t, letters(), 6)
}
