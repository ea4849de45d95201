package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// syncEvents returns all of a directory's events, newest first.
func syncEvents(t *testing.T, s store.Store, directoryID string) []store.SyncEvent {
	t.Helper()
	evs, err := s.ListSyncEvents(t.Context(), directoryID, store.SyncQuery{Limit: 10000})
	if err != nil {
		t.Fatalf("ListSyncEvents: %v", err)
	}
	return evs
}

// wantNewEvent checks that exactly one event was recorded since the
// directory had n events, as ev describes, at the given time (zero: any
// time after the previous event), and returns it.
func wantNewEvent(t *testing.T, s store.Store, directoryID string, n int, ev store.SyncEvent, at time.Time) store.SyncEvent {
	t.Helper()
	evs := syncEvents(t, s, directoryID)
	if len(evs) != n+1 {
		t.Fatalf("%s %s: %d events, want %d", ev.Operation, ev.ResourceType, len(evs), n+1)
	}
	got := evs[0]
	if n > 0 && (got.ID <= evs[1].ID || !got.Time.After(evs[1].Time)) {
		t.Errorf("%s: id %d at %v is not after the previous event's %d at %v", ev.Operation, got.ID, got.Time, evs[1].ID, evs[1].Time)
	}
	if !at.IsZero() && !got.Time.Equal(at) {
		t.Errorf("%s: time %v, want the write's %v", ev.Operation, got.Time, at)
	}
	if got.Time.Location() != time.UTC {
		t.Errorf("%s: time %v is not UTC", ev.Operation, got.Time)
	}
	ev.DirectoryID, ev.ID, ev.Time = directoryID, got.ID, got.Time
	if got != ev {
		t.Errorf("recorded event:\n got %+v\nwant %+v", got, ev)
	}
	return got
}

func userEvent(op, userName string) store.SyncEvent {
	return store.SyncEvent{Operation: op, ResourceType: "User", Identity: userName, New: op == store.SyncCreate, Result: "done: " + op}
}

func groupEvent(op, name string) store.SyncEvent {
	return store.SyncEvent{Operation: op, ResourceType: "Group", Identity: name, New: op == store.SyncCreate, Result: "done: " + op}
}

