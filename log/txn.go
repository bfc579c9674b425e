package log

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/riffle-streams/riffle/log/internal/record"
)

// Transactions (see doc.go, "Transactions"): half records are written to
// RMQ_SYS_TRANS_HALF_TOPIC and stay invisible; one op record in RMQ_SYS_TRANS_OP_HALF_TOPIC
// commits a transaction's messages together with consumer-group offsets, or aborts it.
// The op record is the only commit point, and the consume queues are derived by replay,
// so a crash leaves each transaction wholly visible with its offsets or wholly invisible.

// System topics of transactions and timers. They are record streams, not user topics:
// they have no consume queues and cannot be created, appended to or read directly.
const (
	HalfTopic  = "RMQ_SYS_TRANS_HALF_TOPIC"
	OpTopic    = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	TimerTopic = "rmq_sys_wheel_timer"
)

// Reserved property names, carried by half and timer records (RocketMQ's names where it
// has one). Messages may not use them.
const (
	PropRealTopic = "REAL_TOPIC"
	PropRealQueue = "REAL_QID"
	PropTxnPID    = "TRAN_PID"
	PropTxnEpoch  = "TRAN_EPOCH"
	PropTxnSeq    = "TRAN_SEQ"
	PropDeliverAt = "TIMER_DELIVER_MS"
)

var reservedProps = map[string]bool{PropRealTopic: true, PropRealQueue: true, PropTxnPID: true,
	PropTxnEpoch: true, PropTxnSeq: true, PropDeliverAt: true}

var (
	// ErrTxnDone is returned by Send, Commit or Abort of a transaction that has already
	// committed or aborted.
	ErrTxnDone = errors.New("log: transaction already committed or aborted")
)

// FencedError is returned to a transactional producer whose incarnation was fenced by a
// newer InitProducer with the same id: it must stop; its open transactions are aborted
// (or, with a checker, resolved by check-back).
type FencedError struct {
	Producer string
	Epoch    uint32 // the fenced incarnation
	Current  uint32 // the incarnation that fenced it
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("log: producer %q incarnation %d is fenced by incarnation %d", e.Producer, e.Epoch, e.Current)
}

// TxnAbortedError is returned by Send or Commit of a transaction the log aborted: fenced
// by a newer incarnation, or given up by check-back.
type TxnAbortedError struct {
	Txn    TxnID
	Reason string
	// Fenced is set when a newer incarnation aborted it; errors.As finds it through
	// Unwrap, so that a zombie's commit fails with *FencedError like its sends.
	Fenced *FencedError
}

func (e *TxnAbortedError) Error() string {
	return fmt.Sprintf("log: transaction %s was aborted: %s", e.Txn, e.Reason)
}

func (e *TxnAbortedError) Unwrap() error {
	if e.Fenced == nil {
		return nil
	}
	return e.Fenced
}

// TxnID identifies a transaction: producer id, incarnation, sequence number.
type TxnID struct {
	Producer string
	Epoch    uint32
	Seq      uint64
}

func (t TxnID) String() string { return fmt.Sprintf("%s/%d/%d", t.Producer, t.Epoch, t.Seq) }

// TxnInfo describes an open transaction.
type TxnInfo struct {
	ID       TxnID
	Messages int
	// FirstPos is the commitlog position of its first half message; Started and LastSend
	// are store times (ms) of its first and last half messages.
	FirstPos          int64
	Started, LastSend int64
	// Fenced is true when a newer incarnation of the producer exists.
	Fenced bool
}

// TxnResolution is a checker's answer about an open transaction.
type TxnResolution int

const (
	// TxnUnknown: ask again later (after CheckMax unknown answers the log aborts it).
	TxnUnknown TxnResolution = iota
	// TxnCommit: the local transaction committed; the log commits the messages.
	TxnCommit
	// TxnRollback: the local transaction rolled back; the log aborts the messages.
	TxnRollback
)

// TxnChecker answers a check-back about an open transaction (RocketMQ's
// checkLocalTransaction). It runs on the log's check-back goroutine.
type TxnChecker func(TxnInfo) TxnResolution

// ProducerOptions configures a transactional producer.
type ProducerOptions struct {
	// Checker, when set, puts the producer in local-transaction mode: a new incarnation
	// does not abort the open transactions of older ones; the log resolves them, and any
	// transaction left open longer than Options.TxnTimeout, by asking Checker. Without a
	// Checker, a new incarnation aborts older incarnations' open transactions at once
	// (the exactly-once mode the stream runtime uses).
	Checker TxnChecker
}

