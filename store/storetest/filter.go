package storetest

import (
	"slices"
	"testing"

	"github.com/scimd/scimd/store"
)

const (
	enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	custom     = "urn:example:scimd:test:2.0:User" // numbers and dateTimes
)

// Filter building shorthands.
func attr(name string) store.Attr           { return store.Attr{Name: name} }
func sub(name, sub string) store.Attr       { return store.Attr{Name: name, Sub: sub} }
func elem(sub string) store.Attr            { return store.Attr{Sub: sub} }
func ext(schema, name, s string) store.Attr { return store.Attr{Schema: schema, Name: name, Sub: s} }
func compare(a store.Attr, op store.Op, v any) store.Compare {
	return store.Compare{Attr: a, Op: op, Value: v}
}
func exact(a store.Attr, op store.Op, v any) store.Compare {
	return store.Compare{Attr: a, Op: op, Value: v, CaseExact: true}
}
func pr(a store.Attr) store.Compare                { return store.Compare{Attr: a, Op: store.Pr} }
func and(l, r store.Filter) store.Filter           { return store.And{Left: l, Right: r} }
func or(l, r store.Filter) store.Filter            { return store.Or{Left: l, Right: r} }
func not(f store.Filter) store.Filter              { return store.Not{Filter: f} }
func vp(a store.Attr, f store.Filter) store.Filter { return store.ValuePath{Attr: a, Filter: f} }

func email(typ, value string) map[string]any { return map[string]any{"type": typ, "value": value} }

