package file

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riffle-streams/riffle/stream"
)

// listDir returns the names in dir, sorted.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// inProgress returns the in-progress parts in dir.
func inProgress(t testing.TB, dir string) []string {
	var out []string
	for _, n := range listDir(t, dir) {
		if strings.HasSuffix(n, ".inprogress") {
			out = append(out, n)
		}
	}
	return out
}

func sortRecs(rs []Rec) []Rec {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Rec) int { return int(a.ID - b.ID) })
	return rs
}

// sinks returns one sink of each kind writing into dir.
func sinks(t *testing.T, dir string) map[string]*Sink[Rec] {
	out := map[string]*Sink[Rec]{}
	for _, c := range []Codec{CodecNull, CodecDeflate, CodecSnappy, CodecZstandard} {
		s, err := NewAvroSink[Rec](SinkOptions{Dir: filepath.Join(dir, string(c)), Schema: recSchema, Codec: c, BlockSize: 256, Logger: quiet})
		require.NoError(t, err)
		out[string(c)] = s
	}
	s, err := NewJSONSink[Rec](SinkOptions{Dir: filepath.Join(dir, "json"), Logger: quiet}, nil)
	require.NoError(t, err)
	out["json"] = s
	return out
}

// published reads the published parts of s through a source.
func published(t testing.TB, s *Sink[Rec]) []Rec {
	t.Helper()
	var src stream.Source[Rec]
	var err error
	if s.avro {
		src, err = NewAvroSource[Rec](SourceOptions{Glob: s.Glob()})
	} else {
		src, err = NewJSONSource[Rec](SourceOptions{Glob: s.Glob()}, nil)
	}
	require.NoError(t, err)
	if m, _ := filepath.Glob(s.Glob()); len(m) == 0 {
		return nil
	}
	return readAll(t, src)
}

func TestSinkRoundTripsThroughTheSource(t *testing.T) {
	want := recs(0, 500)
	for name, s := range sinks(t, t.TempDir()) {
		t.Run(name, func(t *testing.T) {
			j := stream.NewJob("write", stream.JobOptions{Parallelism: 3, Logger: quiet})
			stream.FromSlice(j, "recs", want, stream.WatermarkStrategy[Rec]{}).Rebalance().To("files", s)
			require.NoError(t, j.Run(context.Background()))
			assert.Equal(t, want, sortRecs(published(t, s)))
			files := listDir(t, s.Dir())
			assert.Len(t, files, 3, "one part per subtask: %v", files)
			for _, f := range files {
				assert.Regexp(t, `^part-[0-2]-r[0-9]+\.(avro|jsonl)$`, f)
			}
		})
	}
}

// newTestWriter is subtask sub's writer of a checkpointed job whose first epoch is first.
func newTestWriter(t *testing.T, s *Sink[Rec], sub int, first uint64) *writer[Rec] {
	require.NoError(t, os.MkdirAll(s.Dir(), 0o755))
	return &writer[Rec]{s: s, sub: sub, ckpt: true, epoch: first}
}

func write(t *testing.T, w *writer[Rec], from, to int) {
	for _, r := range recs(from, to) {
		require.NoError(t, w.Write(stream.Record[Rec]{Value: r}))
	}
}

func TestSinkTwoPhaseCommit(t *testing.T) {
	for name, s := range sinks(t, t.TempDir()) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir, ext := s.Dir(), s.ext
			w0, w1 := newTestWriter(t, s, 0, 1), newTestWriter(t, s, 1, 1)

			// Epoch 1: both subtasks write.
			write(t, w0, 0, 10)
			write(t, w1, 10, 15)
			assert.Equal(t, []string{".part-0-1.inprogress", ".part-1-1.inprogress"}, listDir(t, dir))
			h0, err := w0.PreCommit(1)
			require.NoError(t, err)
			h1, err := w1.PreCommit(1)
			require.NoError(t, err)
			assert.Equal(t, ".part-0-1.inprogress", string(h0))
			assert.Empty(t, published(t, s), "pre-committed is not published")
			require.NoError(t, s.CommitEpoch(ctx, 1, [][]byte{h0, h1}))
			assert.Equal(t, []string{"part-0-1" + ext, "part-1-1" + ext}, listDir(t, dir))
			require.NoError(t, s.CommitEpoch(ctx, 1, [][]byte{h0, h1}), "idempotent")
			assert.Equal(t, recs(0, 15), sortRecs(published(t, s)))

			// Epoch 2: only subtask 1 writes; subtask 0's empty epoch leaves no file.
			write(t, w1, 15, 20)
			h0, err = w0.PreCommit(2)
			require.NoError(t, err)
			assert.Nil(t, h0)
			h1, err = w1.PreCommit(2)
			require.NoError(t, err)
			handles2 := [][]byte{h0, h1}

			// Epoch 3 is being written when the process dies: epoch 2 committed, but its
			// CommitEpoch did not run. Other names in the directory are not the sink's.
			write(t, w0, 20, 25)
			write(t, w1, 25, 30)
			_, err = w1.PreCommit(3) // pre-committed, never committed
			require.NoError(t, err)
			for _, other := range []string{".other-0-9.inprogress", ".part-0-r123.inprogress", "notes.txt", ".part-0-9.tmp"} {
				require.NoError(t, os.WriteFile(filepath.Join(dir, other), nil, 0o644))
			}

			restarted := *s
			require.NoError(t, restarted.Recover(ctx, 2, handles2))
			want := []string{".other-0-9.inprogress", ".part-0-9.tmp", ".part-0-r123.inprogress", "notes.txt",
				"part-0-1" + ext, "part-1-1" + ext, "part-1-2" + ext}
			assert.Equal(t, want, listDir(t, dir))
			require.NoError(t, restarted.Recover(ctx, 2, handles2), "idempotent")
			assert.Equal(t, want, listDir(t, dir))
			assert.Equal(t, recs(0, 20), sortRecs(published(t, s)))

			// The old writers' files are gone; their Close does not resurrect anything.
			require.NoError(t, w0.Close())
			require.NoError(t, w1.Close())
			assert.Equal(t, want, listDir(t, dir))

			// The next run starts at epoch 3 and writes the records again.
			w0 = newTestWriter(t, &restarted, 0, 3)
			write(t, w0, 20, 30)
			h, err := w0.PreCommit(3)
			require.NoError(t, err)
			require.NoError(t, restarted.CommitEpoch(ctx, 3, [][]byte{h, nil}))
			require.NoError(t, w0.Close())
			assert.Equal(t, recs(0, 30), sortRecs(published(t, s)))
			assert.Equal(t, []string{".other-0-9.inprogress", ".part-0-r123.inprogress"}, inProgress(t, dir))
		})
	}
}

