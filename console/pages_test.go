package console

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/presence/fakegraph"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// objectID is the Entra object id userJSON gives userName.
func objectID(userName string) string {
	sum := sha256.Sum256([]byte(userName))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// newPagesFixture is newFixture with the lookup API's reads in the
// console and the SCIM and lookup endpoints on the same server, so that
// tests provision users as Entra does and read them as CX does.
func newPagesFixture(t *testing.T) *fixture { return newPresenceFixture(t, nil) }

// newPresenceFixture is newPagesFixture with Teams presence through a
// fake Graph (nil: without the presence service).
func newPresenceFixture(t *testing.T, graph *fakegraph.Server) *fixture {
	t.Helper()
	f := &fixture{t: t, store: teststore.Open(t, teststore.Options{})}
	const publicURL = "http://localhost:8080"
	var svc *presence.Service
	if graph != nil {
		gsrv := httptest.NewServer(graph)
		t.Cleanup(gsrv.Close)
		cfg := presence.Config{Store: f.store, Key: bytes.Repeat([]byte{7}, 32), LoginURL: gsrv.URL, GraphURL: gsrv.URL,
			Interval: 50 * time.Millisecond, PublicURL: publicURL, Registerer: prometheus.NewRegistry()}
		cfg.Shared, _ = f.store.(store.Shared)
		var err error
		if svc, err = presence.New(cfg); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = svc.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	f.admin = api.NewAdmin(api.AdminConfig{Store: f.store, PublicURL: publicURL, AdminTokenHash: store.HashToken(adminToken), Now: f.now, Presence: svc})
	lookup := api.NewLookup(api.LookupConfig{Store: f.store, AdminTokenHash: store.HashToken(adminToken), Presence: svc, Heartbeat: 100 * time.Millisecond})
	f.console = New(Config{Admin: f.admin, Lookup: lookup, AdminTokenHash: store.HashToken(adminToken), PublicURL: publicURL, Now: f.now})
	r := mux.NewRouter()
	scim.New(scim.Config{Store: f.store, PublicURL: publicURL}).Register(r)
	lookup.Register(r)
	f.admin.Register(r)
	f.console.Register(r)
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

// regexpFind returns the first group of pattern's first match in s.
func regexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in the page", pattern)
	}
	return m[1]
}

// scimCreate provisions a user over SCIM with the directory's token and
// returns its status and body.
func (f *fixture) scimCreate(d api.Directory, body string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/scim/v2/"+d.ID+"/Users", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.SCIMToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// userJSON is a SCIM user as Entra sends it; its externalId (the Entra
// object id) is derived from its userName.
func userJSON(userName, given, family, phone string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `","externalId":"` + objectID(userName) +
		`","active":true,"displayName":"` + given + ` ` + family + `",` +
		`"name":{"givenName":"` + given + `","familyName":"` + family + `"},` +
		`"emails":[{"type":"work","value":"` + userName + `","primary":true}],` +
		`"phoneNumbers":[{"type":"work","value":"` + phone + `"}]}`
}

// TestAPIKeysPage: a key is shown once, in the answer that created it,
// works on the lookup API, is listed without its secret, and stops
// working when revoked; a refused name is the API's message.
func TestAPIKeysPage(t *testing.T) {
	f := newPagesFixture(t)
	d := f.directory("Contoso")
	b := f.browser()
	b.signIn()
	base := "/console/directories/" + d.ID + "/api-keys"
	if p := b.get(base); p.status != http.StatusOK || !strings.Contains(p.body, "No API keys yet") {
		t.Fatalf("empty list: %d", p.status)
	}
	p := b.post(base, url.Values{"name": {"CX production"}}, "")
	key := regexpFind(t, p.body, `id="new-key"[^>]*value="(scimd_key_[^"]+)"`)
	if p.status != http.StatusOK || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %s", p.status, p.header.Get("Cache-Control"))
	}
	if st := lookupStatus(t, f, d.ID, key); st != http.StatusOK {
		t.Fatalf("the new key on the lookup API: %d", st)
	}
	p = b.get(base)
	if strings.Contains(p.body, key) || !strings.Contains(p.body, "CX production") {
		t.Fatal("the list shows the key's secret, or not its name")
	}
	if p := b.post(base, url.Values{"name": {"  "}}, ""); p.status != http.StatusBadRequest || !strings.Contains(p.body, `field &#34;name&#34; must not be empty`) {
		t.Errorf("empty name: %d %s", p.status, p.body)
	}
	keys, _ := f.admin.ListAPIKeys(t.Context(), d.ID)
	if len(keys) != 1 {
		t.Fatalf("%d keys", len(keys))
	}
	b.get(base)
	if p := b.post(base+"/"+keys[0].ID+"/revoke", nil, ""); p.status != http.StatusSeeOther || !strings.HasSuffix(p.header.Get("Location"), "?done=key-revoked") {
		t.Fatalf("revoke: %d %s", p.status, p.header.Get("Location"))
	}
	if st := lookupStatus(t, f, d.ID, key); st != http.StatusUnauthorized {
		t.Errorf("a revoked key on the lookup API: %d", st)
	}
	if p := b.get(base + "?done=key-revoked"); !strings.Contains(p.body, "The API key was revoked") || strings.Contains(p.body, "CX production") {
		t.Error("after revoking: no message, or the key still listed")
	}
	// A key of another directory, or none, is not found.
	if p := b.post(base+"/"+keys[0].ID+"/revoke", nil, ""); p.status != http.StatusNotFound {
		t.Errorf("revoke twice: %d", p.status)
	}
	entries, _ := f.store.ListAudit(t.Context(), store.AuditQuery{DirectoryID: d.ID, Limit: 10})
	var created, revoked bool
	for _, e := range entries {
		created = created || e.Action == store.AuditAPIKeyCreated && e.Actor.Type == store.ActorConsole
		revoked = revoked || e.Action == store.AuditAPIKeyRevoked && e.Actor.Type == store.ActorConsole
	}
	if !created || !revoked {
		t.Errorf("audit trail: created %v, revoked %v (actor: the console)", created, revoked)
	}
}

func lookupStatus(t *testing.T, f *fixture, dirID, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v1/directories/"+dirID+"/contacts", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSyncLogPage: the summary counts, the table, filters by status and
// resource, paging, a refused filter with the API's message, and the
// CSV download: the admin API's, with the same filters.
func TestSyncLogPage(t *testing.T) {
	f := newPagesFixture(t)
	d := f.directory("Contoso")
	for i, phone := range []string{"+14255550100", "555 1234", "+14255550102"} {
		f.scimCreate(d, userJSON("user"+string(rune('a'+i))+"@contoso.com", "User", string(rune('A'+i)), phone))
	}
	b := f.browser()
	b.signIn()
	base := "/console/directories/" + d.ID + "/sync-log"
	p := b.get(base)
	if p.status != http.StatusOK {
		t.Fatalf("sync log: %d", p.status)
	}
	for _, want := range []string{`id="sum-total">3<`, `id="sum-success">2<`, `id="sum-failed">1<`, "userb@contoso.com", "is not E.164", "usera@contoso.com"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("sync log page lacks %q", want)
		}
	}
	p = b.get(base + "?status=failed&resource=user&period=24h")
	if !strings.Contains(p.body, "userb@contoso.com") || strings.Contains(p.body, "usera@contoso.com") {
		t.Error("status filter: wrong rows")
	}
	if p := b.get(base + "?resource=group"); !strings.Contains(p.body, "No events match these filters") {
		t.Error("resource filter: groups")
	}
	if p := b.get(base + "?status=maybe"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "parameter &#34;status&#34; must be success or failed") {
		t.Errorf("bad status: %d", p.status)
	}
	if p := b.get(base + "?period=custom&from=yesterday"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "From: enter a date and time") {
		t.Errorf("bad from: %d", p.status)
	}
	if p := b.get(base + "?period=custom&from=2099-01-01T00:00"); !strings.Contains(p.body, "No events match") {
		t.Error("a range in the future shows events")
	}
	// Paging: 50 a page; 60 events make two.
	for i := range 57 {
		_ = f.store.RecordSyncEvent(t.Context(), store.SyncEvent{DirectoryID: d.ID, Operation: "create", ResourceType: "User",
			Identity: "bulk" + strings.Repeat("x", i%3) + "@contoso.com", Failed: true, Result: "refused"})
	}
	p = b.get(base)
	older := regexpFind(t, p.body, `href="([^"]+)" id="older"`)
	p2 := b.get(strings.ReplaceAll(older, "&amp;", "&"))
	if p2.status != http.StatusOK || !strings.Contains(p2.body, "usera@contoso.com") || strings.Contains(p2.body, `id="older"`) || !strings.Contains(p2.body, "← Newest") {
		t.Errorf("second page: %d", p2.status)
	}

	// The CSV: the admin API's, for the filters of the page.
	csvURL := strings.ReplaceAll(regexpFind(t, b.get(base+"?status=failed").body, `id="download-csv" href="([^"]+)"`), "&amp;", "&")
	p = b.get(csvURL)
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(p.header.Get("Content-Disposition"), `filename="sync-log-Contoso-`) {
		t.Fatalf("CSV: %d %v", p.status, p.header)
	}
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil || len(rows) != 1+58 || rows[0][0] != "Time" || rows[0][6] != "Sync Status" {
		t.Fatalf("CSV: %d rows, %v", len(rows), err)
	}
	for _, row := range rows[1:] {
		if row[6] != "Failed" {
			t.Fatalf("a failed-only CSV holds %v", row)
		}
	}
	// Byte for byte the admin API's.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/admin/v1/directories/"+d.ID+"/sync-log.csv?status=failed", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	apiCSV, _ := io.ReadAll(resp.Body)
	if string(apiCSV) != p.body || resp.Header.Get("Content-Disposition") != p.header.Get("Content-Disposition") {
		t.Error("the console's CSV is not the admin API's")
	}
}

// TestSyncLogSetupLink: a setup link's session sees its directory's sync
// log and CSV, not another's.
func TestSyncLogSetupLink(t *testing.T) {
	f := newPagesFixture(t)
	a, other := f.directory("Contoso"), f.directory("Fabrikam")
	b := f.browser()
	b.openSetupLink(a.ID)
	for _, path := range []string{"/sync-log", "/sync-log.csv", "/presence"} {
		if p := b.get("/console/directories/" + a.ID + path); p.status != http.StatusOK {
			t.Errorf("%s: %d", path, p.status)
		}
		if p := b.get("/console/directories/" + other.ID + path); p.status != http.StatusForbidden {
			t.Errorf("another directory's %s: %d", path, p.status)
		}
	}
	for _, path := range []string{"/settings", "/contacts", "/api-keys", "/presence/stream"} {
		if p := b.get("/console/directories/" + a.ID + path); p.status != http.StatusForbidden || !strings.Contains(p.body, "Not part of this setup link") {
			t.Errorf("%s: %d", path, p.status)
		}
	}
	p := b.get("/console/directories/" + a.ID)
	if strings.Contains(p.body, "/api-keys\"") || strings.Contains(p.body, "/settings\"") || !strings.Contains(p.body, "/sync-log\"") {
		t.Error("a setup link's navigation lists the operator's pages, or not the sync log")
	}
	if p := b.post("/console/directories/"+a.ID+"/presence/revoke", nil, ""); p.status != http.StatusForbidden {
		t.Errorf("a setup link revokes presence: %d", p.status)
	}
}

// TestContactsPage: search (the page, and the part the script fetches),
// caller-ID with E.164 and national numbers (the lookup API's parsing
// and messages), a contact's details, and escaping of Entra's values.
func TestContactsPage(t *testing.T) {
	f := newPagesFixture(t)
	d := f.directory("Contoso")
	if st, body := f.scimCreate(d, userJSON("alice@contoso.com", "Alice", "<b>Smith</b>", "+442071838750")); st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, body)
	}
	f.scimCreate(d, userJSON("bob@contoso.com", "Bob", "Jones", "+14255550100"))
	b := f.browser()
	b.signIn()
	base := "/console/directories/" + d.ID + "/contacts"
	p := b.get(base)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Alice &lt;b&gt;Smith&lt;/b&gt;") || strings.Contains(p.body, "<b>Smith</b>") || !strings.Contains(p.body, "Bob Jones") {
		t.Fatalf("contacts: %d", p.status)
	}
	p = b.get(base + "/results?q=bob")
	if p.status != http.StatusOK || strings.Contains(p.body, "<html") || !strings.Contains(p.body, "Bob Jones") || strings.Contains(p.body, "Alice") {
		t.Errorf("results part for bob: %d %q", p.status, p.body)
	}
	if p := b.get(base + "?q=nobody"); !strings.Contains(p.body, "No contact matches") {
		t.Error("no match")
	}
	p = b.get(base + "?phone=" + url.QueryEscape("+44 20 7183 8750"))
	if !strings.Contains(p.body, `id="callerid-number">&#43;442071838750<`) || !strings.Contains(p.body, "Alice") || strings.Contains(p.body, "Bob Jones") {
		t.Errorf("caller-ID in E.164: %s", p.body)
	}
	if p := b.get(base + "?phone=020+7183+8750&region=GB"); !strings.Contains(p.body, "Alice") {
		t.Error("caller-ID, national number with its region")
	}
	p = b.get(base + "?phone=020+7183+8750")
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "has no country code") {
		t.Errorf("national number without region: %d", p.status)
	}
	if p := b.get(base + "?phone=123&region=XX"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "ISO 3166-1 alpha-2") {
		t.Errorf("bad region: %d", p.status)
	}
	// Details.
	id := regexpFind(t, b.get(base+"?q=alice").body, `href="/console/directories/`+d.ID+`/contacts/([0-9a-f-]{36})"`)
	p = b.get(base + "/" + id)
	for _, want := range []string{"alice@contoso.com", "&#43;442071838750", "Alice &lt;b&gt;Smith&lt;/b&gt;", `data-presence-for="` + id + `"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("details lack %q", want)
		}
	}
	if p := b.get(base + "/00000000-0000-4000-8000-000000000000"); p.status != http.StatusNotFound || !strings.Contains(p.body, "contact not found") {
		t.Errorf("unknown contact: %d", p.status)
	}
	// Contacts hidden by the visibility rules are hidden here too.
	if _, err := f.admin.ReplaceMapping(t.Context(), d.ID, []byte(`{"visibility":{"domains":["fabrikam.com"]}}`)); err != nil {
		t.Fatal(err)
	}
	if p := b.get(base); strings.Contains(p.body, "Bob Jones") {
		t.Error("a hidden contact is listed")
	}
}

// TestSettingsPage: the form shows the stored rules; a save goes
// through ReplaceMapping (canonical, audited); a refusal lists the API's
// problems beside their fields, keeps what was typed and stores nothing;
// the JSON view saves a document as it is.
func TestSettingsPage(t *testing.T) {
	f := newPagesFixture(t)
	d := f.directory("Contoso")
	b := f.browser()
	b.signIn()
	base := "/console/directories/" + d.ID + "/settings"
	p := b.get(base)
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="field.phone" value="phoneNumbers[type eq &#34;work&#34;].value"`) ||
		!strings.Contains(p.body, `name="required" value="externalId" checked`) {
		t.Fatalf("settings form: %d", p.status)
	}
	form := url.Values{
		"phonePolicy": {"lenient"}, "defaultRegion": {"gb"}, "required": {"userName", "phone"},
		"sync": {"groups"}, "onlyGroups": {"Support*\nSales"}, "excludeGroups": {"Support Managers"}, "domains": {"contoso.com"},
		"cf.name": {"skill", "costCenter", ""}, "cf.source": {"urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", ""},
		"cf.type": {"text", "text", "text"}, "cf.overwrite": {"0"},
	}
	for _, fr := range contactFieldRows {
		form.Set("field."+fr.Key, "")
	}
	form.Set("field.login", "userName")
	form.Set("field.phone", `phoneNumbers[type eq "mobile"].value`)
	form.Set("field.displayName", "displayName")
	p = b.post(base, form, "")
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.header.Get("Location"), "?done=settings-saved") {
		t.Fatalf("save: %d %s", p.status, p.body)
	}
	doc, _ := f.admin.Mapping(t.Context(), d.ID)
	for _, want := range []string{`"phonePolicy":"lenient"`, `"defaultRegion":"GB"`, `"required":["userName","phone"]`, `"phone":"phoneNumbers[type eq \"mobile\"].value"`,
		`"title":""`, `{"name":"skill","source":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill","type":"text","overwrite":true}`,
		`"overwrite":false}`, `"onlyGroups":["Support*","Sales"]`, `"excludeGroups":["Support Managers"]`, `"domains":["contoso.com"]`} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("stored rules lack %s: %s", want, doc)
		}
	}
	p = b.get(base + "?done=settings-saved")
	if !strings.Contains(p.body, "The settings were saved") || !strings.Contains(p.body, `value="groups" id="sync-groups" checked`) || !strings.Contains(p.body, "Support*\nSales") {
		t.Error("the saved form")
	}

	// Refused: every problem, beside its field; nothing stored.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("defaultRegion", "ZZ")
	bad.Set("field.email", "emails[bad")
	bad["cf.name"] = []string{"phones", "skill"}
	bad["cf.source"] = []string{"title", ""}
	bad["cf.type"] = []string{"text", "text"}
	bad.Set("domains", "bob@contoso.com")
	p = b.post(base, bad, "")
	if p.status != http.StatusBadRequest {
		t.Fatalf("refused save: %d", p.status)
	}
	if !strings.Contains(p.body, "5 problems to fix") {
		t.Error("the refusal does not count its problems")
	}
	for _, want := range []string{`defaultRegion: &#34;ZZ&#34; is not a region`, `fields.email: &#34;emails[bad&#34; is not a valid attribute path`,
		`customFields[0].name: &#34;phones&#34; clashes with the built-in contact field`, `customFields[1].source: empty`,
		`visibility.domains[0]: &#34;bob@contoso.com&#34; must be a bare domain`, `value="emails[bad"`, `value="ZZ"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("refused form lacks %s", want)
		}
	}
	// Beside their fields: the email field's problem follows its input.
	if i := strings.Index(p.body, `name="field.email"`); i < 0 || !strings.Contains(p.body[i:min(len(p.body), i+600)], `<li>fields.email:`) {
		t.Errorf("the email field's problem is not beside it")
	}
	if after, _ := f.admin.Mapping(t.Context(), d.ID); string(after) != string(doc) {
		t.Error("a refused form changed the rules")
	}
	// Groups chosen, none listed: refused by the form.
	none := url.Values{}
	for k, v := range form {
		none[k] = v
	}
	none.Set("onlyGroups", " \n ")
	if p := b.post(base, none, ""); p.status != http.StatusBadRequest || !strings.Contains(p.body, "list at least one group") {
		t.Errorf("groups without a group: %d", p.status)
	}
	// Removing a custom field.
	rm := url.Values{}
	for k, v := range form {
		rm[k] = v
	}
	rm.Set("cf.remove", "0")
	if p := b.post(base, rm, ""); p.status != http.StatusSeeOther {
		t.Fatalf("remove: %d", p.status)
	}
	if doc, _ := f.admin.Mapping(t.Context(), d.ID); strings.Contains(string(doc), `"skill"`) || !strings.Contains(string(doc), `"costCenter"`) {
		t.Errorf("after removing skill: %s", doc)
	}

	// The JSON view.
	b.get(base)
	if p := b.post(base+"/json", url.Values{"document": {`{"phonePolicy":"loose"}`}}, ""); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, `phonePolicy: &#34;loose&#34; must be &#34;strict&#34; or &#34;lenient&#34;`) || !strings.Contains(p.body, `{&#34;phonePolicy&#34;:&#34;loose&#34;}`) {
		t.Errorf("refused JSON: %d", p.status)
	}
	if p := b.post(base+"/json", url.Values{"document": {`{"required":["userName"]}`}}, ""); p.status != http.StatusSeeOther {
		t.Errorf("JSON save: %d %s", p.status, p.body)
	}
	if doc, _ := f.admin.Mapping(t.Context(), d.ID); !strings.Contains(string(doc), `"required":["userName"]`) || !strings.Contains(string(doc), `"phonePolicy":"strict"`) {
		t.Errorf("after the JSON save: %s", doc)
	}
	entries, _ := f.store.ListAudit(context.Background(), store.AuditQuery{DirectoryID: d.ID, Limit: 20})
	n := 0
	for _, e := range entries {
		if e.Action == store.AuditMappingReplaced && e.Actor.Type == store.ActorConsole {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d mapping changes audited, want 3", n)
	}
}

