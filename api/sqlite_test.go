package api_test

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// epoch starts the clocks of tests on a real store: UTC, whole seconds,
// so that golden files are readable.
var epoch = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)

// newSQLiteFixture serves the admin API on a real SQLite store in a
// temporary file. The store's clock starts at epoch once the store is
// migrated (so that new migrations do not shift the times of goldens) and
// advances a second per transaction; the API's clock is *now.
func newSQLiteFixture(t *testing.T, now *time.Time) (*fixture, store.Store) {
	t.Helper()
	return newFixtureOn(t, now, func(db store.Store) store.Store { return db })
}

// newFixtureOn is newSQLiteFixture with the store wrapped (to inject
// failures).
func newFixtureOn(t *testing.T, now *time.Time, wrap func(store.Store) store.Store) (*fixture, store.Store) {
	t.Helper()
	f := &fixture{logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var clock atomic.Pointer[storetest.Clock]
	clock.Store(storetest.NewClock(epoch, 0))
	db := teststore.Open(t, teststore.Options{
		Now:    func() time.Time { return clock.Load().Now() },
		Logger: logger,
	})
	clock.Store(storetest.NewClock(epoch, time.Second))
	t.Cleanup(func() { _ = db.Close() })
	r := mux.NewRouter()
	api.NewAdmin(api.AdminConfig{
		Store:          wrap(db),
		PublicURL:      "https://scim.example.com",
		AdminTokenHash: store.HashToken(adminToken),
		Logger:         logger,
		MaxBodyBytes:   4 << 10,
		Now:            func() time.Time { return *now },
	}).Register(r)
	f.handler = r
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", f.logs)
		}
	})
	return f, db
}
