package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// Damage tests: write a known log, damage its files the way a crash, a bad disk or a
// careless operator would, and check that Open repairs what it can, reports every repair
// in Recovery() and in its log output, never returns damaged data, and lets each queue
// continue at the right offset.

// lockedBuffer collects the log's slog output; the log writes from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// capturingOptions are testOptions with the log output captured and no background
// checkpoints, so that each test decides what the checkpoint covers.
func capturingOptions() (Options, *lockedBuffer) {
	opts := testOptions()
	buf := &lockedBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(buf, nil))
	opts.CheckpointInterval = time.Hour
	return opts, buf
}

// The fixture: topic "t" of fixtureQueues queues; message i goes to queue i%fixtureQueues
// at offset i/fixtureQueues with body fixtureBody(i). Group "g" commits {t/0: 10} before
// the checkpoint, which is taken after fixtureBefore messages, and {t/0: 20, t/1: 5} after
// message fixtureCommitAt-1. The records span two 256 KiB segments and, per queue, three
// 100-entry index files; the checkpoint lies in the second (last) segment.
const (
	fixtureQueues   = 3
	fixtureBefore   = 450
	fixtureCommitAt = 630
	fixtureTotal    = 660
)

func fixtureBody(i int) []byte {
	return []byte(fmt.Sprintf("msg-%05d-%s", i, strings.Repeat(string(rune('a'+i%26)), 300+(i*37)%800)))
}

func writeFixture(t *testing.T, l *Log) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, "t", fixtureQueues))
	appendRange := func(from, to int) {
		for i := from; i < to; {
			// Batches of 1 to 5 messages, some of them Sync.
			n := min(1+i%5, to-i)
			batch := make([]*Message, n)
			for k := range batch {
				batch[k] = &Message{Topic: "t", Queue: (i + k) % fixtureQueues, Body: fixtureBody(i + k)}
			}
			d := Async
			if i%7 == 0 {
				d = Sync
			}
			require.NoError(t, l.AppendWith(ctx, d, batch...))
			for k, m := range batch {
				require.Equal(t, int64((i+k)/fixtureQueues), m.Offset)
			}
			i += n
		}
	}
	appendRange(0, fixtureBefore)
	require.NoError(t, l.CommitOffsets(ctx, "g", map[QueueRef]int64{{"t", 0}: 10}))
	require.NoError(t, l.Checkpoint(ctx))
	appendRange(fixtureBefore, fixtureCommitAt)
	require.NoError(t, l.CommitOffsets(ctx, "g", map[QueueRef]int64{{"t", 0}: 20, {"t", 1}: 5}))
	appendRange(fixtureCommitAt, fixtureTotal)
}

// closedFixture writes the fixture and closes the log (a clean shutdown: the checkpoint
// covers everything).
func closedFixture(t *testing.T, opts Options) string {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, opts)
	require.NoError(t, err)
	writeFixture(t, l)
	require.NoError(t, l.Close())
	return dir
}

// crashedFixture writes the fixture and returns a copy of the data directory taken while
// the log is still open: what a SIGKILL at that moment leaves behind. Every acknowledged
// write is in the page cache, which survives a process crash, so the copy holds all of it;
// the checkpoint covers only the first fixtureBefore messages.
func crashedFixture(t *testing.T, opts Options) string {
	t.Helper()
	src := t.TempDir()
	l, err := Open(src, opts)
	require.NoError(t, err)
	writeFixture(t, l)
	dst := t.TempDir()
	require.NoError(t, snapshotDir(src, dst))
	require.NoError(t, l.Close())
	return dst
}

// copyDir is snapshotDir (testutil_test.go) under the name other tests use.
func copyDir(src, dst string) error { return snapshotDir(src, dst) }

// recSpan locates one record on disk.
type recSpan struct {
	path   string // segment file
	base   int64  // the segment's start position
	off    int64  // byte offset in the segment
	size   int
	typ    record.Type
	queue  int
	offset int64
}

func (r recSpan) pos() int64 { return r.base + r.off }

