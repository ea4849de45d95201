package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/store"
)

const unknownDirectory = "8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10"

// TestDirectoriesIsolated: two directories with the same phone number
// never see each other's contacts, and a key of one gets on the other
// exactly what an unknown directory gets.
func TestDirectoriesIsolated(t *testing.T) {
	f := newLookupFixture(t)
	a := f.newDirectory("A", "")
	b := f.newDirectory("B", "")
	annA := f.user(a, person{userName: "ann@a.example", given: "Ann", family: "Alpha", phones: [][2]string{{"work", "+442071838750"}}})
	annB := f.user(b, person{userName: "ann@b.example", given: "Ann", family: "Beta", phones: [][2]string{{"work", "+442071838750"}}})
	gA := f.group(a, "Team", annA)

	if got := f.callerID(a, "phone=%2B442071838750"); !slices.Equal(got, []string{"Ann Alpha"}) {
		t.Errorf("A sees %q", got)
	}
	if got := f.callerID(b, "phone=%2B442071838750"); !slices.Equal(got, []string{"Ann Beta"}) {
		t.Errorf("B sees %q", got)
	}
	if got := f.search(b, "q=ann"); !slices.Equal(got, []string{"Ann Beta"}) {
		t.Errorf("B's search sees %q", got)
	}
	if got := f.search(b, "q=4420"); !slices.Equal(got, []string{"Ann Beta"}) {
		t.Errorf("B's digit search sees %q", got)
	}
	// A's contact and group through B's URL: not found, like any id.
	wantError(t, f.req(http.MethodGet, b.api("/contacts/"+annA), b.Key, ""), http.StatusNotFound, "not_found")
	wantError(t, f.req(http.MethodGet, b.api("/groups/"+gA+"/contacts"), b.Key, ""), http.StatusNotFound, "not_found")
	wantError(t, f.req(http.MethodGet, b.api("/contacts?group="+gA), b.Key, ""), http.StatusNotFound, "not_found")

	unknown := dir{ID: unknownDirectory}
	for _, path := range []string{"/contacts", "/contacts/" + annB, "/lookup?phone=%2B442071838750", "/groups", "/groups/" + gA + "/contacts"} {
		onB := f.req(http.MethodGet, b.api(path), a.Key, "")
		onUnknown := f.req(http.MethodGet, unknown.api(path), a.Key, "")
		wantError(t, onB, http.StatusNotFound, "not_found")
		if !bytes.Equal(onB.body, onUnknown.body) || onB.status != onUnknown.status {
			t.Errorf("%s: A's key on B answers %d %s, on an unknown directory %d %s", path, onB.status, onB.body, onUnknown.status, onUnknown.body)
		}
		if bytes.Contains(onB.body, []byte(b.ID)) {
			t.Errorf("%s: the answer names the directory: %s", path, onB.body)
		}
	}
	// The admin token reads both; an unknown directory is 404 for it too.
	for _, d := range []dir{a, b} {
		if r := f.req(http.MethodGet, d.api("/contacts"), adminToken, ""); r.status != http.StatusOK || len(decode[contactPage](t, r).Contacts) != 1 {
			t.Errorf("admin token on %s: %d %s", d.ID, r.status, r.body)
		}
	}
	wantError(t, f.req(http.MethodGet, unknown.api("/contacts"), adminToken, ""), http.StatusNotFound, "not_found")
	wantError(t, f.req(http.MethodGet, "/api/v1/directories/not-a-uuid/contacts", adminToken, ""), http.StatusNotFound, "not_found")
}

