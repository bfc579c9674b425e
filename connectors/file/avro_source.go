package file

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hamba/avro/v2"

	"github.com/riffle-streams/riffle/internal/avrofile"
	"github.com/riffle-streams/riffle/stream"
)

// An Avro split reader reads its file with an avrofile.Reader, which checks every block
// (sizes, sync marker, decompression, checksum, record count, leftover bytes) and names
// file, block and record in its errors. To start at a block in the middle of the file
// (SeekTo, or going on after a corrupt block) it walks the blocks' framing from the
// header on (record count and byte size of each, and the sync marker after it: no
// decompression, no decoding) and opens a new avrofile.Reader over the header's bytes
// followed by the file from that block on; the positions that reader reports are
// translated back (blockPos).

// blockPos is where an avrofile.Reader's input starts in the file: block index, byte
// offset and the index of its first record.
type blockPos struct{ block, offset, record int64 }

type avroReader[T any] struct {
	path string
	opts *SourceOptions
	f    *os.File
	size int64 // the file's size when opened: appended data is not read
	hdr  *avrofile.Header
	head []byte // the header's bytes

	rd   *avrofile.Reader
	base blockPos
	dec  int64 // records rd decoded
	last avrofile.Position

	next    int64 // Offset: the split offset of the next record Read returns
	discard int64 // records to decode and drop first (SeekTo into a block): next-discard is rd's position
	done    bool
	dead    bool  // the header was lost (dead-lettered): the file reads as empty
	err     error // sticky

	conv func(any) (T, error)
}

func openAvro[T any](path string, opts *SourceOptions) (stream.SplitReader[T], error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("file: %w", err)
	}
	r := &avroReader[T]{path: path, opts: opts, f: f, size: st.Size()}
	rd, err := avrofile.NewReader(io.NewSectionReader(f, 0, r.size), r.readerOptions())
	if err != nil {
		e := avroError(path, err, blockPos{}, 0)
		if e.Kind == nil { // reading failed: not the file's fault
			_ = f.Close()
			return nil, e
		}
		if err := deadLetter(opts, DeadLetter{Err: e, First: 0, Lost: -1}); err != nil {
			_ = f.Close()
			return nil, err
		}
		r.dead, r.done = true, true
		return r, nil
	}
	r.hdr = rd.Header()
	r.head = make([]byte, r.hdr.Size)
	if _, err := f.ReadAt(r.head, 0); err != nil {
		_ = rd.Close()
		_ = f.Close()
		return nil, fmt.Errorf("file: %s: reading the header: %w", path, err)
	}
	r.rd, r.base = rd, blockPos{offset: r.hdr.Size}
	r.conv = converter[T](rd.Schema(), opts.MaxBlockSize)
	return r, nil
}

func (r *avroReader[T]) readerOptions() avrofile.ReaderOptions {
	return avrofile.ReaderOptions{Name: r.path, ReaderSchema: r.opts.Schema, MaxBlockSize: r.opts.MaxBlockSize}
}

