package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/scimd/scimd/presence/fakegraph"
)

// TestConsoleBrowserSignIn: a wrong admin token is refused with a message
// and slows the address down; the right one, once the wait is over,
// opens the directories list; signing out ends the session.
func TestConsoleBrowserSignIn(t *testing.T) {
	s := startBrowserServer(t, testOptions{})
	ctx := newTab(t)

	// The server's root sends a browser to the console, which asks to sign in.
	do(t, ctx, "open the root", chromedp.Navigate(s.url+"/"))
	if u := location(t, ctx); u != s.url+"/console/sign-in" {
		t.Fatalf("root led to %s, want the sign-in page", u)
	}
	screenshot(t, ctx, "sign-in")

	signIn(t, ctx, s, "not-the-admin-token-at-all")
	if msg := text(t, ctx, ".alert"); !strings.Contains(msg, "not the admin token") {
		t.Fatalf("wrong token: alert %q", msg)
	}
	// Straight after a wrong token, even the right one waits.
	do(t, ctx, "type the token", chromedp.SendKeys(chromedp.ID("token"), testAdminToken))
	submit(t, ctx, "sign in too soon", "form[action='/console/sign-in'] button")
	if msg := text(t, ctx, ".alert"); !strings.Contains(msg, "Too many wrong attempts") {
		t.Fatalf("right token straight after a wrong one: alert %q", msg)
	}
	if !strings.Contains(s.logs.String(), "console sign-in refused: wrong admin token") || strings.Contains(s.logs.String(), "not-the-admin-token") {
		t.Error("a refused sign-in is logged, without the token")
	}

	time.Sleep(1100 * time.Millisecond) // the first wrong token's wait
	signIn(t, ctx, s, testAdminToken)
	if u := location(t, ctx); u != s.url+"/console/directories" {
		t.Fatalf("signed in to %s, want the directories list", u)
	}
	if h := text(t, ctx, "main h1"); h != "Directories" {
		t.Fatalf("heading %q", h)
	}
	// The first start's directory is listed, waiting for Entra.
	if row := text(t, ctx, "table.list tbody tr"); !strings.Contains(row, "default") || !strings.Contains(row, "Waiting for Entra") {
		t.Errorf("directories list row %q", row)
	}

	submit(t, ctx, "sign out", "form[action='/console/sign-out'] button")
	if h := text(t, ctx, "main h1"); h != "Signed out" {
		t.Fatalf("after sign-out: %q", h)
	}
	do(t, ctx, "open the list again", chromedp.Navigate(s.url+"/console/directories"))
	if u := location(t, ctx); !strings.HasPrefix(u, s.url+"/console/sign-in") {
		t.Fatalf("after sign-out the list opened %s", u)
	}
}

// consoleGraph is a fake Microsoft Graph and identity platform for the
// console's presence steps, and the settings that point scimd at it,
// with scimd's multi-tenant app configured for the consent button.
func consoleGraph(t *testing.T) (*fakegraph.Server, func(*Config)) {
	t.Helper()
	graph := fakegraph.New(fakegraph.Config{})
	gsrv := httptest.NewServer(graph)
	t.Cleanup(gsrv.Close)
	return graph, func(c *Config) {
		c.LoginURL, c.GraphURL = gsrv.URL, gsrv.URL
		c.SecretKey = bytes.Repeat([]byte{7}, 32)
		c.PresenceClientID, c.PresenceClientSecret = fakegraph.DefaultClientID, fakegraph.DefaultClientSecret
	}
}

// scimGet reads a directory's users over SCIM with a token, as Entra's
// Test Connection does, and returns the status.
func scimGet(s *testServer, tenantURL, token string) int {
	s.t.Helper()
	path := strings.TrimPrefix(tenantURL, s.url)
	return s.do(http.MethodGet, path+"/Users?filter="+url.QueryEscape(`userName eq "nobody"`), token, "").status
}

