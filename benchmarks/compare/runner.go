package compare

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// Config says what Run measures. Zero fields take the defaults in Defaults.
type Config struct {
	Systems   []System
	Workloads []Workload

	Messages      int // workload a: messages per run (before a system's Scale)
	Size          int // workload a: body size
	SmallMessages int // workload b: messages per run (before a system's Scale)
	SmallSize     int // workload b: body size
	Batch         int // workloads a, b: messages per append call

	SyncProducers int           // workload c: concurrent producers
	SyncMessages  int           // workload c: most messages per run
	SyncDuration  time.Duration // workload c: a run stops starting appends after this

	Runs           int     // measured runs per system and workload; the median is reported
	WarmupFraction float64 // a warm-up run of this share of the messages precedes them

	Dir string // parent of the per-run data directories; default os.TempDir()

	// QuietBelow, if positive, makes each measured run wait (at most QuietWait) until
	// other processes used less than this share of the machine's CPU over half a second:
	// on a shared machine, it keeps other people's builds out of the figures.
	QuietBelow float64
	QuietWait  time.Duration

	Progress io.Writer // one line per run; default io.Discard
}

// Defaults returns the configuration of the default full run.
func Defaults() Config {
	return Config{
		Systems:        []System{Riffle(), RifflePipelined(), TidwallWAL(), JetStream(), Liftbridge()},
		Workloads:      AllWorkloads,
		Messages:       1_000_000,
		Size:           1024,
		SmallMessages:  1_000_000,
		SmallSize:      100,
		Batch:          1000,
		SyncProducers:  64,
		SyncMessages:   1_000_000,
		SyncDuration:   2 * time.Second,
		Runs:           3,
		WarmupFraction: 0.2,
	}
}

