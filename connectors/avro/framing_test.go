package avro_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/soe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sr"

	avroconn "github.com/riffle-streams/riffle/connectors/avro"
)

// The Apache Avro project's own fingerprint vectors (share/test/data/schema-tests.txt):
// a schema, its Parsing Canonical Form, and its CRC-64-AVRO fingerprint as a signed
// 64-bit integer.
var fingerprintVectors = []struct {
	in, canonical string
	fp            int64
}{
	{`"null"`, `"null"`, 7195948357588979594},
	{`"boolean"`, `"boolean"`, -6970731678124411036},
	{`"int"`, `"int"`, 8247732601305521295},
	{`"long"`, `"long"`, -3434872931120570953},
	{`"float"`, `"float"`, 5583340709985441680},
	{`"double"`, `"double"`, -8181574048448539266},
	{`"bytes"`, `"bytes"`, 5746618253357095269},
	{`"string"`, `"string"`, -8142146995180207161},
	{`[ "int"  ]`, `["int"]`, -5232228896498058493},
	{`[ "int" , {"type":"boolean"} ]`, `["int","boolean"]`, 5392556393470105090},
	{`{"fields":[], "type":"record", "name":"foo"}`, `{"name":"foo","type":"record","fields":[]}`, -4824392279771201922},
	{`{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}`, `{"name":"x.y.foo","type":"record","fields":[]}`, 5916914534497305771},
	{`{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}`, `{"name":"a.b.foo","type":"record","fields":[]}`, -4616218487480524110},
	{`{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}`, `{"name":"foo","type":"record","fields":[]}`, -4824392279771201922},
	{`{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}`, `{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}`, 7843277075252814651},
	{`{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":true},
	            {"order":"descending","name":"f2","doc":"Hello","type":"int"}],
	  "type":"record", "name":"foo"}`, `{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}`, -4860222112080293046},
	{`{"type":"enum", "name":"foo", "symbols":["A1"]}`, `{"name":"foo","type":"enum","symbols":["A1"]}`, -6342190197741309591},
	{`{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}`, `{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}`, -4448647247586288245},
	{`{"name":"foo","type":"fixed","size":15}`, `{"name":"foo","type":"fixed","size":15}`, 1756455273707447556},
	{`{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}`, `{"name":"x.y.z.foo","type":"fixed","size":32}`, -3064184465700546786},
	{`{ "items":{"type":"null"}, "type":"array"}`, `{"type":"array","items":"null"}`, -589620603366471059},
	{`{ "values":"string", "type":"map"}`, `{"type":"map","values":"string"}`, -8732877298790414990},
	{`{"name":"PigValue","type":"record", "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}`,
		`{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}`, -1759257747318642341},
}

func TestFingerprintMatchesTheAvroProjectsVectors(t *testing.T) {
	assert.Equal(t, uint64(0xc15d213aa4d7a795), avroconn.CRC64Avro(nil), "the empty fingerprint")
	for _, v := range fingerprintVectors {
		s, err := avroconn.Parse(v.in)
		require.NoError(t, err, v.in)
		assert.Equal(t, v.canonical, s.String(), "canonical form of %s", v.in)
		assert.Equal(t, uint64(v.fp), avroconn.CRC64Avro([]byte(v.canonical)), v.canonical)
		assert.Equal(t, uint64(v.fp), avroconn.Fingerprint(s), v.in)
		h, err := s.FingerprintUsing(avro.CRC64Avro) // hamba's, big-endian
		require.NoError(t, err)
		assert.Equal(t, uint64(v.fp), binary.BigEndian.Uint64(h), "hamba agrees on %s", v.in)
	}
}

func TestSingleObjectEncoding(t *testing.T) {
	v1, v2 := avroconn.MustParse(userV1), avroconn.MustParse(userV2)
	w1, err := avroconn.NewSingleObjectCodec[UserV1](v1, nil)
	require.NoError(t, err)
	b, err := w1.Encode(UserV1{ID: 3, Nickname: "nn", Name: "Lin", Score: 9})
	require.NoError(t, err)

	// The header byte by byte: C3 01, then the fingerprint little-endian.
	fp := avroconn.Fingerprint(v1)
	require.Equal(t, []byte{0xC3, 0x01}, b[:2])
	require.Equal(t, fp, binary.LittleEndian.Uint64(b[2:10]))
	hambaHeader, err := soe.BuildHeader(v1)
	require.NoError(t, err)
	require.Equal(t, hambaHeader, b[:10], "hamba's soe package writes the same header")
	var viaHamba UserV1
	require.NoError(t, soe.NewDynamicDecoder(memResolver{v1}).Decode(context.Background(), b, &viaHamba))
	assert.Equal(t, "Lin", viaHamba.Name)

	// A v2 reader that knows v1 reads it, resolved.
	r2, err := avroconn.NewSingleObjectCodec[UserV2](v2, avroconn.Schemas(v1))
	require.NoError(t, err)
	got, err := r2.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, UserV2{ID: 3, Name: "Lin", Email: "unknown@example.com", Score: 9}, got)

	// Its own encoding round-trips.
	b2, err := r2.Encode(got)
	require.NoError(t, err)
	got2, err := r2.Decode(b2)
	require.NoError(t, err)
	assert.Equal(t, got, got2)

	// A reader that does not know v1 names the fingerprint.
	only2, err := avroconn.NewSingleObjectCodec[UserV2](v2, nil)
	require.NoError(t, err)
	_, err = only2.Decode(b)
	require.ErrorIs(t, err, avroconn.ErrUnknownSchema)
	assert.Contains(t, err.Error(), fmt.Sprintf("%#016x", fp))
	_, err = avroconn.NewSingleObjectCodec[UserV2](v2, avroconn.Schemas(v2))
	require.NoError(t, err)

	// Framing and truncation.
	_, err = r2.Decode([]byte(`{"json":1}`))
	require.ErrorIs(t, err, avroconn.ErrFraming)
	assert.Contains(t, err.Error(), "starts with 7B 22")
	_, err = r2.Decode(b[:5])
	require.ErrorIs(t, err, avroconn.ErrFraming)
	_, err = r2.Decode(b[:len(b)-1])
	require.ErrorIs(t, err, avroconn.ErrTruncated)
	assert.Contains(t, err.Error(), "ex.User")
}

