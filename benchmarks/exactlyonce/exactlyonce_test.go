// Package exactlyonce measures what exactly-once costs (benchmarks/README.md, section
// "Exactly-once"). The measurements are long: they run only with RIFFLE_BENCH=1.
//
//	RIFFLE_BENCH=1 go test -count=1 -v -run Overhead ./benchmarks/exactlyonce
//	RIFFLE_BENCH=1 KEYS=10000000 go test -count=1 -v -timeout 30m -run StateMemory ./benchmarks/exactlyonce
//
// StateMemory also prints where the memory was at the job's highest sampled RSS (Go's
// heap, Badger's memory-mapped files, the rest); with HEAPPROFILE=file it writes the Go
// heap profile taken then (go tool pprof -sample_index=inuse_space).
package exactlyonce

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riffle-streams/riffle/examples/runcount"
	rlog "github.com/riffle-streams/riffle/log"
)

func skipUnlessBench(t *testing.T) {
	if os.Getenv("RIFFLE_BENCH") == "" {
		t.Skip("a measurement: set RIFFLE_BENCH=1")
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// rssMB returns the process's resident and peak resident memory in MiB.
func rssMB() (rss, peak float64) {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = v / 1024
		case "VmHWM:":
			peak = v / 1024
		}
	}
	return rss, peak
}

// fill writes n messages over keys keys to a new topic "in" of 4 queues.
func fill(t *testing.T, l *rlog.Log, n, keys int) {
	ctx := context.Background()
	if err := l.CreateTopic(ctx, "in", 4); err != nil {
		t.Fatal(err)
	}
	batch := make([]*rlog.Message, 0, 4096)
	for i := 0; i < n; i++ {
		batch = append(batch, &rlog.Message{Topic: "in", Queue: i % 4, Body: []byte("key-" + strconv.Itoa(i%keys))})
		if len(batch) == cap(batch) || i == n-1 {
			if err := l.AppendWith(ctx, rlog.Async, batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

type result struct {
	Workload            string  `json:"workload"`
	ExactlyOnce         bool    `json:"exactly_once"`
	Records             int     `json:"records"`
	Keys                int     `json:"keys"`
	Seconds             float64 `json:"seconds"`
	RecordsPerSec       float64 `json:"records_per_sec"`
	RecordsPerSecPerCPU float64 `json:"records_per_sec_per_core"`
	PeakRSSMB           float64 `json:"peak_rss_mb"`
}

func runcountOnce(t *testing.T, n, keys int, eo bool) result {
	dir := t.TempDir()
	l, err := rlog.Open(dir, rlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fill(t, l, n, keys)
	o := runcount.Options{Log: l, Input: "in", Output: "out", Bounded: true}
	if eo {
		o.StateDir = filepath.Join(dir, "state") // checkpoints every second
	}
	j, err := runcount.Job(o)
	if err != nil {
		t.Fatal(err)
	}
	c0, t0 := cpuSeconds(), time.Now()
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	secs, cpu := time.Since(t0).Seconds(), cpuSeconds()-c0
	_, peak := rssMB()
	return result{Workload: "runcount", ExactlyOnce: eo, Records: n, Keys: keys, Seconds: secs,
		RecordsPerSec: float64(n) / secs, RecordsPerSecPerCPU: float64(n) / cpu, PeakRSSMB: peak}
}

func print(r any) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// TestOverhead runs the running count (log in, keyed count, log out) with checkpoints
// every second and without, alternating, three times each.
func TestOverhead(t *testing.T) {
	skipUnlessBench(t)
	n, keys := 3_000_000, 100_000
	for i := 0; i < 3; i++ {
		for _, eo := range []bool{false, true} {
			print(runcountOnce(t, n, keys, eo))
		}
	}
}

// TestStateMemory counts KEYS distinct keys (default 10 M) exactly-once, sampling the
// resident memory, then measures two recoveries: with the store intact, and with it
// deleted (rebuilt from the latest snapshot and the changelog after it).
func TestStateMemory(t *testing.T) {
	skipUnlessBench(t)
	keys, _ := strconv.Atoi(os.Getenv("KEYS"))
	if keys == 0 {
		keys = 10_000_000
	}
	dir := t.TempDir()
	l, err := rlog.Open(dir, rlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fillMem := startMemSampler(500*time.Millisecond, false)
	fill(t, l, keys, keys)
	fillPeak, _ := fillMem.Stop()
	print(map[string]any{"workload": "fill", "sampled_peak_rss_mb": fillPeak.RSSMB})
	stateDir := filepath.Join(dir, "state")
	job := func() error {
		j, err := runcount.Job(runcount.Options{Log: l, Input: "in", Output: "out", Bounded: true, StateDir: stateDir})
		if err != nil {
			return err
		}
		return j.Run(context.Background())
	}
	// The memory split at the job's highest sampled RSS, and its heap profile.
	mem := startMemSampler(500*time.Millisecond, os.Getenv("HEAPPROFILE") != "")
	c0, t0 := cpuSeconds(), time.Now()
	if err := job(); err != nil {
		t.Fatal(err)
	}
	secs, cpu := time.Since(t0).Seconds(), cpuSeconds()-c0
	_, peak := rssMB()
	split, prof := mem.Stop()
	print(result{Workload: "distinct-keys", ExactlyOnce: true, Records: keys, Keys: keys, Seconds: secs,
		RecordsPerSec: float64(keys) / secs, RecordsPerSecPerCPU: float64(keys) / cpu, PeakRSSMB: peak})
	print(map[string]any{"workload": "distinct-keys", "sampled_peak": split})
	if p := os.Getenv("HEAPPROFILE"); p != "" && prof != nil {
		if err := os.WriteFile(p, prof, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	size := dirSize(stateDir)
	for _, lose := range []bool{false, true} {
		if lose {
			os.RemoveAll(stateDir)
		}
		rm := startMemSampler(200*time.Millisecond, false)
		t1 := time.Now()
		if err := job(); err != nil {
			t.Fatal(err)
		}
		secs := time.Since(t1).Seconds()
		rpeak, _ := rm.Stop()
		print(map[string]any{"workload": "recovery", "state_lost": lose, "state_mb": float64(size) / (1 << 20),
			"seconds": secs, "sampled_peak_rss_mb": rpeak.RSSMB})
	}
}

func dirSize(dir string) (n int64) {
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
