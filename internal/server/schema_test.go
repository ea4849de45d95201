package server

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/sqlite"
)

func TestRefusesNewerDatabase(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	var out bytes.Buffer
	if code := run(ctx, []string{"migrate", "-db", cfg.DB}, func(string) string { return "" }, &out, &out); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, out.String())
	}
	// Pretend a newer scimd migrated the file.
	raw, err := sql.Open("sqlite3", cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (9999, '9999_future.sql', '2099-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	m := &Main{Config: cfg, Logger: newLogger(t.Output(), slog.LevelDebug, "text"), Stdout: &out}
	err = m.Open(ctx)
	_ = m.Close()
	if !errors.Is(err, sqlite.ErrSchemaTooNew) || !strings.Contains(err.Error(), "written by a newer scimd") {
		t.Errorf("Open = %v, want a clear ErrSchemaTooNew", err)
	}

	out.Reset()
	env := map[string]string{"SCIMD_DB": cfg.DB, "SCIMD_ADDR": "127.0.0.1:0"}
	if code := run(ctx, nil, func(k string) string { return env[k] }, &out, &out); code != exitError || !strings.Contains(out.String(), "newer scimd") {
		t.Errorf("serve: exit %d, output %s", code, out.String())
	}
}

// TestPostgresMigrateAndRefuseNewer: scimd migrate works on PostgreSQL,
// /readyz reports the schema, and a schema newer than the binary is
// refused as on SQLite.
func TestPostgresMigrateAndRefuseNewer(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	var out bytes.Buffer
	if code := run(ctx, []string{"migrate", "-database-url", url}, func(string) string { return "" }, &out, &out); code != 0 ||
		!strings.Contains(out.String(), "is at schema version") || strings.Contains(out.String(), "applied 0 migrations") {
		t.Fatalf("migrate: exit %d: %s", code, out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"migrate", "-database-url", url}, func(string) string { return "" }, &out, &out); code != 0 ||
		!strings.Contains(out.String(), "applied 0 migrations") {
		t.Fatalf("second migrate: exit %d: %s", code, out.String())
	}
	s := startServer(t, testOptions{databaseURL: url})
	if r := s.do(http.MethodGet, "/readyz", "", ""); r.status != http.StatusOK {
		t.Fatalf("/readyz: %d", r.status)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (9999, '9999_future.sql', now())`); err != nil {
		t.Fatal(err)
	}
	// The running server is no longer ready: its binary is older.
	if r := s.do(http.MethodGet, "/readyz", "", ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a newer schema: %d", r.status)
	}
	out.Reset()
	env := map[string]string{"SCIMD_DATABASE_URL": url, "SCIMD_ADDR": "127.0.0.1:0"}
	if code := run(ctx, nil, func(k string) string { return env[k] }, &out, &out); code != exitError || !strings.Contains(out.String(), "newer scimd") {
		t.Errorf("serve: exit %d, output %s", code, out.String())
	}
	cfg := testConfig(t)
	cfg.DB, cfg.DatabaseURL = "", url
	m := &Main{Config: cfg, Logger: newLogger(t.Output(), slog.LevelDebug, "text"), Stdout: &out}
	err = m.Open(ctx)
	_ = m.Close()
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("Open = %v, want ErrSchemaTooNew", err)
	}
}
