// Package teststore opens the store tests run on: SQLite, or PostgreSQL
// on the second pass of pgtest.MainBackends.
package teststore

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/sqlite"
)

// Options configure Open.
type Options struct {
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: discard
}

// Open returns a new, migrated store on this pass's backend: a SQLite
// file in the test's temporary directory, or (OnPostgres) a fresh schema
// of the run's PostgreSQL database. It is closed when the test ends.
func Open(t testing.TB, opts Options) store.Store {
	t.Helper()
	var db store.Store
	var err error
	if pgtest.OnPostgres() {
		db, err = postgres.OpenAndMigrate(t.Context(), pgtest.URL(t), postgres.Options{Now: opts.Now, Logger: opts.Logger})
	} else {
		db, err = sqlite.OpenAndMigrate(t.Context(), filepath.Join(t.TempDir(), "scimd.db"), sqlite.Options{Now: opts.Now, Logger: opts.Logger})
	}
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
