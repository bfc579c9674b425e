// Package runner runs registered jobs with one command line for every job: the
// `riffle run NAME` of the riffle binary, and the same CLI in a user's own program:
//
//	func main() {
//		runner.Register(runner.Job{Name: "wordcount", Summary: "...", Flags: ..., Build: build})
//		os.Exit(runner.Main(os.Args[1:]))   // wordcount --data DIR [--parallelism P] ...
//	}
//
// Every job gets the same flags: --data DIR (the log, and the job's state in
// DIR/jobs/NAME), --parallelism, --checkpoint-interval (exactly-once checkpoints are
// always on), --bounded, --http ADDR (/metrics in Prometheus' text format, /healthz,
// /api/job as JSON), plus the flags the job declares. On a terminal a progress line
// shows records in and out per second, the watermark lag and the last checkpoint;
// otherwise the same figures go to the log every 10 s. SIGINT or SIGTERM (ctx) stops the
// job on a final checkpoint, and the command exits 0.
package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	schemareg "github.com/riffle-streams/riffle/connectors/registry"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/stream"
)

// Job is a job the runner can run.
type Job struct {
	Name    string
	Summary string // one line
	Help    string // paragraphs for --help
	// Flags declares the job's own flags (may be nil); Build reads them.
	Flags func(fs *flag.FlagSet)
	// Build builds the job. Config carries the runner's flags, the opened log and the
	// job options (checkpoints, parallelism, logger) to pass to stream.NewJob.
	Build func(ctx context.Context, c *Config) (*stream.Job, error)
}

// Config is what the runner hands to Job.Build.
type Config struct {
	// Log is the log in DataDir, open for the run.
	Log     *rlog.Log
	DataDir string
	// Bounded asks the job to stop after the input present when it started.
	Bounded bool
	// Options are the job options to build the job with: Parallelism, Logger,
	// Checkpoints (state in DataDir/jobs/NAME/state) and Restart.
	Options stream.JobOptions
	// Logger is the runner's logger.
	Logger *slog.Logger
}

var registry = struct {
	sync.Mutex
	jobs map[string]Job
}{jobs: map[string]Job{}}

// Register makes a job runnable by name. It panics on a duplicate or empty name (a
// programming error, found at start-up).
func Register(j Job) {
	registry.Lock()
	defer registry.Unlock()
	if j.Name == "" || j.Build == nil {
		panic("runner: Register needs a Name and a Build function")
	}
	if _, dup := registry.jobs[j.Name]; dup {
		panic(fmt.Sprintf("runner: job %q registered twice", j.Name))
	}
	registry.jobs[j.Name] = j
}

