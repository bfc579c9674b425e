package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/hamba/avro/v2"

	avroconn "github.com/riffle-streams/riffle/connectors/avro"
	rlog "github.com/riffle-streams/riffle/log"
)

// Options configures a Registry.
type Options struct {
	// Log stores the registry in Topic. Required. The registry appends with Sync
	// durability whatever the log's default: an acknowledged registration is on disk.
	Log *rlog.Log
	// Topic holds the registry's records; created with one queue if missing. Default
	// "_schemas" (Confluent's topic name).
	Topic string
	// Compatibility is the global level while no PUT /config has set one. Default Backward.
	Compatibility Level
	// SnapshotInterval: the registry rewrites its whole state as a snapshot in Topic when
	// the latest snapshot is older (checked on Open, after each change, and by Run), and
	// holds the log's retention from that snapshot on. Older records may then be deleted
	// by retention; nothing the registry needs is. Default 1 h; it must stay well below
	// the log's RetentionAge.
	SnapshotInterval time.Duration
	// Logger receives records the replay skipped and failed snapshots. Default
	// slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills the zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Topic == "" {
		o.Topic = "_schemas"
	}
	if o.Compatibility == "" {
		o.Compatibility = Backward
	}
	if o.SnapshotInterval == 0 {
		o.SnapshotInterval = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports every problem of o at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Log == nil {
		errs = append(errs, errors.New("registry: Options.Log is required"))
	}
	if err := rlog.ValidateTopicName(o.Topic); err != nil {
		errs = append(errs, fmt.Errorf("registry: Options.Topic: %w", err))
	}
	if _, err := ParseLevel(string(o.Compatibility)); err != nil {
		errs = append(errs, fmt.Errorf("registry: Options.Compatibility: %w", err))
	}
	if o.SnapshotInterval < 0 {
		errs = append(errs, fmt.Errorf("registry: Options.SnapshotInterval %v must not be negative", o.SnapshotInterval))
	}
	return errors.Join(errs...)
}

// Latest as a version means the latest live version of a subject.
const Latest = -1

// SubjectVersion is one version of a subject.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

// Registry is a schema registry stored in a log. Its methods are safe for concurrent use;
// one mutex serializes them (registry traffic is light). Use one Registry per log and
// topic: the records are its only storage, and it reads back what it appended.
type Registry struct {
	opts   Options
	log    *rlog.Log
	clock  clock.Clock
	compat *avro.SchemaCompatibility
	hold   string // retention hold name
	httpState

	mu struct {
		sync.Mutex
		st        *state
		next      int64            // next offset of the topic to replay
		snapshots map[int64]*state // snapshots begun and not yet ended, by begin offset
		snapAt    int64            // begin offset of the latest complete snapshot; -1: none
		snapTime  time.Time        // its store time
		partial   bool             // retention deleted records no complete snapshot covers
		closed    bool
	}
}

// Open opens the registry in o.Log: it creates the topic if missing and replays it.
func Open(ctx context.Context, o Options) (*Registry, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &Registry{opts: o, log: o.Log, clock: o.Log.Options().Clock, compat: avro.NewSchemaCompatibility(), hold: "registry:" + o.Topic}
	if err := r.log.CreateTopic(ctx, o.Topic, 1); err != nil && !errors.Is(err, rlog.ErrTopicExists) {
		return nil, fmt.Errorf("registry: create topic %s: %w", o.Topic, err)
	}
	if ti, err := r.log.Topic(o.Topic); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	} else if len(ti.Queues) != 1 {
		return nil, fmt.Errorf("registry: topic %s has %d queues; the registry needs a topic of one queue (its records are ordered)", o.Topic, len(ti.Queues))
	}
	lo, _, err := r.log.QueueBounds(o.Topic, 0)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.st, r.mu.next, r.mu.snapAt, r.mu.snapshots = newState(), lo, -1, map[int64]*state{}
	r.mu.partial = lo > 0
	if err := r.catchUpLocked(ctx); err != nil {
		return nil, err
	}
	if r.mu.partial {
		return nil, fmt.Errorf("registry: topic %s starts at offset %d: retention deleted records before any complete snapshot covered them, so schemas are missing; restore the registry's records or start a new topic", o.Topic, lo)
	}
	if err := r.holdLocked(); err != nil {
		return nil, err
	}
	r.maybeSnapshotLocked(ctx)
	return r, nil
}

// Close releases the registry's retention hold. It is idempotent; later calls of other
// methods fail.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mu.closed {
		r.mu.closed = true
		r.log.ReleaseRetention(r.hold)
	}
	return nil
}

