package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	cxOrigin   = "https://cx.example.com"
	evilOrigin = "https://evil.example.net"
)

// corsHeaders are the response headers CORS adds.
var corsHeaders = []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
	"Access-Control-Max-Age", "Access-Control-Expose-Headers", "Access-Control-Allow-Credentials"}

func wantNoCORS(t *testing.T, what string, r response) {
	t.Helper()
	for _, h := range corsHeaders {
		if v := r.header.Get(h); v != "" {
			t.Errorf("%s: %s: %s, want no CORS headers", what, h, v)
		}
	}
}

func varyHas(r response, name string) bool {
	for _, v := range r.header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

// corsFixture is a server with a directory, an API key and the directory's
// SCIM token.
type corsFixture struct {
	s           *testServer
	d           directoryJSON
	key, lookup string
}

func newCORSFixture(t *testing.T, origins string) corsFixture {
	t.Helper()
	s := startServer(t, testOptions{config: func(c *Config) {
		o, err := parseCORSOrigins(origins)
		if err != nil {
			t.Fatal(err)
		}
		c.CORSOrigins = o
	}})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	key := decodeJSON[struct{ Key string }](t, s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`)).Key
	s.createSCIMUser(d, annArcher)
	return corsFixture{s: s, d: d, key: key, lookup: "/api/v1/directories/" + d.ID}
}

func (f corsFixture) preflight(path, origin, method, headers string) response {
	return f.s.doHeader(http.MethodOptions, path, "", map[string]string{
		"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers})
}

func (f corsFixture) get(path, origin, token string) response {
	return f.s.doHeader(http.MethodGet, path, "", map[string]string{"Origin": origin, "Authorization": bearer(token)})
}

// TestCORSLookupAPI checks SCIMD_CORS_ORIGINS over real HTTP: the allowed
// origins may read the lookup API (its answers, errors included, carry
// Access-Control-Allow-Origin) and get their preflights answered; other
// origins get no CORS headers; the admin API, SCIM and the operations
// endpoints never send any.
func TestCORSLookupAPI(t *testing.T) {
	f := newCORSFixture(t, cxOrigin+", http://localhost:3000")

	for _, path := range []string{f.lookup + "/contacts", f.lookup + "/presence/stream", "/api/v1/openapi.json"} {
		r := f.preflight(path, cxOrigin, "GET", "authorization, last-event-id")
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("preflight %s: %d %s", path, r.status, r.body)
		}
		for h, want := range map[string]string{
			"Access-Control-Allow-Origin":  cxOrigin,
			"Access-Control-Allow-Methods": "GET",
			"Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
			"Access-Control-Max-Age":       "7200",
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("preflight %s: %s = %q, want %q", path, h, got, want)
			}
		}
		if r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight %s allows credentials", path)
		}
		if !varyHas(r, "Origin") {
			t.Errorf("preflight %s: Vary %q lacks Origin", path, r.header.Values("Vary"))
		}
	}
	// An origin is compared as browsers send it; the second one works too.
	if r := f.preflight(f.lookup+"/lookup", "http://localhost:3000", "GET", "Authorization"); r.status != http.StatusNoContent ||
		r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Errorf("second origin: %d %v", r.status, r.header)
	}

	// Answers, successful or not, carry the origin so the page can read them.
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{f.lookup + "/contacts?q=ann", f.key, http.StatusOK},
		{f.lookup + "/lookup?phone=%2B442071838750", f.key, http.StatusOK},
		{f.lookup + "/contacts", "", http.StatusUnauthorized},
		{f.lookup + "/nope", f.key, http.StatusNotFound},
		{"/api/v1/openapi.json", "", http.StatusOK},
	} {
		r := f.get(tc.path, cxOrigin, tc.token)
		if r.status != tc.status || r.header.Get("Access-Control-Allow-Origin") != cxOrigin || !varyHas(r, "Origin") {
			t.Errorf("GET %s: %d, Allow-Origin %q, Vary %q", tc.path, r.status, r.header.Get("Access-Control-Allow-Origin"), r.header.Values("Vary"))
		}
		if got := r.header.Get("Access-Control-Expose-Headers"); got != "ETag, Retry-After, X-Request-Id" {
			t.Errorf("GET %s: Expose-Headers %q", tc.path, got)
		}
	}

	// Another origin, or a preflight asking for more than the API allows:
	// no CORS headers, and the OPTIONS request is served as if CORS were
	// off (a 401 here: it carries no key).
	for _, tc := range []struct{ what, origin, method, headers string }{
		{"other origin", evilOrigin, "GET", "Authorization"},
		{"origin with a path", cxOrigin + "/", "GET", ""},
		{"method", cxOrigin, "DELETE", ""},
		{"HEAD", cxOrigin, "HEAD", ""},
		{"header", cxOrigin, "GET", "Authorization, X-Custom"},
	} {
		r := f.preflight(f.lookup+"/contacts", tc.origin, tc.method, tc.headers)
		wantNoCORS(t, "preflight "+tc.what, r)
		wantAPIError(t, r, http.StatusUnauthorized, "unauthorized")
	}
	r := f.get(f.lookup+"/contacts", evilOrigin, f.key)
	if r.status != http.StatusOK {
		t.Errorf("GET from another origin: %d (CORS only withholds headers)", r.status)
	}
	wantNoCORS(t, "GET from another origin", r)
	wantNoCORS(t, "GET without Origin", f.get(f.lookup+"/contacts", "", f.key))

	// The admin API, SCIM and the operations endpoints: never.
	scim := "/scim/v2/" + f.d.ID + "/Users"
	for _, tc := range []struct{ path, token string }{
		{"/admin/v1/directories", testAdminToken},
		{"/admin/v1/openapi.json", ""},
		{"/admin/v1", testAdminToken},
		{scim, f.d.SCIMToken},
		{"/", ""},
		{"/healthz", ""},
		{"/api/v2/nothing", ""},
	} {
		wantNoCORS(t, "GET "+tc.path, f.get(tc.path, cxOrigin, tc.token))
		wantNoCORS(t, "preflight "+tc.path, f.preflight(tc.path, cxOrigin, "GET", "Authorization"))
	}

	// The presence stream's own headers come with the CORS ones.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.s.url+f.lookup+"/presence/stream", nil)
	req.Header.Set("Authorization", "Bearer "+f.key)
	req.Header.Set("Origin", cxOrigin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" ||
		resp.Header.Get("Access-Control-Allow-Origin") != cxOrigin {
		t.Errorf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	cancel()

	// Refused preflights are logged, with the reason; answered ones are
	// labelled as such.
	logs := f.s.logs.String()
	for _, want := range []string{"CORS preflight refused: origin not in SCIMD_CORS_ORIGINS", "CORS preflight refused: header X-Custom not allowed", "route=" + corsPreflightRoute} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

// TestCORSAnyOrigin checks SCIMD_CORS_ORIGINS=*: every origin, answered
// with *, still without credentials.
func TestCORSAnyOrigin(t *testing.T) {
	f := newCORSFixture(t, "*")
	r := f.preflight(f.lookup+"/contacts", evilOrigin, "GET", "Authorization")
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	if r := f.get(f.lookup+"/contacts", "http://localhost:8000", f.key); r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET: %d %v", r.status, r.header)
	}
	wantNoCORS(t, "admin API", f.get("/admin/v1/directories", evilOrigin, testAdminToken))
}

// TestCORSOff checks that without SCIMD_CORS_ORIGINS nothing changes:
// no CORS headers, not even Vary.
func TestCORSOff(t *testing.T) {
	f := newCORSFixture(t, "")
	r := f.get(f.lookup+"/contacts", cxOrigin, f.key)
	wantNoCORS(t, "GET", r)
	if varyHas(r, "Origin") {
		t.Errorf("Vary: %v", r.header.Values("Vary"))
	}
	r = f.preflight(f.lookup+"/contacts", cxOrigin, "GET", "Authorization")
	wantNoCORS(t, "preflight", r)
	wantAPIError(t, r, http.StatusUnauthorized, "unauthorized")
	wantNoCORS(t, "openapi.json", f.get("/api/v1/openapi.json", cxOrigin, ""))
}
