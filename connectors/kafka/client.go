package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// newClient returns a franz-go client of brokers with the connector's options first and
// the user's after them (so the user's win).
func newClient(brokers []string, user []kgo.Opt, ours ...kgo.Opt) (*kgo.Client, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, ours...)
	opts = append(opts, user...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: client: %w", err)
	}
	return cl, nil
}

// withAdmin runs fn with a short-lived client (metadata, offset look-ups, group
// offsets). Its OffsetFetch and OffsetCommit requests are capped at v7 and v9, the last
// versions that name topics (later ones want topic ids, and OffsetFetch v8+ batches
// groups), which every broker from Kafka 2.5 to 4.x serves.
func withAdmin(brokers []string, user []kgo.Opt, fn func(*kgo.Client) error) error {
	vs := kversion.Tip()
	vs.SetMaxKeyVersion(int16(kmsg.OffsetFetch), 7)
	vs.SetMaxKeyVersion(int16(kmsg.OffsetCommit), 9)
	cl, err := newClient(brokers, user, kgo.DisableClientMetrics(), kgo.MaxVersions(vs))
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(cl)
}

// partitionCount returns how many partitions topic has; ErrNoTopic if it does not exist.
func partitionCount(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("kafka: metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return 0, fmt.Errorf("%w: %s", ErrNoTopic, topic)
			}
			return 0, fmt.Errorf("kafka: metadata of %s: %w", topic, err)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("%w: %s", ErrNoTopic, topic)
}

// Timestamps of ListOffsets.
const (
	listEarliest int64 = -2
	listLatest   int64 = -1
)

// listOffset returns partition's offset at ts (listEarliest: the log start; listLatest:
// the end, which is the last stable offset when committed is set, else the high
// watermark).
func listOffset(ctx context.Context, cl *kgo.Client, topic string, partition int32, ts int64, committed bool) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	if committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.Timestamp = ts
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("kafka: list offsets of %s/%d: %w", topic, partition, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if t.Topic != topic || p.Partition != partition {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("kafka: list offsets of %s/%d: %w", topic, partition, err)
			}
			return p.Offset, nil
		}
	}
	return 0, fmt.Errorf("kafka: list offsets of %s/%d: no answer for the partition", topic, partition)
}

// groupOffset returns group's committed offset of a partition, or -1 if it has none.
func groupOffset(ctx context.Context, cl *kgo.Client, group, topic string, partition int32) (int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	t := kmsg.NewOffsetFetchRequestTopic()
	t.Topic = topic
	t.Partitions = []int32{partition}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return -1, nil // a group that never committed (Kafka answers so for some versions)
	}
	if err != nil {
		return 0, fmt.Errorf("kafka: committed offsets of group %s: %w", group, err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rt.Topic != topic || rp.Partition != partition {
				continue
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return 0, fmt.Errorf("kafka: committed offset of group %s in %s/%d: %w", group, topic, partition, err)
			}
			return rp.Offset, nil
		}
	}
	return -1, nil
}

// commitGroupOffsets commits offsets of topic's partitions to group, as a consumer that
// is not a member of it (generation -1), the way standalone consumers commit.
func commitGroupOffsets(ctx context.Context, cl *kgo.Client, group, topic string, offsets map[int32]int64) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = group
	req.Generation = -1
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = topic
	for p, off := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, off
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("kafka: commit offsets to group %s: %w", group, err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return fmt.Errorf("kafka: commit offset of %s/%d to group %s: %w", rt.Topic, rp.Partition, group, err)
			}
		}
	}
	return nil
}
