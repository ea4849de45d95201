package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// ErrSchemaTooNew means the database was migrated by a newer scimd: this
// binary would misread it, so it refuses to run.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded SQL file, "NNNN_name.sql", applied in its own
// transaction and recorded in schema_migrations.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the embedded list, checked once: versions must run 1..N
// without gaps so that "known" is simply N.
var migrations = mustLoadMigrations(migrationFS)

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err) // a broken build, caught by every test
	}
	return ms
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	// fs.Glob returns sorted names and versions are zero-padded.
	var ms []migration
	for i, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s: want version %d as NNNN_name.sql", base, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER NOT NULL PRIMARY KEY,
	name    TEXT    NOT NULL,
	applied TEXT    NOT NULL
)`

// SchemaVersion returns the highest migration applied to the database
// (0 for a new one) and the highest this binary knows.
func (db *DB) SchemaVersion(ctx context.Context) (current, known int, err error) {
	tx, err := db.beginRead(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	current, err = schemaVersion(ctx, tx)
	return current, len(migrations), err
}

func schemaVersion(ctx context.Context, tx *tx) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, wrap("schema version", err)
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, wrap("schema version", err)
	}
	return int(v.Int64), nil
}

// Migrate applies the pending migrations in order, each in its own
// transaction, and returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	if _, err := db.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return 0, wrap("migrate", err)
	}
	for _, m := range migrations {
		ok, err := db.migrate(ctx, m)
		if err != nil {
			return applied, err
		}
		if ok {
			applied++
			db.log.InfoContext(ctx, "applied migration", "version", m.version, "name", m.name)
		}
	}
	return applied, nil
}

// migrate applies m unless it is recorded already. The check runs inside
// the write transaction, so two processes migrating at once apply m once.
func (db *DB) migrate(ctx context.Context, m migration) (bool, error) {
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	cur, err := schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if cur > len(migrations) {
		return false, fmt.Errorf("sqlite: database schema version %d, this binary knows up to %d: %w", cur, len(migrations), ErrSchemaTooNew)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return false, wrap("migrate", err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	if fill := backfills[m.version]; fill != nil {
		if err := fill(ctx, tx); err != nil {
			return false, fmt.Errorf("sqlite: migration %s: backfill: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
		m.version, m.name, formatTime(tx.now)); err != nil {
		return false, wrap("migrate", err)
	}
	return true, tx.commit()
}
