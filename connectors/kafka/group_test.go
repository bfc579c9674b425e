package kafka

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// With a Group, a checkpointed job commits its positions to the consumer group after
// every checkpoint (a bounded job's last one: every partition's end), and a source of
// the same group without a checkpoint starts where the group is.
func TestSourceGroupOffsets(t *testing.T) {
	addrs := cluster(t, 2, []string{"in"})
	produce(t, addrs, append(recs(0, "a", 7), recs(1, "b", 5)...)...)
	ctx := context.Background()

	dir := t.TempDir()
	l, err := rlog.Open(filepath.Join(dir, "log"), rlog.Options{})
	require.NoError(t, err)
	defer l.Close()
	src := newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true, Group: "riffle-job"})
	j := stream.NewJob("group", stream.JobOptions{Parallelism: 2,
		Checkpoints: &stream.Checkpointing{Log: l, StateDir: filepath.Join(dir, "state"), Interval: 10 * time.Millisecond}})
	stream.FromSource[string](j, "in", src, stream.WatermarkStrategy[string]{}).To("out", stream.Discard[string]())
	require.NoError(t, j.Run(ctx))

	cl := client(t, addrs)
	defer cl.Close()
	for p, want := range []int64{7, 5} {
		off, err := groupOffset(ctx, cl, "riffle-job", "in", int32(p))
		require.NoError(t, err)
		assert.Equal(t, want, off, "partition %d", p)
	}

	// A new source of the group, without a checkpoint, reads only what came since.
	produce(t, addrs, rec(0, "new"))
	again := newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true, Group: "riffle-job"})
	assert.Equal(t, []string{"new"}, vals(readAll(t, openSplit(t, again, "0"))))
	assert.Empty(t, readAll(t, openSplit(t, again, "1")))
	// Another group has committed nothing: Start applies.
	other := newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true, Group: "someone-else"})
	assert.Equal(t, append(seq("a", 0, 7), "new"), vals(readAll(t, openSplit(t, other, "0"))))
}
