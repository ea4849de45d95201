package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// sameInstant compares times at PostgreSQL's microsecond precision.
func sameInstant(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

func createSetupLink(t *testing.T, s store.Store, directoryID string, expires time.Time) (store.SetupLink, string) {
	t.Helper()
	secret, hash := store.NewToken("")
	l, err := s.CreateSetupLink(t.Context(), store.SetupLink{ID: newID("link"), DirectoryID: directoryID, Hash: hash, Expires: expires})
	if err != nil {
		t.Fatalf("CreateSetupLink: %v", err)
	}
	if l.Created.IsZero() || l.Created.Location() != time.UTC || !sameInstant(l.Expires, expires) {
		t.Errorf("CreateSetupLink = %+v", l)
	}
	return l, secret
}

func createSession(t *testing.T, s store.Store, directoryID, linkID string, expires time.Time) store.ConsoleSession {
	t.Helper()
	_, hash := store.NewToken("")
	sess, err := s.CreateConsoleSession(t.Context(), store.ConsoleSession{
		Hash: hash, ID: newID("session"), DirectoryID: directoryID, SetupLinkID: linkID, LastSeen: expires.Add(-time.Hour), Expires: expires})
	if err != nil {
		t.Fatalf("CreateConsoleSession: %v", err)
	}
	return sess
}

// storeNow is an instant of the store's clock, which the suite may set
// (NewClock): expiry compares with it.
func storeNow(t *testing.T, s store.Store) time.Time {
	t.Helper()
	return createDirectory(t, s).Created
}

func testConsoleSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := storeNow(t, s)
	later := now.Add(time.Hour)
	op := createSession(t, s, "", "", later)
	got, err := s.ConsoleSessionByHash(ctx, op.Hash)
	if err != nil {
		t.Fatalf("ConsoleSessionByHash: %v", err)
	}
	if got.ID != op.ID || got.DirectoryID != "" || got.SetupLinkID != "" || !bytes.Equal(got.Hash, op.Hash) ||
		!sameInstant(got.Expires, later) || got.Created.IsZero() || got.Created.Location() != time.UTC || got.Expires.Location() != time.UTC {
		t.Errorf("ConsoleSessionByHash = %+v, want %+v", got, op)
	}
	_, err = s.ConsoleSessionByHash(ctx, store.HashToken("never issued"))
	wantErr(t, "ConsoleSessionByHash(unknown)", err, store.ErrNotFound)

	seen := now.Add(time.Minute)
	if err := s.TouchConsoleSession(ctx, op.Hash, seen); err != nil {
		t.Fatalf("TouchConsoleSession: %v", err)
	}
	if got, err := s.ConsoleSessionByHash(ctx, op.Hash); err != nil || !sameInstant(got.LastSeen, seen) {
		t.Errorf("LastSeen after touch = %v, %v; want %v", got.LastSeen, err, seen)
	}
	wantErr(t, "TouchConsoleSession(unknown)", s.TouchConsoleSession(ctx, store.HashToken("x"), seen), store.ErrNotFound)

	// A session whose absolute expiry passed goes with the next sign-in.
	old := createSession(t, s, "", "", now.Add(-time.Minute))
	createSession(t, s, "", "", later)
	_, err = s.ConsoleSessionByHash(ctx, old.Hash)
	wantErr(t, "ConsoleSessionByHash(expired, after a sign-in)", err, store.ErrNotFound)

	if err := s.DeleteConsoleSession(ctx, op.Hash); err != nil {
		t.Fatalf("DeleteConsoleSession: %v", err)
	}
	_, err = s.ConsoleSessionByHash(ctx, op.Hash)
	wantErr(t, "ConsoleSessionByHash(signed out)", err, store.ErrNotFound)
	if err := s.DeleteConsoleSession(ctx, op.Hash); err != nil {
		t.Errorf("DeleteConsoleSession(again) = %v, want nil", err)
	}

	_, hash := store.NewToken("")
	_, err = s.CreateConsoleSession(ctx, store.ConsoleSession{Hash: hash, ID: newID("session"), SetupLinkID: "missing",
		LastSeen: now, Expires: later})
	wantErr(t, "CreateConsoleSession(unknown setup link)", err, store.ErrNotFound)
}

func testConsoleSetupLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	later := time.Now().Add(24 * time.Hour)
	l1, _ := createSetupLink(t, s, a.ID, later)
	l2, _ := createSetupLink(t, s, a.ID, later.Add(time.Hour))
	lb, _ := createSetupLink(t, s, b.ID, later)

	_, hash := store.NewToken("")
	_, err := s.CreateSetupLink(ctx, store.SetupLink{ID: newID("link"), DirectoryID: "missing", Hash: hash, Expires: later})
	wantErr(t, "CreateSetupLink(missing directory)", err, store.ErrNotFound)
	_, err = s.CreateSetupLink(ctx, store.SetupLink{ID: l1.ID, DirectoryID: a.ID, Hash: hash, Expires: later})
	wantErr(t, "CreateSetupLink(duplicate id)", err, store.ErrConflict)

	ls, err := s.ListSetupLinks(ctx, a.ID)
	if err != nil || len(ls) != 2 || ls[0].ID != l2.ID || ls[1].ID != l1.ID {
		t.Errorf("ListSetupLinks(A) = %+v, %v; want %s then %s", ls, err, l2.ID, l1.ID)
	} else if !bytes.Equal(ls[1].Hash, l1.Hash) || !ls[1].Created.Equal(l1.Created) || !sameInstant(ls[1].Expires, later) {
		t.Errorf("ListSetupLinks(A)[1] = %+v, want %+v", ls[1], l1)
	}
	if got, err := s.SetupLinkByHash(ctx, lb.Hash); err != nil || got.ID != lb.ID || got.DirectoryID != b.ID {
		t.Errorf("SetupLinkByHash(B's) = %+v, %v", got, err)
	}
	_, err = s.SetupLinkByHash(ctx, store.HashToken("never issued"))
	wantErr(t, "SetupLinkByHash(unknown)", err, store.ErrNotFound)

	// B cannot revoke A's link; revoking ends the link's sessions only.
	sess := createSession(t, s, a.ID, l1.ID, later)
	other := createSession(t, s, a.ID, l2.ID, later)
	op := createSession(t, s, "", "", later)
	wantErr(t, "DeleteSetupLink(B, A's link)", s.DeleteSetupLink(ctx, b.ID, l1.ID), store.ErrNotFound)
	if err := s.DeleteSetupLink(ctx, a.ID, l1.ID); err != nil {
		t.Fatalf("DeleteSetupLink: %v", err)
	}
	_, err = s.SetupLinkByHash(ctx, l1.Hash)
	wantErr(t, "SetupLinkByHash(revoked)", err, store.ErrNotFound)
	_, err = s.ConsoleSessionByHash(ctx, sess.Hash)
	wantErr(t, "ConsoleSessionByHash(revoked link's session)", err, store.ErrNotFound)
	for _, keep := range []store.ConsoleSession{other, op} {
		if _, err := s.ConsoleSessionByHash(ctx, keep.Hash); err != nil {
			t.Errorf("another session went with the revoked link: %v", err)
		}
	}
	wantErr(t, "DeleteSetupLink(again)", s.DeleteSetupLink(ctx, a.ID, l1.ID), store.ErrNotFound)

	// Deleting a directory ends its links and their sessions at once.
	if err := s.DeleteDirectory(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.SetupLinkByHash(ctx, l2.Hash)
	wantErr(t, "SetupLinkByHash(deleted directory's)", err, store.ErrNotFound)
	_, err = s.ConsoleSessionByHash(ctx, other.Hash)
	wantErr(t, "ConsoleSessionByHash(deleted directory's)", err, store.ErrNotFound)
	if _, err := s.SetupLinkByHash(ctx, lb.Hash); err != nil {
		t.Errorf("B's link went with A: %v", err)
	}
}