// Op codes and reasons of op records.
const (
	opCommit byte = 1
	opAbort  byte = 2

	reasonProducer  byte = 0 // the producer's Commit or Abort
	reasonFenced    byte = 1 // a newer incarnation aborted it
	reasonCheckBack byte = 2 // the checker answered
	reasonGaveUp    byte = 3 // CheckMax unknown answers, or no checker
)

func reasonText(r byte) string {
	switch r {
	case reasonFenced:
		return "fenced by a newer incarnation of its producer"
	case reasonCheckBack:
		return "resolved by check-back"
	case reasonGaveUp:
		return "unresolved after the maximum number of check-backs"
	}
	return "by its producer"
}

// producerState is the derived state of one transactional producer id.
type producerState struct {
	epoch     uint32
	localMode bool // its newest incarnation has a checker
}

// openTxn is the derived state of an open transaction.
type openTxn struct {
	id        TxnID
	firstPos  int64
	started   int64
	lastSend  int64
	halves    []txnHalf       // pointer-free: a large transaction costs the GC nothing
	queues    []*consumeQueue // the queues txnHalf.qi indexes
	snapCount int             // halves before the checkpoint position, while recovering
	checks    int             // unknown check-back answers (in memory only)
}

// halfRef is a half message just written (the appender's scratch).
type halfRef struct {
	pos     int64
	size    int32
	queue   *consumeQueue
	tagHash uint64
}

// txnHalf is a half message of an open transaction; qi indexes openTxn.queues.
type txnHalf struct {
	pos     int64
	tagHash uint64
	size    int32
	qi      uint32
}

// add appends a half message to the transaction.
func (t *openTxn) add(h halfRef) {
	qi := -1
	for i := len(t.queues) - 1; i >= 0; i-- { // few queues per transaction
		if t.queues[i] == h.queue {
			qi = i
			break
		}
	}
	if qi < 0 {
		qi = len(t.queues)
		t.queues = append(t.queues, h.queue)
	}
	t.halves = append(t.halves, txnHalf{pos: h.pos, tagHash: h.tagHash, size: h.size, qi: uint32(qi)})
}

// doneTxn remembers why a transaction ended, so that a late Commit gets a clear answer.
type doneTxn struct {
	commit bool
	reason byte
}

// Producer is one incarnation of a transactional producer. Its methods are safe for
// concurrent use, but a Txn must not be used concurrently.
type Producer struct {
	l     *Log
	id    string
	epoch uint32
	seq   uint64
	opts  ProducerOptions
}

// InitProducer starts a new incarnation of the transactional producer id, fencing every
// older one: their later sends and commits fail with *FencedError. Without a checker the
// older incarnations' open transactions are aborted by the same init record. The id has
// the syntax of a topic name.
func (l *Log) InitProducer(ctx context.Context, id string, opts ProducerOptions) (*Producer, error) {
	if err := ValidateTopicName(id); err != nil {
		return nil, fmt.Errorf("log: invalid producer id: %w", err)
	}
	flags := byte(0)
	if opts.Checker != nil {
		flags = 1
	}
	body := appendString(nil, id)
	body = binary.LittleEndian.AppendUint32(body, 0) // epoch: assigned by the appender
	body = append(body, flags)
	rec := &record.Record{Type: record.TypeTxnInit, Topic: []byte(OpTopic), Body: body}
	if err := l.submit(ctx, sysRequest(rec, Sync)); err != nil {
		return nil, err
	}
	init, _ := decodeInit(rec.Body)
	p := &Producer{l: l, id: id, epoch: init.epoch, opts: opts}
	l.checkersMu.Lock()
	l.live[id] = init.epoch
	if opts.Checker != nil {
		l.checkers[id] = opts.Checker
	} else {
		delete(l.checkers, id)
	}
	l.checkersMu.Unlock()
	return p, nil
}

// ID returns the producer's id; Epoch its incarnation.
func (p *Producer) ID() string    { return p.id }
func (p *Producer) Epoch() uint32 { return p.epoch }

// Txn is one transaction. Messages sent in it are invisible until Commit.
type Txn struct {
	p    *Producer
	id   TxnID
	done bool
	sent int
}

