package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

func createAPIKey(t *testing.T, s store.Store, directoryID, name string) store.APIKey {
	t.Helper()
	_, hash := store.NewToken("key_")
	k, err := s.CreateAPIKey(t.Context(), store.APIKey{ID: newID("key"), DirectoryID: directoryID, Name: name, Hash: hash})
	if err != nil {
		t.Fatalf("CreateAPIKey(%q): %v", name, err)
	}
	if k.Created.IsZero() || k.Created.Location() != time.UTC || k.Name != name || !bytes.Equal(k.Hash, hash) {
		t.Errorf("CreateAPIKey = %+v", k)
	}
	return k
}

func keyIDs(ks []store.APIKey) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	k1, k2 := createAPIKey(t, s, a.ID, "wallboard"), createAPIKey(t, s, a.ID, "softphone")
	k3 := createAPIKey(t, s, b.ID, "other")

	_, err := s.CreateAPIKey(ctx, store.APIKey{ID: k1.ID, DirectoryID: a.ID, Name: "again", Hash: store.HashToken("x")})
	wantErr(t, "CreateAPIKey(duplicate id)", err, store.ErrConflict)
	if _, err := s.CreateAPIKey(ctx, store.APIKey{ID: newID("key"), DirectoryID: "missing", Name: "x", Hash: store.HashToken("y")}); err == nil {
		t.Error("CreateAPIKey(missing directory) succeeded")
	}

	if ks, err := s.ListAPIKeys(ctx, a.ID); err != nil || !slices.Equal(keyIDs(ks), []string{k1.ID, k2.ID}) {
		t.Errorf("ListAPIKeys(A) = %q, %v; want %q oldest first", keyIDs(ks), err, []string{k1.ID, k2.ID})
	} else if ks[0].Name != k1.Name || !bytes.Equal(ks[0].Hash, k1.Hash) || !ks[0].Created.Equal(k1.Created) || ks[0].DirectoryID != a.ID {
		t.Errorf("ListAPIKeys(A)[0] = %+v, want %+v", ks[0], k1)
	}
	if ks, err := s.ListAPIKeys(ctx, b.ID); err != nil || !slices.Equal(keyIDs(ks), []string{k3.ID}) {
		t.Errorf("ListAPIKeys(B) = %q, %v", keyIDs(ks), err)
	}

	// A key names its directory: the caller compares it with the request's.
	if k, err := s.APIKeyByHash(ctx, k3.Hash); err != nil || k.ID != k3.ID || k.DirectoryID != b.ID || !k.Created.Equal(k3.Created) {
		t.Errorf("APIKeyByHash(B's key) = %+v, %v", k, err)
	}
	_, err = s.APIKeyByHash(ctx, store.HashToken("never issued"))
	wantErr(t, "APIKeyByHash(unknown)", err, store.ErrNotFound)

	// B cannot revoke A's key.
	wantErr(t, "DeleteAPIKey(B, A's key)", s.DeleteAPIKey(ctx, b.ID, k1.ID), store.ErrNotFound)
	if _, err := s.APIKeyByHash(ctx, k1.Hash); err != nil {
		t.Errorf("APIKeyByHash after another directory's delete: %v", err)
	}
	if err := s.DeleteAPIKey(ctx, a.ID, k1.ID); err != nil {
		t.Fatalf("DeleteAPIKey: %v", err)
	}
	_, err = s.APIKeyByHash(ctx, k1.Hash)
	wantErr(t, "APIKeyByHash(revoked)", err, store.ErrNotFound)
	wantErr(t, "DeleteAPIKey(revoked)", s.DeleteAPIKey(ctx, a.ID, k1.ID), store.ErrNotFound)
	if ks, err := s.ListAPIKeys(ctx, a.ID); err != nil || !slices.Equal(keyIDs(ks), []string{k2.ID}) {
		t.Errorf("ListAPIKeys(A) after delete = %q, %v", keyIDs(ks), err)
	}

	// Deleting a directory revokes its keys.
	if err := s.DeleteDirectory(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.APIKeyByHash(ctx, k3.Hash)
	wantErr(t, "APIKeyByHash(deleted directory's key)", err, store.ErrNotFound)
}
