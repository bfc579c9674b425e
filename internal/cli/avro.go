package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/riffle-streams/riffle/internal/avrofile"
)

func avroCommand() *command {
	return &command{
		name:    "avro",
		summary: "inspect Avro container files",
		subs:    []*command{avroCatCommand(), avroSchemaCommand()},
	}
}

// fileArg is the one positional argument of the avro commands.
type fileArg struct{ path string }

func avroCatCommand() *command {
	return &command{
		name:    "cat",
		summary: "print an Avro container file as JSON lines",
		usage:   "FILE",
		help: `Prints each record as one JSON object, fields in schema order. Unions follow Avro's JSON
encoding (null, or {"type": value} for another branch); bytes and fixed are strings of
code points U+0000-U+00FF; logical types are readable (timestamps as RFC 3339 UTC, dates,
decimals as exact strings). Every codec is read: null, deflate, snappy, zstandard. A
truncated or corrupt file prints the records before the damage, then fails naming the
block, byte offset and record.`,
		positional: true,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			return func(ctx context.Context, env *Env) error {
				path, err := onePath(fs)
				if err != nil {
					return err
				}
				r, err := avrofile.Open(path, avrofile.ReaderOptions{})
				if err != nil {
					return err
				}
				defer r.Close()
				_, err = avrofile.WriteJSONLines(env.Stdout, r)
				return err
			}
		},
	}
}

func avroSchemaCommand() *command {
	return &command{
		name:       "schema",
		summary:    "print the writer schema of an Avro container file",
		usage:      "FILE",
		positional: true,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			return func(ctx context.Context, env *Env) error {
				path, err := onePath(fs)
				if err != nil {
					return err
				}
				r, err := avrofile.Open(path, avrofile.ReaderOptions{})
				if err != nil {
					return err
				}
				defer r.Close()
				b, err := r.Header().PrettySchema()
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
				return err
			}
		},
	}
}

func onePath(fs *flag.FlagSet) (string, error) {
	if fs.NArg() != 1 {
		return "", usageErr("want exactly one FILE, got %d arguments", fs.NArg())
	}
	return fs.Arg(0), nil
}