// Begin starts a transaction. Nothing is written until the first Send.
func (p *Producer) Begin() *Txn {
	p.l.mu.Lock()
	p.seq++
	seq := p.seq
	p.l.mu.Unlock()
	return &Txn{p: p, id: TxnID{Producer: p.id, Epoch: p.epoch, Seq: seq}}
}

// ID returns the transaction's id.
func (t *Txn) ID() TxnID { return t.id }

// Send appends msgs as half messages of the transaction. Their queues are resolved now
// (ByKey as for Append); their offsets are assigned at commit, in commit order. It fails
// with *FencedError if a newer incarnation exists, *TxnAbortedError if the log aborted
// the transaction, ErrTxnDone after Commit or Abort.
//
// Without a checker, Send returns once the half messages are written, without waiting
// for an fsync even in Sync mode: nothing of the transaction counts before its commit
// record, which is written after them, and a Sync commit is acknowledged only once every
// segment written up to it is fsynced (the syncer takes segments in write order). With a
// checker, the half messages are as durable as the log's appends before Send returns:
// the producer runs its local transaction next, and check-back may commit them later.
func (t *Txn) Send(ctx context.Context, msgs ...*Message) error {
	if t.done {
		return ErrTxnDone
	}
	if len(msgs) == 0 {
		return nil
	}
	d := Async
	if t.p.opts.Checker != nil {
		d = DurabilityDefault
	}
	r, err := t.p.l.encodeMessages(msgs, d, &t.id)
	if err != nil {
		return err
	}
	r.txn = &t.id
	if err := t.p.l.submit(ctx, r); err != nil {
		return err
	}
	t.sent += len(msgs)
	return nil
}

// Commit makes the transaction's messages visible in their queues, in the order they were
// sent, and advances group's offsets (may be empty), atomically: one op record. After a
// crash, the transaction is either wholly committed with its offsets or not at all.
func (t *Txn) Commit(ctx context.Context, group string, offsets map[QueueRef]int64) error {
	return t.end(ctx, opCommit, DurabilityDefault, group, offsets)
}

// CommitWith is Commit with the commit record's durability given: Sync returns once the
// commit (and every half message before it) is fsynced.
func (t *Txn) CommitWith(ctx context.Context, d Durability, group string, offsets map[QueueRef]int64) error {
	return t.end(ctx, opCommit, d, group, offsets)
}

// Abort discards the transaction's messages.
func (t *Txn) Abort(ctx context.Context) error {
	return t.end(ctx, opAbort, DurabilityDefault, "", nil)
}

func (t *Txn) end(ctx context.Context, op byte, d Durability, group string, offsets map[QueueRef]int64) error {
	if t.done {
		return ErrTxnDone
	}
	l := t.p.l
	if group != "" || len(offsets) > 0 {
		if err := ValidateTopicName(group); err != nil {
			return fmt.Errorf("log: invalid group name: %w", err)
		}
		for ref, o := range offsets {
			if _, err := l.queue(ref.Topic, ref.Queue); err != nil {
				return err
			}
			if o < 0 {
				return fmt.Errorf("log: group %q: negative offset %d for %s/%d", group, o, ref.Topic, ref.Queue)
			}
		}
	}
	rec := &record.Record{Type: record.TypeTxnOp, Topic: []byte(OpTopic),
		Body: encodeOp(txnOp{op: op, reason: reasonProducer, id: t.id, count: uint32(t.sent), group: group, offsets: offsets})}
	err := l.submit(ctx, sysRequest(rec, d))
	if err == nil {
		t.done = true
	}
	return err
}

// OpenTransactions lists the open transactions, oldest first.
func (l *Log) OpenTransactions() []TxnInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]TxnInfo, 0, len(l.openTxns))
	for _, t := range l.openTxns {
		out = append(out, l.txnInfoLocked(t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FirstPos < out[j].FirstPos })
	return out
}

func (l *Log) txnInfoLocked(t *openTxn) TxnInfo {
	p := l.producers[t.id.Producer]
	return TxnInfo{ID: t.id, Messages: len(t.halves), FirstPos: t.firstPos, Started: t.started,
		LastSend: t.lastSend, Fenced: p != nil && p.epoch > t.id.Epoch}
}

// --- record bodies ---

type txnInit struct {
	pid       string
	epoch     uint32
	localMode bool
}

func decodeInit(b []byte) (txnInit, error) {
	d := decoder{b: b}
	in := txnInit{pid: d.str(), epoch: d.u32(), localMode: d.u8() == 1}
	if d.err == nil && len(d.b) != 0 {
		d.fail("init record")
	}
	return in, d.err
}

