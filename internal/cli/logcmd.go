package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	rlog "github.com/riffle-streams/riffle/log"
)

func logCommand() *command {
	return &command{
		name:    "log",
		summary: "administer the embedded log",
		subs: []*command{
			{name: "topics", summary: "manage topics", subs: []*command{topicsCreateCommand(), topicsListCommand()}},
			produceCommand(),
			consumeCommand(),
			offsetsCommand(),
			txnsCommand(),
			timersCommand(),
			benchCommand(),
		},
	}
}

// The data directory is locked by whichever riffle process has the log open. So that
// produce can run beside consume --follow, a following consumer closes the log while it
// waits and looks for new messages every followPoll, and every command waits up to
// lockWait for a directory that another one holds.
const (
	followPoll = 100 * time.Millisecond
	lockWait   = 5 * time.Second
)

// openLog opens the data directory with the given durability; the log's own messages
// (recovery repairs, retention) go to standard error.
func openLog(env *Env, dir string, d rlog.Durability) (*rlog.Log, error) {
	if dir == "" {
		return nil, usageErr("--data is required")
	}
	deadline := time.Now().Add(lockWait)
	for {
		l, err := rlog.Open(dir, rlog.Options{Durability: d, Logger: env.Logger})
		if !errors.Is(err, rlog.ErrLocked) || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(10 * time.Millisecond) // another command holds it, usually for moments
	}
}

func topicsCreateCommand() *command {
	return &command{
		name:    "create",
		summary: "create a topic with N ordered queues",
		usage:   "--data DIR --topic T --queues N",
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log (created if missing)")
			topic := fs.String("topic", "", "topic name: 1-127 characters of letters, digits, _ - % |")
			queues := fs.Int("queues", 1, "number of ordered queues")
			return func(ctx context.Context, env *Env) error {
				if err := required("data", *data, "topic", *topic); err != nil {
					return err
				}
				l, err := openLog(env, *data, rlog.Sync)
				if err != nil {
					return err
				}
				defer l.Close()
				if err := l.CreateTopic(ctx, *topic, *queues); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "created topic %s with %d queues in %s\n", *topic, *queues, *data)
				return l.Close()
			}
		},
	}
}

func topicsListCommand() *command {
	return &command{
		name:    "list",
		summary: "list topics with their queues and message counts",
		usage:   "--data DIR",
		help:    "Columns: TOPIC, QUEUES, MESSAGES (readable now), OFFSETS (per queue: queue:[earliest,latest)).",
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			return func(ctx context.Context, env *Env) error {
				l, err := openExisting(env, *data)
				if err != nil {
					return err
				}
				defer l.Close()
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TOPIC\tQUEUES\tMESSAGES\tOFFSETS")
				for _, t := range l.Topics() {
					var offs bytes.Buffer
					for i, q := range t.Queues {
						if i > 0 {
							offs.WriteByte(' ')
						}
						fmt.Fprintf(&offs, "%d:[%d,%d)", q.Queue, q.Earliest, q.Latest)
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.Name, len(t.Queues), t.Messages(), offs.String())
				}
				return tw.Flush()
			}
		},
	}
}

