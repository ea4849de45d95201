package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func testPaginate(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	// Ids sort against creation order, so that ordering by id alone fails.
	var all []store.User
	for i := range 7 {
		u := newUser(d.ID, fmt.Sprintf("page%d@example.com", i), map[string]any{"active": i%2 == 0})
		u.ID = fmt.Sprintf("page-%d-%s", 9-i, u.ID)
		created, err := s.CreateUser(ctx, u, store.SyncEvent{})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		all = append(all, created)
	}
	createUser(t, s, createDirectory(t, s).ID, "elsewhere@example.com", nil) // never counted
	slices.SortFunc(all, func(a, b store.User) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})

	var got []string
	for offset := 0; offset < 10; offset += 3 {
		page, total, err := s.ListUsers(ctx, d.ID, store.Query{Offset: offset, Limit: 3})
		if err != nil {
			t.Fatalf("ListUsers(offset %d): %v", offset, err)
		}
		if total != 7 {
			t.Errorf("ListUsers(offset %d): total %d, want 7", offset, total)
		}
		if want := min(3, max(0, 7-offset)); len(page) != want {
			t.Errorf("ListUsers(offset %d): %d users, want %d", offset, len(page), want)
		}
		got = append(got, userIDs(page...)...)
	}
	if want := userIDs(all...); !slices.Equal(got, want) {
		t.Errorf("pages = %q, want %q (by Created, then ID)", got, want)
	}

	// Limit 0 counts without returning users.
	page, total, err := s.ListUsers(ctx, d.ID, store.Query{Limit: 0})
	if err != nil || total != 7 || len(page) != 0 {
		t.Errorf("ListUsers(limit 0) = %d users, total %d, %v; want 0, 7", len(page), total, err)
	}

	// With a filter, the total counts every match, not the page.
	active := compare(attr("active"), store.Eq, true)
	page, total, err = s.ListUsers(ctx, d.ID, store.Query{Filter: active, Offset: 1, Limit: 2})
	var wantActive []string
	for _, u := range all {
		if u.Active {
			wantActive = append(wantActive, u.ID)
		}
	}
	if err != nil || total != 4 || !slices.Equal(userIDs(page...), wantActive[1:3]) {
		t.Errorf("ListUsers(active, offset 1, limit 2) = %q, total %d, %v; want %q, 4", userIDs(page...), total, err, wantActive[1:3])
	}

	// Groups page the same way.
	var groups []string
	for i := range 5 {
		groups = append(groups, createGroup(t, s, d.ID, fmt.Sprintf("Group %d", i)).ID)
	}
	var gotGroups []string
	for offset := 0; offset < 5; offset += 2 {
		page, total, err := s.ListGroups(ctx, d.ID, store.Query{Offset: offset, Limit: 2})
		if err != nil || total != 5 {
			t.Fatalf("ListGroups(offset %d): total %d, %v", offset, total, err)
		}
		for _, g := range page {
			gotGroups = append(gotGroups, g.ID)
		}
	}
	if !slices.Equal(gotGroups, groups) {
		t.Errorf("group pages = %q, want %q (creation order)", gotGroups, groups)
	}
}

// testTimeRoundTrip checks that times come back in UTC and exactly as the
// store first returned them: a backend must not hand out more precision
// than it keeps.
func testTimeRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	isUTC := func(what string, ts ...time.Time) {
		t.Helper()
		for _, tm := range ts {
			if tm.IsZero() || tm.Location() != time.UTC {
				t.Errorf("%s: time %v is zero or not UTC", what, tm)
			}
		}
	}
	d := createDirectory(t, s)
	isUTC("CreateDirectory", d.Created, d.Updated)
	gd, _ := s.GetDirectory(ctx, d.ID)
	isUTC("GetDirectory", gd.Created, gd.Updated)
	if !gd.Created.Equal(d.Created) || !gd.Updated.Equal(d.Updated) {
		t.Errorf("GetDirectory times %v, %v; CreateDirectory returned %v, %v", gd.Created, gd.Updated, d.Created, d.Updated)
	}

	u := createUser(t, s, d.ID, "time@example.com", nil)
	isUTC("CreateUser", u.Created, u.LastModified)
	gu, _ := s.GetUser(ctx, d.ID, u.ID)
	isUTC("GetUser", gu.Created, gu.LastModified)
	checkUser(t, "GetUser", gu, u)
	lu, _, _ := s.ListUsers(ctx, d.ID, store.Query{Limit: 1})
	if len(lu) != 1 {
		t.Fatalf("ListUsers: %d users", len(lu))
	}
	isUTC("ListUsers", lu[0].Created, lu[0].LastModified)
	checkUser(t, "ListUsers", lu[0], u)

	up, _ := s.UpdateUser(ctx, d.ID, u.ID, func(u store.User) (store.User, store.SyncEvent, error) { return u, store.SyncEvent{}, nil })
	isUTC("UpdateUser", up.Created, up.LastModified)
	gu, _ = s.GetUser(ctx, d.ID, u.ID)
	checkUser(t, "GetUser after update", gu, up)

	g := createGroup(t, s, d.ID, "Time")
	isUTC("CreateGroup", g.Created, g.LastModified)
	gg, _ := s.GetGroup(ctx, d.ID, g.ID)
	isUTC("GetGroup", gg.Created, gg.LastModified)
	checkGroup(t, "GetGroup", gg, g)

	// A time filter with a non-UTC operand finds the record at that instant.
	at := u.Created.In(time.FixedZone("UTC-03:00", -3*3600))
	found, n, err := s.ListUsers(ctx, d.ID, store.Query{Filter: compare(sub("meta", "created"), store.Eq, at), Limit: 1})
	if err != nil || n != 1 || len(found) != 1 || found[0].ID != u.ID {
		t.Errorf("ListUsers(meta.created eq %v) = %d, %v; want the user", at, n, err)
	}
}
