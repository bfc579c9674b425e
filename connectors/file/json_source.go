package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/riffle-streams/riffle/stream"
)

type jsonReader[T any] struct {
	path   string
	opts   *SourceOptions
	f      *os.File
	br     *bufio.Reader
	decode func([]byte) (T, error)

	next    int64  // Offset: the number of the next line
	off     int64  // its byte offset
	long    []byte // a line longer than br's buffer, assembled
	tooLong bool   // the line just read exceeded MaxLineSize
	done    bool
	err     error // sticky
}

func openJSONLines[T any](path string, opts *SourceOptions, decode func([]byte) (T, error)) (stream.SplitReader[T], error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return &jsonReader[T]{path: path, opts: opts, f: f, br: bufio.NewReaderSize(f, 64<<10), decode: decode}, nil
}

// readLine returns the next line without its line end ("\n" or "\r\n") and the byte
// offset where it starts; io.EOF at the end. The line is valid until the next call. A
// line longer than MaxLineSize is consumed and returned empty with r.tooLong set.
func (r *jsonReader[T]) readLine() ([]byte, int64, error) {
	start := r.off
	r.tooLong = false
	r.long = r.long[:0]
	var line []byte
	for first := true; ; first = false {
		chunk, err := r.br.ReadSlice('\n')
		r.off += int64(len(chunk))
		switch {
		case r.tooLong:
		case len(r.long)+len(chunk) > r.opts.MaxLineSize+2: // the line end may follow the limit
			r.tooLong, r.long = true, r.long[:0]
		case first && err == nil:
			line = chunk // the common case: no copy
		default:
			r.long = append(r.long, chunk...)
			line = r.long
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if r.off == start {
				return nil, start, io.EOF
			}
			break // the last line has no line end
		}
		return nil, start, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if !r.tooLong && len(line) > r.opts.MaxLineSize {
		r.tooLong = true
	}
	if r.tooLong {
		return nil, start, nil
	}
	return line, start, nil
}

// Read implements stream.SplitReader.
func (r *jsonReader[T]) Read(buf []stream.Record[T]) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := 0
	for n < len(buf) && !r.done {
		line, start, err := r.readLine()
		if errors.Is(err, io.EOF) {
			r.done = true
			break
		}
		if err != nil {
			r.err = &Error{Path: r.path, Block: -1, Offset: start, Record: r.next, Err: err, lines: true}
			return n, r.err
		}
		idx := r.next
		r.next++
		if r.tooLong {
			e := &Error{Path: r.path, Block: -1, Offset: start, Record: idx, Kind: ErrTooLarge,
				Err: fmt.Errorf("line longer than %d bytes", r.opts.MaxLineSize), lines: true}
			if err := deadLetter(r.opts, DeadLetter{Err: e, First: idx, Lost: 1}); err != nil {
				r.err = err
				return n, err
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		v, err := r.decode(line)
		if err != nil {
			e := &Error{Path: r.path, Block: -1, Offset: start, Record: idx, Kind: ErrDecode, Err: eofFree(err), lines: true}
			if err := deadLetter(r.opts, DeadLetter{Err: e, Raw: bytes.Clone(line), First: idx, Lost: 1}); err != nil {
				r.err = err
				return n, err
			}
			continue
		}
		buf[n] = stream.Record[T]{Value: v, Timestamp: stream.NoTimestamp}
		n++
	}
	if r.done {
		return n, io.EOF
	}
	return n, nil
}

// SeekTo implements stream.Seeker: it reads past offset lines from the file's start. It
// fails if the file has fewer lines (it changed since the checkpoint).
func (r *jsonReader[T]) SeekTo(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("file: %s: negative offset %d", r.path, offset)
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("file: %s: %w", r.path, err)
	}
	r.br.Reset(r.f)
	r.next, r.off, r.done, r.err = 0, 0, false, nil
	for r.next < offset {
		chunk, err := r.br.ReadSlice('\n')
		r.off += int64(len(chunk))
		switch {
		case err == nil:
			r.next++
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if len(chunk) > 0 {
				r.next++ // a last line without line end
			}
			if r.next < offset {
				return fmt.Errorf("file: %s: cannot resume at line %d: the file has %d lines (did it change?)", r.path, offset, r.next)
			}
		default:
			return fmt.Errorf("file: %s: %w", r.path, err)
		}
	}
	return nil
}

// Offset implements stream.SplitReader: the 0-based number of the next line.
func (r *jsonReader[T]) Offset() int64 { return r.next }

// Wait implements stream.SplitReader; a file never makes its reader wait.
func (r *jsonReader[T]) Wait(ctx context.Context) error { return ctx.Err() }

// Close closes the file. It is idempotent.
func (r *jsonReader[T]) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