func (c *Config) ensureDefaults() {
	d := Defaults()
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
	set(&c.Messages, d.Messages)
	set(&c.Size, d.Size)
	set(&c.SmallMessages, d.SmallMessages)
	set(&c.SmallSize, d.SmallSize)
	set(&c.Batch, d.Batch)
	set(&c.SyncProducers, d.SyncProducers)
	set(&c.SyncMessages, d.SyncMessages)
	set(&c.Runs, d.Runs)
	if c.SyncDuration <= 0 {
		c.SyncDuration = d.SyncDuration
	}
	if c.WarmupFraction <= 0 {
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

// Env describes the machine and toolchain of a run.
type Env struct {
	Date       string `json:"date"`
	Go         string `json:"go"`
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Kernel     string `json:"kernel,omitempty"`
	// FdatasyncP50Us and FdatasyncP99Us probe the disk under Config.Dir: 200 appends of
	// 4 KiB, each followed by fdatasync, before the workloads run. They say how much a
	// "sync" append can cost on this machine.
	FdatasyncP50Us float64 `json:"fdatasync_p50_us,omitempty"`
	FdatasyncP99Us float64 `json:"fdatasync_p99_us,omitempty"`
}

// Row is one system's result for one workload: the table's row and one JSON line.
type Row struct {
	Workload    Workload `json:"workload"`
	Description string   `json:"description"`
	System      string   `json:"system"`
	// Status is "ok", "n/a" (the system has no honest equivalent; see Note) or "error".
	Status     string `json:"status"`
	Note       string `json:"note,omitempty"`
	Durability string `json:"durability,omitempty"`

	// Figures of the median run (by msgs/s).
	Messages   int64   `json:"messages"`
	Bytes      int64   `json:"bytes"` // bodies only
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"` // 10^6 bytes of bodies per second
	// Latency from handing a unit (LatencyOf: "batch" or "message") to the system to its
	// acknowledgement; zero when not measured.
	P50Ms     float64 `json:"p50_ms,omitempty"`
	P99Ms     float64 `json:"p99_ms,omitempty"`
	LatencyOf string  `json:"latency_of,omitempty"`
	// PeakRSSDeltaMB is the highest resident set size sampled during the run minus the
	// resident set size at its start, in 10^6 bytes (RSSMethod says how).
	PeakRSSDeltaMB float64 `json:"peak_rss_delta_mb"`
	RSSMethod      string  `json:"rss_method"`
	// RiffleOverPeer is riffle's msgs/s divided by this row's (the row named "riffle" of
	// the same workload): above 1, riffle is faster. Zero when either is missing.
	RiffleOverPeer float64 `json:"riffle_over_peer,omitempty"`
	// RiffleOverPeerBest is the same ratio of the best runs.
	RiffleOverPeerBest float64 `json:"riffle_over_peer_best,omitempty"`

	// OtherCPUPercent is the share of the machine's CPU time (all cores) that other
	// processes used during the median run, from /proc/stat minus this process's own
	// CPU time: a measure of how noisy the machine was.
	OtherCPUPercent float64 `json:"other_cpu_percent"`

	RunsMsgsPerSec []float64 `json:"runs_msgs_per_sec,omitempty"`
	BestMsgsPerSec float64   `json:"best_msgs_per_sec,omitempty"`
	Statistic      string    `json:"statistic"`
	Env            Env       `json:"env"`
}

const rssMethod = "VmRSS from /proc/self/statm sampled every 2 ms during the run, minus VmRSS at its start (taken after runtime.GC and debug.FreeOSMemory)"

// Run measures every selected system on every selected workload and returns the rows,
// grouped by workload in AllWorkloads order.
func Run(ctx context.Context, cfg Config) ([]Row, error) {
	cfg.ensureDefaults()
	env := currentEnv()
	env.FdatasyncP50Us, env.FdatasyncP99Us = probeFdatasync(cfg.Dir)
	r := &runner{cfg: cfg, env: env, rows: map[Workload][]Row{}}
	want := map[Workload]bool{}
	for _, w := range cfg.Workloads {
		want[w] = true
	}
	// a (and d on a's last store), then b, then c: each system in turn, so that one
	// system's goroutines and caches are gone before the next one runs.
	if want[BatchLarge] || want[ReadAll] {
		for _, s := range cfg.Systems {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r.writeThenRead(ctx, s, want[BatchLarge], want[ReadAll])
		}
	}
	if want[BatchSmall] {
		for _, s := range cfg.Systems {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r.batched(ctx, s, BatchSmall, nil)
		}
	}
	if want[SyncConcurrent] {
		for _, s := range cfg.Systems {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r.syncConcurrent(ctx, s)
		}
	}
	var out []Row
	for _, w := range AllWorkloads {
		rows := r.rows[w]
		var base, best float64
		for _, row := range rows {
			if row.System == "riffle" && row.Status == "ok" {
				base, best = row.MsgsPerSec, row.BestMsgsPerSec
			}
		}
		for i := range rows {
			if base > 0 && rows[i].Status == "ok" && rows[i].MsgsPerSec > 0 {
				rows[i].RiffleOverPeer = base / rows[i].MsgsPerSec
				rows[i].RiffleOverPeerBest = best / rows[i].BestMsgsPerSec
			}
		}
		out = append(out, rows...)
	}
	return out, nil
}

type runner struct {
	cfg  Config
	env  Env
	rows map[Workload][]Row
}

func (r *runner) describe(w Workload) string {
	c := r.cfg
	switch w {
	case BatchLarge:
		return fmt.Sprintf("batched append, %d-byte bodies, %d per batch, async durability", c.Size, c.Batch)
	case BatchSmall:
		return fmt.Sprintf("batched append, %d-byte bodies, %d per batch, async durability", c.SmallSize, c.Batch)
	case SyncConcurrent:
		return fmt.Sprintf("sync append, %d-byte bodies, %d concurrent closed-loop producers, one message per append, for %s or %d messages", c.Size, c.SyncProducers, c.SyncDuration, c.SyncMessages)
	case ReadAll:
		return fmt.Sprintf("sequential read from the page cache of everything the last run of (a) wrote (%d-byte bodies)", c.Size)
	}
	return string(w)
}

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
}

func (r *runner) newRow(s System, w Workload) Row {
	return Row{
		Workload: w, Description: r.describe(w), System: s.Name, Durability: s.Durability[w],
		RSSMethod: rssMethod, Env: r.env,
		Statistic: fmt.Sprintf("median of %d runs by msgs/s, after 1 warm-up run", r.cfg.Runs),
	}
}

func (r *runner) addUnsupported(s System, w Workload) bool {
	note, ok := s.Unsupported[w]
	if !ok {
		return false
	}
	row := r.newRow(s, w)
	row.Status, row.Note, row.Durability = "n/a", note, ""
	r.rows[w] = append(r.rows[w], row)
	r.progress("%-16s %s: n/a (%s)", s.Name, w, note)
	return true
}

func (r *runner) addError(s System, w Workload, err error) {
	row := r.newRow(s, w)
	row.Status, row.Note = "error", err.Error()
	r.rows[w] = append(r.rows[w], row)
	r.progress("%-16s %s: ERROR %v", s.Name, w, err)
}

// measured is one run's outcome and peak RSS delta.
type measured struct {
	out   Outcome
	rss   int64
	other float64 // share of the machine's CPU time used by other processes
}

func (r *runner) addMeasured(s System, w Workload, runs []measured, note string) {
	slices.SortFunc(runs, func(a, b measured) int {
		return cmpFloat(rate(a.out), rate(b.out))
	})
	med := runs[(len(runs)-1)/2]
	row := r.newRow(s, w)
	row.Status, row.Note = "ok", note
	row.Messages, row.Bytes = med.out.Messages, med.out.Bytes
	row.Seconds = med.out.Elapsed.Seconds()
	row.MsgsPerSec = rate(med.out)
	row.MBPerSec = float64(med.out.Bytes) / 1e6 / row.Seconds
	if len(med.out.Lat) > 0 {
		lat := slices.Clone(med.out.Lat)
		slices.Sort(lat)
		pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
		row.P50Ms, row.P99Ms, row.LatencyOf = pct(0.50), pct(0.99), med.out.LatOf
	}
	row.PeakRSSDeltaMB = float64(med.rss) / 1e6
	row.OtherCPUPercent = float64(int(med.other*1000+0.5)) / 10
	for _, m := range runs {
		row.RunsMsgsPerSec = append(row.RunsMsgsPerSec, round(rate(m.out)))
	}
	row.BestMsgsPerSec = round(rate(runs[len(runs)-1].out))
	r.rows[w] = append(r.rows[w], row)
}

func rate(o Outcome) float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Messages) / o.Elapsed.Seconds()
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func round(f float64) float64 { return float64(int64(f + 0.5)) }

