package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sync"
	"time"

	rlog "github.com/riffle-streams/riffle/log"
)

// BenchResult is the JSON line `riffle log bench` ends with.
type BenchResult struct {
	Messages   int64   `json:"messages"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
}

func benchCommand() *command {
	return &command{
		name:    "bench",
		summary: "measure append throughput and latency",
		usage:   "--data DIR --messages N --size BYTES [--producers P] [--sync]",
		help: `Appends N messages of BYTES bytes each to topic "bench" (created with P queues if missing),
from P concurrent producers, producer i writing to queue i mod queues.

Without --sync, appends are acknowledged once written and indexed (the page cache); each
producer keeps up to --inflight appends outstanding, as a pipelining client does. With
--sync, every producer waits for each append to be fsynced before the next (closed loop):
one fsync serves every producer waiting at that moment (group commit).

With --consume, the N messages are appended first (not timed) and then read back from
the page cache by P consumers, one queue each, in batches of 1,024; the figures describe
the reads (percentiles per batch).

The last line is one JSON object:
  {"messages","bytes","seconds","msgs_per_sec","mb_per_sec","p50_ms","p99_ms"}
where bytes counts message bodies, mb_per_sec is 10^6 bytes per second, and the
percentiles are of the time from handing a message to the log to its acknowledgement.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			n := fs.Int64("messages", 0, "number of messages")
			size := fs.Int("size", 0, "body size of each message in bytes")
			producers := fs.Int("producers", 1, "concurrent producers")
			sync := fs.Bool("sync", false, "acknowledge each append only after fsync")
			inflight := fs.Int("inflight", 1024, "without --sync: appends each producer keeps outstanding")
			consume := fs.Bool("consume", false, "measure reading the messages back instead of appending them")
			return func(ctx context.Context, env *Env) error {
				if err := required("data", *data); err != nil {
					return err
				}
				if *n <= 0 || *size < 0 || *producers <= 0 || *inflight <= 0 {
					return usageErr("--messages and --producers must be positive, --size must not be negative")
				}
				d := rlog.Async
				if *sync {
					d = rlog.Sync
				}
				l, err := openLog(env, *data, d)
				if err != nil {
					return err
				}
				defer l.Close()
				res, err := logBench(ctx, l, *n, *size, *producers, d, *inflight)
				if err != nil {
					return err
				}
				mode := "async"
				if *sync {
					mode = "sync"
				}
				if *consume {
					if res, err = consumeBench(ctx, l, *n, *size, *producers); err != nil {
						return err
					}
					mode = "consume"
				}
				verb := "appended"
				if *consume {
					verb = "read"
				}
				fmt.Fprintf(env.Stdout, "%s %d messages of %d bytes with %d producers (%s) in %.3fs: %.0f msgs/s, %.1f MB/s, p50 %.3f ms, p99 %.3f ms\n",
					verb, res.Messages, *size, *producers, mode, res.Seconds, res.MsgsPerSec, res.MBPerSec, res.P50Ms, res.P99Ms)
				b, _ := json.Marshal(res)
				fmt.Fprintln(env.Stdout, string(b))
				return l.Close()
			}
		},
	}
}

// logBench runs the append benchmark on l.
func logBench(ctx context.Context, l *rlog.Log, n int64, size, producers int, d rlog.Durability, inflight int) (BenchResult, error) {
	const topic = "bench"
	if err := l.CreateTopic(ctx, topic, producers); err != nil && !errors.Is(err, rlog.ErrTopicExists) {
		return BenchResult{}, err
	}
	ti, err := l.Topic(topic)
	if err != nil {
		return BenchResult{}, err
	}
	body := make([]byte, size)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	lat := make([][]time.Duration, producers)
	errs := make([]error, producers)
	var wg sync.WaitGroup
	start := time.Now()
	for p := 0; p < producers; p++ {
		count := n / int64(producers)
		if int64(p) < n%int64(producers) {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := p % len(ti.Queues)
			lat[p] = make([]time.Duration, count)
			if d == rlog.Sync {
				for i := range count {
					t0 := time.Now()
					if err := l.Append(ctx, &rlog.Message{Topic: topic, Queue: q, Body: body}); err != nil {
						errs[p] = err
						return
					}
					lat[p][i] = time.Since(t0)
				}
				return
			}
			errs[p] = pipelined(l, topic, q, body, lat[p], inflight)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return BenchResult{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))]) / 1e6
	}
	secs := elapsed.Seconds()
	return BenchResult{
		Messages: n, Bytes: n * int64(size), Seconds: secs,
		MsgsPerSec: float64(n) / secs, MBPerSec: float64(n*int64(size)) / 1e6 / secs,
		P50Ms: pct(0.50), P99Ms: pct(0.99),
	}, nil
}

// pipelined appends len(lat) messages asynchronously with at most inflight outstanding.
func pipelined(l *rlog.Log, topic string, q int, body []byte, lat []time.Duration, inflight int) error {
	sem := make(chan struct{}, inflight)
	var mu sync.Mutex
	var first error
	msgs := make([]rlog.Message, len(lat))
	for i := range lat {
		sem <- struct{}{}
		t0 := time.Now()
		msgs[i] = rlog.Message{Topic: topic, Queue: q, Body: body}
		l.AppendAsync(rlog.Async, func(err error) {
			lat[i] = time.Since(t0)
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			<-sem
		}, &msgs[i])
	}
	for range inflight {
		sem <- struct{}{}
	}
	return first
}

// consumeBench reads back what logBench appended: one consumer per queue.
func consumeBench(ctx context.Context, l *rlog.Log, n int64, size, consumers int) (BenchResult, error) {
	ti, err := l.Topic("bench")
	if err != nil {
		return BenchResult{}, err
	}
	lat := make([][]time.Duration, len(ti.Queues))
	counts := make([]int64, len(ti.Queues))
	errs := make([]error, len(ti.Queues))
	var wg sync.WaitGroup
	start := time.Now()
	for _, q := range ti.Queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := q.Earliest; off < q.Latest; {
				t0 := time.Now()
				f, err := l.Read(ctx, "bench", q.Queue, off, rlog.ReadOptions{Max: 1024})
				if err != nil {
					errs[q.Queue] = err
					return
				}
				lat[q.Queue] = append(lat[q.Queue], time.Since(t0))
				counts[q.Queue] += int64(len(f.Messages))
				off = f.Next
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return BenchResult{}, err
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))]) / 1e6
	}
	secs := elapsed.Seconds()
	return BenchResult{Messages: total, Bytes: total * int64(size), Seconds: secs, MsgsPerSec: float64(total) / secs,
		MBPerSec: float64(total*int64(size)) / 1e6 / secs, P50Ms: pct(0.5), P99Ms: pct(0.99)}, nil
}
