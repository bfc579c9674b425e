package registry

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hamba/avro/v2"

	avroconn "github.com/riffle-streams/riffle/connectors/avro"
)

// record is one message of the registry's topic, JSON in the message body. The state is
// derived from the records alone, in topic order (doc.go lists the rules).
type record struct {
	Type          string `json:"type"` // recSchema, recConfig, recDelete, recSnapBegin, recSnapEnd
	Subject       string `json:"subject,omitempty"`
	Version       int    `json:"version,omitempty"`
	ID            int    `json:"id,omitempty"`
	Schema        string `json:"schema,omitempty"`
	Deleted       bool   `json:"deleted,omitempty"`       // schema records of snapshots: a soft-deleted version
	Compatibility Level  `json:"compatibility,omitempty"` // config records: "" resets
	Permanent     bool   `json:"permanent,omitempty"`     // delete records
	// Snapshot, in records of a snapshot, is the offset of its begin record.
	Snapshot *int64 `json:"snapshot,omitempty"`
}

const (
	recSchema    = "schema"
	recConfig    = "config"
	recDelete    = "delete"
	recSnapBegin = "snapshot-begin"
	recSnapEnd   = "snapshot-end"
)

// state is what the records add up to.
type state struct {
	global   Level // "": Options.Compatibility
	subjects map[string]*subject
	schemas  map[int]*schemaEntry
	byNorm   map[string]int // normalized schema -> id
	byFP     map[uint64]int // CRC-64-AVRO fingerprint -> the first id with it
	maxID    int
}

type subject struct {
	versions []*version // ascending
	level    Level      // "": the global level
}

type version struct {
	version, id int
	deleted     bool
}

type schemaEntry struct {
	id     int
	text   string // as first registered
	norm   string // identity: hamba's full JSON of the parsed schema
	fp     uint64
	parsed avro.Schema
}

func newState() *state {
	return &state{subjects: map[string]*subject{}, schemas: map[int]*schemaEntry{}, byNorm: map[string]int{}, byFP: map[uint64]int{}}
}

// parseSchema parses and normalizes a schema text. The normal form is hamba's JSON of the
// parsed schema: whitespace, key order and namespace spelling do not matter, while docs,
// defaults and aliases (dropped by the Parsing Canonical Form) do, as in Confluent's
// registry, since a reader's defaults change what it reads.
func parseSchema(text string) (*schemaEntry, error) {
	s, err := avroconn.Parse(text)
	if err != nil {
		return nil, err
	}
	norm, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("avroconn: normalize schema: %w", err)
	}
	return &schemaEntry{text: text, norm: string(norm), fp: avroconn.Fingerprint(s), parsed: s}, nil
}

func (sub *subject) nextVersion() int {
	if len(sub.versions) == 0 {
		return 1
	}
	return sub.versions[len(sub.versions)-1].version + 1
}

// live returns the versions not deleted.
func (sub *subject) live() []*version {
	var out []*version
	for _, v := range sub.versions {
		if !v.deleted {
			out = append(out, v)
		}
	}
	return out
}

func (sub *subject) liveByID(id int) *version {
	for _, v := range sub.versions {
		if !v.deleted && v.id == id {
			return v
		}
	}
	return nil
}

// liveSubject returns a subject with at least one live version, or nil.
func (st *state) liveSubject(name string) *subject {
	if sub := st.subjects[name]; sub != nil && len(sub.live()) > 0 {
		return sub
	}
	return nil
}

func (st *state) subject(name string) *subject {
	sub := st.subjects[name]
	if sub == nil {
		sub = &subject{}
		st.subjects[name] = sub
	}
	return sub
}