// Run writes a snapshot whenever the latest is older than SnapshotInterval, until ctx
// ends; it returns ctx.Err(). Without Run, snapshots are written on Open and after
// changes only, and an idle registry's hold keeps retention from deleting anything
// appended to the log after its latest snapshot.
func (r *Registry) Run(ctx context.Context) error {
	t := r.clock.Ticker(min(r.opts.SnapshotInterval, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			r.mu.Lock()
			if !r.mu.closed {
				r.maybeSnapshotLocked(ctx)
			}
			r.mu.Unlock()
		}
	}
}

// catchUpLocked applies every record after mu.next.
func (r *Registry) catchUpLocked(ctx context.Context) error {
	for {
		_, hi, err := r.log.QueueBounds(r.opts.Topic, 0)
		if err != nil {
			return errorf(ErrStore, "read %s: %v", r.opts.Topic, err)
		}
		if r.mu.next >= hi {
			return nil
		}
		f, err := r.log.Read(ctx, r.opts.Topic, 0, r.mu.next, rlog.ReadOptions{Max: 512})
		if err != nil {
			return errorf(ErrStore, "read %s@%d: %v", r.opts.Topic, r.mu.next, err)
		}
		for i := range f.Messages {
			m := &f.Messages[i]
			var rec record
			if err := json.Unmarshal(m.Body, &rec); err != nil {
				return errorf(ErrStore, "record %s/0@%d is not a registry record: %v", r.opts.Topic, m.Offset, err)
			}
			r.applyLocked(&rec, m.Offset, time.UnixMilli(m.StoreTime))
		}
		r.mu.next = f.Next
	}
}

func (r *Registry) applyLocked(rec *record, offset int64, stored time.Time) {
	st := r.mu.st
	if rec.Snapshot != nil {
		begin := *rec.Snapshot
		switch rec.Type {
		case recSnapBegin:
			r.mu.snapshots[begin] = newState()
			return
		case recSnapEnd:
			if snap := r.mu.snapshots[begin]; snap != nil {
				snap.apply(rec)
				r.mu.st, r.mu.snapAt, r.mu.snapTime, r.mu.partial = snap, begin, stored, false
				clear(r.mu.snapshots)
			}
			return
		}
		if st = r.mu.snapshots[begin]; st == nil {
			return // a snapshot whose begin record retention deleted
		}
	}
	if why := st.apply(rec); why != "" && !r.mu.partial {
		r.opts.Logger.Warn("registry: skipped a record", "topic", r.opts.Topic, "offset", offset, "type", rec.Type, "subject", rec.Subject, "reason", why)
	}
}

// appendLocked appends records (Sync) and applies them by replaying the topic.
func (r *Registry) appendLocked(ctx context.Context, recs ...*record) error {
	msgs := make([]*rlog.Message, len(recs))
	for i, rec := range recs {
		body, err := json.Marshal(rec)
		if err != nil {
			return errorf(ErrStore, "encode record: %v", err)
		}
		msgs[i] = &rlog.Message{Topic: r.opts.Topic, Queue: 0, Key: []byte(rec.Subject), Tags: rec.Type, Body: body}
	}
	if err := r.log.AppendWith(ctx, rlog.Sync, msgs...); err != nil {
		return errorf(ErrStore, "append to %s: %v", r.opts.Topic, err)
	}
	return r.catchUpLocked(ctx)
}

// writeLocked catches up, then runs fn on the state.
func (r *Registry) writeLocked(ctx context.Context, fn func(st *state) error) error {
	if r.mu.closed {
		return errClosed
	}
	if err := r.catchUpLocked(ctx); err != nil {
		return err
	}
	return fn(r.mu.st)
}

// Snapshot writes a snapshot of the registry now and moves its retention hold to it.
func (r *Registry) Snapshot(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.closed {
		return errClosed
	}
	return r.snapshotLocked(ctx)
}

func (r *Registry) maybeSnapshotLocked(ctx context.Context) {
	if r.mu.st.empty() || (r.mu.snapAt >= 0 && r.clock.Since(r.mu.snapTime) < r.opts.SnapshotInterval) {
		return
	}
	if err := r.snapshotLocked(ctx); err != nil {
		r.opts.Logger.Warn("registry: snapshot failed; the next change or Run tries again", "topic", r.opts.Topic, "error", err)
	}
}