// TestConsoleBrowserWizard runs the "New directory" wizard end to end:
// the name, the Tenant URL and Secret Token (which work over SCIM), Teams
// presence connected with scimd's app through Microsoft's consent prompt
// (the fake Graph's), the finish; then the overview, and a rotation whose
// new token is shown once while the old one keeps its grace period.
func TestConsoleBrowserWizard(t *testing.T) {
	_, graph := consoleGraph(t)
	s := startBrowserServer(t, testOptions{config: graph, presenceInterval: 50 * time.Millisecond})
	ctx := newTab(t)
	signIn(t, ctx, s, testAdminToken)

	do(t, ctx, "open the wizard", chromedp.Navigate(s.url+"/console/new"))
	screenshot(t, ctx, "wizard-name")
	do(t, ctx, "name the directory", chromedp.SendKeys(chromedp.ID("name"), "Contoso"))
	submit(t, ctx, "create the directory", "form[action='/console/new'] button")

	// Step 2: what to paste in Entra, shown once.
	tenantURL, token := value(t, ctx, "#tenant-url"), value(t, ctx, "#secret-token")
	if !strings.HasPrefix(tenantURL, s.url+"/scim/v2/") || !strings.HasPrefix(token, "scimd_") {
		t.Fatalf("Tenant URL %q, Secret Token %q", tenantURL, token)
	}
	dirID := strings.TrimPrefix(tenantURL, s.url+"/scim/v2/")
	if st := scimGet(s, tenantURL, token); st != http.StatusOK {
		t.Fatalf("Test Connection with the wizard's Tenant URL and Secret Token: %d", st)
	}
	if m := text(t, ctx, "table.mapping tbody"); !strings.Contains(m, "userPrincipalName") || !strings.Contains(m, "objectId") {
		t.Errorf("attribute mapping table: %q", m)
	}
	screenshot(t, ctx, "wizard-entra")
	// The copy button puts the Tenant URL on the clipboard (which the
	// test may read back).
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "clipboard-read"}, Setting: cdpbrowser.PermissionSettingGranted,
		Origin: s.url, BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
	}); err != nil {
		t.Fatalf("allow reading the clipboard: %v", err)
	}
	do(t, ctx, "copy the Tenant URL", chromedp.Click(chromedp.CSS("button[data-copy='tenant-url']")),
		chromedp.WaitVisible(chromedp.CSS("button[data-copy='tenant-url'].copied")))
	if clip, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); err != nil || clip != tenantURL {
		t.Errorf("clipboard after Copy: %q, %v", clip, err)
	}
	// Reloading does not show the token again: scimd keeps its hash only.
	do(t, ctx, "reload the Entra step", chromedp.Navigate(s.url+"/console/directories/"+dirID+"/setup"))
	if n, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#secret-token"), chromedp.AtLeast(0))); err != nil || len(n) != 0 {
		t.Fatalf("the Secret Token is shown again (%d, %v)", len(n), err)
	}

	// Step 3: Teams presence, through Microsoft's consent prompt and back.
	submit(t, ctx, "next: presence", "a[href$='/setup/presence']")
	if st := text(t, ctx, "#presence-state"); st != "Not connected" {
		t.Fatalf("presence before consent: %q", st)
	}
	screenshot(t, ctx, "wizard-presence")
	submit(t, ctx, "sign in to Microsoft", "form[action$='/setup/presence/consent'] button")
	if h := text(t, ctx, "h1"); h != "Presence connected for directory Contoso" {
		t.Fatalf("back from the consent prompt: %q at %s", h, location(t, ctx))
	}
	submit(t, ctx, "continue in the console", "a[href$='/setup/presence']")
	if st := text(t, ctx, "#presence-state"); st != "Connected" {
		t.Fatalf("presence after consent: %q", st)
	}
	submit(t, ctx, "continue", "#not-now")
	if h := text(t, ctx, "main h1"); h != "Setup complete" {
		t.Fatalf("last step: %q", h)
	}
	screenshot(t, ctx, "wizard-done")

	// The directory's overview; a rotation shows the new token once and
	// keeps the old one working for the grace period chosen (1 hour).
	submit(t, ctx, "go to the directory", "main a[href='/console/directories/"+dirID+"']")
	screenshot(t, ctx, "overview")
	submit(t, ctx, "rotate", "form[action$='/token'] button")
	rotated := value(t, ctx, "#secret-token")
	if rotated == token || !strings.HasPrefix(rotated, "scimd_") || !strings.Contains(text(t, ctx, ".warn-note"), "works until") {
		t.Fatalf("rotated token %q (was %q), note %q", rotated, token, text(t, ctx, ".warn-note"))
	}
	if a, b := scimGet(s, tenantURL, rotated), scimGet(s, tenantURL, token); a != http.StatusOK || b != http.StatusOK {
		t.Fatalf("after rotation: new token %d, old token in its grace period %d", a, b)
	}
	audit := string(s.do(http.MethodGet, "/admin/v1/directories/"+dirID+"/audit", testAdminToken, "").body)
	for _, action := range []string{"directory.created", "presence.consent_started", "scim_token.rotated"} {
		if !strings.Contains(audit, action) {
			t.Errorf("audit trail lacks %s: %s", action, audit)
		}
	}
	if !strings.Contains(audit, `"type":"console"`) || strings.Contains(audit, rotated) {
		t.Errorf("audit trail: the console is the actor, without secrets: %s", audit)
	}

	// Entra provisions a user: the list counts it, and marks the directory healthy.
	s.createSCIMUser(directoryJSON{ID: dirID, SCIMToken: rotated}, annArcher)
	do(t, ctx, "list", chromedp.Navigate(s.url+"/console/directories"))
	row := text(t, ctx, "table.list tbody tr:nth-child(2)")
	for _, want := range []string{"Contoso", "Connected", "✓ Healthy"} {
		if !strings.Contains(row, want) {
			t.Errorf("list row of Contoso %q lacks %q", row, want)
		}
	}
	if users := text(t, ctx, "table.list tbody tr:nth-child(2) td[data-label=Users]"); users != "1" {
		t.Errorf("Contoso's users: %q", users)
	}
	screenshot(t, ctx, "directories")

	// Deleting asks for the directory's name first.
	do(t, ctx, "open the delete page", chromedp.Navigate(s.url+"/console/directories/"+dirID+"/delete"),
		chromedp.SendKeys(chromedp.ID("confirm"), "Contoso Ltd"))
	submit(t, ctx, "delete with the wrong name", "form[action$='/delete'] button")
	if msg := text(t, ctx, ".alert"); !strings.Contains(msg, "Type the directory's name") {
		t.Fatalf("wrong confirmation: %q", msg)
	}
	do(t, ctx, "type the name", chromedp.Clear(chromedp.ID("confirm")), chromedp.SendKeys(chromedp.ID("confirm"), "Contoso"))
	submit(t, ctx, "delete", "form[action$='/delete'] button")
	if f := text(t, ctx, ".flash"); f != "The directory was deleted." {
		t.Fatalf("after deleting: %q", f)
	}
	if st := scimGet(s, tenantURL, rotated); st != http.StatusUnauthorized {
		t.Errorf("SCIM after the delete: %d", st)
	}
}

