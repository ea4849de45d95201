package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

var testActor = store.Actor{Type: store.ActorAdminToken}

// audited returns ctx carrying a new entry of action, by testActor, with
// details.
func audited(ctx context.Context, action, details string) context.Context {
	var d []byte
	if details != "" {
		d = []byte(details)
	}
	return store.WithAudit(ctx, &store.AuditEntry{Actor: testActor, Action: action, Details: d})
}

// auditEntries returns every entry (of one directory, unless ""), newest
// first.
func auditEntries(t *testing.T, s store.Store, directoryID string) []store.AuditEntry {
	t.Helper()
	es, err := s.ListAudit(t.Context(), store.AuditQuery{DirectoryID: directoryID, Limit: 10000})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	return es
}

// wantNewAudit checks that exactly one entry was recorded since there
// were n, as want describes, at the given time (zero: any time after the
// previous entry), and returns it.
func wantNewAudit(t *testing.T, s store.Store, n int, want store.AuditEntry, at time.Time) store.AuditEntry {
	t.Helper()
	es := auditEntries(t, s, "")
	if len(es) != n+1 {
		t.Fatalf("%s: %d audit entries, want %d: %+v", want.Action, len(es), n+1, es)
	}
	got := es[0]
	if n > 0 && (got.ID <= es[1].ID || got.Time.Before(es[1].Time)) {
		t.Errorf("%s: id %d at %v is not after the previous entry's %d at %v", want.Action, got.ID, got.Time, es[1].ID, es[1].Time)
	}
	if !at.IsZero() && !got.Time.Equal(at) {
		t.Errorf("%s: time %v, want the write's %v", want.Action, got.Time, at)
	}
	if got.Time.Location() != time.UTC {
		t.Errorf("%s: time %v is not UTC", want.Action, got.Time)
	}
	if want.Details == nil {
		want.Details = []byte("{}")
	}
	if got.Actor != want.Actor || got.DirectoryID != want.DirectoryID || got.DirectoryName != want.DirectoryName ||
		got.Action != want.Action || !jsonEqual(got.Details, want.Details) {
		t.Errorf("recorded entry:\n got %+v (details %s)\nwant %+v (details %s)", got, got.Details, want, want.Details)
	}
	return got
}

