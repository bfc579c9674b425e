package log

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Validation errors that TestValidation (log_test.go) does not cover. Every invalid call
// fails before anything reaches the commitlog.

func TestOptionsValidateReportsEveryProblem(t *testing.T) {
	opts := Options{
		SegmentSize:             1000,
		MaxMessageSize:          -1,
		MaxPropertiesSize:       2 << 20,
		ConsumeQueueFileEntries: 3,
		Durability:              7,
		FlushInterval:           -time.Second,
		RetentionBytes:          -5,
	}
	dir := filepath.Join(t.TempDir(), "data")
	_, err := Open(dir, opts)
	require.Error(t, err)
	for _, want := range []string{
		"SegmentSize 1000 is below the minimum 65536",
		"MaxMessageSize -1 must be positive",
		"MaxPropertiesSize 2097152 must be in (0, 1 MiB]",
		"ConsumeQueueFileEntries 3 is below 16",
		"Durability 7 is neither Async nor Sync",
		"intervals must not be negative",
		"RetentionBytes -5 must not be negative",
	} {
		assert.Contains(t, err.Error(), want)
	}
	_, statErr := os.Stat(dir)
	assert.True(t, os.IsNotExist(statErr), "invalid options create nothing")

	_, err = Open(t.TempDir(), Options{SegmentSize: 1 << 20, MaxMessageSize: 1 << 20})
	require.ErrorContains(t, err, "MaxMessageSize 1048576 does not fit a segment of 1048576 bytes")
	_, err = Open(t.TempDir(), Options{SegmentSize: 1 << 30, MaxMessageSize: 64<<20 + 1})
	require.ErrorContains(t, err, "exceeds the format's limit 67108864")
	_, err = Open(t.TempDir(), Options{CheckpointInterval: -1, RetentionCheckInterval: -1})
	require.ErrorContains(t, err, "intervals must not be negative")
}

