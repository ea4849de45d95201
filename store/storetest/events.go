package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// Change events: what each write records, in commit order.

// changeEvents returns the directory's events after seq after, reading
// pages of three to exercise the cursor.
func changeEvents(t *testing.T, s store.Store, directoryID string, after int64) []store.Event {
	t.Helper()
	var out []store.Event
	for {
		evs, _, err := s.ListEvents(t.Context(), directoryID, after, 3)
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		for _, ev := range evs {
			if ev.Seq != after+1 {
				t.Fatalf("ListEvents after %d returned seq %d: numbers must follow each other", after, ev.Seq)
			}
			after = ev.Seq
		}
		out = append(out, evs...)
		if len(evs) < 3 {
			return out
		}
	}
}

// latest returns the directory's newest seq.
func latest(t *testing.T, s store.Store, directoryID string) int64 {
	t.Helper()
	n, err := s.LatestEvent(t.Context(), directoryID)
	if err != nil {
		t.Fatalf("LatestEvent: %v", err)
	}
	return n
}

// describe renders events compactly: kind:resource[:detail].
func describe(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		var b strings.Builder
		b.WriteString(ev.Kind + ":" + ev.ResourceID)
		switch ev.Kind {
		case store.EventContact:
			switch {
			case ev.Before == nil:
				b.WriteString(":created")
			case ev.After == nil:
				b.WriteString(":deleted")
			default:
				b.WriteString(":updated")
			}
		case store.EventGroup:
			switch {
			case ev.GroupBefore == nil:
				b.WriteString(":created")
			case ev.GroupAfter == nil:
				b.WriteString(":deleted")
			default:
				b.WriteString(":updated")
			}
		case store.EventMemberAdded:
			b.WriteString(":" + ev.After.ID)
		case store.EventMemberRemoved:
			b.WriteString(":" + ev.Before.ID)
		}
		out[i] = b.String()
	}
	return out
}

// wantChanges checks the events after seq after and returns the newest seq.
func wantChanges(t *testing.T, s store.Store, directoryID string, after int64, what string, want ...string) int64 {
	t.Helper()
	evs := changeEvents(t, s, directoryID, after)
	if got := describe(evs); !slices.Equal(got, want) {
		t.Errorf("%s: events\n%q\nwant\n%q", what, got, want)
	}
	if len(evs) == 0 {
		return after
	}
	return evs[len(evs)-1].Seq
}

func testEventsUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	if n := latest(t, s, d.ID); n != 0 {
		t.Errorf("LatestEvent of a new directory = %d, want 0", n)
	}
	u := createContact(t, s, d.ID, "adele@contoso.com", contact("Adele Vance", "adele@contoso.com", "+442071838750"))
	evs := changeEvents(t, s, d.ID, 0)
	if len(evs) != 1 {
		t.Fatalf("create: %d events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Seq != 1 || ev.DirectoryID != d.ID || ev.Kind != store.EventContact || ev.ResourceID != u.ID || ev.Before != nil {
		t.Errorf("create event = %+v", ev)
	}
	if ev.Time.Location() != time.UTC || ev.Time.IsZero() {
		t.Errorf("create event time %v: want the write's time, in UTC", ev.Time)
	}
	want := store.ContactState{ID: u.ID, UserName: u.UserName, Active: true, Contact: u.Contact}
	if ev.After == nil || !sameState(*ev.After, want) {
		t.Errorf("create event state = %+v, want %+v", ev.After, want)
	}
	if n := latest(t, s, d.ID); n != 1 {
		t.Errorf("LatestEvent = %d, want 1", n)
	}

	// A change of the contact is an event with both states.
	c2 := u.Contact
	c2.Title = "Director"
	u = updateContact(t, s, u, true, c2)
	evs = changeEvents(t, s, d.ID, 1)
	if len(evs) != 1 || evs[0].Before == nil || evs[0].After == nil || evs[0].Before.Contact.Title != "" || evs[0].After.Contact.Title != "Director" {
		t.Fatalf("update events = %+v", evs)
	}
	// Writes that change nothing the lookup API shows record nothing: the
	// same contact again (Entra's PATCH of unchanged values), a change of
	// the SCIM document alone.
	u = updateContact(t, s, u, true, c2)
	if _, err := s.UpdateUser(ctx, d.ID, u.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		old.Doc = mustJSON(map[string]any{"userName": old.UserName, "nickName": "Ad"})
		return old, store.SyncEvent{}, nil
	}); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	seq := wantChanges(t, s, d.ID, 2, "no-op writes")

	// Refused and failed writes record nothing.
	if _, err := s.UpdateUser(ctx, d.ID, u.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		return old, store.SyncEvent{}, errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser(callback error) = %v", err)
	}
	dup := newUser(d.ID, "ADELE@contoso.com", nil)
	if _, err := s.CreateUser(ctx, dup, store.SyncEvent{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateUser(duplicate) = %v", err)
	}
	if err := s.DeleteUser(ctx, d.ID, u.ID, 1, store.SyncEvent{}); !errors.Is(err, store.ErrPrecondition) {
		t.Errorf("DeleteUser(stale version) = %v", err)
	}
	other := createUser(t, s, d.ID, "other@contoso.com", nil)
	if _, err := s.UpdateUser(ctx, d.ID, other.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		old.UserName = "adele@CONTOSO.com" // taken
		return old, store.SyncEvent{}, nil
	}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateUser(taken userName) = %v", err)
	}
	seq = wantChanges(t, s, d.ID, seq, "refused writes", "contact:"+other.ID+":created")

	// Deactivation is an update whose new state is inactive.
	u = updateContact(t, s, u, false, c2)
	evs = changeEvents(t, s, d.ID, seq)
	if len(evs) != 1 || !evs[0].Before.Active || evs[0].After.Active {
		t.Fatalf("deactivate events = %+v", evs)
	}
	seq = evs[0].Seq

	// A delete removes the user from its groups first.
	g := createGroup(t, s, d.ID, "Sales", u.ID)
	seq = wantChanges(t, s, d.ID, seq, "group create", "group:"+g.ID+":created",
		"contact:"+u.ID+":updated", "member_added:"+g.ID+":"+u.ID)
	if err := s.DeleteUser(ctx, d.ID, u.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	evs = changeEvents(t, s, d.ID, seq)
	if got, want := describe(evs), []string{"member_removed:" + g.ID + ":" + u.ID, "contact:" + u.ID + ":deleted"}; !slices.Equal(got, want) {
		t.Fatalf("delete events = %q, want %q", got, want)
	}
	if last := evs[1].Before; last == nil || !slices.Equal(last.Groups, []string{"Sales"}) || last.Active {
		t.Errorf("deleted contact's last state = %+v", last)
	}
	if err := s.DeleteUser(ctx, d.ID, u.ID, 0, store.SyncEvent{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteUser(again) = %v", err)
	}
	wantChanges(t, s, d.ID, evs[1].Seq, "delete of a missing user")
}

// sameState compares states as JSON, as the store does.
func sameState(a, b store.ContactState) bool {
	return string(mustJSON(a)) == string(mustJSON(b))
}

func testEventsGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u1 := createContact(t, s, d.ID, "u1@contoso.com", contact("User One", "u1@contoso.com"))
	u2 := createContact(t, s, d.ID, "u2@contoso.com", contact("User Two", "u2@contoso.com"))
	u3 := createContact(t, s, d.ID, "u3@contoso.com", contact("User Three", "u3@contoso.com"))
	seq := latest(t, s, d.ID)

	g := createGroup(t, s, d.ID, "Sales", u2.ID, u1.ID)
	evs := changeEvents(t, s, d.ID, seq)
	ids := slices.Sorted(slices.Values([]string{u1.ID, u2.ID}))
	want := []string{"group:" + g.ID + ":created"}
	for _, id := range ids {
		want = append(want, "contact:"+id+":updated", "member_added:"+g.ID+":"+id)
	}
	if got := describe(evs); !slices.Equal(got, want) {
		t.Fatalf("create events %q, want %q", got, want)
	}
	if a := evs[2].After; a == nil || !slices.Equal(a.Groups, []string{"Sales"}) {
		t.Errorf("member's state after = %+v", a)
	}
	if ga := evs[0].GroupAfter; ga == nil || *ga != (store.GroupState{ID: g.ID, DisplayName: "Sales"}) {
		t.Errorf("group state = %+v", ga)
	}
	seq = evs[len(evs)-1].Seq

	update := func(change store.GroupChange) {
		t.Helper()
		if _, err := s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) { return change, nil }); err != nil {
			t.Fatalf("UpdateGroup: %v", err)
		}
	}
	// Adding a member already there, removing one that is not: nothing.
	update(store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{u1.ID}},
		{Kind: store.MembersRemove, UserIDs: []string{u3.ID}}}})
	seq = wantChanges(t, s, d.ID, seq, "no-op member PATCH")

	update(store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{u3.ID}}}})
	seq = wantChanges(t, s, d.ID, seq, "add", "contact:"+u3.ID+":updated", "member_added:"+g.ID+":"+u3.ID)
	update(store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersRemove, UserIDs: []string{u3.ID}}}})
	seq = wantChanges(t, s, d.ID, seq, "remove", "member_removed:"+g.ID+":"+u3.ID, "contact:"+u3.ID+":updated")

	// Replacing the members (PUT): only the users whose membership changed.
	update(store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersRemoveAll},
		{Kind: store.MembersAdd, UserIDs: []string{u1.ID, u3.ID}}}})
	want = nil
	for _, id := range slices.Sorted(slices.Values([]string{u2.ID, u3.ID})) {
		if id == u2.ID {
			want = append(want, "member_removed:"+g.ID+":"+u2.ID, "contact:"+u2.ID+":updated")
		} else {
			want = append(want, "contact:"+u3.ID+":updated", "member_added:"+g.ID+":"+u3.ID)
		}
	}
	seq = wantChanges(t, s, d.ID, seq, "replace members", want...)

	// A rename changes the group and every member's contact (its groups).
	doc := mustJSON(map[string]any{"displayName": "Inside Sales"})
	update(store.GroupChange{Group: &store.Group{DisplayName: "Inside Sales", Doc: doc}})
	want = []string{"group:" + g.ID + ":updated"}
	for _, id := range slices.Sorted(slices.Values([]string{u1.ID, u3.ID})) {
		want = append(want, "contact:"+id+":updated")
	}
	evs = changeEvents(t, s, d.ID, seq)
	if got := describe(evs); !slices.Equal(got, want) {
		t.Fatalf("rename events %q, want %q", got, want)
	}
	if evs[0].GroupBefore.DisplayName != "Sales" || evs[0].GroupAfter.DisplayName != "Inside Sales" ||
		!slices.Equal(evs[1].After.Groups, []string{"Inside Sales"}) {
		t.Errorf("rename states: %+v %+v", evs[0], evs[1].After)
	}
	seq = evs[len(evs)-1].Seq
	// The same attributes again, or a change the lookup API does not
	// show (externalId): the version moves, no event.
	update(store.GroupChange{Group: &store.Group{DisplayName: "Inside Sales", ExternalID: "ext", Doc: doc}})
	seq = wantChanges(t, s, d.ID, seq, "group no-op")

	// A refused write records nothing.
	if _, err := s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
		return store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersRemove, UserIDs: []string{u1.ID}},
			{Kind: store.MembersAdd, UserIDs: []string{"no-such-user"}}}}, nil
	}); !errors.Is(err, store.ErrInvalidMember) {
		t.Errorf("UpdateGroup(invalid member) = %v", err)
	}
	if _, err := s.CreateGroup(ctx, newGroup(d.ID, "inside sales", nil), []string{u2.ID}, store.SyncEvent{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateGroup(duplicate) = %v", err)
	}
	if _, err := s.CreateGroup(ctx, newGroup(d.ID, "Support", nil), []string{u2.ID, "no-such-user"}, store.SyncEvent{}); !errors.Is(err, store.ErrInvalidMember) {
		t.Errorf("CreateGroup(invalid member) = %v", err)
	}
	if err := s.DeleteGroup(ctx, d.ID, g.ID, 1, store.SyncEvent{}); !errors.Is(err, store.ErrPrecondition) {
		t.Errorf("DeleteGroup(stale version) = %v", err)
	}
	seq = wantChanges(t, s, d.ID, seq, "refused group writes")

	// A delete changes every member's contact, then the group goes.
	if err := s.DeleteGroup(ctx, d.ID, g.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	want = nil
	for _, id := range slices.Sorted(slices.Values([]string{u1.ID, u3.ID})) {
		want = append(want, "contact:"+id+":updated")
	}
	want = append(want, "group:"+g.ID+":deleted")
	evs = changeEvents(t, s, d.ID, seq)
	if got := describe(evs); !slices.Equal(got, want) {
		t.Fatalf("delete events %q, want %q", got, want)
	}
	if last := evs[len(evs)-1].GroupBefore; last == nil || last.DisplayName != "Inside Sales" {
		t.Errorf("deleted group's last state = %+v", last)
	}
	if evs[0].After.Groups != nil {
		t.Errorf("member after the group's delete is in groups %q", evs[0].After.Groups)
	}
}

func testEventsCursor(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	for i := range 5 {
		createUser(t, s, a.ID, fmt.Sprintf("a%d@contoso.com", i), nil)
	}
	createUser(t, s, b.ID, "b@contoso.com", nil)
	all := changeEvents(t, s, a.ID, 0)
	if len(all) != 5 || all[4].Seq != 5 {
		t.Fatalf("events of A: %q", describe(all))
	}
	evs, oldest, err := s.ListEvents(ctx, a.ID, 2, 2)
	if err != nil || len(evs) != 2 || evs[0].Seq != 3 || evs[1].Seq != 4 || oldest != 1 {
		t.Errorf("ListEvents(after 2, limit 2) = %q, oldest %d, %v", describe(evs), oldest, err)
	}
	if evs, _, err := s.ListEvents(ctx, a.ID, 5, 10); err != nil || len(evs) != 0 {
		t.Errorf("ListEvents(after the newest) = %q, %v", describe(evs), err)
	}
	// Directories are numbered apart and never see each other's events.
	bs := changeEvents(t, s, b.ID, 0)
	if len(bs) != 1 || bs[0].Seq != 1 || bs[0].DirectoryID != b.ID {
		t.Errorf("events of B: %+v", bs)
	}
	if _, oldest, err := s.ListEvents(ctx, "no-such-directory", 0, 10); err != nil || oldest != 0 {
		t.Errorf("ListEvents(missing directory): oldest %d, %v", oldest, err)
	}
	if !s.EventsEnabled() {
		t.Error("EventsEnabled() = false on a default store")
	}
}

func testEventsPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	for i := range 4 {
		createUser(t, s, a.ID, fmt.Sprintf("a%d@contoso.com", i), nil)
	}
	createUser(t, s, b.ID, "b@contoso.com", nil)
	evs := changeEvents(t, s, a.ID, 0)
	n, err := s.PruneEvents(ctx, evs[2].Time)
	if err != nil || n != 2 {
		t.Errorf("PruneEvents(before the third) = %d, %v; want 2", n, err)
	}
	if got, oldest, err := s.ListEvents(ctx, a.ID, 0, 10); err != nil || len(got) != 2 || got[0].Seq != 3 || oldest != 3 {
		t.Errorf("after prune: %q, oldest %d, %v", describe(got), oldest, err)
	}
	// Everything older than a time after the newest: each directory keeps
	// its newest, and the numbering goes on from it.
	if n, err := s.PruneEvents(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("PruneEvents(all) = %d, %v; want 1", n, err)
	}
	if got, oldest, _ := s.ListEvents(ctx, a.ID, 0, 10); len(got) != 1 || got[0].Seq != 4 || oldest != 4 {
		t.Errorf("after pruning all: %q, oldest %d", describe(got), oldest)
	}
	if got := changeEvents(t, s, b.ID, 0); len(got) != 1 {
		t.Errorf("B after pruning all: %q", describe(got))
	}
	createUser(t, s, a.ID, "later@contoso.com", nil)
	if n := latest(t, s, a.ID); n != 5 {
		t.Errorf("LatestEvent after a prune and a write = %d, want 5", n)
	}
}

