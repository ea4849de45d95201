package postgres

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// feedDirectory inserts a directory with the given users directly, so
// that these tests depend on the feed only.
func feedDirectory(t *testing.T, db *DB, id string, users ...string) {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	if _, err := db.pool.Exec(ctx, `INSERT INTO directories (id, name, created, updated) VALUES ($1, $1, $2, $2)`, id, now); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if _, err := db.pool.Exec(ctx, `INSERT INTO users (directory_id, id, user_name, active, doc, version, created, last_modified)
			VALUES ($1, $2, $2, true, '{}', 1, $3, $3)`, id, u, now); err != nil {
			t.Fatal(err)
		}
	}
}

func presenceOf(user string, n int) store.Presence {
	return store.Presence{UserID: user, Availability: fmt.Sprintf("A%d", n), Activity: fmt.Sprintf("B%d", n),
		ObservedAt: time.Date(2026, 5, 1, 12, 0, n, 0, time.UTC)}
}

func storePresence(t *testing.T, db *DB, dir string, set []store.Presence, del ...string) {
	t.Helper()
	if err := db.WritePresence(t.Context(), dir, set, del); err != nil {
		t.Fatalf("WritePresence: %v", err)
	}
}

// wantFeed checks the directory's changes after `after` and the oldest
// number still recorded.
func wantFeed(t *testing.T, db *DB, dir string, after int64, want []store.PresenceChange, wantOldest int64) {
	t.Helper()
	got, oldest, err := db.PresenceChanges(t.Context(), dir, after, 100)
	if err != nil {
		t.Fatalf("PresenceChanges: %v", err)
	}
	if oldest != wantOldest {
		t.Errorf("PresenceChanges(%s, %d): oldest %d, want %d", dir, after, oldest, wantOldest)
	}
	if fmt.Sprint(changesText(got)) != fmt.Sprint(changesText(want)) {
		t.Errorf("PresenceChanges(%s, %d):\n got %v\nwant %v", dir, after, changesText(got), changesText(want))
	}
}

func changesText(cs []store.PresenceChange) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%d %s", c.Seq, c.UserID)
		if p := c.Presence; p != nil {
			out[i] += fmt.Sprintf(" %s %s %s %s", p.UserID, p.Availability, p.Activity, p.ObservedAt.Format(time.RFC3339Nano))
			if p.ObservedAt.Location() != time.UTC {
				out[i] += " (not UTC)"
			}
		}
	}
	return out
}

func change(seq int64, user string, p *store.Presence) store.PresenceChange {
	return store.PresenceChange{Seq: seq, UserID: user, Presence: p}
}

func ptr[T any](v T) *T { return &v }

func wantLast(t *testing.T, db *DB, dir string, want int64) {
	t.Helper()
	if got, err := db.LastPresenceChange(t.Context(), dir); err != nil || got != want {
		t.Errorf("LastPresenceChange(%s) = %d, %v; want %d", dir, got, err, want)
	}
}

