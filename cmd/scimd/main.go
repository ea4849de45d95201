// Command scimd is a SCIM 2.0 directory server for Microsoft Entra ID
// provisioning.
//
//	scimd [serve] [flags]   serve SCIM, the admin API and operations endpoints (default)
//	scimd migrate [flags]   apply database migrations and exit
//	scimd healthcheck       exit 0 if the server at SCIMD_ADDR answers /healthz
//	scimd version           print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
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
	case "help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "scimd: unknown command %q (want serve, migrate, healthcheck or version)\n", cmd)
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
	fmt.Fprintf(w, `Usage: scimd [serve|migrate|healthcheck|version] [flags]

  serve        serve SCIM, the admin API and /healthz, /readyz, /metrics (default)
  migrate      apply database migrations, print how many, and exit
  healthcheck  exit 0 if the server at SCIMD_ADDR answers /healthz with 200
  version      print the version
`)
	printConfigHelp(w)
}