func testConsoleAudit(t *testing.T, s store.Store) {
	ctx := store.WithActor(t.Context(), store.Actor{Type: store.ActorConsole, ID: "session-1"})
	d := createDirectory(t, s)
	_, hash := store.NewToken("")
	actx, _ := store.Audited(ctx, store.AuditSetupLinkCreated, map[string]string{"setupLinkId": "l-1"})
	if _, err := s.CreateSetupLink(actx, store.SetupLink{ID: "l-1", DirectoryID: d.ID, Hash: hash, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	actx, _ = store.Audited(ctx, store.AuditSetupLinkRevoked, map[string]string{"setupLinkId": "l-1"})
	if err := s.DeleteSetupLink(actx, d.ID, "l-1"); err != nil {
		t.Fatal(err)
	}
	es, err := s.ListAudit(ctx, store.AuditQuery{DirectoryID: d.ID, Limit: 10})
	if err != nil || len(es) != 2 || es[0].Action != store.AuditSetupLinkRevoked || es[1].Action != store.AuditSetupLinkCreated ||
		es[0].Actor != (store.Actor{Type: store.ActorConsole, ID: "session-1"}) || es[0].DirectoryName != d.Name {
		t.Errorf("audit = %+v, %v", es, err)
	}
}

func testConsoleOverviews(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	u1 := createUser(t, s, a.ID, "one@example.com", nil)
	createUser(t, s, a.ID, "two@example.com", nil)
	createGroup(t, s, a.ID, "Sales", u1.ID)

	record := func(dir, resource string, failed bool) {
		t.Helper()
		if err := s.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: dir, Operation: store.SyncCreate, ResourceType: resource,
			Identity: "x", Failed: failed, Result: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	record(a.ID, "User", true)
	record(a.ID, "Group", false)
	record(a.ID, "User", true)
	record(a.ID, "Presence", false) // not a SCIM write
	if err := s.PutPresenceLink(ctx, store.PresenceLink{DirectoryID: a.ID, State: store.PresenceNeedsConsent}, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListSyncEvents(ctx, a.ID, store.SyncQuery{Limit: 10})
	if err != nil || len(evs) != 4 {
		t.Fatalf("ListSyncEvents = %d, %v", len(evs), err)
	}
	lastSCIM, groupTime := evs[1].Time, evs[2].Time // newest first: Presence, User, Group, User

	ovs, err := s.DirectoryOverviews(ctx, time.Time{}, "")
	if err != nil || len(ovs) != 2 {
		t.Fatalf("DirectoryOverviews = %+v, %v", ovs, err)
	}
	oa, ob := ovs[0], ovs[1]
	if oa.Directory.ID != a.ID || oa.Directory.Name != a.Name || !bytes.Equal(oa.Directory.SCIMTokenHash, a.SCIMTokenHash) ||
		!oa.Directory.Created.Equal(a.Created) || oa.Users != 2 || oa.Groups != 1 || oa.Failures != 2 ||
		!oa.LastSCIMChange.Equal(lastSCIM) || oa.PresenceState != store.PresenceNeedsConsent {
		t.Errorf("overview of A = %+v; want 2 users, 1 group, 2 failures, last change %v, needs_consent", oa, lastSCIM)
	}
	if ob.Directory.ID != b.ID || ob.Users != 0 || ob.Groups != 0 || ob.Failures != 0 || !ob.LastSCIMChange.IsZero() || ob.PresenceState != "" {
		t.Errorf("overview of B = %+v, want empty", ob)
	}
	// Failures count from since on: one of them is after the group's event.
	ovs, err = s.DirectoryOverviews(ctx, groupTime, "")
	if err != nil || ovs[0].Failures != 1 {
		t.Errorf("failures since the last one = %+v, %v; want 1", ovs, err)
	}
	if one, err := s.DirectoryOverviews(ctx, time.Time{}, b.ID); err != nil || len(one) != 1 || one[0].Directory.ID != b.ID {
		t.Errorf("DirectoryOverviews(B only) = %+v, %v", one, err)
	}
	if err := s.DeleteDirectory(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if ovs, err := s.DirectoryOverviews(ctx, time.Time{}, ""); err != nil || len(ovs) != 1 || ovs[0].Directory.ID != a.ID {
		t.Errorf("DirectoryOverviews after a delete = %+v, %v", ovs, err)
	}
}
