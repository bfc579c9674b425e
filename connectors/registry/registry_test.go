package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/hamba/avro/v2"
	hambareg "github.com/hamba/avro/v2/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sr"

	avroconn "github.com/riffle-streams/riffle/connectors/avro"
	"github.com/riffle-streams/riffle/connectors/registry"
	rlog "github.com/riffle-streams/riffle/log"
)

const (
	orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[
		{"name":"id","type":"long"},{"name":"amount","type":"double"}]}`
	// v2 adds a field with a default: BACKWARD compatible.
	orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[
		{"name":"id","type":"long"},{"name":"amount","type":"double"},
		{"name":"currency","type":"string","default":"EUR"}]}`
	// v3 adds a field without a default: not BACKWARD compatible.
	orderV3 = `{"type":"record","name":"Order","namespace":"shop","fields":[
		{"name":"id","type":"long"},{"name":"amount","type":"double"},
		{"name":"customer","type":"string"}]}`
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	t   *testing.T
	dir string
	log *rlog.Log
	reg *registry.Registry
	srv *httptest.Server
}

// newEnv opens a log and a registry in a temporary directory and serves it over HTTP.
func newEnv(t *testing.T) *env {
	e := &env{t: t, dir: t.TempDir()}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	l, err := rlog.Open(e.dir, rlog.Options{Logger: quiet})
	require.NoError(e.t, err)
	reg, err := registry.Open(context.Background(), registry.Options{Log: l, Logger: quiet})
	require.NoError(e.t, err)
	e.log, e.reg, e.srv = l, reg, httptest.NewServer(reg)
}

func (e *env) close() {
	if e.log == nil {
		return
	}
	e.srv.Close()
	require.NoError(e.t, e.reg.Close())
	require.NoError(e.t, e.reg.Close(), "Close is idempotent")
	require.NoError(e.t, e.log.Close())
	e.log = nil
}

func (e *env) reopen() {
	e.close()
	e.open()
}

func (e *env) hamba() *hambareg.Client {
	c, err := hambareg.NewClient(e.srv.URL)
	require.NoError(e.t, err)
	return c
}

func (e *env) franz() *sr.Client {
	c, err := sr.NewClient(sr.URLs(e.srv.URL))
	require.NoError(e.t, err)
	return c
}

// call sends a request and returns the status and decoded JSON body.
func (e *env) call(method, path, body string) (int, map[string]any, string) {
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, string(raw)
}

func schemaBody(s string) string {
	b, _ := json.Marshal(map[string]string{"schema": s})
	return string(b)
}

func TestHambaClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.hamba()

	id1, s1, err := c.CreateSchema(ctx, "orders-value", orderV1)
	require.NoError(t, err)
	assert.Equal(t, 1, id1)
	assert.Equal(t, "shop.Order", s1.(*avro.RecordSchema).FullName())
	again, _, err := c.CreateSchema(ctx, "orders-value", strings.ReplaceAll(orderV1, "\n\t\t", " "))
	require.NoError(t, err)
	assert.Equal(t, id1, again, "the same schema (reformatted) keeps its id")

	id2, _, err := c.CreateSchema(ctx, "orders-value", orderV2)
	require.NoError(t, err)
	assert.Equal(t, 2, id2)
	other, _, err := c.CreateSchema(ctx, "archive-value", orderV1)
	require.NoError(t, err)
	assert.Equal(t, id1, other, "one schema, one id, across subjects")

	got, err := c.GetSchema(ctx, id2)
	require.NoError(t, err)
	assert.Equal(t, avroconn.MustParse(orderV2).String(), got.String())
	latest, err := c.GetLatestSchema(ctx, "orders-value")
	require.NoError(t, err)
	assert.Equal(t, got.String(), latest.String())
	info, err := c.GetLatestSchemaInfo(ctx, "orders-value")
	require.NoError(t, err)
	assert.Equal(t, 2, info.Version)
	assert.Equal(t, id2, info.ID)
	byVersion, err := c.GetSchemaByVersion(ctx, "orders-value", 1)
	require.NoError(t, err)
	assert.Equal(t, avroconn.MustParse(orderV1).String(), byVersion.String())

	id, _, err := c.IsRegistered(ctx, "orders-value", orderV1)
	require.NoError(t, err)
	assert.Equal(t, id1, id)
	_, _, err = c.IsRegistered(ctx, "orders-value", orderV3)
	var he hambareg.Error
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 404, he.StatusCode)
	assert.Equal(t, 40403, he.Code)

	subjects, err := c.GetSubjects(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"archive-value", "orders-value"}, subjects)
	versions, err := c.GetVersions(ctx, "orders-value")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, versions)

	ok, err := c.IsCompatible(ctx, "orders-value", orderV3)
	require.NoError(t, err)
	assert.False(t, ok)
	_, _, err = c.CreateSchema(ctx, "orders-value", orderV3)
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 409, he.StatusCode)
	assert.Equal(t, 409, he.Code)
	assert.Contains(t, he.Message, `incompatible with an earlier schema for subject "orders-value"`)
	assert.Contains(t, he.Message, "customer")

	require.NoError(t, c.SetCompatibilityLevel(ctx, "orders-value", "NONE"))
	id3, _, err := c.CreateSchema(ctx, "orders-value", orderV3)
	require.NoError(t, err, "NONE accepts anything")
	assert.Equal(t, 3, id3)

	deleted, err := c.DeleteSubject(ctx, "archive-value")
	require.NoError(t, err)
	assert.Equal(t, []int{1}, deleted)
	subjects, err = c.GetSubjects(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"orders-value"}, subjects)
	_, err = c.GetSchema(ctx, id1)
	require.NoError(t, err, "ids stay resolvable after a delete")

	// hamba's Confluent decoder reads what riffle's codec writes.
	cc, err := avroconn.NewConfluentCodec[map[string]any](avroconn.MustParse(orderV2), id2, nil)
	require.NoError(t, err)
	b, err := cc.Encode(map[string]any{"id": int64(9), "amount": 1.5, "currency": "CHF"})
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, hambareg.NewDecoder(c).Decode(ctx, b, &out))
	assert.Equal(t, "CHF", out["currency"])
}

func TestFranzClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.franz()

	ss, err := c.CreateSchema(ctx, "payments-value", sr.Schema{Schema: orderV1})
	require.NoError(t, err)
	assert.Equal(t, sr.SubjectSchema{Subject: "payments-value", Version: 1, ID: 1, Schema: sr.Schema{Schema: orderV1}}, ss)
	ss2, err := c.CreateSchema(ctx, "payments-value", sr.Schema{Schema: orderV2, Type: sr.TypeAvro})
	require.NoError(t, err)
	assert.Equal(t, 2, ss2.Version)

	s, err := c.SchemaByID(ctx, ss2.ID)
	require.NoError(t, err)
	assert.Equal(t, orderV2, s.Schema)
	text, err := c.SchemaTextByID(ctx, ss.ID)
	require.NoError(t, err)
	assert.Equal(t, orderV1, text)
	latest, err := c.SchemaByVersion(ctx, "payments-value", -1)
	require.NoError(t, err)
	assert.Equal(t, ss2.ID, latest.ID)
	looked, err := c.LookupSchema(ctx, "payments-value", sr.Schema{Schema: orderV1})
	require.NoError(t, err)
	assert.Equal(t, 1, looked.Version)
	versions, err := c.SubjectVersions(ctx, "payments-value")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, versions)
	subjects, err := c.SubjectsByID(ctx, ss.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"payments-value"}, subjects)

	res, err := c.CheckCompatibility(ctx, "payments-value", -1, sr.Schema{Schema: orderV3})
	require.NoError(t, err)
	assert.False(t, res.Is)
	require.NotEmpty(t, res.Messages)
	assert.Contains(t, res.Messages[0], "BACKWARD")
	res, err = c.CheckCompatibility(ctx, "payments-value", 1, sr.Schema{Schema: orderV2})
	require.NoError(t, err)
	assert.True(t, res.Is)
	res, err = c.CheckCompatibility(ctx, "payments-value", -2, sr.Schema{Schema: orderV2})
	require.NoError(t, err)
	assert.True(t, res.Is)

	global := c.Compatibility(ctx)
	require.NoError(t, global[0].Err)
	assert.Equal(t, sr.CompatBackward, global[0].Level)
	set := c.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, "payments-value")
	require.NoError(t, set[0].Err)
	assert.Equal(t, sr.CompatFull, set[0].Level)
	got := c.Compatibility(ctx, "payments-value")
	require.NoError(t, got[0].Err)
	assert.Equal(t, sr.CompatFull, got[0].Level)
	none := c.Compatibility(ctx, "other")
	var re *sr.ResponseError
	require.ErrorAs(t, none[0].Err, &re)
	assert.Equal(t, 40408, re.ErrorCode)
	assert.Equal(t, sr.ErrSubjectLevelCompatibilityNotConfigured, re.SchemaError())

	_, err = c.SchemaByID(ctx, 99)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 404, re.StatusCode)
	assert.Equal(t, sr.ErrSchemaNotFound, re.SchemaError())
	_, err = c.SchemaByVersion(ctx, "nobody", 1)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, sr.ErrSubjectNotFound, re.SchemaError())
	_, err = c.SchemaByVersion(ctx, "payments-value", 7)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, sr.ErrVersionNotFound, re.SchemaError())
	_, err = c.CreateSchema(ctx, "payments-value", sr.Schema{Schema: `{"type":"record"`})
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 422, re.StatusCode)
	assert.Equal(t, sr.ErrInvalidSchema, re.SchemaError())
	_, err = c.CreateSchema(ctx, "payments-value", sr.Schema{Schema: `syntax = "proto3";`, Type: sr.TypeProtobuf})
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 42201, re.ErrorCode)
	assert.Contains(t, re.Message, "PROTOBUF is not supported")

	// Subjects travel URL-escaped: slashes, colons and spaces are fine.
	odd, err := c.CreateSchema(ctx, "team/orders:v1 x", sr.Schema{Schema: `"int"`})
	require.NoError(t, err)
	assert.Equal(t, "team/orders:v1 x", odd.Subject)
	_, err = c.DeleteSubject(ctx, "team/orders:v1 x", sr.SoftDelete)
	require.NoError(t, err)

	deleted, err := c.DeleteSubject(ctx, "payments-value", sr.SoftDelete)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, deleted)
	_, err = c.DeleteSubject(ctx, "payments-value", sr.SoftDelete)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, sr.ErrSubjectSoftDeleted, re.SchemaError())
	deleted, err = c.DeleteSubject(ctx, "payments-value", sr.HardDelete)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, deleted)
	all, err := c.Subjects(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)
}

