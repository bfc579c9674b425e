package window_test

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/operators/window"
	"github.com/riffle-streams/riffle/state"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// The golden tests run the scripts of testdata/*.txt. A script is a sequence of cases,
// each starting with `run name=...`, then configuration, then actions each followed by
// the exact outputs they cause:
//
//	run name=tumbling               start a case
//	assigner tumbling size=3s       tumbling|sliding|session|dynamic-session|point-session|global,
//	                                 args size= slide= offset= gap= proc (processing time)
//	trigger purging-count 4         event-time|processing-time|count N|continuous-event-time D|
//	                                 continuous-processing-time D|never|accum-gc D, purging-X
//	lateness 500ms                  allowed lateness
//	late-output                     late records go to a side output (else they are dropped)
//	function sum                    sum: (key,sum) by reduce, aggregate, process and both
//	                                 process-after variants; window-sum: ("key-sum",start,end)
//	                                 by the three process variants; passthrough: every element
//	only reduce aggregate           run only these implementations of the function
//	ingest key2 1@3999 1@3000       records of a key, value@timestamp (max, min, none allowed)
//	watermark 999                   a watermark (fires event-time timers first)
//	processing-time 5000            move the clock, firing processing-time timers
//	snapshot-restore                snapshot, then continue on a new operator restored from it
//	expect (key1,3)@2999            an output record of the action above, in emission order
//	expect-late (key2,1)@1998       a late record on the side output
//
// Every case runs once per implementation of its function (and sliding windows both with
// and without panes); all must produce the same outputs. go test -run Golden -rewrite
// rewrites the expectations from what the operators emit.
var rewrite = flag.Bool("rewrite", false, "rewrite the expectations of testdata/*.txt")

type kv struct {
	Key   string
	Value int64
}

func keyOf(v kv) string { return v.Key }

var lateTag = stream.NewOutputTag[kv]("late")

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runGoldenFile(t, f) })
	}
}

type gcase struct {
	name       string
	start, end int // lines [start, end) of the file
}

func runGoldenFile(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var cases []gcase
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "run" {
			if len(cases) > 0 {
				cases[len(cases)-1].end = i
			}
			cases = append(cases, gcase{name: strings.TrimPrefix(strings.Join(f[1:], " "), "name="), start: i})
		}
	}
	require.NotEmpty(t, cases, "%s has no `run`", path)
	cases[len(cases)-1].end = len(lines)

	got := map[int][]string{} // action line -> outputs
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			variants, err := caseVariants(lines[c.start:c.end])
			require.NoError(t, err)
			var first map[int][]string
			for _, v := range variants {
				out, err := execCase(lines, c, v)
				require.NoError(t, err, "variant %s", v)
				if first == nil {
					first = out
					continue
				}
				for i := c.start; i < c.end; i++ {
					require.Equal(t, first[i], out[i], "variant %s differs from %s after line %d: %s", v, variants[0], i+1, lines[i])
				}
			}
			for i, o := range first {
				got[i] = o
			}
			if *rewrite {
				return
			}
			for i := c.start; i < c.end; i++ {
				if !isAction(lines[i]) {
					continue
				}
				require.Equal(t, expectationsAfter(lines, i), first[i], "%s:%d: %s", path, i+1, lines[i])
			}
		})
	}
	if *rewrite {
		var b strings.Builder
		for i, l := range lines {
			if isExpect(l) {
				continue
			}
			b.WriteString(l + "\n")
			for _, o := range got[i] {
				b.WriteString(o + "\n")
			}
		}
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
}

func command(l string) string {
	if f := strings.Fields(l); len(f) > 0 {
		return f[0]
	}
	return ""
}

func isExpect(l string) bool {
	c := command(l)
	return c == "expect" || c == "expect-late"
}

func isAction(l string) bool {
	switch command(l) {
	case "ingest", "watermark", "processing-time", "snapshot-restore":
		return true
	}
	return false
}

// expectationsAfter returns the expect lines that follow action line i (comments and
// blank lines may sit between them).
func expectationsAfter(lines []string, i int) []string {
	var out []string
	for j := i + 1; j < len(lines); j++ {
		l := strings.TrimSpace(lines[j])
		switch {
		case isExpect(l):
			out = append(out, l)
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			return out
		}
	}
	return out
}

// ---- cases ----

type spec struct {
	assigner string
	args     map[string]string
	trigger  []string
	lateness time.Duration
	late     bool
	function string
	only     []string
}

