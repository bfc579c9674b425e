package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// RunStream runs spec in this process: it generates the input, runs the system on it,
// times the part between the system's out.Start and out.Stop, and checks the outputs.
// A run whose outputs differ from the model returns with CheckErr set, not an error.
func RunStream(ctx context.Context, spec StreamSpec) (StreamOutcome, error) {
	var oc StreamOutcome
	sys, ok := StreamSystemByName(spec.System)
	if !ok {
		return oc, fmt.Errorf("unknown stream system %q", spec.System)
	}
	run := sys.Runs[spec.Workload]
	if run == nil {
		return oc, ErrUnsupported
	}
	in := NewStreamInput(spec)
	runtime.GC()
	debug.FreeOSMemory()
	var (
		t0      time.Time
		elapsed time.Duration
		cpu0    time.Duration
		cpuUsed time.Duration
		other   cpuSampler
		rss     *rssSampler
		prof    *os.File
		profErr error
		hwmOK   bool
	)
	start := func() {
		runtime.GC()
		debug.FreeOSMemory()
		hwmOK = resetHWM()
		oc.Load1 = load1()
		if spec.CPUProfile != "" {
			if prof, profErr = os.Create(spec.CPUProfile); profErr == nil {
				profErr = pprof.StartCPUProfile(prof)
			}
		}
		other = startCPU()
		rss = startRSS()
		cpu0 = processCPU()
		t0 = time.Now()
	}
	stop := func() {
		elapsed = time.Since(t0)
		cpuUsed = processCPU() - cpu0
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
		}
		oc.OtherCPU = other.otherShare()
		delta := rss.stop()
		oc.RSSStart, oc.RSSPeak = rss.base, rss.base+delta
		if hwmOK {
			oc.HWM = readHWM()
		}
	}
	out := newOutputs(spec.Workload, spec.Collect, start, stop)
	err := run(ctx, in, out)
	out.Stop()
	if err == nil && !out.started {
		err = fmt.Errorf("%s never started the clock", spec.System)
	}
	if err == nil {
		err = profErr
	}
	if err != nil {
		return oc, err
	}
	oc.Records, oc.Outputs = int64(spec.Records), out.n
	oc.Elapsed, oc.CPU = elapsed, cpuUsed
	var cerr error
	oc.Check, cerr = out.check(in, !sys.ProcessingTimeWindows)
	if cerr != nil {
		oc.CheckErr = cerr.Error()
	}
	oc.MaxRSS = MaxRSS()
	oc.Details, oc.Checkpoints = out.details, out.epochs
	if spec.Collect {
		oc.Lines = out.Lines()
	}
	return oc, nil
}

// resetHWM resets the kernel's record of this process's peak resident set size
// (VmHWM) to the current one: Linux 4.0 and later, through /proc/self/clear_refs.
func resetHWM() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil && readHWM() > 0
}

// readHWM returns VmHWM from /proc/self/status in bytes, or 0.
func readHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// processCPU is this process's user+system time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load1 is the 1-minute load average, or 0 where /proc/loadavg is missing.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// --- child processes ---

// StreamChildFlag, as a command's first argument, makes it a child run: the second
// argument is the StreamSpec as JSON, the third the file to write the outcome to. A
// command that supports StreamConfig.ChildExe checks for it first (see StreamChildMain).
const StreamChildFlag = "-stream-child"