func testFilterUsers(t *testing.T, s store.Store) {
	d := createDirectory(t, s)
	other := createDirectory(t, s)
	createUser(t, s, other.ID, "alice@example.com", map[string]any{"active": true}) // never listed

	users := map[string]store.User{}
	add := func(key, userName string, attrs map[string]any) {
		users[key] = createUser(t, s, d.ID, userName, attrs)
	}
	add("alice", "alice@example.com", map[string]any{
		"externalId": "ext-alice", "displayName": "Alice Smith", "active": true, "title": "Engineer",
		"name":     map[string]any{"givenName": "Alice", "familyName": "Smith"},
		"emails":   []any{email("work", "Alice@Example.com"), email("home", "alice@home.test")},
		enterprise: map[string]any{"manager": map[string]any{"value": "mgr-bob"}, "employeeNumber": "100"},
		custom:     map[string]any{"level": 3, "since": "2020-01-01T00:00:00Z"},
	})
	add("bob", "bob@example.com", map[string]any{
		"externalId": "ext-bob", "displayName": "Bob Jones", "active": true, "title": "Manager",
		"name":   map[string]any{"givenName": "Bob"},
		"emails": []any{email("work", "bob@example.com")},
		custom:   map[string]any{"level": 5.5, "since": "2021-06-01T12:00:00+02:00"},
	})
	add("carol", "Carol@Example.org", map[string]any{
		"displayName": "Carol White", "active": false,
		"name":     map[string]any{"givenName": "Carol"},
		"emails":   []any{email("home", "carol@example.org")},
		enterprise: map[string]any{"manager": map[string]any{"value": "mgr-bob"}},
		custom:     map[string]any{"level": 1},
	})
	add("dave", "dave_x%@example.net", map[string]any{
		"active": false, "title": "",
		"name":   map[string]any{"givenName": "Dave"},
		"emails": []any{},
	})
	add("erin", "erin@example.com", map[string]any{
		"displayName": "Erin", "active": true, "title": "engineer",
		"emails":   []any{email("Work", "erin@example.com")},
		enterprise: map[string]any{"manager": map[string]any{"value": "mgr-alice"}},
	})
	alice, bob := users["alice"], users["bob"]

	tests := []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"nil", nil, []string{"alice", "bob", "carol", "dave", "erin"}},
		{"userName eq, any case", compare(attr("userName"), store.Eq, "ALICE@example.COM"), []string{"alice"}},
		{"userName eq, caseExact", exact(attr("userName"), store.Eq, "ALICE@example.COM"), nil},
		{"userName eq, caseExact, same case", exact(attr("userName"), store.Eq, "alice@example.com"), []string{"alice"}},
		{"id eq", exact(attr("id"), store.Eq, alice.ID), []string{"alice"}},
		{"externalId eq", exact(attr("externalId"), store.Eq, "ext-bob"), []string{"bob"}},
		{"externalId pr", pr(attr("externalId")), []string{"alice", "bob"}},
		{"displayName co", compare(attr("displayName"), store.Co, "SMITH"), []string{"alice"}},
		{"displayName pr", pr(attr("displayName")), []string{"alice", "bob", "carol", "erin"}},
		{"userName sw", compare(attr("userName"), store.Sw, "BOB"), []string{"bob"}},
		{"userName ew", compare(attr("userName"), store.Ew, ".ORG"), []string{"carol"}},
		{"userName co wildcards are literal", compare(attr("userName"), store.Co, "_x%"), []string{"dave"}},
		{"userName co underscore", compare(attr("userName"), store.Co, "_"), []string{"dave"}},
		{"userName sw percent", compare(attr("userName"), store.Sw, "%"), nil},
		{"userName co, caseExact", exact(attr("userName"), store.Co, "Example"), []string{"carol"}},
		{"userName sw, caseExact miss", exact(attr("userName"), store.Sw, "carol"), nil},
		{"userName sw, caseExact hit", exact(attr("userName"), store.Sw, "Carol"), []string{"carol"}},
		{"userName ew, caseExact hit", exact(attr("userName"), store.Ew, ".net"), []string{"dave"}},
		{"userName ew, caseExact miss", exact(attr("userName"), store.Ew, ".NET"), nil},
		{"userName gt", compare(attr("userName"), store.Gt, "C"), []string{"carol", "dave", "erin"}},
		{"userName lt", compare(attr("userName"), store.Lt, "B"), []string{"alice"}},
		{"active eq true", compare(attr("active"), store.Eq, true), []string{"alice", "bob", "erin"}},
		{"active eq false", compare(attr("active"), store.Eq, false), []string{"carol", "dave"}},
		{"active ne true", compare(attr("active"), store.Ne, true), []string{"carol", "dave"}},
		{"not active eq true", not(compare(attr("active"), store.Eq, true)), []string{"carol", "dave"}},
		{"name.givenName eq", compare(sub("name", "givenName"), store.Eq, "alice"), []string{"alice"}},
		{"name.givenName sw", compare(sub("name", "givenName"), store.Sw, "b"), []string{"bob"}},
		{"name.familyName pr", pr(sub("name", "familyName")), []string{"alice"}},
		{"title eq", compare(attr("title"), store.Eq, "Engineer"), []string{"alice", "erin"}},
		{"title eq, caseExact", exact(attr("title"), store.Eq, "engineer"), []string{"erin"}},
		{"title ne: absent and empty count", compare(attr("title"), store.Ne, "ENGINEER"), []string{"bob", "carol", "dave"}},
		{"title pr: empty is absent", pr(attr("title")), []string{"alice", "bob", "erin"}},
		{"not title pr", not(pr(attr("title"))), []string{"carol", "dave"}},
		{"not title eq: absent matches", not(compare(attr("title"), store.Eq, "Manager")), []string{"alice", "carol", "dave", "erin"}},
		{"emails[type and value]", vp(attr("emails"), and(compare(elem("type"), store.Eq, "work"), compare(elem("value"), store.Eq, "alice@example.com"))), []string{"alice"}},
		{"emails[type and value], caseExact", vp(attr("emails"), and(compare(elem("type"), store.Eq, "work"), exact(elem("value"), store.Eq, "alice@example.com"))), nil},
		{"emails[type eq]", vp(attr("emails"), compare(elem("type"), store.Eq, "work")), []string{"alice", "bob", "erin"}},
		{"emails[type eq], caseExact", vp(attr("emails"), exact(elem("type"), store.Eq, "work")), []string{"alice", "bob"}},
		{"emails[value ew]", vp(attr("emails"), compare(elem("value"), store.Ew, "EXAMPLE.ORG")), []string{"carol"}},
		{"emails[type eq or type eq]", vp(attr("emails"), or(compare(elem("type"), store.Eq, "home"), compare(elem("value"), store.Sw, "bob"))), []string{"alice", "bob", "carol"}},
		{"emails[not type eq]", vp(attr("emails"), not(compare(elem("type"), store.Eq, "work"))), []string{"alice", "carol"}},
		{"not emails[type eq]", not(vp(attr("emails"), compare(elem("type"), store.Eq, "home"))), []string{"bob", "dave", "erin"}},
		{"emails pr: empty array is absent", pr(attr("emails")), []string{"alice", "bob", "carol", "erin"}},
		{"manager.value eq", compare(ext(enterprise, "manager", "value"), store.Eq, "mgr-bob"), []string{"alice", "carol"}},
		{"manager.value pr", pr(ext(enterprise, "manager", "value")), []string{"alice", "carol", "erin"}},
		{"manager.value ne", compare(ext(enterprise, "manager", "value"), store.Ne, "mgr-bob"), []string{"bob", "dave", "erin"}},
		{"employeeNumber eq", compare(ext(enterprise, "employeeNumber", ""), store.Eq, "100"), []string{"alice"}},
		{"or", or(exact(attr("userName"), store.Eq, "bob@example.com"), compare(attr("title"), store.Eq, "engineer")), []string{"alice", "bob", "erin"}},
		{"and", and(compare(attr("active"), store.Eq, true), pr(attr("title"))), []string{"alice", "bob", "erin"}},
		{"and not or", and(not(compare(attr("active"), store.Eq, true)), or(pr(attr("emails")), compare(attr("userName"), store.Co, "dave"))), []string{"carol", "dave"}},
		{"number gt", compare(ext(custom, "level", ""), store.Gt, 2.0), []string{"alice", "bob"}},
		{"number le", compare(ext(custom, "level", ""), store.Le, 3.0), []string{"alice", "carol"}},
		{"number eq", compare(ext(custom, "level", ""), store.Eq, 5.5), []string{"bob"}},
		{"string operand never matches a number", compare(ext(custom, "level", ""), store.Lt, "9"), nil},
		{"number ne", compare(ext(custom, "level", ""), store.Ne, 3.0), []string{"bob", "carol", "dave", "erin"}},
		{"dateTime in doc gt", compare(ext(custom, "since", ""), store.Gt, mustTime("2021-06-01T09:59:59Z")), []string{"bob"}},
		{"dateTime in doc lt", compare(ext(custom, "since", ""), store.Lt, mustTime("2021-06-01T10:00:00Z")), []string{"alice"}},
		{"meta.created gt", compare(sub("meta", "created"), store.Gt, bob.Created), []string{"carol", "dave", "erin"}},
		{"meta.created ge", compare(sub("meta", "created"), store.Ge, bob.Created), []string{"bob", "carol", "dave", "erin"}},
		{"meta.created lt", compare(sub("meta", "created"), store.Lt, bob.Created), []string{"alice"}},
		{"meta.created eq", compare(sub("meta", "created"), store.Eq, bob.Created), []string{"bob"}},
		{"meta.lastModified le", compare(sub("meta", "lastModified"), store.Le, alice.LastModified), []string{"alice"}},
		{"meta.created range", and(compare(sub("meta", "created"), store.Gt, alice.Created), compare(sub("meta", "created"), store.Lt, users["dave"].Created)), []string{"bob", "carol"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := s.ListUsers(t.Context(), d.ID, store.Query{Filter: tt.filter, Limit: 100})
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			var names []string
			for _, u := range got {
				for k, v := range users {
					if v.ID == u.ID {
						names = append(names, k)
					}
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) || n != len(tt.want) {
				t.Errorf("got %q (total %d), want %q", names, n, tt.want)
			}
		})
	}
}

func testFilterGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	alice := createUser(t, s, d.ID, "alice@example.com", nil)
	bob := createUser(t, s, d.ID, "bob@example.com", nil)
	erin := createUser(t, s, d.ID, "erin@example.com", nil)
	groups := map[string]store.Group{}
	for _, g := range []struct {
		key, displayName string
		attrs            map[string]any
		members          []string
	}{
		{"eng", "Engineering", map[string]any{"externalId": "ext-eng", "description": "Builds things"}, []string{alice.ID, erin.ID}},
		{"ops", "Operations", nil, []string{bob.ID}},
		{"empty", "Empty", nil, nil},
	} {
		created, err := s.CreateGroup(ctx, newGroup(d.ID, g.displayName, g.attrs), g.members, store.SyncEvent{})
		if err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
		groups[g.key] = created
	}
	other := createDirectory(t, s)
	createGroup(t, s, other.ID, "Engineering") // never listed

	memberIs := func(id string) store.Filter {
		return vp(attr("members"), exact(elem("value"), store.Eq, id))
	}
	tests := []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"nil", nil, []string{"empty", "eng", "ops"}},
		{"displayName eq", compare(attr("displayName"), store.Eq, "ENGINEERING"), []string{"eng"}},
		{"displayName eq, caseExact", exact(attr("displayName"), store.Eq, "ENGINEERING"), nil},
		{"displayName sw", compare(attr("displayName"), store.Sw, "op"), []string{"ops"}},
		{"externalId eq", exact(attr("externalId"), store.Eq, "ext-eng"), []string{"eng"}},
		{"id eq", exact(attr("id"), store.Eq, groups["ops"].ID), []string{"ops"}},
		{"doc attribute co", compare(attr("description"), store.Co, "THINGS"), []string{"eng"}},
		{"members[value eq]", memberIs(alice.ID), []string{"eng"}},
		{"members[value eq] other", memberIs(bob.ID), []string{"ops"}},
		{"members[value eq] none", memberIs("nobody"), nil},
		{"members.value eq", exact(sub("members", "value"), store.Eq, erin.ID), []string{"eng"}},
		{"members eq", exact(attr("members"), store.Eq, bob.ID), []string{"ops"}},
		{"members pr", pr(attr("members")), []string{"eng", "ops"}},
		{"not members pr", not(pr(attr("members"))), []string{"empty"}},
		{"members[value eq] or displayName eq", or(memberIs(alice.ID), compare(attr("displayName"), store.Eq, "empty")), []string{"empty", "eng"}},
		{"displayName eq and members[value eq]", and(compare(attr("displayName"), store.Eq, "engineering"), memberIs(bob.ID)), nil},
		{"meta.created ge", compare(sub("meta", "created"), store.Ge, groups["ops"].Created), []string{"empty", "ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := s.ListGroups(t.Context(), d.ID, store.Query{Filter: tt.filter, Limit: 100})
			if err != nil {
				t.Fatalf("ListGroups: %v", err)
			}
			var names []string
			for _, g := range got {
				for k, v := range groups {
					if v.ID == g.ID {
						names = append(names, k)
					}
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) || n != len(tt.want) {
				t.Errorf("got %q (total %d), want %q", names, n, tt.want)
			}
		})
	}
}
