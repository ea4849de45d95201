package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// runMigrate applies pending migrations and prints how many ran.
func runMigrate(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := migrate(ctx, db, cfg)
	if err != nil {
		return err
	}
	current, _, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version of %s: %w", cfg.storeName(), err)
	}
	_, err = fmt.Fprintf(out, "applied %d migrations; %s is at schema version %d\n", applied, cfg.storeName(), current)
	return err
}

// healthcheck GETs /healthz on the local server, for Docker's HEALTHCHECK
// (distroless images have no curl).
func healthcheck(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "http://" + localAddr(addr) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// localAddr turns a listen address into one to dial on this host: a
// wildcard or empty host becomes loopback.
func localAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