type variant struct {
	impl      string
	noSlicing bool
}

func (v variant) String() string {
	if v.noSlicing {
		return v.impl + "/per-window"
	}
	return v.impl
}

var implsOf = map[string][]string{
	"sum":         {"reduce", "aggregate", "process", "reduce-process", "aggregate-process"},
	"window-sum":  {"process", "reduce-process", "aggregate-process"},
	"passthrough": {"process"},
}

func parseSpec(lines []string) (*spec, error) {
	s := &spec{args: map[string]string{}, function: "sum"}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "assigner":
			s.assigner = f[1]
			for _, a := range f[2:] {
				k, v, _ := strings.Cut(a, "=")
				s.args[k] = v
			}
		case "trigger":
			s.trigger = f[1:]
		case "lateness":
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return nil, err
			}
			s.lateness = d
		case "late-output":
			s.late = true
		case "function":
			s.function = f[1]
		case "only":
			s.only = f[1:]
		case "run", "ingest", "watermark", "processing-time", "snapshot-restore", "expect", "expect-late":
		default:
			return nil, fmt.Errorf("unknown command %q", f[0])
		}
	}
	if s.assigner == "" {
		return nil, fmt.Errorf("no assigner")
	}
	return s, nil
}

func caseVariants(lines []string) ([]variant, error) {
	s, err := parseSpec(lines)
	if err != nil {
		return nil, err
	}
	impls := implsOf[s.function]
	if impls == nil {
		return nil, fmt.Errorf("unknown function %q", s.function)
	}
	if s.only != nil {
		impls = s.only
	}
	var vs []variant
	for _, i := range impls {
		vs = append(vs, variant{impl: i})
		if s.assigner == "sliding" {
			vs = append(vs, variant{impl: i, noSlicing: true})
		}
	}
	return vs, nil
}

func execCase(lines []string, c gcase, v variant) (map[int][]string, error) {
	s, err := parseSpec(lines[c.start:c.end])
	if err != nil {
		return nil, err
	}
	r, err := newRunner(s, v)
	if err != nil {
		return nil, err
	}
	out := map[int][]string{}
	for i := c.start; i < c.end; i++ {
		f := strings.Fields(lines[i])
		if len(f) == 0 || !isAction(lines[i]) {
			continue
		}
		switch f[0] {
		case "ingest":
			for _, rec := range f[2:] {
				val, ts, ok := strings.Cut(rec, "@")
				if !ok {
					return nil, fmt.Errorf("line %d: record %q is not value@timestamp", i+1, rec)
				}
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil {
					return nil, err
				}
				t, err := parseTime(ts)
				if err != nil {
					return nil, err
				}
				if err := r.ingest(kv{f[1], n}, t); err != nil {
					return nil, fmt.Errorf("line %d: %w", i+1, err)
				}
			}
		case "watermark":
			t, err := parseTime(f[1])
			if err == nil {
				err = r.watermark(t)
			}
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
		case "processing-time":
			t, err := parseTime(f[1])
			if err == nil {
				err = r.processingTime(t)
			}
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
		case "snapshot-restore":
			if err := r.snapshotRestore(); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
		}
		out[i] = r.take()
	}
	return out, nil
}

func parseTime(s string) (int64, error) {
	switch s {
	case "max":
		return math.MaxInt64, nil
	case "min", "none":
		return math.MinInt64, nil
	}
	if strings.HasPrefix(s, "max-") {
		n, err := strconv.ParseInt(s[4:], 10, 64)
		return math.MaxInt64 - n, err
	}
	return strconv.ParseInt(s, 10, 64)
}

func formatTime(t int64) string {
	switch {
	case t == math.MaxInt64:
		return "max"
	case t > math.MaxInt64/2:
		return "max-" + strconv.FormatInt(math.MaxInt64-t, 10)
	}
	return strconv.FormatInt(t, 10)
}

func dur(s *spec, k string) time.Duration {
	v, ok := s.args[k]
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic(fmt.Sprintf("assigner %s=%s: %v", k, v, err))
	}
	return d
}

type runner interface {
	ingest(v kv, ts int64) error
	watermark(wm int64) error
	processingTime(ms int64) error
	snapshotRestore() error
	take() []string
}

