package api_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// lookupFixture serves the admin, SCIM and lookup APIs on one router over
// real HTTP, on a real SQLite store, as internal/server wires them.
type lookupFixture struct {
	t    *testing.T
	url  string
	db   store.Store
	logs *syncBuffer
}

func newLookupFixture(t *testing.T) *lookupFixture {
	t.Helper()
	return newLookupFixtureOn(t, func(db store.Store) store.Store { return db })
}

// newLookupFixtureOn is newLookupFixture with the lookup API's store
// wrapped (to inject failures), and its configuration changed by
// configure.
func newLookupFixtureOn(t *testing.T, wrap func(store.Store) store.Store, configure ...func(*api.LookupConfig)) *lookupFixture {
	t.Helper()
	f := &lookupFixture{t: t, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db := teststore.Open(t, teststore.Options{Now: time.Now, Logger: logger})
	f.db = db
	r := mux.NewRouter()
	api.NewAdmin(api.AdminConfig{Store: db, PublicURL: "https://scim.example.com",
		AdminTokenHash: store.HashToken(adminToken), Logger: logger}).Register(r)
	lc := api.LookupConfig{Store: wrap(db), AdminTokenHash: store.HashToken(adminToken), Logger: logger}
	for _, c := range configure {
		c(&lc)
	}
	api.NewLookup(lc).Register(r)
	scim.New(scim.Config{Store: db, PublicURL: "https://scim.example.com", Logger: logger}).Register(r)
	srv := httptest.NewServer(r)
	f.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		_ = db.Close()
		if t.Failed() {
			t.Logf("logs:\n%s", f.logs)
		}
	})
	return f
}

// req sends a request with a bearer token (none if empty) and extra
// headers as name, value pairs.
func (f *lookupFixture) req(method, path, token, body string, header ...string) response {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.url+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if strings.HasPrefix(path, "/scim/") && body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// get reads a lookup path and fails the test unless it answers 200.
func (f *lookupFixture) get(path, token string) response {
	f.t.Helper()
	r := f.req(http.MethodGet, path, token, "")
	if r.status != http.StatusOK {
		f.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	return r
}

// dir is a directory with its SCIM token and one API key.
type dir struct {
	ID, SCIMToken, Key string
}

func (d dir) api(path string) string { return "/api/v1/directories/" + d.ID + path }

func (f *lookupFixture) newDirectory(name, rules string) dir {
	f.t.Helper()
	r := f.req(http.MethodPost, "/admin/v1/directories", adminToken, fmt.Sprintf(`{"name":%q}`, name))
	if r.status != http.StatusCreated {
		f.t.Fatalf("create directory: %d %s", r.status, r.body)
	}
	created := decode[directory](f.t, r)
	d := dir{ID: created.ID, SCIMToken: created.SCIMToken}
	if rules != "" {
		f.putRules(d, rules)
	}
	d.Key = f.newKey(d, "cx")
	return d
}

func (f *lookupFixture) putRules(d dir, rules string) {
	f.t.Helper()
	if r := f.req(http.MethodPut, "/admin/v1/directories/"+d.ID+"/mapping", adminToken, rules); r.status != http.StatusOK {
		f.t.Fatalf("put mapping: %d %s", r.status, r.body)
	}
}

func (f *lookupFixture) newKey(d dir, name string) string {
	f.t.Helper()
	r := f.req(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", adminToken, fmt.Sprintf(`{"name":%q}`, name))
	if r.status != http.StatusCreated {
		f.t.Fatalf("create api key: %d %s", r.status, r.body)
	}
	return decode[apiKey](f.t, r).Key
}

type apiKey struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Key     string    `json:"key"`
	Created time.Time `json:"created"`
}

// person is a SCIM user as Entra sends it, reduced to what the tests vary.
type person struct {
	userName, given, family, display, email, title, dept string
	phones                                               [][2]string // type, value
	active                                               *bool
	objectID                                             string // externalId; default "oid-" + userName
}

func (p person) doc() string {
	u := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"userName":   p.userName,
		"externalId": cmp.Or(p.objectID, "oid-"+p.userName),
		"active":     p.active == nil || *p.active,
		"name":       map[string]string{"givenName": p.given, "familyName": p.family},
	}
	if p.display != "" {
		u["displayName"] = p.display
	}
	if p.email != "" {
		u["emails"] = []map[string]any{{"type": "work", "value": p.email, "primary": true}}
	}
	if p.title != "" {
		u["title"] = p.title
	}
	if p.dept != "" {
		u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = map[string]string{"department": p.dept}
	}
	var phones []map[string]string
	for _, ph := range p.phones {
		phones = append(phones, map[string]string{"type": ph[0], "value": ph[1]})
	}
	if phones != nil {
		u["phoneNumbers"] = phones
	}
	b, _ := json.Marshal(u)
	return string(b)
}

// user provisions p through SCIM and returns its id.
func (f *lookupFixture) user(d dir, p person) string {
	f.t.Helper()
	r := f.req(http.MethodPost, "/scim/v2/"+d.ID+"/Users", d.SCIMToken, p.doc())
	if r.status != http.StatusCreated {
		f.t.Fatalf("SCIM create %s: %d %s", p.userName, r.status, r.body)
	}
	return decode[struct{ ID string }](f.t, r).ID
}

// group provisions a group with members through SCIM and returns its id.
func (f *lookupFixture) group(d dir, name string, members ...string) string {
	f.t.Helper()
	m := make([]map[string]string, 0, len(members))
	for _, id := range members {
		m = append(m, map[string]string{"value": id})
	}
	b, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name, "members": m})
	r := f.req(http.MethodPost, "/scim/v2/"+d.ID+"/Groups", d.SCIMToken, string(b))
	if r.status != http.StatusCreated {
		f.t.Fatalf("SCIM create group %s: %d %s", name, r.status, r.body)
	}
	return decode[struct{ ID string }](f.t, r).ID
}

