// Package server is scimd's wiring: configuration, the route table and
// middleware, lifecycle and subcommands. cmd/scimd is its main; cmd/scimbench
// runs the same server in-process.
package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// version is set at build time with
// -ldflags "-X github.com/scimd/scimd/internal/server.version=...".
var version = "dev"

// Command runs the scimd command line (args without the program name) and
// returns its exit code.
func Command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return run(ctx, args, getenv, stdout, stderr)
}

// Exit codes of run.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// run is main without the process: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "scimd", version)
		return exitOK
	case "serve", "migrate", "healthcheck":
	case "copy":
		return runCopy(ctx, args, getenv, stdout, stderr)
	case "help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "scimd: unknown command %q (want serve, migrate, copy, healthcheck or version)\n", cmd)
		return exitUsage
	}

	fs := flag.NewFlagSet("scimd "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr) }
	cfg, rest, err := LoadConfig(fs, args, getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "scimd: invalid configuration:\n%v\n", err)
		return exitUsage
	case len(rest) > 0:
		fmt.Fprintf(stderr, "scimd %s: unexpected arguments %q\n", cmd, rest)
		return exitUsage
	}

	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	switch cmd {
	case "serve":
		log.Info("starting scimd", "version", version, "config", cfg)
		m := &Main{Config: cfg, Logger: log, Stdout: stdout}
		if err = m.Open(ctx); err != nil {
			err = errors.Join(err, m.Close())
		} else {
			err = m.Run(ctx)
		}
	case "migrate":
		err = runMigrate(ctx, cfg, log, stdout)
	case "healthcheck":
		err = healthcheck(ctx, cfg.Addr)
	}
	if err != nil {
		log.Error("scimd "+cmd+" failed", "err", err)
		return exitError
	}
	return exitOK
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `Usage: scimd [serve|migrate|copy|healthcheck|version] [flags]

  serve        serve SCIM, the admin API and /healthz, /readyz, /metrics (default)
  migrate      apply database migrations, print how many, and exit
  copy         copy a SQLite database into an empty PostgreSQL one: scimd copy -from scimd.db -to postgres://...
               (flags: scimd copy -h)
  healthcheck  exit 0 if the server at SCIMD_ADDR answers /healthz with 200
  version      print the version
`)
	printConfigHelp(w)
}
