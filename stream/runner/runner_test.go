package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	logconn "github.com/riffle-streams/riffle/connectors/log"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/stream"
)

// upper copies topic --in to topic --out in upper case: a small job for the runner.
var upperIn, upperOut string

func init() {
	Register(Job{
		Name:    "upper",
		Summary: "upper-case every message",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&upperIn, "in", "", "input topic")
			fs.StringVar(&upperOut, "out", "", "output topic")
		},
		Build: func(_ context.Context, c *Config) (*stream.Job, error) {
			if upperIn == "" || upperOut == "" {
				return nil, &UsageError{"--in and --out are required"}
			}
			job := stream.NewJob("upper", c.Options)
			src := stream.FromSource(job, "in", &logconn.Source[string]{Log: c.Log, Topic: upperIn, Start: logconn.Earliest,
				Bounded: c.Bounded, Decode: func(m *rlog.Message) (string, error) { return string(m.Body), nil }},
				stream.WatermarkStrategy[string]{NoWatermarks: true})
			up := operators.Map(src, "upper", strings.ToUpper)
			up.To("out", &logconn.Sink[string]{Log: c.Log, Topic: upperOut, Queues: 1,
				Encode: func(r stream.Record[string]) (*rlog.Message, error) {
					return &rlog.Message{Queue: 0, Body: []byte(r.Value)}, nil
				}})
			return job, nil
		},
	})
}

func fill(t *testing.T, dir string, n int) {
	t.Helper()
	l, err := rlog.Open(dir, rlog.Options{})
	require.NoError(t, err)
	defer l.Close()
	ctx := context.Background()
	if _, err := l.Topic("a"); err != nil {
		require.NoError(t, l.CreateTopic(ctx, "a", 2))
	}
	for i := 0; i < n; i++ {
		require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "a", Queue: i % 2, Body: []byte(fmt.Sprintf("msg %d", i))}))
	}
}

func outputs(t *testing.T, dir string) []string {
	t.Helper()
	l, err := rlog.Open(dir, rlog.Options{})
	require.NoError(t, err)
	defer l.Close()
	f, err := l.Read(context.Background(), "b", 0, 0, rlog.ReadOptions{Max: 10000})
	require.NoError(t, err)
	var out []string
	for _, m := range f.Messages {
		out = append(out, string(m.Body))
	}
	return out
}

func TestMainRunsARegisteredJob(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 100)
	var stdout, stderr bytes.Buffer
	code := MainContext(context.Background(), []string{"upper", "--data", dir, "--in", "a", "--out", "b", "--bounded", "--parallelism", "2"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stderr.String(), "upper: done in")
	assert.Len(t, outputs(t, dir), 100)

	// A second bounded run over more input continues where the first stopped.
	fill(t, dir, 10)
	code = MainContext(context.Background(), []string{"upper", "--data", dir, "--in", "a", "--out", "b", "--bounded"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	out := outputs(t, dir)
	assert.Len(t, out, 110)
	assert.Contains(t, out, "MSG 9")
}

func TestMainUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, MainContext(context.Background(), []string{"list"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "upper")
	assert.Equal(t, 2, MainContext(context.Background(), []string{"nope"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `unknown job "nope"`)
	stderr.Reset()
	assert.Equal(t, 2, MainContext(context.Background(), []string{"upper", "--in", "a", "--out", "b"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "--data is required")
	stderr.Reset()
	assert.Equal(t, 2, MainContext(context.Background(), []string{"upper", "--data", t.TempDir()}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "--in and --out are required")
	stderr.Reset()
	assert.Equal(t, 2, MainContext(context.Background(), []string{"upper", "--data", t.TempDir(), "--progress", "loud"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `--progress "loud"`)
}

// TestHTTPWhileRunning serves the endpoints of a running (unbounded) job, then stops it
// with the context: the run ends on a final checkpoint and Run returns nil.
func TestHTTPWhileRunning(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 50)
	upperIn, upperOut = "a", "b"
	j, _ := Lookup("upper")
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- Run(ctx, j, Flags{Data: dir, Parallelism: 1, CheckpointInterval: 20 * time.Millisecond, HTTP: "127.0.0.1:0", Progress: "off"},
			&stderr, nil, func(a string) { addr <- a })
	}()
	base := "http://" + <-addr
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool {
		_, body := get("/metrics")
		return strings.Contains(body, `riffle_records_in_total{job="upper",operator="out",subtask="0"} 50`) &&
			!strings.Contains(body, `riffle_checkpoint_last_epoch{job="upper"} 0`)
	}, 10*time.Second, 10*time.Millisecond)
	_, body := get("/metrics")
	for _, fam := range []string{"riffle_records_out_total", `riffle_bytes_total{job="upper",operator="in",subtask="0"} 290`, `riffle_bytes_total{job="upper",operator="out",subtask="0"} 290`, "riffle_checkpoints_committed_total", "riffle_checkpoint_last_duration_seconds", "riffle_state_bytes", "riffle_job_running{job=\"upper\"} 1"} {
		assert.Contains(t, body, fam)
	}
	code, body := get("/healthz")
	assert.Equal(t, 200, code, body)
	code, body = get("/api/job")
	require.Equal(t, 200, code)
	var api jobJSON
	require.NoError(t, json.Unmarshal([]byte(body), &api))
	assert.True(t, api.Running)
	require.Len(t, api.Operators, 3)
	assert.Equal(t, "in", api.Operators[0].Name)
	assert.Equal(t, "upper", api.Operators[1].Name)
	assert.Equal(t, []stream.EdgeInfo{{From: "in", Partitioning: "forward", Chained: true}}, api.Operators[1].Inputs)
	assert.True(t, api.Checkpoints.Enabled)
	assert.Greater(t, api.Checkpoints.LastEpoch, uint64(0))

	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, stderr.String(), "upper: stopped after")

	// --registry serves the schema registry stored in the log beside the metrics.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- Run(ctx, j, Flags{Data: dir, Parallelism: 1, CheckpointInterval: time.Second, HTTP: "127.0.0.1:0", Registry: true, Progress: "off"},
			&stderr, nil, func(a string) { addr <- a })
	}()
	base = "http://" + <-addr
	resp, err := http.Post(base+"/registry/subjects/s-value/versions", "application/vnd.schemaregistry.v1+json",
		strings.NewReader(`{"schema":"{\"type\":\"string\"}"}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(b))
	assert.Contains(t, string(b), `"id"`)
	// Healthy once the run started (503 "not running" before).
	require.Eventually(t, func() bool { code, _ := get("/healthz"); return code == 200 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Len(t, outputs(t, dir), 50)
}
