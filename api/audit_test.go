package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/presence/fakegraph"
	"github.com/scimd/scimd/store"
)

type auditEntry struct {
	ID            int64           `json:"id"`
	Time          time.Time       `json:"time"`
	Actor         store.Actor     `json:"actor"`
	DirectoryID   string          `json:"directoryId"`
	DirectoryName string          `json:"directoryName"`
	Action        string          `json:"action"`
	Details       json.RawMessage `json:"details"`
}

type auditPage struct {
	Entries    []auditEntry `json:"entries"`
	NextCursor string       `json:"nextCursor"`
}

func (e auditEntry) details(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Details, &m); err != nil {
		t.Fatalf("details %s: %v", e.Details, err)
	}
	return m
}

// readAudit GETs an audit page and fails unless it is 200.
func (f *fixture) readAudit(t *testing.T, path string) auditPage {
	t.Helper()
	r := f.do(t, http.MethodGet, path, "")
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET %s: %d %s (Cache-Control %q)", path, r.status, r.body, r.header.Get("Cache-Control"))
	}
	return decode[auditPage](t, r)
}

func actions(es []auditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Action
	}
	return out
}

// TestAuditTrail makes every directory change of the admin API, refused
// ones among them, and reads the trail back: one entry per change that
// happened, none for those refused, by the admin token, naming the
// directory and what changed, never a token or key.
func TestAuditTrail(t *testing.T) {
	now := epoch
	f, _ := newSQLiteFixture(t, &now)
	d := f.create(t, "Contoso")
	base := "/admin/v1/directories/" + d.ID
	mustStatus := func(method, path, body string, want int) response {
		t.Helper()
		r := f.do(t, method, path, body)
		if r.status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
		}
		return r
	}
	mustStatus(http.MethodPatch, base, `{"name":"Contoso EU"}`, http.StatusOK)
	rotated := decode[directory](t, mustStatus(http.MethodPost, base+"/token", `{"graceSeconds":3600}`, http.StatusOK))
	key := decode[struct{ ID, Key string }](t, mustStatus(http.MethodPost, base+"/api-keys", `{"name":"Wallboard"}`, http.StatusCreated))
	mustStatus(http.MethodDelete, base+"/api-keys/"+key.ID, "", http.StatusNoContent)
	mustStatus(http.MethodPut, base+"/mapping", `{"phonePolicy":"lenient","required":["userName"]}`, http.StatusOK)
	// Refused: nothing changes, nothing is recorded.
	mustStatus(http.MethodPatch, base, `{"name":""}`, http.StatusBadRequest)
	mustStatus(http.MethodPatch, "/admin/v1/directories/"+"0fcf6886-abc4-41a2-b0e9-def32ac0295c", `{"name":"x"}`, http.StatusNotFound)
	mustStatus(http.MethodPost, base+"/token", `{"graceSeconds":-1}`, http.StatusBadRequest)
	mustStatus(http.MethodPut, base+"/mapping", `{"phonePolicy":"loose"}`, http.StatusBadRequest)
	mustStatus(http.MethodDelete, base+"/api-keys/"+key.ID, "", http.StatusNotFound)
	mustStatus(http.MethodPost, base+"/api-keys", `{"name":"x","colour":"red"}`, http.StatusBadRequest)
	other := f.create(t, "Fabrikam")
	mustStatus(http.MethodDelete, base, "", http.StatusNoContent)

	page := f.readAudit(t, "/admin/v1/audit")
	want := []string{store.AuditDirectoryDeleted, store.AuditDirectoryCreated, store.AuditMappingReplaced, store.AuditAPIKeyRevoked,
		store.AuditAPIKeyCreated, store.AuditSCIMTokenRotated, store.AuditDirectoryRenamed, store.AuditDirectoryCreated}
	if got := actions(page.Entries); !slices.Equal(got, want) {
		t.Fatalf("audit trail = %q, want %q", got, want)
	}
	for i, e := range page.Entries {
		if e.Actor != (store.Actor{Type: store.ActorAdminToken}) || e.Time.IsZero() || e.Time.Location() != time.UTC {
			t.Errorf("entry %d: actor %+v at %v", i, e.Actor, e.Time)
		}
		if i > 0 && (e.ID >= page.Entries[i-1].ID || e.Time.After(page.Entries[i-1].Time)) {
			t.Errorf("entry %d (%d at %v) is not older than the one before", i, e.ID, e.Time)
		}
		wantDir, wantName := d.ID, "Contoso EU"
		switch {
		case i == 1:
			wantDir, wantName = other.ID, "Fabrikam"
		case i == 7:
			wantName = "Contoso" // the name the change left
		}
		if e.DirectoryID != wantDir || e.DirectoryName != wantName {
			t.Errorf("entry %d %s: directory %s %q, want %s %q", i, e.Action, e.DirectoryID, e.DirectoryName, wantDir, wantName)
		}
	}
	byAction := func(action string) map[string]any {
		i := slices.Index(actions(page.Entries), action)
		return page.Entries[i].details(t)
	}
	checkDetails := func(action string, want map[string]any) {
		t.Helper()
		got := byAction(action)
		for k, v := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s details %v: %s = %v, want %v", action, got, k, got[k], v)
			}
		}
	}
	checkDetails(store.AuditDirectoryRenamed, map[string]any{"oldName": "Contoso", "newName": "Contoso EU"})
	checkDetails(store.AuditSCIMTokenRotated, map[string]any{"graceSeconds": 3600, "previousTokenValidUntil": "2026-03-04T10:00:00Z"})
	checkDetails(store.AuditAPIKeyCreated, map[string]any{"apiKeyId": key.ID, "name": "Wallboard"})
	checkDetails(store.AuditAPIKeyRevoked, map[string]any{"apiKeyId": key.ID, "name": "Wallboard"})
	checkDetails(store.AuditMappingReplaced, map[string]any{"changed": []any{"phonePolicy", "required"}})
	if rules, _ := byAction(store.AuditMappingReplaced)["rules"].(map[string]any); rules["phonePolicy"] != "lenient" {
		t.Errorf("mapping.replaced does not hold the new rules: %v", rules)
	}
	r := f.do(t, http.MethodGet, "/admin/v1/audit", "")
	for _, secret := range []string{d.SCIMToken, rotated.SCIMToken, other.SCIMToken, key.Key, "scimd_"} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("the audit trail shows %q: %s", secret, r.body)
		}
	}

	// The deleted directory's trail is still served, by itself.
	own := f.readAudit(t, base+"/audit")
	if got := actions(own.Entries); !slices.Equal(got, slices.Delete(slices.Clone(want), 1, 2)) {
		t.Errorf("deleted directory's trail = %q", got)
	}
	if got := actions(f.readAudit(t, "/admin/v1/audit?directory="+other.ID).Entries); !slices.Equal(got, []string{store.AuditDirectoryCreated}) {
		t.Errorf("filtered by directory: %q", got)
	}
	wantError(t, f.do(t, http.MethodGet, "/admin/v1/directories/0fcf6886-abc4-41a2-b0e9-def32ac0295c/audit", ""), http.StatusNotFound, "not_found")
	wantError(t, f.do(t, http.MethodGet, "/admin/v1/directories/not-a-uuid/audit", ""), http.StatusNotFound, "not_found")
}