// patch sends a SCIM PATCH to a user or group (resource "Users"/"Groups").
func (f *lookupFixture) patch(d dir, resource, id, ops string) {
	f.t.Helper()
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
	r := f.req(http.MethodPatch, "/scim/v2/"+d.ID+"/"+resource+"/"+id, d.SCIMToken, body)
	if r.status != http.StatusOK && r.status != http.StatusNoContent {
		f.t.Fatalf("SCIM PATCH %s %s: %d %s", resource, id, r.status, r.body)
	}
}

// contact is the lookup API's contact JSON.
type contact struct {
	ID          string         `json:"id"`
	DisplayName string         `json:"displayName"`
	GivenName   string         `json:"givenName"`
	FamilyName  string         `json:"familyName"`
	Email       string         `json:"email"`
	Phones      []phone        `json:"phones"`
	Title       string         `json:"title"`
	Department  string         `json:"department"`
	Custom      map[string]any `json:"custom"`
	Groups      []string       `json:"groups"`
	Active      bool           `json:"active"`
	Presence    any            `json:"presence"`
}

type phone struct{ Type, Value, E164 string }

type contactPage struct {
	Contacts   []contact `json:"contacts"`
	NextCursor string    `json:"nextCursor"`
}

type callerID struct {
	Phone    string    `json:"phone"`
	Contacts []contact `json:"contacts"`
}

// names lists the display names of contacts, in order.
func names(cs []contact) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.DisplayName)
	}
	return out
}

// search answers the display names GET /contacts finds for a query
// string (without the leading "?"), one page of up to 200.
func (f *lookupFixture) search(d dir, query string) []string {
	f.t.Helper()
	p := decode[contactPage](f.t, f.get(d.api("/contacts?limit=200&"+query), d.Key))
	if p.NextCursor != "" {
		f.t.Fatalf("search %q has more than one page", query)
	}
	return names(p.Contacts)
}

// callerID answers the display names GET /lookup finds.
func (f *lookupFixture) callerID(d dir, query string) []string {
	f.t.Helper()
	return names(decode[callerID](f.t, f.get(d.api("/lookup?"+query), d.Key)).Contacts)
}
