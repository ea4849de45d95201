package api_test

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

func TestMappingRules(t *testing.T) {
	now := epoch
	f, db := newSQLiteFixture(t, &now)
	d := seedSyncLog(t, db)
	path := "/admin/v1/directories/" + d.ID + "/mapping"

	// No stored rules: the defaults, in canonical form.
	r := f.do(t, http.MethodGet, path, "")
	defaults := append(mapping.Defaults().Marshal(), '\n')
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, defaults) {
		t.Fatalf("GET defaults: %d %q\n%s\nwant\n%s", r.status, r.header.Get("Content-Type"), r.body, defaults)
	}

	// PUT stores and answers the canonical form, which GET then shows and
	// a PUT of it leaves unchanged.
	doc := `{"phonePolicy":"lenient","defaultRegion":"gb","required":["userName"],
		"customFields":[{"name":"skill","source":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill","type":"text"}]}`
	rules, err := mapping.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// The answers end with the read-only progress of the rules'
	// re-application to the stored contacts (no runner here: it waits).
	canonical := rules.Marshal()
	running := `,"reapply":{"state":"running","rulesVersion":1,"done":0,"total":1,"failed":0,"startedAt":"2026-03-04T09:00:13Z","finishedAt":null}}` + "\n"
	withProgress := append(bytes.TrimSuffix(canonical, []byte("}")), running...)
	r = f.do(t, http.MethodPut, path, doc)
	if r.status != http.StatusOK || !bytes.Equal(r.body, withProgress) {
		t.Fatalf("PUT: %d\n%s\nwant\n%s", r.status, r.body, withProgress)
	}
	if got, _ := db.GetDirectory(t.Context(), d.ID); !bytes.Equal(got.Mapping, canonical) || got.RulesVersion != 1 {
		t.Errorf("stored %s (rules version %d), want the canonical %s (version 1)", got.Mapping, got.RulesVersion, canonical)
	}
	if r = f.do(t, http.MethodGet, path, ""); !bytes.Equal(r.body, withProgress) {
		t.Errorf("GET after PUT:\n%s", r.body)
	}
	// A PUT of the GET answer changes nothing: its progress is ignored.
	if r = f.do(t, http.MethodPut, path, string(r.body)); r.status != http.StatusOK || !bytes.Equal(r.body, withProgress) {
		t.Errorf("PUT of the GET answer: %d %s", r.status, r.body)
	}
	if got, _ := db.GetDirectory(t.Context(), d.ID); got.RulesVersion != 1 {
		t.Errorf("an unchanged PUT moved the rules version to %d", got.RulesVersion)
	}
	if !strings.Contains(f.logs.String(), "mapping rules replaced") {
		t.Error("the change was not logged")
	}
}

func TestMappingRulesRefused(t *testing.T) {
	now := epoch
	f, db := newSQLiteFixture(t, &now)
	d := seedSyncLog(t, db)
	path := "/admin/v1/directories/" + d.ID + "/mapping"

	// Every problem is reported, in the message and one by one.
	r := f.do(t, http.MethodPut, path, `{"phonePolicy":"loose","required":["userName","fax"],"colour":1}`)
	e := wantError(t, r, http.StatusBadRequest, "invalid_mapping")
	body := decode[struct {
		Error struct{ Problems []string } `json:"error"`
	}](t, r)
	if len(body.Error.Problems) != 3 {
		t.Errorf("problems = %q, want 3", body.Error.Problems)
	}
	for _, want := range []string{`"loose"`, `"fax"`, `"colour"`} {
		if !strings.Contains(e.Error.Message, want) || !strings.Contains(strings.Join(body.Error.Problems, "\n"), want) {
			t.Errorf("error does not name %s: %s", want, r.body)
		}
	}

	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"truncated", `{"phonePolicy":`, 400, "malformed_json"},
		{"syntax", `{phonePolicy:"strict"}`, 400, "malformed_json"},
		{"empty", ``, 400, "malformed_json"},
		{"array", `[]`, 400, "malformed_json"},
		{"null", `null`, 400, "malformed_json"},
		{"string", `"strict"`, 400, "malformed_json"},
		{"two objects", `{} {}`, 400, "malformed_json"},
		{"wrong type", `{"required":"userName"}`, 400, "invalid_mapping"},
		{"oversized", `{"required":["` + strings.Repeat("x", 5<<10) + `"]}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.do(t, http.MethodPut, path, tt.body), tt.status, tt.code)
		})
	}
	if got, _ := db.GetDirectory(t.Context(), d.ID); got.Mapping != nil {
		t.Errorf("a refused PUT stored %s", got.Mapping)
	}

	missing := "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10/mapping"
	wantError(t, f.do(t, http.MethodGet, missing, ""), http.StatusNotFound, "not_found")
	wantError(t, f.do(t, http.MethodPut, missing, `{}`), http.StatusNotFound, "not_found")
	wantError(t, f.do(t, http.MethodGet, "/admin/v1/directories/x/mapping", ""), http.StatusNotFound, "not_found")
	r = f.do(t, http.MethodPost, path, `{}`)
	wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if r.header.Get("Allow") != "GET, PUT" {
		t.Errorf("Allow = %q", r.header.Get("Allow"))
	}
	wantError(t, f.doAuth(t, http.MethodPut, path, `{}`, ""), http.StatusUnauthorized, "unauthorized")

	// A stored document this version cannot read is the operator's problem.
	if _, err := db.UpdateDirectory(t.Context(), d.ID, func(d store.Directory) (store.Directory, error) {
		d.Mapping = []byte(`{"phonePolicy":"from the future"}`)
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	r = f.do(t, http.MethodGet, path, "")
	wantError(t, r, http.StatusInternalServerError, "internal")
	if bytes.Contains(r.body, []byte("future")) || !strings.Contains(f.logs.String(), "stored mapping rules do not parse") {
		t.Errorf("corrupt stored rules: answer %s; logged: %v", r.body, strings.Contains(f.logs.String(), "do not parse"))
	}
}

// TestREADMEMappingExample keeps the README's example rules document
// valid: it is PUT as an administrator would paste it.
func TestREADMEMappingExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- mapping example -->\n```json\n"
	_, rest, ok := bytes.Cut(readme, []byte(marker))
	example, _, closed := bytes.Cut(rest, []byte("```"))
	if !ok || !closed {
		t.Fatalf("README.md has no block starting %q", marker)
	}
	now := epoch
	f, db := newSQLiteFixture(t, &now)
	d := seedSyncLog(t, db)
	if r := f.do(t, http.MethodPut, "/admin/v1/directories/"+d.ID+"/mapping", string(example)); r.status != http.StatusOK {
		t.Errorf("README example refused: %d %s", r.status, r.body)
	}
}
