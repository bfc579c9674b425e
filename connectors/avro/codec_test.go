package avro_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	avroconn "github.com/riffle-streams/riffle/connectors/avro"
)

// UserV1 and UserV2 are two versions of one record: v2 removed "nickname" and added
// "email" with a default. In v1 "nickname" comes before "name", so reading v1 bytes with
// the v2 layout shifts every string after it.
const (
	userV1 = `{"type":"record","name":"User","namespace":"ex","fields":[
		{"name":"id","type":"long"},
		{"name":"nickname","type":"string"},
		{"name":"name","type":"string"},
		{"name":"score","type":"int"}]}`
	userV2 = `{"type":"record","name":"User","namespace":"ex","fields":[
		{"name":"id","type":"long"},
		{"name":"name","type":"string"},
		{"name":"email","type":"string","default":"unknown@example.com"},
		{"name":"score","type":"long"}]}`
)

type UserV1 struct {
	ID       int64  `avro:"id"`
	Nickname string `avro:"nickname"`
	Name     string `avro:"name"`
	Score    int32  `avro:"score"`
}

type UserV2 struct {
	ID    int64  `avro:"id"`
	Name  string `avro:"name"`
	Email string `avro:"email"`
	Score int64  `avro:"score"`
}

func encodeV1(t *testing.T, u UserV1) []byte {
	t.Helper()
	c, err := avroconn.NewCodec[UserV1](avroconn.MustParse(userV1))
	require.NoError(t, err)
	b, err := c.Encode(u)
	require.NoError(t, err)
	return b
}

func TestReadingOldDataWithAnEvolvedSchemaResolvesTheWriterSchema(t *testing.T) {
	v1, v2 := avroconn.MustParse(userV1), avroconn.MustParse(userV2)
	old := encodeV1(t, UserV1{ID: 7, Nickname: "countess", Name: "Ada", Score: 42})

	// The pitfall: hamba's Unmarshal with the reader schema alone reads v1's bytes with
	// v2's layout, and says nothing.
	var naive UserV2
	require.NoError(t, avro.Unmarshal(v2, old, &naive))
	assert.NotEqual(t, "Ada", naive.Name, "hamba's reader-only Unmarshal is expected to misread (if this fails, hamba changed)")
	assert.Equal(t, "countess", naive.Name)

	c, err := avroconn.NewCodec[UserV2](v2)
	require.NoError(t, err)
	got, err := c.DecodeFrom(v1, old)
	require.NoError(t, err)
	assert.Equal(t, UserV2{ID: 7, Name: "Ada", Email: "unknown@example.com", Score: 42}, got,
		"removed field skipped, added field defaulted, int promoted to long")

	g, err := avroconn.NewCodec[map[string]any](v2)
	require.NoError(t, err)
	rec, err := g.DecodeFrom(v1, old)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"id": int64(7), "name": "Ada", "email": "unknown@example.com", "score": int64(42)}, rec)

	// Resolutions are cached: a second decode gives the same.
	got2, err := c.DecodeFrom(v1, old)
	require.NoError(t, err)
	assert.Equal(t, got, got2)

	// The writer's own schema as "writer" is a plain decode.
	cur, err := c.Encode(got)
	require.NoError(t, err)
	back, err := c.DecodeFrom(avroconn.MustParse(userV2), cur)
	require.NoError(t, err)
	assert.Equal(t, got, back)
}

func TestGenericRecordsRoundTrip(t *testing.T) {
	s := avroconn.MustParse(`{"type":"record","name":"Event","fields":[
		{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
		{"name":"tags","type":{"type":"array","items":"string"}},
		{"name":"attrs","type":{"type":"map","values":"long"}},
		{"name":"note","type":["null","string"]},
		{"name":"blob","type":"bytes"}]}`)
	c, err := avroconn.NewCodec[map[string]any](s)
	require.NoError(t, err)
	in := map[string]any{"kind": "B", "tags": []any{"x", "y"}, "attrs": map[string]any{"n": int64(3)}, "note": "hi", "blob": []byte{1, 2}}
	b, err := c.Encode(in)
	require.NoError(t, err)
	out, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, in, out)

	in["note"] = nil
	b, err = c.Encode(in)
	require.NoError(t, err)
	out, err = c.Decode(b)
	require.NoError(t, err)
	assert.Nil(t, out["note"])
}