// scaled returns a system's message count for a batched workload: n times its Scale,
// in whole batches.
func (r *runner) scaled(s System, n int) int {
	if s.Scale > 0 && s.Scale != 1 {
		n = int(float64(n) * s.Scale)
	}
	b := r.cfg.Batch
	return max(b, n/b*b)
}

// store is an open store in its own directory.
type store struct {
	Store
	dir string
}

func (r *runner) open(s System, sync bool) (*store, error) {
	dir, err := os.MkdirTemp(r.cfg.Dir, "logcompare-")
	if err != nil {
		return nil, err
	}
	st, err := s.Open(dir, sync)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open: %w", err)
	}
	return &store{st, dir}, nil
}

func (st *store) destroy() error {
	err := st.Close()
	if rerr := os.RemoveAll(st.dir); err == nil {
		err = rerr
	}
	return err
}

// settle gives every run the same start: earlier runs' garbage collected and returned
// to the OS, and no dirty pages of earlier runs left for the kernel to write back
// during this one.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	syscall.Sync()
}

// once runs fn on a freshly opened store, sampling RSS; keep leaves the store open and
// returns it.
func (r *runner) once(s System, sync, keep bool, fn func(Store) (Outcome, error)) (measured, *store, error) {
	st, err := r.open(s, sync)
	if err != nil {
		return measured{}, nil, err
	}
	settle()
	r.waitQuiet()
	cpu := startCPU()
	smp := startRSS()
	out, err := fn(st)
	peak := smp.stop()
	other := cpu.otherShare()
	if err != nil || !keep {
		if derr := st.destroy(); err == nil {
			err = derr
		}
		st = nil
	}
	return measured{out, peak, other}, st, err
}