// offsetClock is a clock that a test moves forward.
type offsetClock struct{ ns atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.ns.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestConsoleBrowserSetupLink: the operator creates a setup link; the
// customer's admin who opens it sets up that one directory (a new Secret
// Token, presence with their own app, after Microsoft refused a wrong
// secret) and can open nothing else; revoking the link signs them out,
// and a link past its expiry no longer works, nor do its sessions.
func TestConsoleBrowserSetupLink(t *testing.T) {
	_, graph := consoleGraph(t)
	clock := &offsetClock{}
	s := startBrowserServer(t, testOptions{config: graph, clock: clock.now, presenceInterval: 50 * time.Millisecond})
	contoso := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	fabrikam := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Fabrikam"}`))

	op := newTab(t)
	signIn(t, op, s, testAdminToken)
	do(t, op, "open Contoso", chromedp.Navigate(s.url+"/console/directories/"+contoso.ID))
	submit(t, op, "create a setup link", "form[action$='/setup-links'] button")
	link := value(t, op, "#setup-link")
	if !strings.HasPrefix(link, s.url+"/console/setup/scimd_setup_") {
		t.Fatalf("setup link %q", link)
	}
	screenshot(t, op, "setup-link")

	// The customer's admin, in another browser.
	cust := newTab(t)
	do(t, cust, "open the link", chromedp.Navigate(link))
	if h := text(t, cust, "main h1"); h != "Set up provisioning for Contoso" {
		t.Fatalf("landing page: %q", h)
	}
	screenshot(t, cust, "setup-landing")
	submit(t, cust, "continue", "main form button")
	if u := location(t, cust); u != s.url+"/console/directories/"+contoso.ID+"/setup" {
		t.Fatalf("the link led to %s", u)
	}
	if v := value(t, cust, "#tenant-url"); v != contoso.SCIMBaseURL {
		t.Fatalf("Tenant URL %q, want %q", v, contoso.SCIMBaseURL)
	}
	submit(t, cust, "create a new Secret Token", "form[action$='/token'] button")
	token := value(t, cust, "#secret-token")
	if st := scimGet(s, contoso.SCIMBaseURL, token); st != http.StatusOK {
		t.Fatalf("the customer's new token: %d", st)
	}

	// Nothing outside Contoso opens, whatever the page.
	for _, path := range []string{"/console/directories", "/console/new", "/console/directories/" + fabrikam.ID,
		"/console/directories/" + fabrikam.ID + "/setup", "/console/directories/" + contoso.ID + "/delete",
		"/console/directories/not-a-uuid"} {
		do(t, cust, "open "+path, chromedp.Navigate(s.url+path))
		if h := text(t, cust, "main h1"); h != "Not part of this setup link" {
			t.Errorf("%s opened for a setup link: %q", path, h)
		}
	}
	do(t, cust, "back to Contoso", chromedp.Navigate(s.url+"/console/directories/"+contoso.ID))
	if nav := text(t, cust, ".dirbar"); strings.Contains(nav, "Directories") || strings.Contains(nav, "Fabrikam") {
		t.Errorf("a setup link's page shows the operator's navigation: %q", nav)
	}

	// Presence with the customer's own app: Microsoft's refusal, in its words, then success.
	do(t, cust, "open the presence step", chromedp.Navigate(s.url+"/console/directories/"+contoso.ID+"/setup/presence"),
		chromedp.SendKeys(chromedp.ID("tenantId"), "33333333-3333-4333-8333-333333333333"),
		chromedp.SendKeys(chromedp.ID("clientId"), fakegraph.DefaultClientID),
		chromedp.SendKeys(chromedp.ID("clientSecret"), "the-secret-id-not-its-value"))
	submit(t, cust, "connect with a wrong secret", "form[action$='/setup/presence/connect'] button")
	if msg := text(t, cust, ".alert"); !strings.Contains(msg, "AADSTS7000215") {
		t.Fatalf("wrong secret: %q", msg)
	}
	if v := value(t, cust, "#clientSecret"); v != "" {
		t.Error("the refused secret is sent back to the browser")
	}
	screenshot(t, cust, "presence-refused")
	do(t, cust, "type the right secret", chromedp.SendKeys(chromedp.ID("clientSecret"), fakegraph.DefaultClientSecret))
	submit(t, cust, "connect", "form[action$='/setup/presence/connect'] button")
	if st := text(t, cust, "#presence-state"); st != "Connected" {
		t.Fatalf("presence with the customer's app: %q at %s", st, location(t, cust))
	}
	audit := string(s.do(http.MethodGet, "/admin/v1/directories/"+contoso.ID+"/audit", testAdminToken, "").body)
	if !strings.Contains(audit, `"type":"setup_link"`) || strings.Contains(audit, fakegraph.DefaultClientSecret) {
		t.Errorf("audit trail: the setup link is the actor, without secrets: %s", audit)
	}

	// The operator revokes the link: the customer is signed out at once.
	do(t, op, "reload Contoso", chromedp.Navigate(s.url+"/console/directories/"+contoso.ID))
	submit(t, op, "revoke", "form[action$='/revoke'] button")
	if f := text(t, op, ".flash"); !strings.Contains(f, "revoked") {
		t.Fatalf("after revoking: %q", f)
	}
	do(t, cust, "reload", chromedp.Navigate(s.url+"/console/directories/"+contoso.ID))
	if u := location(t, cust); !strings.HasPrefix(u, s.url+"/console/sign-in") {
		t.Fatalf("a revoked link's session still opens %s", u)
	}
	do(t, cust, "open the revoked link", chromedp.Navigate(link))
	if h := text(t, cust, "main h1"); h != "This setup link does not work" {
		t.Fatalf("revoked link: %q", h)
	}

	// A link of an hour works, and stops with its session when the hour is over.
	r := s.do(http.MethodPost, "/admin/v1/directories/"+contoso.ID+"/setup-links", testAdminToken, `{"expiresInSeconds":3600}`)
	hour := decodeJSON[struct{ URL string }](t, r).URL
	time.Sleep(1100 * time.Millisecond) // the revoked link's wrong attempt
	do(t, cust, "open the hour's link", chromedp.Navigate(hour))
	submit(t, cust, "continue", "main form button")
	if h := text(t, cust, "main h1"); h != "Connect Microsoft Entra ID" {
		t.Fatalf("the hour's link: %q", h)
	}
	clock.advance(61 * time.Minute)
	do(t, cust, "reload after the hour", chromedp.Navigate(s.url+"/console/directories/"+contoso.ID+"/setup"))
	if u := location(t, cust); !strings.HasPrefix(u, s.url+"/console/sign-in") {
		t.Fatalf("an expired link's session still opens %s", u)
	}
	do(t, cust, "open the expired link", chromedp.Navigate(hour))
	if h := text(t, cust, "main h1"); h != "This setup link does not work" {
		t.Fatalf("expired link: %q", h)
	}
}
