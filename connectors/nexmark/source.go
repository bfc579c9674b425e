package nexmark

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/riffle-streams/riffle/stream"
)

// GeneratorSource is a bounded stream.Source of generated events, split into Parallel
// slices of the one sequence (event i goes to split i mod Parallel), so the output is the
// same at any parallelism. Records carry their event time.
type GeneratorSource struct {
	Config GeneratorConfig
	// Parallel is how many splits (parallel readers) the sequence is cut into. Default 1.
	Parallel int
}

// Splits lists "0", "1", ...
func (s *GeneratorSource) Splits(context.Context) ([]string, error) {
	n := max(s.Parallel, 1)
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out, nil
}

// Open returns the reader of one split.
func (s *GeneratorSource) Open(_ context.Context, split string) (stream.SplitReader[Event], error) {
	i, err := strconv.Atoi(split)
	n := max(s.Parallel, 1)
	if err != nil || i < 0 || i >= n {
		return nil, fmt.Errorf("nexmark: no split %q of %d", split, n)
	}
	g, err := NewGenerator(s.Config)
	if err != nil {
		return nil, err
	}
	return &genReader{g: g.Split(n)[i]}, nil
}

type genReader struct {
	g   *Generator
	ev  Event
	off int64
}

func (r *genReader) Read(buf []stream.Record[Event]) (int, error) {
	n := 0
	for n < len(buf) {
		if !r.g.Next(&r.ev) {
			return n, io.EOF
		}
		buf[n] = stream.Record[Event]{Value: r.ev.Clone(), Timestamp: r.ev.EventTime()}
		n++
		r.off++
	}
	return n, nil
}

func (r *genReader) Offset() int64                  { return r.off }
func (r *genReader) Wait(ctx context.Context) error { return ctx.Err() }
func (r *genReader) Close() error                   { return nil }

// FileSource is a bounded stream.Source of the events of an Avro container file, in one
// split; offsets are record numbers.
type FileSource struct{ Path string }

// Splits returns the one split, the file's path.
func (s *FileSource) Splits(context.Context) ([]string, error) { return []string{s.Path}, nil }

// Open opens the file.
func (s *FileSource) Open(context.Context, string) (stream.SplitReader[Event], error) {
	rd, err := OpenFile(s.Path)
	if err != nil {
		return nil, err
	}
	return &fileReader{r: rd}, nil
}

type fileReader struct {
	r   *Reader
	ev  Event
	off int64
}

func (f *fileReader) Read(buf []stream.Record[Event]) (int, error) {
	n := 0
	for n < len(buf) {
		if !f.r.Next(&f.ev) {
			if err := f.r.Err(); err != nil {
				return n, err
			}
			return n, io.EOF
		}
		buf[n] = stream.Record[Event]{Value: f.ev.Clone(), Timestamp: f.ev.EventTime()}
		n++
		f.off++
	}
	return n, nil
}

func (f *fileReader) Offset() int64                  { return f.off }
func (f *fileReader) Wait(ctx context.Context) error { return ctx.Err() }
func (f *fileReader) Close() error                   { return f.r.Close() }