func TestValidationOfEveryCall(t *testing.T) {
	opts := testOptions()
	opts.MaxMessageSize = 1 << 20
	opts.SegmentSize = 2 << 20
	l := openT(t, t.TempDir(), opts)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", 2))
	_, end := l.cl.bounds()

	t.Run("topics", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			queues int
			want   string
		}{
			{"ok", 0, "queue count 0 outside [1, 65536]"},
			{"ok", -1, "queue count -1 outside [1, 65536]"},
			{"ok", 1<<16 + 1, "queue count 65537 outside [1, 65536]"},
			{"", 1, "invalid topic name: empty"},
			{strings.Repeat("x", 128), 1, "is 128 characters, the limit is 127"},
			{"a/b", 1, `'/' at byte 1`},
			{"a.b", 1, `'.' at byte 1`},
			{"t", 3, "topic already exists"},
		} {
			err := l.CreateTopic(ctx, c.name, c.queues)
			require.ErrorContains(t, err, c.want, "CreateTopic(%q, %d)", c.name, c.queues)
		}
		require.NoError(t, l.CreateTopic(ctx, "All_the-chars%|09", 1), "every allowed character")
		require.NoError(t, l.CreateTopic(ctx, strings.Repeat("x", 127), 1))
	})
	_, end = l.cl.bounds()

	t.Run("messages", func(t *testing.T) {
		limit := opts.MaxMessageSize
		cases := []struct {
			name string
			msg  Message
			want string
		}{
			{"key over 64 KiB", Message{Topic: "t", Key: make([]byte, 64<<10+1)}, "key is 65537 bytes, the limit is 65536"},
			{"property name over 64 KiB", Message{Topic: "t", Properties: map[string]string{strings.Repeat("n", 1<<16): "v"}}, "name and value are limited to 65535 bytes each"},
			{"property value over 64 KiB", Message{Topic: "t", Properties: map[string]string{"n": strings.Repeat("v", 1<<16)}}, "name and value are limited to 65535 bytes each"},
			{"one byte over the size limit", Message{Topic: "t", Key: []byte("0123456789"), Tags: "tag", Body: make([]byte, limit-12)}, fmt.Sprintf("message is %d bytes (key, tags, properties and body), the limit is %d", limit+1, limit)},
			{"properties count towards the size", Message{Topic: "t", Properties: map[string]string{"k": "v"}, Body: make([]byte, limit-5)}, "the limit is"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				m := c.msg
				err := l.Append(ctx, &m)
				require.ErrorIs(t, err, ErrInvalidMessage)
				assert.ErrorContains(t, err, c.want)
				assert.ErrorContains(t, l.ValidateMessage(&m), c.want, "ValidateMessage makes the same checks")
				got := make(chan error, 1)
				l.AppendAsync(Sync, func(err error) { got <- err }, &m)
				assert.ErrorContains(t, <-got, c.want, "AppendAsync reports it through done")
			})
		}
		// The limits themselves are allowed.
		ok := []*Message{
			{Topic: "t", Key: []byte("0123456789"), Tags: "tag", Body: make([]byte, limit-13)},
			{Topic: "t", Tags: strings.Repeat("t", MaxTagsLength)},
			{Topic: "t", Key: make([]byte, 64<<10)},
		}
		for _, m := range ok {
			require.NoError(t, l.ValidateMessage(m))
		}
	})
	_, now := l.cl.bounds()
	assert.Equal(t, end, now, "no invalid message reached the commitlog")

	t.Run("unknown topic and queue", func(t *testing.T) {
		got := make(chan error, 1)
		l.AppendAsync(Async, func(err error) { got <- err }, &Message{Topic: "nope", Body: []byte("x")})
		err := <-got
		require.ErrorIs(t, err, ErrUnknownTopic)
		assert.ErrorContains(t, err, "riffle log topics create --topic nope")
		l.AppendAsync(Async, func(err error) { got <- err }, &Message{Topic: "t", Queue: 9})
		assert.ErrorContains(t, <-got, "no queue 9")

		_, err = l.Read(ctx, "nope", 0, 0, ReadOptions{})
		require.ErrorIs(t, err, ErrUnknownTopic)
		_, err = l.Read(ctx, "t", 2, 0, ReadOptions{})
		require.ErrorContains(t, err, `topic "t" has 2 queues, no queue 2`)
		_, err = l.Read(ctx, "t", -1, 0, ReadOptions{})
		require.ErrorContains(t, err, "no queue -1")
		_, err = l.Read(ctx, "t", 0, -1, ReadOptions{})
		var oor *OffsetOutOfRangeError
		require.ErrorAs(t, err, &oor)
		assert.Equal(t, int64(-1), oor.Offset)
		_, _, err = l.QueueBounds("nope", 0)
		require.ErrorIs(t, err, ErrUnknownTopic)
		_, err = l.OffsetForTime("t", 5, 0)
		require.ErrorContains(t, err, "no queue 5")
		_, err = l.Topic("nope")
		require.ErrorIs(t, err, ErrUnknownTopic)
	})

	t.Run("offsets", func(t *testing.T) {
		for _, c := range []struct {
			group string
			offs  map[QueueRef]int64
			want  string
		}{
			{"", map[QueueRef]int64{{"t", 0}: 1}, "invalid group name"},
			{"a b", map[QueueRef]int64{{"t", 0}: 1}, "invalid group name"},
			{"g", map[QueueRef]int64{{"nope", 0}: 1}, "unknown topic"},
			{"g", map[QueueRef]int64{{"t", 2}: 1}, "no queue 2"},
			{"g", map[QueueRef]int64{{"t", 0}: -3}, "negative offset -3 for t/0"},
		} {
			err := l.CommitOffsets(ctx, c.group, c.offs)
			require.ErrorContains(t, err, c.want, "CommitOffsets(%q, %v)", c.group, c.offs)
		}
		assert.Empty(t, l.Groups())
		_, now := l.cl.bounds()
		assert.Equal(t, end, now, "no invalid commit reached the commitlog")
	})

	t.Run("closed", func(t *testing.T) {
		require.NoError(t, l.Close())
		require.ErrorIs(t, l.CreateTopic(ctx, "u", 1), ErrClosed)
		require.ErrorIs(t, l.CommitOffsets(ctx, "g", map[QueueRef]int64{{"t", 0}: 0}), ErrClosed)
		require.ErrorIs(t, l.Checkpoint(ctx), ErrClosed)
		_, err := l.EnforceRetention(ctx)
		require.ErrorIs(t, err, ErrClosed)
		got := make(chan error, 1)
		l.AppendAsync(Async, func(err error) { got <- err }, &Message{Topic: "t", Body: []byte("x")})
		require.ErrorIs(t, <-got, ErrClosed)
	})
}
