package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// newTestDB opens a migrated database in a fresh file. Now defaults to a
// storetest.Clock: deterministic, non-UTC, advancing per transaction.
func newTestDB(t testing.TB, opts Options) *DB {
	t.Helper()
	if opts.Now == nil {
		opts.Now = storetest.NewClock(storetest.Epoch, time.Millisecond+time.Nanosecond).Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	db, err := OpenAndMigrate(t.Context(), filepath.Join(t.TempDir(), "scimd.db"), opts)
	if err != nil {
		t.Fatalf("OpenAndMigrate: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store { return newTestDB(t, Options{}) })
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "scimd.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if cur, known, err := db.SchemaVersion(ctx); err != nil || cur != 0 || known != len(migrations) || known == 0 {
		t.Errorf("SchemaVersion(new file) = %d, %d, %v; want 0, %d", cur, known, err, len(migrations))
	}
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping succeeded on an unmigrated database")
	}
	if n, err := db.Migrate(ctx); err != nil || n != len(migrations) {
		t.Fatalf("Migrate = %d, %v; want %d", n, err, len(migrations))
	}
	if n, err := db.Migrate(ctx); err != nil || n != 0 {
		t.Errorf("second Migrate = %d, %v; want 0", n, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping after Migrate: %v", err)
	}
	if cur, known, _ := db.SchemaVersion(ctx); cur != known {
		t.Errorf("SchemaVersion after Migrate = %d, %d", cur, known)
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "scimd.db")
	db, err := OpenAndMigrate(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, 'from the future', '')`,
		len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Migrate = %v, want ErrSchemaTooNew", err)
	}
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping succeeded on a newer schema")
	}
	db.Close()

	if db, err := Open(ctx, path, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open = %v, want ErrSchemaTooNew", err)
		if db != nil {
			db.Close()
		}
	}
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if db, err := Open(t.Context(), p, Options{}); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// TestPragmas checks the settings every connection of both pools must
// have, by holding several connections open at once.
func TestPragmas(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	type want struct {
		journal                                   string
		synchronous, foreignKeys, busy, queryOnly int
	}
	for _, p := range []struct {
		name  string
		pool  *sql.DB
		conns int
		want  want
	}{
		{"writer", db.w, 1, want{"wal", 2, 1, 5000, 0}},
		{"reader", db.r, 4, want{"wal", 2, 1, 5000, 1}},
	} {
		// Hold the connections so that each iteration gets another one.
		var conns []*sql.Conn
		for i := range p.conns {
			conn, err := p.pool.Conn(ctx)
			if err != nil {
				t.Fatalf("%s conn %d: %v", p.name, i, err)
			}
			conns = append(conns, conn)
			var got want
			for _, q := range []struct {
				pragma string
				dst    any
			}{
				{"journal_mode", &got.journal},
				{"synchronous", &got.synchronous},
				{"foreign_keys", &got.foreignKeys},
				{"busy_timeout", &got.busy},
				{"query_only", &got.queryOnly},
			} {
				if err := conn.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.dst); err != nil {
					t.Fatalf("%s conn %d: PRAGMA %s: %v", p.name, i, q.pragma, err)
				}
			}
			if got != p.want {
				t.Errorf("%s conn %d: %+v, want %+v", p.name, i, got, p.want)
			}
			var on bool
			err = conn.Raw(func(dc any) (err error) {
				on, err = qpsg(dc.(*sqlite3.SQLiteConn), -1)
				return err
			})
			if err != nil || !on {
				t.Errorf("%s conn %d: query planner stability guarantee on = %v, %v", p.name, i, on, err)
			}
			if p.want.queryOnly == 1 {
				if _, err := conn.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('k', x'00')`); err == nil {
					t.Errorf("%s conn %d wrote", p.name, i)
				}
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

// TestErrorsDoNotLeak checks that sentinel errors carry no SQL or driver
// text: the SCIM layer may show their message to clients.
func TestErrorsDoNotLeak(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	d, _ := db.CreateDirectory(ctx, store.Directory{ID: "d1", Name: "d"})
	u, _ := db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: "u1", UserName: "taken@example.com"}, store.SyncEvent{})
	g, _ := db.CreateGroup(ctx, store.Group{DirectoryID: d.ID, ID: "g1", DisplayName: "Taken"}, nil, store.SyncEvent{})

	errs := map[string]error{}
	_, errs["duplicate directory"] = db.CreateDirectory(ctx, store.Directory{ID: d.ID})
	_, errs["duplicate userName"] = db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: "u2", UserName: "TAKEN@example.com"}, store.SyncEvent{})
	_, errs["duplicate user id"] = db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: u.ID, UserName: "other"}, store.SyncEvent{})
	_, errs["user in missing directory"] = db.CreateUser(ctx, store.User{DirectoryID: "nope", ID: "u3", UserName: "x"}, store.SyncEvent{})
	_, errs["duplicate displayName"] = db.CreateGroup(ctx, store.Group{DirectoryID: d.ID, ID: "g2", DisplayName: "taken"}, nil, store.SyncEvent{})
	_, errs["duplicate group id"] = db.CreateGroup(ctx, store.Group{DirectoryID: d.ID, ID: g.ID, DisplayName: "Other"}, nil, store.SyncEvent{})
	_, errs["invalid member"] = db.CreateGroup(ctx, store.Group{DirectoryID: d.ID, ID: "g3", DisplayName: "New"}, []string{"ghost-42"}, store.SyncEvent{})
	errs["stale version"] = db.DeleteUser(ctx, d.ID, u.ID, 7, store.SyncEvent{})
	_, errs["missing user"] = db.GetUser(ctx, d.ID, "ghost")

	for name, err := range errs {
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		msg := strings.ToLower(err.Error())
		for _, bad := range []string{"sql", "constraint", "unique", "foreign key", ".go:", "panic"} {
			if strings.Contains(msg, bad) {
				t.Errorf("%s: error %q contains %q", name, err, bad)
			}
		}
	}
	if msg := errs["invalid member"].Error(); !strings.Contains(msg, "ghost-42") {
		t.Errorf("invalid member error %q does not name the id", msg)
	}
	if msg := errs["duplicate userName"].Error(); !strings.Contains(msg, "userName") {
		t.Errorf("conflict error %q does not name the field", msg)
	}
}

