package postgres

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// countMatches runs a compiled filter against t's rows of directory "d".
func countMatches(tb testing.TB, db *DB, t *table, f store.Filter) (int, error) {
	tb.Helper()
	c, err := compileFilter(t, f, 1)
	if err != nil {
		tb.Fatalf("compileFilter: %v", err)
	}
	var n int
	err = db.pool.QueryRow(tb.Context(), `SELECT count(*)`+t.from(c), append([]any{"d"}, c.args...)...).Scan(&n)
	return n, err
}

// filterDirectory creates directory "d".
func filterDirectory(tb testing.TB, db *DB) {
	tb.Helper()
	if _, err := db.CreateDirectory(tb.Context(), store.Directory{ID: "d", Name: "d"}); err != nil {
		tb.Fatal(err)
	}
}

func filterUser(tb testing.TB, db *DB, u store.User) {
	tb.Helper()
	u.DirectoryID = "d"
	if _, err := db.CreateUser(tb.Context(), u, store.SyncEvent{}); err != nil {
		tb.Fatalf("CreateUser %s: %v", u.ID, err)
	}
}

func filterGroup(tb testing.TB, db *DB, g store.Group, members ...string) {
	tb.Helper()
	g.DirectoryID = "d"
	if _, err := db.CreateGroup(tb.Context(), g, members, store.SyncEvent{}); err != nil {
		tb.Fatalf("CreateGroup %s: %v", g.ID, err)
	}
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
		"sw dateTime in doc":    str(store.Attr{Name: "since"}, store.Sw, time.Now()),
		"active eq string":      str(store.Attr{Name: "active"}, store.Eq, "true"),
		"active gt":             str(store.Attr{Name: "active"}, store.Gt, true),
		"userName eq number":    str(store.Attr{Name: "userName"}, store.Eq, 1.0),
		"meta.created not time": str(store.Attr{Name: "meta", Sub: "created"}, store.Gt, "yesterday"),
		"meta.created year 0":   str(store.Attr{Name: "meta", Sub: "created"}, store.Gt, time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)),
		"doc time year 10000":   str(store.Attr{Name: "since"}, store.Lt, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
		"int operand":           str(store.Attr{Name: "n"}, store.Eq, 1),
		"gt null":               str(store.Attr{Name: "n"}, store.Gt, nil),
		"no attribute name":     str(store.Attr{Sub: "value"}, store.Eq, "x"),
		"quote in name":         str(store.Attr{Name: `a"b`}, store.Eq, "x"),
		"backslash in schema":   str(store.Attr{Schema: `urn:\`, Name: "a"}, store.Eq, "x"),
		"NUL in name":           str(store.Attr{Name: "a\x00"}, store.Eq, "x"),
		"invalid UTF-8 in sub":  str(store.Attr{Name: "a", Sub: "\xff"}, store.Eq, "x"),
		"members on users":      store.ValuePath{Attr: store.Attr{Name: "userName"}, Filter: str(store.Attr{Sub: "value"}, store.Eq, "x")},
		"value path with sub":   store.ValuePath{Attr: store.Attr{Name: "emails", Sub: "value"}, Filter: str(store.Attr{Sub: "type"}, store.Eq, "x")},
		"nested value path":     store.ValuePath{Attr: emails, Filter: store.ValuePath{Attr: emails, Filter: str(store.Attr{Sub: "type"}, store.Eq, "x")}},
		"element with name":     store.ValuePath{Attr: emails, Filter: str(store.Attr{Name: "emails", Sub: "type"}, store.Eq, "x")},
		"element sub with NUL":  store.ValuePath{Attr: emails, Filter: str(store.Attr{Sub: "\x00"}, store.Eq, "x")},
		"empty value path":      store.ValuePath{Attr: emails},
		"deeper than maxDepth":  deepNot(maxDepth + 1),
		"too many terms":        orChain(maxArgs + 1),
		"members.$ref filter":   store.ValuePath{Attr: store.Attr{Name: "members"}, Filter: str(store.Attr{Sub: "$ref"}, store.Eq, "x")},
	} {
		tbl := usersTable
		if strings.HasPrefix(name, "members.") {
			tbl = groupsTable
		}
		if c, err := compileFilter(tbl, f, 1); err == nil {
			t.Errorf("%s: compiled to %s", name, c.where)
		} else if !strings.HasPrefix(err.Error(), store.ErrInvalidFilter.Error()+": ") ||
			strings.Contains(strings.ToLower(err.Error()), "select") {
			t.Errorf("%s: error %q is not a client-safe invalid filter", name, err)
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

// orChain is a balanced "or" of n userName comparisons, one argument each.
func orChain(n int) store.Filter {
	if n == 1 {
		return store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Eq, Value: "x"}
	}
	return store.Or{Left: orChain(n / 2), Right: orChain(n - n/2)}
}

// TestCompileFilterLimits runs filters at the compiler's limits.
func TestCompileFilterLimits(t *testing.T) {
	db := newTestDB(t, Options{})
	filterDirectory(t, db)
	long := strings.Repeat("ab%_", 20000) // 80000 bytes
	filterUser(t, db, store.User{ID: "u", UserName: "x" + long + "y", Doc: []byte(`{"title":"` + long + `"}`)})

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
		"many terms":       {orChain(maxArgs), 0},
		"co long":          {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Co, Value: strings.ToUpper(long)}, 1},
		"sw long":          {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Sw, Value: "X" + strings.ToUpper(long)}, 1},
		"ew long":          {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Ew, Value: strings.ToUpper(long) + "Y"}, 1},
		"ew long miss":     {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Ew, Value: long + "z"}, 0},
		"co long in doc":   {store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Co, Value: long}, 1},
		"co long, exact":   {store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Co, Value: strings.ToUpper(long), CaseExact: true}, 0},
		"empty co matches": {store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Co, Value: ""}, 1},
	} {
		n, err := countMatches(t, db, usersTable, tc.f)
		if err != nil || n != tc.want {
			t.Errorf("%s: %d, %v; want %d", name, n, err, tc.want)
		}
	}
}

// TestMemberSubAttributes: members[display ...] reads the user's
// displayName, and every member's type is "User".
func TestMemberSubAttributes(t *testing.T) {
	db := newTestDB(t, Options{})
	filterDirectory(t, db)
	filterUser(t, db, store.User{ID: "u1", UserName: "u1", DisplayName: "Alice Smith"})
	filterUser(t, db, store.User{ID: "u2", UserName: "u2"})
	filterGroup(t, db, store.Group{ID: "g1", DisplayName: "g1"}, "u1")
	filterGroup(t, db, store.Group{ID: "g2", DisplayName: "g2"}, "u2")
	filterGroup(t, db, store.Group{ID: "g3", DisplayName: "g3"})
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
		n, err := countMatches(t, db, groupsTable, tc.f)
		if err != nil || n != tc.want {
			t.Errorf("%s: %d, %v; want %d", name, n, err, tc.want)
		}
	}
}

// TestFilterOddValues: operands and documents at the edges of what
// PostgreSQL holds compare as on SQLite, and never fail the query.
func TestFilterOddValues(t *testing.T) {
	db := newTestDB(t, Options{})
	filterDirectory(t, db)
	filterUser(t, db, store.User{ID: "a", UserName: "a", Doc: []byte(`{"title":"Zoë","n":2,"flag":true,
		"since":"2020-01-01T10:00:00+02:00","bad":"2020-02-30T00:00:00Z","when":"2020-01-01T08:00:00",
		"emails":{"value":"member of an object"},"tags":"solo","list":[[1],"x",null]}`)})
	filterUser(t, db, store.User{ID: "b", UserName: "B", Doc: []byte(`{"title":"zz","n":"2","flag":"true","since":"soon"}`)})
	created := func(id string) time.Time {
		u, err := db.GetUser(t.Context(), "d", id)
		if err != nil {
			t.Fatal(err)
		}
		return u.Created
	}
	ca := created("a")
	cmp := func(name string, op store.Op, v any) store.Compare {
		return store.Compare{Attr: store.Attr{Name: name}, Op: op, Value: v}
	}
	metaCreated := func(op store.Op, v time.Time) store.Compare {
		return store.Compare{Attr: store.Attr{Name: "meta", Sub: "created"}, Op: op, Value: v}
	}
	elem := func(attr string, f store.Filter) store.Filter {
		return store.ValuePath{Attr: store.Attr{Name: attr}, Filter: f}
	}
	sub := func(s string, op store.Op, v any) store.Compare {
		return store.Compare{Attr: store.Attr{Sub: s}, Op: op, Value: v}
	}
	for name, tc := range map[string]struct {
		f    store.Filter
		want int
	}{
		"number eq number only":        {cmp("n", store.Eq, 2.0), 1},
		"NaN matches nothing":          {cmp("n", store.Lt, math.NaN()), 0},
		"ne NaN matches all":           {cmp("n", store.Ne, math.NaN()), 2},
		"lt +Inf":                      {cmp("n", store.Lt, math.Inf(1)), 1},
		"gt -Inf":                      {cmp("n", store.Gt, math.Inf(-1)), 1},
		"bool eq bool only":            {cmp("flag", store.Eq, true), 1},
		"ne bool":                      {cmp("flag", store.Ne, false), 2},
		"userName gt NUL":              {cmp("userName", store.Gt, "a\x00"), 1}, // b
		"userName lt invalid UTF-8":    {cmp("userName", store.Lt, "b\xff"), 2}, // a, b: \xff sorts last
		"userName le NUL, exact":       {store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Le, Value: "a\x00", CaseExact: true}, 2},
		"userName eq NUL":              {cmp("userName", store.Eq, "a\x00"), 0},
		"title co invalid UTF-8":       {cmp("title", store.Co, "\xc3"), 0},
		"title ne NUL":                 {cmp("title", store.Ne, "\x00"), 2},
		"title eq folds ASCII only":    {cmp("title", store.Eq, "ZOË"), 0},
		"title eq any case":            {cmp("title", store.Eq, "zoë"), 1},
		"title gt bytes":               {cmp("title", store.Gt, "ZZ"), 0}, // "zoë" < "zz"
		"dateTime in doc, offset":      {cmp("since", store.Eq, time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC)), 1},
		"dateTime in doc, no offset":   {cmp("when", store.Eq, time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC)), 1},
		"not a date is no instant":     {cmp("bad", store.Gt, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), 0},
		"not a date, ne":               {cmp("since", store.Ne, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), 2},
		"meta.created eq":              {metaCreated(store.Eq, ca), 1},
		"meta.created eq +1ns":         {metaCreated(store.Eq, ca.Add(1)), 0},
		"meta.created gt -1ns":         {metaCreated(store.Gt, ca.Add(-1)), 2},
		"meta.created ge +1ns":         {metaCreated(store.Ge, ca.Add(1)), 1},
		"meta.created lt +1ns":         {metaCreated(store.Lt, ca.Add(1)), 1},
		"meta.created le -1ns":         {metaCreated(store.Le, ca.Add(-1)), 0},
		"object's member values":       {elem("emails", sub("", store.Co, "object")), 1},
		"object's members are no objs": {elem("emails", sub("value", store.Pr, nil)), 0},
		"single value is its element":  {elem("tags", sub("", store.Eq, "SOLO")), 1},
		"nested array is one element":  {elem("list", sub("", store.Pr, nil)), 1},
		"null element is absent":       {elem("list", store.Not{Filter: sub("", store.Pr, nil)}), 1},
		"array is not indexed by key":  {store.Compare{Attr: store.Attr{Name: "list", Sub: "0"}, Op: store.Pr}, 0},
	} {
		n, err := countMatches(t, db, usersTable, tc.f)
		if err != nil || n != tc.want {
			t.Errorf("%s: %d, %v; want %d", name, n, err, tc.want)
		}
	}
}

// TestFilterUnreadableDoc: a document jsonb cannot read, which the write
// path refuses, has no attributes instead of failing every query.
func TestFilterUnreadableDoc(t *testing.T) {
	db := newTestDB(t, Options{})
	filterDirectory(t, db)
	filterUser(t, db, store.User{ID: "a", UserName: "a", Doc: []byte(`{"title":"x"}`)})
	if _, err := db.pool.Exec(t.Context(), `UPDATE users SET doc = $1`, `{"title":"\u0000","n":1e999999}`); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		f    store.Filter
		want int
	}{
		"eq":     {store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Eq, Value: "x"}, 0},
		"ne":     {store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Ne, Value: "x"}, 1},
		"not pr": {store.Not{Filter: store.Compare{Attr: store.Attr{Name: "n"}, Op: store.Pr}}, 1},
	} {
		n, err := countMatches(t, db, usersTable, tc.f)
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
		a, errA := compileFilter(usersTable, pair[0], 1)
		b, errB := compileFilter(usersTable, pair[1], 1)
		if errA != nil || errB != nil || a.where != b.where {
			t.Errorf("%#v: %q, %v\npointer: %q, %v", pair[0], a.where, errA, b.where, errB)
		}
	}
}

// TestCompileFilterSQL pins the shape of a few translations.
func TestCompileFilterSQL(t *testing.T) {
	const lower = `'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'`
	manager := `(j.doc_json -> $4::text -> $5::text -> $6::text)`
	for _, tc := range []struct {
		f    store.Filter
		sql  string
		args []any
		doc  bool
	}{
		{store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Eq, Value: "Bob"},
			`(users.user_name_key = $4::text)`, []any{"bob"}, false},
		{store.Compare{Attr: store.Attr{Name: "displayName"}, Op: store.Eq, Value: "Bob"},
			`(translate(users.display_name, ` + lower + `) = $4::text)`, []any{"bob"}, false},
		{store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Sw, Value: "a_%"},
			`starts_with(users.user_name_key, $4::text)`, []any{"a_%"}, false},
		{store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Ew, Value: "X", CaseExact: true},
			`(right(users.user_name, length($4::text)) = $4::text)`, []any{"X"}, false},
		{store.Compare{Attr: store.Attr{Schema: "urn:x:User", Name: "manager", Sub: "value"}, Op: store.Eq, Value: "m", CaseExact: true},
			`(jsonb_typeof(` + manager + `) = 'string' AND (((` + manager + ` #>> '{}') COLLATE "C") = $7::text))`,
			[]any{"urn:x:User", "manager", "value", "m"}, true},
		{store.Compare{Attr: store.Attr{Name: "active"}, Op: store.Ne, Value: true},
			`NOT coalesce(((users.active = $4::boolean)), false)`, []any{true}, false},
	} {
		c, err := compileFilter(usersTable, tc.f, 3)
		if err != nil || c.where != tc.sql || c.doc != tc.doc || !slices.Equal(c.args, tc.args) {
			t.Errorf("%#v:\n got %s %q doc=%v %v\nwant %s %q doc=%v", tc.f, c.where, c.args, c.doc, err, tc.sql, tc.args, tc.doc)
		}
	}
}

// TestFilterIndexes: Entra's probes are index lookups, also with the
// generic plans that prepared statements end up with.
func TestFilterIndexes(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	filterDirectory(t, db)
	// Enough rows that a scan costs more than an index; inserted in bulk.
	for _, q := range []string{
		`INSERT INTO users (directory_id, id, external_id, user_name, display_name, active, doc, version, created, last_modified)
			SELECT 'd', 'u' || i, 'ext-' || i, 'user' || i || '@example.com', 'User ' || i, true, '{}', 1, now(), now()
			FROM generate_series(1, 20000) i`,
		`INSERT INTO groups (directory_id, id, external_id, display_name, doc, version, created, last_modified)
			SELECT 'd', 'g' || i, 'ext-' || i, 'Group ' || i, '{}', 1, now(), now() FROM generate_series(1, 20000) i`,
		`ANALYZE users`, `ANALYZE groups`,
	} {
		if _, err := db.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	eq := func(name, v string, exact bool) store.Filter {
		return store.Compare{Attr: store.Attr{Name: name}, Op: store.Eq, Value: v, CaseExact: exact}
	}
	for _, tc := range []struct {
		t     *table
		f     store.Filter
		index string
	}{
		{usersTable, eq("userName", "User7@Example.com", false), "users_user_name"},
		{usersTable, eq("externalId", "ext-8", true), "users_external_id"},
		{usersTable, eq("displayName", "user 9", false), "users_display_name"},
		{groupsTable, eq("displayName", "GROUP 10", false), "groups_display_name"},
		{groupsTable, eq("externalId", "ext-11", true), "groups_external_id"},
	} {
		c, err := compileFilter(tc.t, tc.f, 1)
		if err != nil {
			t.Fatal(err)
		}
		page := `SELECT * ` + tc.t.from(c) + ` ORDER BY created, id LIMIT $3`
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			if plan := explainPrepared(t, db, mode, page, "d", c.args[0], 100); !strings.Contains(plan, tc.index) {
				t.Errorf("%s %#v, %s: plan does not use %s:\n%s", tc.t.name, tc.f, mode, tc.index, plan)
			}
		}
	}
}

// explainPrepared returns the plan of a prepared query in the given
// plan_cache_mode.
func explainPrepared(t *testing.T, db *DB, mode, query string, args ...any) string {
	t.Helper()
	ctx := t.Context()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range []string{`SET plan_cache_mode = ` + mode, `PREPARE probe AS ` + query} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	defer conn.Exec(ctx, `DEALLOCATE probe; RESET plan_cache_mode`) //nolint:errcheck // test cleanup
	// EXECUTE takes no parameters; these are the test's own constants.
	lits := make([]string, len(args))
	for i, a := range args {
		lits[i] = "'" + strings.ReplaceAll(fmt.Sprint(a), "'", "''") + "'"
	}
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE probe(`+strings.Join(lits, ", ")+`)`)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
