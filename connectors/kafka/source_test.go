package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/riffle-streams/riffle/stream"
)

// rec is a record of partition p with value v.
func rec(p int32, v string) *kgo.Record {
	return &kgo.Record{Topic: "in", Partition: p, Value: []byte(v)}
}

// recs are records of partition p with values prefix0, prefix1, ...
func recs(p int32, prefix string, n int) []*kgo.Record {
	out := make([]*kgo.Record, n)
	for i := range out {
		out[i] = rec(p, prefix+strconv.Itoa(i))
	}
	return out
}

func vals[T any](rs []stream.Record[T]) []T {
	out := make([]T, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

func newSource(t *testing.T, o SourceOptions) *Source[string] {
	t.Helper()
	o.Logger = quiet
	s, err := NewSource(o, str)
	require.NoError(t, err)
	return s
}

func openSplit(t *testing.T, s *Source[string], split string) stream.SplitReader[string] {
	t.Helper()
	r, err := s.Open(context.Background(), split)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// deleteRecords moves partition p's log start to offset (as retention does).
func deleteRecords(t *testing.T, addrs []string, topic string, p int32, offset int64) {
	t.Helper()
	cl := client(t, addrs)
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = p, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
}

func TestSourceOptionsValidation(t *testing.T) {
	_, err := NewSource(SourceOptions{Start: 7, DeadLetter: "", StartOffsets: map[int32]int64{-1: 3, 2: -5}}, str)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"kafka: invalid source options", "no Brokers", "no Topic", "Start 7: want Earliest or Latest",
		"StartOffsets[-1] = 3", "StartOffsets[2] = -5"} {
		assert.Contains(t, msg, want)
	}

	_, err = NewSource(SourceOptions{Brokers: []string{"x:9092"}, Topic: "in", DeadLetter: "in"}, str)
	assert.ErrorContains(t, err, "DeadLetter is the source's own Topic")

	_, err = NewSource[string](SourceOptions{Brokers: []string{"x:9092"}, Topic: "in"}, nil)
	assert.ErrorContains(t, err, "NewSource needs a decode function")

	_, err = NewSource(SourceOptions{Brokers: []string{"x:9092"}, Topic: "in"}, str)
	assert.NoError(t, err)
}

func TestSourceMissingTopics(t *testing.T) {
	addrs := cluster(t, 1, []string{"in"})
	_, err := newSource(t, SourceOptions{Brokers: addrs, Topic: "nope"}).Splits(context.Background())
	require.ErrorIs(t, err, ErrNoTopic)
	assert.ErrorContains(t, err, "nope")

	_, err = newSource(t, SourceOptions{Brokers: addrs, Topic: "in", DeadLetter: "dlq"}).Splits(context.Background())
	require.ErrorIs(t, err, ErrNoTopic)
	assert.ErrorContains(t, err, "dead-letter topic")

	_, err = newSource(t, SourceOptions{Brokers: addrs, Topic: "in"}).Open(context.Background(), "x")
	assert.ErrorContains(t, err, `bad split "x"`)
}

// TestSourceReadsAllPartitions: one split per partition, each read in order with its
// offsets and timestamps; a bounded reader ends at the end it saw when it opened.
func TestSourceReadsAllPartitions(t *testing.T) {
	addrs := cluster(t, 3, []string{"in"})
	ts := time.UnixMilli(1_700_000_000_123)
	var all []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for _, r := range recs(p, fmt.Sprintf("p%d-", p), 10+int(p)*7) {
			r.Timestamp = ts
			all = append(all, r)
		}
	}
	produce(t, addrs, all...)

	src := newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true})
	splits, err := src.Splits(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"0", "1", "2"}, splits)
	readers := make([]stream.SplitReader[string], 3)
	for p, split := range splits {
		readers[p] = openSplit(t, src, split)
	}
	// Records produced after Open are past the bounded end.
	produce(t, addrs, rec(0, "late"), rec(2, "late"))
	for p, r := range readers {
		got := readAll(t, r)
		n := 10 + p*7
		assert.Equal(t, seq(fmt.Sprintf("p%d-", p), 0, n), vals(got), "partition %d", p)
		for _, g := range got {
			assert.Equal(t, ts.UnixMilli(), g.Timestamp)
		}
		assert.Equal(t, int64(n), r.Offset())
		// At the end it stays at the end.
		k, err := r.Read(make([]stream.Record[string], 4))
		assert.Equal(t, 0, k)
		assert.Equal(t, io.EOF, err)
		require.NoError(t, r.Wait(context.Background()))
	}
	assert.Positive(t, readers[0].(stream.ByteCounter).Bytes())
}