// StreamChildMain runs a child run from the command line arguments after
// StreamChildFlag and returns the process's exit code.
func StreamChildMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: CMD -stream-child SPEC-JSON OUTCOME-FILE")
		return 2
	}
	var spec StreamSpec
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	oc, err := RunStream(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, err := json.Marshal(oc)
	if err == nil {
		err = os.WriteFile(args[1], b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// runChild runs spec in a fresh process of exe and returns its outcome; MaxRSS is the
// child's peak resident set size from its rusage.
func runChild(ctx context.Context, exe string, spec StreamSpec) (StreamOutcome, error) {
	var oc StreamOutcome
	js, err := json.Marshal(spec)
	if err != nil {
		return oc, err
	}
	res := filepath.Join(spec.Dir, "..", filepath.Base(spec.Dir)+".outcome.json")
	defer os.Remove(res)
	cmd := exec.CommandContext(ctx, exe, StreamChildFlag, string(js), res)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(logs.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return oc, fmt.Errorf("child: %v: %s", err, msg)
	}
	b, err := os.ReadFile(res)
	if err != nil {
		return oc, err
	}
	if err := json.Unmarshal(b, &oc); err != nil {
		return oc, err
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 0 {
		oc.MaxRSS = ru.Maxrss * 1024
	}
	return oc, nil
}

// --- the side-by-side run ---

// StreamConfig says what RunStreams measures. Zero fields take the defaults in
// StreamDefaults.
type StreamConfig struct {
	// Systems by name (StreamSystems); each runs the workloads it implements.
	Systems   []string
	Workloads []StreamWorkload

	CountRecords, CountKeys int
	// CheckpointInterval of riffle's exactly-once KeyedCount (0: 1 s).
	CheckpointInterval        time.Duration
	TransformRecords          int
	WindowRecords, WindowKeys int

	// Runs per system and workload; every column reports the median of its runs.
	Runs int
	// WarmupFraction: one discarded run of this share of the records precedes the
	// measured runs of each system (negative: none).
	WarmupFraction float64

	// ChildExe, if set, runs every run in a fresh process of this executable (which
	// must handle StreamChildFlag): peak RSS is then the run's own. Empty: in this
	// process, one run after another.
	ChildExe string
	// Dir is the parent of the runs' scratch directories; default os.TempDir().
	Dir string
	// CPUProfileDir, if set, receives a CPU profile of each measured run's timed part
	// (WORKLOAD-SYSTEM-RUN.pprof).
	CPUProfileDir string
	// QuietBelow and QuietWait: as Config's.
	QuietBelow float64
	QuietWait  time.Duration

	Progress io.Writer
}

// StreamDefaults returns the configuration of the default full run.
func StreamDefaults() StreamConfig {
	var names []string
	for _, s := range StreamSystems() {
		names = append(names, s.Name)
	}
	return StreamConfig{
		Systems:          names,
		Workloads:        AllStreamWorkloads,
		CountRecords:     1_000_000,
		CountKeys:        100_000,
		TransformRecords: 2_000_000,
		WindowRecords:    2_000_000,
		WindowKeys:       100,
		Runs:             3,
		WarmupFraction:   0.2,
	}
}

func (c *StreamConfig) ensureDefaults() {
	d := StreamDefaults()
	if c.Systems == nil {
		c.Systems = d.Systems
	}
	if c.Workloads == nil {
		c.Workloads = d.Workloads
	}
	set := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&c.CountRecords, d.CountRecords)
	set(&c.CountKeys, d.CountKeys)
	set(&c.TransformRecords, d.TransformRecords)
	set(&c.WindowRecords, d.WindowRecords)
	set(&c.WindowKeys, d.WindowKeys)
	set(&c.Runs, d.Runs)
	if c.WarmupFraction == 0 {
		c.WarmupFraction = d.WarmupFraction
	}
	if c.Dir == "" {
		c.Dir = os.TempDir()
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.QuietWait <= 0 {
		c.QuietWait = time.Minute
	}
}

func (c *StreamConfig) size(w StreamWorkload) (records, keys int) {
	switch w {
	case KeyedCount:
		return c.CountRecords, c.CountKeys
	case Transform:
		return c.TransformRecords, 0
	}
	return c.WindowRecords, c.WindowKeys
}

// StreamRow is one system's result for one workload: the table's row and one JSON line.
type StreamRow struct {
	Workload    StreamWorkload `json:"workload"`
	Description string         `json:"description"`
	System      string         `json:"system"`
	// Status is "ok", "wrong-output" (figures measured, but the outputs differed from
	// the model in some run: see Note) or "error".
	Status    string `json:"status"`
	Note      string `json:"note,omitempty"`
	Semantics string `json:"semantics"`
	Check     string `json:"check,omitempty"`
	// Details: what the system reported about each run (Outputs.Detail), run by run.
	Details []string `json:"details,omitempty"`

	Records int64 `json:"records"`
	Outputs int64 `json:"outputs"`
	// Medians over the runs, each of its own column.
	Seconds          float64 `json:"seconds"`
	RecordsPerSec    float64 `json:"records_per_sec"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	RecordsPerCPUSec float64 `json:"records_per_cpu_sec"`
	// PeakRSSMB is the peak resident set size of the run's process during the timed
	// part (VmHWM, see RSSMethod), in 10^6 bytes.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// ProcessMaxRSSMB is the run's process peak over its whole life (getrusage maxrss:
	// input generation and the output check included); in-process runs share one.
	ProcessMaxRSSMB float64 `json:"process_max_rss_mb"`
	// RSSGrowthMB is the highest VmRSS sampled during the timed part minus VmRSS at its
	// start.
	RSSGrowthMB float64 `json:"rss_growth_mb"`
	RSSMethod   string  `json:"rss_method"`
	// RiffleOverPeer and RiffleOverPeerCPU: riffle's records/s (records per CPU-second)
	// divided by this row's, of the medians; above 1 riffle is faster.
	RiffleOverPeer    float64 `json:"riffle_over_peer,omitempty"`
	RiffleOverPeerCPU float64 `json:"riffle_over_peer_cpu,omitempty"`

	OtherCPUPercent float64 `json:"other_cpu_percent"`
	Load1           float64 `json:"load1"`

	RunsRecordsPerSec    []float64 `json:"runs_records_per_sec,omitempty"`
	RunsRecordsPerCPUSec []float64 `json:"runs_records_per_cpu_sec,omitempty"`
	Statistic            string    `json:"statistic"`
	Isolation            string    `json:"isolation"`
	Env                  Env       `json:"env"`
}

type streamRunner struct {
	cfg  StreamConfig
	env  Env
	runs map[string][]StreamOutcome // workload/system
	errs map[string]error
}

// RunStreams measures every selected system on every selected workload it implements
// and returns the rows, grouped by workload. Within a workload the systems' runs are
// interleaved (warm-ups, then run 1 of every system, run 2, ...), so that a busy
// moment of a shared machine does not land on one system only.
func RunStreams(ctx context.Context, cfg StreamConfig) ([]StreamRow, error) {
	cfg.ensureDefaults()
	r := &streamRunner{cfg: cfg, env: currentEnv(), runs: map[string][]StreamOutcome{}, errs: map[string]error{}}
	var rows []StreamRow
	for _, w := range cfg.Workloads {
		var systems []StreamSystem
		for _, name := range cfg.Systems {
			s, ok := StreamSystemByName(name)
			if !ok {
				return nil, fmt.Errorf("unknown stream system %q", name)
			}
			if s.Runs[w] != nil {
				systems = append(systems, s)
			}
		}
		if len(systems) == 0 {
			continue
		}
		records, keys := cfg.size(w)
		if cfg.WarmupFraction > 0 {
			n := max(1000, int(float64(records)*cfg.WarmupFraction))
			for _, s := range systems {
				if _, err := r.once(ctx, s, w, n, keys, -1); err != nil {
					r.errs[key(w, s.Name)] = fmt.Errorf("warm-up: %w", err)
				}
			}
		}
		for i := range cfg.Runs {
			for _, s := range systems {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if r.errs[key(w, s.Name)] != nil {
					continue
				}
				oc, err := r.once(ctx, s, w, records, keys, i)
				if err != nil {
					r.errs[key(w, s.Name)] = fmt.Errorf("run %d: %w", i+1, err)
					continue
				}
				r.runs[key(w, s.Name)] = append(r.runs[key(w, s.Name)], oc)
			}
		}
		rows = append(rows, r.rows(w, systems)...)
	}
	return rows, nil
}

func key(w StreamWorkload, system string) string { return string(w) + "/" + system }

func (r *streamRunner) once(ctx context.Context, s StreamSystem, w StreamWorkload, records, keys, run int) (StreamOutcome, error) {
	dir, err := os.MkdirTemp(r.cfg.Dir, "streamcompare-")
	if err != nil {
		return StreamOutcome{}, err
	}
	defer os.RemoveAll(dir)
	spec := StreamSpec{Workload: w, System: s.Name, Records: records, Keys: keys, Dir: dir, CheckpointInterval: r.cfg.CheckpointInterval}
	if r.cfg.CPUProfileDir != "" && run >= 0 {
		spec.CPUProfile, _ = filepath.Abs(filepath.Join(r.cfg.CPUProfileDir, fmt.Sprintf("%s-%s-%d.pprof", w, s.Name, run+1)))
	}
	settle()
	waitQuiet(r.cfg.QuietBelow, r.cfg.QuietWait, r.cfg.Progress)
	var oc StreamOutcome
	if r.cfg.ChildExe != "" {
		oc, err = runChild(ctx, r.cfg.ChildExe, spec)
	} else {
		oc, err = RunStream(ctx, spec)
	}
	label := "warm-up"
	if run >= 0 {
		label = fmt.Sprintf("run %d/%d", run+1, r.cfg.Runs)
	}
	if err != nil {
		fmt.Fprintf(r.cfg.Progress, "%-9s %-16s %s: ERROR %v\n", w, s.Name, label, err)
		return oc, err
	}
	check := "output ok"
	if oc.CheckErr != "" {
		check = "WRONG OUTPUT: " + oc.CheckErr
	}
	if len(oc.Details) > 0 {
		check += "; " + strings.Join(oc.Details, "; ")
	}
	fmt.Fprintf(r.cfg.Progress, "%-9s %-16s %s: %d records in %.3fs (CPU %.3fs): %s records/s, %s per CPU-s, peak RSS %.0f MB, others %.0f%% CPU, load %.2f; %s\n",
		w, s.Name, label, oc.Records, oc.Elapsed.Seconds(), oc.CPU.Seconds(), human(rateOf(oc.Records, oc.Elapsed)), human(rateOf(oc.Records, oc.CPU)),
		float64(max(oc.HWM, oc.RSSPeak))/1e6, oc.OtherCPU*100, oc.Load1, check)
	return oc, nil
}

func rateOf(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func (r *streamRunner) describe(w StreamWorkload) string {
	c := r.cfg
	switch w {
	case KeyedCount:
		return fmt.Sprintf("keyed running count: %d messages over %d keys, pre-produced (untimed) into the system's log or broker; timed until every message's count was emitted", c.CountRecords, c.CountKeys)
	case Transform:
		return fmt.Sprintf("stateless transform: %d CSV lines ID,ACTION,AMOUNT from memory -> parse -> drop AMOUNT < %d -> upper-case ACTION -> discarding sink", c.TransformRecords, TransformMinAmount)
	}
	return fmt.Sprintf("windowed count: %d events over %d keys, %s apart in event time, counted per key in tumbling windows of %s (go-streams: %s of processing time)", c.WindowRecords, c.WindowKeys, EventStep, WindowSize, GoStreamsWindow)
}

const streamRSSMethod = "peak: the process's VmHWM over the timed part alone (reset through /proc/self/clear_refs when the clock starts, after a GC; it includes the Go runtime, the linked packages and the input held in memory); growth: highest VmRSS sampled every 2 ms during the timed part minus VmRSS at its start"

func (r *streamRunner) rows(w StreamWorkload, systems []StreamSystem) []StreamRow {
	isolation := "each run in a fresh child process"
	if r.cfg.ChildExe == "" {
		isolation = "every run in this process, one after another"
	}
	var rows []StreamRow
	for _, s := range systems {
		row := StreamRow{
			Workload: w, Description: r.describe(w), System: s.Name, Semantics: s.Semantics[w],
			RSSMethod: streamRSSMethod, Isolation: isolation, Env: r.env,
			Statistic: fmt.Sprintf("median of %d runs, each column separately; systems' runs interleaved", r.cfg.Runs),
		}
		runs := r.runs[key(w, s.Name)]
		if err := r.errs[key(w, s.Name)]; err != nil || len(runs) == 0 {
			row.Status = "error"
			if err != nil {
				row.Note = err.Error()
			}
			rows = append(rows, row)
			continue
		}
		row.Status = "ok"
		var secs, rps, cpu, rpc, peak, growth, other, load, maxrss []float64
		for _, oc := range runs {
			secs = append(secs, oc.Elapsed.Seconds())
			rps = append(rps, rateOf(oc.Records, oc.Elapsed))
			cpu = append(cpu, oc.CPU.Seconds())
			rpc = append(rpc, rateOf(oc.Records, oc.CPU))
			p := oc.HWM
			if p <= 0 {
				p = oc.RSSPeak
			}
			peak = append(peak, float64(p)/1e6)
			growth = append(growth, float64(max(0, oc.RSSPeak-oc.RSSStart))/1e6)
			maxrss = append(maxrss, float64(oc.MaxRSS)/1e6)
			other = append(other, oc.OtherCPU*100)
			load = append(load, oc.Load1)
			row.Check = oc.Check
			if oc.CheckErr != "" {
				row.Status = "wrong-output"
				row.Note = oc.CheckErr
			}
			row.Records, row.Outputs = oc.Records, oc.Outputs
			if len(oc.Details) > 0 {
				row.Details = append(row.Details, strings.Join(oc.Details, "; "))
			}
		}
		row.Seconds, row.RecordsPerSec = median(secs), round(median(rps))
		row.CPUSeconds, row.RecordsPerCPUSec = median(cpu), round(median(rpc))
		row.PeakRSSMB, row.RSSGrowthMB, row.ProcessMaxRSSMB = median(peak), median(growth), median(maxrss)
		row.OtherCPUPercent, row.Load1 = float64(int(median(other)*10+0.5))/10, median(load)
		for i := range rps {
			rps[i], rpc[i] = round(rps[i]), round(rpc[i])
		}
		row.RunsRecordsPerSec, row.RunsRecordsPerCPUSec = rps, rpc
		rows = append(rows, row)
	}
	var base *StreamRow
	for i := range rows {
		if rows[i].System == "riffle" && rows[i].Status == "ok" {
			base = &rows[i]
		}
	}
	if base != nil {
		for i := range rows {
			if rows[i].Status != "error" && rows[i].RecordsPerSec > 0 && rows[i].RecordsPerCPUSec > 0 {
				rows[i].RiffleOverPeer = base.RecordsPerSec / rows[i].RecordsPerSec
				rows[i].RiffleOverPeerCPU = base.RecordsPerCPUSec / rows[i].RecordsPerCPUSec
			}
		}
	}
	return rows
}

// waitQuiet waits until other processes use less than below of the machine's CPU over
// half a second, or wait has passed (below <= 0: no wait).
func waitQuiet(below float64, wait time.Duration, progress io.Writer) {
	if below <= 0 {
		return
	}
	r := &runner{cfg: Config{QuietBelow: below, QuietWait: wait, Progress: progress}}
	r.waitQuiet()
}

// WriteStreamTable prints rows as a readable table, then each row's semantics.
func WriteStreamTable(w io.Writer, rows []StreamRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no results")
		return err
	}
	env := rows[0].Env
	var b bytes.Buffer
	fmt.Fprintf(&b, "streamcompare %s, %s, %s, %d CPUs (GOMAXPROCS %d), kernel %s\n", env.Date, env.Go, env.CPU, env.NumCPU, env.GOMAXPROCS, env.Kernel)
	fmt.Fprintf(&b, "figures: %s; %s\n", rows[0].Statistic, rows[0].Isolation)
	fmt.Fprintf(&b, "rec/CPU-s: input records per second of the process's CPU time (getrusage user+system) during the timed part; riffle÷row: riffle's median ÷ this row's (>1: riffle faster)\n")
	fmt.Fprintf(&b, "RSS: %s\n", streamRSSMethod)
	var last StreamWorkload
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, r := range rows {
		if r.Workload != last {
			if last != "" {
				tw.Flush()
			}
			fmt.Fprintf(&b, "\n(%s) %s\n", r.Workload, r.Description)
			fmt.Fprintf(tw, "system\trecords\toutputs\tseconds\trecords/s\tCPU s\trec/CPU-s\tpeak RSS MB\tRSS +MB\triffle÷row\triffle÷row CPU\tothers' CPU\tload\truns records/s\truns rec/CPU-s\t\n")
			last = r.Workload
		}
		if r.Status == "error" {
			fmt.Fprintf(tw, "%s\terror\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", r.System)
			continue
		}
		ratio := func(v float64) string {
			if v <= 0 {
				return "-"
			}
			return strconv.FormatFloat(v, 'f', 2, 64)
		}
		list := func(v []float64) string {
			var s []string
			for _, x := range v {
				s = append(s, human(x))
			}
			return strings.Join(s, " ")
		}
		name := r.System
		if r.Status != "ok" {
			name += " (" + r.Status + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%s\t%.3f\t%s\t%.0f\t%.0f\t%s\t%s\t%.0f%%\t%.2f\t%s\t%s\t\n", name, r.Records, r.Outputs, r.Seconds,
			human(r.RecordsPerSec), r.CPUSeconds, human(r.RecordsPerCPUSec), r.PeakRSSMB, r.RSSGrowthMB,
			ratio(r.RiffleOverPeer), ratio(r.RiffleOverPeerCPU), r.OtherCPUPercent, r.Load1, list(r.RunsRecordsPerSec), list(r.RunsRecordsPerCPUSec))
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nsemantics, set-up and output check:\n")
	for _, r := range rows {
		text := r.Semantics
		if r.Check != "" {
			text += ". Checked: " + r.Check
		}
		if len(r.Details) > 0 {
			text += ". Runs: " + strings.Join(r.Details, " | ")
		}
		if r.Note != "" {
			text += ". " + strings.ToUpper(r.Status) + ": " + r.Note
		}
		fmt.Fprintf(&b, "  (%s) %-16s %s\n", r.Workload, r.System, text)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteStreamJSONLines writes one JSON object per row, one per line.
func WriteStreamJSONLines(w io.Writer, rows []StreamRow) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
