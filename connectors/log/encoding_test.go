package log_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	hambareg "github.com/hamba/avro/v2/registry"
	"github.com/hamba/avro/v2/soe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sr"

	avroconn "github.com/riffle-streams/riffle/connectors/avro"
	logconn "github.com/riffle-streams/riffle/connectors/log"
	"github.com/riffle-streams/riffle/connectors/registry"
	rlog "github.com/riffle-streams/riffle/log"
	"github.com/riffle-streams/riffle/operators"
	"github.com/riffle-streams/riffle/stream"
	"github.com/riffle-streams/riffle/streamtest"
)

// Two versions of the records of these tests: v2 removed "note" and added "currency"
// with a default.
const (
	paymentV1 = `{"type":"record","name":"Payment","namespace":"shop","fields":[
		{"name":"id","type":"long"},{"name":"note","type":"string"},{"name":"amount","type":"double"}]}`
	paymentV2 = `{"type":"record","name":"Payment","namespace":"shop","fields":[
		{"name":"id","type":"long"},{"name":"amount","type":"double"},
		{"name":"currency","type":"string","default":"EUR"}]}`
)

type PaymentV1 struct {
	ID     int64   `avro:"id"`
	Note   string  `avro:"note"`
	Amount float64 `avro:"amount"`
}

type Payment struct {
	ID       int64   `avro:"id"`
	Amount   float64 `avro:"amount"`
	Currency string  `avro:"currency"`
}

func encodingLog(t *testing.T) *rlog.Log {
	l, err := rlog.Open(t.TempDir(), rlog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// roundTrip appends the messages encode makes of values and reads them back with decode.
func roundTrip[T, U any](t *testing.T, l *rlog.Log, topic string, values []T, encode func(stream.Record[T]) (*rlog.Message, error), decode func(*rlog.Message) (U, error)) ([]U, []rlog.Message) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, l.CreateTopic(ctx, topic, 1))
	for i, v := range values {
		m, err := encode(stream.Record[T]{Value: v, Timestamp: int64(1000 + i)})
		require.NoError(t, err)
		m.Topic, m.Queue = topic, 0
		require.NoError(t, l.Append(ctx, m))
	}
	f, err := l.Read(ctx, topic, 0, 0, rlog.ReadOptions{})
	require.NoError(t, err)
	var out []U
	for i := range f.Messages {
		v, err := decode(&f.Messages[i])
		require.NoError(t, err)
		out = append(out, v)
	}
	return out, f.Messages
}

func TestRawBytesRoundTrip(t *testing.T) {
	l := encodingLog(t)
	in := [][]byte{[]byte("a"), {0, 1, 2}, {}}
	out, msgs := roundTrip(t, l, "raw", in, logconn.EncodeRawBytes, logconn.RawBytes)
	assert.Equal(t, []byte("a"), out[0])
	assert.Equal(t, []byte{0, 1, 2}, out[1])
	assert.Empty(t, out[2])
	msgs[1].Body[0] = 9
	assert.Equal(t, byte(0), out[1][0], "RawBytes copies the body")
}

func TestSingleObjectRoundTrip(t *testing.T) {
	l := encodingLog(t)
	v1, v2 := avroconn.MustParse(paymentV1), avroconn.MustParse(paymentV2)
	enc, err := logconn.SingleObjectEncoder(v1, logconn.WithKey(func(p PaymentV1) []byte { return []byte(fmt.Sprint(p.ID)) }))
	require.NoError(t, err)
	dec, err := logconn.SingleObjectDecoder[Payment](v2, v1)
	require.NoError(t, err)
	out, msgs := roundTrip(t, l, "soe", []PaymentV1{{ID: 1, Note: "n", Amount: 2.5}, {ID: 2, Amount: 4}}, enc, dec)
	assert.Equal(t, []Payment{{ID: 1, Amount: 2.5, Currency: "EUR"}, {ID: 2, Amount: 4, Currency: "EUR"}}, out)
	assert.Equal(t, "1", string(msgs[0].Key))
	assert.Equal(t, []byte{0xC3, 0x01}, msgs[0].Body[:2])

	// A reader that knows only v2 names the unknown fingerprint.
	strict, err := logconn.SingleObjectDecoder[Payment](v2)
	require.NoError(t, err)
	_, err = strict(&msgs[0])
	require.ErrorIs(t, err, avroconn.ErrUnknownSchema)
	assert.Contains(t, err.Error(), fmt.Sprintf("fingerprint %#016x", avroconn.Fingerprint(v1)))
}