type txnOp struct {
	op, reason byte
	id         TxnID
	count      uint32
	group      string
	offsets    map[QueueRef]int64
	// A commit's half messages, filled by the appender: pointer-free, with their queues
	// in a table.
	halves []committedHalf
	queues []QueueRef
}

// committedHalf is one half message of a commit with the queue offset it was given;
// qi indexes txnOp.queues.
type committedHalf struct {
	pos     int64
	offset  int64
	tagHash uint64
	size    int32
	qi      uint32
}

// encodeOp lays out an op record's body (see doc.go): u8 op, u8 reason, u16+pid,
// u32 epoch, u64 seq, u32 message count, u16+group, group offsets, then the committed
// halves, compactly (about 6 bytes a half): u32 count with bit 31 set; uvarint number of
// queues and per queue u16+topic, uvarint queue, uvarint first offset; per half uvarint
// queue index, zigzag varint gap from the end of the previous half, uvarint size, and u8
// 0 (no tags) or 1 + u64 tag hash. A half's offset is its queue's first offset plus the
// halves of that queue before it. Listing the offsets makes a commit self-describing:
// replay indexes from it alone. (Older logs wrote count without bit 31 and per half u64
// position, u32 size, u64 tag hash, u16+topic, u32 queue, u64 offset; decodeOp reads both.)
func encodeOp(o txnOp) []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, 64+len(o.id.Producer)+len(o.group)+32*len(o.offsets)+48*len(o.halves))
	b = append(b, o.op, o.reason)
	b = appendString(b, o.id.Producer)
	b = le.AppendUint32(b, o.id.Epoch)
	b = le.AppendUint64(b, o.id.Seq)
	b = le.AppendUint32(b, o.count)
	b = appendString(b, o.group)
	b = appendOffsets(b, o.offsets)
	b = le.AppendUint32(b, uint32(len(o.halves))|compactHalves)
	if len(o.halves) == 0 {
		return binary.AppendUvarint(b, 0)
	}
	first := make([]int64, len(o.queues))
	seen := make([]bool, len(o.queues))
	for _, h := range o.halves {
		if !seen[h.qi] {
			seen[h.qi], first[h.qi] = true, h.offset
		}
	}
	b = binary.AppendUvarint(b, uint64(len(o.queues)))
	for i, q := range o.queues {
		b = appendString(b, q.Topic)
		b = binary.AppendUvarint(b, uint64(q.Queue))
		b = binary.AppendUvarint(b, uint64(first[i]))
	}
	end := int64(0)
	for _, h := range o.halves {
		b = binary.AppendUvarint(b, uint64(h.qi))
		b = binary.AppendVarint(b, h.pos-end)
		b = binary.AppendUvarint(b, uint64(h.size))
		if h.tagHash == 0 {
			b = append(b, 0)
		} else {
			b = le.AppendUint64(append(b, 1), h.tagHash)
		}
		end = h.pos + int64(h.size)
	}
	return b
}

// compactHalves marks the compact encoding of an op record's halves.
const compactHalves = 1 << 31

func decodeOp(b []byte) (txnOp, error) {
	d := decoder{b: b}
	o := txnOp{op: d.u8(), reason: d.u8()}
	o.id = TxnID{Producer: d.str(), Epoch: d.u32(), Seq: d.u64()}
	o.count = d.u32()
	o.group = d.str()
	o.offsets = d.offsets()
	n := d.u32()
	if n&compactHalves != 0 {
		o.halves, o.queues = d.compactHalves(n &^ compactHalves)
	} else {
		if n > 0 && int64(n) <= int64(len(d.b))/34 { // 34 bytes: a half's smallest encoding
			o.halves = make([]committedHalf, 0, n)
		}
		index := map[QueueRef]uint32{}
		for i := uint32(0); i < n && d.err == nil; i++ {
			h := committedHalf{pos: int64(d.u64()), size: int32(d.u32()), tagHash: d.u64()}
			ref := QueueRef{Topic: d.str(), Queue: int(d.u32())}
			h.offset = int64(d.u64())
			qi, ok := index[ref]
			if !ok {
				qi = uint32(len(o.queues))
				index[ref] = qi
				o.queues = append(o.queues, ref)
			}
			h.qi = qi
			o.halves = append(o.halves, h)
		}
	}
	if d.err == nil && (len(d.b) != 0 || (o.op != opCommit && o.op != opAbort)) {
		d.fail("op record")
	}
	return o, d.err
}

