package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream/runner"
)

func TestWordcount(t *testing.T) {
	dir := t.TempDir()
	l, err := rlog.Open(dir, rlog.Options{})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "lines", 2))
	require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "lines", Queue: 0, Body: []byte("to be or not to be")}))
	require.NoError(t, l.Close())

	runner.Register(job())
	var stdout, stderr bytes.Buffer
	code := runner.MainContext(ctx, []string{"wordcount", "--data", dir, "--bounded"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())

	l, err = rlog.Open(dir, rlog.Options{})
	require.NoError(t, err)
	defer l.Close()
	last := map[string]string{}
	for q := 0; q < 4; q++ {
		f, err := l.Read(ctx, "counts", q, 0, rlog.ReadOptions{})
		require.NoError(t, err)
		for _, m := range f.Messages {
			last[string(m.Key)] = string(m.Body)
		}
	}
	assert.Equal(t, map[string]string{"to": "to\t2", "be": "be\t2", "or": "or\t1", "not": "not\t1"}, last)
}
