package file

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/internal/avrofile"
	"github.com/riffle-streams/riffle/stream"
)

// interopDir holds the Apache Avro interop files, beside the repository (ECOSYSTEM.md).
const interopDir = "../../../shared/avro-interop"

func requireInterop(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(interopDir, "README.md")); err != nil {
		t.Skipf("Apache Avro interop files not found at %s: %v", interopDir, err)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Weather is a record of the interop files' weather.avsc.
type Weather struct {
	Station string `avro:"station"`
	Time    int64  `avro:"time"`
	Temp    int    `avro:"temp"`
}

var weatherWant = []Weather{
	{"011990-99999", -619524000000, 0},
	{"011990-99999", -619506000000, 22},
	{"011990-99999", -619484400000, -11},
	{"012650-99999", -655531200000, 111},
	{"012650-99999", -655509600000, 78},
}

// Rec is the test's own record type.
type Rec struct {
	ID   int64   `avro:"id" json:"id"`
	Name string  `avro:"name" json:"name"`
	Note *string `avro:"note" json:"note"`
}

var recSchema = avro.MustParse(`{"type":"record","name":"riffle.test.Rec","fields":[
	{"name":"id","type":"long"},
	{"name":"name","type":"string"},
	{"name":"note","type":["null","string"],"default":null}]}`)

func rec(i int) Rec {
	r := Rec{ID: int64(i), Name: "name-" + strconv.Itoa(i)}
	if i%3 == 1 {
		s := "note " + strconv.Itoa(i)
		r.Note = &s
	}
	return r
}

func recs(from, to int) []Rec {
	out := make([]Rec, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, rec(i))
	}
	return out
}

// writeAvro writes values into a container file at path.
func writeAvro[T any](t testing.TB, path string, schema avro.Schema, opts avrofile.WriterOptions, values []T) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w, err := avrofile.NewWriter(f, schema, opts)
	require.NoError(t, err)
	for _, v := range values {
		require.NoError(t, w.Append(v))
	}
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
}

// blockStarts returns the byte offset of every block of an Avro file, and its first
// record.
func blockStarts(t testing.TB, path string) (offsets, firsts []int64) {
	t.Helper()
	r, err := avrofile.Open(path, avrofile.ReaderOptions{})
	require.NoError(t, err)
	defer r.Close()
	for r.Next() {
		p := r.Position()
		if int(p.Block) == len(offsets) {
			offsets, firsts = append(offsets, p.BlockOffset), append(firsts, p.Record)
		}
	}
	require.NoError(t, r.Err())
	return offsets, firsts
}

// readSplit opens one split, seeks to seek when it is not negative, and reads it to the
// end or to its first error. It checks that Offset counts the records.
func readSplit[T any](t testing.TB, src stream.Source[T], split string, seek int64) ([]T, error) {
	t.Helper()
	rd, err := src.Open(context.Background(), split)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	if seek >= 0 {
		if err := rd.(stream.Seeker).SeekTo(seek); err != nil {
			return nil, err
		}
	}
	var out []T
	buf := make([]stream.Record[T], 7)
	for {
		n, err := rd.Read(buf)
		for _, r := range buf[:n] {
			out = append(out, r.Value)
			require.Equal(t, stream.NoTimestamp, r.Timestamp)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// readAll reads every split of src.
func readAll[T any](t testing.TB, src stream.Source[T]) []T {
	t.Helper()
	splits, err := src.Splits(context.Background())
	require.NoError(t, err)
	var out []T
	for _, s := range splits {
		vs, err := readSplit(t, src, s, -1)
		require.NoError(t, err, s)
		out = append(out, vs...)
	}
	return out
}

// corrupt overwrites the byte at off in path with b.
func corrupt(t testing.TB, path string, off int64, b byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{b}, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// deadLetters collects dead letters.
type deadLetters struct{ got []DeadLetter }

func (d *deadLetters) add(l DeadLetter) error { d.got = append(d.got, l); return nil }

func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }

// flip inverts the byte at off in path.
func flip(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	b := []byte{0}
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