// compactHalves decodes n halves in the compact encoding (see encodeOp).
func (d *decoder) compactHalves(n uint32) ([]committedHalf, []QueueRef) {
	nq := d.uvarint()
	if d.err != nil || nq > uint64(len(d.b)) || (n > 0 && nq == 0) {
		d.fail("op record")
		return nil, nil
	}
	queues := make([]QueueRef, nq)
	next := make([]int64, nq)
	for i := range queues {
		queues[i] = QueueRef{Topic: d.str(), Queue: int(d.uvarint())}
		next[i] = int64(d.uvarint())
	}
	if d.err != nil || int64(n) > int64(len(d.b))/4 { // 4 bytes: a half's smallest encoding
		d.fail("op record")
		return nil, nil
	}
	halves := make([]committedHalf, 0, n)
	end := int64(0)
	for i := uint32(0); i < n && d.err == nil; i++ {
		qi := d.uvarint()
		if qi >= nq {
			d.fail("op record")
			return nil, nil
		}
		h := committedHalf{qi: uint32(qi), offset: next[qi]}
		next[qi]++
		h.pos = end + d.varint()
		h.size = int32(d.uvarint())
		if d.u8() == 1 {
			h.tagHash = d.u64()
		}
		end = h.pos + int64(h.size)
		halves = append(halves, h)
	}
	if n == 0 {
		queues = nil
	}
	return halves, queues
}

// halfProps returns the reserved properties of a half message (after the user's).
func halfProps(dst []byte, id *TxnID, topic string, queue int) []byte {
	dst = appendProp(dst, PropRealTopic, topic)
	dst = appendProp(dst, PropRealQueue, strconv.Itoa(queue))
	dst = appendProp(dst, PropTxnPID, id.Producer)
	dst = appendProp(dst, PropTxnEpoch, strconv.FormatUint(uint64(id.Epoch), 10))
	return appendProp(dst, PropTxnSeq, strconv.FormatUint(id.Seq, 10))
}

func appendProp(dst []byte, k, v string) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(k)))
	dst = append(dst, k...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v)))
	return append(dst, v...)
}

// realTarget reads the real topic and queue of a half or timer record.
func realTarget(r *record.Record) (topic string, queue int, err error) {
	t, ok1 := record.Prop(r.Props, PropRealTopic)
	q, ok2 := record.Prop(r.Props, PropRealQueue)
	if !ok1 || !ok2 {
		return "", 0, fmt.Errorf("%v record without %s/%s properties", r.Type, PropRealTopic, PropRealQueue)
	}
	n, err := strconv.Atoi(q)
	if err != nil {
		return "", 0, fmt.Errorf("%v record with %s=%q", r.Type, PropRealQueue, q)
	}
	return t, n, nil
}

func txnOfHalf(r *record.Record) (TxnID, error) {
	pid, ok1 := record.Prop(r.Props, PropTxnPID)
	e, ok2 := record.Prop(r.Props, PropTxnEpoch)
	s, ok3 := record.Prop(r.Props, PropTxnSeq)
	if !ok1 || !ok2 || !ok3 {
		return TxnID{}, errors.New("half record without its transaction properties")
	}
	epoch, err1 := strconv.ParseUint(e, 10, 32)
	seq, err2 := strconv.ParseUint(s, 10, 64)
	if err1 != nil || err2 != nil {
		return TxnID{}, fmt.Errorf("half record with bad transaction properties %q/%q", e, s)
	}
	return TxnID{Producer: pid, Epoch: uint32(epoch), Seq: seq}, nil
}

// --- appender side: validation and staging (single goroutine; l.mu for readers) ---

// prepareHalves checks that the producer is current and the transaction still open.
func (l *Log) prepareHalves(id *TxnID) error {
	p := l.producers[id.Producer]
	if p == nil {
		return fmt.Errorf("log: producer %q was never initialised", id.Producer)
	}
	if p.epoch != id.Epoch {
		return &FencedError{Producer: id.Producer, Epoch: id.Epoch, Current: p.epoch}
	}
	if d, ok := l.doneTxns[*id]; ok {
		if d.commit {
			return ErrTxnDone
		}
		return l.abortedErr(*id, d.reason)
	}
	return nil
}

