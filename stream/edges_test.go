package stream_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

func ints(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// subtaskTag emits "subtask:value".
func subtaskTag(s stream.Stream[int], name string) stream.Stream[string] {
	return operators.Process(s, name, func(v int, out *operators.Emitter[string]) error {
		out.Emit(fmt.Sprintf("%d:%d", out.Context().Subtask(), v))
		return nil
	})
}

func TestBroadcastReachesEverySubtask(t *testing.T) {
	j := stream.NewJob("broadcast", stream.JobOptions{})
	src := stream.FromSlice(j, "ints", ints(10), stream.WatermarkStrategy[int]{})
	got := streamtest.Collect(subtaskTag(src.Broadcast(), "tag").SetParallelism(3))
	require.NoError(t, j.Run(context.Background()))
	perSubtask := map[string]int{}
	for _, v := range got.Values() {
		perSubtask[v[:1]]++
	}
	assert.Equal(t, map[string]int{"0": 10, "1": 10, "2": 10}, perSubtask)
}

func TestRebalanceSpreadsRoundRobin(t *testing.T) {
	j := stream.NewJob("rebalance", stream.JobOptions{BatchSize: 4})
	src := stream.FromSlice(j, "ints", ints(300), stream.WatermarkStrategy[int]{})
	got := streamtest.Collect(subtaskTag(src.Rebalance(), "tag").SetParallelism(3))
	require.NoError(t, j.Run(context.Background()))
	perSubtask := map[string]int{}
	seen := map[string]bool{}
	for _, v := range got.Values() {
		perSubtask[v[:1]]++
		seen[v[2:]] = true
	}
	assert.Equal(t, map[string]int{"0": 100, "1": 100, "2": 100}, perSubtask)
	assert.Len(t, seen, 300, "every record exactly once")
}

func TestUnionAndSideOutputs(t *testing.T) {
	j := stream.NewJob("union", stream.JobOptions{Parallelism: 2})
	a := stream.FromSlice(j, "a", ints(50), stream.WatermarkStrategy[int]{})
	b := operators.Map(stream.FromSlice(j, "b", ints(50), stream.WatermarkStrategy[int]{}), "plus1000", func(v int) int { return v + 1000 })
	odd := stream.NewOutputTag[string]("odd")
	evens := operators.Process(a.Union(b), "split", func(v int, out *operators.Emitter[int]) error {
		if v%2 == 1 {
			operators.EmitSide(out, odd, strconv.Itoa(v))
			return nil
		}
		out.Emit(v)
		return nil
	})
	gotEven := streamtest.Collect(evens)
	gotOdd := streamtest.Collect(operators.SideOutput(evens, odd))
	require.NoError(t, j.Run(context.Background()))
	ev := gotEven.Values()
	sort.Ints(ev)
	require.Len(t, ev, 50)
	assert.Equal(t, 0, ev[0])
	assert.Equal(t, 1048, ev[49])
	assert.Len(t, gotOdd.Values(), 50)
	for _, v := range gotOdd.Values() {
		n, _ := strconv.Atoi(v)
		assert.Equal(t, 1, n%2)
	}
}

func TestMoreSubtasksThanSplits(t *testing.T) {
	j := stream.NewJob("idle subtasks", stream.JobOptions{Parallelism: 4})
	got := streamtest.Collect(operators.Map(stream.FromSlice(j, "one split", ints(20), stream.WatermarkStrategy[int]{}), "id", func(v int) int { return v }))
	require.NoError(t, j.Run(context.Background()))
	assert.Len(t, got.Values(), 20)
}

func TestConstructionErrorsAreReportedByRun(t *testing.T) {
	j := stream.NewJob("bad", stream.JobOptions{})
	src := stream.FromSlice(j, "ints", ints(3), stream.WatermarkStrategy[int]{})
	src.SetParallelism(0)
	err := j.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "parallelism 0 must be at least 1")
	require.Error(t, j.Run(context.Background()), "a job runs once")

	type unhashable struct{ M map[string]int }
	j = stream.NewJob("bad key", stream.JobOptions{})
	s2 := stream.FromSlice(j, "v", []unhashable{{}}, stream.WatermarkStrategy[unhashable]{})
	_ = stream.KeyBy(s2, func(u unhashable) *int { return nil })
	err = j.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no canonical key encoding for *int")
}
