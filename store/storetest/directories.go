package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/scimd/scimd/store"
)

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "admin_token_hash")
	wantErr(t, "GetSetting(unset)", err, store.ErrNotFound)

	for _, v := range [][]byte{[]byte("first"), {0, 1, 2, 255}, {}} {
		if err := s.SetSetting(ctx, "admin_token_hash", v); err != nil {
			t.Fatalf("SetSetting(%q): %v", v, err)
		}
		got, err := s.GetSetting(ctx, "admin_token_hash")
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("GetSetting = %q, %v; want %q", got, err, v)
		}
	}
	if _, err := s.GetSetting(ctx, "other"); err == nil {
		t.Error("GetSetting(other) found a value set under another key")
	}
}

func testDirectoriesCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, hash := store.NewToken("scim_")
	a, err := s.CreateDirectory(ctx, store.Directory{ID: newID("dir"), Name: "a", SCIMTokenHash: hash})
	if err != nil {
		t.Fatalf("CreateDirectory: %v", err)
	}
	if a.Name != "a" || !bytes.Equal(a.SCIMTokenHash, hash) || a.Created.IsZero() || !a.Updated.Equal(a.Created) {
		t.Errorf("CreateDirectory = %+v", a)
	}
	b := createDirectory(t, s)

	got, err := s.GetDirectory(ctx, a.ID)
	if err != nil || got.ID != a.ID || got.Name != a.Name || !bytes.Equal(got.SCIMTokenHash, hash) ||
		!got.Created.Equal(a.Created) || !got.Updated.Equal(a.Updated) {
		t.Errorf("GetDirectory = %+v, %v; want %+v", got, err, a)
	}

	all, err := s.ListDirectories(ctx)
	if err != nil || len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Errorf("ListDirectories = %+v, %v; want [a b] in creation order", all, err)
	}

	_, hash2 := store.NewToken("scim_")
	up, err := s.UpdateDirectory(ctx, a.ID, func(d store.Directory) (store.Directory, error) {
		if d.ID != a.ID || d.Name != "a" {
			t.Errorf("callback got %+v", d)
		}
		d.Name, d.SCIMTokenHash = "renamed", hash2
		return d, nil
	})
	if err != nil {
		t.Fatalf("UpdateDirectory: %v", err)
	}
	if up.Name != "renamed" || !bytes.Equal(up.SCIMTokenHash, hash2) || !up.Created.Equal(a.Created) || !up.Updated.After(a.Updated) {
		t.Errorf("UpdateDirectory = %+v; want renamed, new hash, same Created, later Updated than %v", up, a.Updated)
	}
	got, err = s.GetDirectory(ctx, a.ID)
	if err != nil || got.Name != "renamed" || !bytes.Equal(got.SCIMTokenHash, hash2) || !got.Updated.Equal(up.Updated) {
		t.Errorf("GetDirectory after update = %+v, %v", got, err)
	}

	if err := s.DeleteDirectory(ctx, a.ID); err != nil {
		t.Fatalf("DeleteDirectory: %v", err)
	}
	_, err = s.GetDirectory(ctx, a.ID)
	wantErr(t, "GetDirectory(deleted)", err, store.ErrNotFound)
	if all, _ := s.ListDirectories(ctx); len(all) != 1 || all[0].ID != b.ID {
		t.Errorf("ListDirectories after delete = %+v", all)
	}
}

func testDirectoriesDuplicate(t *testing.T, s store.Store) {
	a := createDirectory(t, s)
	_, err := s.CreateDirectory(t.Context(), store.Directory{ID: a.ID, Name: "again"})
	wantErr(t, "CreateDirectory(same id)", err, store.ErrConflict)
}

func testDirectoriesNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetDirectory(ctx, "missing")
	wantErr(t, "GetDirectory", err, store.ErrNotFound)
	_, err = s.UpdateDirectory(ctx, "missing", func(d store.Directory) (store.Directory, error) {
		t.Error("callback called for a missing directory")
		return d, nil
	})
	wantErr(t, "UpdateDirectory", err, store.ErrNotFound)
	wantErr(t, "DeleteDirectory", s.DeleteDirectory(ctx, "missing"), store.ErrNotFound)
	if all, err := s.ListDirectories(ctx); err != nil || len(all) != 0 {
		t.Errorf("ListDirectories(empty store) = %+v, %v", all, err)
	}
}

func testDirectoriesDeleteCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	u := createUser(t, s, a.ID, "cascade@example.com", nil)
	g := createGroup(t, s, a.ID, "Cascade", u.ID)
	ub := createUser(t, s, b.ID, "cascade@example.com", nil)
	gb := createGroup(t, s, b.ID, "Cascade", ub.ID)

	// The WithHidden function runs once, with the directory already gone
	// to readers.
	hidden := 0
	hctx := store.WithHidden(ctx, func() {
		hidden++
		_, err := s.GetDirectory(ctx, a.ID)
		wantErr(t, "GetDirectory when DeleteDirectory says hidden", err, store.ErrNotFound)
	})
	if err := s.DeleteDirectory(hctx, a.ID); err != nil {
		t.Fatalf("DeleteDirectory: %v", err)
	}
	if hidden != 1 {
		t.Errorf("DeleteDirectory called the WithHidden function %d times, want 1", hidden)
	}
	_, err := s.GetUser(ctx, a.ID, u.ID)
	wantErr(t, "GetUser after directory delete", err, store.ErrNotFound)
	_, err = s.GetGroup(ctx, a.ID, g.ID)
	wantErr(t, "GetGroup after directory delete", err, store.ErrNotFound)
	if us, n, err := s.ListUsers(ctx, a.ID, store.Query{Limit: 10}); err != nil || n != 0 || len(us) != 0 {
		t.Errorf("ListUsers after directory delete = %d, %d, %v", len(us), n, err)
	}
	if gs, n, err := s.ListGroups(ctx, a.ID, store.Query{Limit: 10}); err != nil || n != 0 || len(gs) != 0 {
		t.Errorf("ListGroups after directory delete = %d, %d, %v", len(gs), n, err)
	}

	// A directory recreated with the same id starts empty.
	if _, err := s.CreateDirectory(ctx, store.Directory{ID: a.ID, Name: "again"}); err != nil {
		t.Fatalf("CreateDirectory(same id after delete): %v", err)
	}
	if _, n, err := s.ListUsers(ctx, a.ID, store.Query{}); err != nil || n != 0 {
		t.Errorf("recreated directory has %d users, %v", n, err)
	}
	createUser(t, s, a.ID, "cascade@example.com", nil) // the name is free again
	wantMembers(t, s, a.ID, g.ID)

	// The other directory is untouched.
	if _, err := s.GetUser(ctx, b.ID, ub.ID); err != nil {
		t.Errorf("GetUser(other directory): %v", err)
	}
	wantMembers(t, s, b.ID, gb.ID, ub.ID)
}

func testDirectoriesCallbackError(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createDirectory(t, s)
	_, err := s.UpdateDirectory(ctx, a.ID, func(d store.Directory) (store.Directory, error) {
		d.Name = "not written"
		return d, errBoom
	})
	wantErr(t, "UpdateDirectory", err, errBoom)
	if got, _ := s.GetDirectory(ctx, a.ID); got.Name != a.Name || !got.Updated.Equal(a.Updated) {
		t.Errorf("directory changed by a failed callback: %+v", got)
	}
}

// testDirectoriesReadsSeeWrites: every read after a write sees it, however
// a backend keeps directories and keys (they are read on every request,
// so a backend may hold them in memory), and what a read returns is the
// caller's to change.
func testDirectoriesReadsSeeWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	k := createAPIKey(t, s, d.ID, "reader")
	for range 2 { // twice: the second read may come from memory
		if _, err := s.GetDirectory(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyByHash(ctx, k.Hash); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.GetDirectory(ctx, d.ID)
	got.SCIMTokenHash[0] ^= 0xff
	got.Mapping = append(got.Mapping, "x"...)
	if again, _ := s.GetDirectory(ctx, d.ID); string(again.SCIMTokenHash) != string(d.SCIMTokenHash) || string(again.Mapping) != string(d.Mapping) {
		t.Error("changing a returned directory changed the stored one")
	}
	newHash := store.HashToken("rotated")
	if _, err := s.UpdateDirectory(ctx, d.ID, func(d store.Directory) (store.Directory, error) {
		d.SCIMTokenHash = newHash
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDirectory(ctx, d.ID); string(got.SCIMTokenHash) != string(newHash) {
		t.Error("GetDirectory after a token rotation returned the old token hash")
	}
	if err := s.DeleteAPIKey(ctx, d.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIKeyByHash(ctx, k.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("APIKeyByHash after the key was revoked: %v, want ErrNotFound", err)
	}
	k2 := createAPIKey(t, s, d.ID, "second")
	if _, err := s.APIKeyByHash(ctx, k2.Hash); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDirectory(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDirectory(ctx, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDirectory after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.APIKeyByHash(ctx, k2.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted directory's API key still resolves: %v", err)
	}
}