func TestEveryTruncationIsAnError(t *testing.T) {
	v1, v2 := avroconn.MustParse(userV1), avroconn.MustParse(userV2)
	old := encodeV1(t, UserV1{ID: 1 << 40, Nickname: "nick", Name: "Grace", Score: -5})
	c1, err := avroconn.NewCodec[UserV1](v1)
	require.NoError(t, err)
	c2, err := avroconn.NewCodec[map[string]any](v2)
	require.NoError(t, err)

	silent := 0
	for n := 0; n < len(old); n++ {
		var u UserV1
		if avro.Unmarshal(v1, old[:n], &u) == nil {
			silent++ // hamba's Unmarshal takes io.EOF for success
		}
		_, err := c1.Decode(old[:n])
		require.ErrorIs(t, err, avroconn.ErrTruncated, "prefix of %d bytes", n)
		var ae *avroconn.Error
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, n, ae.Size)
		assert.Contains(t, err.Error(), fmt.Sprintf("avroconn: decode ex.User (fingerprint %#016x), %d bytes: truncated input", avroconn.Fingerprint(v1), n))

		_, err = c2.DecodeFrom(v1, old[:n])
		require.ErrorIs(t, err, avroconn.ErrTruncated, "resolved, prefix of %d bytes", n)
		assert.Contains(t, err.Error(), "from data written with ex.User")
	}
	assert.Positive(t, silent, "hamba's Unmarshal is expected to accept some truncated inputs (if this fails, hamba changed)")

	_, err = c1.Decode(append(old, 0, 0))
	require.ErrorIs(t, err, avroconn.ErrTrailingBytes)
	assert.Contains(t, err.Error(), "bytes left over after the value")
}

func TestWrongGoTypesNameTheSchema(t *testing.T) {
	v1 := avroconn.MustParse(userV1)
	type Wrong struct {
		ID string `avro:"id"`
	}
	c, err := avroconn.NewCodec[Wrong](v1)
	require.NoError(t, err)
	_, err = c.Encode(Wrong{ID: "x"})
	require.ErrorIs(t, err, avroconn.ErrWrongType)
	assert.Contains(t, err.Error(), "avroconn: encode ex.User (fingerprint 0x")
	assert.Contains(t, err.Error(), "Go value does not fit the schema")

	_, err = c.Decode(encodeV1(t, UserV1{ID: 1}))
	require.ErrorIs(t, err, avroconn.ErrWrongType)
	assert.Contains(t, err.Error(), "unsupported for Avro long")

	g, err := avroconn.NewCodec[map[string]any](v1)
	require.NoError(t, err)
	_, err = g.Encode(map[string]any{"id": int64(1)})
	require.ErrorIs(t, err, avroconn.ErrWrongType)
	assert.Contains(t, err.Error(), "missing required field")
}

func TestMalformedInput(t *testing.T) {
	c, err := avroconn.NewCodec[string](avroconn.MustParse(`"string"`), avroconn.WithMaxSize(100))
	require.NoError(t, err)
	_, err = c.Decode([]byte{0x01}) // length -1
	require.ErrorIs(t, err, avroconn.ErrMalformed)
	_, err = c.Decode([]byte{0xd0, 0x0f}) // length 1000, over the limit
	require.ErrorIs(t, err, avroconn.ErrMalformed)
	assert.Contains(t, err.Error(), "avroconn: decode string (fingerprint 0x")
}