func TestSchemasSurviveReopeningTheLog(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.hamba()
	id1, _, err := c.CreateSchema(ctx, "a-value", orderV1)
	require.NoError(t, err)
	id2, _, err := c.CreateSchema(ctx, "a-value", orderV2)
	require.NoError(t, err)
	require.NoError(t, c.SetCompatibilityLevel(ctx, "b-value", "FORWARD"))
	require.NoError(t, c.SetGlobalCompatibilityLevel(ctx, "FULL"))
	_, err = e.reg.Register(ctx, "b-value", `"string"`)
	require.NoError(t, err)
	_, err = c.DeleteSubject(ctx, "b-value")
	require.NoError(t, err)

	e.reopen()
	c = e.hamba()
	got, err := c.GetSchema(ctx, id2)
	require.NoError(t, err)
	assert.Equal(t, avroconn.MustParse(orderV2).String(), got.String())
	again, _, err := c.CreateSchema(ctx, "a-value", orderV1)
	require.NoError(t, err)
	assert.Equal(t, id1, again, "the same id after a restart")
	versions, err := c.GetVersions(ctx, "a-value")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, versions)
	l, own := e.reg.Compatibility("b-value")
	assert.Equal(t, registry.Forward, l)
	assert.True(t, own)
	l, _ = e.reg.Compatibility("")
	assert.Equal(t, registry.Full, l)
	subjects, err := c.GetSubjects(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"a-value"}, subjects, "the deletion survives too")

	id3, _, err := c.CreateSchema(ctx, "c-value", `"long"`)
	require.NoError(t, err)
	assert.Equal(t, 4, id3, "ids continue after the highest (3 was b-value's string)")

	// The same after a snapshot and more changes.
	require.NoError(t, e.reg.Snapshot(ctx))
	_, err = e.reg.Register(ctx, "c-value", `"long"`)
	require.NoError(t, err)
	id5, err := e.reg.Register(ctx, "d-value", `"bytes"`)
	require.NoError(t, err)
	e.reopen()
	s, err := e.reg.SchemaByID(id5)
	require.NoError(t, err)
	assert.Equal(t, `"bytes"`, s)
	sv, err := e.reg.Version("a-value", registry.Latest)
	require.NoError(t, err)
	assert.Equal(t, registry.SubjectVersion{Subject: "a-value", Version: 2, ID: id2, Schema: orderV2}, sv)
	vs, err := e.reg.Versions("b-value", true)
	require.NoError(t, err, "soft-deleted versions are kept by snapshots")
	assert.Equal(t, []int{1}, vs)
}

func TestCompatibilityLevels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := e.reg
	register := func(subject, schema string) error {
		_, err := reg.Register(ctx, subject, schema)
		return err
	}
	// Dropping a field without a default: BACKWARD yes (the new reader ignores it),
	// FORWARD no (the old reader has no default for it).
	dropAmount := `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"}]}`

	require.NoError(t, register("back", orderV1))
	err := register("back", orderV3)
	require.ErrorIs(t, err, registry.ErrIncompatibleSchema, "BACKWARD is the default")
	require.NoError(t, register("back", dropAmount))

	require.NoError(t, reg.SetCompatibility(ctx, "fwd", registry.Forward))
	require.NoError(t, register("fwd", orderV1))
	require.ErrorIs(t, register("fwd", dropAmount), registry.ErrIncompatibleSchema)
	require.NoError(t, register("fwd", orderV3), "old readers ignore the new field")

	require.NoError(t, reg.SetCompatibility(ctx, "full", registry.Full))
	require.NoError(t, register("full", orderV1))
	require.ErrorIs(t, register("full", orderV3), registry.ErrIncompatibleSchema)
	require.ErrorIs(t, register("full", dropAmount), registry.ErrIncompatibleSchema)
	require.NoError(t, register("full", orderV2), "a field with a default goes both ways")

	// Transitive: only version 1 conflicts with version 3. a has x (int, default 0), b
	// drops it (a reads b's data with the default), c brings x back as a string: b
	// reads c's data (it ignores x), a cannot (int versus string).
	a := `{"type":"record","name":"R","fields":[{"name":"x","type":"int","default":0}]}`
	b := `{"type":"record","name":"R","fields":[]}`
	c := `{"type":"record","name":"R","fields":[{"name":"x","type":"string"}]}`
	require.NoError(t, reg.SetCompatibility(ctx, "fwd-plain", registry.Forward))
	require.NoError(t, reg.SetCompatibility(ctx, "fwd-trans", registry.ForwardTransitive))
	for _, s := range []string{"fwd-plain", "fwd-trans"} {
		require.NoError(t, register(s, a))
		require.NoError(t, register(s, b))
	}
	require.NoError(t, register("fwd-plain", c), "FORWARD checks the latest only")
	err = register("fwd-trans", c)
	require.ErrorIs(t, err, registry.ErrIncompatibleSchema, "FORWARD_TRANSITIVE checks version 1 too")
	assert.Contains(t, err.Error(), "version 1")

	require.NoError(t, reg.SetCompatibility(ctx, "", registry.None))
	require.NoError(t, register("back2", orderV1))
	require.NoError(t, register("back2", orderV3), "global NONE")
	_, err = reg.ResetCompatibility(ctx, "")
	require.NoError(t, err)
	require.ErrorIs(t, register("back2", `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"q","type":"int"}]}`), registry.ErrIncompatibleSchema, "back to BACKWARD")

	// A schema the subject already has is accepted whatever the level.
	_, err = reg.Register(ctx, "back", orderV1)
	require.NoError(t, err)
}

