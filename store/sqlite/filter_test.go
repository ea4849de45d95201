package sqlite

import (
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// count runs a compiled filter against t's rows of directory "d".
func count(tb testing.TB, db *DB, t *table, f store.Filter) (int, error) {
	tb.Helper()
	where, args, err := compileFilter(t, f)
	if err != nil {
		tb.Fatalf("compileFilter: %v", err)
	}
	var n int
	err = db.r.QueryRowContext(tb.Context(),
		`SELECT count(*) FROM `+t.name+` WHERE `+t.name+`.directory_id = 'd' AND (`+where+`)`, args...).Scan(&n)
	return n, err
}

func TestCompileFilterErrors(t *testing.T) {
	str := func(a store.Attr, op store.Op, v any) store.Compare { return store.Compare{Attr: a, Op: op, Value: v} }
	emails := store.Attr{Name: "emails"}
	type weird struct{ store.Compare } // satisfies store.Filter by embedding
	for name, f := range map[string]store.Filter{
		"unknown node":          weird{},
		"nil pointer":           (*store.And)(nil),
		"nil child":             store.And{Left: str(store.Attr{Name: "title"}, store.Eq, "x")},
		"unknown op":            str(store.Attr{Name: "title"}, "zz", "x"),
		"gt bool":               str(store.Attr{Name: "flag"}, store.Gt, true),
		"co number":             str(store.Attr{Name: "n"}, store.Co, 1.0),
		"sw dateTime":           str(store.Attr{Name: "meta", Sub: "created"}, store.Sw, time.Now()),
		"active eq string":      str(store.Attr{Name: "active"}, store.Eq, "true"),
		"active gt":             str(store.Attr{Name: "active"}, store.Gt, true),
		"userName eq number":    str(store.Attr{Name: "userName"}, store.Eq, 1.0),
		"meta.created not time": str(store.Attr{Name: "meta", Sub: "created"}, store.Gt, "yesterday"),
		"int operand":           str(store.Attr{Name: "n"}, store.Eq, 1),
		"gt null":               str(store.Attr{Name: "n"}, store.Gt, nil),
		"no attribute name":     str(store.Attr{Sub: "value"}, store.Eq, "x"),
		"quote in name":         str(store.Attr{Name: `a"b`}, store.Eq, "x"),
		"backslash in schema":   str(store.Attr{Schema: `urn:\`, Name: "a"}, store.Eq, "x"),
		"members on users":      store.ValuePath{Attr: store.Attr{Name: "userName"}, Filter: str(store.Attr{Sub: "value"}, store.Eq, "x")},
		"value path with sub":   store.ValuePath{Attr: store.Attr{Name: "emails", Sub: "value"}, Filter: str(store.Attr{Sub: "type"}, store.Eq, "x")},
		"nested value path":     store.ValuePath{Attr: emails, Filter: store.ValuePath{Attr: emails, Filter: str(store.Attr{Sub: "type"}, store.Eq, "x")}},
		"element with name":     store.ValuePath{Attr: emails, Filter: str(store.Attr{Name: "emails", Sub: "type"}, store.Eq, "x")},
		"empty value path":      store.ValuePath{Attr: emails},
		"deeper than maxDepth":  deepNot(maxDepth + 1),
		"members.$ref filter":   store.ValuePath{Attr: store.Attr{Name: "members"}, Filter: str(store.Attr{Sub: "$ref"}, store.Eq, "x")},
	} {
		tbl := usersTable
		if strings.HasPrefix(name, "members.") {
			tbl = groupsTable
		}
		if sql, _, err := compileFilter(tbl, f); err == nil {
			t.Errorf("%s: compiled to %s", name, sql)
		} else if strings.Contains(strings.ToLower(err.Error()), "select") {
			t.Errorf("%s: error %q shows SQL", name, err)
		}
	}
}

func deepNot(n int) store.Filter {
	var f store.Filter = store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Ne, Value: "x"}
	for range n - 1 {
		f = store.Not{Filter: f}
	}
	return f
}

// TestCompileFilterLimits runs filters at the compiler's limits against
// SQLite's own (expression depth, LIKE pattern length).
func TestCompileFilterLimits(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	db.CreateDirectory(ctx, store.Directory{ID: "d", Name: "d"})
	long := strings.Repeat("ab%_", 20000) // 80000 bytes
	if _, err := db.CreateUser(ctx, store.User{DirectoryID: "d", ID: "u", UserName: "x" + long + "y",
		Doc: []byte(`{"title":"` + long + `"}`)}, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}

	var chain store.Filter = store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Co, Value: "zz"}
	for range maxDepth - 1 {
		chain = store.Or{Left: chain, Right: store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Ne, Value: "x"}}
	}
	for name, tc := range map[string]struct {
		f    store.Filter
		want int
	}{
		"or chain":         {chain, 1},
		"not chain":        {deepNot(maxDepth), 0}, // an odd number of NOTs over "ne"
		"co long":          {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Co, Value: strings.ToUpper(long)}, 1},
		"sw long":          {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Sw, Value: "X" + strings.ToUpper(long)}, 1},
		"ew long":          {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Ew, Value: strings.ToUpper(long) + "Y"}, 1},
		"ew long miss":     {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Ew, Value: long + "z"}, 0},
		"co long in doc":   {store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Co, Value: long}, 1},
		"co long, exact":   {store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Co, Value: strings.ToUpper(long), CaseExact: true}, 0},
		"empty co matches": {store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Co, Value: ""}, 1},
	} {
		n, err := count(t, db, usersTable, tc.f)
		if err != nil || n != tc.want {
			t.Errorf("%s: %d, %v; want %d", name, n, err, tc.want)
		}
	}
}

// TestMemberSubAttributes: members[display ...] reads the user's
// displayName, and every member's type is "User".
func TestMemberSubAttributes(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	db.CreateDirectory(ctx, store.Directory{ID: "d", Name: "d"})
	db.CreateUser(ctx, store.User{DirectoryID: "d", ID: "u1", UserName: "u1", DisplayName: "Alice Smith"}, store.SyncEvent{})
	db.CreateUser(ctx, store.User{DirectoryID: "d", ID: "u2", UserName: "u2"}, store.SyncEvent{})
	db.CreateGroup(ctx, store.Group{DirectoryID: "d", ID: "g1", DisplayName: "g1"}, []string{"u1"}, store.SyncEvent{})
	db.CreateGroup(ctx, store.Group{DirectoryID: "d", ID: "g2", DisplayName: "g2"}, []string{"u2"}, store.SyncEvent{})
	db.CreateGroup(ctx, store.Group{DirectoryID: "d", ID: "g3", DisplayName: "g3"}, nil, store.SyncEvent{})
	members := func(f store.Filter) store.Filter {
		return store.ValuePath{Attr: store.Attr{Name: "members"}, Filter: f}
	}
	for name, tc := range map[string]struct {
		f    store.Filter
		want int
	}{
		"display co":     {members(store.Compare{Attr: store.Attr{Sub: "display"}, Op: store.Co, Value: "SMITH"}), 1},
		"display pr":     {members(store.Compare{Attr: store.Attr{Sub: "display"}, Op: store.Pr}), 1},
		"type eq User":   {members(store.Compare{Attr: store.Attr{Sub: "type"}, Op: store.Eq, Value: "user"}), 2},
		"type eq Group":  {members(store.Compare{Attr: store.Attr{Sub: "type"}, Op: store.Eq, Value: "Group"}), 0},
		"not type eq":    {store.Not{Filter: members(store.Compare{Attr: store.Attr{Sub: "type"}, Op: store.Eq, Value: "User"})}, 1},
		"type pr":        {members(store.Compare{Attr: store.Attr{Sub: "type"}, Op: store.Pr}), 2},
		"value and type": {members(store.And{Left: store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Eq, Value: "u2"}, Right: store.Compare{Attr: store.Attr{Sub: "type"}, Op: store.Eq, Value: "User"}}), 1},
	} {
		n, err := count(t, db, groupsTable, tc.f)
		if err != nil || n != tc.want {
			t.Errorf("%s: %d, %v; want %d", name, n, err, tc.want)
		}
	}
}

// TestCompileFilterPointers: pointers to nodes compile like the nodes.
func TestCompileFilterPointers(t *testing.T) {
	c := store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Eq, Value: "x"}
	for _, pair := range [][2]store.Filter{
		{c, &c},
		{store.Not{Filter: c}, &store.Not{Filter: &c}},
		{store.And{Left: c, Right: c}, &store.And{Left: &c, Right: c}},
		{store.Or{Left: c, Right: c}, &store.Or{Left: c, Right: &c}},
		{store.ValuePath{Attr: store.Attr{Name: "emails"}, Filter: store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Pr}},
			&store.ValuePath{Attr: store.Attr{Name: "emails"}, Filter: &store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Pr}}},
	} {
		a, _, errA := compileFilter(usersTable, pair[0])
		b, _, errB := compileFilter(usersTable, pair[1])
		if errA != nil || errB != nil || a != b {
			t.Errorf("%#v: %q, %v\npointer: %q, %v", pair[0], a, errA, b, errB)
		}
	}
}

// TestCompileFilterSQL pins the shape of a few translations.
func TestCompileFilterSQL(t *testing.T) {
	for _, tc := range []struct {
		f    store.Filter
		sql  string
		args []any
	}{
		{store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Eq, Value: "Bob"},
			`users.user_name = ? COLLATE NOCASE`, []any{"Bob"}},
		{store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Sw, Value: "a_%"},
			`(users.user_name LIKE ? ESCAPE '\')`, []any{`a\_\%%`}},
		{store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Ew, Value: "x", CaseExact: true},
			`(substr(users.user_name, -length(?)) = ?)`, []any{"x", "x"}},
		{store.Compare{Attr: store.Attr{Schema: "urn:x:User", Name: "manager", Sub: "value"}, Op: store.Eq, Value: "m", CaseExact: true},
			`(json_type(users.doc, ?) = 'text' AND json_extract(users.doc, ?) = ?)`,
			[]any{`$."urn:x:User"."manager"."value"`, `$."urn:x:User"."manager"."value"`, "m"}},
		{store.Compare{Attr: store.Attr{Name: "active"}, Op: store.Ne, Value: true},
			`NOT IFNULL((users.active = ?), 0)`, []any{int64(1)}},
	} {
		sql, args, err := compileFilter(usersTable, tc.f)
		if err != nil || sql != tc.sql || len(args) != len(tc.args) {
			t.Errorf("%#v:\n got %s %q %v\nwant %s %q", tc.f, sql, args, err, tc.sql, tc.args)
			continue
		}
		for i := range args {
			if args[i] != tc.args[i] {
				t.Errorf("%#v: arg %d = %#v, want %#v", tc.f, i, args[i], tc.args[i])
			}
		}
	}
}

func TestPointFilter(t *testing.T) {
	eq := func(name string, v any) store.Compare {
		return store.Compare{Attr: store.Attr{Name: name}, Op: store.Eq, Value: v}
	}
	for _, c := range []struct {
		t    *table
		f    store.Filter
		want bool
	}{
		{usersTable, eq("userName", "ann@x"), true},
		{usersTable, eq("id", "u1"), true},
		{groupsTable, eq("id", "g1"), true},
		{usersTable, nil, false},
		{usersTable, eq("externalId", "e1"), false}, // indexed, not unique
		{groupsTable, eq("displayName", "Sales"), false},
		{groupsTable, eq("userName", "ann@x"), false},
		{usersTable, eq("userName", nil), false}, // eq null: absent
		{usersTable, store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Sw, Value: "ann"}, false},
		{usersTable, store.Compare{Attr: store.Attr{Schema: "urn:x", Name: "userName"}, Op: store.Eq, Value: "a"}, false},
		{usersTable, store.And{Left: eq("userName", "a"), Right: eq("id", "u1")}, false},
	} {
		if got := c.t.pointFilter(c.f); got != c.want {
			t.Errorf("%s: pointFilter(%#v) = %v, want %v", c.t.name, c.f, got, c.want)
		}
	}
}
