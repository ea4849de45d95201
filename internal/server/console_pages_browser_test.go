package server

import (
	"context"
	"encoding/csv"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/scimd/scimd/presence/fakegraph"
)

// Browser tests of a directory's pages: contacts (a user provisioned over
// SCIM appears as the admin types; presence changes arrive without a
// reload), the sync log and its CSV download, settings, API keys, and
// Teams presence with Remove access.

const pagesTenant = "33333333-3333-4333-8333-333333333333"

// pagesDirectory creates a directory through the admin API, with Teams
// presence connected with the customer's app when graph is true.
func pagesDirectory(t *testing.T, s *testServer, name string, connect bool) directoryJSON {
	t.Helper()
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"`+name+`"}`))
	if connect {
		body := `{"tenantId":"` + pagesTenant + `","clientId":"` + fakegraph.DefaultClientID + `","clientSecret":"` + fakegraph.DefaultClientSecret + `"}`
		if r := s.do(http.MethodPut, "/admin/v1/directories/"+d.ID+"/presence", testAdminToken, body); r.status != http.StatusOK {
			t.Fatalf("connect presence: %d %s", r.status, r.body)
		}
	}
	return d
}

// provision creates a user over SCIM as Entra does and returns the
// status.
func provision(t *testing.T, s *testServer, d directoryJSON, userName, given, family, phone, objectID string) int {
	t.Helper()
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `","externalId":"` + objectID +
		`","active":true,"displayName":"` + given + ` ` + family + `","name":{"givenName":"` + given + `","familyName":"` + family + `"},` +
		`"title":"Support agent","emails":[{"type":"work","value":"` + userName + `","primary":true}],` +
		`"phoneNumbers":[{"type":"work","value":"` + phone + `"}]}`
	return s.doHeader(http.MethodPost, "/scim/v2/"+d.ID+"/Users", body,
		map[string]string{"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"}).status
}

// poll waits for a JavaScript condition on the page.
func poll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestConsoleBrowserContacts: a user provisioned over SCIM while the
// contacts page is open appears as the admin types its name; caller-ID
// finds it by a national number; its page shows a presence change made
// in (fake) Teams without a reload.
func TestConsoleBrowserContacts(t *testing.T) {
	graph, cfg := consoleGraph(t)
	s := startBrowserServer(t, testOptions{config: cfg, presenceInterval: 50 * time.Millisecond})
	d := pagesDirectory(t, s, "Contoso", true)
	const alice = "aaaaaaaa-1111-4111-8111-111111111111"
	provision(t, s, d, "bob@contoso.com", "Bob", "Jones", "+14255550100", "bbbbbbbb-1111-4111-8111-111111111111")
	graph.SetPresence(alice, "Available", "Available")
	ctx := newTab(t)
	signIn(t, ctx, s, testAdminToken)

	do(t, ctx, "open contacts", chromedp.Navigate(s.url+"/console/directories/"+d.ID+"/contacts"))
	if row := text(t, ctx, "#contacts tbody"); !strings.Contains(row, "Bob Jones") {
		t.Fatalf("contacts: %q", row)
	}
	if st := provision(t, s, d, "alice@contoso.com", "Alice", "Smith", "+442071838750", alice); st != http.StatusCreated {
		t.Fatalf("provision Alice: %d", st)
	}
	// Search as you type: no submit, no new page.
	do(t, ctx, "type a name", chromedp.SendKeys(chromedp.ID("q"), "ali"))
	poll(t, ctx, "Alice appears as the admin types",
		`(() => { const t = document.querySelector("#contacts tbody"); return !!t && t.textContent.includes("Alice Smith") && !t.textContent.includes("Bob Jones"); })()`)
	if u := location(t, ctx); !strings.HasSuffix(u, "/contacts?q=ali") {
		t.Errorf("the address bar keeps the search: %s", u)
	}
	screenshot(t, ctx, "contacts")

	// Caller-ID with a national number and its region.
	do(t, ctx, "type a caller's number", chromedp.SendKeys(chromedp.ID("phone"), "020 7183 8750"), chromedp.SendKeys(chromedp.ID("region"), "GB"))
	submit(t, ctx, "look the number up", "#callerid-form button")
	if n, row := text(t, ctx, "#callerid-number"), text(t, ctx, "#contacts tbody"); n != "+442071838750" || !strings.Contains(row, "Alice Smith") {
		t.Fatalf("caller-ID: %q, %q", n, row)
	}

	// The contact's page: presence live from the stream.
	submit(t, ctx, "open Alice", "#contacts tbody a")
	poll(t, ctx, "the first poll's presence", `document.querySelector("#presence").textContent.startsWith("Available")`)
	graph.SetPresence(alice, "Busy", "InACall")
	poll(t, ctx, "a presence change arrives without a reload",
		`(() => { const p = document.querySelector("#presence"); return p.textContent === "Busy · In a call" && p.dataset.updated === "live" && p.classList.contains("bad"); })()`)
	if g := text(t, ctx, "#phones"); !strings.Contains(g, "+442071838750") {
		t.Errorf("phones: %q", g)
	}
	screenshot(t, ctx, "contact")
}