// openExisting opens a data directory that must already hold a log.
func openExisting(env *Env, dir string) (*rlog.Log, error) {
	if dir == "" {
		return nil, usageErr("--data is required")
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	return openLog(env, dir, rlog.Async)
}

func produceCommand() *command {
	return &command{
		name:    "produce",
		summary: "append standard input to a topic, one message per line",
		usage:   "--data DIR --topic T [--keyed] [--queue Q] [--sync] [--delay D | --deliver-at T] [--txn N]",
		help: `Each line of standard input, without its newline, is one message body. With --keyed a
line is KEY<TAB>VALUE: the key picks the queue by hash and VALUE is the body (a line
without a tab is a key with an empty body). Without --keyed and --queue, lines go to the
queues round-robin.

At the first invalid line (for example one over the size limit) produce stops with exit
code 1 and an error naming the line number and the limit; every line before it stays
stored. With --sync each message is durable (fsynced) before the next line is read.

--delay and --deliver-at make every message a delayed one: it becomes readable when due
(to the log's timer precision, 1 s; never earlier), delivered by whichever riffle process
holds the log open then, or by the next one that opens it.

--txn N groups every N consecutive lines into one transaction (producer id
"riffle-log-produce"): each group becomes visible all at once when it commits, or not at
all if produce dies before. The last group may be shorter and commits at the end of input;
at an invalid line, the lines of the group before it are committed. With --sync each
commit is durable before the next group starts. --txn cannot be combined with a delay.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			topic := fs.String("topic", "", "topic to append to (create it with 'riffle log topics create')")
			keyed := fs.Bool("keyed", false, "lines are KEY<TAB>VALUE; the key picks the queue")
			queue := fs.Int("queue", -1, "append every message to this queue (default: by key, or round-robin)")
			sync := fs.Bool("sync", false, "fsync each message before reading the next line")
			delay := fs.Duration("delay", 0, "deliver every message this long after it is produced")
			deliverAt := fs.String("deliver-at", "", "deliver every message at this RFC 3339 time")
			txn := fs.Int("txn", 0, "commit every N lines as one transaction")
			return func(ctx context.Context, env *Env) error {
				if err := required("data", *data, "topic", *topic); err != nil {
					return err
				}
				opts := produceOptions{keyed: *keyed, queue: *queue, txn: *txn, delay: *delay}
				if *delay < 0 {
					return usageErr("--delay %v must not be negative", *delay)
				}
				if *deliverAt != "" {
					if *delay != 0 {
						return usageErr("--delay and --deliver-at exclude each other")
					}
					t, err := time.Parse(time.RFC3339Nano, *deliverAt)
					if err != nil {
						return usageErr("--deliver-at %q: want an RFC 3339 time such as 2026-11-22T10:00:00Z", *deliverAt)
					}
					opts.deliverAt = t.UnixMilli()
				}
				if *txn < 0 {
					return usageErr("--txn %d must not be negative", *txn)
				}
				if *txn > 0 && (opts.delay != 0 || opts.deliverAt != 0) {
					return usageErr("--txn cannot be combined with --delay or --deliver-at: a delayed message cannot be part of a transaction")
				}
				d := rlog.Async
				if *sync {
					d = rlog.Sync
				}
				l, err := openLog(env, *data, d)
				if err != nil {
					return err
				}
				defer l.Close()
				opts.durability = d
				n, err := produce(ctx, l, env.Stdin, *topic, opts)
				if cerr := l.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stderr, "produced %d messages to %s\n", n, *topic)
				return nil
			}
		},
	}
}

type produceOptions struct {
	keyed      bool
	queue      int
	durability rlog.Durability
	txn        int           // lines per transaction; 0: none
	delay      time.Duration // delayed messages
	deliverAt  int64         // delayed messages, ms since the epoch
}

// produce appends lines from r; it batches lines already buffered when not in sync mode.
func produce(ctx context.Context, l *rlog.Log, r io.Reader, topic string, o produceOptions) (int, error) {
	ti, err := l.Topic(topic)
	if err != nil {
		return 0, fmt.Errorf("%w (create it first: riffle log topics create --data %s --topic %s --queues N)", err, l.Dir(), topic)
	}
	if o.queue >= len(ti.Queues) || o.queue < -1 {
		return 0, usageErr("--queue %d: topic %s has queues 0 to %d", o.queue, topic, len(ti.Queues)-1)
	}
	keyed, queue, d := o.keyed, o.queue, o.durability
	var producer *rlog.Producer
	var tx *rlog.Txn
	if o.txn > 0 {
		if producer, err = l.InitProducer(ctx, "riffle-log-produce", rlog.ProducerOptions{}); err != nil {
			return 0, err
		}
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var batch []*rlog.Message
	var commit func() error
	n, line, inTxn := 0, 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if producer != nil {
			if tx == nil {
				tx = producer.Begin()
			}
			if err := tx.Send(ctx, batch...); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			inTxn += len(batch)
			batch = batch[:0]
			if inTxn < o.txn {
				return nil
			}
			return commit()
		}
		if err := l.AppendWith(ctx, d, batch...); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	commit = func() error {
		if tx == nil {
			return nil
		}
		if err := tx.Commit(ctx, "", nil); err != nil {
			return fmt.Errorf("commit the transaction ending at line %d: %w", line, err)
		}
		n += inTxn
		tx, inTxn = nil, 0
		return nil
	}
	finish := func() error {
		if err := flush(); err != nil {
			return err
		}
		return commit()
	}
	for {
		b, rerr := readLine(br)
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return n, errors.Join(flush(), fmt.Errorf("read standard input after line %d: %w", line, rerr))
		}
		if b == nil && errors.Is(rerr, io.EOF) {
			return n, finish()
		}
		line++
		m := &rlog.Message{Topic: topic, Queue: rlog.ByKey, Body: b}
		if keyed {
			if i := bytes.IndexByte(b, '\t'); i >= 0 {
				m.Key, m.Body = b[:i], b[i+1:]
			} else {
				m.Key, m.Body = b, nil
			}
		}
		if queue >= 0 {
			m.Queue = queue
		}
		switch {
		case o.delay > 0:
			m.DeliverAt = time.Now().Add(o.delay).UnixMilli()
		case o.deliverAt != 0:
			m.DeliverAt = o.deliverAt
		}
		if err := l.ValidateMessage(m); err != nil {
			if ferr := finish(); ferr != nil {
				return n, ferr
			}
			return n, fmt.Errorf("line %d: %w; the %d lines before it are stored", line, err, n)
		}
		batch = append(batch, m)
		full := o.txn > 0 && inTxn+len(batch) >= o.txn
		if d == rlog.Sync || br.Buffered() == 0 || len(batch) >= 1024 || full {
			if err := flush(); err != nil {
				return n, err
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, finish()
		}
	}
}

// readLine returns the next line without its newline (a fresh slice), or nil at EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	b, err := br.ReadBytes('\n')
	if len(b) == 0 {
		return nil, err
	}
	if b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return b, err
}

func consumeCommand() *command {
	return &command{
		name:    "consume",
		summary: "print messages of a topic",
		usage:   "--data DIR --topic T [--from-beginning] [--group G] [--max N] [--follow] [--timeout D] [--format text|json]",
		help: `Without --follow, prints what is readable now and exits 0; with --follow, keeps waiting for
new messages (until --timeout, if given, then exits 0). While it waits, consume closes the
log, so that produce can open the data directory (one process at a time has it; every
command waits up to 5 s for it), and looks for new messages every 100 ms. A producer that
keeps the log open, fed by an endless pipe say, holds them back until it ends.

Where reading starts in each queue: the group's committed offset (with --group, if it
committed one), else the earliest offset with --from-beginning, else the end (only new
messages).

Queues are printed one after the other, each in offset order. --format text prints each
message as produce reads it: VALUE, or KEY<TAB>VALUE for a message with a key.
--format json prints one object per line:
  {"topic","queue","offset","key","value","timestamp"}
with key null when absent, value as a string (invalid UTF-8 replaced by U+FFFD) and
timestamp in milliseconds since the epoch. With --group the group's offsets are committed
as messages are printed, so the next consume of the group continues after them.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			topic := fs.String("topic", "", "topic to read")
			begin := fs.Bool("from-beginning", false, "start at the earliest offset when the group has no committed offset")
			group := fs.String("group", "", "consumer group whose offsets to start from and commit")
			max := fs.Int("max", 0, "stop after this many messages (0: no limit)")
			follow := fs.Bool("follow", false, "keep waiting for new messages")
			timeout := fs.Duration("timeout", 0, "with --follow, stop after this long (0: never)")
			format := fs.String("format", "text", "output format: text or json")
			return func(ctx context.Context, env *Env) error {
				if err := required("data", *data, "topic", *topic); err != nil {
					return err
				}
				if *format != "text" && *format != "json" {
					return usageErr("--format %q: want text or json", *format)
				}
				if *max < 0 {
					return usageErr("--max %d must not be negative", *max)
				}
				l, err := openExisting(env, *data)
				if err != nil {
					return err
				}
				defer l.Close()
				if *timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, *timeout)
					defer cancel()
				}
				c := consumer{l: l, topic: *topic, group: *group, max: *max, json: *format == "json",
					out: bufio.NewWriterSize(env.Stdout, 64<<10), stderr: env.Stderr,
					reopen: func() (*rlog.Log, error) {
						// Polling: the consume queues were verified by the first open.
						return rlog.Open(*data, rlog.Options{Logger: env.Logger, SkipIndexVerification: true})
					}}
				err = c.run(ctx, *begin, *follow)
				if ferr := c.out.Flush(); err == nil {
					err = ferr
				}
				if c.l != nil {
					if cerr := c.l.Close(); err == nil {
						err = cerr
					}
				}
				return err
			}
		},
	}
}

