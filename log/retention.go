package log

import (
	"context"
	"os"
)

// EnforceRetention deletes the segments that retention allows to delete now, instead of
// waiting for RetentionCheckInterval. It returns the number of segments deleted.
func (l *Log) EnforceRetention(ctx context.Context) (int, error) {
	var n int
	err := l.submit(ctx, &request{ctl: func() error {
		var err error
		n, err = l.retain()
		return err
	}})
	return n, err
}

func (l *Log) enforceRetention() error {
	_, err := l.retain()
	return err
}

// retain deletes whole segments, oldest first, that are older than RetentionAge (by their
// modification time, as RocketMQ does) or that take the commitlog over RetentionBytes.
// The active segment is never deleted. Appender only.
func (l *Log) retain() (int, error) {
	segs := l.cl.snapshot()
	var total int64
	for _, s := range segs {
		total += s.size
	}
	now := l.opts.Clock.Now()
	n := 0
	for _, s := range segs[:len(segs)-1] {
		old := false
		if l.opts.RetentionAge > 0 {
			if st, err := os.Stat(s.path); err == nil && now.Sub(st.ModTime()) > l.opts.RetentionAge {
				old = true
			}
		}
		big := l.opts.RetentionBytes > 0 && total > l.opts.RetentionBytes
		if !old && !big {
			break
		}
		total -= s.size
		n++
	}
	if n == 0 {
		return 0, nil
	}
	// Checkpoint first, so that recovery never needs the bytes about to go.
	if err := l.checkpoint(); err != nil {
		return 0, err
	}
	gone, err := l.cl.removeOldest(n)
	if err != nil {
		return 0, &FailedError{Err: err}
	}
	earliest, _ := l.cl.bounds()
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, t := range l.topics {
		for _, q := range t.queues {
			if err := q.dropBefore(earliest); err != nil {
				return len(gone), &FailedError{Err: err}
			}
		}
	}
	var freed int64
	for _, s := range gone {
		freed += s.size
	}
	l.opts.Logger.Info("log retention deleted segments", "dir", l.dir, "segments", len(gone), "bytes", freed, "earliest_position", earliest)
	return len(gone), nil
}
