package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// contentType is Confluent's media type; clients send and accept it or plain JSON.
const contentType = "application/vnd.schemaregistry.v1+json"

// maxBody limits request bodies.
const maxBody = 16 << 20

// ServeHTTP serves Confluent Schema Registry's REST API (doc.go lists the endpoints).
// Mount it at a server's root, or under a prefix with http.StripPrefix.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.muxOnce.Do(r.buildMux)
	r.mux.ServeHTTP(w, req)
}

// Handler returns the registry's http.Handler (the Registry itself).
func (r *Registry) Handler() http.Handler { return r }

type httpState struct {
	muxOnce sync.Once
	mux     *http.ServeMux
}

func (r *Registry) buildMux() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { reply(w, map[string]any{}) })
	m.HandleFunc("GET /subjects", r.getSubjects)
	m.HandleFunc("GET /subjects/{subject}/versions", r.getVersions)
	m.HandleFunc("POST /subjects/{subject}/versions", r.postVersion)
	m.HandleFunc("GET /subjects/{subject}/versions/{version}", r.getVersion)
	m.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", r.getVersionSchema)
	m.HandleFunc("POST /subjects/{subject}", r.postLookup)
	m.HandleFunc("DELETE /subjects/{subject}", r.deleteSubject)
	m.HandleFunc("GET /schemas/types", func(w http.ResponseWriter, _ *http.Request) { reply(w, []string{"AVRO"}) })
	m.HandleFunc("GET /schemas/ids/{id}", r.getSchema)
	m.HandleFunc("GET /schemas/ids/{id}/schema", r.getSchemaText)
	m.HandleFunc("GET /schemas/ids/{id}/versions", r.getSchemaVersions)
	m.HandleFunc("GET /schemas/ids/{id}/subjects", r.getSchemaSubjects)
	m.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", r.postCompatibility)
	m.HandleFunc("POST /compatibility/subjects/{subject}/versions", r.postCompatibility)
	m.HandleFunc("GET /config", r.getConfig)
	m.HandleFunc("PUT /config", r.putConfig)
	m.HandleFunc("GET /config/{subject}", r.getConfig)
	m.HandleFunc("PUT /config/{subject}", r.putConfig)
	m.HandleFunc("DELETE /config/{subject}", r.deleteConfig)
	m.HandleFunc("DELETE /config", r.deleteConfig)
	m.HandleFunc("GET /mode", func(w http.ResponseWriter, _ *http.Request) { reply(w, map[string]string{"mode": "READWRITE"}) })
	m.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		fail(w, errorf(ErrNotFound, "HTTP 404 Not Found: %s %s is not an endpoint of this registry", req.Method, req.URL.Path))
	})
	r.mux = m
}

// schemaRequest is the body of registration, lookup and compatibility requests.
type schemaRequest struct {
	Schema     string            `json:"schema"`
	SchemaType string            `json:"schemaType"`
	References []json.RawMessage `json:"references"`
	ID         int               `json:"id"`
	Version    int               `json:"version"`
}

func readSchemaRequest(req *http.Request) (*schemaRequest, *Error) {
	var sr schemaRequest
	body, err := io.ReadAll(http.MaxBytesReader(nil, req.Body, maxBody))
	if err != nil {
		return nil, errorf(ErrBadRequest, "read request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&sr); err != nil {
		return nil, errorf(ErrBadRequest, "request body is not the JSON of a schema request: %v", err)
	}
	switch strings.ToUpper(sr.SchemaType) {
	case "", "AVRO":
	default:
		return nil, errorf(ErrInvalidSchema, "Invalid schema: schema type %s is not supported; this registry stores Avro schemas", sr.SchemaType)
	}
	if len(sr.References) > 0 {
		return nil, errorf(ErrInvalidSchema, "Invalid schema: schema references are not supported; inline the referenced types")
	}
	if sr.Schema == "" {
		return nil, errorf(ErrInvalidSchema, "Invalid schema: the request has no schema")
	}
	return &sr, nil
}

func (r *Registry) getSubjects(w http.ResponseWriter, req *http.Request) {
	reply(w, r.Subjects(flag(req, "deleted")))
}

func (r *Registry) getVersions(w http.ResponseWriter, req *http.Request) {
	vs, err := r.Versions(req.PathValue("subject"), flag(req, "deleted"))
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, vs)
}

func (r *Registry) postVersion(w http.ResponseWriter, req *http.Request) {
	sr, e := readSchemaRequest(req)
	if e != nil {
		fail(w, e)
		return
	}
	subject := req.PathValue("subject")
	if sr.ID > 0 {
		// Confluent allows a chosen id only in IMPORT mode; accept it when it is the id
		// the schema has anyway.
		if got, err := r.SchemaByID(sr.ID); err != nil || !sameSchema(got, sr.Schema) {
			fail(w, errorf(ErrOperationNotPermitted, "Overwrite new schema with id %d is not permitted: the registry is not in IMPORT mode", sr.ID))
			return
		}
	}
	id, err := r.Register(req.Context(), subject, sr.Schema)
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, map[string]int{"id": id})
}

func sameSchema(a, b string) bool {
	sa, err1 := parseSchema(a)
	sb, err2 := parseSchema(b)
	return err1 == nil && err2 == nil && sa.norm == sb.norm
}

func (r *Registry) getVersion(w http.ResponseWriter, req *http.Request) {
	sv, ok := r.versionOf(w, req)
	if ok {
		reply(w, sv)
	}
}

