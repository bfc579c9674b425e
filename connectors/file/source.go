package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/hamba/avro/v2"

	"github.com/riffle-streams/riffle/internal/avrofile"
	"github.com/riffle-streams/riffle/stream"
)

// DefaultMaxLineSize is the default SourceOptions.MaxLineSize: 16 MiB.
const DefaultMaxLineSize = 16 << 20

// SourceOptions configures a file source.
type SourceOptions struct {
	// Paths lists input files, read in this order of splits. Default: none.
	Paths []string
	// Glob adds the files matching a filepath.Match pattern ("in/*.avro"), sorted, after
	// Paths (a file in both is read once). It is expanded by every run of the job, so
	// files added between runs are read from their start. Default: none. Paths and Glob
	// together must name at least one file.
	Glob string

	// Schema is the Avro reader schema: each file's writer schema is resolved against
	// it (Avro's schema resolution: defaults for added fields, promotions, aliases), and
	// records are decoded into T in its shape. A file it cannot read fails with
	// ErrIncompatibleSchema. Default nil: each file is decoded with its own writer
	// schema. Avro only.
	Schema avro.Schema
	// MaxBlockSize bounds an Avro file's metadata and each block, compressed and not
	// (ErrTooLarge beyond). Default 64 MiB.
	MaxBlockSize int
	// MaxLineSize bounds one line of a JSON-lines file (ErrTooLarge beyond). Default
	// DefaultMaxLineSize.
	MaxLineSize int

	// DeadLetter, when set, receives what the source cannot read (a record that does not
	// decode, a corrupt block, a truncated file) and the source goes on after it;
	// returning an error fails the job with that error. Nothing is skipped without a
	// call. Default nil: the first problem fails the job with an *Error naming the file
	// and the position. Each source subtask calls it from its own goroutine: it must be
	// safe for concurrent use when the source's parallelism is above 1.
	DeadLetter func(DeadLetter) error
}

// EnsureDefaults fills zero fields with their defaults.
func (o *SourceOptions) EnsureDefaults() {
	if o.MaxBlockSize == 0 {
		o.MaxBlockSize = avrofile.DefaultMaxBlockSize
	}
	if o.MaxLineSize == 0 {
		o.MaxLineSize = DefaultMaxLineSize
	}
}

// Validate reports every problem of the options at once. Call it after EnsureDefaults.
func (o *SourceOptions) Validate() error {
	var errs []error
	if len(o.Paths) == 0 && o.Glob == "" {
		errs = append(errs, errors.New("no input: set Paths or Glob"))
	}
	for i, p := range o.Paths {
		if p == "" {
			errs = append(errs, fmt.Errorf("Paths[%d] is empty", i))
		}
	}
	if o.Glob != "" {
		if _, err := filepath.Match(o.Glob, ""); err != nil {
			errs = append(errs, fmt.Errorf("Glob %q: %w", o.Glob, err))
		}
	}
	if o.MaxBlockSize < 0 {
		errs = append(errs, fmt.Errorf("negative MaxBlockSize %d", o.MaxBlockSize))
	}
	if o.MaxLineSize < 0 {
		errs = append(errs, fmt.Errorf("negative MaxLineSize %d", o.MaxLineSize))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("file: invalid source options: %w", errors.Join(errs...))
}

// Source is a bounded stream.Source over files, one split per file, named by its path.
// A split's offsets are record numbers: the record's index in an Avro file, the 0-based
// line number in a JSON-lines file. Its readers implement stream.Seeker, so a
// checkpointed job resumes each file where its last checkpoint left it: an Avro reader
// skips whole blocks by their record counts without decompressing them, a JSON-lines
// reader skips lines. Records carry no timestamp (set WatermarkStrategy.Timestamp).
//
// Make one with NewAvroSource or NewJSONSource.
type Source[T any] struct {
	opts   SourceOptions
	decode func([]byte) (T, error) // JSON lines; nil for Avro
	lines  bool
}

// NewAvroSource returns a source reading Avro Object Container Files (codecs null,
// deflate, snappy, zstandard) into T.
//
// T is what hamba/avro decodes into: a struct with `avro:"field"` tags, a
// map[string]any, or any (then values are internal/avrofile's generic form, in which
// every non-null union value is a one-entry map naming its branch, the same shape
// whatever the union). Records are decoded with the file's writer schema resolved
// against opts.Schema when set, never with a reader schema alone.
func NewAvroSource[T any](opts SourceOptions) (*Source[T], error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Source[T]{opts: opts}, nil
}

// NewJSONSource returns a source reading JSON-lines files: one record per line, decoded
// by decode (nil: encoding/json into T). Lines holding only white space are skipped
// (they count as lines: offsets stay line numbers); a line may end in "\r\n"; the last
// line needs no line end. The slice decode gets is only valid during the call.
func NewJSONSource[T any](opts SourceOptions, decode func([]byte) (T, error)) (*Source[T], error) {
	opts.EnsureDefaults()
	err := opts.Validate()
	if opts.Schema != nil {
		err = errors.Join(err, errors.New("file: invalid source options: Schema is for Avro sources"))
	}
	if err != nil {
		return nil, err
	}
	if decode == nil {
		decode = func(b []byte) (T, error) {
			var v T
			err := json.Unmarshal(b, &v)
			return v, err
		}
	}
	return &Source[T]{opts: opts, decode: decode, lines: true}, nil
}

// Splits lists the files: Paths, then the Glob's matches in lexical order, each once.
// It fails if there is none.
func (s *Source[T]) Splits(context.Context) ([]string, error) {
	return s.Files()
}

// Files lists the files the source reads now (see Splits).
func (s *Source[T]) Files() ([]string, error) {
	out := slices.Clone(s.opts.Paths)
	if s.opts.Glob != "" {
		m, err := filepath.Glob(s.opts.Glob)
		if err != nil {
			return nil, fmt.Errorf("file: glob %q: %w", s.opts.Glob, err)
		}
		slices.Sort(m)
		out = append(out, m...)
	}
	seen := make(map[string]bool, len(out))
	files := out[:0]
	for _, p := range out {
		if c := filepath.Clean(p); !seen[c] {
			seen[c] = true
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("file: no input files match %q", s.opts.Glob)
	}
	return files, nil
}

// Open opens the file split names. A file that cannot be opened fails; an Avro file
// whose header is corrupt fails with an *Error, or, with a DeadLetter, is reported and
// read as empty.
func (s *Source[T]) Open(_ context.Context, split string) (stream.SplitReader[T], error) {
	if s.lines {
		return openJSONLines(split, &s.opts, s.decode)
	}
	return openAvro[T](split, &s.opts)
}

// deadLetter hands d to the source's DeadLetter, or returns d.Err when there is none.
func deadLetter(o *SourceOptions, d DeadLetter) error {
	if o.DeadLetter == nil {
		return d.Err
	}
	return eofFree(o.DeadLetter(d))
}