func (r *runner) batched(ctx context.Context, s System, w Workload, keepLast func(*store, int)) {
	if r.addUnsupported(s, w) {
		return
	}
	n, size := r.cfg.Messages, r.cfg.Size
	if w == BatchSmall {
		n, size = r.cfg.SmallMessages, r.cfg.SmallSize
	}
	n = r.scaled(s, n)
	bodies := NewBodies(size)
	spec := Spec{Messages: n, Batch: r.cfg.Batch, Bodies: bodies}
	warm := spec
	warm.Messages = max(r.cfg.Batch, int(float64(n)*r.cfg.WarmupFraction)/r.cfg.Batch*r.cfg.Batch)
	if _, _, err := r.once(s, false, false, func(st Store) (Outcome, error) { return st.AppendBatched(ctx, warm) }); err != nil {
		r.addError(s, w, fmt.Errorf("warm-up: %w", err))
		return
	}
	var runs []measured
	for i := range r.cfg.Runs {
		keep := keepLast != nil && i == r.cfg.Runs-1
		m, st, err := r.once(s, false, keep, func(st Store) (Outcome, error) { return st.AppendBatched(ctx, spec) })
		if err != nil {
			r.addError(s, w, fmt.Errorf("run %d: %w", i+1, err))
			return
		}
		r.progress("%-16s %s run %d/%d: %d msgs in %.3fs, %.0f msgs/s, peak RSS +%.0f MB, other processes %.0f%% CPU", s.Name, w, i+1, r.cfg.Runs, m.out.Messages, m.out.Elapsed.Seconds(), rate(m.out), float64(m.rss)/1e6, m.other*100)
		runs = append(runs, m)
		if keep {
			defer keepLast(st, n)
		}
	}
	note := ""
	if s.Scale > 0 && s.Scale != 1 {
		note = fmt.Sprintf("%d messages per run (%.0f%% of the others') to keep the run short; figures are per message", n, s.Scale*100)
	}
	r.addMeasured(s, w, runs, note)
}

// writeThenRead runs workload a (if measured) and then reads a's last store for d.
func (r *runner) writeThenRead(ctx context.Context, s System, measureWrite, measureRead bool) {
	read := func(st *store, n int) {
		defer func() {
			if err := st.destroy(); err != nil {
				r.progress("%-16s close: %v", s.Name, err)
			}
		}()
		if r.addUnsupported(s, ReadAll) {
			return
		}
		bodies := NewBodies(r.cfg.Size)
		// Warm-up: one full read, discarded.
		if _, err := st.ReadAll(ctx, n, bodies); err != nil {
			r.addError(s, ReadAll, fmt.Errorf("warm-up: %w", err))
			return
		}
		var runs []measured
		for i := range r.cfg.Runs {
			runtime.GC()
			debug.FreeOSMemory()
			r.waitQuiet()
			cpu := startCPU()
			smp := startRSS()
			out, err := st.ReadAll(ctx, n, bodies)
			peak := smp.stop()
			other := cpu.otherShare()
			if err != nil {
				r.addError(s, ReadAll, fmt.Errorf("run %d: %w", i+1, err))
				return
			}
			r.progress("%-16s %s run %d/%d: %d msgs in %.3fs, %.0f msgs/s, peak RSS +%.0f MB, other processes %.0f%% CPU", s.Name, ReadAll, i+1, r.cfg.Runs, out.Messages, out.Elapsed.Seconds(), rate(out), float64(peak)/1e6, other*100)
			runs = append(runs, measured{out, peak, other})
		}
		r.addMeasured(s, ReadAll, runs, "")
	}
	var keep func(*store, int)
	if measureRead {
		if _, ok := s.Unsupported[ReadAll]; ok {
			r.addUnsupported(s, ReadAll)
		} else {
			keep = read
		}
	}
	if measureWrite {
		r.batched(ctx, s, BatchLarge, keep)
		return
	}
	if keep == nil {
		return
	}
	// d without a: write the data once, unmeasured.
	n := r.scaled(s, r.cfg.Messages)
	spec := Spec{Messages: n, Batch: r.cfg.Batch, Bodies: NewBodies(r.cfg.Size)}
	_, st, err := r.once(s, false, true, func(st Store) (Outcome, error) { return st.AppendBatched(ctx, spec) })
	if err != nil {
		r.addError(s, ReadAll, fmt.Errorf("writing the data to read: %w", err))
		return
	}
	keep(st, n)
}