type consumer struct {
	l       *rlog.Log                 // nil while a follow waits with the log closed
	reopen  func() (*rlog.Log, error) // opens the log again after a wait
	stderr  io.Writer
	topic   string
	group   string
	max     int
	json    bool
	out     *bufio.Writer
	printed int
	next    []int64
}

func (c *consumer) run(ctx context.Context, fromBeginning, follow bool) error {
	ti, err := c.l.Topic(c.topic)
	if err != nil {
		return fmt.Errorf("%w (create it with: riffle log topics create --data %s --topic %s --queues N)", err, c.l.Dir(), c.topic)
	}
	c.next = make([]int64, len(ti.Queues))
	for i, q := range ti.Queues {
		c.next[i] = q.Latest
		if fromBeginning {
			c.next[i] = q.Earliest
		}
		if c.group != "" {
			if o, ok := c.l.CommittedOffset(c.group, c.topic, i); ok {
				c.next[i] = max(o, q.Earliest)
			}
		}
	}
	for {
		progressed := false
		for q := range c.next {
			for c.max == 0 || c.printed < c.max {
				n, err := c.readQueue(ctx, q)
				if err != nil {
					return err
				}
				if n == 0 {
					break
				}
				progressed = true
			}
		}
		if !follow || (c.max > 0 && c.printed >= c.max) {
			return nil
		}
		if progressed {
			continue
		}
		if err := c.out.Flush(); err != nil {
			return err
		}
		if err := c.waitReleased(ctx); err != nil {
			if ctx.Err() != nil {
				// --timeout ends a follow normally; so does an interrupt (what was
				// printed is committed).
				return nil
			}
			return err
		}
	}
}

