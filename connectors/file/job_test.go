package file

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	"github.com/riffle-streams/riffle/internal/avrofile"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/stream"
)

func openLog(t testing.TB, dir string) *rlog.Log {
	t.Helper()
	l, err := rlog.Open(dir, rlog.Options{Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func checkpointing(l *rlog.Log, dir string) *stream.Checkpointing {
	return &stream.Checkpointing{Log: l, StateDir: filepath.Join(dir, "state"), Interval: 5 * time.Millisecond}
}

// slow makes a map take some time, so that a run spans several checkpoints.
func slow(every int64) func(Rec) Rec {
	var n atomic.Int64
	return func(r Rec) Rec {
		if n.Add(1)%every == 0 {
			time.Sleep(time.Millisecond)
		}
		return r
	}
}

// The runcount shape: a log source, a map, the file sink, checkpointed.
func TestCheckpointedJobPublishesEachRecordOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	require.NoError(t, l.CreateTopic(ctx, "in", 2))
	const n = 3000
	for i := 0; i < n; i += 100 {
		var msgs []*rlog.Message
		for k := i; k < i+100; k++ {
			msgs = append(msgs, &rlog.Message{Topic: "in", Queue: k % 2, Body: []byte(strconv.Itoa(k))})
		}
		require.NoError(t, l.Append(ctx, msgs...))
	}
	sink, err := NewAvroSink[Rec](SinkOptions{Dir: filepath.Join(dir, "out"), Schema: recSchema, Codec: CodecZstandard, Logger: quiet})
	require.NoError(t, err)
	run := func() {
		job := stream.NewJob("to-files", stream.JobOptions{Parallelism: 2, Logger: quiet, Checkpoints: checkpointing(l, dir)})
		in := stream.FromSource(job, "in", &logconn.Source[int]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true,
			Decode: func(m *rlog.Message) (int, error) { return strconv.Atoi(string(m.Body)) }},
			stream.WatermarkStrategy[int]{NoWatermarks: true})
		recs := operators.Map(in, "rec", func(i int) Rec { return rec(i) })
		operators.Map(recs, "slow", slow(100)).To("files", sink)
		require.NoError(t, job.Run(ctx))
	}
	run()
	assert.Equal(t, recs(0, n), sortRecs(published(t, sink)))
	assert.Empty(t, inProgress(t, sink.Dir()))
	parts := listDir(t, sink.Dir())
	t.Logf("%d parts", len(parts))

	// The job's input is consumed: running it again publishes nothing.
	run()
	assert.Equal(t, parts, listDir(t, sink.Dir()))
}

// writeInputs writes files Avro files of per records each (ids counting from 0 across
// files) into dir/in, in blocks of 37 records.
func writeInputs(t testing.TB, dir string, files, per int) string {
	in := filepath.Join(dir, "in")
	require.NoError(t, mkdir(in))
	for f := 0; f < files; f++ {
		writeAvro(t, filepath.Join(in, fmt.Sprintf("in-%d.avro", f)), recSchema,
			avrofile.WriterOptions{Codec: avrofile.CodecDeflate, BlockRecords: 37}, recs(f*per, (f+1)*per))
	}
	return filepath.Join(in, "*.avro")
}

// A run fails after some epochs were published; the restart resumes every file where the
// last checkpoint left it and publishes the rest: each record exactly once.
func TestFailedRunRestartsAndPublishesEachRecordOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	const files, per = 3, 1000
	glob := writeInputs(t, dir, files, per)
	src, err := NewAvroSource[Rec](SourceOptions{Glob: glob})
	require.NoError(t, err)
	sink, err := NewJSONSink[Rec](SinkOptions{Dir: filepath.Join(dir, "out"), Logger: quiet}, nil)
	require.NoError(t, err)

	var seen atomic.Int64
	var failed atomic.Bool
	failOnce := func(r Rec) (Rec, error) {
		k := seen.Add(1)
		if k%50 != 0 {
			return r, nil
		}
		time.Sleep(time.Millisecond)
		if m, _ := filepath.Glob(sink.Glob()); len(m) > 0 && !failed.Load() {
			failed.Store(true)
			return r, errors.New("injected failure")
		}
		return r, nil
	}
	job := stream.NewJob("files-to-files", stream.JobOptions{Parallelism: 2, Logger: quiet, Checkpoints: checkpointing(l, dir),
		Restart: stream.RestartStrategy{MaxAttempts: 1}})
	in := stream.FromSource(job, "in", src, stream.WatermarkStrategy[Rec]{NoWatermarks: true})
	operators.MapErr(in, "fail-once", failOnce).To("files", sink)
	require.NoError(t, job.Run(ctx))
	require.True(t, failed.Load(), "the first run published a part before failing")
	assert.Greater(t, seen.Load(), int64(files*per), "the restart read records again")
	assert.Equal(t, recs(0, files*per), sortRecs(published(t, sink)))
	assert.Empty(t, inProgress(t, sink.Dir()))
}
