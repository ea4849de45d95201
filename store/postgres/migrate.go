package postgres

import (
	"context"
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
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	var ms []migration
	for i, name := range names { // sorted; versions are zero-padded
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			panic(fmt.Sprintf("postgres: migration %s: want version %d as NNNN_name.sql", base, i+1))
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version integer NOT NULL PRIMARY KEY,
	name    text    NOT NULL,
	applied timestamptz NOT NULL
)`

// migrateLock is the advisory lock key that serialises migrations: two
// replicas starting at once apply each migration once.
const migrateLock = 0x7363696d64 // "scimd"

// SchemaVersion returns the highest migration applied to the database
// (0 for a new one) and the highest this binary knows.
func (db *DB) SchemaVersion(ctx context.Context) (current, known int, err error) {
	current, err = schemaVersion(ctx, db.pool)
	return current, len(migrations), err
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v *int
	// to_regclass finds the table on the search path, NULL if absent.
	err := q.QueryRow(ctx, `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0
		ELSE (SELECT coalesce(max(version), 0) FROM schema_migrations) END`).Scan(&v)
	if err != nil {
		// The CASE still plans the subquery; a missing table fails it.
		if pgCode(err) == "42P01" {
			return 0, nil
		}
		return 0, wrap("schema version", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// Migrate applies the pending migrations in order, each in its own
// transaction under an advisory lock, and returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
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

// migrate applies m unless it is recorded already.
func (db *DB) migrate(ctx context.Context, m migration) (bool, error) {
	var done bool
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return wrap("migrate", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return wrap("migrate", err)
		}
		cur, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if cur > len(migrations) {
			return fmt.Errorf("postgres: database schema version %d, this binary knows up to %d: %w", cur, len(migrations), ErrSchemaTooNew)
		}
		if cur >= m.version {
			return nil
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, classify(err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
			m.version, m.name, tx.now); err != nil {
			return wrap("migrate", err)
		}
		done = true
		return nil
	})
	return done, err
}