// Jobs returns the registered jobs by name.
func Jobs() []Job {
	registry.Lock()
	defer registry.Unlock()
	out := make([]Job, 0, len(registry.jobs))
	for _, j := range registry.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Lookup returns the registered job name.
func Lookup(name string) (Job, bool) {
	registry.Lock()
	defer registry.Unlock()
	j, ok := registry.jobs[name]
	return j, ok
}

// Flags are the runner's own flags, common to every job.
type Flags struct {
	Data               string
	Parallelism        int
	CheckpointInterval time.Duration
	Bounded            bool
	HTTP               string
	Registry           bool   // serve the log's schema registry under /registry/ on HTTP
	Progress           string // auto, line, log, off
}

// Define declares the runner's flags on fs.
func (f *Flags) Define(fs *flag.FlagSet) {
	fs.StringVar(&f.Data, "data", "", "data directory: the log, and the job's state in DIR/jobs/NAME")
	fs.IntVar(&f.Parallelism, "parallelism", 1, "parallelism of every operator")
	fs.DurationVar(&f.CheckpointInterval, "checkpoint-interval", time.Second, "time between checkpoints")
	fs.BoolVar(&f.Bounded, "bounded", false, "stop after the input present when the job starts (then commit and exit 0)")
	fs.StringVar(&f.HTTP, "http", "", "serve /metrics, /healthz and /api/job on this address (e.g. :8080)")
	fs.BoolVar(&f.Registry, "registry", false, "with --http: also serve the schema registry stored in the log (topic _schemas) under /registry/")
	fs.StringVar(&f.Progress, "progress", "auto", "progress report: auto (a line on a terminal, else log lines), line, log, off")
}

// Validate reports a bad flag value as a usage error.
func (f *Flags) Validate() error {
	switch {
	case f.Data == "":
		return &UsageError{"--data is required"}
	case f.Parallelism < 1:
		return &UsageError{"--parallelism must be at least 1"}
	case f.CheckpointInterval <= 0:
		return &UsageError{"--checkpoint-interval must be positive"}
	}
	if f.Registry && f.HTTP == "" {
		return &UsageError{"--registry needs --http"}
	}
	switch f.Progress {
	case "auto", "line", "log", "off":
	default:
		return &UsageError{fmt.Sprintf("--progress %q: want auto, line, log or off", f.Progress)}
	}
	return nil
}

// UsageError is a mistake in the command line (exit code 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Run runs job j with flags f until it ends (bounded), fails, or ctx ends (then it stops
// on a final checkpoint and returns nil). Progress goes to stderr; the HTTP server, if
// any, listens on f.HTTP (ready reports the address it bound).
func Run(ctx context.Context, j Job, f Flags, stderr io.Writer, logger *slog.Logger, ready func(httpAddr string)) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	l, err := rlog.Open(f.Data, rlog.Options{Logger: logger})
	if err != nil {
		return err // a second runner on DIR: "locked by pid N"
	}
	defer l.Close()
	cfg := &Config{Log: l, DataDir: f.Data, Bounded: f.Bounded, Logger: logger, Options: stream.JobOptions{
		Parallelism: f.Parallelism, Logger: logger,
		Checkpoints: &stream.Checkpointing{Log: l, StateDir: filepath.Join(f.Data, "jobs", j.Name, "state"), Interval: f.CheckpointInterval},
		Restart:     stream.RestartStrategy{MaxAttempts: 3, Delay: time.Second},
	}}
	job, err := j.Build(ctx, cfg)
	if err != nil {
		return fmt.Errorf("build job %s: %w", j.Name, err)
	}
	mon := newMonitor(job, f.CheckpointInterval)
	addr := ""
	if f.HTTP != "" {
		ln, err := net.Listen("tcp", f.HTTP)
		if err != nil {
			return fmt.Errorf("--http %s: %w", f.HTTP, err)
		}
		h := mon.Handler()
		if f.Registry {
			reg, err := schemareg.Open(ctx, schemareg.Options{Log: l, Logger: logger})
			if err != nil {
				return fmt.Errorf("--registry: %w", err)
			}
			defer reg.Close()
			go reg.Run(ctx)
			mux := http.NewServeMux()
			mux.Handle("/registry/", http.StripPrefix("/registry", reg.Handler()))
			mux.Handle("/", h)
			h = mux
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		addr = ln.Addr().String()
		logger.Info("serving metrics", "addr", "http://"+addr+"/metrics")
	}
	if ready != nil {
		ready(addr)
	}
	stopProgress := mon.report(f.Progress, stderr, logger)
	start := time.Now()
	err = job.Run(ctx)
	stopProgress()
	m := job.Metrics()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintf(stderr, "%s: stopped after %s on checkpoint %d; the next run resumes there\n",
			j.Name, time.Since(start).Round(time.Millisecond), m.Checkpoints.LastEpoch)
		return nil
	}
	if err == nil {
		in, out := mon.totals(m)
		fmt.Fprintf(stderr, "%s: done in %s: %d records in, %d out, last checkpoint %d\n",
			j.Name, time.Since(start).Round(time.Millisecond), in, out, m.Checkpoints.LastEpoch)
	}
	return err
}

// Main is a whole command line over the registered jobs, for a user's own program:
//
//	PROGRAM list
//	PROGRAM NAME [runner flags] [job flags]
//
// It returns the exit code: 0 success (and a stop by SIGINT/SIGTERM), 1 failure, 2 usage.
func Main(args []string) int {
	ctx, stop := signalContext()
	defer stop()
	return MainContext(ctx, args, os.Stdout, os.Stderr)
}

// MainContext is Main with its context and outputs given.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "list" || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintf(w, "Usage: %s NAME [flags]   (NAME --help for its flags)\n\nJobs:\n", filepath.Base(os.Args[0]))
		for _, j := range Jobs() {
			fmt.Fprintf(w, "  %-20s %s\n", j.Name, j.Summary)
		}
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	j, ok := Lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "unknown job %q; registered: %s\n", args[0], strings.Join(names(), ", "))
		return 2
	}
	fs := flag.NewFlagSet(j.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f Flags
	f.Define(fs)
	if j.Flags != nil {
		j.Flags(fs)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := Run(ctx, j, f, stderr, nil, nil); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", j.Name, err)
		var ue *UsageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func names() []string {
	var out []string
	for _, j := range Jobs() {
		out = append(out, j.Name)
	}
	return out
}
