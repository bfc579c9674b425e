package log

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppend measures appends by message size, batch size and durability.
// Reported: msgs/s and MB/s (10^6 bytes of body per second).
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, batch := range []int{1, 64, 1024} {
			b.Run(fmt.Sprintf("async/size=%d/batch=%d", size, batch), func(b *testing.B) {
				benchAppend(b, size, batch, Async, 1)
			})
		}
	}
	b.Run("sync/size=1024/batch=1/producers=64", func(b *testing.B) { benchAppend(b, 1024, 1, Sync, 64) })
}

func benchAppend(b *testing.B, size, batch int, d Durability, producers int) {
	l, err := Open(b.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Durability: d, FlushInterval: benchFlush})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.CreateTopic(ctx, "b", 1); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / producers
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pipelined: up to 64 batches outstanding, as a pipelining producer keeps.
			sem := make(chan struct{}, 64)
			msgs := make([]Message, batch)
			ptrs := make([]*Message, batch)
			for i := 0; i < per; i += batch {
				n := min(batch, per-i)
				if d == Sync {
					for j := range n {
						msgs[j] = Message{Topic: "b", Queue: 0, Body: body}
						ptrs[j] = &msgs[j]
					}
					if err := l.Append(ctx, ptrs[:n]...); err != nil {
						b.Error(err)
						return
					}
					continue
				}
				ms := make([]Message, n)
				ps := make([]*Message, n)
				for j := range ms {
					ms[j] = Message{Topic: "b", Queue: 0, Body: body}
					ps[j] = &ms[j]
				}
				sem <- struct{}{}
				l.AppendAsync(d, func(err error) {
					if err != nil {
						b.Error(err)
					}
					<-sem
				}, ps...)
			}
			for range cap(sem) {
				sem <- struct{}{}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "msgs/s")
}

var benchFlush = 1000 * time.Second