// TestTimesExact checks that a non-UTC clock reading comes back as the
// same instant in UTC, to the nanosecond this backend keeps.
func TestTimesExact(t *testing.T) {
	ctx := t.Context()
	at := time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("UTC-07:00", -7*3600))
	db := newTestDB(t, Options{Now: func() time.Time { return at }})
	d, _ := db.CreateDirectory(ctx, store.Directory{ID: "d", Name: "d"})
	u, err := db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: "u", UserName: "u"}, store.SyncEvent{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetUser(ctx, d.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := at.UTC()
	for _, tm := range []time.Time{u.Created, u.LastModified, got.Created, got.LastModified, d.Created} {
		if tm != want { // == also compares the location
			t.Errorf("time %v (%s), want %v", tm, tm.Location(), want)
		}
	}
	var raw string
	if err := db.r.QueryRowContext(ctx, `SELECT created FROM users`).Scan(&raw); err != nil || raw != "2024-03-01T06:59:59.999999999Z" {
		t.Errorf("stored created = %q, %v", raw, err)
	}
}

// TestOrderTieBreak: with a frozen clock, pages are ordered by id.
func TestOrderTieBreak(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{Now: storetest.NewClock(storetest.Epoch, 0).Now})
	d, _ := db.CreateDirectory(ctx, store.Directory{ID: "d", Name: "d"})
	for _, id := range []string{"c", "a", "d", "b"} {
		if _, err := db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: id, UserName: id}, store.SyncEvent{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for off := range 4 {
		page, _, err := db.ListUsers(ctx, d.ID, store.Query{Offset: off, Limit: 1})
		if err != nil || len(page) != 1 {
			t.Fatalf("ListUsers(offset %d) = %d, %v", off, len(page), err)
		}
		got = append(got, page[0].ID)
	}
	if fmt.Sprint(got) != "[a b c d]" {
		t.Errorf("order = %v, want [a b c d]", got)
	}
}

// TestDeleteUserMovesGroupVersions: a group that loses a member to a user
// deletion gets a new version, so its ETag changes.
func TestDeleteUserMovesGroupVersions(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	d, _ := db.CreateDirectory(ctx, store.Directory{ID: "d", Name: "d"})
	u, _ := db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: "u", UserName: "u"}, store.SyncEvent{})
	in, _ := db.CreateGroup(ctx, store.Group{DirectoryID: d.ID, ID: "in", DisplayName: "in"}, []string{u.ID}, store.SyncEvent{})
	out, _ := db.CreateGroup(ctx, store.Group{DirectoryID: d.ID, ID: "out", DisplayName: "out"}, nil, store.SyncEvent{})
	if err := db.DeleteUser(ctx, d.ID, u.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.GetGroup(ctx, d.ID, in.ID); g.Version != 2 || !g.LastModified.After(in.LastModified) {
		t.Errorf("group that lost a member: version %d, lastModified %v", g.Version, g.LastModified)
	}
	if g, _ := db.GetGroup(ctx, d.ID, out.ID); g.Version != 1 {
		t.Errorf("unrelated group: version %d, want 1", g.Version)
	}
}