func newRunner(s *spec, v variant) (runner, error) {
	_, proc := s.args["proc"]
	switch s.assigner {
	case "tumbling":
		if proc {
			return newRunnerW(s, v, window.TumblingProcessingTime(dur(s, "size"), dur(s, "offset")))
		}
		return newRunnerW(s, v, window.Tumbling(dur(s, "size"), dur(s, "offset")))
	case "sliding":
		if proc {
			return newRunnerW(s, v, window.SlidingProcessingTime(dur(s, "size"), dur(s, "slide"), dur(s, "offset")))
		}
		return newRunnerW(s, v, window.Sliding(dur(s, "size"), dur(s, "slide"), dur(s, "offset")))
	case "session":
		if proc {
			return newRunnerW(s, v, window.SessionProcessingTime(dur(s, "gap")))
		}
		return newRunnerW(s, v, window.Session(dur(s, "gap")))
	case "dynamic-session":
		if proc {
			return newRunnerW[window.TimeWindow](s, v, window.DynamicSessionProcessingTime(flinkGap))
		}
		return newRunnerW[window.TimeWindow](s, v, window.DynamicSession(flinkGap))
	case "point-session":
		return newRunnerW[window.TimeWindow](s, v, pointSessions{window.Session(dur(s, "gap")), dur(s, "gap").Milliseconds()})
	case "global":
		return newRunnerW(s, v, window.Global())
	}
	return nil, fmt.Errorf("unknown assigner %q", s.assigner)
}

// flinkGap is the gap extractor of Flink's dynamic session tests: 3s for key1; for key2
// 1s for value 10 and 2s otherwise.
func flinkGap(v kv) time.Duration {
	switch {
	case v.Key == "key1":
		return 3 * time.Second
	case v.Key == "key2" && v.Value == 10:
		return time.Second
	case v.Key == "key2":
		return 2 * time.Second
	}
	return 0
}

// pointSessions is the custom assigner of Flink's testPointSessions: elements of value
// 33 get a point window [ts, ts), the others [ts, ts+gap).
type pointSessions struct {
	window.MergingAssigner[window.TimeWindow]
	gap int64
}

func (p pointSessions) AssignElement(v kv, ts int64, _ window.AssignerContext, dst []window.TimeWindow) ([]window.TimeWindow, error) {
	if v.Value == 33 {
		return append(dst, window.TimeWindow{Start: ts, End: ts}), nil
	}
	return append(dst, window.TimeWindow{Start: ts, End: ts + p.gap}), nil
}

func parseTrigger[W window.Window](args []string) (window.Trigger[W], error) {
	if len(args) == 0 {
		return nil, nil
	}
	name, purging := strings.CutPrefix(args[0], "purging-")
	var t window.Trigger[W]
	arg := func() (string, error) {
		if len(args) < 2 {
			return "", fmt.Errorf("trigger %s needs an argument", name)
		}
		return args[1], nil
	}
	switch name {
	case "event-time":
		t = window.EventTimeTrigger[W]()
	case "processing-time":
		t = window.ProcessingTimeTrigger[W]()
	case "never":
		t = window.NeverTrigger[W]()
	case "count":
		a, err := arg()
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return nil, err
		}
		t = window.CountTrigger[W](n)
	case "continuous-event-time", "continuous-processing-time", "accum-gc":
		a, err := arg()
		if err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(a)
		if err != nil {
			return nil, err
		}
		switch name {
		case "continuous-event-time":
			t = window.ContinuousEventTimeTrigger[W](d)
		case "continuous-processing-time":
			t = window.ContinuousProcessingTimeTrigger[W](d)
		default:
			t = accumGC[W]{d.Milliseconds()}
		}
	default:
		return nil, fmt.Errorf("unknown trigger %q", args[0])
	}
	if purging {
		t = window.PurgingTrigger(t)
	}
	return t, nil
}

// accumGC is Flink's EventTimeTriggerAccumGC (a custom trigger of its tests): it fires
// and purges at the window's end and again at end + cleanup.
type accumGC[W window.Window] struct{ cleanup int64 }