func TestErrorResponses(t *testing.T) {
	e := newEnv(t)
	_, err := e.reg.Register(context.Background(), "s", orderV1)
	require.NoError(t, err)
	cases := []struct {
		method, path, body string
		status, code       int
	}{
		{"GET", "/subjects/nope/versions", "", 404, 40401},
		{"GET", "/subjects/nope/versions/1", "", 404, 40401},
		{"GET", "/subjects/s/versions/2", "", 404, 40402},
		{"GET", "/subjects/s/versions/zero", "", 422, 42202},
		{"GET", "/subjects/s/versions/0", "", 422, 42202},
		{"GET", "/schemas/ids/42", "", 404, 40403},
		{"POST", "/subjects/s", schemaBody(orderV3), 404, 40403},
		{"POST", "/subjects/nope", schemaBody(orderV1), 404, 40401},
		{"POST", "/subjects/s/versions", schemaBody(orderV3), 409, 409},
		{"POST", "/subjects/s/versions", schemaBody(`{"type":"nonsense"}`), 422, 42201},
		{"POST", "/subjects/s/versions", `{"schema":"\"int\"","references":[{"name":"x","subject":"y","version":1}]}`, 422, 42201},
		{"POST", "/subjects/s/versions", `not json`, 400, 400},
		{"POST", "/subjects/s/versions", `{"schema":"\"int\"","id":77}`, 422, 42205},
		{"PUT", "/config", `{"compatibility":"SIDEWAYS"}`, 422, 42203},
		{"GET", "/config/s", "", 404, 40408},
		{"POST", "/compatibility/subjects/s/versions/9", schemaBody(orderV2), 404, 40402},
		{"POST", "/compatibility/subjects/nope/versions/1", schemaBody(orderV2), 404, 40401},
		{"DELETE", "/subjects/s?permanent=true", "", 404, 40405},
		{"GET", "/no/such/endpoint", "", 404, 404},
	}
	for _, c := range cases {
		status, body, raw := e.call(c.method, c.path, c.body)
		assert.Equal(t, c.status, status, "%s %s: %s", c.method, c.path, raw)
		assert.Equal(t, float64(c.code), body["error_code"], "%s %s: %s", c.method, c.path, raw)
		assert.NotEmpty(t, body["message"], "%s %s", c.method, c.path)
	}

	status, body, _ := e.call("POST", "/compatibility/subjects/nope/versions/latest", schemaBody(orderV1))
	assert.Equal(t, 200, status)
	assert.Equal(t, true, body["is_compatible"], "a new subject is compatible with anything")
	status, body, _ = e.call("GET", "/config/s?defaultToGlobal=true", "")
	assert.Equal(t, 200, status)
	assert.Equal(t, "BACKWARD", body["compatibilityLevel"])
	status, _, raw := e.call("GET", "/subjects/s/versions/latest/schema", "")
	assert.Equal(t, 200, status)
	assert.Equal(t, orderV1, raw)
	status, _, raw = e.call("GET", "/schemas/types", "")
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `["AVRO"]`, raw)
	status, _, raw = e.call("GET", "/schemas/ids/1/versions", "")
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `[{"subject":"s","version":1}]`, raw)

	// The Go API returns the same errors.
	_, err = e.reg.Version("nope", 1)
	require.ErrorIs(t, err, registry.ErrSubjectNotFound)
	assert.Contains(t, err.Error(), "Subject 'nope' not found. (error code 40401)")
	_, err = e.reg.GetSchema(context.Background(), 42)
	require.ErrorIs(t, err, registry.ErrSchemaNotFound)
	require.ErrorIs(t, err, avroconn.ErrUnknownSchema)
	var re *registry.Error
	require.True(t, errors.As(err, &re))
	assert.Equal(t, 404, re.HTTPStatus())
}