// abortedErr is the error of a late Send or Commit of a transaction the log aborted.
func (l *Log) abortedErr(id TxnID, reason byte) error {
	err := &TxnAbortedError{Txn: id, Reason: reasonText(reason)}
	if p := l.producers[id.Producer]; reason == reasonFenced && p != nil {
		err.Fenced = &FencedError{Producer: id.Producer, Epoch: id.Epoch, Current: p.epoch}
	}
	return err
}

// prepareInit assigns the new incarnation's epoch by rewriting the record body.
func (l *Log) prepareInit(r *record.Record) error {
	in, err := decodeInit(r.Body)
	if err != nil {
		return err
	}
	if p := l.producers[in.pid]; p != nil {
		in.epoch = p.epoch + 1
	} else {
		in.epoch = 1
	}
	binary.LittleEndian.PutUint32(r.Body[2+len(in.pid):], in.epoch)
	return nil
}

// prepareOp checks an op record from a producer (check-back ops bypass fencing) and
// completes a commit with its half messages' offsets. It returns the op as completed, so
// that staging it does not decode the record again.
func (l *Log) prepareOp(r *record.Record) (txnOp, error) {
	o, err := decodeOp(r.Body)
	if err != nil {
		return o, err
	}
	if d, ok := l.doneTxns[o.id]; ok {
		if d.commit == (o.op == opCommit) && o.reason == reasonProducer {
			return o, nil // a retried commit or abort: idempotent
		}
		if d.commit {
			return o, ErrTxnDone
		}
		return o, l.abortedErr(o.id, d.reason)
	}
	if o.reason == reasonProducer {
		if p := l.producers[o.id.Producer]; p == nil || p.epoch != o.id.Epoch {
			cur := uint32(0)
			if p != nil {
				cur = p.epoch
			}
			return o, &FencedError{Producer: o.id.Producer, Epoch: o.id.Epoch, Current: cur}
		}
	}
	t := l.openTxns[o.id]
	if t == nil && o.op == opCommit && o.count > 0 {
		return o, fmt.Errorf("log: commit of transaction %s with %d messages, but none were sent", o.id, o.count)
	}
	if t != nil && o.op == opCommit && int(o.count) != len(t.halves) && o.reason == reasonProducer {
		return o, fmt.Errorf("log: commit of transaction %s names %d messages, the log holds %d (was a Send still running?)", o.id, o.count, len(t.halves))
	}
	if t != nil && o.op == opCommit {
		// Queue offsets follow the order of sending; stageOp assigns exactly these.
		next := make([]int64, len(t.queues))
		o.queues = make([]QueueRef, len(t.queues))
		for i, q := range t.queues {
			next[i] = q.next
			o.queues[i] = QueueRef{Topic: q.topic, Queue: q.id}
		}
		o.halves = make([]committedHalf, len(t.halves))
		for i, h := range t.halves {
			o.halves[i] = committedHalf{pos: h.pos, size: h.size, tagHash: h.tagHash, qi: h.qi, offset: next[h.qi]}
			next[h.qi]++
		}
		r.Body = encodeOp(o)
	}
	return o, nil
}

// stageHalves adds written half messages to their open transaction.
func (l *Log) stageHalves(id TxnID, hs []halfRef, storeTime int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.openTxns[id]
	if t == nil {
		t = l.newOpenTxnLocked(id, hs[0].pos, storeTime)
	}
	for _, h := range hs {
		t.add(h)
	}
	t.lastSend = storeTime
}

// newOpenTxnLocked registers a transaction at its first half message. Its list of
// halves starts as long as the producer's last transaction's was (capped): a job's
// epochs are much alike, and growing the list from empty every epoch cost 3.5% of an
// exactly-once running count's CPU.
func (l *Log) newOpenTxnLocked(id TxnID, pos, storeTime int64) *openTxn {
	t := &openTxn{id: id, firstPos: pos, started: storeTime}
	if n := l.txnSizeHint[id.Producer]; n > 0 {
		t.halves = make([]txnHalf, 0, min(n, maxTxnSizeHint))
	}
	l.openTxns[id] = t
	return t
}

// maxTxnSizeHint caps the halves preallocated for a transaction (24 bytes each).
const maxTxnSizeHint = 1 << 20

// stageHalf adds a written half message to its open transaction.
func (l *Log) stageHalf(id TxnID, h halfRef, storeTime int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.openTxns[id]
	if t == nil {
		t = l.newOpenTxnLocked(id, h.pos, storeTime)
	}
	t.add(h)
	t.lastSend = storeTime
}

