package log

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetentionHold(t *testing.T) {
	opts := testOptions()
	opts.RetentionBytes = 1 // as little as retention can keep: the active segment
	l := openT(t, t.TempDir(), opts)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 1))
	for i := 0; i < 3000; i++ {
		require.NoError(t, l.Append(ctx, &Message{Topic: "t", Queue: 0, Body: bytes.Repeat([]byte{'a'}, 500)}))
	}
	require.NoError(t, l.HoldRetention("job", QueueRef{"t", 0}, 1500))
	_, err := l.EnforceRetention(ctx)
	require.NoError(t, err)
	lo, _, _ := l.QueueBounds("t", 0)
	assert.Greater(t, lo, int64(0), "segments before the hold go")
	assert.LessOrEqual(t, lo, int64(1500), "the held offset stays readable")
	f, err := l.Read(ctx, "t", 0, 1500, ReadOptions{Max: 1})
	require.NoError(t, err)
	require.Len(t, f.Messages, 1)

	// Moving the hold to the end lets everything but the active segment go.
	_, hi, _ := l.QueueBounds("t", 0)
	require.NoError(t, l.HoldRetention("job", QueueRef{"t", 0}, hi))
	_, err = l.EnforceRetention(ctx)
	require.NoError(t, err)
	lo2, _, _ := l.QueueBounds("t", 0)
	assert.Greater(t, lo2, int64(1500))

	var oor *OffsetOutOfRangeError
	require.ErrorAs(t, l.HoldRetention("job", QueueRef{"t", 0}, hi+1), &oor)
	require.Error(t, l.HoldRetention("job", QueueRef{"nope", 0}, 0))
	l.ReleaseRetention("job")
	assert.Equal(t, int64(-1), l.minHold())
}