func TestBadDoc(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	d, _ := db.CreateDirectory(ctx, store.Directory{ID: "d", Name: "d"})
	for _, doc := range []string{`[1]`, `"x"`, `{"a":`, `{} {}`} {
		if _, err := db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: "u", UserName: "u", Doc: []byte(doc)}, store.SyncEvent{}); err == nil {
			t.Errorf("CreateUser(doc %s) succeeded", doc)
		}
	}
	deep := strings.Repeat(`{"a":`, 1500) + "1" + strings.Repeat("}", 1500) // valid for Go, too deep for SQLite
	if _, err := db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: "u", UserName: "u", Doc: []byte(deep)}, store.SyncEvent{}); err == nil {
		t.Error("CreateUser(too deep a doc) succeeded")
	}
	u, err := db.CreateUser(ctx, store.User{DirectoryID: d.ID, ID: "u", UserName: "u"}, store.SyncEvent{})
	if err != nil || string(u.Doc) != "{}" {
		t.Errorf("CreateUser(no doc) = %s, %v; want {}", u.Doc, err)
	}
}

// TestStorePlans runs the suite once for each search plan that big
// directories take and the suite's small ones would not: each case sets
// the plans' thresholds so that small directories take it.
func TestStorePlans(t *testing.T) {
	saved := [...]int{leadCap, leadCapNamed, maxLeadWords, maxRangeRows, leapWindow, walkBudget}
	restore := func() {
		leadCap, leadCapNamed, maxLeadWords, maxRangeRows, leapWindow, walkBudget = saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]
	}
	defer restore()
	for _, plan := range []struct {
		name string
		set  func()
	}{
		// No filter ever leads: the walk of the contact order that broad
		// searches take.
		{"Walk", func() { leadCap, leadCapNamed, maxLeadWords, maxRangeRows, walkBudget = 0, 0, 0, 0, 1<<30 }},
		// Walks check one contact, then a filter's sorted lead takes
		// over, as when a text's matches cluster far from the cursor.
		{"BoundedWalk", func() { leadCap, leadCapNamed, maxLeadWords, maxRangeRows, walkBudget = 0, 0, 0, 0, 1 }},
		// Text never merges word runs: it leads with its counted, sorted
		// matches, as prefixes of many words do.
		{"SortedLeads", func() { maxLeadWords, maxRangeRows = 0, 0 }},
		// Text merges a sorted range of words per prefix, as the start of
		// many emails does.
		{"RangeRuns", func() { maxLeadWords = 0 }},
		// Texts of several words check one entry of the lead word's run
		// at a time, then leap.
		{"Leaps", func() { leapWindow = 1 }},
		// Email prefixes merge one run per email instead of one range.
		{"WordRuns", func() { maxRangeRows = 0 }},
	} {
		restore()
		plan.set()
		t.Run(plan.name, func(t *testing.T) {
			storetest.RunTests(t, func(t *testing.T) store.Store { return newTestDB(t, Options{}) })
		})
	}
}
