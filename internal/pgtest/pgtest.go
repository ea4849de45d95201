// Package pgtest gives tests a PostgreSQL database of their own: each test
// binary creates one database for its run (and drops it at the end), and
// each test gets a fresh schema in it, so that tests never share rows with
// each other or with anything else on the server.
//
// The server is SCIMD_TEST_DATABASE_URL, by default the local one with
// trust authentication (postgres://postgres@127.0.0.1:5432/postgres). When
// it cannot be reached the tests that need it are skipped, unless
// SCIMD_TEST_POSTGRES=require (as .ci/run sets), which fails them.
//
// A package whose tests use it runs them through Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultServer is the server tests use when SCIMD_TEST_DATABASE_URL is unset.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var run struct {
	once sync.Once
	url  string // of the run's database; "" if unavailable
	name string
	err  error
}

var schemas atomic.Int64

// Main runs the package's tests, then after (e.g. closing a browser the
// tests shared), and drops the run's database.
func Main(m *testing.M, after ...func()) {
	code := m.Run()
	for _, f := range after {
		f()
	}
	os.Exit(finish(code))
}

func finish(code int) int {
	if run.name != "" {
		if err := dropDatabase(run.name); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: drop database %s: %v\n", run.name, err)
		}
	}
	return code
}

var onPostgres bool

// OnPostgres reports whether the tests run on PostgreSQL (the second pass
// of MainBackends); fixtures open their store accordingly.
func OnPostgres() bool { return onPostgres }

// MainBackends runs the package's tests twice: on SQLite, then on
// PostgreSQL, so that every HTTP test covers both backends. Without a
// server the second pass is skipped (failed if Required).
func MainBackends(m *testing.M) {
	code := m.Run()
	if err := create(); err != nil {
		if Required() {
			fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL at %s is required (SCIMD_TEST_POSTGRES=require): %v\n", redact(serverURL()), err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "pgtest: no PostgreSQL at %s, tests ran on SQLite only: %v\n", redact(serverURL()), err)
		os.Exit(code)
	}
	fmt.Fprintln(os.Stderr, "pgtest: running the tests again on PostgreSQL")
	onPostgres = true
	if c := m.Run(); c != 0 {
		code = c
	}
	os.Exit(finish(code))
}

func serverURL() string {
	if u := os.Getenv("SCIMD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultServer
}

// Required reports whether tests must fail, not skip, without a server.
func Required() bool { return os.Getenv("SCIMD_TEST_POSTGRES") == "require" }

// Database returns the URL of the run's database, creating it on first
// use; it skips (or fails, see Required) the test if no server answers.
func Database(t testing.TB) string {
	t.Helper()
	if err := create(); err != nil {
		if Required() {
			t.Fatalf("pgtest: PostgreSQL at %s is required (SCIMD_TEST_POSTGRES=require): %v", redact(serverURL()), err)
		}
		t.Skipf("pgtest: no PostgreSQL at %s (set SCIMD_TEST_DATABASE_URL): %v", redact(serverURL()), err)
	}
	return run.url
}

// create creates the run's database once.
func create() error {
	run.once.Do(func() {
		var b [4]byte
		_, _ = rand.Read(b[:])
		name := fmt.Sprintf("scimd_test_%d_%s", os.Getpid(), hex.EncodeToString(b[:]))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL())
		if err != nil {
			run.err = err
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
			run.err = err
			return
		}
		run.name = name
		run.url = withDatabase(serverURL(), name)
		// Extensions are per database: create pg_trgm once, in public,
		// where every test schema's search_path finds it.
		db, err := pgx.Connect(ctx, run.url)
		if err != nil {
			run.err = err
			return
		}
		defer db.Close(ctx)
		if _, err := db.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public`); err != nil {
			run.err = err
		}
	})
	return run.err
}

// URL returns the URL of a new, empty schema of the run's database, used
// as the search path of every connection made with it; the schema is
// dropped when the test ends (after the cleanups registered later, such
// as closing a store).
func URL(t testing.TB) string {
	t.Helper()
	base := Database(t)
	schema := fmt.Sprintf("t%d_%d", os.Getpid(), schemas.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: connect: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema: %v", err)
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}

func withDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		return server
	}
	u.Path = "/" + name
	return u.String()
}

func dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
	return err
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return strings.Replace(u.String(), "xxxxx", "…", 1)
}
