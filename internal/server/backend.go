package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/sqlite"
)

// backend is a store with the operations the server itself runs on it:
// both store/sqlite and store/postgres provide them.
type backend interface {
	store.Store
	// Migrate applies pending migrations and returns how many ran.
	Migrate(ctx context.Context) (int, error)
	// SchemaVersion returns the schema's version and this binary's.
	SchemaVersion(ctx context.Context) (current, known int, err error)
	// ResumeDeletes finishes directory deletes a shutdown cut short.
	ResumeDeletes(ctx context.Context) (int, error)
}

var (
	_ backend = (*sqlite.DB)(nil)
	_ backend = (*postgres.DB)(nil)
)

// openDB opens the configured database without migrating it:
// PostgreSQL when SCIMD_DATABASE_URL is set, else the SQLite file.
func openDB(ctx context.Context, cfg Config, log *slog.Logger) (backend, error) {
	var db backend
	var err error
	if cfg.DatabaseURL != "" {
		db, err = postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Now: time.Now, Logger: log, DisableEvents: cfg.EventsOff})
	} else {
		db, err = sqlite.Open(ctx, cfg.DB, sqlite.Options{Now: time.Now, Logger: log, PhoneIndexBytes: ownLimit.grow,
			DisableEvents: cfg.EventsOff})
	}
	if tooNew(err) {
		return nil, tooNewError(cfg, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", cfg.storeName(), err)
	}
	return db, nil
}

// migrate applies pending migrations and returns how many ran.
func migrate(ctx context.Context, db backend, cfg Config) (int, error) {
	applied, err := db.Migrate(ctx)
	if tooNew(err) {
		return 0, tooNewError(cfg, err)
	}
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", cfg.storeName(), err)
	}
	return applied, nil
}

func tooNew(err error) bool {
	return errors.Is(err, sqlite.ErrSchemaTooNew) || errors.Is(err, postgres.ErrSchemaTooNew)
}

func tooNewError(cfg Config, err error) error {
	return fmt.Errorf("database %s was written by a newer scimd; run that version, or restore a backup made for this one: %w", cfg.storeName(), err)
}