func (r *Registry) snapshotLocked(ctx context.Context) error {
	if err := r.catchUpLocked(ctx); err != nil {
		return err
	}
	// The begin record's offset names the snapshot: it is the next offset, as this
	// registry is the topic's only writer (a snapshot with another begin offset, or
	// interleaved records, would not end: the replay ignores it).
	_, hi, err := r.log.QueueBounds(r.opts.Topic, 0)
	if err != nil {
		return errorf(ErrStore, "%v", err)
	}
	recs := r.mu.st.snapshot(hi)
	// Appended in batches that stay below the log's message size limits.
	for len(recs) > 0 {
		n := min(len(recs), 64)
		if err := r.appendLocked(ctx, recs[:n]...); err != nil {
			return err
		}
		recs = recs[n:]
	}
	if r.mu.snapAt != hi {
		return errorf(ErrStore, "snapshot at %s/0@%d did not complete (another writer?)", r.opts.Topic, hi)
	}
	return r.holdLocked()
}

// holdLocked holds retention from the latest snapshot (or the topic's start).
func (r *Registry) holdLocked() error {
	lo, hi, err := r.log.QueueBounds(r.opts.Topic, 0)
	if err != nil {
		return errorf(ErrStore, "%v", err)
	}
	if lo == hi {
		return nil // nothing to keep
	}
	at := lo
	if r.mu.snapAt >= lo {
		at = r.mu.snapAt
	}
	if err := r.log.HoldRetention(r.hold, rlog.QueueRef{Topic: r.opts.Topic, Queue: 0}, at); err != nil {
		return errorf(ErrStore, "hold retention: %v", err)
	}
	return nil
}

// levelLocked returns the level that applies to subject (subject "" : the global level).
func (r *Registry) levelLocked(subject string) Level {
	if sub := r.mu.st.subjects[subject]; subject != "" && sub != nil && sub.level != "" {
		return sub.level
	}
	if r.mu.st.global != "" {
		return r.mu.st.global
	}
	return r.opts.Compatibility
}