// scanRecords decodes every record of an undamaged commitlog.
func scanRecords(t *testing.T, dir string) []recSpan {
	t.Helper()
	segDir := filepath.Join(dir, "commitlog")
	des, err := os.ReadDir(segDir)
	require.NoError(t, err)
	var out []recSpan
	for _, de := range des {
		var base int64
		_, err := fmt.Sscanf(de.Name(), "%d", &base)
		require.NoError(t, err)
		path := filepath.Join(segDir, de.Name())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		for off := 0; off < len(b); {
			var rec record.Record
			n, err := record.Decode(b[off:], &rec)
			require.NoError(t, err, "%s at %d", path, off)
			out = append(out, recSpan{path: path, base: base, off: int64(off), size: n, typ: rec.Type,
				queue: int(rec.Queue), offset: rec.QueueOffset})
			off += n
		}
	}
	return out
}

// messageRecord returns the span of fixture message i.
func messageRecord(t *testing.T, recs []recSpan, i int) recSpan {
	t.Helper()
	for _, r := range recs {
		if r.typ == record.TypeMessage && r.queue == i%fixtureQueues && r.offset == int64(i/fixtureQueues) {
			return r
		}
	}
	t.Fatalf("no record for message %d", i)
	return recSpan{}
}

func lastSegment(recs []recSpan) string { return recs[len(recs)-1].path }

// flipBit flips one bit of the byte at off in the file.
func flipBit(t *testing.T, path string, off int64, bit uint) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], off)
	require.NoError(t, err)
	b[0] ^= 1 << bit
	_, err = f.WriteAt(b[:], off)
	require.NoError(t, err)
}

func appendToFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func cqFilePath(dir string, q int, start int64) string {
	return filepath.Join(cqDir(filepath.Join(dir, "consumequeue"), "t", q), segmentName(start))
}

// checkFixture checks that every queue holds exactly the fixture's messages less the
// lost ones (a suffix of each queue), at offsets 0, 1, 2, ...
func checkFixture(t *testing.T, l *Log, lost func(i int) bool) {
	t.Helper()
	for q := 0; q < fixtureQueues; q++ {
		var want []int
		for i := q; i < fixtureTotal; i += fixtureQueues {
			if !lost(i) {
				want = append(want, i)
			}
		}
		msgs := readAll(t, l, "t", q)
		require.Equal(t, len(want), len(msgs), "messages in queue %d", q)
		for k, m := range msgs {
			require.Equal(t, int64(k), m.Offset)
			require.Equal(t, string(fixtureBody(want[k])), string(m.Body), "t/%d@%d", q, k)
		}
	}
}

// checkContinues appends one message to every queue, checks it lands right after the
// queue's last message, and checks that a clean reopen keeps everything.
func checkContinues(t *testing.T, dir string, opts Options, l *Log, lost func(i int) bool) {
	t.Helper()
	ctx := context.Background()
	latest := make([]int64, fixtureQueues)
	for q := range latest {
		_, latest[q], _ = l.QueueBounds("t", q)
		m := &Message{Topic: "t", Queue: q, Body: []byte(fmt.Sprint("after-", q))}
		require.NoError(t, l.AppendWith(ctx, Sync, m))
		require.Equal(t, latest[q], m.Offset, "queue %d continues after its last message", q)
	}
	require.NoError(t, l.Close())
	l2, err := Open(dir, opts)
	require.NoError(t, err)
	defer l2.Close()
	assert.True(t, l2.Recovery().Clean(), "reopening a repaired log finds nothing to repair: %+v", l2.Recovery())
	for q := range latest {
		msgs := readAll(t, l2, "t", q)
		require.Equal(t, int(latest[q])+1, len(msgs), "messages in queue %d", q)
		assert.Equal(t, fmt.Sprint("after-", q), string(msgs[latest[q]].Body))
		k := 0
		for i := q; i < fixtureTotal; i += fixtureQueues {
			if !lost(i) {
				require.Equal(t, string(fixtureBody(i)), string(msgs[k].Body), "t/%d@%d", q, k)
				k++
			}
		}
		require.Equal(t, int(latest[q]), k)
	}
}

func none(int) bool { return false }

func committed(l *Log) map[QueueRef]int64 { return l.CommittedOffsets("g") }

