package stream_test

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// listeningSource is a log source that records the committed checkpoints it hears of.
type listeningSource struct {
	*logconn.Source[string]
	mu    sync.Mutex
	calls []map[string]int64
	fail  bool
}

func (s *listeningSource) CheckpointCommitted(_ context.Context, _ uint64, positions map[string]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, positions)
	if s.fail {
		return assert.AnError
	}
	return nil
}

// A source that implements CheckpointListener hears, after each committed epoch, the
// positions of its splits; the last call of a bounded job gives every split's end. An
// error it returns does not fail the job.
func TestSourceHearsOfCommittedCheckpoints(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run("fail="+strconv.FormatBool(fail), func(t *testing.T) {
			dir := t.TempDir()
			l, err := rlog.Open(filepath.Join(dir, "log"), rlog.Options{})
			require.NoError(t, err)
			defer l.Close()
			ctx := context.Background()
			require.NoError(t, l.CreateTopic(ctx, "in", 3))
			var msgs []*rlog.Message
			for i := range 1000 {
				msgs = append(msgs, &rlog.Message{Topic: "in", Queue: i % 3, Body: []byte(strconv.Itoa(i))})
			}
			msgs = append(msgs, &rlog.Message{Topic: "in", Queue: 0, Body: []byte("last")})
			require.NoError(t, l.Append(ctx, msgs...))

			src := &listeningSource{Source: &logconn.Source[string]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true,
				Decode: func(m *rlog.Message) (string, error) { return string(m.Body), nil }}, fail: fail}
			j := stream.NewJob("listen", stream.JobOptions{Parallelism: 2,
				Checkpoints: &stream.Checkpointing{Log: l, StateDir: filepath.Join(dir, "state"), Interval: 10 * time.Millisecond}})
			stream.FromSource[string](j, "in", src, stream.WatermarkStrategy[string]{}).To("out", stream.Discard[string]())
			require.NoError(t, j.Run(ctx))

			src.mu.Lock()
			defer src.mu.Unlock()
			require.NotEmpty(t, src.calls)
			assert.Equal(t, map[string]int64{"0": 335, "1": 333, "2": 333}, src.calls[len(src.calls)-1])
			for i := 1; i < len(src.calls); i++ {
				for split, off := range src.calls[i-1] {
					assert.GreaterOrEqual(t, src.calls[i][split], off, "split %s went back", split)
				}
			}
		})
	}
}
