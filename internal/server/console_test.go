package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// consoleClient is a browser without a browser: cookies, no redirects
// followed, and the CSRF token of the last page it read.
type consoleClient struct {
	t      *testing.T
	client *http.Client
	csrf   string
}

func newConsoleClient(t *testing.T) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *consoleClient) send(method, u string, form url.Values) (int, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		form.Set("csrf", c.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := consoleCSRF.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b)
}

// TestConsoleRoot: a browser opening / is sent to the console; an API
// client gets the JSON index.
func TestConsoleRoot(t *testing.T) {
	s := startServer(t, testOptions{})
	r := s.doHeader(http.MethodGet, "/", "", map[string]string{"Accept": "text/html,application/xhtml+xml"})
	// The test client follows the redirect to the sign-in page.
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Sign in to the scimd console") {
		t.Errorf("GET / as a browser: %d", r.status)
	}
	r = s.doHeader(http.MethodGet, "/", "", map[string]string{"Accept": "application/json"})
	if idx := decodeJSON[map[string]any](t, r); r.status != http.StatusOK || idx["name"] != "scimd" {
		t.Errorf("GET / as an API client: %d %s", r.status, r.body)
	}
}

// TestConsoleReplicasShareSessions: a console session opened on one
// replica works on the other, and signing out or revoking a setup link
// on one ends the session on both.
func TestConsoleReplicasShareSessions(t *testing.T) {
	rs := startReplicas(t, 2, testOptions{})
	a, b := rs[0], rs[1]
	op := newConsoleClient(t)
	op.send(http.MethodGet, a.url+"/console/sign-in", nil)
	if st, _ := op.send(http.MethodPost, a.url+"/console/sign-in", url.Values{"token": {testAdminToken}}); st != http.StatusSeeOther {
		t.Fatalf("sign in on A: %d", st)
	}
	if st, body := op.send(http.MethodGet, b.url+"/console/directories", nil); st != http.StatusOK || !strings.Contains(body, "default") {
		t.Fatalf("A's session on B: %d", st)
	}

	d := decodeJSON[directoryJSON](t, a.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	link := decodeJSON[struct{ ID, URL string }](t, a.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/setup-links", testAdminToken, ""))
	u, _ := url.Parse(link.URL)
	cust := newConsoleClient(t)
	cust.send(http.MethodGet, a.url+u.Path, nil)
	if st, _ := cust.send(http.MethodPost, a.url+u.Path, url.Values{}); st != http.StatusSeeOther {
		t.Fatalf("open the setup link on A: %d", st)
	}
	if st, _ := cust.send(http.MethodGet, b.url+"/console/directories/"+d.ID, nil); st != http.StatusOK {
		t.Fatalf("the setup link's session on B: %d", st)
	}
	// The access log names the route, never the link's secret.
	secret := strings.TrimPrefix(u.Path, "/console/setup/")
	if logs := a.logs.String(); strings.Contains(logs, secret) || !strings.Contains(logs, "route=/console/setup/{secret}") {
		t.Errorf("access log of the setup link: secret logged %v", strings.Contains(logs, secret))
	}
	if r := b.do(http.MethodDelete, "/admin/v1/directories/"+d.ID+"/setup-links/"+link.ID, testAdminToken, ""); r.status != http.StatusNoContent {
		t.Fatalf("revoke on B: %d %s", r.status, r.body)
	}
	if st, _ := cust.send(http.MethodGet, a.url+"/console/directories/"+d.ID, nil); st != http.StatusSeeOther {
		t.Errorf("a revoked link's session on A: %d", st)
	}

	consoleURL, _ := url.Parse(a.url + "/console/")
	cookie := op.client.Jar.Cookies(consoleURL)
	if len(cookie) == 0 {
		t.Fatal("no session cookie")
	}
	if st, _ := op.send(http.MethodPost, b.url+"/console/sign-out", url.Values{}); st != http.StatusOK {
		t.Fatalf("sign out on B: %d", st)
	}
	op.client.Jar.SetCookies(consoleURL, cookie) // as a copy of the cookie would
	if st, _ := op.send(http.MethodGet, a.url+"/console/directories", nil); st != http.StatusSeeOther {
		t.Errorf("signed out on B, the session still works on A: %d", st)
	}
}

// TestConsolePresenceStepWithoutApp: without scimd's multi-tenant app,
// the presence step offers the customer's own app, and tells the operator
// (not a setup link's customer) what would add the consent button.
func TestConsolePresenceStepWithoutApp(t *testing.T) {
	s := startServer(t, testOptions{})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	page := "/console/directories/" + d.ID + "/setup/presence"

	op := newConsoleClient(t)
	op.send(http.MethodGet, s.url+"/console/sign-in", nil)
	op.send(http.MethodPost, s.url+"/console/sign-in", url.Values{"token": {testAdminToken}})
	st, body := op.send(http.MethodGet, s.url+page, nil)
	if st != http.StatusOK || !strings.Contains(body, "SCIMD_PRESENCE_CLIENT_ID") || strings.Contains(body, "Sign in to Microsoft</button>") ||
		!strings.Contains(body, `name="clientSecret"`) {
		t.Errorf("operator's presence step: %d", st)
	}

	link := decodeJSON[struct{ URL string }](t, s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/setup-links", testAdminToken, ""))
	u, _ := url.Parse(link.URL)
	cust := newConsoleClient(t)
	cust.send(http.MethodGet, s.url+u.Path, nil)
	cust.send(http.MethodPost, s.url+u.Path, url.Values{})
	st, body = cust.send(http.MethodGet, s.url+page, nil)
	if st != http.StatusOK || strings.Contains(body, "SCIMD_PRESENCE_CLIENT_ID") || !strings.Contains(body, `name="clientSecret"`) {
		t.Errorf("customer's presence step: %d", st)
	}
}
