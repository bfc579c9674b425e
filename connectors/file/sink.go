package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/riffle-streams/riffle/internal/avrofile"
	"github.com/riffle-streams/riffle/stream"
)

// Codec compresses the blocks of an Avro container file.
type Codec string

// The codecs of Avro container files the sink writes (and the source reads).
const (
	CodecNull      Codec = "null"
	CodecDeflate   Codec = "deflate"
	CodecSnappy    Codec = "snappy"
	CodecZstandard Codec = "zstandard"
)

// DefaultPrefix is the default SinkOptions.Prefix.
const DefaultPrefix = "part"

// SinkOptions configures a file sink.
type SinkOptions struct {
	// Dir is the target directory, created if missing. Required. Give each sink its own
	// Dir, or its own Prefix: parts are named by prefix, subtask and epoch only.
	Dir string
	// Prefix starts the name of every part file: PREFIX-SUBTASK-EPOCH.avro (or .jsonl),
	// and .PREFIX-SUBTASK-EPOCH.inprogress while being written. It may not contain a path
	// separator or start with a dot. Keep it across runs of a job: recovery finds the
	// parts by it. Default DefaultPrefix.
	Prefix string

	// Schema is the Avro writer schema of the parts. Required for Avro, unset for JSON
	// lines.
	Schema avro.Schema
	// Codec compresses Avro blocks. Default CodecNull.
	Codec Codec
	// CompressionLevel is the deflate (1-9) or zstandard (1-22) level. Default 0: the
	// codec's default.
	CompressionLevel int
	// BlockSize is the uncompressed size at which an Avro block is written (the
	// container file's sync interval). Default 64000 bytes.
	BlockSize int

	// Logger receives what Recover did. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults (the Avro ones only matter to an
// Avro sink).
func (o *SinkOptions) EnsureDefaults() {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// validate reports every problem of the options, for a sink of Avro files or of JSON
// lines, at once (NewAvroSink and NewJSONSink call it after EnsureDefaults).
func (o *SinkOptions) validate(avroParts bool) error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("no Dir"))
	}
	if p := o.Prefix; p == "" || strings.HasPrefix(p, ".") || strings.ContainsAny(p, `/\`) || strings.ContainsRune(p, os.PathSeparator) {
		errs = append(errs, fmt.Errorf("Prefix %q: want a file name that does not start with a dot", p))
	}
	if avroParts {
		if o.Schema == nil {
			errs = append(errs, errors.New("no Schema: an Avro sink needs its writer schema"))
		}
		wo := o.writerOptions()
		wo.EnsureDefaults()
		if err := wo.Validate(); err != nil {
			errs = append(errs, errors.Unwrap(err)) // without avrofile's prefix
		}
	} else {
		if o.Schema != nil {
			errs = append(errs, errors.New("Schema is for Avro sinks"))
		}
		if o.Codec != "" || o.CompressionLevel != 0 || o.BlockSize != 0 {
			errs = append(errs, errors.New("Codec, CompressionLevel and BlockSize are for Avro sinks"))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("file: invalid sink options: %w", errors.Join(errs...))
}

func (o *SinkOptions) writerOptions() avrofile.WriterOptions {
	return avrofile.WriterOptions{Codec: avrofile.Codec(o.Codec), CompressionLevel: o.CompressionLevel, SyncInterval: o.BlockSize}
}

// Sink writes a stream into part files in a directory: Avro Object Container Files or
// JSON lines. Make one with NewAvroSink or NewJSONSink.
//
// In a checkpointed job (stream.JobOptions.Checkpoints) it is exactly-once, a
// stream.TwoPhaseCommitSink: each subtask writes the records of epoch e into the hidden
// in-progress part .PREFIX-SUBTASK-e.inprogress; when barrier e arrives it completes the
// part (flush, fsync, close; PreCommit) and the checkpoint stores the part's name; once
// e committed, CommitEpoch renames every part of e to PREFIX-SUBTASK-e.EXT and fsyncs
// the directory. An epoch without records leaves no file. After a crash, Recover
// publishes the parts of the last committed epoch that were not renamed yet and deletes
// the in-progress parts of later epochs, whose records the job reads again. So a
// published file is always complete, and no record is published twice: readers should
// read the published files only (the glob PREFIX-*.EXT does: in-progress names start
// with a dot).
//
// Without checkpoints it is at-least-once: each subtask writes one in-progress part
// and publishes it when it closes, as PREFIX-SUBTASK-rNANOS.EXT (a time-stamped name
// that never collides with an earlier run's); a run that fails before does not publish,
// and leaves its in-progress part behind.
type Sink[T any] struct {
	opts   SinkOptions
	ext    string
	avro   bool
	encode func(T) ([]byte, error) // JSON lines
}

var _ stream.TwoPhaseCommitSink = (*Sink[int])(nil)

// NewAvroSink returns a sink writing Avro container files of opts.Schema (required).
// Records are encoded by hamba/avro: T is a struct with `avro:"field"` tags, a
// map[string]any, or a generic value of the schema. A record that does not match the
// schema fails the job.
func NewAvroSink[T any](opts SinkOptions) (*Sink[T], error) {
	opts.EnsureDefaults()
	if err := opts.validate(true); err != nil {
		return nil, err
	}
	return &Sink[T]{opts: opts, ext: ".avro", avro: true}, nil
}

// NewJSONSink returns a sink writing JSON lines (.jsonl), each record encoded by encode
// (nil: encoding/json), which must not write a line end.
func NewJSONSink[T any](opts SinkOptions, encode func(T) ([]byte, error)) (*Sink[T], error) {
	opts.EnsureDefaults()
	if err := opts.validate(false); err != nil {
		return nil, err
	}
	if encode == nil {
		encode = func(v T) ([]byte, error) { return json.Marshal(v) }
	}
	return &Sink[T]{opts: opts, ext: ".jsonl", encode: encode}, nil
}

// Dir returns the target directory.
func (s *Sink[T]) Dir() string { return s.opts.Dir }

// Glob returns the pattern matching the published parts (for a source reading them).
func (s *Sink[T]) Glob() string { return filepath.Join(s.opts.Dir, s.opts.Prefix+"-*"+s.ext) }

// Open implements stream.Sink: it creates Dir if needed and returns subtask's writer.
func (s *Sink[T]) Open(ctx stream.Context) (stream.SinkWriter[T], error) {
	if err := os.MkdirAll(s.opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("file: sink: %w", err)
	}
	w := &writer[T]{s: s, sub: ctx.Subtask()}
	if txns := stream.Transactions(ctx); txns != nil {
		w.ckpt, w.epoch = true, txns.FirstEpoch()
	}
	return w, nil
}

// --- names ---

// inProgressName is the name of subtask sub's part of epoch e while being written.
func (s *Sink[T]) inProgressName(sub int, e uint64) string {
	return "." + s.opts.Prefix + "-" + strconv.Itoa(sub) + "-" + strconv.FormatUint(e, 10) + ".inprogress"
}

// finalName is the published name of subtask sub's part of epoch e.
func (s *Sink[T]) finalName(sub int, e uint64) string {
	return s.opts.Prefix + "-" + strconv.Itoa(sub) + "-" + strconv.FormatUint(e, 10) + s.ext
}

// parseName parses a name of the checkpointed scheme: the in-progress form
// (inProgress) or the published one, with its subtask and epoch. Names of other
// prefixes, of the at-least-once scheme (rNANOS) and of other extensions do not parse.
func (s *Sink[T]) parseName(name string, inProgress bool) (sub int, e uint64, ok bool) {
	pre, suf := s.opts.Prefix+"-", s.ext
	if inProgress {
		pre, suf = "."+pre, ".inprogress"
	}
	mid, ok := strings.CutPrefix(name, pre)
	if !ok {
		return 0, 0, false
	}
	if mid, ok = strings.CutSuffix(mid, suf); !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(mid, "-")
	if !ok || !digits(a) || !digits(b) {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(a)
	e, err2 := strconv.ParseUint(b, 10, 64)
	return n, e, err1 == nil && err2 == nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// --- the second phase and recovery ---

// CommitEpoch implements stream.TwoPhaseCommitSink: it renames epoch's parts (handles
// are their in-progress names; empty ones, of subtasks without records, are skipped) to
// their published names and fsyncs the directory. A part already renamed is fine, so a
// repeated call does nothing. Returns ErrPartLost if a part is neither in progress nor
// published, and ErrForeignParts if both exist (a published file is never overwritten).
func (s *Sink[T]) CommitEpoch(_ context.Context, epoch uint64, handles [][]byte) error {
	_, err := s.commit(epoch, handles)
	return err
}

func (s *Sink[T]) commit(epoch uint64, handles [][]byte) (published int, err error) {
	for _, h := range handles {
		if len(h) == 0 {
			continue
		}
		name := string(h)
		sub, _, ok := s.parseName(name, true)
		if !ok {
			return published, fmt.Errorf("file: sink %s: epoch %d: handle %q is not an in-progress part of this sink (did Prefix change between runs?)", s.opts.Dir, epoch, name)
		}
		did, err := s.publish(name, s.finalName(sub, epoch))
		if err != nil {
			return published, fmt.Errorf("file: sink %s: epoch %d: %w", s.opts.Dir, epoch, err)
		}
		if did {
			published++
		}
	}
	if published > 0 {
		if err := syncDir(s.opts.Dir); err != nil {
			return published, fmt.Errorf("file: sink %s: epoch %d: %w", s.opts.Dir, epoch, err)
		}
	}
	return published, nil
}

// publish renames part from to its published name to, unless that was done already.
func (s *Sink[T]) publish(from, to string) (bool, error) {
	src, dst := filepath.Join(s.opts.Dir, from), filepath.Join(s.opts.Dir, to)
	srcOK, err := exists(src)
	if err != nil {
		return false, err
	}
	dstOK, err := exists(dst)
	if err != nil {
		return false, err
	}
	switch {
	case srcOK && dstOK:
		return false, fmt.Errorf("%w: both %s and %s exist: not overwriting the published part", ErrForeignParts, from, to)
	case srcOK:
		return true, os.Rename(src, dst)
	case dstOK:
		return false, nil // published before
	default:
		return false, fmt.Errorf("%w: neither %s nor %s exists", ErrPartLost, from, to)
	}
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Recover implements stream.TwoPhaseCommitSink. Called before a checkpointed job
// starts, with the last committed epoch (0: none) and its handles, it
//
//  1. fails with ErrForeignParts if Dir holds a published part of an epoch after epoch:
//     this job cannot have published it (another job with the same Dir and Prefix, or
//     this job after its checkpoints were lost), and would overwrite it;
//  2. publishes epoch's parts not renamed yet (CommitEpoch);
//  3. deletes the in-progress parts of later epochs (their records are read again),
//     only of this sink's naming scheme (Prefix), and fsyncs the directory.
//
// An in-progress part of an epoch up to epoch that the handles do not name (the
// checkpoint stores handles under the sink operator's name: keep it stable) is
// committed output, and is published with a warning.
//
// It is idempotent.
func (s *Sink[T]) Recover(_ context.Context, epoch uint64, handles [][]byte) error {
	dir := s.opts.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("file: sink: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("file: sink: %w", err)
	}
	var foreign []string
	for _, ent := range entries {
		if _, e, ok := s.parseName(ent.Name(), false); ok && e > epoch {
			foreign = append(foreign, ent.Name())
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%w: %s holds %s (%d files), of epochs after %d, the last epoch this job committed: another job (or this one, with its checkpoints lost) published them; give this sink another Dir or Prefix, or move them away",
			ErrForeignParts, dir, foreign[0], len(foreign), epoch)
	}
	published := 0
	if epoch > 0 {
		if published, err = s.commit(epoch, handles); err != nil {
			return err
		}
	}
	pending := make(map[string]bool, len(handles))
	for _, h := range handles {
		pending[string(h)] = true
	}
	deleted, orphans := 0, 0
	for _, ent := range entries {
		name := ent.Name()
		sub, e, ok := s.parseName(name, true)
		switch {
		case !ok || pending[name]:
		case e > epoch:
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("file: sink: deleting an uncommitted part: %w", err)
			}
			deleted++
		default:
			// A part of epoch e exists only once barrier e reached its writer, which then
			// pre-committed it; e <= epoch committed, and CommitEpoch ran for every epoch
			// before the last. So this part is committed output whose handle the
			// checkpoint does not have under this sink's name: the sink operator was
			// renamed. Publishing it is right; deleting it would lose its records.
			if _, err := s.publish(name, s.finalName(sub, e)); err != nil {
				return fmt.Errorf("file: sink %s: %w", dir, err)
			}
			orphans++
			s.opts.Logger.Warn("file sink: published a part of a committed epoch that the checkpoint does not name under this sink (was the sink operator renamed?)",
				"dir", dir, "file", name, "epoch", e, "last_committed", epoch)
		}
	}
	published += orphans
	if deleted > 0 || orphans > 0 {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("file: sink: %w", err)
		}
	}
	if published > 0 || deleted > 0 {
		s.opts.Logger.Info("file sink recovered", "dir", dir, "epoch", epoch, "published", published, "deleted_uncommitted", deleted)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// --- the writer ---

// writer is one subtask's writer; the sink operator's goroutine owns it.
type writer[T any] struct {
	s      *Sink[T]
	sub    int
	ckpt   bool   // checkpointed: parts are published by CommitEpoch
	epoch  uint64 // checkpointed: the epoch of the records written now
	p      *part  // the open part, nil before the first record of an epoch
	closed bool
}

// part is an in-progress part file.
type part struct {
	name  string // in Dir
	final string // at-least-once: the published name
	f     *os.File
	aw    *avrofile.Writer // Avro
	bw    *bufio.Writer    // JSON lines
}

var _ stream.PreCommitter = (*writer[int])(nil)

func (w *writer[T]) open() error {
	s := w.s
	p := &part{}
	if w.ckpt {
		p.name = s.inProgressName(w.sub, w.epoch)
	} else {
		id := s.opts.Prefix + "-" + strconv.Itoa(w.sub) + "-r" + strconv.FormatInt(time.Now().UnixNano(), 10)
		p.name, p.final = "."+id+".inprogress", id+s.ext
	}
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, p.name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("file: sink: %w", err)
	}
	p.f = f
	if s.avro {
		p.aw, err = avrofile.NewWriter(f, s.opts.Schema, s.opts.writerOptions())
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			return fmt.Errorf("file: sink: %s: %w", p.name, err)
		}
	} else {
		p.bw = bufio.NewWriterSize(f, 64<<10)
	}
	w.p = p
	return nil
}

// Write implements stream.SinkWriter.
func (w *writer[T]) Write(r stream.Record[T]) error {
	if w.closed {
		return ErrClosed
	}
	if w.p == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	p := w.p
	if p.aw != nil {
		if err := p.aw.Append(r.Value); err != nil {
			return fmt.Errorf("file: sink: %s: %w", p.name, err)
		}
		return nil
	}
	b, err := w.s.encode(r.Value)
	if err != nil {
		return fmt.Errorf("file: sink: %s: encoding a record: %w", p.name, err)
	}
	if bytes.IndexByte(b, '\n') >= 0 {
		return fmt.Errorf("file: sink: %s: the encoding of a record holds a line end", p.name)
	}
	if _, err := p.bw.Write(b); err != nil {
		return fmt.Errorf("file: sink: %w", err)
	}
	if err := p.bw.WriteByte('\n'); err != nil {
		return fmt.Errorf("file: sink: %w", err)
	}
	return nil
}

// finish makes the part complete and durable, and closes it.
func (p *part) finish() error {
	var err error
	if p.aw != nil {
		err = p.aw.Close()
	} else {
		err = p.bw.Flush()
	}
	if err == nil {
		err = p.f.Sync()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("file: sink: %s: %w", p.name, err)
	}
	return nil
}

// PreCommit implements stream.PreCommitter: it completes epoch's part (flush, fsync,
// close) and returns its name as the handle, or nil if the epoch had no records.
func (w *writer[T]) PreCommit(epoch uint64) ([]byte, error) {
	if w.closed {
		return nil, ErrClosed
	}
	p := w.p
	w.p, w.epoch = nil, epoch+1
	if p == nil {
		return nil, nil
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	if want := w.s.inProgressName(w.sub, epoch); p.name != want {
		// Barriers come in order, one per epoch, so this does not happen; if it did, the
		// name must still tell Recover which epoch the part belongs to.
		if err := os.Rename(filepath.Join(w.s.opts.Dir, p.name), filepath.Join(w.s.opts.Dir, want)); err != nil {
			return nil, fmt.Errorf("file: sink: %w", err)
		}
		p.name = want
	}
	// The part's directory entry must be durable before the epoch commits with its name.
	if err := syncDir(w.s.opts.Dir); err != nil {
		return nil, fmt.Errorf("file: sink: %w", err)
	}
	return []byte(p.name), nil
}

// Close implements stream.SinkWriter. Without checkpoints it publishes the part; with
// checkpoints a part still open holds records of an epoch that was not pre-committed
// (the job failed or was cancelled): it is deleted, and the next run writes them again.
// Close is idempotent.
func (w *writer[T]) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	p := w.p
	w.p = nil
	if p == nil {
		return nil
	}
	if w.ckpt {
		if p.aw != nil {
			_ = p.aw.Close()
		}
		_ = p.f.Close()
		if err := os.Remove(filepath.Join(w.s.opts.Dir, p.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("file: sink: %w", err)
		}
		return nil
	}
	if err := p.finish(); err != nil {
		return err
	}
	if _, err := w.s.publish(p.name, p.final); err != nil {
		return fmt.Errorf("file: sink: %w", err)
	}
	if err := syncDir(w.s.opts.Dir); err != nil {
		return fmt.Errorf("file: sink: %w", err)
	}
	return nil
}