// testEventsConcurrent runs writers while a reader follows the feed: the
// reader must see every event exactly once, numbered without gaps, even
// though writers commit in any order (a reader that saw n+1 before n
// committed would skip n forever).
func testEventsConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	g := createGroup(t, s, d.ID, "All")
	const perWorker = 15
	after := latest(t, s, d.ID) // before the writers start
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				u, err := s.CreateUser(ctx, newUser(d.ID, fmt.Sprintf("w%d-%d@contoso.com", w, i), nil), store.SyncEvent{})
				if err == nil && i%3 == 0 {
					_, err = s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
						return store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{u.ID}}}}, nil
					})
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var seen []store.Event
	for finished := false; ; {
		select {
		case <-done:
			finished = true // read to the end after the last commit
		default:
		}
		evs, _, err := s.ListEvents(ctx, d.ID, after, 50)
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		for _, ev := range evs {
			if ev.Seq != after+1 {
				t.Fatalf("reader after %d got %d: an event was skipped", after, ev.Seq)
			}
			after = ev.Seq
		}
		seen = append(seen, evs...)
		if finished && len(evs) < 50 {
			break
		}
	}
	close(errs)
	for err := range errs {
		t.Errorf("writer: %v", err)
	}
	// Each create is one event, each membership two.
	creates, adds := workers*perWorker, workers*((perWorker+2)/3)
	if want := creates + 2*adds; len(seen) != want {
		t.Errorf("reader saw %d events, want %d", len(seen), want)
	}
	if n := latest(t, s, d.ID); n != after {
		t.Errorf("LatestEvent = %d, reader ended at %d", n, after)
	}
}