func TestIncompatibleWriterSchema(t *testing.T) {
	v1 := avroconn.MustParse(userV1)
	v3 := avroconn.MustParse(`{"type":"record","name":"User","namespace":"ex","fields":[
		{"name":"id","type":"long"},{"name":"country","type":"string"}]}`) // no default
	c, err := avroconn.NewCodec[map[string]any](v3)
	require.NoError(t, err)
	require.ErrorIs(t, c.CanRead(v1), avroconn.ErrIncompatible)
	_, err = c.DecodeFrom(v1, encodeV1(t, UserV1{}))
	require.ErrorIs(t, err, avroconn.ErrIncompatible)
	assert.Contains(t, err.Error(), fmt.Sprintf("decode ex.User (fingerprint %#016x) from data written with ex.User (fingerprint %#016x)", avroconn.Fingerprint(v3), avroconn.Fingerprint(v1)))
	require.NoError(t, c.CanRead(v3))
}

func TestParseDoesNotSeeNamesFromOtherParses(t *testing.T) {
	_, err := avro.Parse(`{"type":"record","name":"Lonely","namespace":"px","fields":[{"name":"a","type":"int"}]}`)
	require.NoError(t, err)
	_, err = avro.Parse(`{"type":"array","items":"px.Lonely"}`)
	require.NoError(t, err, "hamba's global cache resolves px.Lonely (if this fails, hamba changed)")
	_, err = avroconn.Parse(`{"type":"array","items":"px.Lonely"}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown type: px.Lonely")
}

func TestCodecIsSafeForConcurrentUse(t *testing.T) {
	v1, v2 := avroconn.MustParse(userV1), avroconn.MustParse(userV2)
	c, err := avroconn.NewCodec[UserV2](v2)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				want := UserV1{ID: int64(g*1000 + i), Name: fmt.Sprint("n", i), Nickname: "x", Score: int32(i)}
				old, err := avro.Marshal(v1, want)
				if err != nil {
					errs <- err
					return
				}
				got, err := c.DecodeFrom(v1, old)
				if err == nil && (got.ID != want.ID || got.Name != want.Name || got.Score != int64(want.Score)) {
					err = fmt.Errorf("got %+v for %+v", got, want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestErrorUnwrapsToKindAndCause(t *testing.T) {
	c, err := avroconn.NewCodec[int64](avroconn.MustParse(`"long"`))
	require.NoError(t, err)
	_, err = c.Decode([]byte{0x80})
	var ae *avroconn.Error
	require.True(t, errors.As(err, &ae))
	assert.Equal(t, "decode", ae.Op)
	assert.Equal(t, avroconn.ErrTruncated, ae.Kind)
	require.Error(t, ae.Err)
}

// Generic decoding follows hamba's shapes, and a union's shape follows the writer schema
// (doc.go). This pins the behaviour the package documents.
func TestGenericUnionShapeFollowsTheWriter(t *testing.T) {
	plain := avroconn.MustParse(`{"type":"record","name":"R","fields":[{"name":"f","type":{"type":"record","name":"S","fields":[{"name":"a","type":"int"}]}}]}`)
	optional := avroconn.MustParse(`{"type":"record","name":"R","fields":[{"name":"f","type":["null",{"type":"record","name":"S","fields":[{"name":"a","type":"int"}]}]}]}`)
	w, err := avroconn.NewCodec[map[string]any](plain)
	require.NoError(t, err)
	oldData, err := w.Encode(map[string]any{"f": map[string]any{"a": 1}})
	require.NoError(t, err)
	r, err := avroconn.NewCodec[map[string]any](optional)
	require.NoError(t, err)
	newData, err := r.Encode(map[string]any{"f": map[string]any{"S": map[string]any{"a": 1}}})
	require.NoError(t, err)

	fromOld, err := r.DecodeFrom(plain, oldData)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"f": map[string]any{"a": 1}}, fromOld, "bare: the writer had no union")
	fromNew, err := r.Decode(newData)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"f": map[string]any{"S": map[string]any{"a": 1}}}, fromNew, "wrapped")

	// Structs read both alike.
	type S struct {
		A int `avro:"a"`
	}
	type R struct {
		F *S `avro:"f"`
	}
	rs, err := avroconn.NewCodec[R](optional)
	require.NoError(t, err)
	a, err := rs.DecodeFrom(plain, oldData)
	require.NoError(t, err)
	b, err := rs.Decode(newData)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Equal(t, 1, a.F.A)
}
