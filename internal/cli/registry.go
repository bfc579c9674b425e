package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/riffle-streams/riffle/connectors/registry"
	rlog "github.com/riffle-streams/riffle/log"
)

// registryCommand is `riffle registry ...`: the schema registry of connectors/registry.
func registryCommand() *command {
	return &command{
		name:    "registry",
		summary: "a schema registry stored in the log",
		subs:    []*command{registryServeCommand()},
	}
}

// shutdownGrace bounds how long serve waits for requests in flight when it stops.
const shutdownGrace = 5 * time.Second

func registryServeCommand() *command {
	return &command{
		name:    "serve",
		summary: "serve a schema registry with Confluent's REST API over HTTP",
		usage:   "--data DIR [--http ADDR] [--compatibility LEVEL]",
		help: `Serves Avro schemas with the core of Confluent Schema Registry's REST API (subjects,
versions, schemas by id, lookup, compatibility checks, config), so Confluent clients and
serializers work against it. Every change is a message in topic _schemas of the log in
DIR, appended with fsync before the response: the registry survives restarts, with the
same ids.

When it listens, serve prints "registry listening on http://HOST:PORT" on standard
output (--http with port 0 picks a free port). Ctrl-C (or SIGTERM) stops it once the
requests in flight are answered (exit 0). The log's directory stays locked while it
runs; a job can serve the same registry on its own HTTP server instead
(connectors/registry's Registry is an http.Handler).

--compatibility is the global level until one is set with PUT /config (which is
stored): NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or
FULL_TRANSITIVE.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Env) error {
			data := fs.String("data", "", "data directory of the log (created if missing)")
			addr := fs.String("http", "localhost:8081", "address to listen on, HOST:PORT")
			compat := fs.String("compatibility", string(registry.Backward), "global compatibility level until PUT /config sets one")
			return func(ctx context.Context, env *Env) error {
				if err := required("data", *data); err != nil {
					return err
				}
				level, err := registry.ParseLevel(*compat)
				if err != nil {
					return usageErr("--compatibility %q: want NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE", *compat)
				}
				return serveRegistry(ctx, env, *data, *addr, level)
			}
		},
	}
}

func serveRegistry(ctx context.Context, env *Env, dir, addr string, level registry.Level) error {
	l, err := openLog(env, dir, rlog.Sync)
	if err != nil {
		return err
	}
	defer l.Close()
	reg, err := registry.Open(ctx, registry.Options{Log: l, Compatibility: level, Logger: env.Logger})
	if err != nil {
		return err
	}
	defer reg.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", addr, err)
	}
	srv := &http.Server{Handler: reg, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// The snapshot loop; it must end before the log closes.
	runCtx, stopRun := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		reg.Run(runCtx)
	}()
	defer func() {
		stopRun()
		wg.Wait()
	}()

	fmt.Fprintf(env.Stdout, "registry listening on http://%s\n", ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("serve http://%s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop http://%s: %w", ln.Addr(), err)
	}
	stopRun()
	wg.Wait()
	if err := reg.Close(); err != nil {
		return err
	}
	return l.Close()
}
