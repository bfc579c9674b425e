// Package registry is a schema registry for Avro schemas with the core of Confluent
// Schema Registry's REST API, stored in riffle's embedded log. Confluent clients (hamba's
// registry client, franz-go's sr) work against it, and decoders in the same process use
// it directly (it is an avroconn.IDResolver and an avroconn.FingerprintResolver).
//
// # Using it
//
//	l, err := log.Open("data", log.Options{})
//	reg, err := registry.Open(ctx, registry.Options{Log: l})   // replays topic _schemas
//	defer reg.Close()
//	go reg.Run(ctx)                                            // periodic snapshots (below)
//	http.Handle("/", reg)                                      // or http.StripPrefix("/registry", reg)
//	id, err := reg.Register(ctx, "orders-value", schemaText)   // what POST /subjects/orders-value/versions does
//
// `riffle registry serve --data DIR --http ADDR` serves it on its own.
//
// # Endpoints
//
//	GET    /subjects                                  subjects with live versions (?deleted=true: also soft-deleted)
//	GET    /subjects/{s}/versions                     [1, 2, ...]
//	POST   /subjects/{s}/versions                     register {"schema": ...} -> {"id": n}; the same schema again returns the same id
//	GET    /subjects/{s}/versions/{v|latest}          {"subject", "version", "id", "schema"}
//	GET    /subjects/{s}/versions/{v|latest}/schema   the schema text
//	POST   /subjects/{s}                              look up {"schema": ...} -> {"subject", "version", "id", "schema"}
//	DELETE /subjects/{s}[?permanent=true]             delete every version -> [1, 2, ...]
//	GET    /schemas/ids/{id}                          {"schema": ...}
//	GET    /schemas/ids/{id}/schema                   the schema text
//	GET    /schemas/ids/{id}/versions                 [{"subject", "version"}, ...]
//	GET    /schemas/ids/{id}/subjects                 ["s", ...]
//	GET    /schemas/types                             ["AVRO"]
//	POST   /compatibility/subjects/{s}/versions/{v|latest}   {"is_compatible": bool, "messages": [...]}
//	POST   /compatibility/subjects/{s}/versions       the same against the versions the level names
//	GET    /config, GET /config/{s}                   {"compatibilityLevel": ...} (?defaultToGlobal=true)
//	PUT    /config, PUT /config/{s}                   {"compatibility": ...}
//	DELETE /config, DELETE /config/{s}                reset to the default -> the old level
//	GET    /mode                                      {"mode": "READWRITE"}
//
// Errors are Confluent's: {"error_code": 40401, "message": ...} with HTTP status 404
// for a subject not found (40402 version, 40403 schema), 409 for an incompatible schema,
// 422 for an invalid schema (42201), version (42202) or level (42203), 500 (50001) when
// the log fails. Not supported: schema types other than Avro, references, contexts,
// IMPORT mode, deleting single versions.
//
// # Compatibility
//
// Levels NONE, BACKWARD (default), BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE,
// FULL and FULL_TRANSITIVE, global or per subject, checked with hamba's
// avro.SchemaCompatibility: BACKWARD means the new schema can read data written with the
// latest live version, FORWARD that the latest can read the new schema's data, FULL both;
// the transitive levels check every live version. A schema the subject already has
// registers as before, whatever the level.
//
// Two schemas are the same when their parsed forms are (hamba's JSON of the parsed
// schema): whitespace, key order and namespace spelling do not matter, while docs,
// defaults and aliases do, as in Confluent's registry. A schema registered under several
// subjects has one id. Ids start at 1 and are never reused.
//
// # Storage
//
// Every change is one message in the log's topic _schemas (one queue), appended with Sync
// durability: the body is JSON, the key the subject, the tags the record type.
//
//	{"type":"schema","subject":S,"version":V,"id":I,"schema":TEXT}   a new version (subject "": an id only)
//	{"type":"config","subject":S,"compatibility":L}                  a level (subject "": global; L "": reset)
//	{"type":"delete","subject":S,"permanent":B}                       a subject's versions deleted
//	{"type":"snapshot-begin","snapshot":O}                            a snapshot starts at offset O
//	{... "snapshot":O}                                                 the records of that snapshot
//	{"type":"snapshot-end","snapshot":O,"id":MAXID}                   it ends; it replaces the state
//
// The state is derived from the records alone: Open replays the topic from its earliest
// offset. A schema record that contradicts the state (its id names another schema, the
// schema already has another id, its version is not the subject's next, the subject
// already has it) is skipped and logged; the registry reads back what it appends, so a
// skipped registration fails instead of being acknowledged.
//
// The log deletes old segments (retention); a schema must outlive the messages that use
// it. So the registry writes its whole state as a snapshot when the latest one is older
// than Options.SnapshotInterval (on Open, after a change, and from Run), and holds the
// log's retention from its latest snapshot on: records before the snapshot may go,
// nothing after it. Holds live in memory. A process that has the log open for longer
// than its RetentionAge without the registry may let retention delete records of the
// registry; Open then fails with an error saying so instead of serving a registry with
// schemas missing.
package registry