// testAuditWrites checks that every write WithAudit names records the
// entry its context carries, in its own transaction: with the write's
// time, its directory and that directory's name as the write left it.
func testAuditWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := newID("dir")
	d, err := s.CreateDirectory(audited(ctx, store.AuditDirectoryCreated, `{"name":"Contoso"}`),
		store.Directory{ID: id, Name: "Contoso", SCIMTokenHash: store.HashToken("t1")})
	if err != nil {
		t.Fatalf("CreateDirectory: %v", err)
	}
	entry := store.AuditEntry{Actor: testActor, DirectoryID: id, DirectoryName: "Contoso", Action: store.AuditDirectoryCreated,
		Details: []byte(`{"name":"Contoso"}`)}
	wantNewAudit(t, s, 0, entry, d.Created)

	// An UpdateDirectory callback completes the entry from what it read.
	e := &store.AuditEntry{Actor: store.Actor{Type: "console_session", ID: "ann@contoso.com"}, Action: store.AuditDirectoryRenamed}
	up, err := s.UpdateDirectory(store.WithAudit(ctx, e), id, func(d store.Directory) (store.Directory, error) {
		e.Details = mustJSON(map[string]string{"oldName": d.Name, "newName": "Contoso EU"})
		d.Name = "Contoso EU"
		return d, nil
	})
	if err != nil {
		t.Fatalf("UpdateDirectory: %v", err)
	}
	entry = store.AuditEntry{Actor: e.Actor, DirectoryID: id, DirectoryName: "Contoso EU", Action: store.AuditDirectoryRenamed,
		Details: []byte(`{"oldName":"Contoso","newName":"Contoso EU"}`)}
	wantNewAudit(t, s, 1, entry, up.Updated)

	k, err := s.CreateAPIKey(audited(ctx, store.AuditAPIKeyCreated, `{"apiKeyId":"k","name":"wallboard"}`),
		store.APIKey{ID: newID("key"), DirectoryID: id, Name: "wallboard", Hash: store.HashToken("k1")})
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	entry = store.AuditEntry{Actor: testActor, DirectoryID: id, DirectoryName: "Contoso EU", Action: store.AuditAPIKeyCreated,
		Details: []byte(`{"apiKeyId":"k","name":"wallboard"}`)}
	wantNewAudit(t, s, 2, entry, k.Created)

	if err := s.DeleteAPIKey(audited(ctx, store.AuditAPIKeyRevoked, ""), id, k.ID); err != nil {
		t.Fatalf("DeleteAPIKey: %v", err)
	}
	entry = store.AuditEntry{Actor: testActor, DirectoryID: id, DirectoryName: "Contoso EU", Action: store.AuditAPIKeyRevoked}
	wantNewAudit(t, s, 3, entry, time.Time{})

	l := store.PresenceLink{DirectoryID: id, State: store.PresenceConnected, TenantID: "t", ClientID: "c", Credential: store.CredentialSecret}
	if err := s.PutPresenceLink(audited(ctx, store.AuditPresenceConnected, `{"tenantId":"t"}`), l,
		store.SyncEvent{Operation: store.SyncConnect, ResourceType: "Presence"}); err != nil {
		t.Fatalf("PutPresenceLink: %v", err)
	}
	got, err := s.GetPresenceLink(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	entry = store.AuditEntry{Actor: testActor, DirectoryID: id, DirectoryName: "Contoso EU", Action: store.AuditPresenceConnected,
		Details: []byte(`{"tenantId":"t"}`)}
	wantNewAudit(t, s, 4, entry, got.Updated)

	if _, err := s.RevokePresence(audited(ctx, store.AuditPresenceRevoked, ""), store.PresenceLink{DirectoryID: id, State: store.PresenceRevoked},
		store.SyncEvent{Operation: store.SyncRevoke, ResourceType: "Presence"}); err != nil {
		t.Fatalf("RevokePresence: %v", err)
	}
	entry = store.AuditEntry{Actor: testActor, DirectoryID: id, DirectoryName: "Contoso EU", Action: store.AuditPresenceRevoked}
	wantNewAudit(t, s, 5, entry, time.Time{})

	// The delete is recorded once (not by each step of the purge), with
	// the directory's last name, and the trail outlives the directory.
	createUser(t, s, id, "ann@contoso.com", nil)
	if err := s.DeleteDirectory(audited(ctx, store.AuditDirectoryDeleted, `{"name":"Contoso EU"}`), id); err != nil {
		t.Fatalf("DeleteDirectory: %v", err)
	}
	entry = store.AuditEntry{Actor: testActor, DirectoryID: id, DirectoryName: "Contoso EU", Action: store.AuditDirectoryDeleted,
		Details: []byte(`{"name":"Contoso EU"}`)}
	wantNewAudit(t, s, 6, entry, time.Time{})
	es := auditEntries(t, s, id)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	want := []string{store.AuditDirectoryDeleted, store.AuditPresenceRevoked, store.AuditPresenceConnected,
		store.AuditAPIKeyRevoked, store.AuditAPIKeyCreated, store.AuditDirectoryRenamed, store.AuditDirectoryCreated}
	if !slices.Equal(actions, want) {
		t.Errorf("the deleted directory's trail = %q, want %q", actions, want)
	}
}

