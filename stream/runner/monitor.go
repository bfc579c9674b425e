package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/riffle-streams/riffle/stream"
)

// monitor samples a running job's metrics for the progress report and the HTTP server.
type monitor struct {
	job      *stream.Job
	interval time.Duration // the checkpoint interval (health)

	mu   sync.Mutex
	prev sample
	rate map[string]float64 // operator -> records in per second, over the last sample
}

type sample struct {
	at      time.Time
	in, out int64
	ops     map[string]int64
}

func newMonitor(job *stream.Job, interval time.Duration) *monitor {
	return &monitor{job: job, interval: interval, rate: map[string]float64{}}
}

// totals returns what the job's sources read and its sinks received.
func (m *monitor) totals(jm stream.Metrics) (in, out int64) {
	for _, o := range jm.Operators {
		t := o.Totals()
		switch o.Kind {
		case "source":
			in += t.RecordsOut
		case "sink":
			out += t.RecordsIn
		}
	}
	return in, out
}

// watermark is the lowest watermark of the job's sinks (or last operators).
func watermark(jm stream.Metrics) int64 {
	wm := stream.MaxWatermark
	for _, o := range jm.Operators {
		if o.Kind == "sink" {
			wm = min(wm, o.Totals().Watermark)
		}
	}
	return wm
}