func (t accumGC[W]) OnElement(_ int64, w W, ctx *window.TriggerContext) (window.TriggerResult, error) {
	if w.MaxTimestamp() <= ctx.CurrentWatermark() {
		return window.Fire, nil
	}
	ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	return window.Continue, nil
}
func (t accumGC[W]) OnEventTime(time int64, w W, _ *window.TriggerContext) (window.TriggerResult, error) {
	if time == w.MaxTimestamp() || time == w.MaxTimestamp()+t.cleanup {
		return window.FireAndPurge, nil
	}
	return window.Continue, nil
}
func (t accumGC[W]) OnProcessingTime(int64, W, *window.TriggerContext) (window.TriggerResult, error) {
	return window.Continue, nil
}
func (t accumGC[W]) CanMerge() bool { return true }
func (t accumGC[W]) OnMerge(w W, ctx *window.TriggerContext) error {
	ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	return nil
}
func (t accumGC[W]) Clear(w W, ctx *window.TriggerContext) error {
	ctx.DeleteEventTimeTimer(w.MaxTimestamp())
	return nil
}

// ---- functions ----

func sumKV(a, b kv) kv { return kv{b.Key, a.Value + b.Value} }

type sumAgg struct{}

func (sumAgg) CreateAccumulator() kv { return kv{} }
func (sumAgg) Add(v kv, acc kv) kv   { return kv{v.Key, acc.Value + v.Value} }
func (sumAgg) Result(acc kv) kv      { return acc }
func (sumAgg) Merge(a, b kv) kv      { return kv{max(a.Key, b.Key), a.Value + b.Value} }
func sumOf(els []kv) (n int64) {
	for _, e := range els {
		n += e.Value
	}
	return n
}

// winOut is the output of Flink's SessionWindowFunction: ("key-sum", start, end).
type winOut struct {
	S          string
	Start, End int64
	Global     bool
}

func newWinOut[W window.Window](key string, w W, sum int64) winOut {
	o := winOut{S: key + "-" + strconv.FormatInt(sum, 10)}
	switch w := any(w).(type) {
	case window.TimeWindow:
		o.Start, o.End = w.Start, w.End
	default:
		o.Global = true
	}
	return o
}

func fmtKV(r stream.Record[kv]) string {
	return fmt.Sprintf("(%s,%d)@%s", r.Value.Key, r.Value.Value, formatTime(r.Timestamp))
}

func fmtWin(r stream.Record[winOut]) string {
	if r.Value.Global {
		return fmt.Sprintf("(%q,global)@%s", r.Value.S, formatTime(r.Timestamp))
	}
	return fmt.Sprintf("(%q,%d,%d)@%s", r.Value.S, r.Value.Start, r.Value.End, formatTime(r.Timestamp))
}

type op[ACC, OUT any, W window.Window] = *window.Operator[string, kv, ACC, OUT, W]

func configure[ACC, OUT any, W window.Window](o op[ACC, OUT, W], s *spec, t window.Trigger[W], v variant) op[ACC, OUT, W] {
	if t != nil {
		o.WithTrigger(t)
	}
	if s.lateness != 0 {
		o.WithAllowedLateness(s.lateness)
	}
	if s.late {
		o.WithLateOutput(lateTag)
	}
	if v.noSlicing {
		o.WithoutSlicing()
	}
	o.WithElementCodec(kvCodec{})
	if c, ok := any(kvCodec{}).(state.Codec[ACC]); ok {
		o.WithAccumulatorCodec(c)
	}
	return o
}

// kvCodec keeps snapshots of the tests' elements fast (the default is encoding/gob).
type kvCodec struct{}

func (kvCodec) Append(dst []byte, v kv) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(v.Value))
	return append(dst, v.Key...)
}

func (kvCodec) Decode(b []byte) (kv, error) {
	if len(b) < 8 {
		return kv{}, fmt.Errorf("kv of %d bytes", len(b))
	}
	return kv{Key: string(b[8:]), Value: int64(binary.LittleEndian.Uint64(b))}, nil
}