func TestResolversForDecoders(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, err := e.reg.Register(ctx, "x", orderV1)
	require.NoError(t, err)
	s, err := e.reg.GetSchema(ctx, id)
	require.NoError(t, err)
	fs, err := e.reg.SchemaByFingerprint(ctx, avroconn.Fingerprint(s))
	require.NoError(t, err)
	assert.Equal(t, s.String(), fs.String())
	_, err = e.reg.SchemaByFingerprint(ctx, 12345)
	require.ErrorIs(t, err, avroconn.ErrUnknownSchema)

	var _ avroconn.IDResolver = e.reg
	var _ avroconn.FingerprintResolver = e.reg
}

func TestOptionsValidateReportsEveryProblem(t *testing.T) {
	o := registry.Options{Topic: "bad topic", Compatibility: "SIDEWAYS", SnapshotInterval: -1}
	err := o.Validate()
	require.Error(t, err)
	for _, want := range []string{"Options.Log is required", "Options.Topic", "Options.Compatibility", "SnapshotInterval"} {
		assert.Contains(t, err.Error(), want)
	}
}

// smallLog opens a log whose segments are small and whose retention keeps about 384 KiB.
func smallLog(t *testing.T, dir string) *rlog.Log {
	l, err := rlog.Open(dir, rlog.Options{Logger: quiet, SegmentSize: 128 << 10, MaxMessageSize: 16 << 10, RetentionBytes: 384 << 10})
	require.NoError(t, err)
	return l
}

func fill(t *testing.T, l *rlog.Log, kib int) {
	ctx := context.Background()
	if err := l.CreateTopic(ctx, "filler", 1); err != nil {
		require.ErrorIs(t, err, rlog.ErrTopicExists)
	}
	for range kib {
		require.NoError(t, l.Append(ctx, &rlog.Message{Topic: "filler", Queue: 0, Body: make([]byte, 1<<10)}))
	}
}

func TestSnapshotsKeepSchemasThroughRetention(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := smallLog(t, dir)
	reg, err := registry.Open(ctx, registry.Options{Log: l, Logger: quiet})
	require.NoError(t, err)
	ids := map[string]int{}
	for _, s := range []string{`"int"`, `"long"`, `"string"`, orderV1} {
		id, err := reg.Register(ctx, "subj", s)
		require.NoError(t, err)
		require.NoError(t, reg.SetCompatibility(ctx, "subj", registry.None))
		ids[s] = id
	}
	fill(t, l, 600)
	require.NoError(t, reg.Snapshot(ctx)) // moves the hold past the first records
	fill(t, l, 600)
	n, err := l.EnforceRetention(ctx)
	require.NoError(t, err)
	require.Positive(t, n)
	lo, _, err := l.QueueBounds("_schemas", 0)
	require.NoError(t, err)
	require.Positive(t, lo, "retention deleted the registry's first records")
	require.NoError(t, reg.Close())
	require.NoError(t, l.Close())

	l = smallLog(t, dir)
	defer l.Close()
	reg, err = registry.Open(ctx, registry.Options{Log: l, Logger: quiet})
	require.NoError(t, err)
	defer reg.Close()
	for s, id := range ids {
		text, err := reg.SchemaByID(id)
		require.NoError(t, err)
		assert.Equal(t, s, text)
	}
	vs, err := reg.Versions("subj", false)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4}, vs)
	lvl, own := reg.Compatibility("subj")
	assert.Equal(t, registry.None, lvl)
	assert.True(t, own)
	id, err := reg.Register(ctx, "other", `"bytes"`)
	require.NoError(t, err)
	assert.Equal(t, 5, id)
}