func (r *runner) syncConcurrent(ctx context.Context, s System) {
	w := SyncConcurrent
	if r.addUnsupported(s, w) {
		return
	}
	bodies := NewBodies(r.cfg.Size)
	spec := func(d time.Duration) Spec {
		return Spec{Messages: r.cfg.SyncMessages, Producers: r.cfg.SyncProducers, Deadline: time.Now().Add(d), Bodies: bodies}
	}
	warm := max(300*time.Millisecond, time.Duration(float64(r.cfg.SyncDuration)*r.cfg.WarmupFraction))
	if _, _, err := r.once(s, true, false, func(st Store) (Outcome, error) { return st.AppendSync(ctx, spec(warm)) }); err != nil {
		if errors.Is(err, ErrUnsupported) {
			s.Unsupported = map[Workload]string{w: "not supported"}
			r.addUnsupported(s, w)
			return
		}
		r.addError(s, w, fmt.Errorf("warm-up: %w", err))
		return
	}
	var runs []measured
	for i := range r.cfg.Runs {
		m, _, err := r.once(s, true, false, func(st Store) (Outcome, error) { return st.AppendSync(ctx, spec(r.cfg.SyncDuration)) })
		if err != nil {
			r.addError(s, w, fmt.Errorf("run %d: %w", i+1, err))
			return
		}
		r.progress("%-16s %s run %d/%d: %d msgs in %.3fs, %.0f msgs/s, peak RSS +%.0f MB, other processes %.0f%% CPU", s.Name, w, i+1, r.cfg.Runs, m.out.Messages, m.out.Elapsed.Seconds(), rate(m.out), float64(m.rss)/1e6, m.other*100)
		runs = append(runs, m)
	}
	r.addMeasured(s, w, runs, "")
}

// --- RSS sampling ---

type rssSampler struct {
	base  int64
	peak  int64
	stopc chan struct{}
	done  chan struct{}
}

// startRSS samples the resident set size every 2 ms until stop.
func startRSS() *rssSampler {
	s := &rssSampler{base: readRSS(), stopc: make(chan struct{}), done: make(chan struct{})}
	s.peak = s.base
	go func() {
		defer close(s.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
				if v := readRSS(); v > s.peak {
					s.peak = v
				}
			}
		}
	}()
	return s
}

// stop returns the peak minus the baseline (never negative).
func (s *rssSampler) stop() int64 {
	close(s.stopc)
	<-s.done
	if v := readRSS(); v > s.peak {
		s.peak = v
	}
	return max(0, s.peak-s.base)
}

var pageSize = int64(os.Getpagesize())

// readRSS returns the resident set size from /proc/self/statm, or 0 where there is none.
func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * pageSize
}

// MaxRSS returns the process's peak resident set size so far (getrusage), in bytes.
func MaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}

// --- environment ---

