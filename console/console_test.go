package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/store"
)

const adminToken = "console-test-admin-token-0123"

// fixture is a console on a real store (SQLite, or PostgreSQL on the
// second pass), served over loopback, with a clock the test moves.
type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	store   store.Store
	admin   *api.Admin
	console *Console
	offset  atomic.Int64
}

func (f *fixture) now() time.Time          { return time.Now().Add(time.Duration(f.offset.Load())) }
func (f *fixture) advance(d time.Duration) { f.offset.Add(int64(d)) }

func newFixture(t *testing.T, publicURL string) *fixture {
	t.Helper()
	f := &fixture{t: t, store: teststore.Open(t, teststore.Options{})}
	f.admin = api.NewAdmin(api.AdminConfig{Store: f.store, PublicURL: publicURL, AdminTokenHash: store.HashToken(adminToken), Now: f.now})
	f.console = New(Config{Admin: f.admin, AdminTokenHash: store.HashToken(adminToken), PublicURL: publicURL, Now: f.now})
	r := mux.NewRouter()
	f.console.Register(r)
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	f      *fixture
	client *http.Client
	csrf   string // of the last page read
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.f.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return page{resp.StatusCode, resp.Header, string(body)}
}

func (b *browser) get(path string) page {
	b.f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.f.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form; csrf "" sends the last page's token, "-" none.
func (b *browser) post(path string, form url.Values, csrf string) page {
	b.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	switch csrf {
	case "":
		form.Set("csrf", b.csrf)
	case "-":
	default:
		form.Set("csrf", csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn signs the browser in as the operator.
func (b *browser) signIn() page {
	b.f.t.Helper()
	b.get("/console/sign-in")
	p := b.post("/console/sign-in", url.Values{"token": {adminToken}}, "")
	if p.status != http.StatusSeeOther {
		b.f.t.Fatalf("sign in: %d %s", p.status, p.body)
	}
	b.get("/console/directories") // for its CSRF token
	return p
}

// openSetupLink signs the browser in with a new setup link of dir.
func (b *browser) openSetupLink(dirID string) api.SetupLink {
	b.f.t.Helper()
	l, err := b.f.admin.CreateSetupLink(context.Background(), dirID, 0)
	if err != nil {
		b.f.t.Fatal(err)
	}
	u, _ := url.Parse(l.URL)
	if p := b.get(u.Path); p.status != http.StatusOK {
		b.f.t.Fatalf("setup link landing: %d", p.status)
	}
	if p := b.post(u.Path, nil, ""); p.status != http.StatusSeeOther {
		b.f.t.Fatalf("open setup link: %d %s", p.status, p.body)
	}
	b.get("/console/directories/" + dirID)
	return l
}

func (f *fixture) directory(name string) api.Directory {
	f.t.Helper()
	d, err := f.admin.CreateDirectory(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// TestSecurityHeaders: every console answer (pages, errors, redirects,
// static files) carries the headers; pages are never cached.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, "http://localhost:8080")
	b := f.browser()
	for _, path := range []string{"/console/sign-in", "/console/directories", "/console/nope", "/console/static/console.css",
		"/console/setup/scimd_setup_unknown"} {
		p := b.get(path)
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Referrer-Policy") != "no-referrer" ||
			p.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, p.header)
		}
		if strings.HasPrefix(p.header.Get("Content-Type"), "text/html") && p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: a page with Cache-Control %q", path, p.header.Get("Cache-Control"))
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") || strings.Contains(p.body, " onclick=") {
			t.Errorf("%s: inline script or style", path)
		}
	}
}

// TestSessionCookie: HttpOnly, SameSite=Strict, the console's path, and
// Secure when scimd is served over https; the store keeps only the
// session id's hash; signing out deletes the session.
func TestSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		secure    bool
	}{{"http://localhost:8080", false}, {"https://scim.example.com", true}} {
		f := newFixture(t, tc.publicURL)
		b := f.browser()
		p := b.signIn()
		var ck *http.Cookie
		for _, c := range (&http.Response{Header: p.header}).Cookies() {
			if c.Name == sessionCookie {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" || ck.Secure != tc.secure || len(ck.Value) < 40 {
			t.Fatalf("%s: session cookie %+v", tc.publicURL, ck)
		}
		if _, err := f.store.ConsoleSessionByHash(t.Context(), []byte(ck.Value)); err == nil {
			t.Error("the store knows the session by its id in clear")
		}
		s, err := f.store.ConsoleSessionByHash(t.Context(), store.HashToken(ck.Value))
		if err != nil || s.DirectoryID != "" {
			t.Fatalf("stored session %+v, %v", s, err)
		}
		if tc.secure {
			continue // the jar does not send a Secure cookie over http
		}
		if p := b.post("/console/sign-out", nil, ""); p.status != http.StatusOK {
			t.Fatalf("sign out: %d", p.status)
		}
		if _, err := f.store.ConsoleSessionByHash(t.Context(), store.HashToken(ck.Value)); err == nil {
			t.Error("signing out left the session")
		}
		if p := b.get("/console/directories"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/sign-in") {
			t.Errorf("after sign-out: %d %s", p.status, p.header.Get("Location"))
		}
	}
}

// TestCSRF: a state-changing form without the session's token, or with
// another one, is refused with 403 and changes nothing.
func TestCSRF(t *testing.T) {
	f := newFixture(t, "http://localhost:8080")
	d := f.directory("Contoso")
	b := f.browser()
	b.signIn()
	before, _ := f.store.GetDirectory(t.Context(), d.ID)
	other := f.browser()
	other.signIn() // a valid token, of another session

	for _, tok := range []string{"-", "wrong", other.csrf} {
		for _, req := range []struct {
			path string
			form url.Values
		}{
			{"/console/new", url.Values{"name": {"Fabrikam"}}},
			{"/console/directories/" + d.ID + "/token", url.Values{"grace": {"0"}}},
			{"/console/directories/" + d.ID + "/rename", url.Values{"name": {"Renamed"}}},
			{"/console/directories/" + d.ID + "/delete", url.Values{"confirm": {"Contoso"}}},
			{"/console/directories/" + d.ID + "/setup-links", url.Values{"ttl": {"3600"}}},
			{"/console/sign-out", nil},
		} {
			if p := b.post(req.path, req.form, tok); p.status != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q: %d", req.path, tok, p.status)
			}
		}
	}
	after, err := f.store.GetDirectory(t.Context(), d.ID)
	ds, _ := f.store.ListDirectories(t.Context())
	links, _ := f.store.ListSetupLinks(t.Context(), d.ID)
	if err != nil || after.Name != "Contoso" || string(after.SCIMTokenHash) != string(before.SCIMTokenHash) || len(ds) != 1 || len(links) != 0 {
		t.Fatalf("refused forms changed something: %+v, %d directories, %d links, %v", after, len(ds), len(links), err)
	}
	// The sign-in form needs its own token too.
	fresh := f.browser()
	if p := fresh.post("/console/sign-in", url.Values{"token": {adminToken}}, "-"); p.status != http.StatusForbidden {
		t.Errorf("sign-in without its form's token: %d", p.status)
	}
	// With the session's token, the same form works.
	b.get("/console/directories/" + d.ID)
	if p := b.post("/console/directories/"+d.ID+"/rename", url.Values{"name": {"Renamed"}}, ""); p.status != http.StatusSeeOther {
		t.Fatalf("rename with the token: %d %s", p.status, p.body)
	}
}

