// Package file connects jobs to files: a source over Avro Object Container Files or
// JSON lines, one split per file, and a sink writing either, exactly-once with a
// checkpointed job (DESIGN.md §5).
//
// # Reading
//
//	src, err := file.NewAvroSource[Bid](file.SourceOptions{
//		Glob:   "in/bids-*.avro",
//		Schema: bidSchema, // the reader schema; nil: each file's own
//	})
//	bids := stream.FromSource(job, "bids", src, stream.WatermarkStrategy[Bid]{
//		Timestamp: func(b Bid) int64 { return b.Time },
//	})
//
// Each file is a split (its path names it); subtask i of p reads files i, i+p, ... A
// split's offsets are record numbers (Avro) or line numbers (JSON lines), so a
// checkpoint stores, per file, how far it was read, and a restarted job resumes there:
// an Avro reader finds the block holding the record by walking the blocks' headers
// (record count and size, and the sync marker after each) without decompressing or
// decoding them, then decodes and drops the records before it in that block.
//
// Avro files are read by internal/avrofile (codecs null, deflate, snappy, zstandard;
// every block checked: sizes, sync marker, checksum, record count, no bytes left over).
// With SourceOptions.Schema set, each file's writer schema is resolved against it with
// hamba's avro.NewSchemaCompatibility().Resolve(reader, writer) before any record is
// decoded (decoding with a reader schema alone returns wrong data without an error).
// Records reach T through hamba: a struct with avro tags, map[string]any, or any.
// Decoding into a struct currently re-encodes each generic value and decodes it into T,
// because avrofile offers generic values only.
//
// NewJSONSource reads one record per line with a decode function (encoding/json by
// default).
//
// # Errors and dead letters
//
// Nothing is skipped silently. A record that does not decode, a corrupt block or header,
// or a file cut short fails the job with an *Error naming the file, the block and its
// byte offset, the record (its split offset) and the reason, with Kind ErrCorrupt,
// ErrTruncated, ErrTooLarge, ErrUnsupportedCodec, ErrIncompatibleSchema or ErrDecode:
//
//	file: in/bids-3.avro: block 7 at byte 448112, record 3141: corrupt file: sync marker mismatch: ...
//	file: in/events.jsonl:18 (byte 1234): record does not decode: invalid character ...
//
// With SourceOptions.DeadLetter set, the source reports each such loss as a DeadLetter
// (where, why, which records: one record, the rest of a corrupt Avro block, or the rest
// of the file when no later block can be found) and reads on. A lost record still
// counts in the offsets, so resuming from a checkpoint finds the same records.
//
// # Writing: part files, published on commit
//
//	sink, err := file.NewAvroSink[Result](file.SinkOptions{
//		Dir: "out/results", Schema: resultSchema, Codec: file.CodecZstandard,
//	})
//	results.To("results", sink)
//
// In a checkpointed job each sink subtask writes epoch e's records into a hidden part
// Dir/.PREFIX-SUBTASK-e.inprogress. The sink's duties, in order (Flink's
// TwoPhaseCommitSinkFunction over files):
//
//  1. at barrier e (PreCommit): flush, fsync and close the part, fsync the directory,
//     and hand the part's name to the checkpoint; an epoch without records has no part;
//  2. once e committed (CommitEpoch, from the job's coordinator): rename each part of e
//     to PREFIX-SUBTASK-e.avro (or .jsonl) and fsync the directory; a part already
//     renamed is fine, a missing one is ErrPartLost;
//  3. when a run starts (Recover, with the last committed epoch E and its parts): refuse
//     a directory holding published parts of epochs after E (ErrForeignParts: another
//     job's output, or this job's after its checkpoints were lost, which publishing
//     would overwrite), finish E's renames, and delete the in-progress parts of epochs
//     after E (only names of this sink's Prefix). Their records are read again. The
//     checkpoint keeps the parts' names under the sink operator's name: keep it stable
//     (an in-progress part of an epoch up to E that it does not name is published, with
//     a warning, as it can only be committed output).
//
// So a crash at any point leaves every published file complete and each record
// published once; a reader reads PREFIX-*.avro (Sink.Glob), never the dot files. A
// writer closed without pre-committing (the run failed) deletes its part.
//
// Without checkpoints the sink is at-least-once: each subtask's part is published when
// the sink closes, as PREFIX-SUBTASK-rNANOS.EXT, a name no other run uses.
//
// # Caveats
//
//   - A part is published only at a checkpoint: output appears one checkpoint interval
//     late, and an unbounded job without checkpoints publishes nothing until it stops.
//     Parts do not roll by size within an epoch.
//   - The published output of epoch e is durable once CommitEpoch returns; that the
//     checkpoint itself survives a power failure depends on the log's durability.
//   - Files are read as they were when opened: data appended later is not read, and a
//     file shorter than a checkpoint's offset fails the resume.
package file