const tenantID = "22222222-2222-4222-8222-222222222222"

// connect connects the directory's presence with the customer's app, as
// the wizard's form does.
func (f *fixture) connect(d api.Directory) {
	f.t.Helper()
	st, err := f.admin.ConnectPresence(f.t.Context(), d.ID, presence.Credentials{TenantID: tenantID,
		ClientID: fakegraph.DefaultClientID, ClientSecret: fakegraph.DefaultClientSecret})
	if err != nil || st.State != store.PresenceConnected {
		f.t.Fatalf("connect presence: %+v %v", st, err)
	}
}

// TestPresencePage: the state and figures of the connection; Remove
// access answers with the Entra-side steps, ends the polling and clears
// the contacts' presence; the sync log and the audit trail record it.
func TestPresencePage(t *testing.T) {
	graph := fakegraph.New(fakegraph.Config{})
	f := newPresenceFixture(t, graph)
	d := f.directory("Contoso")
	f.scimCreate(d, userJSON("alice@contoso.com", "Alice", "Smith", "+442071838750"))
	graph.SetPresence(objectID("alice@contoso.com"), "Busy", "InACall")
	b := f.browser()
	b.signIn()
	base := "/console/directories/" + d.ID + "/presence"
	p := b.get(base)
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-state="not_connected"`) || strings.Contains(p.body, `id="remove-access"`) {
		t.Fatalf("before connecting: %d", p.status)
	}
	f.connect(d)
	var body string
	for range 100 { // the first poll
		body = b.get(base).body
		if strings.Contains(body, `id="polled">1<`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{`data-state="connected"`, tenantID, "your app registration, with a client secret", `id="polled">1<`, `id="remove-access"`} {
		if !strings.Contains(body, want) {
			t.Errorf("connected page lacks %s", want)
		}
	}
	contact := regexpFind(t, b.get("/console/directories/"+d.ID+"/contacts").body, `data-presence-for="([^"]+)">Busy · In a call<`)

	p = b.post(base+"/revoke", nil, "")
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="azure-steps"`) || !strings.Contains(p.body, "App registrations") ||
		!strings.Contains(p.body, fakegraph.DefaultClientID) || !strings.Contains(p.body, `data-state="revoked"`) || strings.Contains(p.body, `id="remove-access"`) {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	if strings.Contains(b.get("/console/directories/"+d.ID+"/contacts/"+contact).body, "Busy") {
		t.Error("the contact's presence outlived the revocation")
	}
	if log := b.get("/console/directories/" + d.ID + "/sync-log?resource=presence").body; !strings.Contains(log, "revoke") || !strings.Contains(log, "connect") {
		t.Error("the sync log lacks the connect and the revoke")
	}
	// Again: nothing left to remove; the page still answers.
	if p := b.get(base); p.status != http.StatusOK || strings.Contains(p.body, `id="azure-steps"`) {
		t.Errorf("after revoking: %d", p.status)
	}
}

// TestPresenceStream: the console's stream sends a contact's change in
// the lookup API's format to a signed-in operator; signing out ends it at
// the next heartbeat; without a session it does not open.
func TestPresenceStream(t *testing.T) {
	graph := fakegraph.New(fakegraph.Config{})
	f := newPresenceFixture(t, graph)
	d := f.directory("Contoso")
	f.scimCreate(d, userJSON("alice@contoso.com", "Alice", "Smith", "+442071838750"))
	f.connect(d)
	b := f.browser()
	b.signIn()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/console/directories/"+d.ID+"/presence/stream", nil)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	graph.SetPresence(objectID("alice@contoso.com"), "DoNotDisturb", "Presenting")
	deadline := time.After(10 * time.Second)
	var got []string
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended: %q", got)
			}
			got = append(got, l)
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, `"availability":"DoNotDisturb"`) {
				break wait
			}
		case <-deadline:
			t.Fatalf("no presence event: %q", got)
		}
	}
	if got[0] != "retry: 5000" || !slicesContainsPrefix(got, "event: presence") || !slicesContainsPrefix(got, "id: ") {
		t.Errorf("not the lookup API's format: %q", got)
	}
	// Sign out: the stream ends at its next heartbeat.
	b.get("/console/directories")
	b.post("/console/sign-out", nil, "")
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				goto ended
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the stream outlived its session")
		}
	}
ended:
	anon := f.browser()
	if p := anon.get("/console/directories/" + d.ID + "/presence/stream"); p.status != http.StatusSeeOther {
		t.Errorf("stream without a session: %d", p.status)
	}
}

func slicesContainsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestPagesEscaping: a directory, a user and a sync log result named
// like scripts are text on every page of a directory; the pages carry
// no inline script or style.
func TestPagesEscaping(t *testing.T) {
	f := newPagesFixture(t)
	const evil = `<script>alert(1)</script>`
	d := f.directory(evil)
	f.scimCreate(d, userJSON("eve@contoso.com", evil, "Smith", "+442071838750"))
	_ = f.store.RecordSyncEvent(t.Context(), store.SyncEvent{DirectoryID: d.ID, Operation: "create", ResourceType: "User",
		Identity: evil, Failed: true, Result: evil})
	b := f.browser()
	b.signIn()
	id := regexpFind(t, b.get("/console/directories/"+d.ID+"/contacts").body, `/contacts/([0-9a-f-]{36})"`)
	for _, path := range []string{"/settings", "/sync-log", "/contacts", "/contacts/results?q=eve", "/contacts/" + id, "/presence", "/api-keys"} {
		p := b.get("/console/directories/" + d.ID + path)
		if p.status != http.StatusOK || strings.Contains(p.body, evil) || !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: %d, escaped: %v", path, p.status, strings.Contains(p.body, "&lt;script&gt;"))
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") || strings.Contains(p.body, " onclick=") {
			t.Errorf("%s: inline script or style", path)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
}