// testAuditFailedWrites checks that a write that fails records nothing,
// and that a write without an entry in its context records none.
func testAuditFailedWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s) // no entry in its context
	k := createAPIKey(t, s, d.ID, "cx")
	if _, err := s.UpdateDirectory(ctx, d.ID, func(d store.Directory) (store.Directory, error) { d.Name = "x"; return d, nil }); err != nil {
		t.Fatal(err)
	}
	if es := auditEntries(t, s, ""); len(es) != 0 {
		t.Fatalf("writes without an audit entry recorded %+v", es)
	}

	a := func(action string) context.Context { return audited(ctx, action, "") }
	_, err := s.CreateDirectory(a(store.AuditDirectoryCreated), store.Directory{ID: d.ID, Name: "again", SCIMTokenHash: store.HashToken("x")})
	wantErr(t, "CreateDirectory(duplicate)", err, store.ErrConflict)
	_, err = s.UpdateDirectory(a(store.AuditDirectoryRenamed), d.ID, func(store.Directory) (store.Directory, error) { return store.Directory{}, errBoom })
	wantErr(t, "UpdateDirectory(callback error)", err, errBoom)
	_, err = s.UpdateDirectory(a(store.AuditDirectoryRenamed), "missing", func(d store.Directory) (store.Directory, error) { return d, nil })
	wantErr(t, "UpdateDirectory(missing)", err, store.ErrNotFound)
	wantErr(t, "DeleteDirectory(missing)", s.DeleteDirectory(a(store.AuditDirectoryDeleted), "missing"), store.ErrNotFound)
	_, err = s.CreateAPIKey(a(store.AuditAPIKeyCreated), store.APIKey{ID: k.ID, DirectoryID: d.ID, Name: "again", Hash: store.HashToken("y")})
	wantErr(t, "CreateAPIKey(duplicate id)", err, store.ErrConflict)
	if _, err := s.CreateAPIKey(a(store.AuditAPIKeyCreated), store.APIKey{ID: newID("key"), DirectoryID: "missing", Name: "x", Hash: store.HashToken("z")}); err == nil {
		t.Error("CreateAPIKey(missing directory) succeeded")
	}
	wantErr(t, "DeleteAPIKey(missing)", s.DeleteAPIKey(a(store.AuditAPIKeyRevoked), d.ID, "missing"), store.ErrNotFound)
	err = s.PutPresenceLink(a(store.AuditPresenceConnected), store.PresenceLink{DirectoryID: "missing", State: store.PresenceConnected}, store.SyncEvent{})
	wantErr(t, "PutPresenceLink(missing directory)", err, store.ErrNotFound)
	_, err = s.RevokePresence(a(store.AuditPresenceRevoked), store.PresenceLink{DirectoryID: "missing", State: store.PresenceRevoked}, store.SyncEvent{})
	wantErr(t, "RevokePresence(missing directory)", err, store.ErrNotFound)

	if es := auditEntries(t, s, ""); len(es) != 0 {
		t.Errorf("failed writes recorded %+v", es)
	}
}

// testAuditQuery checks the filters, the cursor and the limit.
func testAuditQuery(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	rename := func(d store.Directory, name string) store.Directory {
		t.Helper()
		up, err := s.UpdateDirectory(audited(ctx, store.AuditDirectoryRenamed, ""), d.ID, func(d store.Directory) (store.Directory, error) {
			d.Name = name
			return d, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return up
	}
	var times []time.Time
	for i, name := range []string{"a1", "a2", "a3"} {
		times = append(times, rename(a, name).Updated)
		if i == 1 {
			times = append(times, rename(b, "b1").Updated)
		}
	}
	if _, err := s.CreateAPIKey(audited(ctx, store.AuditAPIKeyCreated, ""),
		store.APIKey{ID: newID("key"), DirectoryID: b.ID, Name: "k", Hash: store.HashToken(newID("h"))}); err != nil {
		t.Fatal(err)
	}
	// Entries, oldest first: a1, a2, b1, a3, key of b.
	all := auditEntries(t, s, "")
	if len(all) != 5 {
		t.Fatalf("%d entries, want 5", len(all))
	}
	names := func(es []store.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.DirectoryName+" "+e.Action)
		}
		return out
	}
	list := func(q store.AuditQuery) []string {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 100
		}
		es, err := s.ListAudit(ctx, q)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", q, err)
		}
		return names(es)
	}
	ren := func(n string) string { return n + " " + store.AuditDirectoryRenamed }
	key := "b1 " + store.AuditAPIKeyCreated
	for _, tc := range []struct {
		q    store.AuditQuery
		want []string
	}{
		{store.AuditQuery{}, []string{key, ren("a3"), ren("b1"), ren("a2"), ren("a1")}},
		{store.AuditQuery{DirectoryID: a.ID}, []string{ren("a3"), ren("a2"), ren("a1")}},
		{store.AuditQuery{DirectoryID: b.ID}, []string{key, ren("b1")}},
		{store.AuditQuery{DirectoryID: "missing"}, nil},
		{store.AuditQuery{Action: store.AuditAPIKeyCreated}, []string{key}},
		{store.AuditQuery{Action: store.AuditDirectoryRenamed, DirectoryID: b.ID}, []string{ren("b1")}},
		{store.AuditQuery{Since: times[1]}, []string{key, ren("a3"), ren("b1"), ren("a2")}},
		{store.AuditQuery{Until: times[1]}, []string{ren("a2"), ren("a1")}},
		{store.AuditQuery{Since: times[1], Until: times[2]}, []string{ren("b1"), ren("a2")}},
		{store.AuditQuery{Since: times[1].Add(time.Nanosecond)}, []string{key, ren("a3"), ren("b1")}},
		{store.AuditQuery{Limit: 2}, []string{key, ren("a3")}},
		{store.AuditQuery{Before: all[1].ID, Limit: 2}, []string{ren("b1"), ren("a2")}},
		{store.AuditQuery{Before: all[1].ID, DirectoryID: a.ID}, []string{ren("a2"), ren("a1")}},
	} {
		if got := list(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("ListAudit(%+v) = %q, want %q", tc.q, got, tc.want)
		}
	}
	if es, err := s.ListAudit(ctx, store.AuditQuery{Limit: 0}); err != nil || len(es) != 0 {
		t.Errorf("ListAudit(limit 0) = %+v, %v", es, err)
	}
}