func TestOpenRefusesARegistryRetentionCut(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := smallLog(t, dir)
	reg, err := registry.Open(ctx, registry.Options{Log: l, Logger: quiet})
	require.NoError(t, err)
	_, err = reg.Register(ctx, "subj", `"int"`)
	require.NoError(t, err)
	require.NoError(t, reg.Close()) // releases the hold: nothing protects the records now
	fill(t, l, 1200)
	_, err = l.EnforceRetention(ctx)
	require.NoError(t, err)
	_, err = registry.Open(ctx, registry.Options{Log: l, Logger: quiet})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "retention deleted records before any complete snapshot covered them")
	require.NoError(t, l.Close())
}

func TestReplaySkipsContradictingRecords(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, err := e.reg.Register(ctx, "s", `"int"`)
	require.NoError(t, err)
	require.NoError(t, e.reg.Close())
	// A record claiming id 1 for another schema, and one skipping a version.
	for _, body := range []string{
		`{"type":"schema","subject":"t","version":1,"id":1,"schema":"\"string\""}`,
		`{"type":"schema","subject":"s","version":5,"id":9,"schema":"\"double\""}`,
	} {
		require.NoError(t, e.log.Append(ctx, &rlog.Message{Topic: "_schemas", Queue: 0, Body: []byte(body)}))
	}
	reg, err := registry.Open(ctx, registry.Options{Log: e.log, Logger: quiet})
	require.NoError(t, err)
	e.reg = reg
	text, err := reg.SchemaByID(id)
	require.NoError(t, err)
	assert.Equal(t, `"int"`, text)
	assert.Equal(t, []string{"s"}, reg.Subjects(true))
	_, err = reg.SchemaByID(9)
	require.ErrorIs(t, err, registry.ErrSchemaNotFound)
	id2, err := reg.Register(ctx, "t", `"string"`)
	require.NoError(t, err)
	assert.Equal(t, 2, id2)

	require.NoError(t, e.log.Append(ctx, &rlog.Message{Topic: "_schemas", Queue: 0, Body: []byte("not json")}))
	_, err = registry.Open(ctx, registry.Options{Log: e.log, Logger: quiet})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a registry record")
	assert.Contains(t, err.Error(), "_schemas/0@")
}

// Run rewrites the snapshot when it is older than SnapshotInterval, moving the hold.
func TestRunWritesPeriodicSnapshots(t *testing.T) {
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := rlog.Open(t.TempDir(), rlog.Options{Logger: quiet, Clock: mock})
	require.NoError(t, err)
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	reg, err := registry.Open(ctx, registry.Options{Log: l, Logger: quiet, SnapshotInterval: 2 * time.Minute})
	require.NoError(t, err)
	defer reg.Close()
	_, err = reg.Register(ctx, "s", `"int"`)
	require.NoError(t, err)
	end := func() int64 {
		_, hi, err := l.QueueBounds("_schemas", 0)
		require.NoError(t, err)
		return hi
	}
	after1 := end()
	assert.Equal(t, int64(4), after1, "the registration and a first snapshot (begin, the version, end)")

	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	// Run checks every minute (min(SnapshotInterval, 1 min)); the snapshot is due after 2.
	grew := func() bool {
		for range 100 {
			if end() > after1 {
				return true
			}
			time.Sleep(2 * time.Millisecond)
		}
		return false
	}
	mock.Add(time.Minute)
	assert.False(t, grew(), "no snapshot before the interval")
	for i := 0; i < 10 && !grew(); i++ {
		mock.Add(time.Minute)
	}
	assert.Equal(t, after1+3, end(), "one more snapshot")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}