// step takes a sample and returns the rates since the previous one.
func (m *monitor) step() (jm stream.Metrics, inRate, outRate float64) {
	jm = m.job.Metrics()
	now := time.Now()
	in, out := m.totals(jm)
	ops := map[string]int64{}
	for _, o := range jm.Operators {
		ops[o.Name] = o.Totals().RecordsIn
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if dt := now.Sub(m.prev.at).Seconds(); !m.prev.at.IsZero() && dt > 0 {
		inRate, outRate = float64(in-m.prev.in)/dt, float64(out-m.prev.out)/dt
		for name, n := range ops {
			m.rate[name] = float64(n-m.prev.ops[name]) / dt
		}
	}
	m.prev = sample{at: now, in: in, out: out, ops: ops}
	return jm, inRate, outRate
}

// report starts the progress report; the returned function stops it.
func (m *monitor) report(mode string, w io.Writer, logger *slog.Logger) func() {
	if mode == "auto" {
		mode = "log"
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			mode = "line"
		}
	}
	if mode == "off" {
		return func() {}
	}
	every := time.Second
	if mode == "log" {
		every = 10 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		m.step()
		for {
			select {
			case <-done:
				if mode == "line" {
					fmt.Fprintln(w)
				}
				return
			case <-t.C:
				jm, in, out := m.step()
				line := progressLine(jm, in, out)
				if mode == "line" {
					fmt.Fprintf(w, "\r\033[K%s", line)
				} else {
					logger.Info("progress", "job", jm.Job, "in_per_s", int64(in), "out_per_s", int64(out),
						"watermark_lag", lag(jm), "checkpoint", jm.Checkpoints.LastEpoch,
						"checkpoint_took", jm.Checkpoints.LastDuration.Round(time.Millisecond))
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func lag(jm stream.Metrics) string {
	wm := watermark(jm)
	if wm == stream.MinWatermark || wm == stream.MaxWatermark {
		return "-"
	}
	return time.Since(time.UnixMilli(wm)).Round(100 * time.Millisecond).String()
}

func progressLine(jm stream.Metrics, in, out float64) string {
	ck := "no checkpoint yet"
	if c := jm.Checkpoints; c.LastEpoch > 0 && !c.LastCommitted.IsZero() {
		ck = fmt.Sprintf("checkpoint %d %s ago (took %s)", c.LastEpoch,
			time.Since(c.LastCommitted).Round(100*time.Millisecond), c.LastDuration.Round(time.Millisecond))
	}
	return fmt.Sprintf("%s  in %s/s  out %s/s  watermark lag %s  %s  state %s",
		jm.Job, human(in), human(out), lag(jm), ck, bytesHuman(jm.Checkpoints.StateBytes))
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fK", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func bytesHuman(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// Handler serves /metrics, /healthz and /api/job for the monitored job.
func (m *monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", m.serveMetrics)
	mux.HandleFunc("/healthz", m.serveHealth)
	mux.HandleFunc("/api/job", m.serveJob)
	return mux
}

// NewHandler returns the runner's HTTP handler for job (for programs that run jobs
// themselves): /metrics, /healthz, /api/job.
func NewHandler(job *stream.Job, checkpointInterval time.Duration) http.Handler {
	return newMonitor(job, checkpointInterval).Handler()
}

func (m *monitor) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	jm := m.job.Metrics()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	job := quote(jm.Job)
	family := func(name, typ, help string) { fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ) }
	family("riffle_records_in_total", "counter", "Records an operator subtask received (a source: records read).")
	for _, o := range jm.Operators {
		for i, s := range o.Subtasks {
			fmt.Fprintf(&b, "riffle_records_in_total{job=%s,operator=%s,subtask=\"%d\"} %d\n", job, quote(o.Name), i, s.RecordsIn)
		}
	}
	family("riffle_records_out_total", "counter", "Records an operator subtask emitted.")
	for _, o := range jm.Operators {
		for i, s := range o.Subtasks {
			fmt.Fprintf(&b, "riffle_records_out_total{job=%s,operator=%s,subtask=\"%d\"} %d\n", job, quote(o.Name), i, s.RecordsOut)
		}
	}
	family("riffle_bytes_total", "counter", "Bytes a source subtask read or a sink subtask wrote (connectors that count them).")
	for _, o := range jm.Operators {
		for i, s := range o.Subtasks {
			if o.Kind == "source" || o.Kind == "sink" {
				fmt.Fprintf(&b, "riffle_bytes_total{job=%s,operator=%s,subtask=\"%d\"} %d\n", job, quote(o.Name), i, s.Bytes)
			}
		}
	}
	family("riffle_watermark_lag_seconds", "gauge", "Processing time minus the subtask's watermark (absent before its first watermark).")
	now := time.Now().UnixMilli()
	for _, o := range jm.Operators {
		for i, s := range o.Subtasks {
			if s.Watermark != stream.MinWatermark && s.Watermark != stream.MaxWatermark {
				fmt.Fprintf(&b, "riffle_watermark_lag_seconds{job=%s,operator=%s,subtask=\"%d\"} %g\n", job, quote(o.Name), i, float64(now-s.Watermark)/1000)
			}
		}
	}
	c := jm.Checkpoints
	family("riffle_checkpoint_last_epoch", "gauge", "The last committed checkpoint epoch.")
	fmt.Fprintf(&b, "riffle_checkpoint_last_epoch{job=%s} %d\n", job, c.LastEpoch)
	family("riffle_checkpoints_committed_total", "counter", "Checkpoints this run committed.")
	fmt.Fprintf(&b, "riffle_checkpoints_committed_total{job=%s} %d\n", job, c.Committed)
	family("riffle_checkpoint_last_duration_seconds", "gauge", "Trigger to commit of the last checkpoint.")
	fmt.Fprintf(&b, "riffle_checkpoint_last_duration_seconds{job=%s} %g\n", job, c.LastDuration.Seconds())
	family("riffle_state_bytes", "gauge", "Size of the job's state store on disk.")
	fmt.Fprintf(&b, "riffle_state_bytes{job=%s} %d\n", job, c.StateBytes)
	family("riffle_job_restarts_total", "counter", "Restarts after failures inside the job.")
	fmt.Fprintf(&b, "riffle_job_restarts_total{job=%s} %d\n", job, jm.Restarts)
	family("riffle_job_running", "gauge", "1 while the job runs.")
	fmt.Fprintf(&b, "riffle_job_running{job=%s} %d\n", job, b2i(jm.Running))
	io.WriteString(w, b.String())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// quote renders a Prometheus label value.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// serveHealth: 200 while the job runs and checkpoints keep committing (the last one no
// older than 10 checkpoint intervals, or the run is younger than that); 503 otherwise.
func (m *monitor) serveHealth(w http.ResponseWriter, _ *http.Request) {
	jm := m.job.Metrics()
	grace := 10 * m.interval
	last := jm.Checkpoints.LastCommitted
	if last.IsZero() {
		last = jm.Started
	}
	switch {
	case !jm.Running:
		http.Error(w, "not running", http.StatusServiceUnavailable)
	case time.Since(last) > grace:
		http.Error(w, fmt.Sprintf("no checkpoint committed for %s", time.Since(last).Round(time.Second)), http.StatusServiceUnavailable)
	default:
		io.WriteString(w, "ok\n")
	}
}

type jobJSON struct {
	Job         string         `json:"job"`
	Running     bool           `json:"running"`
	Started     time.Time      `json:"started"`
	Restarts    int            `json:"restarts"`
	Operators   []operatorJSON `json:"operators"`
	Checkpoints checkpointJSON `json:"checkpoints"`
}

type operatorJSON struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Parallelism int               `json:"parallelism"`
	Inputs      []stream.EdgeInfo `json:"inputs"`
	RecordsIn   int64             `json:"records_in"`
	RecordsOut  int64             `json:"records_out"`
	Bytes       int64             `json:"bytes"`
	RatePerSec  float64           `json:"records_in_per_sec"`
	Watermark   *int64            `json:"watermark_ms"`
}

type checkpointJSON struct {
	Enabled        bool    `json:"enabled"`
	LastEpoch      uint64  `json:"last_epoch"`
	Committed      uint64  `json:"committed"`
	LastDurationMs float64 `json:"last_duration_ms"`
	LastCommitted  *int64  `json:"last_committed_ms"`
	StateBytes     int64   `json:"state_bytes"`
}

func (m *monitor) serveJob(w http.ResponseWriter, _ *http.Request) {
	jm, _, _ := m.step()
	m.mu.Lock()
	rates := make(map[string]float64, len(m.rate))
	for k, v := range m.rate {
		rates[k] = v
	}
	m.mu.Unlock()
	out := jobJSON{Job: jm.Job, Running: jm.Running, Started: jm.Started, Restarts: jm.Restarts}
	for _, o := range jm.Operators {
		t := o.Totals()
		oj := operatorJSON{Name: o.Name, Kind: o.Kind, Parallelism: o.Parallelism, Inputs: o.Inputs,
			RecordsIn: t.RecordsIn, RecordsOut: t.RecordsOut, Bytes: t.Bytes, RatePerSec: math.Round(rates[o.Name])}
		if oj.Inputs == nil {
			oj.Inputs = []stream.EdgeInfo{}
		}
		if t.Watermark != stream.MinWatermark {
			wm := t.Watermark
			oj.Watermark = &wm
		}
		out.Operators = append(out.Operators, oj)
	}
	c := jm.Checkpoints
	out.Checkpoints = checkpointJSON{Enabled: c.Enabled, LastEpoch: c.LastEpoch, Committed: c.Committed,
		LastDurationMs: float64(c.LastDuration.Microseconds()) / 1000, StateBytes: c.StateBytes}
	if !c.LastCommitted.IsZero() {
		ms := c.LastCommitted.UnixMilli()
		out.Checkpoints.LastCommitted = &ms
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
