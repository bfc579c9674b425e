package log

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"
)

// RetryDelays are RocketMQ's 18 delay levels. A message handed back for the n-th time
// (n from 0) is redelivered after level 3+n: 10 s, 30 s, 1 min, ... 2 h.
var RetryDelays = [18]time.Duration{
	time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute,
	6 * time.Minute, 7 * time.Minute, 8 * time.Minute, 9 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
}

// MaxReconsumeTimes is how often a message is retried before it goes to the dead-letter
// topic (RocketMQ's default).
const MaxReconsumeTimes = 16

// Properties a retried message carries (visible to consumers).
const (
	PropReconsumeTimes = "RECONSUME_TIMES" // how many times it was handed back
	PropRetryTopic     = "RETRY_TOPIC"     // the topic it first came from
	PropOriginQueue    = "ORIGIN_QUEUE"
	PropOriginOffset   = "ORIGIN_OFFSET"
)

// RetryTopic is the topic a group's retried messages are redelivered through; a consumer
// of the group reads it beside its own topics.
func RetryTopic(group string) string { return "%RETRY%" + group }

// DLQTopic is the group's dead-letter topic.
func DLQTopic(group string) string { return "%DLQ%" + group }

// Retry hands m, a message the group failed to process, back for redelivery to the group:
// after the delay of its attempt through RetryTopic(group), or, once it has been retried
// MaxReconsumeTimes times, at once to DLQTopic(group). Both topics are created with one
// queue when missing. It reports whether the message went to the dead-letter topic.
func (l *Log) Retry(ctx context.Context, group string, m *Message) (dead bool, err error) {
	if err := ValidateTopicName(RetryTopic(group)); err != nil {
		return false, fmt.Errorf("log: invalid group name: %w", err)
	}
	times := 0
	if v, ok := m.Properties[PropReconsumeTimes]; ok {
		if times, err = strconv.Atoi(v); err != nil || times < 0 {
			return false, fmt.Errorf("log: message %s/%d@%d has %s=%q", m.Topic, m.Queue, m.Offset, PropReconsumeTimes, v)
		}
	}
	props := maps.Clone(m.Properties)
	if props == nil {
		props = map[string]string{}
	}
	if _, ok := props[PropRetryTopic]; !ok {
		props[PropRetryTopic] = m.Topic
		props[PropOriginQueue] = strconv.Itoa(m.Queue)
		props[PropOriginOffset] = strconv.FormatInt(m.Offset, 10)
	}
	props[PropReconsumeTimes] = strconv.Itoa(times + 1)
	next := &Message{Queue: ByKey, Key: m.Key, Tags: m.Tags, Properties: props, Body: m.Body, Timestamp: m.Timestamp}
	if times >= MaxReconsumeTimes {
		next.Topic, dead = DLQTopic(group), true
	} else {
		next.Topic = RetryTopic(group)
		delay := RetryDelays[min(3+times, len(RetryDelays))-1]
		delay = min(delay, l.opts.TimerMaxDelay)
		next.DeliverAt = l.opts.Clock.Now().Add(delay).UnixMilli()
	}
	if err := l.CreateTopic(ctx, next.Topic, 1); err != nil && !errors.Is(err, ErrTopicExists) {
		return false, err
	}
	return dead, l.Append(ctx, next)
}
