package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	rlog "github.com/riffle-streams/riffle/log"
)

// Contract tests of `riffle log ...`, run in-process through Run. binary_test.go runs a
// few of them again through the built binary.

// syncBuffer is an io.Writer that tests may read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

type result struct {
	code           int
	stdout, stderr string
}

// lines returns stdout's lines.
func (r result) lines() []string {
	s := strings.TrimSuffix(r.stdout, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// riffle runs one command line in-process with stdin and returns what it did.
func riffle(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr syncBuffer
	code := runWith(context.Background(), strings.NewReader(stdin), &stdout, &stderr, args...)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func runWith(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, args ...string) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	return Run(ctx, env, args)
}

// ok runs a command that must succeed.
func ok(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := riffle(t, stdin, args...)
	require.Equal(t, 0, r.code, "riffle %s\n%s", strings.Join(args, " "), r)
	return r
}

// fails runs a command that must fail: exit code != 0, an error on stderr, nothing on
// stdout. It returns stderr.
func fails(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := riffle(t, stdin, args...)
	require.NotEqual(t, 0, r.code, "riffle %s\n%s", strings.Join(args, " "), r)
	assert.NotEmpty(t, r.stderr, "the error goes to stderr")
	assert.Empty(t, r.stdout, "nothing on stdout")
	return r
}

func newTopic(t *testing.T, dir, topic string, queues int) {
	t.Helper()
	r := ok(t, "", "log", "topics", "create", "--data", dir, "--topic", topic, "--queues", fmt.Sprint(queues))
	assert.Equal(t, fmt.Sprintf("created topic %s with %d queues in %s\n", topic, queues, dir), r.stdout)
}

// jsonLine is one line of consume --format json.
type jsonLine struct {
	Topic     string  `json:"topic"`
	Queue     int     `json:"queue"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Value     string  `json:"value"`
	Timestamp int64   `json:"timestamp"`
}

// consumeJSON parses consume --format json output strictly: exactly the six fields.
func consumeJSON(t *testing.T, out string) []jsonLine {
	t.Helper()
	var msgs []jsonLine
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(line), &fields), "line %q", line)
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		require.Equal(t, []string{"key", "offset", "queue", "timestamp", "topic", "value"}, keys, "line %q", line)
		var m jsonLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&m))
		msgs = append(msgs, m)
	}
	return msgs
}

func TestTopicsCreateAndList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	newTopic(t, dir, "orders", 3)
	newTopic(t, dir, "a-b_c%d|e", 1)
	ok(t, "x\ny\n", "log", "produce", "--data", dir, "--topic", "orders", "--queue", "1")

	r := ok(t, "", "log", "topics", "list", "--data", dir)
	lines := r.lines()
	require.Len(t, lines, 3, r.stdout)
	assert.Equal(t, []string{"TOPIC", "QUEUES", "MESSAGES", "OFFSETS"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"a-b_c%d|e", "1", "0", "0:[0,0)"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"orders", "3", "2", "0:[0,0)", "1:[0,2)", "2:[0,0)"}, strings.Fields(lines[2]))

	assert.Contains(t, fails(t, "", "log", "topics", "create", "--data", dir, "--topic", "orders", "--queues", "2").stderr, "topic already exists")
	assert.Contains(t, fails(t, "", "log", "topics", "create", "--data", dir, "--topic", "bad/name").stderr, "invalid topic name")
	assert.Contains(t, fails(t, "", "log", "topics", "create", "--data", dir, "--topic", "z", "--queues", "0").stderr, "queue count 0")
	assert.Contains(t, fails(t, "", "log", "topics", "create", "--data", dir, "--queues", "2").stderr, "--topic is required")
	assert.Contains(t, fails(t, "", "log", "topics", "create", "--topic", "x").stderr, "--data is required")
	assert.Contains(t, fails(t, "", "log", "topics", "list", "--data", filepath.Join(dir, "nope")).stderr, "nope")
	assert.Contains(t, fails(t, "", "log", "topics", "list").stderr, "--data is required")
}

func TestProduceAndConsumeText(t *testing.T) {
	dir := t.TempDir()
	newTopic(t, dir, "t", 3)
	r := ok(t, "m0\nm1\nm2\nm3\nm4\n\nlast line without newline", "log", "produce", "--data", dir, "--topic", "t")
	assert.Contains(t, r.stderr, "produced 7 messages to t")
	assert.Empty(t, r.stdout)

	// Round-robin over the queues; consume prints queue after queue, each in order.
	r = ok(t, "", "log", "consume", "--data", dir, "--topic", "t", "--from-beginning")
	assert.Equal(t, []string{"m0", "m3", "last line without newline", "m1", "m4", "m2", ""}, r.lines())

	// Without --from-beginning (and no group), consume starts at the end.
	r = ok(t, "", "log", "consume", "--data", dir, "--topic", "t")
	assert.Empty(t, r.stdout)

	r = ok(t, "", "log", "consume", "--data", dir, "--topic", "t", "--from-beginning", "--max", "3")
	assert.Equal(t, []string{"m0", "m3", "last line without newline"}, r.lines())
}

func TestProduceKeyedAndQueue(t *testing.T) {
	dir := t.TempDir()
	newTopic(t, dir, "k", 4)
	ok(t, "ada\t12 EUR\ngrace\t7 EUR\nada\t3 EUR\nnotab\n\tempty key\n", "log", "produce", "--data", dir, "--topic", "k", "--keyed", "--sync")
	msgs := consumeJSON(t, ok(t, "", "log", "consume", "--data", dir, "--topic", "k", "--from-beginning", "--format", "json").stdout)
	require.Len(t, msgs, 5)
	byValue := map[string]jsonLine{}
	for _, m := range msgs {
		byValue[m.Value] = m
		assert.Equal(t, "k", m.Topic)
		if m.Key != nil && *m.Key != "" {
			assert.Equal(t, rlog.QueueForKey([]byte(*m.Key), 4), m.Queue, "the key picks the queue")
		}
	}
	require.NotNil(t, byValue["12 EUR"].Key)
	assert.Equal(t, "ada", *byValue["12 EUR"].Key)
	assert.Equal(t, byValue["12 EUR"].Queue, byValue["3 EUR"].Queue)
	assert.Less(t, byValue["12 EUR"].Offset, byValue["3 EUR"].Offset)
	assert.Equal(t, "notab", *byValue[""].Key, "a line without a tab is a key with an empty value")
	assert.Nil(t, byValue["empty key"].Key, "an empty key is no key")

	// Text format prints KEY<TAB>VALUE, as produce --keyed reads it.
	text := ok(t, "", "log", "consume", "--data", dir, "--topic", "k", "--from-beginning").lines()
	assert.ElementsMatch(t, []string{"ada\t12 EUR", "grace\t7 EUR", "ada\t3 EUR", "notab\t", "empty key"}, text)

	// --queue overrides the key.
	ok(t, "x\ty\nz\tw\n", "log", "produce", "--data", dir, "--topic", "k", "--keyed", "--queue", "2")
	r := ok(t, "", "log", "topics", "list", "--data", dir)
	assert.Contains(t, r.stdout, "2:[0,")
	msgs = consumeJSON(t, ok(t, "", "log", "consume", "--data", dir, "--topic", "k", "--from-beginning", "--format", "json").stdout)
	var inQ2 []string
	for _, m := range msgs {
		if m.Queue == 2 {
			inQ2 = append(inQ2, m.Value)
		}
	}
	assert.Subset(t, inQ2, []string{"y", "w"})

	assert.Contains(t, fails(t, "a\n", "log", "produce", "--data", dir, "--topic", "k", "--queue", "4").stderr, "--queue 4: topic k has queues 0 to 3")
	assert.Contains(t, fails(t, "a\n", "log", "produce", "--data", dir, "--topic", "k", "--queue", "-2").stderr, "--queue -2")
}

func TestProduceUnknownTopic(t *testing.T) {
	dir := t.TempDir()
	newTopic(t, dir, "t", 1)
	r := fails(t, "a\n", "log", "produce", "--data", dir, "--topic", "nope")
	assert.Contains(t, r.stderr, "unknown topic")
	assert.Contains(t, r.stderr, "riffle log topics create --data "+dir+" --topic nope")
	r = fails(t, "", "log", "consume", "--data", dir, "--topic", "nope")
	assert.Contains(t, r.stderr, "riffle log topics create")
}

// At the first invalid line produce stops with an error naming the line and the limit;
// every line before it is stored, none after it.
func TestProduceStopsAtFirstInvalidLine(t *testing.T) {
	const limit = 4 << 20
	for _, c := range []struct {
		name  string
		flags []string
		bad   string
		want  string
	}{
		{"over the size limit", nil, strings.Repeat("x", limit+1), fmt.Sprintf("message is %d bytes (key, tags, properties and body), the limit is %d", limit+1, limit)},
		{"over the size limit, sync", []string{"--sync"}, strings.Repeat("x", limit+1), fmt.Sprintf("the limit is %d", limit)},
		{"key over its limit", []string{"--keyed"}, strings.Repeat("k", 64<<10+1) + "\tv", "key is 65537 bytes, the limit is 65536"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			newTopic(t, dir, "t", 2)
			good := []string{"l1", "l2", "l3"}
			if slices.Contains(c.flags, "--keyed") {
				good = []string{"a\tl1", "b\tl2", "c\tl3"}
			}
			stdin := strings.Join(good, "\n") + "\n" + c.bad + "\nafter\n"
			args := append([]string{"log", "produce", "--data", dir, "--topic", "t"}, c.flags...)
			r := fails(t, stdin, args...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "line 4: ")
			assert.Contains(t, r.stderr, c.want)
			assert.Contains(t, r.stderr, "the 3 lines before it are stored")

			msgs := consumeJSON(t, ok(t, "", "log", "consume", "--data", dir, "--topic", "t", "--from-beginning", "--format", "json").stdout)
			var values []string
			for _, m := range msgs {
				values = append(values, m.Value)
			}
			slices.Sort(values)
			assert.Equal(t, []string{"l1", "l2", "l3"}, values)
		})
	}
	// The largest valid line is accepted.
	dir := t.TempDir()
	newTopic(t, dir, "t", 1)
	ok(t, strings.Repeat("y", limit)+"\n", "log", "produce", "--data", dir, "--topic", "t")
	r := ok(t, "", "log", "consume", "--data", dir, "--topic", "t", "--from-beginning", "--format", "json")
	msgs := consumeJSON(t, r.stdout)
	require.Len(t, msgs, 1)
	assert.Len(t, msgs[0].Value, limit)
}

func TestConsumeJSON(t *testing.T) {
	dir := t.TempDir()
	newTopic(t, dir, "j", 2)
	before := time.Now().UnixMilli()
	ok(t, "k\tv\nplain\n\"quoted\" \\ and ünïcode\n", "log", "produce", "--data", dir, "--topic", "j", "--keyed", "--queue", "1")
	ok(t, "unkeyed\n\xff\xfe invalid utf-8\n", "log", "produce", "--data", dir, "--topic", "j", "--queue", "0")
	after := time.Now().UnixMilli()

	msgs := consumeJSON(t, ok(t, "", "log", "consume", "--data", dir, "--topic", "j", "--from-beginning", "--format", "json").stdout)
	require.Len(t, msgs, 5)
	for _, m := range msgs {
		assert.Equal(t, "j", m.Topic)
		assert.GreaterOrEqual(t, m.Timestamp, before, "timestamp in ms since the epoch")
		assert.LessOrEqual(t, m.Timestamp, after)
	}
	assert.Equal(t, jsonLine{Topic: "j", Queue: 0, Offset: 0, Key: nil, Value: "unkeyed", Timestamp: msgs[0].Timestamp}, msgs[0])
	assert.Equal(t, "\ufffd\ufffd invalid utf-8", msgs[1].Value)
	assert.Equal(t, int64(1), msgs[1].Offset)
	assert.Equal(t, 1, msgs[2].Queue)
	assert.Equal(t, "k", *msgs[2].Key)
	assert.Equal(t, "v", msgs[2].Value)
	assert.Equal(t, "plain", *msgs[3].Key)
	assert.Equal(t, "", msgs[3].Value)
	assert.Equal(t, "\"quoted\" \\ and ünïcode", *msgs[4].Key)
	assert.Equal(t, int64(2), msgs[4].Offset)

	assert.Contains(t, fails(t, "", "log", "consume", "--data", dir, "--topic", "j", "--format", "xml").stderr, `--format "xml": want text or json`)
	assert.Contains(t, fails(t, "", "log", "consume", "--data", dir, "--topic", "j", "--max", "-1").stderr, "--max -1")
}

// A group's consume commits as it prints: the next consume of the group continues.
func TestConsumeGroupContinues(t *testing.T) {
	dir := t.TempDir()
	newTopic(t, dir, "g", 2)
	var in strings.Builder
	for i := range 10 {
		fmt.Fprintf(&in, "m%d\n", i)
	}
	ok(t, in.String(), "log", "produce", "--data", dir, "--topic", "g")
	consume := func(args ...string) []string {
		return ok(t, "", append([]string{"log", "consume", "--data", dir, "--topic", "g", "--group", "billing", "--from-beginning"}, args...)...).lines()
	}
	first := consume("--max", "3")
	assert.Equal(t, []string{"m0", "m2", "m4"}, first)
	second := consume("--max", "4")
	assert.Equal(t, []string{"m6", "m8", "m1", "m3"}, second)
	rest := consume()
	assert.Equal(t, []string{"m5", "m7", "m9"}, rest)
	assert.Empty(t, consume(), "everything is consumed")

	// Another group starts over.
	r := ok(t, "", "log", "consume", "--data", dir, "--topic", "g", "--group", "audit", "--from-beginning", "--max", "1")
	assert.Equal(t, []string{"m0"}, r.lines())

	r = ok(t, "", "log", "offsets", "--data", dir)
	lines := r.lines()
	require.Len(t, lines, 4, r.stdout)
	assert.Equal(t, []string{"GROUP", "TOPIC", "QUEUE", "OFFSET", "LATEST", "LAG"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"audit", "g", "0", "1", "5", "4"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"billing", "g", "0", "5", "5", "0"}, strings.Fields(lines[2]))
	assert.Equal(t, []string{"billing", "g", "1", "5", "5", "0"}, strings.Fields(lines[3]))

	r = ok(t, "", "log", "offsets", "--data", dir, "--group", "audit")
	assert.Len(t, r.lines(), 2)
	assert.Contains(t, fails(t, "", "log", "offsets", "--data", dir, "--group", "nope").stderr, `group "nope" has no committed offsets`)
	assert.Contains(t, fails(t, "", "log", "offsets").stderr, "--data is required")
}

// consume --follow waits for messages produced while it runs, by another command (here
// in-process; binary_test.go does it with two processes), and --timeout ends it with exit 0.
func TestConsumeFollowSeesConcurrentProduce(t *testing.T) {
	dir := t.TempDir()
	newTopic(t, dir, "f", 2)
	ok(t, "before\n", "log", "produce", "--data", dir, "--topic", "f")

	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runWith(context.Background(), strings.NewReader(""), &stdout, &stderr,
			"log", "consume", "--data", dir, "--topic", "f", "--group", "tail", "--from-beginning", "--follow", "--max", "3", "--timeout", "60s")
	}()
	waitFor(t, func() bool { return strings.Contains(stdout.String(), "before\n") }, "consume prints the first message")
	r := riffle(t, "during 1\nduring 2\n", "log", "produce", "--data", dir, "--topic", "f", "--sync")
	require.Equal(t, 0, r.code, "produce while consume --follow runs\n%s", r)
	select {
	case code := <-done:
		require.Equal(t, 0, code, "stderr:\n%s", stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("consume --follow did not see the new messages; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	assert.ElementsMatch(t, []string{"before", "during 1", "during 2"}, got)

	// --timeout ends a follow with exit 0; the group continues where it was.
	start := time.Now()
	r = ok(t, "", "log", "consume", "--data", dir, "--topic", "f", "--group", "tail", "--follow", "--timeout", "300ms")
	assert.Empty(t, r.stdout)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBench(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprint("sync=", sync), func(t *testing.T) {
			args := []string{"log", "bench", "--data", t.TempDir(), "--messages", "300", "--size", "100", "--producers", "3"}
			if sync {
				args = append(args, "--sync")
			}
			r := ok(t, "", args...)
			lines := r.lines()
			require.NotEmpty(t, lines)
			res := benchJSON(t, lines[len(lines)-1])
			assert.Equal(t, float64(300), res["messages"])
			assert.Equal(t, float64(300*100), res["bytes"])
			assert.Positive(t, res["seconds"])
			assert.Positive(t, res["msgs_per_sec"])
			assert.Positive(t, res["mb_per_sec"])
			assert.GreaterOrEqual(t, res["p99_ms"], res["p50_ms"])
		})
	}
	dir := t.TempDir()
	assert.Contains(t, fails(t, "", "log", "bench", "--data", dir, "--messages", "0", "--size", "10").stderr, "--messages")
	assert.Contains(t, fails(t, "", "log", "bench", "--data", dir, "--messages", "10", "--size", "10", "--producers", "0").stderr, "--producers")
	assert.Contains(t, fails(t, "", "log", "bench", "--messages", "10").stderr, "--data is required")
}

func TestBenchBatchesAndTransactions(t *testing.T) {
	for _, extra := range [][]string{{"--sync", "--batch", "7"}, {"--batch", "7"}, {"--sync", "--txn", "7"}, {"--txn", "7"}} {
		t.Run(strings.Join(extra, " "), func(t *testing.T) {
			dir := t.TempDir()
			r := ok(t, "", append([]string{"log", "bench", "--data", dir, "--messages", "300", "--size", "100", "--producers", "3"}, extra...)...)
			lines := r.lines()
			require.NotEmpty(t, lines)
			res := benchJSON(t, lines[len(lines)-1])
			assert.Equal(t, float64(300), res["messages"])
			assert.Positive(t, res["msgs_per_sec"])
			assert.GreaterOrEqual(t, res["p99_ms"], res["p50_ms"])
			// Every message is readable once: transactions were committed.
			total := 0
			for _, line := range ok(t, "", "log", "topics", "list", "--data", dir).lines() {
				if f := strings.Fields(line); len(f) > 2 && f[0] == "bench" { // TOPIC QUEUES MESSAGES OFFSETS
					total, _ = strconv.Atoi(f[2])
				}
			}
			assert.Equal(t, 300, total, "messages readable in topic bench")
		})
	}
	dir := t.TempDir()
	assert.Contains(t, fails(t, "", "log", "bench", "--data", dir, "--messages", "10", "--size", "10", "--txn", "5", "--batch", "2").stderr, "exclude each other")
	assert.Contains(t, fails(t, "", "log", "bench", "--data", dir, "--messages", "10", "--size", "10", "--batch", "0").stderr, "--batch")
}

// benchJSON parses bench's last line: one object with exactly the documented keys.
func benchJSON(t *testing.T, line string) map[string]float64 {
	t.Helper()
	var res map[string]float64
	require.NoError(t, json.Unmarshal([]byte(line), &res), "last line %q", line)
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	assert.Equal(t, []string{"bytes", "mb_per_sec", "messages", "msgs_per_sec", "p50_ms", "p99_ms", "seconds"}, keys)
	return res
}

// leaves returns every runnable command's path, e.g. ["log", "topics", "create"].
func leaves() [][]string {
	var out [][]string
	var walk func(c *command, path []string)
	walk = func(c *command, path []string) {
		if len(c.subs) == 0 {
			out = append(out, path)
			return
		}
		for _, s := range c.subs {
			walk(s, append(slices.Clone(path), s.name))
		}
	}
	walk(root(), nil)
	return out
}

func findCommand(path []string) *command {
	c := root()
	for _, name := range path {
		for _, s := range c.subs {
			if s.name == name {
				c = s
			}
		}
	}
	return c
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	for _, path := range leaves() {
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("", flag.ContinueOnError)
			findCommand(path).flags(fs)
			for _, h := range []string{"--help", "-h"} {
				r := ok(t, "", append(slices.Clone(path), h)...)
				assert.Empty(t, r.stderr)
				assert.True(t, strings.HasPrefix(r.stdout, "Usage: riffle "+strings.Join(path, " ")), r.stdout)
				fs.VisitAll(func(f *flag.Flag) {
					assert.Contains(t, r.stdout, "  --"+f.Name, "flag --%s is documented", f.Name)
					assert.Contains(t, r.stdout, f.Usage)
				})
			}
		})
	}
	for _, group := range [][]string{nil, {"log"}, {"log", "topics"}} {
		r := ok(t, "", append(slices.Clone(group), "--help")...)
		assert.Contains(t, r.stdout, "Usage:")
		for _, path := range leaves() {
			if slices.Equal(path[:min(len(group), len(path))], group) {
				assert.Contains(t, r.stdout, "riffle "+strings.Join(path, " "), "the group's help lists its commands")
			}
		}
	}
	assert.Contains(t, ok(t, "", "help").stdout, "riffle log consume")
}

// Every error goes to stderr with a non-zero exit code (2 for a usage error) and leaves
// stdout empty.
func TestErrorsGoToStderr(t *testing.T) {
	dir := t.TempDir()
	newTopic(t, dir, "t", 1)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"log", "nope"}, 2, `unknown command "nope"`},
		{[]string{"log"}, 2, "Usage:"},
		{[]string{"log", "topics"}, 2, "Usage:"},
		{[]string{"log", "consume", "--data", dir, "--topic", "t", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"log", "consume", "--data", dir, "--topic", "t", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"log", "consume", "--data", dir, "--topic", "t", "--max", "x"}, 2, `invalid value "x" for flag -max`},
		{[]string{"log", "consume", "--data", dir}, 2, "--topic is required"},
		{[]string{"log", "produce", "--data", dir, "--topic", "nope"}, 1, "unknown topic"},
		{[]string{"log", "bench", "--data", dir, "--messages", "-1", "--size", "1"}, 2, "must be positive"},
	} {
		r := riffle(t, "", c.args...)
		assert.Equal(t, c.code, r.code, "riffle %s\n%s", strings.Join(c.args, " "), r)
		assert.Contains(t, r.stderr, c.want, "riffle %s", strings.Join(c.args, " "))
		assert.Empty(t, r.stdout, "riffle %s prints nothing on stdout", strings.Join(c.args, " "))
	}
}