func TestLookupAuthentication(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("D", "")
	other := f.newDirectory("Other", "")
	for _, auth := range []string{"", "Bearer", "Bearer ", "Basic " + d.Key, "Bearer wrong-key", "Bearer " + d.Key + "x", "Bearer " + d.SCIMToken} {
		t.Run(auth, func(t *testing.T) {
			var r response
			if auth == "" {
				r = f.req(http.MethodGet, d.api("/contacts"), "", "")
			} else {
				r = f.req(http.MethodGet, d.api("/contacts"), "", "", "Authorization", auth)
			}
			wantError(t, r, http.StatusUnauthorized, "unauthorized")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate header")
			}
		})
	}
	// Credentials are checked before the directory: no key, no hint.
	wantError(t, f.req(http.MethodGet, dir{ID: unknownDirectory}.api("/contacts"), "wrong", ""), http.StatusUnauthorized, "unauthorized")
	// A key is checked whatever the directory: another directory's key
	// with a typo is still 401.
	wantError(t, f.req(http.MethodGet, d.api("/contacts"), other.Key+"x", ""), http.StatusUnauthorized, "unauthorized")

	if r := f.req(http.MethodGet, d.api("/contacts"), "", "", "Authorization", "bearer "+d.Key); r.status != http.StatusOK {
		t.Errorf("lower-case scheme: %d", r.status)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "lookup auth failed"); n != 9 {
		t.Errorf("logged %d auth failures, want 9", n)
	}
	for _, secret := range []string{d.Key, other.Key, d.SCIMToken, "wrong-key"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a presented token appears in the logs: %s", secret)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Keys", "") // has key "cx"
	base := "/admin/v1/directories/" + d.ID + "/api-keys"

	r := f.req(http.MethodPost, base, adminToken, `{"name":"  Wallboard  "}`)
	if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %s %v", r.status, r.body, r.header)
	}
	wantKeys(t, r.body, "created", "id", "key", "name")
	k := decode[apiKey](t, r)
	if k.Name != "Wallboard" || !strings.HasPrefix(k.Key, api.APIKeyPrefix) || k.Created.IsZero() {
		t.Errorf("created key = %+v", k)
	}
	stored, err := f.db.APIKeyByHash(t.Context(), store.HashToken(k.Key))
	if err != nil || stored.ID != k.ID || stored.DirectoryID != d.ID || bytes.Contains(stored.Hash, []byte(k.Key)) {
		t.Errorf("stored %+v, %v", stored, err)
	}

	r = f.req(http.MethodGet, base, adminToken, "")
	if r.status != http.StatusOK || bytes.Contains(r.body, []byte(`"key"`)) || bytes.Contains(r.body, []byte(k.Key)) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	list := decode[struct{ APIKeys []apiKey }](t, r)
	var listed []string
	for _, x := range list.APIKeys {
		listed = append(listed, x.Name)
		if x.ID == "" || x.Created.IsZero() {
			t.Errorf("listed key %+v", x)
		}
	}
	if slices.Sort(listed); !slices.Equal(listed, []string{"Wallboard", "cx"}) {
		t.Errorf("listed %q", listed)
	}

	// Both keys work; a revoked key is refused from the next request.
	for _, key := range []string{d.Key, k.Key} {
		f.get(dir{ID: d.ID}.api("/groups"), key)
	}
	if r := f.req(http.MethodDelete, base+"/"+k.ID, adminToken, ""); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, f.req(http.MethodGet, d.api("/groups"), k.Key, ""), http.StatusUnauthorized, "unauthorized")
	f.get(d.api("/groups"), d.Key)
	wantError(t, f.req(http.MethodDelete, base+"/"+k.ID, adminToken, ""), http.StatusNotFound, "not_found")
	if n := len(decode[struct{ APIKeys []apiKey }](t, f.req(http.MethodGet, base, adminToken, "")).APIKeys); n != 1 {
		t.Errorf("%d keys after revoking one of two", n)
	}

	// Another directory's key id is not found through this directory.
	other := f.newDirectory("Other", "")
	otherKeys := decode[struct{ APIKeys []apiKey }](t, f.req(http.MethodGet, "/admin/v1/directories/"+other.ID+"/api-keys", adminToken, "")).APIKeys
	wantError(t, f.req(http.MethodDelete, base+"/"+otherKeys[0].ID, adminToken, ""), http.StatusNotFound, "not_found")
	f.get(other.api("/groups"), other.Key)

	if logs := f.logs.String(); strings.Contains(logs, k.Key) || strings.Contains(logs, d.Key) {
		t.Error("a key appears in the logs")
	}
}

func TestAPIKeysRefused(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Keys", "")
	base := "/admin/v1/directories/" + d.ID + "/api-keys"
	unknown := "/admin/v1/directories/" + unknownDirectory + "/api-keys"
	tests := []struct {
		name, method, path, body, auth string
		status                         int
		code, message                  string
	}{
		{"no name", "POST", base, `{}`, adminToken, 400, "invalid_name", "required"},
		{"empty name", "POST", base, `{"name":" "}`, adminToken, 400, "invalid_name", "empty"},
		{"long name", "POST", base, `{"name":"` + strings.Repeat("k", api.MaxNameLength+1) + `"}`, adminToken, 400, "invalid_name", "at most 200"},
		{"control", "POST", base, `{"name":"a\tb"}`, adminToken, 400, "invalid_name", "control"},
		{"unknown field", "POST", base, `{"name":"x","scopes":["read"]}`, adminToken, 400, "unknown_field", `"scopes"`},
		{"malformed", "POST", base, `{"name":`, adminToken, 400, "malformed_json", "truncated"},
		{"create on unknown directory", "POST", unknown, `{"name":"x"}`, adminToken, 404, "not_found", "directory"},
		{"list on unknown directory", "GET", unknown, ``, adminToken, 404, "not_found", "directory"},
		{"delete on unknown directory", "DELETE", unknown + "/" + unknownDirectory, ``, adminToken, 404, "not_found", "directory"},
		{"delete unknown key", "DELETE", base + "/" + unknownDirectory, ``, adminToken, 404, "not_found", "API key"},
		{"delete malformed key id", "DELETE", base + "/nope", ``, adminToken, 404, "not_found", "API key"},
		{"wrong method", "PUT", base, `{}`, adminToken, 405, "method_not_allowed", "POST"},
		{"get one key", "GET", base + "/" + unknownDirectory, ``, adminToken, 405, "method_not_allowed", "DELETE"},
		{"API key is not admin", "GET", base, ``, d.Key, 401, "unauthorized", "admin"},
		{"no token", "POST", base, `{"name":"x"}`, "", 401, "unauthorized", "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantError(t, f.req(tt.method, tt.path, tt.auth, tt.body), tt.status, tt.code)
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tt.message)
			}
		})
	}
	if keys, _ := f.db.ListAPIKeys(t.Context(), d.ID); len(keys) != 1 {
		t.Errorf("refused requests changed the keys: %d", len(keys))
	}
}

// wantKeys checks the keys of a JSON object.
func wantKeys(t *testing.T, body []byte, keys ...string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, keys) {
		t.Errorf("keys = %q, want %q", got, keys)
	}
}