func newRunnerW[W window.Window](s *spec, v variant, a window.Assigner[W]) (runner, error) {
	t, err := parseTrigger[W](s.trigger)
	if err != nil {
		return nil, err
	}
	switch s.function + "/" + v.impl {
	case "sum/reduce":
		return newHarnessRunner(fmtKV, func() stream.Operator[kv, kv] {
			return configure(window.Reduce[string](a, sumKV), s, t, v)
		})
	case "sum/aggregate":
		return newHarnessRunner(fmtKV, func() stream.Operator[kv, kv] {
			return configure(window.Aggregate[string, kv, kv, kv](a, sumAgg{}), s, t, v)
		})
	case "sum/process":
		return newHarnessRunner(fmtKV, func() stream.Operator[kv, kv] {
			return configure(window.Process(a, func(k string, _ W, els []kv, out window.Collector[kv]) {
				out.Collect(kv{k, sumOf(els)})
			}), s, t, v)
		})
	case "sum/reduce-process":
		return newHarnessRunner(fmtKV, func() stream.Operator[kv, kv] {
			return configure(window.ReduceProcess(a, sumKV, func(k string, _ W, x kv, out window.Collector[kv]) {
				out.Collect(kv{k, x.Value})
			}), s, t, v)
		})
	case "sum/aggregate-process":
		return newHarnessRunner(fmtKV, func() stream.Operator[kv, kv] {
			return configure(window.AggregateProcess[string, kv, kv, kv, kv](a, sumAgg{}, func(k string, _ W, x kv, out window.Collector[kv]) {
				out.Collect(kv{k, x.Value})
			}), s, t, v)
		})
	case "window-sum/process":
		return newHarnessRunner(fmtWin, func() stream.Operator[kv, winOut] {
			return configure(window.Process(a, func(k string, w W, els []kv, out window.Collector[winOut]) {
				out.Collect(newWinOut(k, w, sumOf(els)))
			}), s, t, v)
		})
	case "window-sum/reduce-process":
		return newHarnessRunner(fmtWin, func() stream.Operator[kv, winOut] {
			return configure(window.ReduceProcess(a, sumKV, func(k string, w W, x kv, out window.Collector[winOut]) {
				out.Collect(newWinOut(k, w, x.Value))
			}), s, t, v)
		})
	case "window-sum/aggregate-process":
		return newHarnessRunner(fmtWin, func() stream.Operator[kv, winOut] {
			return configure(window.AggregateProcess[string, kv, kv, kv, winOut](a, sumAgg{}, func(k string, w W, x kv, out window.Collector[winOut]) {
				out.Collect(newWinOut(k, w, x.Value))
			}), s, t, v)
		})
	case "passthrough/process":
		return newHarnessRunner(fmtKV, func() stream.Operator[kv, kv] {
			return configure(window.Process(a, func(_ string, _ W, els []kv, out window.Collector[kv]) {
				for _, e := range els {
					out.Collect(e)
				}
			}), s, t, v)
		})
	}
	return nil, fmt.Errorf("no implementation %s of function %s", v.impl, s.function)
}

type harnessRunner[OUT any] struct {
	newOp    func() stream.Operator[kv, OUT]
	format   func(stream.Record[OUT]) string
	clock    *clock.Mock
	h        *streamtest.Harness[string, kv, OUT]
	lateSeen int
}

func newHarnessRunner[OUT any](format func(stream.Record[OUT]) string, newOp func() stream.Operator[kv, OUT]) (runner, error) {
	r := &harnessRunner[OUT]{newOp: newOp, format: format, clock: clock.NewMock()}
	r.clock.Set(time.UnixMilli(0))
	return r, r.open(nil)
}

func (r *harnessRunner[OUT]) open(snap []byte) error {
	h, err := streamtest.NewKeyed(r.newOp(), keyOf, streamtest.Options{Clock: r.clock})
	if err != nil {
		return err
	}
	streamtest.CollectSide(h, lateTag)
	if snap != nil {
		if err := h.Restore(snap); err != nil {
			return err
		}
	}
	r.h, r.lateSeen = h, 0
	return h.Open()
}

func (r *harnessRunner[OUT]) ingest(v kv, ts int64) error { return r.h.ProcessElement(v, ts) }
func (r *harnessRunner[OUT]) watermark(wm int64) error    { return r.h.ProcessWatermark(wm) }
func (r *harnessRunner[OUT]) processingTime(ms int64) error {
	return r.h.SetProcessingTime(ms)
}

func (r *harnessRunner[OUT]) snapshotRestore() error {
	snap, err := r.h.Snapshot()
	if err != nil {
		return err
	}
	if err := r.h.Close(); err != nil {
		return err
	}
	return r.open(snap)
}

func (r *harnessRunner[OUT]) take() []string {
	var out []string
	for _, rec := range r.h.TakeOutput() {
		out = append(out, "expect "+r.format(rec))
	}
	side := r.h.Side(lateTag.ID)
	for _, rec := range side[r.lateSeen:] {
		out = append(out, "expect-late "+fmtKV(rec.(stream.Record[kv])))
	}
	r.lateSeen = len(side)
	return out
}