// TestConsoleBrowserSyncLog: the 24 h summary and the log of what Entra
// sent, filtered to failures; "Download report" saves the admin API's CSV
// with those rows.
func TestConsoleBrowserSyncLog(t *testing.T) {
	s := startBrowserServer(t, testOptions{})
	d := pagesDirectory(t, s, "Contoso", false)
	provision(t, s, d, "alice@contoso.com", "Alice", "Smith", "+442071838750", "aaaaaaaa-1111-4111-8111-111111111111")
	provision(t, s, d, "bob@contoso.com", "Bob", "Jones", "555 1234", "bbbbbbbb-1111-4111-8111-111111111111")
	provision(t, s, d, "carol@contoso.com", "Carol", "White", "+14255550102", "cccccccc-1111-4111-8111-111111111111")
	ctx := newTab(t)
	signIn(t, ctx, s, testAdminToken)
	do(t, ctx, "open the sync log", chromedp.Navigate(s.url+"/console/directories/"+d.ID+"/sync-log"))
	if a, b, c := text(t, ctx, "#sum-total"), text(t, ctx, "#sum-success"), text(t, ctx, "#sum-failed"); a != "3" || b != "2" || c != "1" {
		t.Fatalf("summary %s/%s/%s", a, b, c)
	}
	screenshot(t, ctx, "sync-log")

	do(t, ctx, "filter failures", chromedp.SetValue(chromedp.ID("status"), "failed"))
	submit(t, ctx, "show", ".filters button")
	rows := text(t, ctx, "#sync-log tbody")
	if !strings.Contains(rows, "bob@contoso.com") || strings.Contains(rows, "alice@contoso.com") || !strings.Contains(rows, "is not E.164") {
		t.Fatalf("failures: %q", rows)
	}

	dir := t.TempDir()
	progress := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadProgress)
	do(t, ctx, "download the report",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			// The tab's own browser context (newTab) needs its own setting.
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptrTo(true),
				BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
			})
			return err
		}),
		chromedp.Click(chromedp.ID("download-csv")))
	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatal("the download was canceled")
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || len(recs) != 2 || strings.Join(recs[0], ",") != "Time,Operation,Resource,Resource ID,Email,Type,Sync Status,Result" ||
		recs[1][4] != "bob@contoso.com" || recs[1][6] != "Failed" || !strings.Contains(recs[1][7], "is not E.164") {
		t.Fatalf("the downloaded report: %q, %v", recs, err)
	}
	if api := s.do(http.MethodGet, "/admin/v1/directories/"+d.ID+"/sync-log.csv?status=failed", testAdminToken, ""); string(api.body) != string(b) {
		t.Error("the console's report is not the admin API's CSV")
	}
}

func ptrTo[T any](v T) *T { return &v }

// acceptNextDialog accepts the next confirmation the page opens (a form
// with data-confirm), after checking that it says what it is about.
func acceptNextDialog(t *testing.T, ctx context.Context, says string) {
	t.Helper()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			accept := strings.Contains(ev.Message, says)
			if !accept {
				t.Errorf("confirmation %q does not say %q", ev.Message, says)
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
			return
		}
	}()
}