// testSyncLogWrites checks that every write records the event it is given,
// in its own transaction: with the write's time and the resource id.
func testSyncLogWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)

	in := newUser(d.ID, "alice@example.com", nil)
	ev := userEvent(store.SyncCreate, "alice@example.com")
	ev.ResourceID = "ignored: the store sets it"
	u, err := s.CreateUser(ctx, in, ev)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	ev.ResourceID = u.ID
	wantNewEvent(t, s, d.ID, 0, ev, u.Created)

	up, err := s.UpdateUser(ctx, d.ID, u.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		old.Active = false
		return old, userEvent(store.SyncDisable, old.UserName), nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	ev = userEvent(store.SyncDisable, "alice@example.com")
	ev.ResourceID = u.ID
	wantNewEvent(t, s, d.ID, 1, ev, up.LastModified)

	g, err := s.CreateGroup(ctx, newGroup(d.ID, "Team", nil), []string{u.ID}, groupEvent(store.SyncCreate, "Team"))
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	ev = groupEvent(store.SyncCreate, "Team")
	ev.ResourceID = g.ID
	wantNewEvent(t, s, d.ID, 2, ev, g.Created)

	ug, err := s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
		return store.GroupChange{
			Members: []store.MemberOp{{Kind: store.MembersRemove, UserIDs: []string{u.ID}}},
			Event:   groupEvent(store.SyncMembersRemoved, "Team"),
		}, nil
	})
	if err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	ev = groupEvent(store.SyncMembersRemoved, "Team")
	ev.ResourceID = g.ID
	wantNewEvent(t, s, d.ID, 3, ev, ug.LastModified)

	if err := s.DeleteGroup(ctx, d.ID, g.ID, 0, groupEvent(store.SyncDelete, "Team")); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	ev = groupEvent(store.SyncDelete, "Team")
	ev.ResourceID = g.ID
	wantNewEvent(t, s, d.ID, 4, ev, time.Time{})

	if err := s.DeleteUser(ctx, d.ID, u.ID, 0, userEvent(store.SyncDelete, "alice@example.com")); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	ev = userEvent(store.SyncDelete, "alice@example.com")
	ev.ResourceID = u.ID
	wantNewEvent(t, s, d.ID, 5, ev, time.Time{})

	// An event without an operation is not recorded.
	u2 := createUser(t, s, d.ID, "bob@example.com", nil)
	if _, err := s.UpdateUser(ctx, d.ID, u2.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		return old, store.SyncEvent{ResourceType: "User", Result: "no operation"}, nil
	}); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	g2 := createGroup(t, s, d.ID, "Other")
	if err := s.DeleteGroup(ctx, d.ID, g2.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	if err := s.DeleteUser(ctx, d.ID, u2.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if n := len(syncEvents(t, s, d.ID)); n != 6 {
		t.Errorf("writes without an operation recorded events: %d, want 6", n)
	}
}

// testSyncLogFailedWrites checks that a write that fails records nothing:
// the event shares the write's transaction. (Refusals are recorded with
// RecordSyncEvent.)
func testSyncLogFailedWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createUser(t, s, d.ID, "taken@example.com", nil)
	other := createUser(t, s, d.ID, "other@example.com", nil)
	g := createGroup(t, s, d.ID, "Team")
	createGroup(t, s, d.ID, "Taken")

	_, err := s.CreateUser(ctx, newUser(d.ID, "TAKEN@example.com", nil), userEvent(store.SyncCreate, "TAKEN@example.com"))
	wantErr(t, "CreateUser(duplicate userName)", err, store.ErrConflict)
	_, err = s.CreateUser(ctx, newUser("missing-directory", "x@example.com", nil), userEvent(store.SyncCreate, "x@example.com"))
	if err == nil {
		t.Error("CreateUser(missing directory) succeeded")
	}
	_, err = s.UpdateUser(ctx, d.ID, other.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		old.UserName = "taken@example.com"
		return old, userEvent(store.SyncUpdate, old.UserName), nil
	})
	wantErr(t, "UpdateUser(rename to a taken userName)", err, store.ErrConflict)
	_, err = s.UpdateUser(ctx, d.ID, u.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		return old, userEvent(store.SyncUpdate, old.UserName), errBoom
	})
	wantErr(t, "UpdateUser(callback error)", err, errBoom)
	_, err = s.UpdateUser(ctx, d.ID, "missing", func(old store.User) (store.User, store.SyncEvent, error) {
		return old, userEvent(store.SyncUpdate, "missing"), nil
	})
	wantErr(t, "UpdateUser(missing)", err, store.ErrNotFound)
	wantErr(t, "DeleteUser(stale version)", s.DeleteUser(ctx, d.ID, u.ID, 42, userEvent(store.SyncDelete, "taken@example.com")), store.ErrPrecondition)
	wantErr(t, "DeleteUser(missing)", s.DeleteUser(ctx, d.ID, "missing", 0, userEvent(store.SyncDelete, "missing")), store.ErrNotFound)

	_, err = s.CreateGroup(ctx, newGroup(d.ID, "New", nil), []string{"no-such-user"}, groupEvent(store.SyncCreate, "New"))
	wantErr(t, "CreateGroup(invalid member)", err, store.ErrInvalidMember)
	_, err = s.CreateGroup(ctx, newGroup(d.ID, "taken", nil), nil, groupEvent(store.SyncCreate, "taken"))
	wantErr(t, "CreateGroup(duplicate displayName)", err, store.ErrConflict)
	_, err = s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
		return store.GroupChange{
			Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{u.ID, "no-such-user"}}},
			Event:   groupEvent(store.SyncMembersAdded, "Team"),
		}, nil
	})
	wantErr(t, "UpdateGroup(invalid member)", err, store.ErrInvalidMember)
	_, err = s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
		return store.GroupChange{Event: groupEvent(store.SyncUpdate, "Team")}, errBoom
	})
	wantErr(t, "UpdateGroup(callback error)", err, errBoom)
	wantErr(t, "DeleteGroup(stale version)", s.DeleteGroup(ctx, d.ID, g.ID, 42, groupEvent(store.SyncDelete, "Team")), store.ErrPrecondition)

	if evs := syncEvents(t, s, d.ID); len(evs) != 0 {
		t.Errorf("failed writes recorded %d events: %+v", len(evs), evs)
	}
}

