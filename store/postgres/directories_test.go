package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/scimd/scimd/store"
)

// seedPurgeDirectory creates directory id with n users (phones and words
// included), a group of them all, their sync events, presence and
// presence changes, an API key and a presence link; it returns the key.
func seedPurgeDirectory(t *testing.T, db *DB, id string, n int) store.APIKey {
	t.Helper()
	ctx := t.Context()
	if _, err := db.CreateDirectory(ctx, store.Directory{ID: id, Name: id}); err != nil {
		t.Fatal(err)
	}
	var members []string
	for i := range n {
		name := fmt.Sprintf("user%d@%s.example.com", i, id)
		u := store.User{DirectoryID: id, ID: fmt.Sprintf("%s-u%d", id, i), UserName: name, Active: true,
			Doc: []byte(`{}`), Contact: store.Contact{DisplayName: "User " + name, Email: name,
				Phones: []store.Phone{{Type: "work", Value: "x", E164: fmt.Sprintf("+4420794600%02d", i)}}}}
		if _, err := db.CreateUser(ctx, u, store.SyncEvent{DirectoryID: id, Operation: store.SyncCreate, ResourceType: "User"}); err != nil {
			t.Fatal(err)
		}
		members = append(members, u.ID)
	}
	g := store.Group{DirectoryID: id, ID: "g-" + id, DisplayName: "Group " + id}
	if _, err := db.CreateGroup(ctx, g, members, store.SyncEvent{DirectoryID: id, Operation: store.SyncCreate, ResourceType: "Group"}); err != nil {
		t.Fatal(err)
	}
	for i, uid := range members {
		if _, err := db.pool.Exec(ctx, `INSERT INTO presence (directory_id, user_id, availability, activity, observed_at)
			VALUES ($1, $2, 'Available', 'Available', now())`, id, uid); err != nil {
			t.Fatal(err)
		}
		if _, err := db.pool.Exec(ctx, `INSERT INTO presence_changes (directory_id, seq, user_id, recorded)
			VALUES ($1, $2, $3, now())`, id, i+1, uid); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO presence_links (directory_id, state, updated) VALUES ($1, 'connected', now())`, id); err != nil {
		t.Fatal(err)
	}
	_, hash := store.NewToken("key_")
	k, err := db.CreateAPIKey(ctx, store.APIKey{ID: "key-" + id, DirectoryID: id, Name: id, Hash: hash})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// purgeTables are the tables that hold a directory's rows.
var purgeTables = []string{"directories", "users", "groups", "group_members", "user_phones", "user_words",
	"sync_events", "presence", "presence_changes", "presence_links", "api_keys"}

// rowsOf counts the directory's rows in every table that holds them.
func rowsOf(t *testing.T, db *DB, id string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range purgeTables {
		col := "directory_id"
		if table == "directories" {
			col = "id"
		}
		var n int
		// table and col are constants of this test.
		if err := db.pool.QueryRow(t.Context(), `SELECT count(*) FROM `+table+` WHERE `+col+` = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

func wantPurged(t *testing.T, db *DB, id string) {
	t.Helper()
	for table, n := range rowsOf(t, db, id) {
		if n != 0 {
			t.Errorf("%d rows of deleted directory %s left in %s", n, id, table)
		}
	}
	var leases int
	if err := db.pool.QueryRow(t.Context(), `SELECT count(*) FROM leases WHERE name = $1`, "purge:"+id).Scan(&leases); err != nil || leases != 0 {
		t.Errorf("purge lease of %s: %d rows, %v; want released", id, leases, err)
	}
}

func wantIntact(t *testing.T, db *DB, id string, users int) {
	t.Helper()
	for table, n := range rowsOf(t, db, id) {
		want := users
		switch table {
		case "directories", "groups", "presence_links", "api_keys":
			want = 1
		case "user_words":
			want = -1 // several per user
		case "sync_events":
			want = users + 1
		}
		if want >= 0 && n != want || n == 0 {
			t.Errorf("directory %s has %d rows in %s, want %d", id, n, table, want)
		}
	}
}

// TestDeleteDirectoryInBatches checks that a purge in many batches
// removes everything of the directory and nothing of another's.
func TestDeleteDirectoryInBatches(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	defer func(n int) { purgeBatch = n }(purgeBatch)
	purgeBatch = 1 // 13 users: 14 batches; 14 events: 2 batches of 10
	ka := seedPurgeDirectory(t, db, "a", 13)
	seedPurgeDirectory(t, db, "b", 3)

	if err := db.DeleteDirectory(ctx, "a"); err != nil {
		t.Fatalf("DeleteDirectory: %v", err)
	}
	wantPurged(t, db, "a")
	wantIntact(t, db, "b", 3)
	if _, err := db.APIKeyByHash(ctx, ka.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("APIKeyByHash of the deleted directory's key: %v, want not found", err)
	}
	if err := db.DeleteDirectory(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteDirectory: %v, want not found", err)
	}
}

// TestResumeDeletes checks that ResumeDeletes finishes a delete cut short
// after its first step, and leaves alone one whose purge another replica
// holds.
func TestResumeDeletes(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	defer func(n int) { purgeBatch = n }(purgeBatch)
	purgeBatch = 3
	ka := seedPurgeDirectory(t, db, "a", 5)
	seedPurgeDirectory(t, db, "b", 2)
	seedPurgeDirectory(t, db, "c", 1)
	if _, err := db.pool.Exec(ctx, `UPDATE directories SET deleting = true WHERE id IN ('a', 'c')`); err != nil {
		t.Fatal(err)
	}
	if held, err := db.TryLease(ctx, "purge:c", "another replica", purgeLease); !held || err != nil {
		t.Fatalf("TryLease = %v, %v", held, err)
	}
	db.dirs.Invalidate()
	db.keys.Invalidate()
	if _, err := db.GetDirectory(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDirectory of a directory being deleted: %v, want not found", err)
	}
	if ds, err := db.ListDirectories(ctx); err != nil || len(ds) != 1 || ds[0].ID != "b" {
		t.Errorf("ListDirectories = %v, %v; want b only", ds, err)
	}
	if _, err := db.APIKeyByHash(ctx, ka.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("APIKeyByHash of a deleting directory's key: %v, want not found", err)
	}

	if n, err := db.ResumeDeletes(ctx); n != 1 || err != nil {
		t.Fatalf("ResumeDeletes = %d, %v; want 1 directory", n, err)
	}
	wantPurged(t, db, "a")
	wantIntact(t, db, "b", 2)
	if n := rowsOf(t, db, "c")["users"]; n != 1 {
		t.Errorf("the directory whose purge another replica holds has %d users, want 1 (left to it)", n)
	}
}