func TestRecoveryRepairsDamage(t *testing.T) {
	type result struct {
		l    *Log
		rep  RecoveryReport
		logs string
	}
	cases := []struct {
		name string
		// image builds the damaged data directory and returns the fixture messages the
		// damage destroys.
		image func(t *testing.T, opts Options) (dir string, lost func(i int) bool)
		check func(t *testing.T, r result)
	}{{
		name: "torn tail: last segment cut in the middle of the last record",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := crashedFixture(t, opts)
			recs := scanRecords(t, dir)
			last := messageRecord(t, recs, fixtureTotal-1)
			require.Equal(t, recs[len(recs)-1], last)
			require.NoError(t, os.Truncate(last.path, last.off+int64(last.size)/2))
			return dir, func(i int) bool { return i == fixtureTotal-1 }
		},
		check: func(t *testing.T, r result) {
			assert.Positive(t, r.rep.TruncatedBytes)
			assert.Contains(t, r.rep.TruncateReason, "torn")
			assert.Contains(t, r.logs, "cutting the commitlog tail")
			assert.Equal(t, map[QueueRef]int64{{"t", 0}: 20, {"t", 1}: 5}, committed(r.l))
		},
	}, {
		name: "garbage after the last record",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := crashedFixture(t, opts)
			recs := scanRecords(t, dir)
			garbage := make([]byte, 1000)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range garbage {
				garbage[i] = byte(rng.Uint32())
			}
			// A plausible length, so that the garbage looks like the start of a record.
			binary.LittleEndian.PutUint32(garbage, 200)
			appendToFile(t, lastSegment(recs), garbage)
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Equal(t, int64(1000), r.rep.TruncatedBytes)
			assert.Equal(t, r.rep.End, r.rep.TruncatedAt)
			assert.Contains(t, r.logs, "cutting the commitlog tail")
			assert.Contains(t, r.logs, "dropped_bytes=1000")
		},
	}, {
		name: "zeros after the last record",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := crashedFixture(t, opts)
			appendToFile(t, lastSegment(scanRecords(t, dir)), make([]byte, 4096))
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Equal(t, int64(4096), r.rep.TruncatedBytes)
			assert.Contains(t, r.logs, "cutting the commitlog tail")
		},
	}, {
		name: "flipped bit in the last record",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := crashedFixture(t, opts)
			recs := scanRecords(t, dir)
			last := recs[len(recs)-1]
			flipBit(t, last.path, last.off+int64(last.size)-5, 3)
			return dir, func(i int) bool { return i == fixtureTotal-1 }
		},
		check: func(t *testing.T, r result) {
			assert.Positive(t, r.rep.TruncatedBytes)
			assert.Contains(t, r.rep.TruncateReason, "crc")
			assert.Contains(t, r.logs, "cutting the commitlog tail")
		},
	}, {
		name: "flipped bit in a record after the checkpoint: the tail from it on is cut",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := crashedFixture(t, opts)
			recs := scanRecords(t, dir)
			bad := messageRecord(t, recs, 600)
			require.Equal(t, lastSegment(recs), bad.path)
			flipBit(t, bad.path, bad.off+60, 0)
			return dir, func(i int) bool { return i >= 600 }
		},
		check: func(t *testing.T, r result) {
			assert.Contains(t, r.rep.TruncateReason, "crc")
			assert.Equal(t, r.rep.TruncatedAt, r.rep.End)
			// The commit after message 629 was cut too: back to the checkpoint's.
			assert.Equal(t, map[QueueRef]int64{{"t", 0}: 10}, committed(r.l))
			assert.Contains(t, r.logs, "cutting the commitlog tail")
		},
	}, {
		name: "clean shutdown, then the last segment cut in the middle of the last record",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := closedFixture(t, opts)
			recs := scanRecords(t, dir)
			last := recs[len(recs)-1]
			require.NoError(t, os.Truncate(last.path, last.off+int64(last.size)/2))
			return dir, func(i int) bool { return i == fixtureTotal-1 }
		},
		check: func(t *testing.T, r result) {
			assert.Positive(t, r.rep.TruncatedBytes, "the partial record is cut: %+v", r.rep)
			assert.NotEmpty(t, r.rep.Problems)
			assert.Contains(t, r.logs, "missing")
			assert.Contains(t, r.logs, "cutting the commitlog tail")
		},
	}, {
		name: "flipped bit in a consume-queue entry in the middle",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := closedFixture(t, opts)
			flipBit(t, cqFilePath(dir, 1, 100), 50*cqEntrySize+2, 5) // entry of offset 150
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Equal(t, []string{"t/1"}, r.rep.RebuiltQueues)
			assert.Contains(t, strings.Join(r.rep.Problems, "\n"), "t/1: entry at offset 150 is corrupt")
			assert.Contains(t, r.logs, "entry at offset 150 is corrupt")
		},
	}, {
		name: "flipped bit in the last consume-queue entry",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := closedFixture(t, opts)
			// Queue 2 holds offsets 0-219; its last file starts at 200.
			flipBit(t, cqFilePath(dir, 2, 200), 19*cqEntrySize+21, 1)
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Equal(t, []string{"t/2"}, r.rep.RebuiltQueues)
			assert.Contains(t, r.logs, "entry at offset 219 is corrupt")
		},
	}, {
		name: "consume-queue file cut in the middle of an entry",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := closedFixture(t, opts)
			require.NoError(t, os.Truncate(cqFilePath(dir, 0, 200), 19*cqEntrySize+7))
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Equal(t, []string{"t/0"}, r.rep.RebuiltQueues)
			assert.Contains(t, r.logs, "t/0 is behind the commitlog")
		},
	}, {
		name: "consume-queue directory deleted",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := closedFixture(t, opts)
			require.NoError(t, os.RemoveAll(cqDir(filepath.Join(dir, "consumequeue"), "t", 2)))
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Equal(t, []string{"t/2"}, r.rep.RebuiltQueues)
			assert.Contains(t, r.logs, "t/2 is missing or unusable")
		},
	}, {
		name: "consume-queue directory deleted after a crash",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := crashedFixture(t, opts)
			require.NoError(t, os.RemoveAll(cqDir(filepath.Join(dir, "consumequeue"), "t", 0)))
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Equal(t, []string{"t/0"}, r.rep.RebuiltQueues)
			assert.Contains(t, r.logs, "t/0 is missing or unusable")
			assert.Equal(t, map[QueueRef]int64{{"t", 0}: 20, {"t", 1}: 5}, committed(r.l))
		},
	}, {
		name: "checkpoint deleted",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := closedFixture(t, opts)
			require.NoError(t, os.Remove(filepath.Join(dir, "checkpoint")))
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Equal(t, int64(-1), r.rep.CheckpointPos)
			assert.Contains(t, r.logs, "no usable checkpoint")
			assert.Equal(t, map[QueueRef]int64{{"t", 0}: 20, {"t", 1}: 5}, committed(r.l), "offsets come back from their records")
		},
	}, {
		name: "checkpoint corrupt",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := closedFixture(t, opts)
			flipBit(t, filepath.Join(dir, "checkpoint"), 30, 4)
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Contains(t, strings.Join(r.rep.Problems, "\n"), "checkpoint file is corrupt (crc mismatch)")
			assert.Contains(t, r.logs, "checkpoint file is corrupt")
			assert.Equal(t, map[QueueRef]int64{{"t", 0}: 20, {"t", 1}: 5}, committed(r.l))
		},
	}, {
		name: "checkpoint cut short after a crash",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := crashedFixture(t, opts)
			require.NoError(t, os.Truncate(filepath.Join(dir, "checkpoint"), 20))
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Contains(t, r.logs, "checkpoint file is corrupt")
			assert.Equal(t, map[QueueRef]int64{{"t", 0}: 20, {"t", 1}: 5}, committed(r.l))
		},
	}, {
		name: "checkpoint and the last queue's index both deleted",
		image: func(t *testing.T, opts Options) (string, func(int) bool) {
			dir := closedFixture(t, opts)
			require.NoError(t, os.Remove(filepath.Join(dir, "checkpoint")))
			require.NoError(t, os.RemoveAll(cqDir(filepath.Join(dir, "consumequeue"), "t", fixtureQueues-1)))
			return dir, none
		},
		check: func(t *testing.T, r result) {
			assert.Contains(t, r.logs, "no usable checkpoint")
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts, logs := capturingOptions()
			dir, lost := c.image(t, opts)
			before := len(logs.String())
			l, err := Open(dir, opts)
			require.NoError(t, err)
			defer l.Close()
			rep := l.Recovery()
			t.Logf("recovery: %+v", rep)
			assert.False(t, rep.Clean(), "the damage is reported")
			assert.Contains(t, logs.String()[before:], `level=WARN msg="log recovery: `, "and logged")
			c.check(t, result{l: l, rep: rep, logs: logs.String()[before:]})
			checkFixture(t, l, lost)
			checkContinues(t, dir, opts, l, lost)
		})
	}
}