// TestEscaping: a directory named like a script is text on every page.
func TestEscaping(t *testing.T) {
	f := newFixture(t, "http://localhost:8080")
	const evil = `<script>alert(1)</script>`
	d := f.directory(evil)
	b := f.browser()
	b.signIn()
	for _, path := range []string{"/console/directories", "/console/directories/" + d.ID, "/console/directories/" + d.ID + "/setup",
		"/console/directories/" + d.ID + "/delete"} {
		p := b.get(path)
		if p.status != http.StatusOK || strings.Contains(p.body, evil) || !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: %d, escaped: %v", path, p.status, strings.Contains(p.body, "&lt;script&gt;"))
		}
	}
	// The delete confirmation compares with the name itself.
	if p := b.post("/console/directories/"+d.ID+"/delete", url.Values{"confirm": {evil}}, ""); p.status != http.StatusSeeOther {
		t.Errorf("delete confirmed with the name: %d %s", p.status, p.body)
	}
}

// TestSetupLinkScope: a setup link's session reaches its directory's
// wizard, credentials and presence, and nothing else: not the operator's
// pages, not their forms (even with a valid CSRF token), not another
// directory.
func TestSetupLinkScope(t *testing.T) {
	f := newFixture(t, "http://localhost:8080")
	a, other := f.directory("Contoso"), f.directory("Fabrikam")
	b := f.browser()
	b.openSetupLink(a.ID)

	for _, path := range []string{"/console/directories/" + a.ID, "/console/directories/" + a.ID + "/setup",
		"/console/directories/" + a.ID + "/setup/presence", "/console/directories/" + a.ID + "/setup/done"} {
		if p := b.get(path); p.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	for _, path := range []string{"/console/directories", "/console/new", "/console/directories/" + other.ID,
		"/console/directories/" + other.ID + "/setup", "/console/directories/" + a.ID + "/delete", "/console/directories/x"} {
		if p := b.get(path); p.status != http.StatusForbidden || !strings.Contains(p.body, "Not part of this setup link") || strings.Contains(p.body, "Fabrikam") {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	b.get("/console/directories/" + a.ID) // a valid CSRF token
	for _, req := range []struct {
		path string
		form url.Values
	}{
		{"/console/new", url.Values{"name": {"Mine"}}},
		{"/console/directories/" + a.ID + "/rename", url.Values{"name": {"Renamed"}}},
		{"/console/directories/" + a.ID + "/delete", url.Values{"confirm": {"Contoso"}}},
		{"/console/directories/" + a.ID + "/setup-links", url.Values{"ttl": {"3600"}}},
		{"/console/directories/" + other.ID + "/token", url.Values{"grace": {"0"}}},
	} {
		if p := b.post(req.path, req.form, ""); p.status != http.StatusForbidden {
			t.Errorf("POST %s: %d", req.path, p.status)
		}
	}
	if ds, _ := f.store.ListDirectories(t.Context()); len(ds) != 2 || ds[0].Name != "Contoso" {
		t.Errorf("the setup link changed directories: %+v", ds)
	}
	if p := b.post("/console/directories/"+a.ID+"/token", url.Values{"grace": {"0"}}, ""); p.status != http.StatusOK || !strings.Contains(p.body, `id="secret-token"`) {
		t.Errorf("rotate its own directory's token: %d", p.status)
	}
	if p := b.get("/console/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/directories/"+a.ID {
		t.Errorf("home of a setup link: %d %s", p.status, p.header.Get("Location"))
	}
}

// TestSessionExpiry: a session ends after the idle timeout, and after its
// absolute lifetime however busy; a setup link's ends with the link.
func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, "http://localhost:8080")
	d := f.directory("Contoso")
	b := f.browser()
	b.signIn()
	f.advance(31 * time.Minute)
	if p := b.get("/console/directories"); p.status != http.StatusSeeOther {
		t.Errorf("after 31 idle minutes: %d", p.status)
	}

	b.signIn()
	for range 36 { // 12 hours, busy every 20 minutes
		f.advance(20 * time.Minute)
		if p := b.get("/console/directories"); p.status != http.StatusOK {
			break
		}
	}
	if p := b.get("/console/directories"); p.status != http.StatusSeeOther {
		t.Errorf("after 12 busy hours: %d", p.status)
	}

	c := f.browser()
	c.openSetupLink(d.ID)
	f.advance(20 * time.Minute)
	c.get("/console/directories/" + d.ID)
	f.advance(20 * time.Minute)
	if p := c.get("/console/directories/" + d.ID); p.status != http.StatusOK {
		t.Fatalf("a setup link's busy session: %d", p.status)
	}
	f.advance(24 * time.Hour)
	if p := c.get("/console/directories/" + d.ID); p.status != http.StatusSeeOther {
		t.Errorf("a setup link's session past the link's expiry: %d", p.status)
	}
}

// TestLimiter: waits double per wrong attempt up to the cap, a right one
// clears them, and the table never holds more than maxClients addresses.
func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(func() time.Time { return now })
	if l.wait("a") != 0 {
		t.Fatal("a new address waits")
	}
	var got []time.Duration
	for range 12 {
		got = append(got, l.fail("a"))
	}
	if got[0] != time.Second || got[1] != 2*time.Second || got[2] != 4*time.Second || got[11] != maxBackoff {
		t.Errorf("waits %v", got)
	}
	if w := l.wait("a"); w != maxBackoff {
		t.Errorf("wait = %v", w)
	}
	l.succeed("a")
	if l.wait("a") != 0 {
		t.Error("a right attempt does not clear the strikes")
	}
	for i := range maxClients + 100 {
		l.fail("10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256))
	}
	if n := len(l.clients); n > maxClients {
		t.Errorf("limiter holds %d addresses, more than %d", n, maxClients)
	}
	now = now.Add(time.Hour)
	l.fail("fresh")
	if n := len(l.clients); n > maxClients {
		t.Errorf("after an hour: %d addresses", n)
	}
}

// TestSafeNext: after sign-in, only a console page, never another site.
func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/console/directories/x":     "/console/directories/x",
		"":                           "/console/directories",
		"https://evil.example/":      "/console/directories",
		"//evil.example/console/":    "/console/directories",
		"/console/..//evil.example":  "/console/directories",
		"/console/\\evil.example":    "/console/directories",
		"/console/sign-out":          "/console/directories",
		"/console/setup/scimd_setup": "/console/directories",
		"/console/x\r\nSet-Cookie:":  "/console/directories",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}
