package storetest

import (
	"testing"

	"github.com/scimd/scimd/store"
)

// testIsolation checks that directory B can neither see nor change
// directory A's users and groups through any method.
func testIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	ua := createUser(t, s, a.ID, "alice@example.com", nil)
	ga := createGroup(t, s, a.ID, "Team", ua.ID)
	ub := createUser(t, s, b.ID, "bob@example.com", nil)
	gb := createGroup(t, s, b.ID, "Other")

	_, err := s.GetUser(ctx, b.ID, ua.ID)
	wantErr(t, "GetUser(other directory's user)", err, store.ErrNotFound)
	_, err = s.UpdateUser(ctx, b.ID, ua.ID, func(u store.User) (store.User, store.SyncEvent, error) {
		t.Error("UpdateUser called back with another directory's user")
		return u, store.SyncEvent{}, nil
	})
	wantErr(t, "UpdateUser(other directory's user)", err, store.ErrNotFound)
	wantErr(t, "DeleteUser(other directory's user)", s.DeleteUser(ctx, b.ID, ua.ID, 0, store.SyncEvent{}), store.ErrNotFound)

	_, err = s.GetGroup(ctx, b.ID, ga.ID)
	wantErr(t, "GetGroup(other directory's group)", err, store.ErrNotFound)
	_, err = s.UpdateGroup(ctx, b.ID, ga.ID, func(store.Group) (store.GroupChange, error) {
		t.Error("UpdateGroup called back with another directory's group")
		return store.GroupChange{}, nil
	})
	wantErr(t, "UpdateGroup(other directory's group)", err, store.ErrNotFound)
	wantErr(t, "DeleteGroup(other directory's group)", s.DeleteGroup(ctx, b.ID, ga.ID, 0, store.SyncEvent{}), store.ErrNotFound)
	if m, err := s.GroupMembers(ctx, b.ID, []string{ga.ID}); err != nil || len(m[ga.ID]) != 0 {
		t.Errorf("GroupMembers(other directory's group) = %q, %v", m, err)
	}

	// Listing, with or without a filter naming A's records, shows B's only.
	users, n, err := s.ListUsers(ctx, b.ID, store.Query{Limit: 10})
	if err != nil || n != 1 || len(users) != 1 || users[0].ID != ub.ID {
		t.Errorf("ListUsers(B) = %+v, %d, %v; want only B's user", users, n, err)
	}
	byID := store.Compare{Attr: store.Attr{Name: "id"}, Op: store.Eq, Value: ua.ID, CaseExact: true}
	if users, n, err := s.ListUsers(ctx, b.ID, store.Query{Filter: byID, Limit: 10}); err != nil || n != 0 || len(users) != 0 {
		t.Errorf("ListUsers(B, id eq A's user) = %d, %d, %v", len(users), n, err)
	}
	groups, n, err := s.ListGroups(ctx, b.ID, store.Query{Limit: 10})
	if err != nil || n != 1 || len(groups) != 1 || groups[0].ID != gb.ID {
		t.Errorf("ListGroups(B) = %+v, %d, %v; want only B's group", groups, n, err)
	}
	byMember := store.ValuePath{Attr: store.Attr{Name: "members"},
		Filter: store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Eq, Value: ua.ID, CaseExact: true}}
	if groups, n, err := s.ListGroups(ctx, b.ID, store.Query{Filter: byMember, Limit: 10}); err != nil || n != 0 || len(groups) != 0 {
		t.Errorf("ListGroups(B, members[value eq A's user]) = %d, %d, %v", len(groups), n, err)
	}

	// A's records are intact.
	if got, err := s.GetUser(ctx, a.ID, ua.ID); err != nil || got.Version != 1 {
		t.Errorf("GetUser(A) = %+v, %v", got, err)
	}
	if got, err := s.GetGroup(ctx, a.ID, ga.ID); err != nil || got.Version != 1 {
		t.Errorf("GetGroup(A) = %+v, %v", got, err)
	}
	wantMembers(t, s, a.ID, ga.ID, ua.ID)
}
