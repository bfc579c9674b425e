// Package avrofile reads and writes Avro Object Container Files (OCF), the
// file format of the Avro specification ("Object Container Files"), for
// riffle's file connector and the `riffle avro cat|schema` commands.
//
// # Reading
//
//	r, err := avrofile.Open("weather.avro", avrofile.ReaderOptions{})
//	if err != nil {
//		return err // an *Error: bad magic, truncated header, unknown codec, ...
//	}
//	defer r.Close()
//	for r.Next() {
//		rec := r.Value().(map[string]any) // the schema here is a record
//		...
//	}
//	if err := r.Err(); err != nil {
//		return err // an *Error naming the file, block and record
//	}
//
// r.Header() gives the writer schema (parsed and as stored), the codec, the
// metadata and the sync marker. To read into the shape of another schema,
// set ReaderOptions.ReaderSchema: the writer schema is resolved against it
// with avro.NewSchemaCompatibility().Resolve(reader, writer) and values are
// decoded through the resolved schema. Decoding with the reader schema
// alone is never done: hamba then returns wrong data without an error.
//
// Supported codecs: null, deflate, snappy, zstandard (Codecs). bzip2 and xz
// files fail to open with ErrUnknownCodec.
//
// # Values
//
// Values follow Reader.Schema() in this generic form (hamba's, made
// consistent for unions):
//
//	null                     nil
//	boolean                  bool
//	int                      int
//	long                     int64
//	float, double            float32, float64
//	string, uuid             string
//	bytes                    []byte
//	fixed                    [N]byte
//	enum                     string (the symbol)
//	array                    []any
//	map                      map[string]any
//	record                   map[string]any keyed by field name
//	union                    nil for the null branch, otherwise always
//	                         map[string]any{branch: value} with one entry;
//	                         branch is the full name of a named type, else the
//	                         type name plus "."+logical type if any ("long",
//	                         "array", "long.timestamp-millis")
//	date, timestamp-*,
//	local-timestamp-*        time.Time (local timestamps: the wall clock in
//	                         time.Local, as hamba decodes them)
//	time-millis, time-micros time.Duration
//	decimal                  *big.Rat (not checked against the precision)
//	duration                 avro.LogicalDuration
//
// hamba alone decodes a union bare when all its branches are primitives and
// wrapped otherwise, and, with a reader schema, in the resolved schema's
// shape, which follows the writer for unions (a writer "string" read as a
// reader ["null","string"] would come back bare). The Reader rewrites values
// into the form above (resolve.go), so the same field has the same shape
// whatever the union and whatever the writer schema version. hamba cannot
// tell apart two branches it decodes to the same Go type (string and uuid,
// date and timestamp-millis, time-millis and time-micros); in such rare
// unions the first of them is reported.
//
// Writer.Append accepts the same forms (and hamba's bare union values, and
// structs hamba can encode), so values round-trip.
//
// # JSON rendering
//
// AppendJSON and WriteJSONLines (used by `riffle avro cat`) render one value
// as one line of JSON. The output is deterministic: record fields appear in
// schema order, map entries sorted by key, no insignificant whitespace, no
// HTML escaping. The conventions:
//
//   - Unions follow Avro's JSON encoding: the null branch is null; any other
//     branch is wrapped in an object naming the branch, {"string": "x"},
//     {"test.Inner": {...}}, with the full name for named types and the type
//     name for others ("long", also for a timestamp-millis branch). Values
//     of non-union type are never wrapped. So a ["string","int"] field holding
//     123 renders as {"int":123}.
//   - bytes and fixed follow Avro's JSON encoding: a JSON string whose code
//     points U+0000..U+00FF are the byte values ("\u0000\u00ff" is the two
//     bytes 00 ff; in the output bytes >= 0x80 appear as the UTF-8 form of
//     that code point, control characters as \u00XX escapes).
//   - Logical types are rendered readably, not as their underlying numbers:
//     date "2024-01-31"; timestamp-millis "2024-01-31T12:34:56.789Z" and
//     timestamp-micros with 6 fraction digits, always UTC; local-timestamp-*
//     the same without a zone; time-millis "12:34:56.789", time-micros with 6
//     digits; decimal an exact JSON string with scale fraction digits
//     ("-12.30"); duration {"months":1,"days":2,"milliseconds":3}; uuid a
//     plain string. Dates and timestamps outside years 0000-9999 and times of
//     day outside [0, 24h) render as the underlying number.
//   - Floats use the shortest decimal that reads back to the same float32 or
//     float64 (encoding/json's format); NaN, +Inf and -Inf, which JSON cannot
//     express as numbers, render as the strings "NaN", "Infinity",
//     "-Infinity".
//   - Strings are JSON strings; invalid UTF-8 is replaced by U+FFFD.
//
// Header.PrettySchema returns the schema exactly as the file stores it,
// re-indented (`riffle avro schema`).
//
// # Writing
//
//	w, err := avrofile.NewWriter(f, schema, avrofile.WriterOptions{Codec: avrofile.CodecZstandard})
//	...
//	err = w.Append(map[string]any{"station": "x", "time": int64(1), "temp": 3})
//	...
//	err = w.Sync()       // at a checkpoint: flush a block, fsync
//	durable := w.Durable() // bytes that form a valid file and are on disk
//	...
//	err = w.Close() // flushes; does not close f
//
// A block reaches the underlying writer in one Write call once its records
// reach WriterOptions.SyncInterval bytes (default 64000, as in Java) or
// BlockRecords records, and on Flush, Sync and Close. The file therefore
// always ends at a block boundary (Offset), and a file truncated to Durable
// is a valid container file holding every record appended before that Sync.
// A file sink recovers an in-progress part file with Resume(f, durable, opts),
// which truncates it and appends further blocks with the same header.
// An Append whose value does not match the schema fails alone; a failed
// write to the underlying writer is sticky. Output is reproducible for a
// fixed SyncMarker, except that hamba writes the entries of a Go map in
// iteration order.
//
// # Errors and limits
//
// Every problem in the input is an *Error with the file name, the block
// index and byte offset (Block -1 for the header), the record index when one
// record is concerned, a Kind (ErrBadMagic, ErrTruncated, ErrCorruptHeader,
// ErrCorruptBlock, ErrUnknownCodec, ErrTooLarge, ErrIncompatibleSchema) and
// the cause:
//
//	avrofile: part-3.avro: block 7 at byte 448112: truncated file: input ends inside the 65210-byte block data: unexpected EOF
//	avrofile: x.avro: block 0 at byte 237, record 3: corrupt block: record does not decode: ...
//
// A block is delivered only after it is read completely and its sync
// marker matches; its records are then decoded one by one. A corrupt record
// stops reading after the records before it. A file cut at a block boundary
// is indistinguishable from a complete file (the format has no trailer); a
// file cut anywhere else fails with ErrTruncated. Corruption inside a null
// or deflate block that still decodes cannot be detected (those codecs carry
// no checksum); snappy blocks carry a CRC-32 and zstandard frames usually a
// checksum.
//
// ReaderOptions.MaxBlockSize (default 64 MiB) bounds the metadata, each
// block before and after decompression, record counts and array lengths, and
// buffers grow with the bytes actually read, so a corrupt size field cannot
// make the reader allocate gigabytes. Values nest at most 10000 levels
// (records, arrays, maps and unions each add one): for recursive schemas,
// whose values nest as deeply as the data says, each block is walked before
// hamba decodes it, because hamba decodes recursively and a goroutine stack
// overflow is fatal, not a recoverable panic (an 8 MiB block of a linked
// list crashes a plain avro.Unmarshal). A panic inside hamba's decoder is
// turned into a corrupt-block error.
//
// # Relation to hamba/avro
//
// Schemas, schema resolution and the encoding and decoding of values are
// github.com/hamba/avro/v2. The container framing (header, blocks, codecs)
// is implemented here rather than with hamba's ocf package, because with
// v2.31.0 ocf.Decoder panics on a negative block size, allocates a block
// size read from the file before reading it (8 GiB for a corrupt size
// field), silently drops the rest of a block whose record count is too
// small, and reports truncation as "invalid block" without a position; and
// ocf.Encoder, after one record that does not match the schema, fails every
// later Encode while Close returns nil, losing the records. ocf.Decoder does
// read syncInMeta.avro correctly (it parses the header rather than scanning
// for the marker), as does this package. The tests check that files written
// here read with ocf.Decoder and files written by ocf.Encoder read here.
//
// Every Reader and Writer has its own hamba configuration, so its own codec
// caches: hamba keys compiled codecs by a schema's canonical form, in which
// a reference to a named type is only its name, so with a shared cache a
// file defining "Node" differently from an earlier one is encoded with the
// earlier definition.
package avrofile
