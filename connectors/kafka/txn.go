package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// The second phase of the sink's two-phase commit, outside any producer client: ending
// a transaction by its transactional id, producer id and epoch (an EndTxn request, as
// Flink's KafkaSink does through its resumed producer), and fencing the open
// transactions of epochs that never committed (an InitProducerId request, which aborts
// the open transaction of that transactional id).

// errExpired: the brokers no longer know a transaction's producer id (its transactional
// id expired after transactional.id.expiration.ms without use, 7 days by default).
var errExpired = errors.New("kafka: the transactional id expired on the brokers")

func parseHandle(raw []byte) (handle, error) {
	var h handle
	if err := json.Unmarshal(raw, &h); err != nil || h.TxnID == "" {
		return h, fmt.Errorf("kafka: bad transaction handle %q (not written by this sink?)", raw)
	}
	return h, nil
}

// parseTxnID returns the subtask and epoch of a transactional id of the sink.
func (s *Sink[T]) parseTxnID(id string) (sub int, epoch uint64, ok bool) {
	rest, ok := strings.CutPrefix(id, s.opts.TransactionalIDPrefix+"-")
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(a)
	e, err2 := strconv.ParseUint(b, 10, 64)
	return n, e, err1 == nil && err2 == nil && n >= 0 && strconv.Itoa(n) == a
}

// admin returns the client that ends and fences transactions. EndTxn v5 belongs to
// KIP-890's transactions (the cluster's transaction.version 2), under which producers
// bump their epoch at every end: on a cluster without them the client is capped at
// EndTxn v4, the version franz-go's own producers use there.
func (s *Sink[T]) admin(ctx context.Context) (*kgo.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.admin != nil {
		return s.mu.admin, nil
	}
	cl, err := newClient(s.opts.Brokers, s.opts.ClientOpts, kgo.DisableClientMetrics())
	if err != nil {
		return nil, err
	}
	v2, err := transactionsV2(ctx, cl)
	if err != nil {
		cl.Close()
		return nil, err
	}
	if !v2 {
		cl.Close()
		vs := kversion.Tip()
		vs.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
		if cl, err = newClient(s.opts.Brokers, s.opts.ClientOpts, kgo.DisableClientMetrics(), kgo.MaxVersions(vs)); err != nil {
			return nil, err
		}
	}
	s.mu.admin = cl
	return cl, nil
}

// transactionsV2 reports whether the cluster runs KIP-890 transactions.
func transactionsV2(ctx context.Context, cl *kgo.Client) (bool, error) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = "riffle-kafka"
	req.ClientSoftwareVersion = "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return false, fmt.Errorf("kafka: api versions: %w", err)
	}
	for _, f := range resp.FinalizedFeatures {
		if f.Name == "transaction.version" && f.MaxVersionLevel >= 2 {
			return true, nil
		}
	}
	return false, nil
}

// retryTxn runs req until it does not fail with a transient coordinator error (a
// transaction still completing, a coordinator loading or moving).
func retryTxn(ctx context.Context, do func() (int16, error)) error {
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		code, err := do()
		if err != nil {
			return err
		}
		err = kerr.ErrorForCode(code)
		if err == nil {
			return nil
		}
		if !errors.Is(err, kerr.ConcurrentTransactions) && !errors.Is(err, kerr.CoordinatorLoadInProgress) &&
			!errors.Is(err, kerr.NotCoordinator) && !errors.Is(err, kerr.CoordinatorNotAvailable) {
			return err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		}
	}
}

// commit commits h's transaction (of the job's epoch). A transaction committed before
// commits again without error (Kafka answers a repeated EndTxn of the same outcome with
// success). Returns a *TransactionLostError if the transaction was aborted or fenced,
// and an error wrapping errExpired if the brokers forgot the producer.
func (s *Sink[T]) commit(ctx context.Context, epoch uint64, h handle) error {
	cl, err := s.admin(ctx)
	if err != nil {
		return err
	}
	err = retryTxn(ctx, func() (int16, error) {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID = h.TxnID
		req.ProducerID = h.ProducerID
		req.ProducerEpoch = h.ProducerEpoch
		req.Commit = true
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return 0, err
		}
		return resp.ErrorCode, nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.InvalidProducerIDMapping):
		return fmt.Errorf("kafka: commit transaction %s of epoch %d: %w: %w", h.TxnID, epoch, errExpired, err)
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch), errors.Is(err, kerr.InvalidTxnState):
		return &TransactionLostError{TransactionalID: h.TxnID, Epoch: epoch, Err: err}
	default:
		return fmt.Errorf("kafka: commit transaction %s of epoch %d: %w", h.TxnID, epoch, err)
	}
}

// abortLater aborts the open transactions of the sink's epochs after epoch, found by
// ListTransactions (Kafka 3.0+), and returns how many. Without ListTransactions it logs
// that they are left to the transaction timeout (or to this run's producers of the same
// ids, which fence them when they begin).
func (s *Sink[T]) abortLater(ctx context.Context, epoch uint64) (int, error) {
	cl, err := s.admin(ctx)
	if err != nil {
		return 0, err
	}
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters = []string{"Ongoing"}
	req.DurationFilterMillis = -1
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		if errors.Is(err, kerr.UnsupportedVersion) || strings.Contains(err.Error(), "too old") {
			s.opts.Logger.Warn("kafka: the cluster cannot list transactions: open transactions of uncommitted epochs stay until their timeout or until this run reaches their epoch",
				"sink", s.opts.TransactionalIDPrefix, "err", err)
			return 0, nil
		}
		return 0, fmt.Errorf("kafka: list transactions: %w", err)
	}
	n := 0
	for _, ts := range resp.TransactionStates {
		_, e, ok := s.parseTxnID(ts.TransactionalID)
		if !ok || e <= epoch {
			continue
		}
		if err := s.fence(ctx, cl, ts.TransactionalID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// fence initializes a producer of id, which aborts its open transaction.
func (s *Sink[T]) fence(ctx context.Context, cl *kgo.Client, id string) error {
	err := retryTxn(ctx, func() (int16, error) {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr(id)
		req.TransactionTimeoutMillis = int32(s.opts.TransactionTimeout.Milliseconds())
		req.ProducerID = -1
		req.ProducerEpoch = -1
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return 0, err
		}
		return resp.ErrorCode, nil
	})
	if err != nil {
		return fmt.Errorf("kafka: abort transaction %s: %w", id, err)
	}
	return nil
}
