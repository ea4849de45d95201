package storetest

import (
	"slices"
	"testing"

	"github.com/scimd/scimd/store"
)

func testGroupsCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u1 := createUser(t, s, d.ID, "u1@example.com", nil)
	u2 := createUser(t, s, d.ID, "u2@example.com", nil)

	in := newGroup(d.ID, "Engineering", map[string]any{"externalId": "ext-eng"})
	g, err := s.CreateGroup(ctx, in, []string{u2.ID, u1.ID}, store.SyncEvent{})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	want := in
	want.Version, want.Created, want.LastModified = 1, g.Created, g.Created
	if g.Created.IsZero() {
		t.Error("CreateGroup: zero Created")
	}
	checkGroup(t, "CreateGroup", g, want)
	got, err := s.GetGroup(ctx, d.ID, g.ID)
	if err != nil {
		t.Fatalf("GetGroup: %v", err)
	}
	checkGroup(t, "GetGroup", got, g)
	wantMembers(t, s, d.ID, g.ID, u1.ID, u2.ID)

	// GroupMembers answers for several groups at once, in a stable order.
	empty := createGroup(t, s, d.ID, "Empty")
	m1, err := s.GroupMembers(ctx, d.ID, []string{g.ID, empty.ID, "missing"})
	if err != nil {
		t.Fatalf("GroupMembers: %v", err)
	}
	if len(m1[g.ID]) != 2 || len(m1[empty.ID]) != 0 || len(m1["missing"]) != 0 {
		t.Errorf("GroupMembers = %q", m1)
	}
	if m2, _ := s.GroupMembers(ctx, d.ID, []string{g.ID}); !slices.Equal(m1[g.ID], m2[g.ID]) {
		t.Errorf("GroupMembers order not stable: %q then %q", m1[g.ID], m2[g.ID])
	}

	newDoc := mustJSON(map[string]any{"displayName": "Platform"})
	up, err := s.UpdateGroup(ctx, d.ID, g.ID, func(old store.Group) (store.GroupChange, error) {
		checkGroup(t, "callback argument", old, g)
		return store.GroupChange{Group: &store.Group{ID: "other", DisplayName: "Platform", Doc: newDoc}}, nil
	})
	if err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	if !up.LastModified.After(g.LastModified) {
		t.Errorf("UpdateGroup: lastModified %v not after %v", up.LastModified, g.LastModified)
	}
	want = store.Group{DirectoryID: d.ID, ID: g.ID, DisplayName: "Platform", Doc: newDoc,
		Version: 2, Created: g.Created, LastModified: up.LastModified}
	checkGroup(t, "UpdateGroup", up, want)
	got, _ = s.GetGroup(ctx, d.ID, g.ID)
	checkGroup(t, "GetGroup after update", got, want)
	wantMembers(t, s, d.ID, g.ID, u1.ID, u2.ID) // attributes only: members stay

	wantErr(t, "DeleteGroup(stale version)", s.DeleteGroup(ctx, d.ID, g.ID, 1, store.SyncEvent{}), store.ErrPrecondition)
	if err := s.DeleteGroup(ctx, d.ID, g.ID, 2, store.SyncEvent{}); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	_, err = s.GetGroup(ctx, d.ID, g.ID)
	wantErr(t, "GetGroup(deleted)", err, store.ErrNotFound)
	wantMembers(t, s, d.ID, g.ID)
	if _, err := s.GetUser(ctx, d.ID, u1.ID); err != nil {
		t.Errorf("deleting a group deleted its member: %v", err)
	}
}

func testGroupsNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	_, err := s.GetGroup(ctx, d.ID, "missing")
	wantErr(t, "GetGroup", err, store.ErrNotFound)
	_, err = s.UpdateGroup(ctx, d.ID, "missing", func(store.Group) (store.GroupChange, error) {
		t.Error("callback called for a missing group")
		return store.GroupChange{}, nil
	})
	wantErr(t, "UpdateGroup", err, store.ErrNotFound)
	wantErr(t, "DeleteGroup", s.DeleteGroup(ctx, d.ID, "missing", 0, store.SyncEvent{}), store.ErrNotFound)
}

func testGroupsDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	eng := createGroup(t, s, a.ID, "Engineering")
	ops := createGroup(t, s, a.ID, "Operations")

	_, err := s.CreateGroup(ctx, newGroup(a.ID, "ENGINEERING", nil), nil, store.SyncEvent{})
	wantErr(t, "CreateGroup(same displayName, other case)", err, store.ErrConflict)
	dup := newGroup(a.ID, "Sales", nil)
	dup.ID = eng.ID
	_, err = s.CreateGroup(ctx, dup, nil, store.SyncEvent{})
	wantErr(t, "CreateGroup(same id)", err, store.ErrConflict)

	_, err = s.UpdateGroup(ctx, a.ID, ops.ID, func(g store.Group) (store.GroupChange, error) {
		g.DisplayName = "engineering"
		return store.GroupChange{Group: &g}, nil
	})
	wantErr(t, "UpdateGroup(rename to a taken displayName)", err, store.ErrConflict)
	if _, err := s.UpdateGroup(ctx, a.ID, ops.ID, func(g store.Group) (store.GroupChange, error) {
		g.DisplayName = "OPERATIONS" // a case-only rename of itself is no conflict
		return store.GroupChange{Group: &g}, nil
	}); err != nil {
		t.Errorf("UpdateGroup(case-only rename): %v", err)
	}
	createGroup(t, s, b.ID, "Engineering") // unique per directory only
}

