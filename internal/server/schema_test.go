package server

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"

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