func TestConfluentRoundTrip(t *testing.T) {
	l := encodingLog(t)
	ctx := context.Background()
	reg, err := registry.Open(ctx, registry.Options{Log: l})
	require.NoError(t, err)
	defer reg.Close()
	id1, err := reg.Register(ctx, "payments-value", paymentV1)
	require.NoError(t, err)
	v1, v2 := avroconn.MustParse(paymentV1), avroconn.MustParse(paymentV2)

	enc, err := logconn.ConfluentEncoder[PaymentV1](v1, id1)
	require.NoError(t, err)
	dec, err := logconn.ConfluentDecoder[Payment](v2, reg) // the registry itself resolves ids
	require.NoError(t, err)
	out, msgs := roundTrip(t, l, "cf", []PaymentV1{{ID: 7, Note: "x", Amount: 1}}, enc, dec)
	assert.Equal(t, []Payment{{ID: 7, Amount: 1, Currency: "EUR"}}, out)
	assert.Equal(t, []byte{0, 0, 0, 0, byte(id1)}, msgs[0].Body[:5])

	generic, err := logconn.ConfluentDecoder[map[string]any](v2, reg)
	require.NoError(t, err)
	rec, err := generic(&msgs[0])
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"id": int64(7), "amount": 1.0, "currency": "EUR"}, rec)

	_, err = logconn.ConfluentEncoder[PaymentV1](v1, 0)
	require.Error(t, err)
}

// The end-to-end case: a bounded job reads Confluent-framed payments written with two
// schema versions (one by franz-go's framing and hamba's encoder), resolves them against
// the registry it reaches over HTTP with hamba's client, and writes single-object
// encoded payments that hamba's soe package reads back.
func TestJobFromConfluentToSingleObject(t *testing.T) {
	l := encodingLog(t)
	ctx := context.Background()
	reg, err := registry.Open(ctx, registry.Options{Log: l})
	require.NoError(t, err)
	defer reg.Close()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	client, err := hambareg.NewClient(srv.URL)
	require.NoError(t, err)
	id1, _, err := client.CreateSchema(ctx, "payments-value", paymentV1)
	require.NoError(t, err)
	id2, _, err := client.CreateSchema(ctx, "payments-value", paymentV2)
	require.NoError(t, err)
	v1, v2 := avroconn.MustParse(paymentV1), avroconn.MustParse(paymentV2)

	require.NoError(t, l.CreateTopic(ctx, "payments", 2))
	encV1, err := logconn.ConfluentEncoder[PaymentV1](v1, id1)
	require.NoError(t, err)
	encV2, err := logconn.ConfluentEncoder[Payment](v2, id2)
	require.NoError(t, err)
	var want []Payment
	for i := range 20 {
		var m *rlog.Message
		if i%2 == 0 {
			m, err = encV1(stream.Record[PaymentV1]{Value: PaymentV1{ID: int64(i), Note: "old", Amount: float64(i)}})
			want = append(want, Payment{ID: int64(i), Amount: float64(i) * 100, Currency: "EUR"})
		} else {
			m, err = encV2(stream.Record[Payment]{Value: Payment{ID: int64(i), Amount: float64(i), Currency: "CHF"}})
			want = append(want, Payment{ID: int64(i), Amount: float64(i) * 100, Currency: "CHF"})
		}
		require.NoError(t, err)
		m.Topic, m.Queue, m.Timestamp = "payments", i%2, int64(1000+i)
		require.NoError(t, l.Append(ctx, m))
	}
	// One more, framed by franz-go and encoded by hamba directly.
	body, err := avro.Marshal(v1, PaymentV1{ID: 20, Note: "franz", Amount: 20})
	require.NoError(t, err)
	framed, err := new(sr.ConfluentHeader).AppendEncode(nil, id1, nil)
	require.NoError(t, err)
	require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "payments", Queue: 0, Body: append(framed, body...)}))
	want = append(want, Payment{ID: 20, Amount: 2000, Currency: "EUR"})

	decode, err := logconn.ConfluentDecoder[Payment](v2, client)
	require.NoError(t, err)
	encode, err := logconn.SingleObjectEncoder(v2, logconn.WithKey(func(p Payment) []byte { return []byte(fmt.Sprint(p.ID)) }))
	require.NoError(t, err)
	job := stream.NewJob("payments-to-soe", stream.JobOptions{Parallelism: 2})
	in := stream.FromSource(job, "payments", &logconn.Source[Payment]{Log: l, Topic: "payments", Start: logconn.Earliest, Bounded: true, Decode: decode},
		stream.WatermarkStrategy[Payment]{NoWatermarks: true})
	cents := operators.Map(in, "to-cents", func(p Payment) Payment { p.Amount *= 100; return p })
	cents.To("out", &logconn.Sink[Payment]{Log: l, Topic: "payments-soe", Queues: 2, Encode: encode})
	require.NoError(t, job.Run(ctx))

	var got, viaHamba []Payment
	ownDecode, err := logconn.SingleObjectDecoder[Payment](v2)
	require.NoError(t, err)
	hambaSOE := soe.NewDynamicDecoder(fixedSOE{v2})
	for q := range 2 {
		f, err := l.Read(ctx, "payments-soe", q, 0, rlog.ReadOptions{Max: 100})
		require.NoError(t, err)
		for i := range f.Messages {
			m := &f.Messages[i]
			p, err := ownDecode(m)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprint(p.ID), string(m.Key))
			got = append(got, p)
			var h Payment
			require.NoError(t, hambaSOE.Decode(ctx, m.Body, &h))
			viaHamba = append(viaHamba, h)
		}
	}
	byID := func(ps []Payment) []Payment {
		sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		return ps
	}
	assert.Equal(t, want, byID(got))
	assert.Equal(t, want, byID(viaHamba))
}

