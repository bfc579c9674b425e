// Package cli implements the riffle command line. cmd/riffle is a thin main over Main, so
// tests run commands in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Env is what a command reads and writes.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
}

// command is one node of the command tree: either a leaf with run, or a group with subs.
type command struct {
	name    string
	summary string
	usage   string // the synopsis after "riffle ...", e.g. "--data DIR --topic T"
	help    string // extra paragraphs for --help
	flags   func(fs *flag.FlagSet) func(ctx context.Context, env *Env) error
	subs    []*command
	// positional commands take arguments after their flags (FILE).
	positional bool
}

// errUsage marks an error in how a command was called (exit code 2).
type errUsage struct{ msg string }

func (e *errUsage) Error() string { return e.msg }

func usageErr(format string, args ...any) error { return &errUsage{fmt.Sprintf(format, args...)} }

func root() *command {
	return &command{
		name:    "riffle",
		summary: "stream processing on an embedded log",
		subs: []*command{
			demoCommand(),
			runCommand(),
			registryCommand(),
			logCommand(),
			nexmarkCommand(),
			avroCommand(),
		},
	}
}

// Main runs the riffle command line and returns the process exit code: 0 success, 1 a
// failure, 2 a usage error.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	return Run(ctx, env, args)
}

// Run runs one command line with env.
func Run(ctx context.Context, env *Env, args []string) int {
	cmd, path, rest := root(), []string{"riffle"}, args
	for len(cmd.subs) > 0 {
		if len(rest) == 0 && len(path) > 1 {
			// A group without its command is a usage error: the help goes to stderr.
			printGroupHelp(env.Stderr, cmd, path)
			return 2
		}
		if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
			printGroupHelp(env.Stdout, cmd, path)
			return 0
		}
		var next *command
		for _, c := range cmd.subs {
			if c.name == rest[0] {
				next = c
			}
		}
		if next == nil {
			fmt.Fprintf(env.Stderr, "%s: unknown command %q\n\n", strings.Join(path, " "), rest[0])
			printGroupHelp(env.Stderr, cmd, path)
			return 2
		}
		cmd, path, rest = next, append(path, next.name), rest[1:]
	}
	name := strings.Join(path, " ")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	run := cmd.flags(fs)
	fs.Usage = func() {} // Parse prints the error; the hint follows
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printLeafHelp(env.Stdout, cmd, name, fs)
			return 0
		}
		fmt.Fprintf(env.Stderr, "run '%s --help' for usage\n", name)
		return 2
	}
	if fs.NArg() > 0 && !cmd.positional {
		fmt.Fprintf(env.Stderr, "%s: unexpected argument %q (flags start with --)\n", name, fs.Arg(0))
		return 2
	}
	if err := run(ctx, env); err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
		var ue *errUsage
		if errors.As(err, &ue) {
			fmt.Fprintf(env.Stderr, "run '%s --help' for usage\n", name)
			return 2
		}
		return 1
	}
	return 0
}

func printGroupHelp(w io.Writer, cmd *command, path []string) {
	fmt.Fprintf(w, "%s: %s\n\nUsage:\n", strings.Join(path, " "), cmd.summary)
	var lines []string
	var walk func(c *command, p []string)
	walk = func(c *command, p []string) {
		if len(c.subs) == 0 {
			lines = append(lines, fmt.Sprintf("  %-40s %s", strings.Join(p, " ")+" "+c.usageShort(), c.summary))
			return
		}
		for _, s := range c.subs {
			walk(s, append(append([]string(nil), p...), s.name))
		}
	}
	walk(cmd, path)
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags.\n", strings.Join(path, " "))
}

func (c *command) usageShort() string {
	if len(c.usage) > 0 && len(c.usage) < 30 {
		return c.usage
	}
	return "[flags]"
}

func printLeafHelp(w io.Writer, cmd *command, name string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s.\n", name, cmd.usage, upperFirst(cmd.summary))
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.help))
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if typ != "" {
			head += " " + typ
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s%s\n", head, usage, def)
	})
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// required reports the first empty required flag as a usage error.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return usageErr("--%s is required", pairs[i])
		}
	}
	return nil
}
