package compare

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	jsStream  = "BENCH"
	jsSubject = "bench"
)

// JetStreamScale is the share of the batched workloads' messages JetStream appends by
// default. JetStream is several times slower per message than the embedded logs but
// still appends 1,000,000 messages in a few seconds here, so the default full run keeps
// every system on the same counts; --jetstream-scale lowers it for quicker runs (the
// figures are per message either way).
const JetStreamScale = 1.0

// JetStream is an embedded NATS server with JetStream, one R1 file-storage stream, and
// an in-process client connection (nats.InProcessServer: no sockets, but the full
// client protocol).
func JetStream() System {
	return System{
		Name: "nats-jetstream", Open: openJetStream, Scale: JetStreamScale,
		Durability: map[Workload]string{
			BatchLarge:     "PublishAsync, default window of 4,000 unacked publishes; acked once the file store has written the message (write(2), page cache); fsync every 2 min (sync_interval default) and when blocks are closed",
			BatchSmall:     "as (a)",
			SyncConcurrent: "server SyncAlways (sync_interval: always): the file store fsyncs after every message write; Publish (request/reply) waits for the PubAck",
			ReadAll:        "ordered consumer (AckNone, flow-controlled pull) via Messages(), default pull options",
		},
	}
}

type jsStore struct {
	ns  *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	ack atomic.Pointer[func(seq uint64)] // set while AppendBatched runs
}

func openJetStream(dir string, sync bool) (Store, error) {
	opts := &server.Options{
		JetStream:  true,
		StoreDir:   dir,
		DontListen: true, // in-process connections only
		NoLog:      true,
		NoSigs:     true,
		// SyncAlways is the server's "sync_interval: always": fsync after each write.
		// Only for the sync workload; otherwise the default 2 min sync interval.
		SyncAlways: sync,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("jetstream: server not ready")
	}
	s := &jsStore{ns: ns}
	nc, err := nats.Connect(nats.DefaultURL, nats.InProcessServer(ns))
	if err != nil {
		ns.Shutdown()
		return nil, err
	}
	s.nc = nc
	// The ack handler only forwards to the running workload's latency recorder. The
	// async-publish window stays at its default (4,000).
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, _ *nats.Msg, a *jetstream.PubAck) {
		if f := s.ack.Load(); f != nil {
			(*f)(a.Sequence)
		}
	}))
	if err != nil {
		s.Close()
		return nil, err
	}
	s.js = js
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: jsStream, Subjects: []string{jsSubject},
		Storage: jetstream.FileStorage, Replicas: 1,
		// Everything else default: limits retention, no compression, 2 min duplicate
		// window (unused: no Nats-Msg-Id headers are sent).
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *jsStore) Close() error {
	if s.nc != nil {
		s.nc.Close()
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	return nil
}

func (s *jsStore) AppendBatched(ctx context.Context, spec Spec) (Outcome, error) {
	n := spec.Messages
	// Latency of each message from PublishAsync to its PubAck. A fresh stream starts at
	// sequence 1 and one publisher's messages are stored in order, so message i is
	// sequence i+1.
	t0 := make([]atomic.Int64, n)
	lat := make([]time.Duration, n)
	base := time.Now()
	var acked atomic.Int64
	rec := func(seq uint64) {
		i := int(seq - 1)
		if i >= 0 && i < n {
			lat[i] = time.Duration(time.Since(base).Nanoseconds() - t0[i].Load())
			acked.Add(1)
		}
	}
	s.ack.Store(&rec)
	defer s.ack.Store(nil)
	start := time.Now()
	for i := range n {
		t0[i].Store(time.Since(base).Nanoseconds())
		for {
			_, err := s.js.PublishAsync(jsSubject, spec.Bodies.At(i))
			if err == nil {
				break
			}
			// The window stayed full for the stall wait (200 ms): backpressure, not a
			// failure. Nothing was sent, so publishing again is safe.
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				return Outcome{}, fmt.Errorf("jetstream: publish %d: %w", i, err)
			}
		}
	}
	select {
	case <-s.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return Outcome{}, errors.New("jetstream: async publishes not acknowledged within a minute")
	}
	el := time.Since(start)
	if got := acked.Load(); got != int64(n) {
		return Outcome{}, fmt.Errorf("jetstream: %d of %d publishes acknowledged", got, n)
	}
	return Outcome{Messages: int64(n), Bytes: int64(n) * int64(spec.Bodies.Size()), Elapsed: el, Lat: lat, LatOf: "message"}, nil
}

func (s *jsStore) AppendSync(ctx context.Context, spec Spec) (Outcome, error) {
	return concurrentSync(spec, func(i int) error {
		_, err := s.js.Publish(ctx, jsSubject, spec.Bodies.At(i))
		return err
	})
}

func (s *jsStore) ReadAll(ctx context.Context, n int, bodies *Bodies) (Outcome, error) {
	start := time.Now()
	cons, err := s.js.OrderedConsumer(ctx, jsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return Outcome{}, err
	}
	it, err := cons.Messages()
	if err != nil {
		return Outcome{}, err
	}
	defer it.Stop()
	var bytes int64
	for i := range n {
		m, err := it.Next()
		if err != nil {
			return Outcome{}, fmt.Errorf("jetstream: message %d: %w", i, err)
		}
		// No m.Metadata() per message: parsing the reply subject costs more than the
		// body check, which already catches a lost or reordered message.
		if err := bodies.Check(i, m.Data()); err != nil {
			return Outcome{}, err
		}
		bytes += int64(len(m.Data()))
	}
	return Outcome{Messages: int64(n), Bytes: bytes, Elapsed: time.Since(start)}, nil
}
