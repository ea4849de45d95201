package storetest

import (
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

func testUsersCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	in := newUser(d.ID, "alice@example.com", map[string]any{
		"externalId": "ext-1", "displayName": "Alice", "active": true,
		"name": map[string]any{"givenName": "Alice"},
	})
	u, err := s.CreateUser(ctx, in, store.SyncEvent{})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if u.Version != 1 || u.Created.IsZero() || !u.LastModified.Equal(u.Created) {
		t.Errorf("CreateUser: version %d, created %v, lastModified %v; want 1 and equal times", u.Version, u.Created, u.LastModified)
	}
	want := in
	want.Version, want.Created, want.LastModified = 1, u.Created, u.LastModified
	checkUser(t, "CreateUser", u, want)

	got, err := s.GetUser(ctx, d.ID, u.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	checkUser(t, "GetUser", got, u)

	newDoc := mustJSON(map[string]any{"userName": "Alice@Example.com", "active": false, "title": "Engineer"})
	up, err := s.UpdateUser(ctx, d.ID, u.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		checkUser(t, "callback argument", old, u)
		old.UserName = "Alice@Example.com" // a case-only rename of itself is no conflict
		old.Active, old.DisplayName, old.ExternalID, old.Doc = false, "", "", newDoc
		// Identity, version and times are the store's.
		old.ID, old.DirectoryID, old.Version, old.Created = "other", "other", 42, time.Time{}
		return old, store.SyncEvent{}, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if !up.LastModified.After(u.LastModified) {
		t.Errorf("UpdateUser: lastModified %v not after %v", up.LastModified, u.LastModified)
	}
	want = store.User{DirectoryID: d.ID, ID: u.ID, UserName: "Alice@Example.com", Doc: newDoc,
		Version: 2, Created: u.Created, LastModified: up.LastModified}
	checkUser(t, "UpdateUser", up, want)
	got, err = s.GetUser(ctx, d.ID, u.ID)
	if err != nil {
		t.Fatalf("GetUser after update: %v", err)
	}
	checkUser(t, "GetUser after update", got, want)

	if err := s.DeleteUser(ctx, d.ID, u.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err = s.GetUser(ctx, d.ID, u.ID)
	wantErr(t, "GetUser(deleted)", err, store.ErrNotFound)
	wantErr(t, "DeleteUser(deleted)", s.DeleteUser(ctx, d.ID, u.ID, 0, store.SyncEvent{}), store.ErrNotFound)
	if _, n, err := s.ListUsers(ctx, d.ID, store.Query{}); err != nil || n != 0 {
		t.Errorf("ListUsers after delete: total %d, %v", n, err)
	}
}

func testUsersNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	_, err := s.GetUser(ctx, d.ID, "missing")
	wantErr(t, "GetUser", err, store.ErrNotFound)
	_, err = s.UpdateUser(ctx, d.ID, "missing", func(u store.User) (store.User, store.SyncEvent, error) {
		t.Error("callback called for a missing user")
		return u, store.SyncEvent{}, nil
	})
	wantErr(t, "UpdateUser", err, store.ErrNotFound)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, d.ID, "missing", 0, store.SyncEvent{}), store.ErrNotFound)
	if _, err := s.CreateUser(ctx, newUser("missing-directory", "x@example.com", nil), store.SyncEvent{}); err == nil {
		t.Error("CreateUser in a missing directory succeeded")
	}
}

func testUsersDeletePrecondition(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createUser(t, s, d.ID, "bob@example.com", nil)
	u, err := s.UpdateUser(ctx, d.ID, u.ID, func(u store.User) (store.User, store.SyncEvent, error) { return u, store.SyncEvent{}, nil })
	if err != nil || u.Version != 2 {
		t.Fatalf("UpdateUser = version %d, %v; want 2", u.Version, err)
	}
	wantErr(t, "DeleteUser(stale version)", s.DeleteUser(ctx, d.ID, u.ID, 1, store.SyncEvent{}), store.ErrPrecondition)
	if _, err := s.GetUser(ctx, d.ID, u.ID); err != nil {
		t.Fatalf("user gone after a failed precondition: %v", err)
	}
	if err := s.DeleteUser(ctx, d.ID, u.ID, 2, store.SyncEvent{}); err != nil {
		t.Fatalf("DeleteUser(current version): %v", err)
	}
	wantErr(t, "DeleteUser(deleted, with version)", s.DeleteUser(ctx, d.ID, u.ID, 2, store.SyncEvent{}), store.ErrNotFound)
}

func testUsersDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	alice := createUser(t, s, a.ID, "alice@example.com", nil)
	bob := createUser(t, s, a.ID, "bob@example.com", nil)

	_, err := s.CreateUser(ctx, newUser(a.ID, "ALICE@example.COM", nil), store.SyncEvent{})
	wantErr(t, "CreateUser(same userName, other case)", err, store.ErrConflict)

	dup := newUser(a.ID, "carol@example.com", nil)
	dup.ID = alice.ID
	_, err = s.CreateUser(ctx, dup, store.SyncEvent{})
	wantErr(t, "CreateUser(same id)", err, store.ErrConflict)

	_, err = s.UpdateUser(ctx, a.ID, bob.ID, func(u store.User) (store.User, store.SyncEvent, error) {
		u.UserName = "Alice@Example.com"
		return u, store.SyncEvent{}, nil
	})
	wantErr(t, "UpdateUser(rename to a taken userName)", err, store.ErrConflict)
	if got, _ := s.GetUser(ctx, a.ID, bob.ID); got.UserName != "bob@example.com" || got.Version != 1 {
		t.Errorf("conflicting update was written: %+v", got)
	}

	// userName is unique per directory only.
	createUser(t, s, b.ID, "alice@example.com", nil)
}

func testUsersCallbackError(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createUser(t, s, d.ID, "alice@example.com", nil)
	_, err := s.UpdateUser(ctx, d.ID, u.ID, func(u store.User) (store.User, store.SyncEvent, error) {
		u.UserName = "not-written@example.com"
		return u, store.SyncEvent{}, errBoom
	})
	wantErr(t, "UpdateUser", err, errBoom)
	got, err := s.GetUser(ctx, d.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, "user after a failed callback", got, u)
}
