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
		usage:   "--data DIR --messages N --size BYTES [--producers P] [--sync] [--batch B | --txn T]",
		help: `Appends N messages of BYTES bytes each to topic "bench" (created with P queues if missing),
from P concurrent producers, producer i writing to queue i mod queues, B messages per
append call (default 1).

Without --sync, appends are acknowledged once written and indexed (the page cache); each
producer keeps up to --inflight appends outstanding, as a pipelining client does. With
--sync, every producer waits for each append to be fsynced before the next (closed loop):
one fsync serves every producer waiting at that moment (group commit).

With --txn T, each producer is a transactional producer ("bench-<i>") sending its
messages in transactions of T messages, one Send and one Commit each, closed loop; with
--sync each commit is acknowledged after an fsync. --sync --batch T appends the same
messages T at a time without transactions: the baseline to compare with.

With --consume, the N messages are appended first (not timed) and then read back from
the page cache by P consumers, one queue each, in batches of 1,024; the figures describe
the reads (percentiles per batch).

The last line is one JSON object:
  {"messages","bytes","seconds","msgs_per_sec","mb_per_sec","p50_ms","p99_ms"}
where bytes counts message bodies, mb_per_sec is 10^6 bytes per second, and the
percentiles are of the time from handing a message to the log to its acknowledgement
(with --txn, to the acknowledgement of its transaction's commit).`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			n := fs.Int64("messages", 0, "number of messages")
			size := fs.Int("size", 0, "body size of each message in bytes")
			producers := fs.Int("producers", 1, "concurrent producers")
			sync := fs.Bool("sync", false, "acknowledge each append only after fsync")
			inflight := fs.Int("inflight", 1024, "without --sync: appends each producer keeps outstanding")
			consume := fs.Bool("consume", false, "measure reading the messages back instead of appending them")
			batch := fs.Int("batch", 1, "messages per append call")
			txn := fs.Int("txn", 0, "messages per transaction (0: plain appends)")
			return func(ctx context.Context, env *Env) error {
				if err := required("data", *data); err != nil {
					return err
				}
				if *n <= 0 || *size < 0 || *producers <= 0 || *inflight <= 0 || *batch <= 0 || *txn < 0 {
					return usageErr("--messages, --producers and --batch must be positive, --size and --txn must not be negative")
				}
				if *txn > 0 && *batch > 1 {
					return usageErr("--batch and --txn exclude each other (a transaction's messages are sent in one batch)")
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
				res, err := logBench(ctx, l, benchSpec{n: *n, size: *size, producers: *producers, d: d, inflight: *inflight, batch: *batch, txn: *txn})
				if err != nil {
					return err
				}
				mode := "async"
				if *sync {
					mode = "sync"
				}
				switch {
				case *txn > 0:
					mode += fmt.Sprintf(", transactions of %d", *txn)
				case *batch > 1:
					mode += fmt.Sprintf(", %d per append", *batch)
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

// benchSpec is what logBench runs.
type benchSpec struct {
	n               int64
	size, producers int
	d               rlog.Durability
	inflight        int // async: append calls each producer keeps outstanding
	batch           int // messages per append call
	txn             int // messages per transaction; 0: plain appends
}

// logBench runs the append benchmark on l.
func logBench(ctx context.Context, l *rlog.Log, spec benchSpec) (BenchResult, error) {
	const topic = "bench"
	n, size, producers := spec.n, spec.size, spec.producers
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
			switch {
			case spec.txn > 0:
				errs[p] = transactions(ctx, l, fmt.Sprintf("bench-%d", p), topic, q, body, lat[p], spec.txn)
			case spec.d == rlog.Sync:
				errs[p] = closedLoop(ctx, l, topic, q, body, lat[p], spec.batch)
			default:
				errs[p] = pipelined(l, topic, q, body, lat[p], spec.inflight, spec.batch)
			}
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

// closedLoop appends len(lat) messages, batch per call, each call once the previous one
// was acknowledged.
func closedLoop(ctx context.Context, l *rlog.Log, topic string, q int, body []byte, lat []time.Duration, batch int) error {
	msgs := make([]rlog.Message, batch)
	ptrs := make([]*rlog.Message, batch)
	for i := 0; i < len(lat); i += batch {
		k := min(batch, len(lat)-i)
		for j := range k {
			msgs[j] = rlog.Message{Topic: topic, Queue: q, Body: body}
			ptrs[j] = &msgs[j]
		}
		t0 := time.Now()
		if err := l.Append(ctx, ptrs[:k]...); err != nil {
			return err
		}
		d := time.Since(t0)
		for j := range k {
			lat[i+j] = d
		}
	}
	return nil
}

// transactions sends len(lat) messages as the transactional producer id, in
// transactions of size messages (one Send, one Commit), closed loop.
func transactions(ctx context.Context, l *rlog.Log, id, topic string, q int, body []byte, lat []time.Duration, size int) error {
	p, err := l.InitProducer(ctx, id, rlog.ProducerOptions{})
	if err != nil {
		return err
	}
	msgs := make([]rlog.Message, size)
	ptrs := make([]*rlog.Message, size)
	for i := 0; i < len(lat); i += size {
		k := min(size, len(lat)-i)
		for j := range k {
			msgs[j] = rlog.Message{Topic: topic, Queue: q, Body: body}
			ptrs[j] = &msgs[j]
		}
		t0 := time.Now()
		tx := p.Begin()
		if err := tx.Send(ctx, ptrs[:k]...); err != nil {
			return err
		}
		if err := tx.Commit(ctx, "", nil); err != nil {
			return err
		}
		d := time.Since(t0)
		for j := range k {
			lat[i+j] = d
		}
	}
	return nil
}

// pipelined appends len(lat) messages asynchronously, batch per call, with at most
// inflight calls outstanding.
func pipelined(l *rlog.Log, topic string, q int, body []byte, lat []time.Duration, inflight, batch int) error {
	sem := make(chan struct{}, inflight)
	var mu sync.Mutex
	var first error
	msgs := make([]rlog.Message, len(lat))
	ptrs := make([]*rlog.Message, len(lat))
	for i := 0; i < len(lat); i += batch {
		k := min(batch, len(lat)-i)
		for j := range k {
			msgs[i+j] = rlog.Message{Topic: topic, Queue: q, Body: body}
			ptrs[i+j] = &msgs[i+j]
		}
		sem <- struct{}{}
		t0 := time.Now()
		l.AppendAsync(rlog.Async, func(err error) {
			d := time.Since(t0)
			for j := range k {
				lat[i+j] = d
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			<-sem
		}, ptrs[i:i+k]...)
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
