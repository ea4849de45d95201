package server

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
)

// fakePruner answers PruneSyncEvents from a script of results and reports
// each call's cutoff, and PruneAudit's on audits when set.
type fakePruner struct {
	calls   chan time.Time
	results []error // per call; past the end: nil
	block   bool    // wait for ctx to end, then fail with its error
	audits  chan time.Time
}

func (f *fakePruner) PruneAudit(_ context.Context, before time.Time) (int64, error) {
	if f.audits != nil {
		f.audits <- before
	}
	return 3, nil
}

func (f *fakePruner) PruneSyncEvents(ctx context.Context, before time.Time) (int64, error) {
	f.calls <- before
	if f.block {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	var err error
	if len(f.results) > 0 {
		err, f.results = f.results[0], f.results[1:]
	}
	if err != nil {
		return 0, err
	}
	return 7, nil
}

func TestSyncLogPruner(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.FixedZone("UTC+1", 3600))
	logs := &syncBuffer{}
	fake := &fakePruner{calls: make(chan time.Time, 10), results: []error{nil, errors.New("disk I/O error")},
		audits: make(chan time.Time, 10)}
	ticks := make(chan time.Time)
	pruned := make(chan error, 10)
	p := &syncLogPruner{
		store: fake, retention: 720 * time.Hour, now: func() time.Time { return now },
		log:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ticks: ticks, pruned: func(_ int64, err error) { pruned <- err },
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.run(ctx) }()

	// At start, without a tick.
	if before := <-fake.calls; !before.Equal(now.Add(-720*time.Hour)) || before.Location() != time.UTC {
		t.Errorf("first prune before %v, want %v in UTC", before, now.Add(-720*time.Hour))
	}
	if err := <-pruned; err != nil {
		t.Fatal(err)
	}
	// The audit trail is pruned with the same cutoff.
	if before := <-fake.audits; !before.Equal(now.Add(-720 * time.Hour)) {
		t.Errorf("audit prune before %v, want %v", before, now.Add(-720*time.Hour))
	}
	// Every tick; a failure is logged and the next tick prunes again,
	// the audit trail too.
	for range 2 {
		ticks <- now
		<-fake.calls
		<-pruned
		<-fake.audits
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v, want nil after shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	out := logs.String()
	for _, want := range []string{`msg="sync log pruned"`, "deleted=7", `msg="sync log prune failed"`, "disk I/O error",
		`msg="audit trail pruned" deleted=3`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}

// TestSyncLogPrunerShutdown checks that a prune in progress ends with the
// context and that run then returns.
func TestSyncLogPrunerShutdown(t *testing.T) {
	logs := &syncBuffer{}
	fake := &fakePruner{calls: make(chan time.Time, 1), block: true}
	p := &syncLogPruner{store: fake, retention: time.Hour, now: time.Now, log: slog.New(slog.NewTextHandler(logs, nil)),
		ticks: make(chan time.Time)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.run(ctx) }()
	<-fake.calls
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return")
	}
	if out := logs.String(); !strings.Contains(out, "stopped by shutdown") || strings.Contains(out, "level=ERROR") {
		t.Errorf("a prune stopped by shutdown was logged as:\n%s", out)
	}
}

// TestServePrunesSyncLog checks that serve prunes events older than the
// retention at start, and keeps newer ones.
func TestServePrunesSyncLog(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "scimd.db")
	at := time.Now().Add(-48 * time.Hour)
	db, err := sqlite.OpenAndMigrate(ctx, path, sqlite.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	audited, _ := store.Audited(store.WithActor(ctx, store.Actor{Type: store.ActorAdminToken}), store.AuditDirectoryCreated, nil)
	d, err := db.CreateDirectory(audited, store.Directory{ID: "8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10", Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	record := func() {
		if err := db.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: d.ID, Operation: store.SyncCreate, ResourceType: "User"}); err != nil {
			t.Fatal(err)
		}
	}
	record()
	record()
	at = time.Now().Add(-time.Hour) // within the retention
	record()
	renamed, _ := store.Audited(store.WithActor(ctx, store.Actor{Type: store.ActorAdminToken}), store.AuditDirectoryRenamed, nil)
	if _, err := db.UpdateDirectory(renamed, d.ID, func(d store.Directory) (store.Directory, error) { return d, nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	pruned := make(chan int64, 1)
	s := startServer(t, testOptions{
		db:            path,
		config:        func(c *Config) { c.SyncLogRetention = 24 * time.Hour },
		syncLogPruned: func(n int64, err error) { pruned <- n },
	})
	select {
	case n := <-pruned:
		if n != 2 {
			t.Errorf("pruned %d events at start, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no prune at start")
	}
	r := s.do("GET", "/admin/v1/directories/"+d.ID+"/sync-log", testAdminToken, "")
	if r.status != 200 || strings.Count(string(r.body), `"id"`) != 1 {
		t.Errorf("sync log after prune: %d %s", r.status, r.body)
	}
	// The audit trail is kept as long: the old creation went, the recent
	// rename stays.
	r = s.do("GET", "/admin/v1/audit", testAdminToken, "")
	if r.status != 200 || strings.Count(string(r.body), `"action"`) != 1 || !strings.Contains(string(r.body), store.AuditDirectoryRenamed) {
		t.Errorf("audit trail after prune: %d %s", r.status, r.body)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.logs.String(), "sync log pruned") {
		t.Error("the prune was not logged")
	}
}
