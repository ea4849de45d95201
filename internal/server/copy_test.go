package server

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/presence/fakegraph"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/sqlite"
)

const (
	copySecret = "copy-Graph~Secret.0123456789"
	copyTenant = "55555555-5555-4555-8555-555555555555"
)

// TestCopy copies a SQLite database written by a real scimd into
// PostgreSQL, then checks every record in both stores, that searches
// answer alike, that a second copy is refused, and that a scimd on the
// copy accepts the old credentials.
func TestCopy(t *testing.T) {
	ctx := t.Context()
	graph := httptest.NewServer(fakegraph.New(fakegraph.Config{ClientSecret: copySecret}))
	t.Cleanup(graph.Close)
	secretKey := bytes.Repeat([]byte{7}, 32)
	config := func(c *Config) {
		c.AdminToken = "" // generated and stored hashed: the copy must carry it
		c.LoginURL, c.GraphURL, c.SecretKey = graph.URL, graph.URL, secretKey
	}
	path := filepath.Join(t.TempDir(), "scimd.db")
	fx := writeCopySource(t, path, config)

	target := copyTargetURL(t)
	stdout, stderr, code := runCopyCommand(t, nil, "-from", path, "-to", target)
	if code != exitOK {
		t.Fatalf("copy: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("copy output:\n%s", stdout)
	if strings.Contains(stdout+stderr, "hunter2") {
		t.Errorf("the output shows the target's password:\n%s\n%s", stdout, stderr)
	}
	for _, want := range []string{fx.dflt.ID, fx.contoso.ID, "SCIMD_SECRET_KEY", "done: 2 directories", "audit entries (source/target): 7/7 ok"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, fx.goneID) {
		t.Errorf("the directory being deleted was copied:\n%s", stdout)
	}

	src, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, target, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	compareStores(t, src, dst)
	compareContacts(t, src, dst, fx.contoso.ID)
	if _, err := dst.GetDirectory(ctx, fx.goneID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("directory being deleted: GetDirectory on the copy = %v, want not found", err)
	}

	// A second copy into the same target is refused and changes nothing.
	stdout, stderr, code = runCopyCommand(t, nil, "-from", path, "-to", target)
	if code != exitError || !strings.Contains(stderr, "is not empty") {
		t.Errorf("second copy: exit %d, want %d and 'is not empty'\nstdout:\n%s\nstderr:\n%s", code, exitError, stdout, stderr)
	}
	compareStores(t, src, dst)
	maxEvent := newestEvent(t, dst, fx.contoso.ID)

	// A scimd on the copy accepts the old admin token, SCIM tokens, API
	// key and sealed Graph credential; new events come after the copied
	// ones.
	s := startServer(t, testOptions{databaseURL: target, config: config})
	if out := s.stdout.String(); out != "" {
		t.Errorf("scimd on the copy printed (a first start?):\n%s", out)
	}
	r := s.do(http.MethodGet, "/admin/v1/directories", fx.adminToken, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), fx.contoso.ID) || !strings.Contains(string(r.body), fx.dflt.ID) {
		t.Errorf("admin API with the old admin token: %d %s", r.status, r.body)
	}
	for _, d := range []directoryJSON{fx.dflt, fx.contoso, {ID: fx.contoso.ID, Name: "Contoso (previous token)", SCIMToken: fx.previousToken}} {
		if r := s.do(http.MethodGet, "/scim/v2/"+d.ID+"/Users", d.SCIMToken, ""); r.status != http.StatusOK {
			t.Errorf("SCIM with the old token of %s: %d %s", d.Name, r.status, r.body)
		}
	}
	r = s.do(http.MethodGet, "/api/v1/directories/"+fx.contoso.ID+"/lookup?phone=%2B442071838750", fx.apiKey, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), fx.annID) {
		t.Errorf("caller-ID with the old API key: %d %s", r.status, r.body)
	}
	r = s.do(http.MethodGet, "/admin/v1/directories/"+fx.contoso.ID+"/presence", fx.adminToken, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"state":"connected"`) {
		t.Errorf("presence on the copy with the same SCIMD_SECRET_KEY: %d %s", r.status, r.body)
	}
	s.createSCIMUser(fx.contoso, strings.ReplaceAll(annArcher, "ann@", "new@"))
	if got := newestEvent(t, dst, fx.contoso.ID); got <= maxEvent {
		t.Errorf("a new event has id %d, not after the copied ones (%d)", got, maxEvent)
	}
	maxAudit := must(dst.ListAudit(ctx, store.AuditQuery{Limit: 1}))[0].ID
	if r := s.do(http.MethodPatch, "/admin/v1/directories/"+fx.contoso.ID, fx.adminToken, `{"name":"Contoso EU"}`); r.status != http.StatusOK {
		t.Fatalf("rename on the copy: %d %s", r.status, r.body)
	}
	if got := must(dst.ListAudit(ctx, store.AuditQuery{Limit: 1}))[0]; got.ID <= maxAudit || got.Action != store.AuditDirectoryRenamed {
		t.Errorf("a new audit entry %+v is not after the copied ones (%d)", got, maxAudit)
	}
}

// copyFixture is what writeCopySource made.
type copyFixture struct {
	adminToken    string
	dflt, contoso directoryJSON
	previousToken string // contoso's, in a rotation's grace period
	apiKey, annID string
	goneID        string // a directory left being deleted
}

// writeCopySource runs a scimd on a new SQLite file at path and fills it:
// two directories with mapping rules, users with phones (one inactive), a
// group with members, a refused SCIM write, an API key, a connected
// presence link; then, with the server stopped, presence rows, a second
// presence link and a third directory marked as being deleted.
func writeCopySource(t *testing.T, path string, config func(*Config)) copyFixture {
	t.Helper()
	s := startServer(t, testOptions{db: path, config: config})
	var fx copyFixture
	out := s.stdout.String()
	fx.adminToken = firstMatch(t, out, `Admin Token:\s+(\S+)`)
	fx.dflt = directoryJSON{ID: firstMatch(t, out, `/scim/v2/([0-9a-f-]+)`), Name: "default", SCIMToken: firstMatch(t, out, `Secret Token:\s+(\S+)`)}
	admin := func(method, path, body string) response {
		t.Helper()
		r := s.do(method, "/admin/v1"+path, fx.adminToken, body)
		if r.status/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
		return r
	}
	fx.contoso = decodeJSON[directoryJSON](t, admin(http.MethodPost, "/directories", `{"name":"Contoso"}`))
	admin(http.MethodPut, "/directories/"+fx.contoso.ID+"/mapping", `{"required":["userName"],"customFields":[
		{"name":"costCenter","source":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","type":"text"},
		{"name":"badge","source":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","type":"number"}]}`)

	fx.annID = s.createSCIMUser(fx.contoso, annArcher)
	bob := s.createSCIMUser(fx.contoso, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Bob.Baker@Contoso.com",
		"externalId":"b2","displayName":"Bob Baker","title":"Sales lead",
		"emails":[{"type":"work","value":"bob.baker@contoso.com","primary":true}],
		"phoneNumbers":[{"type":"work","value":"+442071838751"},{"type":"mobile","value":"+447400123456"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"CC-1","employeeNumber":"42","department":"Sales"}}`)
	s.createSCIMUser(fx.contoso, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dora@contoso.com","externalId":"d4",
		"active":false,"name":{"givenName":"Dora","familyName":"Dunn"},"phoneNumbers":[{"type":"work","value":"+442071838752"}]}`)
	s.createSCIMUser(fx.dflt, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"carl@fabrikam.com","externalId":"c3",
		"name":{"givenName":"Carl","familyName":"Cole"},"phoneNumbers":[{"type":"work","value":"+14155550100"}]}`)
	r := s.doHeader(http.MethodPost, "/scim/v2/"+fx.contoso.ID+"/Groups",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales Team","members":[{"value":"`+fx.annID+`"},{"value":"`+bob+`"}]}`,
		map[string]string{"Authorization": bearer(fx.contoso.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", r.status, r.body)
	}
	// A refused write leaves a failed sync event.
	r = s.doHeader(http.MethodPost, "/scim/v2/"+fx.contoso.ID+"/Users", annArcher,
		map[string]string{"Authorization": bearer(fx.contoso.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusConflict {
		t.Fatalf("duplicate user: %d %s", r.status, r.body)
	}
	fx.apiKey = decodeJSON[struct{ Key string }](t, admin(http.MethodPost, "/directories/"+fx.contoso.ID+"/api-keys", `{"name":"cx"}`)).Key
	// A rotation whose grace period the copy must carry.
	fx.previousToken = fx.contoso.SCIMToken
	fx.contoso.SCIMToken = decodeJSON[directoryJSON](t, admin(http.MethodPost, "/directories/"+fx.contoso.ID+"/token", `{"graceSeconds":86400}`)).SCIMToken
	admin(http.MethodPut, "/directories/"+fx.contoso.ID+"/presence",
		`{"tenantId":"`+copyTenant+`","clientId":"`+fakegraph.DefaultClientID+`","clientSecret":"`+copySecret+`"}`)
	gone := decodeJSON[directoryJSON](t, admin(http.MethodPost, "/directories", `{"name":"Gone"}`))
	s.createSCIMUser(gone, annArcher)
	fx.goneID = gone.ID
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := time.Now().Add(-time.Minute)
	if err := db.WritePresence(ctx, fx.contoso.ID, []store.Presence{
		{UserID: fx.annID, Availability: "Busy", Activity: "InACall", ObservedAt: seen},
		{UserID: bob, Availability: "Available", Activity: "Available", ObservedAt: seen.Add(time.Second)},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPresenceLink(ctx, store.PresenceLink{DirectoryID: fx.dflt.ID, State: store.PresenceNeedsConsent,
		Credential: store.CredentialServiceApp, Sealed: []byte{0, 1, 2, 0xff}, ConsentStateHash: store.HashToken("state"),
		ConsentExpires: seen.Add(time.Hour), LastPoll: seen, ContactsPolled: 3, Skipped: 1, LastError: "consent revoked"},
		store.SyncEvent{Operation: store.SyncConnect, ResourceType: "Presence", Result: "waiting for consent"}); err != nil {
		t.Fatal(err)
	}
	// A directory whose delete a shutdown cut short is not copied.
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `UPDATE directories SET deleting = 1 WHERE id = ?`, fx.goneID); err != nil {
		t.Fatal(err)
	}
	return fx
}

func firstMatch(t *testing.T, s, expr string) string {
	t.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in:\n%s", expr, s)
	}
	return m[1]
}

// copyTargetURL is a fresh PostgreSQL schema's URL with a password, which
// the server's trust authentication ignores and the output must not show.
func copyTargetURL(t *testing.T) string {
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "hunter2")
	return u.String()
}

// runCopyCommand runs scimd copy with args and the environment env.
func runCopyCommand(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errs bytes.Buffer
	code = run(t.Context(), append([]string{"copy"}, args...), func(k string) string { return env[k] }, &out, &errs)
	return out.String(), errs.String(), code
}

// compareStores checks that dst holds every record of src, field by
// field (times to PostgreSQL's microsecond).
func compareStores(t *testing.T, src, dst store.Store) {
	t.Helper()
	ctx := t.Context()
	for _, key := range copySettings {
		same(t, "setting "+key, must(src.GetSetting(ctx, key)), must(dst.GetSetting(ctx, key)))
	}
	dirs := must(src.ListDirectories(ctx))
	same(t, "directories", dirs, must(dst.ListDirectories(ctx)))
	for _, d := range dirs {
		all := store.Query{Limit: 1000}
		users, groups := must2(src.ListUsers(ctx, d.ID, all)), must2(src.ListGroups(ctx, d.ID, all))
		if len(users) == 0 {
			t.Errorf("directory %s: no users to compare", d.Name)
		}
		same(t, d.Name+" users", users, must2(dst.ListUsers(ctx, d.ID, all)))
		same(t, d.Name+" groups", groups, must2(dst.ListGroups(ctx, d.ID, all)))
		var ids []string
		for _, g := range groups {
			ids = append(ids, g.ID)
		}
		same(t, d.Name+" members", must(src.GroupMembers(ctx, d.ID, ids)), must(dst.GroupMembers(ctx, d.ID, ids)))
		same(t, d.Name+" API keys", must(src.ListAPIKeys(ctx, d.ID)), must(dst.ListAPIKeys(ctx, d.ID)))
		evs := store.SyncQuery{Limit: 1000}
		same(t, d.Name+" sync events", must(src.ListSyncEvents(ctx, d.ID, evs)), must(dst.ListSyncEvents(ctx, d.ID, evs)))
		same(t, d.Name+" presence link", must(src.GetPresenceLink(ctx, d.ID)), must(dst.GetPresenceLink(ctx, d.ID)))
		same(t, d.Name+" presence", must(src.ListPresence(ctx, d.ID)), must(dst.ListPresence(ctx, d.ID)))
	}
	trail := must(src.ListAudit(ctx, store.AuditQuery{Limit: 1000}))
	if len(trail) == 0 {
		t.Error("no audit entries to compare")
	}
	same(t, "audit trail", trail, must(dst.ListAudit(ctx, store.AuditQuery{Limit: 1000})))
}

// compareContacts checks that searches and caller-ID answer alike.
func compareContacts(t *testing.T, src, dst store.Store, directoryID string) {
	t.Helper()
	ctx := t.Context()
	for _, q := range []store.ContactQuery{
		{Limit: 50}, {Text: "bak", Limit: 50}, {Text: "bob.baker@con", Limit: 50}, {Text: "archer", Limit: 50},
		{Digits: "7183875", Limit: 50}, {Digits: "74001", Limit: 50}, {Limit: 1},
		{Visibility: store.Visibility{OnlyGroups: []string{"sales*"}}, Limit: 50},
		{Visibility: store.Visibility{Domains: []string{"CONTOSO.com"}}, Limit: 50},
	} {
		want, wantNext, err := src.SearchContacts(ctx, directoryID, q)
		if err != nil || len(want) == 0 {
			t.Fatalf("source SearchContacts(%+v) = %d contacts, %v", q, len(want), err)
		}
		got, gotNext, err := dst.SearchContacts(ctx, directoryID, q)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "search", want, got)
		if q.Limit == 1 && (wantNext == "") != (gotNext == "") {
			t.Errorf("SearchContacts(%+v): next page %q on the source, %q on the copy", q, wantNext, gotNext)
		}
	}
	for _, e164 := range []string{"+442071838750", "+447400123456", "+442071838751"} {
		want := must(src.LookupPhone(ctx, directoryID, e164, store.Visibility{}))
		if len(want) != 1 {
			t.Fatalf("source LookupPhone(%s) = %d contacts", e164, len(want))
		}
		same(t, "lookup "+e164, want, must(dst.LookupPhone(ctx, directoryID, e164, store.Visibility{})))
	}
}

// same compares a record (or slice or map of them) read from the source
// with the copy's, times truncated to the microsecond, an empty list
// (but for bytes) the same as none.
func same[T any](t *testing.T, what string, src, dst T) {
	t.Helper()
	normalize(reflect.ValueOf(&src).Elem())
	normalize(reflect.ValueOf(&dst).Elem())
	if !reflect.DeepEqual(src, dst) {
		t.Errorf("%s differ:\nsource %+v\ncopy   %+v", what, src, dst)
	}
}

// normalize truncates, in place, every time.Time that v (settable) holds
// and makes empty slices nil, following slices, pointers and struct
// fields.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if tm, ok := v.Interface().(time.Time); ok {
			v.Set(reflect.ValueOf(tm.Truncate(time.Microsecond)))
			return
		}
		for i := range v.NumField() {
			normalize(v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 && v.Type().Elem().Kind() != reflect.Uint8 {
			v.Set(reflect.Zero(v.Type()))
		}
		for i := range v.Len() {
			normalize(v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			c := reflect.New(v.Elem().Type()) // a copy: the pointee may be shared
			c.Elem().Set(v.Elem())
			normalize(c.Elem())
			v.Set(c)
		}
	}
}

func newestEvent(t *testing.T, st store.Store, directoryID string) int64 {
	t.Helper()
	evs := must(st.ListSyncEvents(t.Context(), directoryID, store.SyncQuery{Limit: 1}))
	if len(evs) == 0 {
		t.Fatal("no sync events")
	}
	return evs[0].ID
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[T any](v T, _ int, err error) T { return must(v, err) }

// TestCopyRefusesSourceSchema: a source migrated by a newer scimd, or not
// yet migrated by this one, is refused before the target is touched.
func TestCopyRefusesSourceSchema(t *testing.T) {
	for _, tc := range []struct {
		name, change, want string
	}{
		{"newer", `INSERT INTO schema_migrations (version, name, applied) SELECT max(version) + 1, 'future.sql', '' FROM schema_migrations`,
			"written by a newer scimd"},
		{"older", `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`,
			"run scimd migrate with this binary on the file first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "scimd.db")
			db, err := sqlite.OpenAndMigrate(t.Context(), path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			raw, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(tc.change); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			target := pgtest.URL(t)
			// The target may come from the server's variable.
			_, stderr, code := runCopyCommand(t, map[string]string{"SCIMD_DATABASE_URL": target}, "--from", path)
			if code != exitError || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q; stderr:\n%s", code, exitError, tc.want, stderr)
			}
			dst, err := postgres.Open(context.Background(), target, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			if v, _, err := dst.SchemaVersion(t.Context()); err != nil || v != 0 {
				t.Errorf("target schema version %d, %v: want it untouched (0)", v, err)
			}
		})
	}
}

// TestCopyUsage: the command needs a source and a PostgreSQL target.
func TestCopyUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-from", "x.db"}, {"-from", "x.db", "-to", "mysql://db"}, {"-from", "x.db", "-to", "postgres://h/db", "extra"}} {
		if _, stderr, code := runCopyCommand(t, nil, args...); code != exitUsage {
			t.Errorf("copy %q: exit %d, want %d; stderr:\n%s", args, code, exitUsage, stderr)
		}
	}
	_, stderr, code := runCopyCommand(t, nil, "-from", filepath.Join(t.TempDir(), "missing.db"), "-to", "postgres://127.0.0.1/none")
	if code != exitError || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing source: exit %d; stderr:\n%s", code, stderr)
	}
}

// TestCopyStopsMidway: a directory that cannot be copied (a document
// PostgreSQL's jsonb cannot read) leaves nothing of itself in the target,
// keeps the directories copied before it, and the output names them.
func TestCopyStopsMidway(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "scimd.db")
	db, err := sqlite.OpenAndMigrate(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ id, doc string }{{"good", `{"userName":"a@contoso.com"}`}, {"bad", `{"userName":"a@contoso.com","x":"\u0000"}`}} {
		if _, err := db.CreateDirectory(ctx, store.Directory{ID: d.id, Name: d.id, SCIMTokenHash: store.HashToken(d.id)}); err != nil {
			t.Fatal(err)
		}
		u := store.User{DirectoryID: d.id, ID: "u1", UserName: "a@contoso.com", Active: true, Doc: []byte(d.doc)}
		if _, err := db.CreateUser(ctx, u, store.SyncEvent{Operation: store.SyncCreate, ResourceType: "User"}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	target := pgtest.URL(t)
	stdout, stderr, code := runCopyCommand(t, nil, "-from", path, "-to", target)
	if code != exitError || !strings.Contains(stdout, `stopped at directory bad "bad"`) || !strings.Contains(stdout, "copied before it: good\n") {
		t.Errorf("exit %d, want %d naming the directories\nstdout:\n%s\nstderr:\n%s", code, exitError, stdout, stderr)
	}
	dst, err := postgres.Open(ctx, target, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, n, err := dst.ListUsers(ctx, "good", store.Query{}); err != nil || n != 1 {
		t.Errorf("good directory on the copy: %d users, %v", n, err)
	}
	if _, err := dst.GetDirectory(ctx, "bad"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bad directory on the copy: %v, want not found", err)
	}
	if evs, err := dst.ListSyncEvents(ctx, "bad", store.SyncQuery{Limit: 10}); err != nil || len(evs) != 0 {
		t.Errorf("bad directory's events on the copy: %v, %v", evs, err)
	}
}