// waitReleased closes the log, so that other riffle processes (a producer) can open the
// data directory, and opens it again once followPoll has passed and the directory is free.
func (c *consumer) waitReleased(ctx context.Context) error {
	if err := c.l.Close(); err != nil {
		return err
	}
	c.l = nil
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followPoll):
		}
		l, err := c.reopen()
		if errors.Is(err, rlog.ErrLocked) {
			continue // a producer has it: look again later
		}
		if err != nil {
			return err
		}
		c.l = l
		return nil
	}
}

// readQueue prints one batch of queue q and commits it for the group.
func (c *consumer) readQueue(ctx context.Context, q int) (int, error) {
	limit := 512
	if c.max > 0 && c.max-c.printed < limit {
		limit = c.max - c.printed
	}
	f, err := c.l.Read(ctx, c.topic, q, c.next[q], rlog.ReadOptions{Max: limit})
	var oor *rlog.OffsetOutOfRangeError
	if errors.As(err, &oor) && c.next[q] < oor.Earliest {
		fmt.Fprintf(c.stderr, "queue %d: offsets %d to %d were deleted by retention; continuing at %d\n", q, c.next[q], oor.Earliest-1, oor.Earliest)
		c.next[q] = oor.Earliest
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	for i := range f.Messages {
		if err := c.print(&f.Messages[i]); err != nil {
			return 0, err
		}
	}
	c.printed += len(f.Messages)
	c.next[q] = f.Next
	if c.group != "" && len(f.Messages) > 0 {
		// Printed before committed: a crash in between prints lines again on the next
		// consume (at least once) rather than skipping them.
		if err := c.out.Flush(); err != nil {
			return 0, err
		}
		// An interrupt stops the reading, not the commit of what was printed.
		if err := c.l.CommitOffsets(context.WithoutCancel(ctx), c.group, map[rlog.QueueRef]int64{{Topic: c.topic, Queue: q}: f.Next}); err != nil {
			return 0, fmt.Errorf("commit offsets of group %s: %w", c.group, err)
		}
	}
	return len(f.Messages), nil
}

type jsonMessage struct {
	Topic     string  `json:"topic"`
	Queue     int     `json:"queue"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Value     string  `json:"value"`
	Timestamp int64   `json:"timestamp"`
}

func (c *consumer) print(m *rlog.Message) error {
	if c.json {
		jm := jsonMessage{Topic: m.Topic, Queue: m.Queue, Offset: m.Offset, Value: string(m.Body), Timestamp: m.Timestamp}
		if m.Key != nil {
			k := string(m.Key)
			jm.Key = &k
		}
		b, err := json.Marshal(jm)
		if err != nil {
			return err
		}
		c.out.Write(b)
		return c.out.WriteByte('\n')
	}
	if m.Key != nil {
		c.out.Write(m.Key)
		c.out.WriteByte('\t')
	}
	c.out.Write(m.Body)
	return c.out.WriteByte('\n')
}

func offsetsCommand() *command {
	return &command{
		name:    "offsets",
		summary: "print consumer groups' committed offsets and lag",
		usage:   "--data DIR [--group G]",
		help:    "Columns: GROUP, TOPIC, QUEUE, OFFSET (committed: the next to read), LATEST, LAG (LATEST - OFFSET).",
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			group := fs.String("group", "", "only this group")
			return func(ctx context.Context, env *Env) error {
				l, err := openExisting(env, *data)
				if err != nil {
					return err
				}
				defer l.Close()
				groups := l.Groups()
				if *group != "" {
					if len(l.CommittedOffsets(*group)) == 0 {
						return fmt.Errorf("group %q has no committed offsets in %s (groups: %v)", *group, *data, groups)
					}
					groups = []string{*group}
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "GROUP\tTOPIC\tQUEUE\tOFFSET\tLATEST\tLAG")
				for _, g := range groups {
					offs := l.CommittedOffsets(g)
					refs := make([]rlog.QueueRef, 0, len(offs))
					for r := range offs {
						refs = append(refs, r)
					}
					sort.Slice(refs, func(i, j int) bool {
						if refs[i].Topic != refs[j].Topic {
							return refs[i].Topic < refs[j].Topic
						}
						return refs[i].Queue < refs[j].Queue
					})
					for _, r := range refs {
						_, latest, err := l.QueueBounds(r.Topic, r.Queue)
						if err != nil {
							return err
						}
						fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", g, r.Topic, r.Queue, offs[r], latest, latest-offs[r])
					}
				}
				return tw.Flush()
			}
		},
	}
}

func txnsCommand() *command {
	return &command{
		name:    "txns",
		summary: "list open transactions",
		usage:   "--data DIR",
		help: `Columns: PRODUCER, INCARNATION, TXN (its sequence number), AGE (since its first
message), MESSAGES, STATE (open, or fenced: a newer incarnation exists and the transaction
waits for check-back).`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			return func(ctx context.Context, env *Env) error {
				l, err := openExisting(env, *data)
				if err != nil {
					return err
				}
				defer l.Close()
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PRODUCER\tINCARNATION\tTXN\tAGE\tMESSAGES\tSTATE")
				now := time.Now().UnixMilli()
				for _, t := range l.OpenTransactions() {
					state := "open"
					if t.Fenced {
						state = "fenced"
					}
					age := time.Duration(now-t.Started) * time.Millisecond
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\n", t.ID.Producer, t.ID.Epoch, t.ID.Seq, age.Round(time.Millisecond), t.Messages, state)
				}
				return tw.Flush()
			}
		},
	}
}

func timersCommand() *command {
	return &command{
		name:    "timers",
		summary: "show delayed messages: pending count, next due time, lag of the last firing",
		usage:   "--data DIR",
		help: `Opening the log delivers every delayed message already due, so the figures are those
after that delivery. Output, one "name: value" per line:
  pending: N
  next due: RFC 3339 time, or - when nothing is pending
  last firing: RFC 3339 time, or - when nothing has fired yet
  last firing lag: how late the last firing delivered against its due time, e.g. 12ms
  precision: the timer tick, e.g. 1s`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log")
			return func(ctx context.Context, env *Env) error {
				l, err := openExisting(env, *data)
				if err != nil {
					return err
				}
				defer l.Close()
				if _, err := l.FireTimers(ctx); err != nil {
					return err
				}
				st, err := l.Timers(ctx)
				if err != nil {
					return err
				}
				at := func(ms int64) string {
					if ms == 0 {
						return "-"
					}
					return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprintf(env.Stdout, "pending: %d\nnext due: %s\nlast firing: %s\nlast firing lag: %s\nprecision: %s\n",
					st.Pending, at(st.NextDue), at(st.LastFiring), time.Duration(st.LastLag)*time.Millisecond, st.Precision)
				return l.Close()
			}
		},
	}
}