// A record before the checkpoint is not scanned again by Open: damage to it is found by
// the read that reaches it, which fails instead of returning the bytes.
func TestCorruptRecordBeforeCheckpointFailsRead(t *testing.T) {
	opts, _ := capturingOptions()
	dir := closedFixture(t, opts)
	recs := scanRecords(t, dir)
	const bad = 30 // queue 0, offset 10
	r := messageRecord(t, recs, bad)
	flipBit(t, r.path, r.off+int64(r.size)-100, 6)

	l := openT(t, dir, opts)
	require.True(t, l.Recovery().Clean(), "%+v", l.Recovery())
	ctx := context.Background()
	for _, c := range []struct {
		from int64
		max  int
	}{{10, 1}, {10, 37}, {8, 5}, {0, 100}} {
		f, err := l.Read(ctx, "t", 0, c.from, ReadOptions{Max: c.max})
		var ce *CorruptionError
		require.ErrorAs(t, err, &ce, "read %d messages from offset %d", c.max, c.from)
		assert.Empty(t, f.Messages, "a failed read returns no messages")
		assert.Equal(t, r.path, ce.File)
		assert.Equal(t, r.off, ce.Offset)
		assert.Contains(t, ce.Error(), "t/0@10")
	}
	// Around it, everything reads.
	f, err := l.Read(ctx, "t", 0, 0, ReadOptions{Max: 10})
	require.NoError(t, err)
	require.Len(t, f.Messages, 10)
	for off := int64(11); off < fixtureTotal/fixtureQueues; {
		f, err = l.Read(ctx, "t", 0, off, ReadOptions{Max: 1000})
		require.NoError(t, err)
		for _, m := range f.Messages {
			require.Equal(t, string(fixtureBody(int(m.Offset)*fixtureQueues)), string(m.Body))
		}
		off = f.Next
	}
	for q := 1; q < fixtureQueues; q++ {
		assert.Len(t, readAll(t, l, "t", q), fixtureTotal/fixtureQueues)
	}
	// And the queue continues.
	m := &Message{Topic: "t", Queue: 0, Body: []byte("next")}
	require.NoError(t, l.Append(ctx, m))
	assert.Equal(t, int64(fixtureTotal/fixtureQueues), m.Offset)
}

// A full replay (no checkpoint) that meets a damaged record in a segment other than the
// last cannot tell where valid data resumes: Open fails with *CorruptionError rather than
// dropping everything after it.
func TestCorruptRecordInEarlierSegmentStopsReplay(t *testing.T) {
	opts, _ := capturingOptions()
	dir := closedFixture(t, opts)
	recs := scanRecords(t, dir)
	r := messageRecord(t, recs, 30)
	require.NotEqual(t, lastSegment(recs), r.path)
	flipBit(t, r.path, r.off+int64(r.size)-100, 6)
	require.NoError(t, os.Remove(filepath.Join(dir, "checkpoint")))

	_, err := Open(dir, opts)
	var ce *CorruptionError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, r.path, ce.File)
	assert.Equal(t, r.off, ce.Offset)
	assert.Contains(t, ce.Reason, "not the last segment")
	// The directory is not left locked.
	_, err = Open(dir, opts)
	require.ErrorAs(t, err, &ce)
}
