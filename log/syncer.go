package log

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// The syncer goroutine fsyncs for Sync appends and, in Async mode, every FlushInterval.
// Group commit: every job queued when the syncer wakes shares one fsync per segment,
// while the appender goes on writing the next batch.

type syncJob struct {
	segs   []*segment
	reqs   []*request
	closes []*segment // deleted by retention: close their files once the fsyncs before are done
}

func (l *Log) syncLoop() {
	defer close(l.syncDone)
	var flush <-chan time.Time
	if l.opts.Durability == Async && l.opts.FlushInterval > 0 {
		t := l.opts.Clock.Ticker(l.opts.FlushInterval)
		defer t.Stop()
		flush = t.C
	}
	var jobs []syncJob
	for {
		select {
		case j, ok := <-l.syncJobs:
			if !ok {
				return
			}
			jobs = append(jobs[:0], j)
		more:
			for {
				select {
				case j, ok := <-l.syncJobs:
					if !ok {
						break more
					}
					jobs = append(jobs, j)
				default:
					break more
				}
			}
			l.syncNow(jobs)
			clear(jobs)
		case <-flush:
			if s := l.cl.active(); s != nil {
				if err := datasync(s.f); err != nil && !errors.Is(err, os.ErrClosed) {
					l.fail(fmt.Errorf("fsync %s: %w", s.path, err))
				}
			}
		}
	}
}

func (l *Log) syncNow(jobs []syncJob) {
	seen := map[*segment]bool{}
	var err error
	for _, j := range jobs {
		for _, s := range j.segs {
			if seen[s] || err != nil {
				continue
			}
			seen[s] = true
			// A segment deleted by retention meanwhile is closed: nothing left to sync.
			if e := datasync(s.f); e != nil && !errors.Is(e, os.ErrClosed) {
				err = fmt.Errorf("fsync %s: %w", s.path, e)
			}
		}
	}
	var res error
	if err != nil {
		res = l.fail(err)
	}
	for _, j := range jobs {
		for _, r := range j.reqs {
			r.finish(res)
		}
		for _, s := range j.closes {
			s.f.Close()
		}
	}
}