type memResolver struct{ s avro.Schema }

func (m memResolver) GetSchema(_ context.Context, fp []byte) (avro.Schema, error) {
	want, _ := m.s.FingerprintUsing(avro.CRC64AvroLE)
	if string(fp) == string(want) {
		return m.s, nil
	}
	return nil, soe.ErrUnknownSchema
}

// fakeRegistry is an IDResolver over a map, counting look-ups.
type fakeRegistry struct {
	schemas map[int]string
	calls   map[int]int
}

func (f *fakeRegistry) GetSchema(_ context.Context, id int) (avro.Schema, error) {
	f.calls[id]++
	s, ok := f.schemas[id]
	if !ok {
		return nil, fmt.Errorf("%w: Schema %d not found", avroconn.ErrUnknownSchema, id)
	}
	return avroconn.Parse(s)
}

func TestConfluentFraming(t *testing.T) {
	reg := &fakeRegistry{schemas: map[int]string{11: userV1, 12: userV2}, calls: map[int]int{}}
	v1, v2 := avroconn.MustParse(userV1), avroconn.MustParse(userV2)
	w1, err := avroconn.NewConfluentCodec[UserV1](v1, 11, nil)
	require.NoError(t, err)
	b, err := w1.Encode(UserV1{ID: 5, Nickname: "x", Name: "Kay", Score: 1})
	require.NoError(t, err)
	require.Equal(t, []byte{0, 0, 0, 0, 11}, b[:5])
	id, body, err := new(sr.ConfluentHeader).DecodeID(b)
	require.NoError(t, err, "franz-go reads the header")
	require.Equal(t, 11, id)
	var u UserV1
	require.NoError(t, avro.Unmarshal(v1, body, &u))
	require.Equal(t, "Kay", u.Name)

	r2, err := avroconn.NewConfluentCodec[UserV2](v2, 12, reg)
	require.NoError(t, err)
	for range 3 {
		got, err := r2.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, UserV2{ID: 5, Name: "Kay", Email: "unknown@example.com", Score: 1}, got)
	}
	assert.Equal(t, 1, reg.calls[11], "writer schemas are fetched once per id")

	// franz-go's header in front of a body decodes too.
	fb, _ := new(sr.ConfluentHeader).AppendEncode(nil, 11, nil)
	got, err := r2.Decode(append(fb, body...))
	require.NoError(t, err)
	assert.Equal(t, "Kay", got.Name)

	_, err = r2.Decode([]byte{0, 0, 0, 0, 99, 1})
	require.ErrorIs(t, err, avroconn.ErrUnknownSchema)
	assert.Contains(t, err.Error(), "schema id 99")
	assert.Equal(t, 1, reg.calls[99])

	_, err = r2.Decode([]byte{1, 0, 0, 0, 11})
	require.ErrorIs(t, err, avroconn.ErrFraming)
	_, err = r2.Decode([]byte{0, 0, 0})
	require.ErrorIs(t, err, avroconn.ErrFraming)
	_, err = r2.Decode(b[:len(b)-2])
	require.ErrorIs(t, err, avroconn.ErrTruncated)

	noID, err := avroconn.NewConfluentCodec[UserV2](v2, 0, reg)
	require.NoError(t, err)
	_, err = noID.Encode(UserV2{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no schema id")
}

func TestSplitHelpers(t *testing.T) {
	h := avroconn.AppendSingleObjectHeader(nil, 0x0102030405060708)
	assert.Equal(t, []byte{0xC3, 0x01, 8, 7, 6, 5, 4, 3, 2, 1}, h)
	fp, body, err := avroconn.SplitSingleObject(append(h, 'x'))
	require.NoError(t, err)
	assert.Equal(t, uint64(0x0102030405060708), fp)
	assert.Equal(t, []byte("x"), body)

	c := avroconn.AppendConfluentHeader(nil, 1<<24+2)
	assert.Equal(t, []byte{0, 1, 0, 0, 2}, c)
	id, body, err := avroconn.SplitConfluent(append(c, 'y'))
	require.NoError(t, err)
	assert.Equal(t, 1<<24+2, id)
	assert.Equal(t, []byte("y"), body)
	assert.Equal(t, "16777218", strconv.Itoa(id))
	assert.False(t, strings.HasPrefix(fmt.Sprint(avroconn.ErrFraming), "avro:"))
}
