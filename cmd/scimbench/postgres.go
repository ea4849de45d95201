package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// This file is the postgres backend's administration: the run's database,
// created on the -postgres server and dropped afterwards, and the meter
// that reads the server's CPU time and WAL per phase.

// PostgresInfo describes a run's PostgreSQL server and database.
type PostgresInfo struct {
	Version           string `json:"version"`
	Database          string `json:"database"`
	SynchronousCommit string `json:"synchronousCommit"` // as the run's database sees it
	Fsync             string `json:"fsync"`
	SharedBuffers     string `json:"sharedBuffers"`
	Autovacuum        string `json:"autovacuum"`
	// CPUMeasured: the server runs on this machine and its processes were
	// found, so the phases' postgresCPUSeconds are set.
	CPUMeasured bool `json:"cpuMeasured"`
	// KeptURL is the database's URL, password redacted, with -keep.
	KeptURL string `json:"keptURL,omitempty"`
}

// pgDatabase is a run's new database on the -postgres server.
type pgDatabase struct {
	server string // the -postgres URL
	name   string
	url    string // the database's URL: the server's, with the database's name
	info   *PostgresInfo
}

// databaseSeq numbers the databases this process creates.
var databaseSeq atomic.Int64

// checkPostgresURL checks -postgres without ever quoting it: it may hold
// a password.
func checkPostgresURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || (u.Host == "" && !u.Query().Has("host")) {
		return errors.New("-postgres: not a postgres:// or postgresql:// URL with a host (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	if _, err := pgx.ParseConfig(withoutPoolParams(s)); err != nil {
		return errors.New("-postgres: not a valid PostgreSQL connection URL")
	}
	return nil
}

// withDatabase is server's URL naming database name instead; the query
// (sslmode, pool_max_conns, ...) stays, so that it reaches scimd.
func withDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		return server
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// withoutPoolParams drops pgxpool's pool_* parameters, which a single
// connection would send to the server as settings.
func withoutPoolParams(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redactURL hides a URL's password, in its user part or its query.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable URL]"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// connect opens one connection for scimbench's own statements.
func connect(ctx context.Context, databaseURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(withoutPoolParams(databaseURL))
	if err != nil {
		return nil, errors.New("not a valid PostgreSQL connection URL")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	cfg.RuntimeParams["application_name"] = "scimbench"
	return pgx.ConnectConfig(ctx, cfg)
}

// createDatabase creates scimbench_<pid>_<n> on the server, for one run.
// scimd's migration creates what it needs in it (pg_trgm included).
func createDatabase(ctx context.Context, server string) (*pgDatabase, error) {
	conn, err := connect(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("-postgres %s: %w", redactURL(server), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var name string
	for {
		name = fmt.Sprintf("scimbench_%d_%d", os.Getpid(), databaseSeq.Add(1))
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: kept by an earlier process of this pid
			continue
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("create the run's database on %s: %w", redactURL(server), err)
	}
	d := &pgDatabase{server: server, name: name, url: withDatabase(server, name), info: &PostgresInfo{Database: name}}
	db, err := connect(ctx, d.url)
	if err == nil {
		defer db.Close(context.WithoutCancel(ctx))
		err = db.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
			current_setting('fsync'), current_setting('shared_buffers'), current_setting('autovacuum')`).
			Scan(&d.info.Version, &d.info.SynchronousCommit, &d.info.Fsync, &d.info.SharedBuffers, &d.info.Autovacuum)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("connect to the run's database %s: %w", name, err), d.drop(ctx))
	}
	return d, nil
}

// drop drops the database, even after ctx ended (an interrupted run
// leaves nothing behind), ending any connection left to it.
func (d *pgDatabase) drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	conn, err := connect(ctx, d.server)
	if err != nil {
		return fmt.Errorf("drop the run's database %s: %w", d.name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop the run's database %s: %w", d.name, err)
	}
	return nil
}

// dropDatabase drops the run's database after the run, or with -keep
// says where it is.
func (b *bench) dropDatabase(ctx context.Context, d *pgDatabase) error {
	if b.opt.keep {
		d.info.KeptURL = redactURL(d.url)
		b.prog.clear()
		fmt.Fprintf(b.stderr, "scimbench: kept the PostgreSQL database %s\n", d.info.KeptURL)
		return nil
	}
	return d.drop(ctx)
}

// pgMeter samples, before and after each phase, the PostgreSQL server's
// WAL position (the whole server's: other databases' writes count too)
// and, when the server runs on this machine, the CPU time of its
// processes that work for the run's database (postgresCPU), so that a
// phase shows what PostgreSQL did for it apart from the rest of the
// machine.
type pgMeter struct {
	mu         sync.Mutex
	conn       *pgx.Conn
	postmaster int    // its pid; 0 when the server is not on this machine
	cluster    string // cluster_name, which prefixes process titles
	database   string // the run's
}

// newPGMeter connects to the run's database; nil if it cannot (the
// phases then go without PostgreSQL's figures).
func newPGMeter(ctx context.Context, databaseURL string) *pgMeter {
	conn, err := connect(ctx, databaseURL)
	if err != nil {
		return nil
	}
	m := &pgMeter{conn: conn, database: conn.Config().Database}
	if onThisMachine(conn) {
		var pid int
		var titles string
		if conn.QueryRow(ctx, `SELECT pg_backend_pid(), current_setting('cluster_name'), current_setting('update_process_title')`).
			Scan(&pid, &m.cluster, &titles) == nil && titles == "on" {
			m.postmaster = postmasterOf(pid)
		}
	}
	return m
}

// onThisMachine reports whether conn reaches the server on loopback or a
// Unix socket: only then are the pids it reports this machine's (and
// postmasterOf checks them further).
func onThisMachine(conn *pgx.Conn) bool {
	host := conn.Config().Host
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (m *pgMeter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.conn.Close(ctx)
}

// serverSample is the PostgreSQL server's counters at one time.
type serverSample struct {
	cpu   time.Duration
	cpuOK bool
	wal   int64 // bytes of WAL ever inserted
	walOK bool
}

// sample reads the counters; a nil meter reads none.
func (m *pgMeter) sample(ctx context.Context) serverSample {
	var s serverSample
	if m == nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s.walOK = m.conn.QueryRow(qctx, `SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint`).Scan(&s.wal) == nil
	if m.postmaster > 0 {
		s.cpu, s.cpuOK = postgresCPU(m.postmaster, m.cluster, m.database)
	}
	return s
}

// cpuMeasured reports whether the meter reads PostgreSQL's CPU time.
func (m *pgMeter) cpuMeasured() bool { return m != nil && m.postmaster > 0 }