type fixedSOE struct{ s avro.Schema }

func (f fixedSOE) GetSchema(_ context.Context, fp []byte) (avro.Schema, error) {
	want, _ := f.s.FingerprintUsing(avro.CRC64AvroLE)
	if string(want) == string(fp) {
		return f.s, nil
	}
	return nil, soe.ErrUnknownSchema
}

// An unknown schema id fails the job, naming the topic, queue, offset and id.
func TestUnknownSchemaIDFailsTheJob(t *testing.T) {
	l := encodingLog(t)
	ctx := context.Background()
	reg, err := registry.Open(ctx, registry.Options{Log: l})
	require.NoError(t, err)
	defer reg.Close()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	client, err := hambareg.NewClient(srv.URL)
	require.NoError(t, err)
	id, _, err := client.CreateSchema(ctx, "payments-value", paymentV2)
	require.NoError(t, err)
	v2 := avroconn.MustParse(paymentV2)
	enc, err := logconn.ConfluentEncoder[Payment](v2, id)
	require.NoError(t, err)

	require.NoError(t, l.CreateTopic(ctx, "in", 2))
	for i := range 4 {
		m, err := enc(stream.Record[Payment]{Value: Payment{ID: int64(i), Currency: "EUR"}})
		require.NoError(t, err)
		m.Topic, m.Queue = "in", 1
		if i == 2 {
			m.Body = append(avroconn.AppendConfluentHeader(nil, 99), m.Body[5:]...)
		}
		require.NoError(t, l.Append(ctx, m))
	}
	decode, err := logconn.ConfluentDecoder[Payment](v2, client)
	require.NoError(t, err)
	job := stream.NewJob("strict", stream.JobOptions{})
	stream.FromSource(job, "payments", &logconn.Source[Payment]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true, Decode: decode},
		stream.WatermarkStrategy[Payment]{NoWatermarks: true}).To("sink", stream.Discard[Payment]())
	err = job.Run(ctx)
	require.Error(t, err)
	var oe *stream.OperatorError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "1", oe.Split)
	assert.Equal(t, int64(2), oe.Offset)
	msg := err.Error()
	assert.Contains(t, msg, "decode message in/1@2")
	assert.Contains(t, msg, "schema id 99")
	assert.Contains(t, msg, "Schema 99 not found")
}

// Truncated Avro and a missing framing name the position and the schema; with a
// dead-letter topic the job goes on and the reason travels with the message.
func TestUndecodableAvroMessages(t *testing.T) {
	l := encodingLog(t)
	ctx := context.Background()
	v2 := avroconn.MustParse(paymentV2)
	enc, err := logconn.SingleObjectEncoder[Payment](v2)
	require.NoError(t, err)
	require.NoError(t, l.CreateTopic(ctx, "in", 1))
	for i := range 3 {
		m, err := enc(stream.Record[Payment]{Value: Payment{ID: int64(i), Amount: 1, Currency: "USD"}})
		require.NoError(t, err)
		m.Topic, m.Queue = "in", 0
		switch i {
		case 1:
			m.Body = m.Body[:len(m.Body)-2]
		case 2:
			m.Body = []byte("plain text")
		}
		require.NoError(t, l.Append(ctx, m))
	}
	decode, err := logconn.SingleObjectDecoder[Payment](v2)
	require.NoError(t, err)

	job := stream.NewJob("strict", stream.JobOptions{})
	stream.FromSource(job, "in", &logconn.Source[Payment]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true, Decode: decode},
		stream.WatermarkStrategy[Payment]{NoWatermarks: true}).To("sink", stream.Discard[Payment]())
	err = job.Run(ctx)
	require.ErrorIs(t, err, avroconn.ErrTruncated)
	assert.Contains(t, err.Error(), "decode message in/0@1")
	assert.Contains(t, err.Error(), "avroconn: decode shop.Payment (fingerprint 0x")
	assert.Contains(t, err.Error(), "truncated input")

	job = stream.NewJob("lenient", stream.JobOptions{})
	got := streamtest.Collect(stream.FromSource(job, "in", &logconn.Source[Payment]{Log: l, Topic: "in", Start: logconn.Earliest, Bounded: true,
		Decode: decode, DeadLetter: "in-dlq"}, stream.WatermarkStrategy[Payment]{NoWatermarks: true}))
	require.NoError(t, job.Run(ctx))
	assert.Equal(t, []Payment{{ID: 0, Amount: 1, Currency: "USD"}}, got.Values())
	f, err := l.Read(ctx, "in-dlq", 0, 0, rlog.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, f.Messages, 2)
	assert.Contains(t, f.Messages[0].Properties["riffle.error"], "truncated input")
	assert.True(t, strings.Contains(f.Messages[1].Properties["riffle.error"], "single-object encoding starts with C3 01"), f.Messages[1].Properties["riffle.error"])
	assert.Equal(t, "in/0@2", f.Messages[1].Properties["riffle.source"])
}