func (r *Registry) getVersionSchema(w http.ResponseWriter, req *http.Request) {
	if sv, ok := r.versionOf(w, req); ok {
		replyRaw(w, sv.Schema)
	}
}

func (r *Registry) versionOf(w http.ResponseWriter, req *http.Request) (SubjectVersion, bool) {
	v, err := parseVersion(req.PathValue("version"))
	if err != nil {
		fail(w, err)
		return SubjectVersion{}, false
	}
	sv, err := r.Version(req.PathValue("subject"), v)
	if err != nil {
		fail(w, err)
		return SubjectVersion{}, false
	}
	return sv, true
}

// parseVersion parses "latest", -1 or a version number from 1 to 2^31-1.
func parseVersion(s string) (int, error) {
	if s == "latest" || s == "-1" {
		return Latest, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 1<<31-1 {
		return 0, errorf(ErrInvalidVersion, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", s)
	}
	return v, nil
}

func (r *Registry) postLookup(w http.ResponseWriter, req *http.Request) {
	sr, e := readSchemaRequest(req)
	if e != nil {
		fail(w, e)
		return
	}
	sv, err := r.Lookup(req.PathValue("subject"), sr.Schema)
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, sv)
}

func (r *Registry) deleteSubject(w http.ResponseWriter, req *http.Request) {
	vs, err := r.DeleteSubject(req.Context(), req.PathValue("subject"), flag(req, "permanent"))
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, vs)
}

func (r *Registry) schemaID(w http.ResponseWriter, req *http.Request) (int, bool) {
	id, err := strconv.Atoi(req.PathValue("id"))
	if err != nil || id < 0 {
		fail(w, errorf(ErrSchemaNotFound, "Schema %s not found", req.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (r *Registry) getSchema(w http.ResponseWriter, req *http.Request) {
	if id, ok := r.schemaID(w, req); ok {
		text, err := r.SchemaByID(id)
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, map[string]string{"schema": text})
	}
}

func (r *Registry) getSchemaText(w http.ResponseWriter, req *http.Request) {
	if id, ok := r.schemaID(w, req); ok {
		text, err := r.SchemaByID(id)
		if err != nil {
			fail(w, err)
			return
		}
		replyRaw(w, text)
	}
}

func (r *Registry) getSchemaVersions(w http.ResponseWriter, req *http.Request) {
	if id, ok := r.schemaID(w, req); ok {
		us, err := r.UsagesByID(id)
		if err != nil {
			fail(w, err)
			return
		}
		type subjectVersion struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
		}
		out := make([]subjectVersion, len(us))
		for i, u := range us {
			out[i] = subjectVersion{u.Subject, u.Version}
		}
		reply(w, out)
	}
}

func (r *Registry) getSchemaSubjects(w http.ResponseWriter, req *http.Request) {
	if id, ok := r.schemaID(w, req); ok {
		us, err := r.UsagesByID(id)
		if err != nil {
			fail(w, err)
			return
		}
		out := []string{}
		for _, u := range us {
			if len(out) == 0 || out[len(out)-1] != u.Subject {
				out = append(out, u.Subject)
			}
		}
		reply(w, out)
	}
}

func (r *Registry) postCompatibility(w http.ResponseWriter, req *http.Request) {
	v := AllVersions
	if s := req.PathValue("version"); s != "" {
		var err error
		if v, err = parseVersion(s); err != nil {
			fail(w, err)
			return
		}
	}
	sr, e := readSchemaRequest(req)
	if e != nil {
		fail(w, e)
		return
	}
	ok, msgs, err := r.CheckCompatibility(req.PathValue("subject"), v, sr.Schema)
	if err != nil {
		fail(w, err)
		return
	}
	out := map[string]any{"is_compatible": ok}
	if !ok {
		out["messages"] = msgs
	}
	reply(w, out)
}

func (r *Registry) getConfig(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	l, own := r.Compatibility(subject)
	if subject != "" && !own && !flag(req, "defaultToGlobal") {
		fail(w, errorf(ErrSubjectLevelNotSet, "Subject '%s' does not have subject-level compatibility configured", subject))
		return
	}
	reply(w, map[string]Level{"compatibilityLevel": l})
}

func (r *Registry) putConfig(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, req.Body, maxBody)).Decode(&body); err != nil {
		fail(w, errorf(ErrBadRequest, "request body is not the JSON of a config request: %v", err))
		return
	}
	l, err := ParseLevel(body.Compatibility)
	if err != nil {
		fail(w, err)
		return
	}
	if err := r.SetCompatibility(req.Context(), req.PathValue("subject"), l); err != nil {
		fail(w, err)
		return
	}
	reply(w, map[string]Level{"compatibility": l})
}

func (r *Registry) deleteConfig(w http.ResponseWriter, req *http.Request) {
	old, err := r.ResetCompatibility(req.Context(), req.PathValue("subject"))
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, map[string]Level{"compatibilityLevel": old})
}

// flag reports whether query parameter name is "true".
func flag(req *http.Request, name string) bool {
	v, _ := strconv.ParseBool(req.URL.Query().Get(name))
	return v
}

func reply(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fail(w, errorf(ErrStore, "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// replyRaw writes a schema text as the response body (the /schema endpoints).
func replyRaw(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, text)
}

func fail(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = errorf(ErrStore, "%v", err)
	}
	body, _ := json.Marshal(struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(e.HTTPStatus())
	fmt.Fprintf(w, "%s\n", body)
}
