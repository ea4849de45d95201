package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// seedDirectory creates directory id with n users (phones and words
// included), a group of them all, and their sync events.
func seedDirectory(t *testing.T, db *DB, id string, n int) {
	t.Helper()
	ctx := t.Context()
	if _, err := db.CreateDirectory(ctx, store.Directory{ID: id, Name: id}); err != nil {
		t.Fatal(err)
	}
	var members []string
	for i := range n {
		u := benchUser(i)
		u.DirectoryID = id
		if _, err := db.CreateUser(ctx, u, store.SyncEvent{DirectoryID: id, Operation: store.SyncCreate, ResourceType: "User"}); err != nil {
			t.Fatal(err)
		}
		members = append(members, u.ID)
	}
	g := store.Group{DirectoryID: id, ID: "g-" + id, DisplayName: "Group " + id, Doc: []byte(`{}`)}
	if _, err := db.CreateGroup(ctx, g, members, store.SyncEvent{DirectoryID: id, Operation: store.SyncCreate, ResourceType: "Group"}); err != nil {
		t.Fatal(err)
	}
}

// rowsOf counts the directory's rows in every table that holds them.
func rowsOf(t *testing.T, db *DB, id string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range []string{"directories", "users", "groups", "group_members", "user_phones", "user_words", "sync_events"} {
		col := "directory_id"
		if table == "directories" {
			col = "id"
		}
		var n int
		if err := db.r.QueryRowContext(t.Context(), `SELECT count(*) FROM `+table+` WHERE `+col+` = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

// TestDeleteDirectoryInBatches checks that a directory's delete hides it
// at once, lets other directories' writes through while its rows are
// purged, and leaves none of them.
func TestDeleteDirectoryInBatches(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	defer func(n int) { purgeBatch = n }(purgeBatch)
	purgeBatch = 1
	const users = 200
	seedDirectory(t, db, "a", users)
	seedDirectory(t, db, "b", 3)

	done := make(chan error, 1)
	go func() { done <- db.DeleteDirectory(ctx, "a") }()
	// Wait until the purge has begun: some of a's users are gone.
	for {
		if n := rowsOf(t, db, "a")["users"]; n > 0 && n < users {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("DeleteDirectory returned (%v) before any purge was seen", err)
		case <-time.After(time.Millisecond):
		}
	}
	if _, err := db.GetDirectory(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDirectory of a directory being deleted: %v, want not found", err)
	}
	if ds, err := db.ListDirectories(ctx); err != nil || len(ds) != 1 || ds[0].ID != "b" {
		t.Errorf("ListDirectories while a is deleted: %v, %v; want b only", ds, err)
	}
	// Another directory's write goes through between the purge's batches.
	u := benchUser(1000)
	u.DirectoryID = "b"
	if _, err := db.CreateUser(ctx, u, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	if n := rowsOf(t, db, "a")["users"]; n == 0 {
		t.Error("a write to another directory waited for the whole purge")
	}
	if err := <-done; err != nil {
		t.Fatalf("DeleteDirectory: %v", err)
	}
	for table, n := range rowsOf(t, db, "a") {
		if n != 0 {
			t.Errorf("%d rows of the deleted directory left in %s", n, table)
		}
	}
	if got := rowsOf(t, db, "b"); got["directories"] != 1 || got["users"] != 4 || got["groups"] != 1 || got["group_members"] != 3 {
		t.Errorf("the other directory's rows: %v, want its 3 users, group and members, and the new user", got)
	}
	if err := db.DeleteDirectory(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteDirectory: %v, want not found", err)
	}
}

// TestResumeDeletes checks that a delete cut short after its first step
// is finished by ResumeDeletes.
func TestResumeDeletes(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	seedDirectory(t, db, "a", 5)
	seedDirectory(t, db, "b", 2)
	if _, err := db.w.ExecContext(ctx, `UPDATE directories SET deleting = 1 WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.ResumeDeletes(ctx); n != 1 || err != nil {
		t.Fatalf("ResumeDeletes = %d, %v; want 1 directory", n, err)
	}
	for table, n := range rowsOf(t, db, "a") {
		if n != 0 {
			t.Errorf("%d rows of the deleted directory left in %s", n, table)
		}
	}
	if n := rowsOf(t, db, "b")["users"]; n != 2 {
		t.Errorf("the other directory has %d users, want 2", n)
	}
}
