package api_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
)

func TestLookupBadInput(t *testing.T) {
	f := newLookupFixture(t)
	w := newWorld(t, f)
	ann := w.ids["Ann Archer"]
	tests := []struct {
		name, method, path string
		status             int
		code               string
		mentions           []string
	}{
		{"limit zero", "GET", "/contacts?limit=0", 400, "invalid_parameter", []string{`"limit"`, "1 to 200", `"0"`}},
		{"limit high", "GET", "/contacts?limit=201", 400, "invalid_parameter", []string{`"limit"`, "1 to 200"}},
		{"limit text", "GET", "/contacts?limit=ten", 400, "invalid_parameter", []string{`"limit"`, `"ten"`}},
		{"group limit", "GET", "/groups/" + ann + "/contacts?limit=-1", 400, "invalid_parameter", []string{"1 to 200"}},
		{"unknown parameter", "GET", "/contacts?name=ann", 400, "invalid_parameter", []string{`"name"`, "q, group, limit, cursor"}},
		{"repeated q", "GET", "/contacts?q=a&q=b", 400, "invalid_parameter", []string{`"q"`, "once"}},
		{"long q", "GET", "/contacts?q=" + strings.Repeat("a", 201), 400, "invalid_parameter", []string{`"q"`, "200"}},
		{"bad escape", "GET", "/contacts?q=%zz", 400, "invalid_parameter", []string{"malformed"}},
		{"bad cursor", "GET", "/contacts?cursor=not-a-cursor", 400, "invalid_parameter", []string{`"cursor"`}},
		{"contact parameter", "GET", "/contacts/" + ann + "?fields=email", 400, "invalid_parameter", []string{`"fields"`, "no parameters"}},
		{"groups parameter", "GET", "/groups?limit=5", 400, "invalid_parameter", []string{`"limit"`, "no parameters"}},
		{"unknown contact", "GET", "/contacts/" + unknownDirectory, 404, "not_found", []string{"contact"}},
		{"malformed contact id", "GET", "/contacts/" + strings.Repeat("x", 200), 404, "not_found", []string{"contact"}},
		{"unknown group", "GET", "/groups/" + unknownDirectory + "/contacts", 404, "not_found", []string{"group"}},
		{"unknown group filter", "GET", "/contacts?group=" + unknownDirectory, 404, "not_found", []string{"group"}},
		{"contact as group", "GET", "/groups/" + ann + "/contacts", 404, "not_found", []string{"group"}},
		{"wrong method", "POST", "/contacts", 405, "method_not_allowed", []string{"GET"}},
		{"wrong method on lookup", "DELETE", "/lookup?phone=1", 405, "method_not_allowed", []string{"GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.req(tt.method, w.d.api(tt.path), w.d.Key, "")
			e := wantError(t, r, tt.status, tt.code)
			for _, m := range tt.mentions {
				if !strings.Contains(e.Error.Message, m) {
					t.Errorf("message %q does not mention %s", e.Error.Message, m)
				}
			}
			if tt.status == http.StatusMethodNotAllowed && r.header.Get("Allow") != "GET" {
				t.Errorf("Allow = %q", r.header.Get("Allow"))
			}
		})
	}
}

// failingStore fails the lookup API's reads with driver-like text that
// must never reach a client.
type failingStore struct {
	store.Store
	failAuth bool
}

var errDriver = errors.New("sql: database is locked (sqlite3.go:123) SELECT * FROM users")

func (s *failingStore) APIKeyByHash(ctx context.Context, h []byte) (store.APIKey, error) {
	if s.failAuth {
		return store.APIKey{}, errDriver
	}
	return s.Store.APIKeyByHash(ctx, h)
}

func (s *failingStore) SearchContacts(context.Context, string, store.ContactQuery) ([]store.ContactRecord, string, error) {
	return nil, "", errDriver
}

func (s *failingStore) GetContact(context.Context, string, string, store.Visibility) (store.ContactRecord, error) {
	return store.ContactRecord{}, errDriver
}

func (s *failingStore) LookupPhone(context.Context, string, string, store.Visibility) ([]store.ContactRecord, error) {
	return nil, errDriver
}

func (s *failingStore) ListGroups(context.Context, string, store.Query) ([]store.Group, int, error) {
	return nil, 0, errDriver
}

func (s *failingStore) GetGroup(context.Context, string, string) (store.Group, error) {
	return store.Group{}, errDriver
}

func TestLookupStoreErrorsDoNotLeak(t *testing.T) {
	fs := &failingStore{}
	f := newLookupFixtureOn(t, func(db store.Store) store.Store { fs.Store = db; return fs })
	d := f.newDirectory("Failing", "")
	paths := []string{"/contacts", "/contacts/" + unknownDirectory, "/lookup?phone=%2B14255550100", "/groups",
		"/groups/" + unknownDirectory + "/contacts", "/contacts?group=" + unknownDirectory}
	check := func(t *testing.T, token string) {
		for _, path := range paths {
			r := f.req(http.MethodGet, d.api(path), token, "")
			wantError(t, r, http.StatusInternalServerError, "internal")
			for _, leak := range []string{"sql", ".go", "locked", "SELECT"} {
				if bytes.Contains(r.body, []byte(leak)) {
					t.Errorf("%s leaks %q: %s", path, leak, r.body)
				}
			}
		}
	}
	check(t, d.Key)
	fs.failAuth = true
	check(t, d.Key)
	if !strings.Contains(f.logs.String(), "database is locked") {
		t.Error("the store error was not logged for the operator")
	}
}