// apply applies one record. A record that contradicts the state (an id already used by
// another schema, a version that is not the subject's next, a duplicate) is skipped:
// it lost a race against an earlier record, and every replay skips it alike. It reports
// why it skipped a record ("" when applied).
func (st *state) apply(rec *record) string {
	switch rec.Type {
	case recSchema:
		sc, err := parseSchema(rec.Schema)
		if err != nil {
			return err.Error()
		}
		if rec.ID <= 0 {
			return fmt.Sprintf("schema id %d", rec.ID)
		}
		if old, ok := st.schemas[rec.ID]; ok && old.norm != sc.norm {
			return fmt.Sprintf("id %d already names another schema", rec.ID)
		}
		if id, ok := st.byNorm[sc.norm]; ok && id != rec.ID {
			return fmt.Sprintf("the schema already has id %d", id)
		}
		if rec.Subject != "" {
			sub := st.subjects[rec.Subject]
			if sub == nil {
				sub = &subject{}
			}
			if rec.Version != sub.nextVersion() {
				return fmt.Sprintf("version %d of %q is not the next (%d)", rec.Version, rec.Subject, sub.nextVersion())
			}
			if sub.liveByID(rec.ID) != nil && !rec.Deleted {
				return fmt.Sprintf("id %d is already a version of %q", rec.ID, rec.Subject)
			}
			sub.versions = append(sub.versions, &version{version: rec.Version, id: rec.ID, deleted: rec.Deleted})
			st.subjects[rec.Subject] = sub
		}
		if _, ok := st.schemas[rec.ID]; !ok {
			sc.id = rec.ID
			st.schemas[rec.ID] = sc
			st.byNorm[sc.norm] = rec.ID
			if _, ok := st.byFP[sc.fp]; !ok {
				st.byFP[sc.fp] = rec.ID
			}
			st.maxID = max(st.maxID, rec.ID)
		}
	case recConfig:
		if rec.Compatibility != "" {
			if _, err := ParseLevel(string(rec.Compatibility)); err != nil {
				return err.Error()
			}
		}
		if rec.Subject == "" {
			st.global = rec.Compatibility
		} else {
			st.subject(rec.Subject).level = rec.Compatibility
		}
	case recDelete:
		sub := st.subjects[rec.Subject]
		if sub == nil {
			return fmt.Sprintf("no subject %q", rec.Subject)
		}
		if rec.Permanent {
			sub.versions = nil
			if sub.level == "" {
				delete(st.subjects, rec.Subject)
			}
		} else {
			for _, v := range sub.versions {
				v.deleted = true
			}
		}
	case recSnapEnd:
		if rec.ID > st.maxID {
			st.maxID = rec.ID // ids are never reused
		}
	default:
		return fmt.Sprintf("unknown record type %q", rec.Type)
	}
	return ""
}

// snapshot returns records that rebuild st: the global level, then per subject (sorted)
// its level and versions, then schemas no subject has any more, then the end marker.
func (st *state) snapshot(begin int64) []*record {
	snap := func(r *record) *record { r.Snapshot = &begin; return r }
	out := []*record{snap(&record{Type: recSnapBegin})}
	if st.global != "" {
		out = append(out, snap(&record{Type: recConfig, Compatibility: st.global}))
	}
	names := make([]string, 0, len(st.subjects))
	for name := range st.subjects {
		names = append(names, name)
	}
	sort.Strings(names)
	used := map[int]bool{}
	for _, name := range names {
		sub := st.subjects[name]
		if sub.level != "" {
			out = append(out, snap(&record{Type: recConfig, Subject: name, Compatibility: sub.level}))
		}
		for _, v := range sub.versions {
			out = append(out, snap(&record{Type: recSchema, Subject: name, Version: v.version, ID: v.id, Schema: st.schemas[v.id].text, Deleted: v.deleted}))
			used[v.id] = true
		}
	}
	ids := make([]int, 0, len(st.schemas))
	for id := range st.schemas {
		if !used[id] {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	for _, id := range ids {
		out = append(out, snap(&record{Type: recSchema, ID: id, Schema: st.schemas[id].text}))
	}
	return append(out, snap(&record{Type: recSnapEnd, ID: st.maxID}))
}

func (st *state) empty() bool {
	return len(st.subjects) == 0 && len(st.schemas) == 0 && st.global == ""
}