func TestSinkRecoverRefusesForeignParts(t *testing.T) {
	ctx := context.Background()
	s := sinks(t, t.TempDir())["null"]
	w := newTestWriter(t, s, 0, 1)
	write(t, w, 0, 3)
	h, err := w.PreCommit(1)
	require.NoError(t, err)
	require.NoError(t, s.CommitEpoch(ctx, 1, [][]byte{h}))

	// A new job (no checkpoint) into the same directory would overwrite part-0-1.
	err = s.Recover(ctx, 0, nil)
	require.ErrorIs(t, err, ErrForeignParts)
	require.ErrorContains(t, err, "part-0-1.avro")
	other, err := NewAvroSink[Rec](SinkOptions{Dir: s.Dir(), Prefix: "other", Schema: recSchema})
	require.NoError(t, err)
	require.NoError(t, other.Recover(ctx, 0, nil), "another prefix is another naming scheme")

	// A committed part that vanished is an error, not a silent loss.
	err = s.CommitEpoch(ctx, 2, [][]byte{[]byte(".part-0-2.inprogress")})
	require.ErrorIs(t, err, ErrPartLost)
	// A handle of another naming scheme (Prefix changed between runs).
	err = other.CommitEpoch(ctx, 1, [][]byte{h})
	require.ErrorContains(t, err, "not an in-progress part of this sink")
}

// The checkpoint keys handles by the sink operator's name: after a rename, Recover gets
// none, and publishes the committed epoch's parts by their names.
func TestSinkRecoverPublishesCommittedPartsWithoutHandles(t *testing.T) {
	ctx := context.Background()
	s := sinks(t, t.TempDir())["snappy"]
	w := newTestWriter(t, s, 2, 5)
	write(t, w, 0, 4)
	_, err := w.PreCommit(5)
	require.NoError(t, err)
	write(t, w, 4, 8) // epoch 6, not committed
	require.NoError(t, s.Recover(ctx, 5, nil))
	assert.Equal(t, []string{"part-2-5.avro"}, listDir(t, s.Dir()))
	assert.Equal(t, recs(0, 4), published(t, s))
	require.NoError(t, w.Close())
	assert.Equal(t, []string{"part-2-5.avro"}, listDir(t, s.Dir()))
}

func TestSinkWriterClose(t *testing.T) {
	dir := t.TempDir()
	s := sinks(t, dir)["json"]
	// Checkpointed: Close deletes a part that was not pre-committed.
	w := newTestWriter(t, s, 0, 1)
	write(t, w, 0, 3)
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	assert.Empty(t, listDir(t, s.Dir()))
	require.ErrorIs(t, w.Write(stream.Record[Rec]{Value: rec(1)}), ErrClosed)

	// Not checkpointed: Close publishes.
	w = &writer[Rec]{s: s, sub: 4}
	write(t, w, 0, 3)
	require.NoError(t, w.Close())
	files := listDir(t, s.Dir())
	require.Len(t, files, 1)
	assert.True(t, strings.HasPrefix(files[0], "part-4-r"), files[0])
	assert.Equal(t, recs(0, 3), published(t, s))
}

func TestSinkOptions(t *testing.T) {
	_, err := NewAvroSink[Rec](SinkOptions{Prefix: ".x/y", Codec: "lzma", CompressionLevel: 3})
	require.Error(t, err)
	for _, want := range []string{"no Dir", `Prefix ".x/y"`, "no Schema", `codec "lzma" not supported`} {
		assert.ErrorContains(t, err, want)
	}
	_, err = NewJSONSink[Rec](SinkOptions{Dir: "d", Schema: recSchema, Codec: CodecSnappy}, nil)
	assert.ErrorContains(t, err, "Schema is for Avro sinks")
	assert.ErrorContains(t, err, "Codec, CompressionLevel and BlockSize are for Avro sinks")
	_, err = NewAvroSink[Rec](SinkOptions{Dir: "d", Schema: recSchema, Codec: CodecDeflate, CompressionLevel: 12})
	assert.ErrorContains(t, err, "deflate compression level 12")
}
