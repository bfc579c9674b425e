package exactlyonce

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memSplit is where the resident memory is, at one moment: the Go runtime's view
// (runtime.MemStats) and the kernel's (/proc/self/smaps: resident pages of Badger's
// memory-mapped files against anonymous memory, which holds Go's heap).
type memSplit struct {
	RSSMB       float64 `json:"rss_mb"`
	AnonMB      float64 `json:"anon_mb"`       // anonymous mappings (Go heap, stacks, runtime)
	SSTMB       float64 `json:"badger_sst_mb"` // Badger's tables (mmapped, read-only)
	VlogMB      float64 `json:"badger_vlog_mb"`
	MemMB       float64 `json:"badger_mem_mb"` // memtables' write-ahead logs (mmapped)
	OtherFileMB float64 `json:"other_file_mb"` // the binary, libraries
	HeapInuseMB float64 `json:"heap_inuse_mb"`
	HeapSysMB   float64 `json:"heap_sys_mb"`
	HeapRelMB   float64 `json:"heap_released_mb"`
	StackSysMB  float64 `json:"stack_sys_mb"`
	OtherSysMB  float64 `json:"other_sys_mb"` // GC metadata, mspans, buckets, other
	NextGCMB    float64 `json:"next_gc_mb"`
	NumGC       uint32  `json:"num_gc"`
}

func readSplit() memSplit {
	var s memSplit
	f, err := os.Open("/proc/self/smaps")
	if err == nil {
		path := ""
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			fs := strings.Fields(l)
			if len(fs) == 0 {
				continue
			}
			if !strings.HasSuffix(fs[0], ":") { // a mapping's header: addr perms off dev inode [path]
				path = ""
				if len(fs) >= 6 {
					path = fs[5]
				}
				continue
			}
			if fs[0] != "Rss:" || len(fs) < 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(fs[1], 64)
			mb := kb / 1024
			s.RSSMB += mb
			switch {
			case strings.HasSuffix(path, ".sst"):
				s.SSTMB += mb
			case strings.HasSuffix(path, ".vlog"):
				s.VlogMB += mb
			case strings.HasSuffix(path, ".mem"):
				s.MemMB += mb
			case path == "" || strings.HasPrefix(path, "["):
				s.AnonMB += mb
			default:
				s.OtherFileMB += mb
			}
		}
		f.Close()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const m = 1 << 20
	s.HeapInuseMB, s.HeapSysMB, s.HeapRelMB = float64(ms.HeapInuse)/m, float64(ms.HeapSys)/m, float64(ms.HeapReleased)/m
	s.StackSysMB = float64(ms.StackSys) / m
	s.OtherSysMB = float64(ms.Sys-ms.HeapSys-ms.StackSys) / m
	s.NextGCMB, s.NumGC = float64(ms.NextGC)/m, ms.NumGC
	return s
}

// memSampler samples the memory split every interval and keeps the sample of the
// highest RSS (with a heap profile taken at that moment, when profile is set).
type memSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak memSplit
	prof []byte
}

func startMemSampler(interval time.Duration, profile bool) *memSampler {
	s := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for stopped := false; !stopped; {
			select {
			case <-s.stop:
				stopped = true // one last sample
			case <-t.C:
			}
			cur := readSplit()
			s.mu.Lock()
			if cur.RSSMB > s.peak.RSSMB {
				s.peak = cur
				if profile {
					var b bytes.Buffer
					if pprof.Lookup("heap").WriteTo(&b, 0) == nil {
						s.prof = b.Bytes()
					}
				}
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// Stop ends the sampling and returns the peak sample and its heap profile.
func (s *memSampler) Stop() (memSplit, []byte) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.prof
}
