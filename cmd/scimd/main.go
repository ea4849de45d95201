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
	"os"
	"os/signal"
	"syscall"

	"github.com/scimd/scimd/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := server.Command(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
