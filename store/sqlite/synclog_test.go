package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// TestPruneInBatches checks that a prune larger than a batch commits batch
// by batch (so other writers get the writer in between), deletes exactly
// the old events and stops between batches when its context ends.
func TestPruneInBatches(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	d, err := db.CreateDirectory(ctx, store.Directory{ID: "d1", Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	record := func(n int) {
		for range n {
			if err := db.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: d.ID, Operation: store.SyncCreate, ResourceType: "User"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(10)
	boundary := db.now() // the test clock: later than the 10, earlier than what follows
	record(2)

	commits := db.commits.batches.Load()
	n, err := db.pruneSyncEvents(ctx, boundary, 3)
	if err != nil || n != 10 {
		t.Fatalf("pruneSyncEvents = %d, %v; want 10", n, err)
	}
	if got := db.commits.batches.Load() - commits; got != 4 {
		t.Errorf("pruning 10 in batches of 3 took %d commits, want 4", got)
	}
	if evs, _ := db.ListSyncEvents(ctx, d.ID, store.SyncQuery{Limit: 100}); len(evs) != 2 {
		t.Errorf("%d events left, want 2", len(evs))
	}

	record(5)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	n, err = db.pruneSyncEvents(cctx, db.now(), 3)
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("pruneSyncEvents(cancelled) = %d, %v; want 0, context.Canceled", n, err)
	}
}

func TestRecordSyncEventMissingDirectory(t *testing.T) {
	db := newTestDB(t, Options{})
	err := db.RecordSyncEvent(t.Context(), store.SyncEvent{DirectoryID: "nope", Operation: store.SyncCreate, ResourceType: "User"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordSyncEvent(missing directory) = %v, want ErrNotFound", err)
	}
}

// TestSyncEventTimes checks that events carry the write's UTC time to the
// nanosecond, whatever the clock's zone.
func TestSyncEventTimes(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("UTC+2", 7200))
	db := newTestDB(t, Options{Now: func() time.Time { return at }})
	ctx := t.Context()
	d, _ := db.CreateDirectory(ctx, store.Directory{ID: "d1", Name: "d"})
	if err := db.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: d.ID, Operation: store.SyncCreate, ResourceType: "User"}); err != nil {
		t.Fatal(err)
	}
	evs, err := db.ListSyncEvents(ctx, d.ID, store.SyncQuery{Since: at, Until: at, Limit: 1})
	if err != nil || len(evs) != 1 || !evs[0].Time.Equal(at) || evs[0].Time.Location() != time.UTC {
		t.Errorf("ListSyncEvents(at) = %+v, %v; want one event at %v in UTC", evs, err, at.UTC())
	}
}