func testEventsWatch(t *testing.T, s store.Store) {
	a, b := createDirectory(t, s), createDirectory(t, s)
	ch, stop := s.WatchEvents(a.ID)
	defer stop()
	createUser(t, s, b.ID, "b@contoso.com", nil)
	createUser(t, s, a.ID, "a@contoso.com", nil)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after a write of the watched directory")
	}
	stop()
	stop() // idempotent
}

// testEventsConflicts creates one userName from several goroutines at
// once (on SQLite they share a group commit, each write in its own
// savepoint): only the create that committed leaves an event.
func testEventsConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	var wg sync.WaitGroup
	for i := range workers {
		name := "race@example.com"
		if i%2 == 1 {
			name = strings.ToUpper(name)
		}
		wg.Go(func() { _, _ = s.CreateUser(ctx, newUser(d.ID, name, nil), store.SyncEvent{}) })
	}
	wg.Wait()
	users, _, err := s.ListUsers(ctx, d.ID, store.Query{Limit: 10})
	if err != nil || len(users) != 1 {
		t.Fatalf("ListUsers: %d users, %v", len(users), err)
	}
	wantChanges(t, s, d.ID, 0, "racing creates", "contact:"+users[0].ID+":created")
}

// testEventsConcurrentMembers adds one user to several groups at once and
// updates it meanwhile: each of its contact events must start from the
// state the one before left (no event built on a stale read), and the
// last must show every group.
func testEventsConcurrentMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createContact(t, s, d.ID, "u@contoso.com", contact("User One", "u@contoso.com"))
	var groups []store.Group
	var names []string
	for i := range workers {
		g := createGroup(t, s, d.ID, fmt.Sprintf("Group %d", i))
		groups, names = append(groups, g), append(names, g.DisplayName)
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() {
			if _, err := s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
				return store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{u.ID}}}}, nil
			}); err != nil {
				t.Errorf("UpdateGroup: %v", err)
			}
		})
	}
	for i := range 4 {
		wg.Go(func() {
			if _, err := s.UpdateUser(ctx, d.ID, u.ID, func(old store.User) (store.User, store.SyncEvent, error) {
				old.Contact.Title = fmt.Sprintf("Title %d", i)
				return old, store.SyncEvent{}, nil
			}); err != nil {
				t.Errorf("UpdateUser: %v", err)
			}
		})
	}
	wg.Wait()
	var prev *store.ContactState
	for _, ev := range changeEvents(t, s, d.ID, 0) {
		if ev.Kind != store.EventContact || ev.ResourceID != u.ID {
			continue
		}
		if prev != nil && (ev.Before == nil || !sameState(*ev.Before, *prev)) {
			t.Fatalf("event %d starts from %+v, the one before left %+v", ev.Seq, ev.Before, prev)
		}
		prev = ev.After
	}
	sorted := slices.Clone(names)
	store.SortGroupNames(sorted)
	if prev == nil || !slices.Equal(prev.Groups, sorted) {
		t.Errorf("last state's groups %q, want %q", prev.Groups, sorted)
	}
}