func testGroupsMemberOps(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	var u [5]store.User
	for i := range u {
		u[i] = createUser(t, s, d.ID, newID("member")+"@example.com", nil)
	}
	g := createGroup(t, s, d.ID, "Team", u[0].ID, u[1].ID)

	update := func(ops ...store.MemberOp) store.Group {
		t.Helper()
		up, err := s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
			return store.GroupChange{Members: ops}, nil
		})
		if err != nil {
			t.Fatalf("UpdateGroup(%v): %v", ops, err)
		}
		return up
	}
	add := func(us ...store.User) store.MemberOp {
		return store.MemberOp{Kind: store.MembersAdd, UserIDs: userIDs(us...)}
	}
	remove := func(ids ...string) store.MemberOp { return store.MemberOp{Kind: store.MembersRemove, UserIDs: ids} }
	removeAll := store.MemberOp{Kind: store.MembersRemoveAll}

	// Operations apply in order: u0 is removed, then added back.
	up := update(add(u[2]), remove(u[1].ID), remove(u[0].ID), add(u[0], u[3], u[3]))
	wantMembers(t, s, d.ID, g.ID, userIDs(u[0], u[2], u[3])...)
	if up.Version != 2 || up.DisplayName != "Team" {
		t.Errorf("members-only update: version %d, displayName %q; want 2, unchanged", up.Version, up.DisplayName)
	}

	update(removeAll, add(u[4]))
	wantMembers(t, s, d.ID, g.ID, u[4].ID)

	// Adding a member again and removing a non-member are no-ops.
	update(add(u[4]), remove(u[0].ID, "not-a-user"))
	wantMembers(t, s, d.ID, g.ID, u[4].ID)

	update(add(u[1]), removeAll)
	wantMembers(t, s, d.ID, g.ID)
}

func testGroupsInvalidMember(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	ua := createUser(t, s, a.ID, "a@example.com", nil)
	ub := createUser(t, s, b.ID, "b@example.com", nil)

	for _, bad := range []string{"no-such-user", ub.ID} {
		in := newGroup(a.ID, "New "+bad, nil)
		_, err := s.CreateGroup(ctx, in, []string{ua.ID, bad}, store.SyncEvent{})
		wantErr(t, "CreateGroup(member "+bad+")", err, store.ErrInvalidMember)
		_, err = s.GetGroup(ctx, a.ID, in.ID)
		wantErr(t, "GetGroup(group whose creation failed)", err, store.ErrNotFound)
	}

	g := createGroup(t, s, a.ID, "Team")
	for _, bad := range []string{"no-such-user", ub.ID} {
		_, err := s.UpdateGroup(ctx, a.ID, g.ID, func(old store.Group) (store.GroupChange, error) {
			old.DisplayName = "Renamed"
			return store.GroupChange{Group: &old, Members: []store.MemberOp{
				{Kind: store.MembersAdd, UserIDs: []string{ua.ID}},
				{Kind: store.MembersAdd, UserIDs: []string{bad}},
			}}, nil
		})
		wantErr(t, "UpdateGroup(add "+bad+")", err, store.ErrInvalidMember)
	}
	// Nothing was written: not the rename, not the valid member.
	got, _ := s.GetGroup(ctx, a.ID, g.ID)
	checkGroup(t, "group after failed updates", got, g)
	wantMembers(t, s, a.ID, g.ID)
}

func testGroupsDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u1 := createUser(t, s, d.ID, "u1@example.com", nil)
	u2 := createUser(t, s, d.ID, "u2@example.com", nil)
	g1 := createGroup(t, s, d.ID, "One", u1.ID, u2.ID)
	g2 := createGroup(t, s, d.ID, "Two", u1.ID)

	if err := s.DeleteUser(ctx, d.ID, u1.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	wantMembers(t, s, d.ID, g1.ID, u2.ID)
	wantMembers(t, s, d.ID, g2.ID)
	if _, err := s.GetGroup(ctx, d.ID, g2.ID); err != nil {
		t.Errorf("deleting its last member deleted the group: %v", err)
	}
	// The id can be reused only by a new user: the old membership is gone.
	re := newUser(d.ID, "u1-again@example.com", nil)
	re.ID = u1.ID
	if _, err := s.CreateUser(ctx, re, store.SyncEvent{}); err != nil {
		t.Fatalf("CreateUser(reused id): %v", err)
	}
	wantMembers(t, s, d.ID, g2.ID)
}

func testGroupsCallbackError(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createUser(t, s, d.ID, "u@example.com", nil)
	g := createGroup(t, s, d.ID, "Team")
	_, err := s.UpdateGroup(ctx, d.ID, g.ID, func(old store.Group) (store.GroupChange, error) {
		old.DisplayName = "not written"
		return store.GroupChange{Group: &old, Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{u.ID}}}}, errBoom
	})
	wantErr(t, "UpdateGroup", err, errBoom)
	got, _ := s.GetGroup(ctx, d.ID, g.ID)
	checkGroup(t, "group after a failed callback", got, g)
	wantMembers(t, s, d.ID, g.ID)
}