func TestPresenceFeed(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx := t.Context()
	feedDirectory(t, db, "d1", "ada", "bob", "cat")
	feedDirectory(t, db, "d2", "xen")
	wantFeed(t, db, "d1", 0, nil, 0)
	wantLast(t, db, "d1", 0)

	// Numbers are per directory and follow on across calls; a call's
	// sets come before its deletes.
	storePresence(t, db, "d1", []store.Presence{presenceOf("bob", 1), presenceOf("ada", 2)})
	storePresence(t, db, "d2", []store.Presence{presenceOf("xen", 3)})
	storePresence(t, db, "d1", []store.Presence{presenceOf("cat", 4), presenceOf("bob", 5)}, "ada")
	all := []store.PresenceChange{
		change(1, "ada", ptr(presenceOf("ada", 2))),
		change(2, "bob", ptr(presenceOf("bob", 1))),
		change(3, "bob", ptr(presenceOf("bob", 5))),
		change(4, "cat", ptr(presenceOf("cat", 4))),
		change(5, "ada", nil),
	}
	wantFeed(t, db, "d1", 0, all, 1)
	wantFeed(t, db, "d2", 0, []store.PresenceChange{change(1, "xen", ptr(presenceOf("xen", 3)))}, 1)
	wantLast(t, db, "d1", 5)
	wantLast(t, db, "d2", 1)

	// What is not applied is not recorded: a user no longer (or never)
	// in the directory, another directory's user, a delete of no presence.
	storePresence(t, db, "d1", []store.Presence{presenceOf("gone", 6), presenceOf("xen", 7)}, "ada", "gone")
	wantLast(t, db, "d1", 5)
	// A user set twice keeps the last value; set and deleted, it is
	// deleted.
	storePresence(t, db, "d1", []store.Presence{presenceOf("ada", 8), presenceOf("cat", 9), presenceOf("ada", 10)}, "cat")
	all = append(all, change(6, "ada", ptr(presenceOf("ada", 10))), change(7, "cat", nil))
	wantFeed(t, db, "d1", 0, all, 1)
	if got, _ := db.ListPresence(ctx, "d1"); len(got) != 2 || got[0] != presenceOf("ada", 10) || got[1] != presenceOf("bob", 5) {
		t.Errorf("ListPresence = %+v", got)
	}

	// After a number: the later changes, oldest first, within limit.
	wantFeed(t, db, "d1", 3, all[3:], 1)
	wantFeed(t, db, "d1", 7, nil, 1)
	if got, oldest, err := db.PresenceChanges(ctx, "d1", 2, 2); err != nil || oldest != 1 ||
		fmt.Sprint(changesText(got)) != fmt.Sprint(changesText(all[2:4])) {
		t.Errorf("PresenceChanges(limit 2) = %v, %d, %v", changesText(got), oldest, err)
	}
	if got, oldest, err := db.PresenceChanges(ctx, "d1", 0, 0); err != nil || len(got) != 0 || oldest != 1 {
		t.Errorf("PresenceChanges(limit 0) = %v, %d, %v", changesText(got), oldest, err)
	}

	// Pruning deletes what was recorded before a time, but keeps each
	// directory's newest.
	// (A call's changes share its time.)
	var sixth time.Time
	if err := db.pool.QueryRow(ctx, `SELECT recorded FROM presence_changes WHERE directory_id = 'd1' AND seq = 6`).Scan(&sixth); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PrunePresenceChanges(ctx, sixth); err != nil || n != 5 {
		t.Errorf("PrunePresenceChanges(6th) = %d, %v; want 5", n, err)
	}
	wantFeed(t, db, "d1", 0, all[5:], 6)
	if n, err := db.PrunePresenceChanges(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("PrunePresenceChanges(all) = %d, %v; want 1", n, err)
	}
	wantFeed(t, db, "d1", 0, all[6:], 7)
	wantFeed(t, db, "d1", 7, nil, 7)
	wantFeed(t, db, "d2", 0, []store.PresenceChange{change(1, "xen", ptr(presenceOf("xen", 3)))}, 1)

	// Revoking forgets the feed; numbers go on, so that an old id never
	// names a new change.
	if _, err := db.RevokePresence(ctx, store.PresenceLink{DirectoryID: "d1", State: store.PresenceRevoked}, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	wantFeed(t, db, "d1", 0, nil, 0)
	wantLast(t, db, "d1", 0)
	wantLast(t, db, "d2", 1)
	storePresence(t, db, "d1", []store.Presence{presenceOf("bob", 11)})
	wantFeed(t, db, "d1", 0, []store.PresenceChange{change(8, "bob", ptr(presenceOf("bob", 11)))}, 8)
}

// TestPresenceFeedConcurrent has several writers of one directory, whose
// users overlap: every change gets a number, the numbers are gapless, each
// call's are contiguous, and the notifications (sent in commit order)
// carry increasing numbers.
func TestPresenceFeedConcurrent(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx := t.Context()
	const writers, calls = 4, 25
	users := []string{"shared"}
	for w := range writers {
		users = append(users, fmt.Sprintf("own%d", w))
	}
	feedDirectory(t, db, "d", users...)
	changes, stop := db.Changes()
	defer stop()
	waitListening(t, db)

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for c := range calls {
				n := w*calls + c // the call's ObservedAt second identifies it
				set := []store.Presence{presenceOf(fmt.Sprintf("own%d", w), n), presenceOf("shared", n)}
				if err := db.WritePresence(ctx, "d", set, nil); err != nil {
					t.Errorf("WritePresence: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	const total = 2 * writers * calls

	got, oldest, err := db.PresenceChanges(ctx, "d", 0, 2*total)
	if err != nil || len(got) != total || oldest != 1 {
		t.Fatalf("PresenceChanges = %d changes, oldest %d, %v; want %d, 1", len(got), oldest, err, total)
	}
	byCall := map[time.Time][]int64{}
	for i, c := range got {
		if c.Seq != int64(i+1) {
			t.Fatalf("change %d has number %d: not gapless", i, c.Seq)
		}
		byCall[c.Presence.ObservedAt] = append(byCall[c.Presence.ObservedAt], c.Seq)
	}
	for at, seqs := range byCall {
		if len(seqs) != 2 || seqs[1] != seqs[0]+1 {
			t.Errorf("call at %v numbered %v, want 2 contiguous", at, seqs)
		}
	}

	var heard []int64
	for len(heard) < writers*calls {
		if c := nextChange(t, changes); c.Kind == store.ChangePresence && c.DirectoryID == "d" {
			heard = append(heard, c.Seq)
		}
	}
	want := make([]int64, writers*calls)
	for i := range want {
		want[i] = int64(2 * (i + 1))
	}
	if !slices.Equal(heard, want) {
		t.Errorf("notifications in commit order carry %v, want %v", heard, want)
	}
}

// waitListening waits for db's listener to be connected: from then on,
// no notification is missed.
func waitListening(t *testing.T, db *DB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !db.listen.cacheable(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("listener not connected")
		}
	}
}

// nextChange returns the next change of the feed other than a resync.
func nextChange(t *testing.T, changes <-chan store.Change) store.Change {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.Kind != store.ChangeResync {
				return c
			}
		case <-timeout:
			t.Fatal("no notification")
		}
	}
}

// TestPresenceLinkNotifies checks that every write of a link tells the
// replicas.
func TestPresenceLinkNotifies(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx := t.Context()
	feedDirectory(t, db, "d")
	changes, stop := db.Changes()
	defer stop()
	waitListening(t, db)
	if err := db.PutPresenceLink(ctx, store.PresenceLink{DirectoryID: "d", State: store.PresenceConnected}, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokePresence(ctx, store.PresenceLink{DirectoryID: "d", State: store.PresenceRevoked}, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if c := nextChange(t, changes); c.Kind != store.ChangePresenceLink || c.DirectoryID != "d" {
			t.Errorf("change %+v, want the link of d", c)
		}
	}
}

// TestPruneBatches checks that a prune spanning several batches deletes
// everything and counts it.
func TestPruneBatches(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx := t.Context()
	feedDirectory(t, db, "d")
	for range 5 {
		if err := db.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: "d", Operation: store.SyncCreate, ResourceType: "User"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.pruneBatches(ctx, "prune", pruneSyncEvents, time.Now().Add(time.Hour), 2); err != nil || n != 5 {
		t.Errorf("pruneBatches = %d, %v; want 5", n, err)
	}
}

// TestDeletingDirectory checks that a directory being deleted (its rows
// purged in the background) shows no sync log and no presence link, and
// takes no new link.
func TestDeletingDirectory(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx := t.Context()
	feedDirectory(t, db, "d")
	link := store.PresenceLink{DirectoryID: "d", State: store.PresenceConnected}
	if err := db.PutPresenceLink(ctx, link, store.SyncEvent{Operation: store.SyncConnect, ResourceType: "Presence"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `UPDATE directories SET deleting = true WHERE id = 'd'`); err != nil {
		t.Fatal(err)
	}
	if evs, err := db.ListSyncEvents(ctx, "d", store.SyncQuery{Limit: 10}); err != nil || len(evs) != 0 {
		t.Errorf("ListSyncEvents = %+v, %v; want none", evs, err)
	}
	if counts, err := db.SyncSummary(ctx, "d", time.Time{}); err != nil || len(counts) != 0 {
		t.Errorf("SyncSummary = %+v, %v; want none", counts, err)
	}
	if links, err := db.ListPresenceLinks(ctx); err != nil || len(links) != 0 {
		t.Errorf("ListPresenceLinks = %+v, %v; want none", links, err)
	}
	if _, err := db.GetPresenceLink(ctx, "d"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPresenceLink: %v, want ErrNotFound", err)
	}
	if err := db.PutPresenceLink(ctx, link, store.SyncEvent{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutPresenceLink: %v, want ErrNotFound", err)
	}
}
