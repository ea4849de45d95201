// Command fakegraph serves a fake Microsoft identity platform and Microsoft
// Graph presence API, so scimd's presence poller can be tried without a
// tenant. Every GUID asked about gets a presence that changes over time.
//
//	go run ./cmd/fakegraph [-addr 127.0.0.1:8090] [-client-id ID] [-client-secret S]
//	                       [-change-every 1m] [-token-lifetime 1h]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/scimd/scimd/presence/fakegraph"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process, for tests. It serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakegraph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address; port 0 picks a free one")
	clientID := fs.String("client-id", fakegraph.DefaultClientID, "accepted client id")
	secret := fs.String("client-secret", fakegraph.DefaultClientSecret, "accepted client secret")
	every := fs.Duration("change-every", time.Minute, "how often each GUID's made-up presence may change; 0 omits every id")
	lifetime := fs.Duration("token-lifetime", time.Hour, "lifetime of issued tokens")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "fakegraph: unexpected arguments %q\n", fs.Args())
		return 2
	case *every < 0 || *lifetime <= 0:
		fmt.Fprintln(stderr, "fakegraph: -change-every must be >= 0 and -token-lifetime > 0")
		return 2
	}

	// Listen first, so the printed address is the bound one (port 0).
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "fakegraph: %v\n", err)
		return 1
	}
	fake := fakegraph.New(fakegraph.Config{
		ClientID: *clientID, ClientSecret: *secret, TokenLifetime: *lifetime, AutoPresence: *every,
	})
	srv := &http.Server{
		Handler:           fake,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "fakegraph listening on %s: run scimd with SCIMD_LOGIN_URL=%s SCIMD_GRAPH_URL=%s (client id %s)\n", base, base, base, *clientID)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintf(stderr, "fakegraph: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "fakegraph: shutdown: %v\n", err)
		return 1
	}
	return 0
}
