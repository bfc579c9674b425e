package avrofile

import (
	"bufio"
	"errors"
	"io"
)

// Low-level reading of the container framing (varints and byte runs) with
// exact offsets and with EOF reported precisely: io.EOF only when the input
// ends before the first byte of a value, io.ErrUnexpectedEOF when it ends
// inside one.

var errVarintOverflow = errors.New("varint overflows 64 bits")

// growStep bounds how far a read buffer grows ahead of the data actually
// read, so a size field claiming gigabytes in a short (truncated or
// corrupt) file costs no more memory than the file itself.
const growStep = 1 << 20

type binReader struct {
	r   *bufio.Reader
	off int64 // bytes consumed so far
}

func newBinReader(r io.Reader) *binReader {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 4096 {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &binReader{r: br}
}

// atEOF reports whether the input has no more bytes. Errors other than
// io.EOF are returned.
func (b *binReader) atEOF() (bool, error) {
	_, err := b.r.Peek(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// readLong reads a zig-zag varint long.
func (b *binReader) readLong() (int64, error) {
	var u uint64
	for i := 0; i < 10; i++ {
		c, err := b.r.ReadByte()
		if err != nil {
			if err == io.EOF && i > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		b.off++
		if i == 9 && c > 1 {
			return 0, errVarintOverflow
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errVarintOverflow
}

// readFull reads exactly len(p) bytes. It returns io.EOF if no byte was
// available and io.ErrUnexpectedEOF if some were.
func (b *binReader) readFull(p []byte) error {
	n, err := io.ReadFull(b.r, p)
	b.off += int64(n)
	return err
}

// readN reads exactly n bytes into buf (reusing its capacity) and returns
// them. The buffer grows by at most growStep beyond the bytes already read.
func (b *binReader) readN(buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < n {
		want := min(n, max(cap(buf), len(buf)+growStep))
		if cap(buf) < want {
			nb := make([]byte, len(buf), want)
			copy(nb, buf)
			buf = nb
		}
		m, err := io.ReadFull(b.r, buf[len(buf):want])
		b.off += int64(m)
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}
