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
	openPos := l.minOpenTxnPos()
	if tp := l.minPendingTimerSegment(); tp >= 0 && (openPos < 0 || tp < openPos) {
		openPos = tp // a pending delayed message keeps its segment
	}
	if hp := l.minHold(); hp >= 0 && (openPos < 0 || hp < openPos) {
		openPos = hp // a retention hold keeps its segment
	}
	l.mu.RLock()
	late := make(map[int64]int64, len(l.lateCommits))
	for k, v := range l.lateCommits {
		late[k] = v
	}
	l.mu.RUnlock()
	n := 0
	latest := int64(0) // the latest commit of a half message in the segments to delete
	for i, s := range segs[:len(segs)-1] {
		next := segs[i+1].base
		if openPos >= 0 && openPos < next {
			break // an open transaction's half messages are here
		}
		if c := late[s.base]; c > latest {
			latest = c
		}
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
		_ = next
	}
	// Half messages committed later must go no earlier than their commits: otherwise a
	// queue's unreadable entries would not be a prefix of it.
	for n > 0 && latest >= segs[n].base {
		n--
		latest = 0
		for _, s := range segs[:n] {
			if c := late[s.base]; c > latest {
				latest = c
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	// Checkpoint first, so that recovery never needs the bytes about to go.
	if err := l.checkpoint(); err != nil {
		return 0, err
	}
	gone, err := l.cl.removeOldest(n)
	// A sync job queued before may still fsync these segments: the syncer closes them
	// after it (closing here raced with it, and the fsync of a closed file failed the log).
	l.syncJobs <- syncJob{closes: gone}
	if err != nil {
		return 0, &FailedError{Err: err}
	}
	earliest, _ := l.cl.bounds()
	l.mu.Lock()
	for _, s := range gone {
		delete(l.lateCommits, s.base)
	}
	l.mu.Unlock()
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
