// Package postgres is scimd's scale-out store.Store backend on PostgreSQL
// (github.com/jackc/pgx/v5, pgxpool): several scimd replicas serve one
// database at once.
//
// Every write is one transaction, committed before the method returns, so
// an acknowledged write is as durable as the server makes commits.
// Read-modify-write methods lock the row they change (SELECT ... FOR
// UPDATE) and retry on serialization failures and deadlocks, which is why
// their callbacks must be pure. Uniqueness rules are unique indexes, never
// a check then an insert.
//
// What a replica keeps in memory (directories and API keys, for
// authentication) follows the other replicas' writes through
// LISTEN/NOTIFY (notify.go); leases (leases.go) let exactly one replica
// run each background job. Open does not change the schema: run Migrate
// (scimd migrate) or use OpenAndMigrate. A database whose schema is newer
// than this binary is refused with ErrSchemaTooNew.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/cache"
	"github.com/scimd/scimd/store/watch"
)

// Options configures a DB.
type Options struct {
	// Now is the clock; nil means time.Now. Stored times are UTC, with
	// PostgreSQL's microsecond precision: the store truncates its clock,
	// so what a write returns is what a read returns.
	Now func() time.Time
	// Logger receives migration progress and listener state; nil discards.
	Logger *slog.Logger
	// MaxConns bounds the pool; 0 means pgxpool's default (the larger of
	// 4 and the number of CPUs) or the URL's pool_max_conns.
	MaxConns int32
	// DisableEvents stops writes recording change events
	// (store.EventStore), for servers whose clients do not read them
	// (SCIMD_EVENTS=off).
	DisableEvents bool
}

// DB is a store.Store on a PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time
	log  *slog.Logger

	dirs cache.Rows[store.Directory] // by id
	keys cache.Rows[store.APIKey]    // by hash
	// listen follows the other replicas' changes (notify.go).
	listen *listener
	events bool      // writes record change events (events.go)
	watch  watch.Hub // wakes the readers of change events
	notify *notifier // tells the other replicas of new events
	// self names this process as a lease owner: random, so that a
	// restarted replica never mistakes its predecessor's leases for its
	// own.
	self string
}

var _ store.Store = (*DB)(nil)

// connectTimeout bounds each new connection when the URL does not set
// connect_timeout: a database that is down makes requests fail fast (503)
// instead of waiting for the operating system's TCP timeout.
const connectTimeout = 5 * time.Second

// Open connects to the database at databaseURL (postgres:// or
// postgresql://) without migrating it. It fails with an error wrapping
// ErrSchemaTooNew if the database was migrated by a newer scimd.
func Open(ctx context.Context, databaseURL string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("postgres: the database URL is not a valid postgres:// URL or connection string")
	}
	if !hasParam(databaseURL, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "scimd"
	}
	if cfg.ConnConfig.RuntimeParams["plan_cache_mode"] == "" {
		// Every statement is planned for its values. A prepared
		// statement's generic plan is made from its first executions: an
		// initial cycle's first userName probes, on an empty directory,
		// chose to walk the directory's rows, and kept doing so at 90,000
		// users (200 ms a probe) until statistics changed, which a server
		// without autovacuum never does. Planning costs about 0.1 ms.
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if cfg.ConnConfig.RuntimeParams["jit"] == "" {
		// scimd's queries take milliseconds; JIT compiling one that the
		// planner thinks costly took 400 ms instead of 28 (a search with
		// a group rule).
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", classify(err))
	}
	self, _ := store.NewToken("")
	db := &DB{pool: pool, now: opts.Now, log: opts.Logger.With("component", "store"), self: self, events: !opts.DisableEvents}
	cur, known, err := db.SchemaVersion(ctx)
	if err == nil && cur > known {
		err = fmt.Errorf("postgres: database schema version %d, this binary knows up to %d: %w", cur, known, ErrSchemaTooNew)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	db.listen = newListener(db, cfg.ConnConfig)
	db.notify = newNotifier(db)
	return db, nil
}

// OpenAndMigrate opens the database and applies pending migrations.
func OpenAndMigrate(ctx context.Context, databaseURL string, opts Options) (*DB, error) {
	db, err := Open(ctx, databaseURL, opts)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func hasParam(databaseURL, name string) bool {
	if u, err := url.Parse(databaseURL); err == nil && u.Scheme != "" {
		return u.Query().Has(name)
	}
	return false // a keyword/value string: pgx has read it already
}

// Close stops the listener and closes the pool.
func (db *DB) Close() error {
	db.notify.close()
	db.listen.close()
	db.pool.Close()
	return nil
}

// Ping reports whether the database answers and its schema is current;
// /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	cur, known, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur != known {
		return fmt.Errorf("postgres: schema version %d, this binary needs %d: run migrations", cur, known)
	}
	return nil
}

// tx is a transaction and the one instant it writes as "now".
type tx struct {
	pgx.Tx
	now time.Time
	// changes are the change events of the transaction's write, inserted
	// last, just before the commit (events.go).
	changes []store.Event
}

// maxAttempts bounds the retries of a transaction that failed on a
// serialization failure or deadlock.
const maxAttempts = 5

// write runs fn in a transaction and commits it, retrying when PostgreSQL
// asks for it (serialization failure, deadlock). It returns once the
// commit succeeded or fn failed; fn's own errors come back unchanged.
func (db *DB) write(ctx context.Context, fn func(context.Context, *tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = db.writeOnce(ctx, fn)
		if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			break
		}
	}
	return err
}

func (db *DB) writeOnce(ctx context.Context, fn func(context.Context, *tx) error) error {
	t, err := db.pool.Begin(ctx)
	if err != nil {
		return wrap("begin", err)
	}
	defer t.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	wt := &tx{Tx: t, now: db.clock()}
	if err := fn(ctx, wt); err != nil {
		return err
	}
	dirs, err := recordChanges(ctx, wt)
	if err != nil {
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return wrap("commit", err)
	}
	if len(dirs) > 0 {
		db.notify.committed(dirs...)
	}
	return nil
}

// writeTx is write for functions with a result.
func writeTx[T any](db *DB, ctx context.Context, fn func(context.Context, *tx) (T, error)) (T, error) {
	var out T
	err := db.write(ctx, func(ctx context.Context, t *tx) error {
		var err error
		out, err = fn(ctx, t)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// read runs fn in a read-only transaction: one snapshot for all of its
// queries (a page and its total). Single-statement reads use db.pool
// directly: a statement is its own snapshot.
func (db *DB) read(ctx context.Context, fn func(context.Context, *tx) error) error {
	t, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return wrap("begin", err)
	}
	defer t.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	return fn(ctx, &tx{Tx: t, now: db.clock()})
}

// clock is the store's "now": UTC, truncated to PostgreSQL's precision.
func (db *DB) clock() time.Time { return db.now().UTC().Truncate(time.Microsecond) }

// querier is what reads need: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

var (
	_ querier = (*pgxpool.Pool)(nil)
	_ querier = (*tx)(nil)
)

// utc returns t in UTC (pgx reads timestamptz in the local zone).
func utc(t time.Time) time.Time { return t.UTC() }

// utcPtr reads a nullable timestamptz: the zero time when NULL.
func utcPtr(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime writes the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
