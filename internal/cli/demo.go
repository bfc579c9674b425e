package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	rlog "github.com/riffle-streams/riffle/log"
)

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "show riffle at work on a fresh data directory",
		usage:   "[--data DIR] [--messages N]",
		help: `Creates a data directory (a new temporary one unless --data is given), creates a topic of
four queues, produces keyed orders into it, consumes them as a consumer group with
committed offsets, reopens the log to show recovery, and prints where the data is and
what to try next.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory (default: a new temporary directory)")
			n := fs.Int("messages", 5000, "number of messages to produce")
			return func(ctx context.Context, env *Env) error {
				return runLogDemo(ctx, env, *data, *n)
			}
		},
	}
}

func runLogDemo(ctx context.Context, env *Env, dir string, n int) error {
	out := env.Stdout
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "riffle-demo-"); err != nil {
			return err
		}
	}
	dir, _ = filepath.Abs(dir)
	fmt.Fprintf(out, "riffle demo: the embedded log\n  data directory: %s\n\n", dir)
	l, err := rlog.Open(dir, rlog.Options{Logger: env.Logger})
	if err != nil {
		return err
	}
	defer l.Close()
	const topic = "orders"
	if _, err := l.Topic(topic); err != nil {
		if err := l.CreateTopic(ctx, topic, 4); err != nil {
			return err
		}
		fmt.Fprintf(out, "1. created topic %q with 4 ordered queues\n", topic)
	} else {
		fmt.Fprintf(out, "1. topic %q exists already: appending to it\n", topic)
	}

	customers := []string{"ada", "grace", "alan", "barbara", "edsger", "donald", "leslie", "john"}
	msgs := make([]*rlog.Message, n)
	for i := range msgs {
		c := customers[i%len(customers)]
		msgs[i] = &rlog.Message{Topic: topic, Queue: rlog.ByKey, Key: []byte(c),
			Body: fmt.Appendf(nil, "order-%05d customer=%s amount=%d", i, c, 10+i%90)}
	}
	t0 := time.Now()
	for i := 0; i < n; i += 500 {
		if err := l.Append(ctx, msgs[i:min(i+500, n)]...); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "2. produced %d keyed orders in %s: a key always lands in the same queue\n", n, time.Since(t0).Round(time.Microsecond))
	ti, _ := l.Topic(topic)
	for _, q := range ti.Queues {
		fmt.Fprintf(out, "     queue %d: offsets [%d, %d)\n", q.Queue, q.Earliest, q.Latest)
	}

	const group = "billing"
	total := 0
	perCustomer := map[string]int{}
	for _, q := range ti.Queues {
		off := q.Earliest
		if o, ok := l.CommittedOffset(group, topic, q.Queue); ok {
			off = o
		}
		for {
			f, err := l.Read(ctx, topic, q.Queue, off, rlog.ReadOptions{Max: 1000})
			if err != nil {
				return err
			}
			if len(f.Messages) == 0 {
				break
			}
			for _, m := range f.Messages {
				perCustomer[string(m.Key)]++
			}
			total += len(f.Messages)
			off = f.Next
			if err := l.CommitOffsets(ctx, group, map[rlog.QueueRef]int64{{Topic: topic, Queue: q.Queue}: off}); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(out, "3. group %q consumed %d orders and committed its offsets (as commitlog records)\n", group, total)
	for _, c := range customers {
		fmt.Fprintf(out, "     %-8s %5d orders (queue %d)\n", c, perCustomer[c], rlog.QueueForKey([]byte(c), 4))
	}
	if err := l.Close(); err != nil {
		return err
	}

	l, err = rlog.Open(dir, rlog.Options{Logger: env.Logger})
	if err != nil {
		return err
	}
	defer l.Close()
	rep := l.Recovery()
	fmt.Fprintf(out, "4. reopened the log: recovery scanned %d bytes from its checkpoint; clean=%v\n", rep.End-rep.ScanFrom, rep.Clean())
	for _, q := range ti.Queues {
		o, _ := l.CommittedOffset(group, topic, q.Queue)
		fmt.Fprintf(out, "     group %s, queue %d: committed offset %d\n", group, q.Queue, o)
	}
	if err := l.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, `
Where the data is:
  %[1]s/commitlog/       one commitlog: segment files named by their start position
  %[1]s/consumequeue/    one index per queue: orders/<queue>/<first offset>
  %[1]s/checkpoint       the recovery hint: position, topics, group offsets

Try next:
  go run ./cmd/riffle log topics list --data %[1]s
  go run ./cmd/riffle log consume --data %[1]s --topic orders --from-beginning --max 5 --format json
  printf 'ada\tlate order\n' | go run ./cmd/riffle log produce --data %[1]s --topic orders --keyed --sync
  go run ./cmd/riffle log offsets --data %[1]s
  go run ./cmd/riffle log bench --data $(mktemp -d) --messages 200000 --size 1024
`, dir)
	return nil
}
