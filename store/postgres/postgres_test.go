package postgres

import (
	"log/slog"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newTestDB opens a migrated store in a fresh schema. Now defaults to a
// storetest.Clock: deterministic, non-UTC, advancing per transaction.
func newTestDB(t testing.TB, opts Options) *DB {
	t.Helper()
	if opts.Now == nil {
		opts.Now = storetest.NewClock(storetest.Epoch, time.Millisecond+time.Nanosecond).Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	db, err := OpenAndMigrate(t.Context(), pgtest.URL(t), opts)
	if err != nil {
		t.Fatalf("OpenAndMigrate: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store { return newTestDB(t, Options{}) })
}