func testSyncLogRecord(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	ev := store.SyncEvent{
		DirectoryID: d.ID, Operation: store.SyncCreate, ResourceType: "User", Identity: "bad@example.com",
		New: true, Failed: true,
		Result: `phoneNumbers[type eq "work"].value "555 1234" is not E.164`,
		ID:     99, Time: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), // the store's to set
	}
	if err := s.RecordSyncEvent(ctx, ev); err != nil {
		t.Fatalf("RecordSyncEvent: %v", err)
	}
	got := wantNewEvent(t, s, d.ID, 0, store.SyncEvent{
		Operation: ev.Operation, ResourceType: ev.ResourceType, Identity: ev.Identity, New: true, Failed: true, Result: ev.Result,
	}, time.Time{})
	if got.Time.Year() == 2000 {
		t.Errorf("RecordSyncEvent kept the caller's time %v", got.Time)
	}
	// An existing resource's refused update carries its id.
	ev = store.SyncEvent{DirectoryID: d.ID, Operation: store.SyncUpdate, ResourceType: "User", ResourceID: "user-1",
		Identity: "a@example.com", Failed: true, Result: "refused"}
	if err := s.RecordSyncEvent(ctx, ev); err != nil {
		t.Fatalf("RecordSyncEvent: %v", err)
	}
	ev.DirectoryID = ""
	wantNewEvent(t, s, d.ID, 1, ev, time.Time{})

	if err := s.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: "missing-directory", Operation: store.SyncCreate, ResourceType: "User"}); err == nil {
		t.Error("RecordSyncEvent(missing directory) succeeded")
	}
	if err := s.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: d.ID, ResourceType: "User"}); err != nil {
		t.Errorf("RecordSyncEvent(no operation): %v", err)
	}
	if n := len(syncEvents(t, s, d.ID)); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}

// recordEvents records n events in directory d, alternating users and
// groups and failing every third, and returns them newest first as the
// store holds them.
func recordEvents(t *testing.T, s store.Store, directoryID string, n int) []store.SyncEvent {
	t.Helper()
	for i := range n {
		ev := store.SyncEvent{DirectoryID: directoryID, Operation: store.SyncUpdate, ResourceType: "User",
			ResourceID: fmt.Sprintf("r%d", i), Identity: fmt.Sprintf("user%d@example.com", i), Failed: i%3 == 2,
			Result: fmt.Sprintf("event %d", i)}
		if i%2 == 1 {
			ev.ResourceType, ev.Operation = "Group", store.SyncMembersAdded
		}
		if err := s.RecordSyncEvent(t.Context(), ev); err != nil {
			t.Fatalf("RecordSyncEvent: %v", err)
		}
	}
	evs := syncEvents(t, s, directoryID)
	if len(evs) != n {
		t.Fatalf("recorded %d events, listed %d", n, len(evs))
	}
	return evs
}

func eventIDs(evs []store.SyncEvent) []int64 {
	ids := make([]int64, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}

func wantEvents(t *testing.T, what string, got, want []store.SyncEvent) {
	t.Helper()
	if g, w := eventIDs(got), eventIDs(want); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("%s: ids %v, want %v", what, g, w)
	}
}

func testSyncLogFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	all := recordEvents(t, s, d.ID, 12) // newest first
	pick := func(keep func(store.SyncEvent) bool) []store.SyncEvent {
		var out []store.SyncEvent
		for _, ev := range all {
			if keep(ev) {
				out = append(out, ev)
			}
		}
		return out
	}
	yes, no := true, false
	// Bounds are inclusive and may come in any zone.
	since, until := all[8].Time.In(time.FixedZone("UTC-7", -7*3600)), all[3].Time
	tests := []struct {
		name string
		q    store.SyncQuery
		keep func(store.SyncEvent) bool
	}{
		{"all", store.SyncQuery{}, func(store.SyncEvent) bool { return true }},
		{"failed", store.SyncQuery{Failed: &yes}, func(ev store.SyncEvent) bool { return ev.Failed }},
		{"succeeded", store.SyncQuery{Failed: &no}, func(ev store.SyncEvent) bool { return !ev.Failed }},
		{"groups", store.SyncQuery{ResourceType: "Group"}, func(ev store.SyncEvent) bool { return ev.ResourceType == "Group" }},
		{"since", store.SyncQuery{Since: since}, func(ev store.SyncEvent) bool { return !ev.Time.Before(since) }},
		{"until", store.SyncQuery{Until: until}, func(ev store.SyncEvent) bool { return !ev.Time.After(until) }},
		{"between", store.SyncQuery{Since: since, Until: until}, func(ev store.SyncEvent) bool {
			return !ev.Time.Before(since) && !ev.Time.After(until)
		}},
		{"failed users between", store.SyncQuery{Since: all[11].Time, Until: until, Failed: &yes, ResourceType: "User"},
			func(ev store.SyncEvent) bool {
				return ev.Failed && ev.ResourceType == "User" && !ev.Time.After(until)
			}},
		{"before", store.SyncQuery{Before: all[4].ID}, func(ev store.SyncEvent) bool { return ev.ID < all[4].ID }},
		{"empty range", store.SyncQuery{Since: until, Until: since}, func(store.SyncEvent) bool { return false }},
	}
	for _, tt := range tests {
		tt.q.Limit = 100
		got, err := s.ListSyncEvents(ctx, d.ID, tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		wantEvents(t, tt.name, got, pick(tt.keep))
	}
	if got, err := s.ListSyncEvents(ctx, d.ID, store.SyncQuery{Limit: 3}); err != nil || len(got) != 3 || got[0].ID != all[0].ID {
		t.Errorf("Limit 3: %v, %v; want the 3 newest", eventIDs(got), err)
	}
}

// testSyncLogPaging pages through the log with the Before cursor while
// new events arrive: no event is skipped or repeated.
func testSyncLogPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	all := recordEvents(t, s, d.ID, 23)
	yes := true
	for _, q := range []store.SyncQuery{{Limit: 5}, {Limit: 1}, {Limit: 23}, {Limit: 4, Failed: &yes}} {
		// Start at the newest of all: events added by earlier rounds are
		// newer still.
		q.Before = all[0].ID + 1
		var got []store.SyncEvent
		for page := 0; ; page++ {
			evs, err := s.ListSyncEvents(ctx, d.ID, q)
			if err != nil {
				t.Fatalf("ListSyncEvents: %v", err)
			}
			if len(evs) > q.Limit {
				t.Fatalf("page of %d events, limit %d", len(evs), q.Limit)
			}
			got = append(got, evs...)
			if len(evs) < q.Limit {
				break
			}
			if page > len(all) {
				t.Fatalf("pages of %d: still paging after %d pages", q.Limit, page)
			}
			q.Before = evs[len(evs)-1].ID
			// Newer events arriving between pages do not shift them.
			if err := s.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: d.ID, Operation: store.SyncCreate,
				ResourceType: "User", Failed: true, Result: fmt.Sprintf("new during page %d", page)}); err != nil {
				t.Fatal(err)
			}
		}
		var want []store.SyncEvent
		for _, ev := range all {
			if q.Failed == nil || ev.Failed == *q.Failed {
				want = append(want, ev)
			}
		}
		wantEvents(t, fmt.Sprintf("pages of %d (failed only: %v)", q.Limit, q.Failed != nil), got, want)
	}
}

func testSyncLogSummary(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	all := recordEvents(t, s, d.ID, 12) // newest first: events 11..0
	other := createDirectory(t, s)
	recordEvents(t, s, other.ID, 5)

	count := func(since time.Time) map[store.SyncCount]int {
		t.Helper()
		counts, err := s.SyncSummary(ctx, d.ID, since)
		if err != nil {
			t.Fatalf("SyncSummary: %v", err)
		}
		m := map[store.SyncCount]int{}
		for _, c := range counts {
			n := c.Count
			c.Count = 0
			if _, dup := m[c]; dup || n <= 0 {
				t.Errorf("SyncSummary: duplicate or empty row %+v", c)
			}
			m[c] = n
		}
		return m
	}
	want := func(evs []store.SyncEvent) map[store.SyncCount]int {
		m := map[store.SyncCount]int{}
		for _, ev := range evs {
			m[store.SyncCount{Operation: ev.Operation, ResourceType: ev.ResourceType, Failed: ev.Failed}]++
		}
		return m
	}
	for _, tt := range []struct {
		name  string
		since time.Time
		want  []store.SyncEvent
	}{
		{"all", time.Time{}, all},
		{"since an event (inclusive)", all[5].Time, all[:6]},
		{"since the future", all[0].Time.Add(time.Hour), nil},
	} {
		if got, w := count(tt.since), want(tt.want); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %v, want %v", tt.name, got, w)
		}
	}
	if counts, err := s.SyncSummary(ctx, "missing-directory", time.Time{}); err != nil || len(counts) != 0 {
		t.Errorf("SyncSummary(missing directory) = %v, %v; want none", counts, err)
	}
}