// TestAuditQuery checks the filters and the paging of the trail.
func TestAuditQuery(t *testing.T) {
	now := epoch
	f, _ := newSQLiteFixture(t, &now)
	a, b := f.create(t, "a"), f.create(t, "b")
	for i := range 3 {
		for _, d := range []directory{a, b} {
			if r := f.do(t, http.MethodPatch, "/admin/v1/directories/"+d.ID, fmt.Sprintf(`{"name":"%s%d"}`, d.Name, i)); r.status != http.StatusOK {
				t.Fatal(r.status)
			}
		}
	}
	all := f.readAudit(t, "/admin/v1/audit").Entries
	if len(all) != 8 || all[len(all)-1].DirectoryID != a.ID || all[len(all)-1].Action != store.AuditDirectoryCreated {
		t.Fatalf("trail: %+v", all)
	}
	if got := actions(f.readAudit(t, "/admin/v1/audit?action=directory.created").Entries); !slices.Equal(got, []string{"directory.created", "directory.created"}) {
		t.Errorf("action filter: %q", got)
	}
	if es := f.readAudit(t, "/admin/v1/directories/"+b.ID+"/audit?action=directory.renamed").Entries; len(es) != 3 || es[0].DirectoryName != "b2" {
		t.Errorf("a directory's renames: %+v", es)
	}
	// Time bounds are inclusive, in any zone.
	mid := all[3].Time
	since := f.readAudit(t, "/admin/v1/audit?since="+url.QueryEscape(mid.In(time.FixedZone("", 3600)).Format(time.RFC3339Nano))).Entries
	until := f.readAudit(t, "/admin/v1/audit?until="+url.QueryEscape(mid.Format(time.RFC3339Nano))).Entries
	if len(since) != 4 || len(until) != 5 || since[3].ID != all[3].ID || until[0].ID != all[3].ID {
		t.Errorf("since %v: %d entries; until: %d", mid, len(since), len(until))
	}

	// Paging visits every entry once, newest first, while new ones
	// arrive; the last page has no nextCursor.
	for _, limit := range []int{1, 3, 8, 1000} {
		var ids []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			p := f.readAudit(t, fmt.Sprintf("/admin/v1/audit?limit=%d&cursor=%s&until=%s", limit, url.QueryEscape(cursor),
				url.QueryEscape(all[0].Time.Format(time.RFC3339Nano))))
			for _, e := range p.Entries {
				ids = append(ids, e.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
			if r := f.do(t, http.MethodPatch, "/admin/v1/directories/"+a.ID, fmt.Sprintf(`{"name":"a-%d-%d"}`, limit, pages)); r.status != http.StatusOK {
				t.Fatal(r.status)
			}
		}
		var want []int64
		for _, e := range all {
			want = append(want, e.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("limit %d: ids %v, want %v", limit, ids, want)
		}
	}
	if r := f.do(t, http.MethodGet, "/admin/v1/audit?since=2030-01-01T00:00:00Z", ""); !strings.Contains(string(r.body), `"entries":[]`) ||
		strings.Contains(string(r.body), "nextCursor") {
		t.Errorf("empty page: %s", r.body)
	}

	for _, tc := range []struct{ query, names string }{
		{"?action=directory.exploded", `"action"`},
		{"?directory=contoso", `"directory"`},
		{"?since=yesterday", `"since"`},
		{"?since=2026-03-05T00:00:00Z&until=2026-03-04T00:00:00Z", `"until"`},
		{"?limit=0", `"limit"`},
		{"?limit=1001", `"limit"`},
		{"?cursor=!!", `"cursor"`},
		{"?status=failed", `"status"`},
		{"?limit=1&limit=2", `"limit"`},
	} {
		e := wantError(t, f.do(t, http.MethodGet, "/admin/v1/audit"+tc.query, ""), http.StatusBadRequest, "invalid_parameter")
		if !strings.Contains(e.Error.Message, tc.names) {
			t.Errorf("%s: message %q does not name %s", tc.query, e.Error.Message, tc.names)
		}
	}
	// A directory's trail takes no directory filter.
	wantError(t, f.do(t, http.MethodGet, "/admin/v1/directories/"+a.ID+"/audit?directory="+b.ID, ""), http.StatusBadRequest, "invalid_parameter")
	wantError(t, f.do(t, http.MethodPost, "/admin/v1/audit", ""), http.StatusMethodNotAllowed, "method_not_allowed")
	if r := f.doAuth(t, http.MethodGet, "/admin/v1/audit", "", ""); r.status != http.StatusUnauthorized {
		t.Errorf("audit without the admin token: %d", r.status)
	}
}

// TestTokenRotationGrace: the rotation answer says until when the
// replaced token works; a second rotation replaces the previous token;
// bad grace values are refused naming graceSeconds.
func TestTokenRotationGrace(t *testing.T) {
	now := epoch.Add(300 * time.Millisecond)
	f, db := newSQLiteFixture(t, &now)
	d := f.create(t, "Contoso")
	path := "/admin/v1/directories/" + d.ID + "/token"
	rotate := func(body string) (directory, map[string]any) {
		t.Helper()
		r := f.do(t, http.MethodPost, path, body)
		if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("rotate %s: %d %s", body, r.status, r.body)
		}
		var raw map[string]any
		_ = json.Unmarshal(r.body, &raw)
		return decode[directory](t, r), raw
	}
	stored := func() store.Directory {
		t.Helper()
		got, err := db.GetDirectory(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	// A grace period keeps the old token, to the second rounded up.
	first, raw := rotate(`{"graceSeconds": 3600}`)
	if raw["previousTokenValidUntil"] != "2026-03-04T10:00:01Z" {
		t.Errorf("previousTokenValidUntil = %v, want 2026-03-04T10:00:01Z", raw["previousTokenValidUntil"])
	}
	s := stored()
	if !store.TokenMatches(first.SCIMToken, s.SCIMTokenHash) || !store.TokenMatches(d.SCIMToken, s.PreviousTokenHash) ||
		!s.PreviousTokenExpires.Equal(time.Date(2026, 3, 4, 10, 0, 1, 0, time.UTC)) {
		t.Errorf("stored after a rotation with grace: %+v", s)
	}
	if !s.AcceptsToken(d.SCIMToken, now.Add(time.Hour)) || s.AcceptsToken(d.SCIMToken, now.Add(time.Hour+time.Second)) {
		t.Error("the previous token's window is not the one answered")
	}
	// GET shows it while it lasts.
	r := f.do(t, http.MethodGet, "/admin/v1/directories/"+d.ID, "")
	if !strings.Contains(string(r.body), `"previousTokenValidUntil":"2026-03-04T10:00:01Z"`) {
		t.Errorf("GET during the grace period: %s", r.body)
	}
	now = now.Add(2 * time.Hour)
	if r := f.do(t, http.MethodGet, "/admin/v1/directories/"+d.ID, ""); strings.Contains(string(r.body), "previousTokenValidUntil") {
		t.Errorf("GET after the grace period: %s", r.body)
	}

	// A second rotation replaces the previous token: the first one stops.
	now = epoch
	second, _ := rotate(`{"graceSeconds":60}`)
	s = stored()
	if !store.TokenMatches(first.SCIMToken, s.PreviousTokenHash) || s.AcceptsToken(d.SCIMToken, now) ||
		!s.AcceptsToken(second.SCIMToken, now) || !s.AcceptsToken(first.SCIMToken, now) {
		t.Errorf("stored after a second rotation: %+v", s)
	}

	// No body, an empty body, {} and 0: the old token stops at once, and
	// the answer says so with the rotation's time.
	for _, body := range []string{"", " \n", "{}", `{"graceSeconds":0}`, `{"graceSeconds":null}`} {
		prev, _ := rotate(`{"graceSeconds":60}`)
		_, raw := rotate(body)
		if raw["previousTokenValidUntil"] != "2026-03-04T09:00:00Z" {
			t.Errorf("%q: previousTokenValidUntil = %v, want the rotation's time", body, raw["previousTokenValidUntil"])
		}
		if s := stored(); s.PreviousTokenHash != nil || !s.PreviousTokenExpires.IsZero() || s.AcceptsToken(prev.SCIMToken, now) {
			t.Errorf("%q: a previous token is kept: %+v", body, s)
		}
	}
	// The longest grace is 7 days.
	if _, raw := rotate(`{"graceSeconds":604800}`); raw["previousTokenValidUntil"] != "2026-03-11T09:00:00Z" {
		t.Errorf("7 days: %v", raw["previousTokenValidUntil"])
	}

	before := stored()
	for _, tc := range []struct{ body, code string }{
		{`{"graceSeconds":-1}`, "invalid_field"},
		{`{"graceSeconds":604801}`, "invalid_field"},
		{`{"graceSeconds":1.5}`, "invalid_field"},
		{`{"graceSeconds":"3600"}`, "invalid_field"},
		{`{"graceSeconds":1e300}`, "invalid_field"},
		{`{"grace":3600}`, "unknown_field"},
		{`[3600]`, "malformed_json"},
		{`{"graceSeconds":3600`, "malformed_json"},
	} {
		e := wantError(t, f.do(t, http.MethodPost, path, tc.body), http.StatusBadRequest, tc.code)
		if !strings.Contains(e.Error.Message, "grace") && tc.code != "malformed_json" {
			t.Errorf("%s: message %q does not name the field", tc.body, e.Error.Message)
		}
	}
	wantError(t, f.do(t, http.MethodPost, path, `{"graceSeconds":`+strings.Repeat("1", 5000)+`}`), http.StatusRequestEntityTooLarge, "body_too_large")
	if after := stored(); !after.Updated.Equal(before.Updated) {
		t.Error("a refused rotation changed the directory")
	}
}

// TestAuditPresence checks the presence actions' entries: connect with
// the customer's app (a refused connect records nothing), revoke, and the
// consent flow, whose completion is recorded as done by the consent
// callback and only when consent was granted.
func TestAuditPresence(t *testing.T) {
	f := newPresenceFixture(t, presenceOptions{serviceApp: true})
	d := f.newDirectory("Contoso", "")
	trail := func() []auditEntry {
		t.Helper()
		r := f.req(http.MethodGet, "/admin/v1/directories/"+d.ID+"/audit", adminToken, "")
		if r.status != http.StatusOK {
			t.Fatalf("audit: %d %s", r.status, r.body)
		}
		for _, s := range []string{graphSecret, "wrong-secret-value"} {
			if strings.Contains(string(r.body), s) {
				t.Errorf("the audit trail shows the secret %q", s)
			}
		}
		return decode[auditPage](t, r).Entries
	}
	if r := f.admin(http.MethodPut, d, "", secretBody("wrong-secret-value")); r.status != http.StatusBadRequest {
		t.Fatalf("connect with a wrong secret: %d %s", r.status, r.body)
	}
	// newDirectory made the directory and a lookup key.
	if got := actions(trail()); !slices.Equal(got, []string{store.AuditAPIKeyCreated, store.AuditDirectoryCreated}) {
		t.Errorf("after a refused connect: %q", got)
	}
	f.connect(d)
	es := trail()
	if es[0].Action != store.AuditPresenceConnected || es[0].Actor.Type != store.ActorAdminToken {
		t.Fatalf("after connect: %+v", es[0])
	}
	if det := es[0].details(t); det["tenantId"] != tenantID || det["clientId"] != fakegraph.DefaultClientID ||
		det["credential"] != "secret" || det["state"] != "connected" {
		t.Errorf("presence.connected details: %v", det)
	}
	if r := f.admin(http.MethodDelete, d, "", ""); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if es := trail(); es[0].Action != store.AuditPresenceRevoked || es[0].details(t)["credentialsDeleted"] != true {
		t.Errorf("after revoke: %+v %s", es[0], es[0].Details)
	}

	// Consent: declined, then granted.
	f.graph.DenyConsent()
	callback, _ := f.consent(d)
	if p := f.page(callback); p.status != http.StatusBadRequest {
		t.Fatalf("declined consent: %d", p.status)
	}
	if got := actions(trail())[:2]; !slices.Equal(got, []string{store.AuditPresenceConsentStarted, store.AuditPresenceRevoked}) {
		t.Errorf("after a declined consent: %q", got)
	}
	f.graph.GrantConsent()
	callback, _ = f.consent(d)
	if p := f.page(callback); p.status != http.StatusOK {
		t.Fatalf("granted consent: %d", p.status)
	}
	es = trail()
	want := []string{store.AuditPresenceConsentCompleted, store.AuditPresenceConsentStarted, store.AuditPresenceConsentStarted,
		store.AuditPresenceRevoked, store.AuditPresenceConnected, store.AuditAPIKeyCreated, store.AuditDirectoryCreated}
	if got := actions(es); !slices.Equal(got, want) {
		t.Fatalf("trail = %q, want %q", got, want)
	}
	if es[0].Actor.Type != store.ActorConsentCallback || es[1].Actor.Type != store.ActorAdminToken {
		t.Errorf("actors: consent completed by %+v, started by %+v", es[0].Actor, es[1].Actor)
	}
	if det := es[0].details(t); det["state"] != "connected" || det["credential"] != "service" || det["tenantId"] == "" {
		t.Errorf("presence.consent_completed details: %v", det)
	}
}

// TestAdminOpenAPIServed: the document needs no token, the endpoints it
// describes still do.
func TestAdminOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	r := f.doAuth(t, http.MethodGet, "/admin/v1/openapi.json", "", "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", r.status, r.header.Get("Content-Type"))
	}
	var doc struct {
		Info  struct{ Title string }
		Paths map[string]any
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.Info.Title != "scimd admin API" || doc.Paths["/admin/v1/audit"] == nil {
		t.Errorf("not the admin document: %v %+v", err, doc.Info)
	}
	wantError(t, f.doAuth(t, http.MethodPost, "/admin/v1/openapi.json", "", ""), http.StatusMethodNotAllowed, "method_not_allowed")
	wantError(t, f.doAuth(t, http.MethodGet, "/admin/v1/openapi.json?x=1", "", ""), http.StatusBadRequest, "invalid_parameter")
	wantError(t, f.doAuth(t, http.MethodGet, "/admin/v1/directories", "", ""), http.StatusUnauthorized, "unauthorized")
}