// Register registers schema under subject and returns its id. A schema the subject
// already has (the same after normalization: whitespace and key order do not count)
// returns its id without a new version; a schema registered under another subject keeps
// its id. A new version must be compatible with the subject's earlier ones at the
// subject's level. Errors: ErrInvalidSchema, ErrIncompatibleSchema (naming every failed
// check), ErrStore.
func (r *Registry) Register(ctx context.Context, subjectName, schemaText string) (int, error) {
	if subjectName == "" {
		return 0, errorf(errUnprocessable, "the subject name is empty")
	}
	sc, err := parseSchema(schemaText)
	if err != nil {
		return 0, errorf(ErrInvalidSchema, "Invalid schema: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var id int
	err = r.writeLocked(ctx, func(st *state) error {
		existing, known := st.byNorm[sc.norm]
		sub := st.subjects[subjectName]
		if sub == nil {
			sub = &subject{}
		}
		if known && sub.liveByID(existing) != nil {
			id = existing
			return nil
		}
		level := r.levelLocked(subjectName)
		if msgs := incompatibilities(r.compat, level, sc.parsed, r.againstLocked(sub, level, Latest)); len(msgs) > 0 {
			return &Error{Code: ErrIncompatibleSchema.Code, Message: fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q, details: %v", subjectName, msgs)}
		}
		id = existing
		if !known {
			id = st.maxID + 1
		}
		if err := r.appendLocked(ctx, &record{Type: recSchema, Subject: subjectName, Version: sub.nextVersion(), ID: id, Schema: schemaText}); err != nil {
			return err
		}
		if s := r.mu.st.subjects[subjectName]; s == nil || s.liveByID(id) == nil {
			return errConcurrentRegistration
		}
		r.maybeSnapshotLocked(ctx)
		return nil
	})
	return id, err
}

// againstLocked lists the versions a candidate is checked against: with version Latest,
// the latest live version or, at a transitive level, every live version; else that one.
func (r *Registry) againstLocked(sub *subject, level Level, v int) []checked {
	live := sub.live()
	if level == None || len(live) == 0 {
		return nil
	}
	var out []checked
	for _, ver := range live {
		if (v == Latest && (level.transitive() || ver == live[len(live)-1])) || ver.version == v {
			out = append(out, checked{version: ver.version, id: ver.id, schema: r.mu.st.schemas[ver.id].parsed})
		}
	}
	return out
}

// Lookup returns the version of subject that has schema. Errors: ErrInvalidSchema,
// ErrSubjectNotFound, ErrSchemaNotFound.
func (r *Registry) Lookup(subjectName, schemaText string) (SubjectVersion, error) {
	sc, err := parseSchema(schemaText)
	if err != nil {
		return SubjectVersion{}, errorf(ErrInvalidSchema, "Invalid schema: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sub := r.mu.st.liveSubject(subjectName)
	if sub == nil {
		return SubjectVersion{}, errorf(ErrSubjectNotFound, "Subject '%s' not found.", subjectName)
	}
	if id, ok := r.mu.st.byNorm[sc.norm]; ok {
		if v := sub.liveByID(id); v != nil {
			return r.subjectVersionLocked(subjectName, v), nil
		}
	}
	return SubjectVersion{}, errorf(ErrSchemaNotFound, "Schema not found under subject '%s'.", subjectName)
}

func (r *Registry) subjectVersionLocked(name string, v *version) SubjectVersion {
	return SubjectVersion{Subject: name, Version: v.version, ID: v.id, Schema: r.mu.st.schemas[v.id].text}
}

// Subjects lists the subjects with a live version (and, with deleted, the soft-deleted
// ones too), sorted.
func (r *Registry) Subjects(deleted bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for name, sub := range r.mu.st.subjects {
		if len(sub.live()) > 0 || (deleted && len(sub.versions) > 0) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Versions lists the live versions of subject (with deleted, the soft-deleted ones too).
// Errors: ErrSubjectNotFound.
func (r *Registry) Versions(subjectName string, deleted bool) ([]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []int{}
	if sub := r.mu.st.subjects[subjectName]; sub != nil {
		for _, v := range sub.versions {
			if !v.deleted || deleted {
				out = append(out, v.version)
			}
		}
	}
	if len(out) == 0 {
		return nil, errorf(ErrSubjectNotFound, "Subject '%s' not found.", subjectName)
	}
	return out, nil
}

// Version returns a version of subject (Latest: its latest live version). Errors:
// ErrSubjectNotFound, ErrVersionNotFound.
func (r *Registry) Version(subjectName string, v int) (SubjectVersion, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sub := r.mu.st.liveSubject(subjectName)
	if sub == nil {
		return SubjectVersion{}, errorf(ErrSubjectNotFound, "Subject '%s' not found.", subjectName)
	}
	live := sub.live()
	if v == Latest {
		return r.subjectVersionLocked(subjectName, live[len(live)-1]), nil
	}
	for _, ver := range live {
		if ver.version == v {
			return r.subjectVersionLocked(subjectName, ver), nil
		}
	}
	return SubjectVersion{}, errorf(ErrVersionNotFound, "Version %d not found.", v)
}

// SchemaByID returns the text of the schema with id. Errors: ErrSchemaNotFound.
func (r *Registry) SchemaByID(id int) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := r.mu.st.schemas[id]
	if sc == nil {
		return "", r.schemaNotFound(id)
	}
	return sc.text, nil
}

func (r *Registry) schemaNotFound(id int) *Error {
	e := errorf(ErrSchemaNotFound, "Schema %d not found", id)
	e.cause = avroconn.ErrUnknownSchema
	return e
}

// UsagesByID lists the live subject versions that have the schema with id, sorted.
// Errors: ErrSchemaNotFound.
func (r *Registry) UsagesByID(id int) ([]SubjectVersion, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.st.schemas[id] == nil {
		return nil, r.schemaNotFound(id)
	}
	out := []SubjectVersion{}
	for name, sub := range r.mu.st.subjects {
		for _, v := range sub.live() {
			if v.id == id {
				out = append(out, r.subjectVersionLocked(name, v))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// GetSchema returns the parsed schema with id: the registry is an avroconn.IDResolver,
// for decoders in the same process. An unknown id fails with ErrSchemaNotFound, which
// wraps avroconn.ErrUnknownSchema.
func (r *Registry) GetSchema(_ context.Context, id int) (avro.Schema, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := r.mu.st.schemas[id]
	if sc == nil {
		return nil, r.schemaNotFound(id)
	}
	return sc.parsed, nil
}

// SchemaByFingerprint returns the registered schema whose Parsing Canonical Form has the
// CRC-64-AVRO fingerprint fp: the registry is an avroconn.FingerprintResolver, for
// single-object encoding. Errors: ErrSchemaNotFound (wrapping avroconn.ErrUnknownSchema).
func (r *Registry) SchemaByFingerprint(_ context.Context, fp uint64) (avro.Schema, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.mu.st.byFP[fp]
	if !ok {
		e := errorf(ErrSchemaNotFound, "no schema has fingerprint %#016x", fp)
		e.cause = avroconn.ErrUnknownSchema
		return nil, e
	}
	return r.mu.st.schemas[id].parsed, nil
}

// AllVersions as the version of CheckCompatibility checks against the versions the
// subject's level names: the latest, or every one at a transitive level.
const AllVersions = -2

// CheckCompatibility checks schema against a version of subject (Latest, AllVersions or
// a number) at the subject's level, and returns whether it is compatible and, if not,
// why. A subject without versions is compatible with anything, except that asking for a
// numbered version fails. Errors: ErrInvalidSchema, ErrSubjectNotFound,
// ErrVersionNotFound.
func (r *Registry) CheckCompatibility(subjectName string, v int, schemaText string) (bool, []string, error) {
	sc, err := parseSchema(schemaText)
	if err != nil {
		return false, nil, errorf(ErrInvalidSchema, "Invalid schema: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	level := r.levelLocked(subjectName)
	sub := r.mu.st.liveSubject(subjectName)
	if sub == nil {
		if v > 0 {
			return false, nil, errorf(ErrSubjectNotFound, "Subject '%s' not found.", subjectName)
		}
		return true, nil, nil
	}
	var against []checked
	switch v {
	case AllVersions:
		against = r.againstLocked(sub, level, Latest)
	case Latest:
		against = r.againstLocked(sub, level, sub.live()[len(sub.live())-1].version)
	default:
		if against = r.againstLocked(sub, Backward, v); len(against) == 0 {
			return false, nil, errorf(ErrVersionNotFound, "Version %d not found.", v)
		}
		if level == None {
			against = nil
		}
	}
	msgs := incompatibilities(r.compat, level, sc.parsed, against)
	return len(msgs) == 0, msgs, nil
}

// Compatibility returns the level of subject ("": the global level) and whether it is
// set for the subject itself.
func (r *Registry) Compatibility(subjectName string) (Level, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sub := r.mu.st.subjects[subjectName]
	return r.levelLocked(subjectName), subjectName != "" && sub != nil && sub.level != ""
}

// SetCompatibility sets the level of subject ("": the global level). Errors:
// ErrInvalidCompatibility, ErrStore.
func (r *Registry) SetCompatibility(ctx context.Context, subjectName string, l Level) error {
	l, err := ParseLevel(string(l))
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeLocked(ctx, func(*state) error {
		if err := r.appendLocked(ctx, &record{Type: recConfig, Subject: subjectName, Compatibility: l}); err != nil {
			return err
		}
		r.maybeSnapshotLocked(ctx)
		return nil
	})
}

// ResetCompatibility removes the level set for subject ("": the global level, which
// returns to Options.Compatibility) and returns the level it had. Errors:
// ErrSubjectLevelNotSet (for a subject), ErrStore.
func (r *Registry) ResetCompatibility(ctx context.Context, subjectName string) (Level, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var old Level
	err := r.writeLocked(ctx, func(st *state) error {
		old = r.levelLocked(subjectName)
		if sub := st.subjects[subjectName]; subjectName != "" && (sub == nil || sub.level == "") {
			return errorf(ErrSubjectLevelNotSet, "Subject '%s' does not have subject-level compatibility configured", subjectName)
		}
		return r.appendLocked(ctx, &record{Type: recConfig, Subject: subjectName})
	})
	return old, err
}

// DeleteSubject deletes every version of subject and returns their numbers. A soft
// delete hides them (a later registration continues the version numbers); a permanent
// delete, allowed only after a soft one, forgets them. Schema ids stay resolvable either
// way, since messages in logs may still carry them. Errors: ErrSubjectNotFound,
// ErrSubjectSoftDeleted (soft-deleting again), ErrSubjectNotSoftDeleted, ErrStore.
func (r *Registry) DeleteSubject(ctx context.Context, subjectName string, permanent bool) ([]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var versions []int
	err := r.writeLocked(ctx, func(st *state) error {
		sub := st.subjects[subjectName]
		if sub == nil || len(sub.versions) == 0 {
			return errorf(ErrSubjectNotFound, "Subject '%s' not found.", subjectName)
		}
		live := sub.live()
		switch {
		case permanent && len(live) > 0:
			return errorf(ErrSubjectNotSoftDeleted, "Subject '%s' was not deleted first before being permanently deleted", subjectName)
		case !permanent && len(live) == 0:
			return errorf(ErrSubjectSoftDeleted, "Subject '%s' was soft deleted. Set permanent=true to delete permanently", subjectName)
		}
		for _, v := range sub.versions {
			versions = append(versions, v.version)
		}
		if err := r.appendLocked(ctx, &record{Type: recDelete, Subject: subjectName, Permanent: permanent}); err != nil {
			return err
		}
		r.maybeSnapshotLocked(ctx)
		return nil
	})
	return versions, err
}
