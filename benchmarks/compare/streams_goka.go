package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"strconv"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func gokaSystem() StreamSystem {
	return StreamSystem{
		Name: "goka",
		Runs: map[StreamWorkload]func(context.Context, *StreamInput, *Outputs) error{
			KeyedCount: gokaCount,
		},
		Semantics: map[StreamWorkload]string{
			KeyedCount: "at-least-once: goka v1.1.16 processor (Input in -> ctx.Value/SetValue int64 -> ctx.Emit out), group table in LevelDB (storage.DefaultBuilder) " +
				"plus its changelog topic, goka.DefaultConfig() but Offsets.Initial = OffsetOldest (sarama, snappy, 100 ms producer flush), " +
				"on an in-process kfake cluster (1 broker, topics of 4 partitions, in memory: the broker writes nothing to disk). " +
				"Timed from Processor.Run until the end offsets of out (polled every 5 ms) cover every input message; the counts are read back afterwards, untimed",
		},
	}
}

// gokaQuiet silences sarama's global logger (goka's topic manager still logs its
// topic checks to stderr: its logger cannot be replaced from outside the package).
func gokaQuiet() {
	goka.SetSaramaLogger(log.New(io.Discard, "", 0))
}

// gokaCount is the running count as goka's own examples write it (examples/1-simplest),
// with an output topic like runcount's.
func gokaCount(ctx context.Context, in *StreamInput, out *Outputs) error {
	gokaQuiet()
	spec := in.Spec
	const group goka.Group = "runcount"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(countQueues, "in", "out"))
	if err != nil {
		return err
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	cfg := goka.DefaultConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	goka.ReplaceGlobalConfig(cfg)
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1
	tmb := goka.TopicManagerBuilderWithTopicManagerConfig(tmc)
	logger := goka.WithLogger(log.New(io.Discard, "", 0))

	// Untimed: produce the input with goka's emitter (its partitioner, FNV-32a of the
	// key, is the one the processor's table is partitioned by).
	em, err := goka.NewEmitter(brokers, "in", new(codec.String), goka.WithEmitterTopicManagerBuilder(tmb),
		goka.WithEmitterLogger(log.New(io.Discard, "", 0)))
	if err != nil {
		return fmt.Errorf("goka emitter: %w", err)
	}
	errc := make(chan error, 1)
	for i := range spec.Records {
		p, err := em.Emit(CountKey(i, spec.Keys), "1")
		if err != nil {
			em.Finish()
			return err
		}
		p.Then(func(err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := em.Finish(); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return fmt.Errorf("producing the input: %w", err)
	default:
	}

	g := goka.DefineGroup(group,
		goka.Input("in", new(codec.String), func(gctx goka.Context, _ any) {
			var n int64
			if v := gctx.Value(); v != nil {
				n = v.(int64)
			}
			n++
			gctx.SetValue(n)
			gctx.Emit("out", gctx.Key(), gctx.Key()+"\t"+strconv.FormatInt(n, 10))
		}),
		goka.Output("out", new(codec.String)),
		goka.Persist(new(codec.Int64)),
	)
	p, err := goka.NewProcessor(brokers, g,
		goka.WithStorageBuilder(storage.DefaultBuilder(filepath.Join(spec.Dir, "goka"))),
		goka.WithTopicManagerBuilder(tmb),
		logger,
	)
	if err != nil {
		return fmt.Errorf("goka processor: %w", err)
	}
	// The clock stops once the output topic's end offsets cover every input message
	// (the counts are then in the broker, readable by any consumer: what riffle's
	// clock stops at, its counts committed in its output topic); a franz-go consumer
	// reads them afterwards, untimed, for the check.
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer admin.Close()

	pctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	out.Start()
	t0 := time.Now()
	go func() { done <- p.Run(pctx) }()
	ready := make(chan time.Duration, 1)
	go func() {
		if p.WaitForReadyContext(pctx) == nil {
			ready <- time.Since(t0)
		}
	}()
	var produced int64
	last, idle := int64(-1), time.Now()
	for produced < int64(spec.Records) {
		select {
		case err := <-done:
			return fmt.Errorf("goka processor stopped after %d of %d counts: %v", produced, spec.Records, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if produced, err = endOffsets(ctx, admin, "out"); err != nil {
			return err
		}
		if produced != last {
			last, idle = produced, time.Now()
		} else if time.Since(idle) > time.Minute {
			return fmt.Errorf("goka: no output for a minute, %d of %d counts", produced, spec.Records)
		}
	}
	out.Stop()
	select {
	case d := <-ready:
		out.Detail(fmt.Sprintf("processor ready (partitions assigned, table recovered) %.0f ms after Run", d.Seconds()*1000))
	default:
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("goka processor: %w", err)
	}

	// Untimed: read every output back.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("out"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if produced, err = endOffsets(ctx, admin, "out"); err != nil {
		return err
	}
	for seen := int64(0); seen < produced; {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := cl.PollFetches(fctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("reading goka's output back (%d of %d): %w", seen, produced, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			key, n, err := splitCount(r.Value)
			if err != nil {
				ferr = err
				return
			}
			out.Count(key, n)
			seen++
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// endOffsets returns the sum of topic's partitions' end offsets (high watermarks) on
// the cluster cl is connected to.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for p := range countQueues {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = int32(p)
		rp.Timestamp = -1 // latest
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return 0, fmt.Errorf("end offset of %s/%d: %w", topic, rp.Partition, err)
			}
			sum += rp.Offset
		}
	}
	return sum, nil
}