// testSyncLogPrune checks the boundary (events at exactly before are
// kept) and that pruning spans directories.
func testSyncLogPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	evA := recordEvents(t, s, a.ID, 6) // newest first
	evB := recordEvents(t, s, b.ID, 4)

	n, err := s.PruneSyncEvents(ctx, evA[0].Time.Add(-time.Hour*24*365*50))
	if err != nil || n != 0 {
		t.Errorf("PruneSyncEvents(long ago) = %d, %v; want 0", n, err)
	}
	// evA[2] and everything before it in A (and all of B, which came
	// later) stay: evA[3..5] are older.
	n, err = s.PruneSyncEvents(ctx, evA[2].Time)
	if err != nil || n != 3 {
		t.Errorf("PruneSyncEvents = %d, %v; want 3", n, err)
	}
	wantEvents(t, "after prune", syncEvents(t, s, a.ID), evA[:3])
	wantEvents(t, "other directory after prune", syncEvents(t, s, b.ID), evB)

	n, err = s.PruneSyncEvents(ctx, evB[0].Time.Add(time.Nanosecond))
	if err != nil || n != 7 {
		t.Errorf("PruneSyncEvents(after the newest) = %d, %v; want 7", n, err)
	}
	if len(syncEvents(t, s, a.ID))+len(syncEvents(t, s, b.ID)) != 0 {
		t.Error("events remain after pruning everything")
	}
	if n, err := s.PruneSyncEvents(ctx, evB[0].Time.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneSyncEvents(empty log) = %d, %v", n, err)
	}
}

func testSyncLogIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	evA := recordEvents(t, s, a.ID, 3)
	if evs := syncEvents(t, s, b.ID); len(evs) != 0 {
		t.Errorf("directory B lists A's events: %+v", evs)
	}
	// A cursor from A's log shows nothing of A in B.
	if evs, err := s.ListSyncEvents(ctx, b.ID, store.SyncQuery{Before: evA[0].ID + 1, Limit: 10}); err != nil || len(evs) != 0 {
		t.Errorf("ListSyncEvents(B, A's cursor) = %+v, %v", evs, err)
	}
	for _, ev := range syncEvents(t, s, a.ID) {
		if ev.DirectoryID != a.ID {
			t.Errorf("event %d has directory %q, want %q", ev.ID, ev.DirectoryID, a.ID)
		}
	}
	if counts, err := s.SyncSummary(ctx, b.ID, time.Time{}); err != nil || len(counts) != 0 {
		t.Errorf("SyncSummary(B) = %+v, %v", counts, err)
	}

	// Deleting a directory deletes its log, and only its log.
	recordEvents(t, s, b.ID, 2)
	if err := s.DeleteDirectory(ctx, a.ID); err != nil {
		t.Fatalf("DeleteDirectory: %v", err)
	}
	if evs, err := s.ListSyncEvents(ctx, a.ID, store.SyncQuery{Limit: 10}); err != nil || len(evs) != 0 {
		t.Errorf("ListSyncEvents(deleted directory) = %+v, %v", evs, err)
	}
	if _, err := s.CreateDirectory(ctx, store.Directory{ID: a.ID, Name: "again"}); err != nil {
		t.Fatalf("CreateDirectory(same id): %v", err)
	}
	if evs := syncEvents(t, s, a.ID); len(evs) != 0 {
		t.Errorf("a directory recreated with the same id has %d old events", len(evs))
	}
	if n := len(syncEvents(t, s, b.ID)); n != 2 {
		t.Errorf("directory B has %d events after A was deleted, want 2", n)
	}
}