// TestSourceUnbounded: an unbounded reader waits for new records; Latest starts at the
// end; StartOffsets starts where it says.
func TestSourceUnbounded(t *testing.T) {
	addrs := cluster(t, 2, []string{"in"})
	produce(t, addrs, recs(0, "a", 3)...)
	produce(t, addrs, recs(1, "b", 5)...)

	earliest := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in"}), "0")
	latest := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Start: Latest}), "0")
	at := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in", StartOffsets: map[int32]int64{1: 2}}), "1")
	assert.Equal(t, seq("a", 0, 3), vals(readN(t, earliest, 3)))
	assert.Equal(t, int64(3), latest.Offset())
	assert.Equal(t, seq("b", 2, 5), vals(readN(t, at, 3)))

	// Nothing more for now: Read returns 0 without blocking, and Wait returns once a
	// record arrives.
	k, err := earliest.Read(make([]stream.Record[string], 4))
	require.NoError(t, err)
	assert.Equal(t, 0, k)
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		waited <- earliest.Wait(ctx)
	}()
	produce(t, addrs, rec(0, "new0"), rec(0, "new1"))
	require.NoError(t, <-waited)
	assert.Equal(t, []string{"new0", "new1"}, vals(readN(t, earliest, 2)))
	assert.Equal(t, []string{"new0", "new1"}, vals(readN(t, latest, 2)))
	assert.Equal(t, int64(5), earliest.Offset())

	// Wait honours its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, at.Wait(ctx), context.Canceled)
}

// TestSourceSeekTo: SeekTo (a checkpoint's offset) repositions the reader, before or
// after it started fetching.
func TestSourceSeekTo(t *testing.T) {
	addrs := cluster(t, 1, []string{"in"})
	produce(t, addrs, recs(0, "v", 10)...)
	src := newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true})

	r := openSplit(t, src, "0")
	require.NoError(t, r.(stream.Seeker).SeekTo(4))
	assert.Equal(t, int64(4), r.Offset())
	assert.Equal(t, seq("v", 4, 10), vals(readAll(t, r)))

	r = openSplit(t, src, "0")
	assert.Equal(t, seq("v", 0, 3), vals(readN(t, r, 3)))
	require.NoError(t, r.(stream.Seeker).SeekTo(1))
	assert.Equal(t, seq("v", 1, 10), vals(readAll(t, r)))

	// Seeking to the end is valid: nothing left.
	r = openSplit(t, src, "0")
	require.NoError(t, r.(stream.Seeker).SeekTo(10))
	assert.Empty(t, readAll(t, r))
}

