package avrofile

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// Codec is a block compression codec, named as in the file header's
// avro.codec entry.
type Codec string

// The codecs this package reads and writes. The Avro specification also
// names bzip2 and xz; files using them fail to open with ErrUnknownCodec.
const (
	CodecNull      Codec = "null"
	CodecDeflate   Codec = "deflate"   // raw DEFLATE (RFC 1951), no zlib header
	CodecSnappy    Codec = "snappy"    // snappy block + CRC-32 (IEEE, big-endian) of the uncompressed data
	CodecZstandard Codec = "zstandard" // one or more zstd frames
)

// Codecs lists the supported codecs.
var Codecs = []Codec{CodecNull, CodecDeflate, CodecSnappy, CodecZstandard}

func (c Codec) supported() bool {
	switch c {
	case CodecNull, CodecDeflate, CodecSnappy, CodecZstandard:
		return true
	}
	return false
}

// errDecompressedTooLarge marks a block whose decompressed payload exceeds
// the reader's limit; the reader reports it as ErrTooLarge.
var errDecompressedTooLarge = errors.New("decompressed block exceeds limit")

// blockCodec compresses and decompresses block payloads. Implementations
// keep scratch buffers and (de)compressor state between calls, so they are
// not safe for concurrent use, and a returned slice is valid only until the
// next call.
type blockCodec interface {
	// compress returns the compressed form of src.
	compress(src []byte) ([]byte, error)
	// decompress returns the payload of src, at most limit bytes long,
	// or errDecompressedTooLarge.
	decompress(src []byte, limit int) ([]byte, error)
	// close releases resources; the codec is unusable afterwards.
	close()
}

// newBlockCodec returns the codec implementation. level is the
// compression level (0 = the codec's default); it was validated by
// WriterOptions.Validate.
func newBlockCodec(c Codec, level int) (blockCodec, error) {
	switch c {
	case CodecNull, "":
		return nullCodec{}, nil
	case CodecDeflate:
		if level == 0 {
			level = flate.DefaultCompression
		}
		return &deflateCodec{level: level}, nil
	case CodecSnappy:
		return &snappyCodec{}, nil
	case CodecZstandard:
		if level == 0 {
			level = 3 // zstd's own default
		}
		return &zstdCodec{level: zstd.EncoderLevelFromZstd(level)}, nil
	default:
		return nil, fmt.Errorf("codec %q not supported (supported: null, deflate, snappy, zstandard)", string(c))
	}
}

type nullCodec struct{}

func (nullCodec) compress(src []byte) ([]byte, error) { return src, nil }

func (nullCodec) decompress(src []byte, limit int) ([]byte, error) {
	if len(src) > limit {
		return nil, errDecompressedTooLarge
	}
	return src, nil
}

func (nullCodec) close() {}

type deflateCodec struct {
	level int
	w     *flate.Writer
	r     io.ReadCloser // implements flate.Resetter
	src   bytes.Reader
	out   bytes.Buffer
	dst   []byte
}

func (c *deflateCodec) compress(src []byte) ([]byte, error) {
	c.out.Reset()
	if c.w == nil {
		w, err := flate.NewWriter(&c.out, c.level)
		if err != nil {
			return nil, err
		}
		c.w = w
	} else {
		c.w.Reset(&c.out)
	}
	if _, err := c.w.Write(src); err != nil {
		return nil, err
	}
	if err := c.w.Close(); err != nil {
		return nil, err
	}
	return c.out.Bytes(), nil
}

func (c *deflateCodec) decompress(src []byte, limit int) ([]byte, error) {
	c.src.Reset(src)
	if c.r == nil {
		c.r = flate.NewReader(&c.src)
	} else if err := c.r.(flate.Resetter).Reset(&c.src, nil); err != nil {
		return nil, err
	}
	var err error
	c.dst, err = readAllLimit(c.r, c.dst[:0], limit)
	return c.dst, err
}

func (c *deflateCodec) close() {
	if c.r != nil {
		_ = c.r.Close()
	}
}

// readAllLimit appends everything r yields to dst, failing with
// errDecompressedTooLarge once more than limit bytes arrive. It grows dst
// as data arrives, never by a size taken from the input.
func readAllLimit(r io.Reader, dst []byte, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst, errDecompressedTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

type snappyCodec struct {
	buf []byte
}

func (c *snappyCodec) compress(src []byte) ([]byte, error) {
	c.buf = snappy.Encode(c.buf[:cap(c.buf)], src)
	c.buf = binary.BigEndian.AppendUint32(c.buf, crc32.ChecksumIEEE(src))
	return c.buf, nil
}

func (c *snappyCodec) decompress(src []byte, limit int) ([]byte, error) {
	if len(src) < 4 {
		return nil, errors.New("snappy block shorter than its 4-byte checksum")
	}
	body, sum := src[:len(src)-4], binary.BigEndian.Uint32(src[len(src)-4:])
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	if n > limit {
		return nil, errDecompressedTooLarge
	}
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	out, err := snappy.Decode(c.buf[:cap(c.buf)], body)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	if got := crc32.ChecksumIEEE(out); got != sum {
		return nil, fmt.Errorf("snappy checksum mismatch: stored %08x, computed %08x", sum, got)
	}
	return out, nil
}

func (*snappyCodec) close() {}

type zstdCodec struct {
	level    zstd.EncoderLevel
	enc      *zstd.Encoder
	dec      *zstd.Decoder
	decLimit int
	buf      []byte
}

func (c *zstdCodec) compress(src []byte) ([]byte, error) {
	if c.enc == nil {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(c.level), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		c.enc = enc
	}
	c.buf = c.enc.EncodeAll(src, c.buf[:0])
	return c.buf, nil
}

func (c *zstdCodec) decompress(src []byte, limit int) ([]byte, error) {
	if c.dec == nil || c.decLimit != limit {
		if c.dec != nil {
			c.dec.Close()
		}
		dec, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(limit)))
		if err != nil {
			return nil, err
		}
		c.dec, c.decLimit = dec, limit
	}
	out, err := c.dec.DecodeAll(src, c.buf[:0])
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, errDecompressedTooLarge
		}
		return nil, fmt.Errorf("zstandard: %w", err)
	}
	if len(out) > limit {
		return nil, errDecompressedTooLarge
	}
	c.buf = out
	return out, nil
}

func (c *zstdCodec) close() {
	if c.enc != nil {
		_ = c.enc.Close()
	}
	if c.dec != nil {
		c.dec.Close()
	}
}