var envOnce = sync.OnceValue(func() Env {
	e := Env{
		Date:       time.Now().UTC().Format(time.RFC3339),
		Go:         runtime.Version(),
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	return e
})

func currentEnv() Env { return envOnce() }

// --- output ---

// WriteTable prints rows as a readable table, then what each system's acknowledgement
// means per workload.
func WriteTable(w io.Writer, rows []Row) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no results")
		return err
	}
	env := rows[0].Env
	var b bytes.Buffer
	fmt.Fprintf(&b, "logcompare %s, %s, %s, %d CPUs (GOMAXPROCS %d), kernel %s\n", env.Date, env.Go, env.CPU, env.NumCPU, env.GOMAXPROCS, env.Kernel)
	fmt.Fprintf(&b, "disk probe: 4 KiB append + fdatasync p50 %.0f µs, p99 %.0f µs\n", env.FdatasyncP50Us, env.FdatasyncP99Us)
	fmt.Fprintf(&b, "figures: %s; MB = 10^6 bytes of message bodies; riffle÷row = riffle msgs/s ÷ this row's, of the medians (>1: riffle faster); runs are listed slowest first\n", rows[0].Statistic)
	fmt.Fprintf(&b, "peak RSS: %s\n", rssMethod)
	fmt.Fprintf(&b, "others' CPU: share of all cores' time used by other processes during the median run (/proc/stat): above a few %%, the machine was noisy\n")
	var last Workload
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, r := range rows {
		if r.Workload != last {
			if last != "" {
				tw.Flush()
			}
			fmt.Fprintf(&b, "\n(%s) %s\n", r.Workload, r.Description)
			fmt.Fprintf(tw, "system\tmsgs/run\tmsgs/s\tMB/s\tp50 ms\tp99 ms\tlatency of\tpeak RSS +MB\triffle÷row\tothers' CPU\truns msgs/s\t\n")
			last = r.Workload
		}
		if r.Status != "ok" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t\t\t\n", r.System, r.Status)
			continue
		}
		lat := func(v float64) string {
			if r.LatencyOf == "" {
				return "-"
			}
			return strconv.FormatFloat(v, 'f', 3, 64)
		}
		ratio := "-"
		if r.RiffleOverPeer > 0 {
			ratio = strconv.FormatFloat(r.RiffleOverPeer, 'f', 2, 64)
		}
		var runs []string
		for _, v := range r.RunsMsgsPerSec {
			runs = append(runs, human(v))
		}
		latOf := r.LatencyOf
		if latOf == "" {
			latOf = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%s\t%s\t%s\t%.0f\t%s\t%.0f%%\t%s\t\n", r.System, r.Messages, human(r.MsgsPerSec), r.MBPerSec,
			lat(r.P50Ms), lat(r.P99Ms), latOf, r.PeakRSSDeltaMB, ratio, r.OtherCPUPercent, strings.Join(runs, " "))
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nnotes and semantics (what an acknowledgement means):\n")
	for _, r := range rows {
		text := r.Durability
		if r.Note != "" {
			if text != "" {
				text += ". "
			}
			text += r.Note
		}
		if text != "" {
			fmt.Fprintf(&b, "  (%s) %-16s %s\n", r.Workload, r.System, text)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// human formats a rate: 1234567 -> "1.23M".
func human(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "K"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// WriteJSONLines writes one JSON object per row, one per line.
func WriteJSONLines(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// --- CPU used by other processes ---

// waitQuiet waits until other processes use less than cfg.QuietBelow of the machine's
// CPU over half a second, or cfg.QuietWait has passed.
func (r *runner) waitQuiet() {
	if r.cfg.QuietBelow <= 0 {
		return
	}
	deadline := time.Now().Add(r.cfg.QuietWait)
	for {
		c := startCPU()
		time.Sleep(500 * time.Millisecond)
		other := c.otherShare()
		if other < r.cfg.QuietBelow {
			return
		}
		if time.Now().After(deadline) {
			r.progress("machine still busy (other processes %.0f%% CPU) after %s: measuring anyway", other*100, r.cfg.QuietWait)
			return
		}
	}
}

type cpuSampler struct {
	busy, total, self int64
}

// startCPU records the machine's and this process's CPU time so far.
func startCPU() cpuSampler {
	b, t := machineCPU()
	return cpuSampler{busy: b, total: t, self: selfCPU()}
}

// otherShare returns the share of all cores' time since startCPU that other processes
// were busy, or 0 where /proc is not available.
func (c cpuSampler) otherShare() float64 {
	b, t := machineCPU()
	dt := t - c.total
	if dt <= 0 {
		return 0
	}
	other := (b - c.busy) - (selfCPU() - c.self)
	return max(0, float64(other)/float64(dt))
}

// machineCPU returns busy and total jiffies of all cores from /proc/stat.
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// selfCPU returns this process's user+system jiffies from /proc/self/stat.
func selfCPU() int64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; fields resume after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // utime: field 14
	s, _ := strconv.ParseInt(f[12], 10, 64) // stime: field 15
	return u + s
}

// probeFdatasync times 200 appends of 4 KiB, each followed by fdatasync, in a temporary
// file under dir, and returns the p50 and p99 in microseconds (zeros on failure).
func probeFdatasync(dir string) (p50, p99 float64) {
	f, err := os.CreateTemp(dir, "logcompare-probe-")
	if err != nil {
		return 0, 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, 200)
	for range 200 {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, 0
		}
		if err := fdatasync(f); err != nil {
			return 0, 0
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()/100) / 10 }
	return us(lat[len(lat)/2]), us(lat[len(lat)*99/100])
}