// Read implements stream.SplitReader.
func (r *avroReader[T]) Read(buf []stream.Record[T]) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := 0
	for n < len(buf) && !r.done {
		if !r.rd.Next() {
			if err := r.rd.Err(); err != nil {
				if err := r.skipBad(err); err != nil {
					r.err = err
					return n, err
				}
				continue
			}
			r.done = true
			break
		}
		r.dec++
		r.last = r.rd.Position()
		if r.discard > 0 {
			r.discard--
			continue
		}
		idx := r.next
		r.next++
		v, err := r.conv(r.rd.Value())
		if err != nil {
			e := &Error{Path: r.path, Block: r.base.block + r.last.Block, Offset: r.base.offset + r.last.BlockOffset - r.hdr.Size,
				Record: idx, Kind: ErrDecode, Err: eofFree(err)}
			if err := deadLetter(r.opts, DeadLetter{Err: e, First: idx, Lost: 1}); err != nil {
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

// skipBad handles an error of rd: without a DeadLetter it is the error; with one, the
// records it costs are reported and reading goes on at the next block whose start is
// known, or the file ends.
func (r *avroReader[T]) skipBad(err error) error {
	e := avroError(r.path, err, r.base, r.hdr.Size)
	if e.Kind == nil || r.opts.DeadLetter == nil {
		return e // I/O errors are not the data's fault: they always fail
	}
	pos := r.base.record + r.dec // the record rd failed on, or the first of the failed block
	from := max(pos, r.next)     // the first record lost that was not returned yet
	restOfFile := func() error {
		r.done = true
		return deadLetter(r.opts, DeadLetter{Err: e, First: from, Lost: -1})
	}
	if e.Block < 0 || errors.Is(e, ErrTruncated) {
		return restOfFile()
	}
	// The failed block's own sync marker may be what is damaged: its sizes are trusted
	// if the block they lead to checks out (or they lead exactly to the end).
	count, end, ferr := r.frame(e.Offset, false)
	if ferr == nil && end < r.size {
		_, _, ferr = r.frame(end, true)
	}
	if ferr != nil {
		return restOfFile()
	}
	first := pos // the failed block's first record
	if r.dec > 0 && r.last.Block == e.Block-r.base.block {
		first = pos - r.last.InBlock - 1
	}
	after := first + count
	if after > from {
		if err := deadLetter(r.opts, DeadLetter{Err: e, First: from, Lost: after - from}); err != nil {
			return err
		}
	} // else a seek went past the block: its records were reported by the run that read them
	r.next = max(r.next, after)
	if err := r.reopen(blockPos{block: e.Block + 1, offset: end, record: after}); err != nil {
		return err
	}
	r.discard = r.next - after
	return nil
}

// frame reads the framing of the block at off: its record count, and where the next
// block starts. It checks what it can without reading the data: sizes within limits
// and within the file, and (strict) the sync marker at the block's end.
func (r *avroReader[T]) frame(off int64, strict bool) (count, end int64, err error) {
	var b [2 * binary.MaxVarintLen64]byte
	n, err := r.f.ReadAt(b[:min(int64(len(b)), r.size-off)], off)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return 0, 0, err
	}
	count, k1 := binary.Varint(b[:n])
	if k1 <= 0 {
		return 0, 0, errors.New("bad record count")
	}
	size, k2 := binary.Varint(b[k1:n])
	if k2 <= 0 {
		return 0, 0, errors.New("bad block size")
	}
	if count < 0 || size < 0 || size > int64(r.opts.MaxBlockSize) || count > int64(r.opts.MaxBlockSize) {
		return 0, 0, fmt.Errorf("block of %d records in %d bytes", count, size)
	}
	end = off + int64(k1+k2) + size + 16
	if end > r.size {
		return 0, 0, errors.New("block extends past the end of the file")
	}
	if !strict {
		return count, end, nil
	}
	var sync [16]byte
	if _, err := r.f.ReadAt(sync[:], end-16); err != nil {
		return 0, 0, err
	}
	if sync != r.hdr.Sync {
		return 0, 0, errors.New("sync marker mismatch")
	}
	return count, end, nil
}

// reopen starts reading at the block at p.
func (r *avroReader[T]) reopen(p blockPos) error {
	if r.rd != nil {
		_ = r.rd.Close()
		r.rd = nil
	}
	in := io.MultiReader(bytes.NewReader(r.head), io.NewSectionReader(r.f, p.offset, r.size-p.offset))
	rd, err := avrofile.NewReader(in, r.readerOptions())
	if err != nil {
		return avroError(r.path, err, blockPos{}, 0)
	}
	r.rd, r.base, r.dec, r.last = rd, p, 0, avrofile.Position{}
	r.done = p.offset >= r.size
	return nil
}

// SeekTo implements stream.Seeker: it skips whole blocks by their record counts, then
// decodes and drops the records before offset in its block. It fails if the file has
// fewer than offset records (it changed since the checkpoint).
func (r *avroReader[T]) SeekTo(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("file: %s: negative offset %d", r.path, offset)
	}
	if r.dead {
		return nil
	}
	p := blockPos{offset: r.hdr.Size}
	for p.offset < r.size {
		count, end, err := r.frame(p.offset, true)
		if err != nil {
			break // reading from here reports it
		}
		if p.record+count > offset {
			break
		}
		p = blockPos{block: p.block + 1, offset: end, record: p.record + count}
	}
	if p.offset >= r.size && p.record < offset {
		return fmt.Errorf("file: %s: cannot resume at record %d: the file has %d records (did it change?)", r.path, offset, p.record)
	}
	if err := r.reopen(p); err != nil {
		return err
	}
	r.err = nil
	r.next, r.discard = offset, offset-p.record
	return nil
}

// Offset implements stream.SplitReader: the record number of the next record.
func (r *avroReader[T]) Offset() int64 { return r.next }

// Wait implements stream.SplitReader; a file never makes its reader wait.
func (r *avroReader[T]) Wait(ctx context.Context) error { return ctx.Err() }

// Close closes the file. It is idempotent.
func (r *avroReader[T]) Close() error {
	if r.rd != nil {
		_ = r.rd.Close()
		r.rd = nil
	}
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// converter returns how a generic value of schema (avrofile's form) becomes a T: as is
// for any and map[string]any, otherwise encoded with schema and decoded into T by
// hamba. The hamba configuration is the reader's own (see avrofile's decodeConfig: codec
// caches are keyed by names, which two files may define differently).
func converter[T any](schema avro.Schema, limit int) func(any) (T, error) {
	var zero T
	switch any(&zero).(type) {
	case *any:
		return func(v any) (T, error) {
			var t T
			if v != nil { // a value of schema "null"
				t = v.(T)
			}
			return t, nil
		}
	case *map[string]any:
		return func(v any) (T, error) {
			m, ok := v.(map[string]any)
			if !ok {
				return zero, fmt.Errorf("a %T is not a map[string]any (the schema is not a record)", v)
			}
			return any(m).(T), nil
		}
	}
	api := avro.Config{MaxByteSliceSize: limit, MaxSliceAllocSize: limit}.Freeze()
	enc := avro.NewWriter(nil, 512, avro.WithWriterConfig(api))
	dec := avro.NewReader(nil, 0, avro.WithReaderConfig(api))
	return func(v any) (t T, err error) {
		defer func() {
			if p := recover(); p != nil {
				t, err = zero, fmt.Errorf("decoding into %T panicked: %v", zero, p)
			}
		}()
		enc.Reset(nil)
		enc.Error = nil
		enc.WriteVal(schema, v)
		if enc.Error != nil {
			return zero, fmt.Errorf("re-encoding: %w", enc.Error)
		}
		dec.Reset(enc.Buffer())
		dec.Error = nil
		dec.ReadVal(schema, &t)
		if dec.Error != nil {
			return zero, fmt.Errorf("into %T: %w", zero, dec.Error)
		}
		return t, nil
	}
}
