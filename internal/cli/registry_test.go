package cli

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sr"
)

// runLeaf runs one leaf command the way Run does (flags, usage errors, errors to
// stderr), without going through root(), so that these tests do not depend on where the
// command is registered.
func runLeaf(ctx context.Context, cmd *command, name string, stdout, stderr io.Writer, args ...string) int {
	env := &Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	run := cmd.flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := run(ctx, env); err != nil {
		io.WriteString(stderr, name+": "+err.Error()+"\n")
		var ue *errUsage
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type serving struct {
	url    string
	cancel context.CancelFunc
	done   chan int
	stdout *syncBuffer
	stderr *syncBuffer
}

var listening = regexp.MustCompile(`^registry listening on (http://\S+)\n$`)

// serveAsync starts `riffle registry serve` and waits until it listens.
func serveAsync(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{cancel: cancel, done: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	go func() {
		s.done <- runLeaf(ctx, registryServeCommand(), "riffle registry serve", s.stdout, s.stderr, args...)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited with %d before listening; stderr:\n%s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen; stdout %q stderr %q", s.stdout.String(), s.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *serving) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on cancel")
		return -1
	}
}

func TestRegistryServeStoresSchemasAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	schema := `{"type":"record","name":"Click","fields":[{"name":"url","type":"string"}]}`

	s := serveAsync(t, "--data", dir, "--http", "127.0.0.1:0")
	cl, err := sr.NewClient(sr.URLs(s.url))
	require.NoError(t, err)
	ss, err := cl.CreateSchema(ctx, "clicks-value", sr.Schema{Schema: schema})
	require.NoError(t, err)
	assert.Equal(t, 1, ss.ID)
	// A change the default level (BACKWARD) refuses: a new field without a default.
	_, err = cl.CreateSchema(ctx, "clicks-value", sr.Schema{Schema: `{"type":"record","name":"Click","fields":[{"name":"url","type":"string"},{"name":"user","type":"long"}]}`})
	var re *sr.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 409, re.StatusCode)
	require.Equal(t, 0, s.stop(t), "stderr:\n%s", s.stderr.String())

	s = serveAsync(t, "--data", dir, "--http", "127.0.0.1:0", "--compatibility", "none")
	defer s.stop(t)
	cl, err = sr.NewClient(sr.URLs(s.url))
	require.NoError(t, err)
	got, err := cl.SchemaByID(ctx, ss.ID)
	require.NoError(t, err)
	assert.Equal(t, schema, got.Schema)
	levels := cl.Compatibility(ctx)
	require.NoError(t, levels[0].Err)
	assert.Equal(t, sr.CompatNone, levels[0].Level, "--compatibility sets the default global level")
}

func TestRegistryServeErrors(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string, string) {
		var stdout, stderr syncBuffer
		code := runLeaf(context.Background(), registryServeCommand(), "riffle registry serve", &stdout, &stderr, args...)
		return code, stdout.String(), stderr.String()
	}
	code, stdout, stderr := run()
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "--data is required")

	code, stdout, stderr = run("--data", dir, "--compatibility", "sideways")
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, `--compatibility "sideways"`)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	code, stdout, stderr = run("--data", dir, "--http", ln.Addr().String())
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "--http "+ln.Addr().String())
}

func TestRegistryHelp(t *testing.T) {
	var out strings.Builder
	cmd := registryServeCommand()
	fs := flag.NewFlagSet("riffle registry serve", flag.ContinueOnError)
	cmd.flags(fs)
	printLeafHelp(&out, cmd, "riffle registry serve", fs)
	for _, want := range []string{"Usage: riffle registry serve --data DIR", "--http ADDR", "--compatibility", "registry listening on http://HOST:PORT", "(default localhost:8081)"} {
		assert.Contains(t, out.String(), want)
	}
	assert.Equal(t, "registry", registryCommand().name)
}