// stageInit applies an init record: the new epoch, and in exactly-once mode the abort of
// every open transaction of older incarnations.
func (l *Log) stageInit(in txnInit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.producers[in.pid] = &producerState{epoch: in.epoch, localMode: in.localMode}
	if in.localMode {
		return
	}
	for id := range l.openTxns {
		if id.Producer == in.pid && id.Epoch < in.epoch {
			l.endTxnLocked(id, false, reasonFenced)
		}
	}
}

// stageOp applies an op record at position pos: a commit indexes its half messages at
// the offsets the record lists and stages the group offsets. During recovery, entries
// already in the index (offsets below the queue's next) are skipped.
func (l *Log) stageOp(o txnOp, pos int64) error {
	l.mu.Lock()
	if _, done := l.doneTxns[o.id]; done {
		l.mu.Unlock()
		return nil // an idempotent retry
	}
	l.endTxnLocked(o.id, o.op == opCommit, o.reason)
	l.mu.Unlock()
	if o.op != opCommit {
		return nil
	}
	if err := l.indexCommitted(o, pos); err != nil {
		return err
	}
	if len(o.offsets) > 0 {
		l.stageOffsets(o.group, o.offsets)
	}
	return nil
}

// indexCommitted adds the index entries of a commit's half messages, skipping those the
// index already holds, and notes halves committed in a later segment than their own.
func (l *Log) indexCommitted(o txnOp, pos int64) error {
	qs := make([]*consumeQueue, len(o.queues))
	for i, ref := range o.queues {
		t := l.topics[ref.Topic]
		if t == nil || ref.Queue < 0 || ref.Queue >= len(t.queues) {
			return fmt.Errorf("log: commit at position %d names unknown queue %s/%d", pos, ref.Topic, ref.Queue)
		}
		qs[i] = t.queues[ref.Queue]
	}
	for _, h := range o.halves {
		q := qs[h.qi]
		if h.offset < q.next {
			continue
		}
		if err := q.add(h.offset, cqEntry{pos: h.pos, size: h.size, tagHash: h.tagHash}); err != nil {
			return err
		}
		l.touch(q)
		if hs, cs := l.cl.segmentAt(h.pos), l.cl.segmentAt(pos); hs != nil && hs != cs {
			l.noteLateCommit(hs.base, pos)
		}
	}
	return nil
}

// noteLateCommit records that segment base holds a half message committed at pos, in a
// later segment: retention must not delete base before pos.
func (l *Log) noteLateCommit(base, pos int64) {
	l.mu.Lock()
	if pos > l.lateCommits[base] {
		l.lateCommits[base] = pos
	}
	l.mu.Unlock()
}

// endTxnLocked closes a transaction. doneTxns remembers recent outcomes for late callers;
// it is trimmed to the most recent maxDoneTxns.
func (l *Log) endTxnLocked(id TxnID, commit bool, reason byte) {
	if t := l.openTxns[id]; t != nil && len(t.halves) > 0 {
		l.txnSizeHint[id.Producer] = len(t.halves)
	}
	delete(l.openTxns, id)
	l.doneTxns[id] = doneTxn{commit: commit, reason: reason}
	l.doneOrder = append(l.doneOrder, id)
	if len(l.doneOrder) > maxDoneTxns {
		delete(l.doneTxns, l.doneOrder[0])
		l.doneOrder = l.doneOrder[1:]
	}
}

const maxDoneTxns = 100_000

// minOpenTxnPos is the position of the oldest open transaction's first half message, or
// -1: retention keeps it, and recovery rescans from it.
func (l *Log) minOpenTxnPos() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	min := int64(-1)
	for _, t := range l.openTxns {
		if min < 0 || t.firstPos < min {
			min = t.firstPos
		}
	}
	return min
}

// --- checkpoint section ---

const sectionTxns = 1