// testAuditPrune checks that a prune deletes the entries older than its
// bound, whatever their directory, and nothing else.
func testAuditPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	var times []time.Time
	for range 3 {
		d, err := s.CreateDirectory(audited(ctx, store.AuditDirectoryCreated, ""),
			store.Directory{ID: newID("dir"), Name: "d", SCIMTokenHash: store.HashToken(newID("t"))})
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, d.Created)
	}
	n, err := s.PruneAudit(ctx, times[1])
	if err != nil || n != 1 {
		t.Fatalf("PruneAudit = %d, %v; want 1", n, err)
	}
	es := auditEntries(t, s, "")
	if len(es) != 2 || !es[1].Time.Equal(times[1]) {
		t.Errorf("after prune: %+v", es)
	}
	if n, err := s.PruneAudit(ctx, times[0]); err != nil || n != 0 {
		t.Errorf("PruneAudit again = %d, %v; want 0", n, err)
	}
	// The sync log's prune leaves the audit trail alone.
	if _, err := s.PruneSyncEvents(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if es := auditEntries(t, s, ""); len(es) != 2 {
		t.Errorf("PruneSyncEvents removed audit entries: %d left", len(es))
	}
}

// testDirectoriesPreviousToken checks that a rotation's previous token
// hash and its expiry are stored, read back and cleared.
func testDirectoriesPreviousToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	old, cur := store.HashToken("old"), store.HashToken("new")
	expires := time.Date(2026, 6, 1, 12, 30, 15, 0, time.FixedZone("CEST", 2*3600))
	d, err := s.CreateDirectory(ctx, store.Directory{ID: newID("dir"), Name: "p", SCIMTokenHash: cur,
		PreviousTokenHash: old, PreviousTokenExpires: expires})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, wantPrev []byte, wantExpires time.Time) {
		t.Helper()
		got, err := s.GetDirectory(ctx, d.ID)
		if err != nil {
			t.Fatalf("%s: GetDirectory: %v", what, err)
		}
		all, err := s.ListDirectories(ctx)
		if err != nil || len(all) != 1 {
			t.Fatalf("%s: ListDirectories = %d, %v", what, len(all), err)
		}
		for _, g := range []store.Directory{got, all[0]} {
			if !bytes.Equal(g.PreviousTokenHash, wantPrev) || !g.PreviousTokenExpires.Equal(wantExpires) ||
				!wantExpires.IsZero() && g.PreviousTokenExpires.Location() != time.UTC {
				t.Errorf("%s: previous %x until %v, want %x until %v (UTC)", what, g.PreviousTokenHash, g.PreviousTokenExpires, wantPrev, wantExpires)
			}
		}
	}
	check("created", old, expires)

	newer := store.HashToken("newer")
	later := expires.Add(time.Hour)
	if _, err := s.UpdateDirectory(ctx, d.ID, func(d store.Directory) (store.Directory, error) {
		if !bytes.Equal(d.PreviousTokenHash, old) || !d.PreviousTokenExpires.Equal(expires) {
			t.Errorf("callback got previous %x until %v", d.PreviousTokenHash, d.PreviousTokenExpires)
		}
		d.PreviousTokenHash, d.PreviousTokenExpires, d.SCIMTokenHash = d.SCIMTokenHash, later, newer
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	check("rotated", cur, later)

	// An update that leaves them alone keeps them.
	if _, err := s.UpdateDirectory(ctx, d.ID, func(d store.Directory) (store.Directory, error) { d.Name = "q"; return d, nil }); err != nil {
		t.Fatal(err)
	}
	check("renamed", cur, later)

	if _, err := s.UpdateDirectory(ctx, d.ID, func(d store.Directory) (store.Directory, error) {
		d.PreviousTokenHash, d.PreviousTokenExpires = nil, time.Time{}
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	check("cleared", nil, time.Time{})
	if _, err := s.GetDirectory(ctx, d.ID); errors.Is(err, store.ErrNotFound) {
		t.Fatal("directory lost")
	}
}
