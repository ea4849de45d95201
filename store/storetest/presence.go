package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

func testPresenceLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	d1, d2 := createDirectory(t, s), createDirectory(t, s)
	if _, err := s.GetPresenceLink(ctx, d1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetPresenceLink before connect: %v, want ErrNotFound", err)
	}
	poll := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	l := store.PresenceLink{
		DirectoryID: d1.ID, State: store.PresenceConnected, TenantID: "tenant-1", ClientID: "client-1",
		Credential: store.CredentialSecret, Sealed: []byte{1, 2, 3}, LastPoll: poll, ContactsPolled: 7, Skipped: 2,
		LastError: "none",
	}
	ev := store.SyncEvent{Operation: store.SyncConnect, ResourceType: "Presence", Result: "connected"}
	if err := s.PutPresenceLink(ctx, l, ev); err != nil {
		t.Fatalf("PutPresenceLink: %v", err)
	}
	got, err := s.GetPresenceLink(ctx, d1.ID)
	if err != nil {
		t.Fatalf("GetPresenceLink: %v", err)
	}
	if got.Updated.IsZero() {
		t.Error("Updated not set")
	}
	got.Updated = time.Time{}
	if !got.LastPoll.Equal(poll) {
		t.Errorf("LastPoll = %v, want %v", got.LastPoll, poll)
	}
	got.LastPoll = poll
	if got.DirectoryID != l.DirectoryID || got.State != l.State || got.TenantID != l.TenantID || got.ClientID != l.ClientID ||
		got.Credential != l.Credential || string(got.Sealed) != string(l.Sealed) || got.ContactsPolled != 7 ||
		got.Skipped != 2 || got.LastError != "none" || len(got.ConsentStateHash) != 0 || !got.ConsentExpires.IsZero() {
		t.Errorf("GetPresenceLink = %+v, want %+v", got, l)
	}
	evs, err := s.ListSyncEvents(ctx, d1.ID, store.SyncQuery{Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].Operation != store.SyncConnect || evs[0].ResourceType != "Presence" {
		t.Errorf("sync log after connect = %+v, %v", evs, err)
	}

	// Pending consents are found by the hash of their state, and only
	// while a link holds it.
	hash := store.HashToken("consent-state")
	expires := poll.Add(time.Hour)
	if err := s.PutPresenceLink(ctx, store.PresenceLink{DirectoryID: d2.ID, State: store.PresenceNeedsConsent,
		Credential: store.CredentialServiceApp, ConsentStateHash: hash, ConsentExpires: expires}, store.SyncEvent{}); err != nil {
		t.Fatalf("PutPresenceLink(consent): %v", err)
	}
	byState, err := s.PresenceLinkByConsentState(ctx, hash)
	if err != nil || byState.DirectoryID != d2.ID || !byState.ConsentExpires.Equal(expires) {
		t.Fatalf("PresenceLinkByConsentState = %+v, %v", byState, err)
	}
	if _, err := s.PresenceLinkByConsentState(ctx, store.HashToken("other")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown consent state: %v, want ErrNotFound", err)
	}
	links, err := s.ListPresenceLinks(ctx)
	if err != nil || len(links) != 2 {
		t.Fatalf("ListPresenceLinks = %d links, %v; want 2", len(links), err)
	}
	byState.ConsentStateHash = nil
	byState.State = store.PresenceConnected
	if err := s.PutPresenceLink(ctx, byState, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PresenceLinkByConsentState(ctx, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consumed consent state: %v, want ErrNotFound", err)
	}
	if err := s.PutPresenceLink(ctx, store.PresenceLink{DirectoryID: "no-such-directory", State: store.PresenceConnected},
		store.SyncEvent{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutPresenceLink(unknown directory): %v, want ErrNotFound", err)
	}

	// Deleting the directory deletes its link.
	if err := s.DeleteDirectory(ctx, d2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPresenceLink(ctx, d2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("link of a deleted directory: %v, want ErrNotFound", err)
	}
}

func testPresenceData(t *testing.T, s store.Store) {
	ctx := t.Context()
	d, other := createDirectory(t, s), createDirectory(t, s)
	withID := func(c store.Contact, id string) store.Contact { c.ObjectID = id; return c }
	ada := createContact(t, s, d.ID, "ada", withID(contact("Ada Lovelace", "ada@example.com"), "A-1"))
	bob := createContact(t, s, d.ID, "bob", withID(contact("Bob Byron", "bob@example.com"), "B-2"))
	createContact(t, s, d.ID, "noid", contact("No Id", "noid@example.com"))
	cat := createContact(t, s, d.ID, "cat", withID(contact("Cat Inactive", "cat@example.com"), "C-3"))
	updateContact(t, s, cat, false, cat.Contact)
	stranger := createContact(t, s, other.ID, "stranger", withID(contact("Stranger", "s@example.com"), "S-9"))

	targets, err := s.PresenceTargets(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PresenceTarget{{UserID: ada.ID, ObjectID: "A-1", Version: ada.Version}, {UserID: bob.ID, ObjectID: "B-2", Version: bob.Version}}
	slices.SortFunc(want, func(a, b store.PresenceTarget) int { return strings.Compare(a.UserID, b.UserID) })
	if !slices.Equal(targets, want) {
		t.Errorf("PresenceTargets = %+v, want %+v (active users with an object id)", targets, want)
	}

	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	set := []store.Presence{
		{UserID: ada.ID, Availability: "Busy", Activity: "InACall", ObservedAt: at},
		{UserID: bob.ID, Availability: "Available", Activity: "Available", ObservedAt: at},
		{UserID: stranger.ID, Availability: "Busy", Activity: "Busy", ObservedAt: at}, // another directory's user
		{UserID: "deleted-user", Availability: "Away", Activity: "Away", ObservedAt: at},
	}
	if err := s.WritePresence(ctx, d.ID, set, nil); err != nil {
		t.Fatalf("WritePresence: %v", err)
	}
	got, err := s.ListPresence(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("ListPresence = %+v, want ada and bob only", got)
	}
	if strangers, _ := s.ListPresence(ctx, other.ID); len(strangers) != 0 {
		t.Errorf("a write to one directory stored presence in another: %+v", strangers)
	}
	rec, err := s.GetContact(ctx, d.ID, ada.ID, store.Visibility{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Presence == nil || rec.Presence.Availability != "Busy" || rec.Presence.Activity != "InACall" || !rec.Presence.ObservedAt.Equal(at) {
		t.Errorf("contact presence = %+v", rec.Presence)
	}
	later := at.Add(time.Minute)
	if err := s.WritePresence(ctx, d.ID, []store.Presence{{UserID: ada.ID, Availability: "Away", Activity: "Away", ObservedAt: later}},
		[]string{bob.ID}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ListPresence(ctx, d.ID)
	if len(got) != 1 || got[0].UserID != ada.ID || got[0].Availability != "Away" || !got[0].ObservedAt.Equal(later) {
		t.Errorf("after replace and delete: %+v", got)
	}
	if rec, _ := s.GetContact(ctx, d.ID, bob.ID, store.Visibility{}); rec.Presence != nil {
		t.Errorf("bob's presence after delete = %+v, want nil", rec.Presence)
	}

	// Revoking clears the directory's presence, and only its own.
	if err := s.WritePresence(ctx, other.ID, []store.Presence{{UserID: stranger.ID, Availability: "Busy", Activity: "Busy", ObservedAt: at}}, nil); err != nil {
		t.Fatal(err)
	}
	n, err := s.RevokePresence(ctx, store.PresenceLink{DirectoryID: d.ID, State: store.PresenceRevoked},
		store.SyncEvent{Operation: store.SyncRevoke, ResourceType: "Presence", Result: "revoked"})
	if err != nil || n != 1 {
		t.Fatalf("RevokePresence = %d, %v; want 1 row cleared", n, err)
	}
	if got, _ := s.ListPresence(ctx, d.ID); len(got) != 0 {
		t.Errorf("presence after revoke: %+v", got)
	}
	if got, _ := s.ListPresence(ctx, other.ID); len(got) != 1 {
		t.Errorf("revoking one directory cleared another's presence: %+v", got)
	}
	if l, err := s.GetPresenceLink(ctx, d.ID); err != nil || l.State != store.PresenceRevoked {
		t.Errorf("link after revoke = %+v, %v", l, err)
	}
	if n, err := s.RevokePresence(ctx, store.PresenceLink{DirectoryID: d.ID, State: store.PresenceRevoked}, store.SyncEvent{}); err != nil || n != 0 {
		t.Errorf("second RevokePresence = %d, %v; want 0, nil", n, err)
	}

	// Deleting a user deletes its presence.
	if err := s.DeleteUser(ctx, other.ID, stranger.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListPresence(ctx, other.ID); len(got) != 0 {
		t.Errorf("presence of a deleted user: %+v", got)
	}
}