// encodeTxnSection records producers and open transactions (not their halves: recovery
// finds those by scanning from each transaction's first position).
func (l *Log) encodeTxnSection() []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	le := binary.LittleEndian
	var b []byte
	pids := make([]string, 0, len(l.producers))
	for pid := range l.producers {
		pids = append(pids, pid)
	}
	sort.Strings(pids)
	b = le.AppendUint32(b, uint32(len(pids)))
	for _, pid := range pids {
		p := l.producers[pid]
		b = appendString(b, pid)
		b = le.AppendUint32(b, p.epoch)
		mode := byte(0)
		if p.localMode {
			mode = 1
		}
		b = append(b, mode)
	}
	b = le.AppendUint32(b, uint32(len(l.openTxns)))
	for _, t := range l.openTxns {
		b = appendString(b, t.id.Producer)
		b = le.AppendUint32(b, t.id.Epoch)
		b = le.AppendUint64(b, t.id.Seq)
		b = le.AppendUint64(b, uint64(t.firstPos))
		b = le.AppendUint64(b, uint64(t.started))
		b = le.AppendUint64(b, uint64(t.lastSend))
		b = le.AppendUint32(b, uint32(len(t.halves)))
	}
	bases := make([]int64, 0, len(l.lateCommits))
	for base := range l.lateCommits {
		bases = append(bases, base)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	b = le.AppendUint32(b, uint32(len(bases)))
	for _, base := range bases {
		b = le.AppendUint64(b, uint64(base))
		b = le.AppendUint64(b, uint64(l.lateCommits[base]))
	}
	return b
}

func (l *Log) decodeTxnSection(b []byte) error {
	d := decoder{b: b}
	n := d.u32()
	for i := uint32(0); i < n && d.err == nil; i++ {
		pid := d.str()
		l.producers[pid] = &producerState{epoch: d.u32(), localMode: d.u8() == 1}
	}
	n = d.u32()
	for i := uint32(0); i < n && d.err == nil; i++ {
		t := &openTxn{id: TxnID{Producer: d.str(), Epoch: d.u32(), Seq: d.u64()}}
		t.firstPos = int64(d.u64())
		t.started = int64(d.u64())
		t.lastSend = int64(d.u64())
		t.snapCount = int(d.u32())
		l.openTxns[t.id] = t
	}
	n = d.u32()
	for i := uint32(0); i < n && d.err == nil; i++ {
		base := int64(d.u64())
		l.lateCommits[base] = int64(d.u64())
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("transaction section")
	}
	return d.err
}

// --- check-back ---

// checkBackLoop resolves stale transactions every TxnCheckInterval.
func (l *Log) checkBackLoop() {
	defer close(l.checkDone)
	t := l.opts.Clock.Ticker(l.opts.TxnCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
			l.CheckTransactions(context.Background())
		}
	}
}

// CheckTransactions resolves open transactions whose last send is older than TxnTimeout,
// now rather than at the next TxnCheckInterval: a transaction of a producer in
// local-transaction mode is resolved by its checker; one whose producer has no checker in
// this process and was fenced, or that got CheckMax unknown answers, is aborted with a
// record saying why. It returns the number of transactions resolved.
func (l *Log) CheckTransactions(ctx context.Context) int {
	now := l.opts.Clock.Now().UnixMilli()
	timeout := l.opts.TxnTimeout.Milliseconds()
	l.mu.Lock()
	var due []*openTxn
	for _, t := range l.openTxns {
		if now-t.lastSend >= timeout {
			due = append(due, t)
		}
	}
	l.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].firstPos < due[j].firstPos })
	resolved := 0
	for _, t := range due {
		l.checkersMu.Lock()
		check := l.checkers[t.id.Producer]
		live := l.live[t.id.Producer] == t.id.Epoch
		l.checkersMu.Unlock()
		if check == nil && live {
			continue // its producer is alive in this process and will end it
		}
		l.mu.RLock()
		info := l.txnInfoLocked(t)
		l.mu.RUnlock()
		ans := TxnUnknown
		if check != nil {
			ans = check(info)
		}
		var op, reason byte
		switch {
		case ans == TxnCommit:
			op, reason = opCommit, reasonCheckBack
		case ans == TxnRollback:
			op, reason = opAbort, reasonCheckBack
		default:
			t.checks++
			if check != nil && t.checks < l.opts.TxnCheckMax {
				continue
			}
			op, reason = opAbort, reasonGaveUp
		}
		rec := &record.Record{Type: record.TypeTxnOp, Topic: []byte(OpTopic),
			Body: encodeOp(txnOp{op: op, reason: reason, id: t.id, count: uint32(info.Messages)})}
		if err := l.submit(ctx, sysRequest(rec, Sync)); err != nil {
			l.opts.Logger.Warn("log: check-back could not resolve a transaction", "txn", t.id.String(), "err", err)
			continue
		}
		l.opts.Logger.Info("log: transaction resolved by check-back", "txn", t.id.String(),
			"commit", op == opCommit, "reason", reasonText(reason), "messages", info.Messages)
		resolved++
	}
	return resolved
}