// TestConsoleBrowserSettingsAndKeys: the settings form refuses bad rules
// with the API's messages beside the fields, and saves good ones; an API
// key is shown once with a copy button and revoked after a confirmation.
func TestConsoleBrowserSettingsAndKeys(t *testing.T) {
	s := startBrowserServer(t, testOptions{})
	d := pagesDirectory(t, s, "Contoso", false)
	ctx := newTab(t)
	signIn(t, ctx, s, testAdminToken)

	do(t, ctx, "open settings", chromedp.Navigate(s.url+"/console/directories/"+d.ID+"/settings"))
	screenshot(t, ctx, "settings")
	do(t, ctx, "a custom field with a clashing name",
		chromedp.Click(chromedp.ID("add-custom-field")),
		chromedp.SendKeys(chromedp.CSS("#custom-rows tr:last-child input[name='cf.name']"), "phones"),
		chromedp.SendKeys(chromedp.CSS("#custom-rows tr:last-child input[name='cf.source']"), "urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill"),
		chromedp.SetValue(chromedp.ID("defaultRegion"), "ZZ"))
	submit(t, ctx, "save", "#save-settings")
	if p := text(t, ctx, "#problems"); !strings.Contains(p, `customFields[0].name: "phones" clashes with the built-in contact field`) ||
		!strings.Contains(p, `defaultRegion: "ZZ" is not a region`) {
		t.Fatalf("problems: %q", p)
	}
	if v := value(t, ctx, "#defaultRegion"); v != "ZZ" {
		t.Errorf("the refused form lost what was typed: %q", v)
	}
	screenshot(t, ctx, "settings-refused")
	do(t, ctx, "fix", chromedp.SetValue(chromedp.ID("defaultRegion"), "GB"),
		chromedp.SetValue(chromedp.CSS("#custom-rows tr:first-child input[name='cf.name']"), "skill"),
		chromedp.Click(chromedp.CSS("input[name=phonePolicy][value=lenient]")))
	submit(t, ctx, "save again", "#save-settings")
	if f := text(t, ctx, ".flash"); !strings.Contains(f, "The settings were saved") {
		t.Fatalf("after saving: %q", f)
	}
	rules := string(s.do(http.MethodGet, "/admin/v1/directories/"+d.ID+"/mapping", testAdminToken, "").body)
	if !strings.Contains(rules, `"defaultRegion":"GB"`) || !strings.Contains(rules, `"phonePolicy":"lenient"`) || !strings.Contains(rules, `"name":"skill"`) {
		t.Errorf("stored rules: %s", rules)
	}

	do(t, ctx, "open API keys", chromedp.Navigate(s.url+"/console/directories/"+d.ID+"/api-keys"),
		chromedp.SendKeys(chromedp.ID("key-name"), "CX production"))
	submit(t, ctx, "create a key", "form[action$='/api-keys'] button")
	key := value(t, ctx, "#new-key")
	if !strings.HasPrefix(key, "scimd_key_") {
		t.Fatalf("new key %q", key)
	}
	if r := s.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/contacts", key, ""); r.status != http.StatusOK {
		t.Fatalf("the new key: %d", r.status)
	}
	screenshot(t, ctx, "api-keys")
	do(t, ctx, "reload", chromedp.Navigate(s.url+"/console/directories/"+d.ID+"/api-keys"))
	if n, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#new-key"), chromedp.AtLeast(0))); err != nil || len(n) != 0 {
		t.Fatal("the key is shown again")
	}
	// Revoke: the confirmation dialog is accepted.
	acceptNextDialog(t, ctx, "Revoke the API key")
	submit(t, ctx, "revoke", "#api-keys button")
	if f := text(t, ctx, ".flash"); !strings.Contains(f, "revoked") {
		t.Fatalf("after revoking: %q", f)
	}
	if r := s.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/contacts", key, ""); r.status != http.StatusUnauthorized {
		t.Errorf("a revoked key: %d", r.status)
	}
}

// TestConsoleBrowserPresence: the presence page of a connected directory
// (state, last poll, contacts polled); Remove access, confirmed, answers
// with what is left to do in Entra, and polling stops.
func TestConsoleBrowserPresence(t *testing.T) {
	graph, cfg := consoleGraph(t)
	s := startBrowserServer(t, testOptions{config: cfg, presenceInterval: 50 * time.Millisecond})
	d := pagesDirectory(t, s, "Contoso", true)
	const oid = "aaaaaaaa-1111-4111-8111-111111111111"
	provision(t, s, d, "alice@contoso.com", "Alice", "Smith", "+442071838750", oid)
	provision(t, s, d, "nobody@contoso.com", "No", "Object", "+442071838751", "not-an-object-id")
	graph.SetPresence(oid, "Away", "Away")
	ctx := newTab(t)
	signIn(t, ctx, s, testAdminToken)
	deadline := time.Now().Add(10 * time.Second)
	for {
		do(t, ctx, "open presence", chromedp.Navigate(s.url+"/console/directories/"+d.ID+"/presence"))
		if text(t, ctx, "#polled") == "1" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, polled, skipped := text(t, ctx, "#presence-state"), text(t, ctx, "#polled"), text(t, ctx, "#skipped"); !strings.Contains(st, "Connected") || polled != "1" || !strings.HasPrefix(skipped, "1") {
		t.Fatalf("presence page: %q, polled %q, skipped %q", st, polled, skipped)
	}
	if lp := text(t, ctx, "#last-poll"); lp == "never" {
		t.Error("no last poll")
	}
	screenshot(t, ctx, "presence")

	acceptNextDialog(t, ctx, "Remove scimd's access")
	submit(t, ctx, "remove access", "#remove-access")
	if steps := text(t, ctx, "#azure-steps"); !strings.Contains(steps, "App registrations") || !strings.Contains(steps, fakegraph.DefaultClientID) {
		t.Fatalf("Entra-side steps: %q", steps)
	}
	if st := text(t, ctx, "#presence-state"); !strings.Contains(st, "Access removed") {
		t.Errorf("state after removing: %q", st)
	}
	screenshot(t, ctx, "presence-removed")
	before := graph.Requests()
	time.Sleep(300 * time.Millisecond) // six poll intervals
	if after := graph.Requests(); after != before {
		t.Errorf("Graph still polled after Remove access: %d requests", after-before)
	}
}