// TestSourceReadCommitted: records of aborted transactions are skipped, records of open
// ones wait for their commit, and a bounded reader ends before an open transaction (at
// the last stable offset); offsets count the transaction markers.
func TestSourceReadCommitted(t *testing.T) {
	addrs := cluster(t, 1, []string{"in"})
	produce(t, addrs, rec(0, "plain0"))
	produceTxn(t, addrs, "t1", true, rec(0, "c0"), rec(0, "c1"))
	produceTxn(t, addrs, "t2", false, rec(0, "x0"), rec(0, "x1"), rec(0, "x2"))
	produce(t, addrs, rec(0, "plain1"))
	produceTxn(t, addrs, "t3", true, rec(0, "c2"))
	committed := []string{"plain0", "c0", "c1", "plain1", "c2"}
	// 1 + (2+marker) + (3+marker) + 1 + (1+marker) = 11
	require.Equal(t, []int64{11}, ends(t, addrs, "in", false))

	r := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true}), "0")
	assert.Equal(t, committed, vals(readAll(t, r)))
	assert.Equal(t, int64(11), r.Offset())

	// A bounded range holding only an aborted transaction ends after its marker.
	produceTxn(t, addrs, "t4", false, rec(0, "x3"))
	r = openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true, StartOffsets: map[int32]int64{0: 11}}), "0")
	assert.Empty(t, readAll(t, r))
	assert.Equal(t, int64(13), r.Offset())
	committedEnd := int64(13)

	// An open transaction, then a plain record after it.
	cl := client(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("open"))
	defer cl.Close()
	ctx := context.Background()
	require.NoError(t, cl.BeginTransaction())
	require.NoError(t, cl.ProduceSync(ctx, rec(0, "o0"), rec(0, "o1")).FirstErr())
	produce(t, addrs, rec(0, "plain2"))
	require.Equal(t, []int64{committedEnd}, ends(t, addrs, "in", true), "the open transaction holds the last stable offset")

	bounded := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true}), "0")
	assert.Equal(t, committed, vals(readAll(t, bounded)), "a bounded reader ends at the last stable offset")
	assert.Equal(t, committedEnd, bounded.Offset())

	unbounded := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in"}), "0")
	assert.Equal(t, committed, vals(readN(t, unbounded, 5)))
	require.NoError(t, cl.EndTransaction(ctx, kgo.TryCommit))
	assert.Equal(t, []string{"o0", "o1", "plain2"}, vals(readN(t, unbounded, 3)))
}

// TestSourceDecodeError: a record Decode rejects fails the read with its partition and
// offset, and the reader's offset names it.
func TestSourceDecodeError(t *testing.T) {
	addrs := cluster(t, 2, []string{"in"})
	produce(t, addrs, rec(1, "ok0"), rec(1, "ok1"), rec(1, "bad"), rec(1, "ok3"))
	src, err := NewSource(SourceOptions{Brokers: addrs, Topic: "in", Bounded: true, Logger: quiet}, strictDecode)
	require.NoError(t, err)
	r, err := src.Open(context.Background(), "1")
	require.NoError(t, err)
	defer r.Close()

	var got []string
	buf := make([]stream.Record[string], 8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		n, err := r.Read(buf)
		got = append(got, vals(buf[:n])...)
		if err != nil {
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, "in", de.Topic)
			assert.Equal(t, int32(1), de.Partition)
			assert.Equal(t, int64(2), de.Offset)
			assert.EqualError(t, err, `kafka: decode record in/1@2: bad record "bad"`)
			assert.ErrorIs(t, err, errBadRecord)
			break
		}
		if n == 0 {
			require.NoError(t, r.Wait(ctx))
		}
	}
	assert.Equal(t, []string{"ok0", "ok1"}, got)
	assert.Equal(t, int64(2), r.Offset(), "the reader's position is the failing record")
}

var errBadRecord = errors.New("bad record")

func strictDecode(r *kgo.Record) (string, error) {
	if string(r.Value) == "bad" || string(r.Value) == "worse" {
		return "", fmt.Errorf("%w %q", errBadRecord, r.Value)
	}
	return string(r.Value), nil
}

// TestSourceDeadLetter: with DeadLetter, rejected records go to the dead-letter topic
// with their key, value, headers and the reason, and reading goes on.
func TestSourceDeadLetter(t *testing.T) {
	addrs := cluster(t, 2, []string{"in", "dlq"})
	bad := rec(0, "bad")
	bad.Key = []byte("k")
	bad.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("1")}}
	produce(t, addrs, rec(0, "ok0"), bad, rec(0, "ok2"), rec(0, "worse"))
	src, err := NewSource(SourceOptions{Brokers: addrs, Topic: "in", Bounded: true, DeadLetter: "dlq", Logger: quiet}, strictDecode)
	require.NoError(t, err)
	_, err = src.Splits(context.Background())
	require.NoError(t, err)
	r, err := src.Open(context.Background(), "0")
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, []string{"ok0", "ok2"}, vals(readAll(t, r)))
	assert.Equal(t, int64(4), r.Offset())

	dead := visible(t, addrs, "dlq")
	require.Len(t, dead, 2)
	byValue := map[string]*kgo.Record{}
	for _, d := range dead {
		byValue[string(d.Value)] = d
	}
	d := byValue["bad"]
	require.NotNil(t, d)
	assert.Equal(t, "k", string(d.Key))
	headers := map[string]string{}
	for _, h := range d.Headers {
		headers[h.Key] = string(h.Value)
	}
	assert.Equal(t, map[string]string{"h": "1", "riffle.error": `bad record "bad"`, "riffle.source": "in/0@1"}, headers)
	require.NotNil(t, byValue["worse"])
}

// TestSourceOffsetOutOfRange: a position outside the partition (retention deleted the
// records, or a checkpoint of another cluster) is an *OffsetError at Open or SeekTo, and
// a fetch error if retention overtakes a reader: records are never skipped silently.
func TestSourceOffsetOutOfRange(t *testing.T) {
	addrs := cluster(t, 1, []string{"in"})
	produce(t, addrs, recs(0, "v", 10)...)

	// A StartOffsets position is checked when reading starts, bounded or not.
	for _, bounded := range []bool{false, true} {
		r := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: bounded, StartOffsets: map[int32]int64{0: 11}}), "0")
		_, err := r.Read(make([]stream.Record[string], 4))
		var oe *OffsetError
		require.ErrorAs(t, err, &oe, "bounded %v", bounded)
		assert.Equal(t, OffsetError{Topic: "in", Partition: 0, Offset: 11, Earliest: 0, End: 10}, *oe)
		assert.EqualError(t, err, "kafka: in/0: offset 11 is beyond the partition's end 10")
		assert.ErrorAs(t, r.Wait(context.Background()), &oe)
	}

	src := newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true})
	r := openSplit(t, src, "0")
	idle := openSplit(t, src, "0") // at offset 0, not fetching yet

	deleteRecords(t, addrs, "in", 0, 4)
	err := r.(stream.Seeker).SeekTo(1)
	var oe *OffsetError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, OffsetError{Topic: "in", Partition: 0, Offset: 1, Earliest: 4, End: 10}, *oe)
	assert.EqualError(t, err, "kafka: in/0: offset 1 was deleted (the partition starts at 4): records 1 to 3 are lost to this job")
	require.NoError(t, r.(stream.Seeker).SeekTo(4))
	assert.Equal(t, seq("v", 4, 10), vals(readAll(t, r)))

	// A checkpoint's position replaces a StartOffsets position that retention deleted.
	stale := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true, StartOffsets: map[int32]int64{0: 2}}), "0")
	require.NoError(t, stale.(stream.Seeker).SeekTo(7))
	assert.Equal(t, seq("v", 7, 10), vals(readAll(t, stale)))
	stale = openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in", Bounded: true, StartOffsets: map[int32]int64{0: 2}}), "0")
	_, err = stale.Read(make([]stream.Record[string], 4))
	require.ErrorAs(t, err, &oe, "without one it fails")
	assert.Equal(t, int64(2), oe.Offset)

	// A reader whose position was deleted under it fails rather than skipping ahead.
	err = readUntilError(t, idle)
	assert.ErrorIs(t, err, kerr.OffsetOutOfRange)
	assert.ErrorContains(t, err, "kafka: fetch in/0")
}

// readUntilError reads r until it fails (or ends: a failure of the test).
func readUntilError(t *testing.T, r stream.SplitReader[string]) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]stream.Record[string], 8)
	for {
		n, err := r.Read(buf)
		if err != nil {
			require.NotEqual(t, io.EOF, err, "the reader skipped deleted records")
			return err
		}
		if n == 0 {
			require.NoError(t, r.Wait(ctx))
		}
	}
}

// TestSourceFetchError: an error the client does not retry by itself (here an
// authorization failure) fails the read with the partition.
func TestSourceFetchError(t *testing.T) {
	c := newCluster(t, 2, []string{"in"})
	addrs := c.ListenAddrs()
	produce(t, addrs, recs(1, "v", 3)...)
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "in", Err: kerr.TopicAuthorizationFailed, Count: -1})
	r := openSplit(t, newSource(t, SourceOptions{Brokers: addrs, Topic: "in"}), "1")
	err := readUntilError(t, r)
	assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	assert.ErrorContains(t, err, "kafka: fetch in/1: ")
	assert.Equal(t, int64(0), r.Offset())
}
