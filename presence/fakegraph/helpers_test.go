package fakegraph

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tenantID = "aaaaaaaa-0000-4000-8000-000000000001"
	userA    = "0b8c6e3a-5f7d-4c3e-9a1b-2d4e6f8a0c1e"
	userB    = "9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
)

// clock is a manual clock that the fake and the test share.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a fake behind a real HTTP server, on a manual clock.
type fixture struct {
	fake  *Server
	url   string
	clock *clock
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	fake := New(cfg)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &fixture{fake, srv.URL, c}
}

func (f *fixture) tokenURL(tenant string) string { return f.url + "/" + tenant + "/oauth2/v2.0/token" }

// secretForm is a well-formed client credentials request.
func secretForm() url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {DefaultClientID},
		"client_secret": {DefaultClientSecret},
		"scope":         {graphScope},
	}
}

type tokenBody struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`

	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	URI           string `json:"error_uri"`
}

// postToken posts form to the tenant's token endpoint; edit may change the
// request before it is sent.
func postToken(t *testing.T, f *fixture, tenant string, form url.Values, edit func(*http.Request)) (int, tokenBody) {
	t.Helper()
	req, err := http.NewRequest("POST", f.tokenURL(tenant), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b tokenBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, b
}

// token gets a token with the default secret.
func token(t *testing.T, f *fixture) string {
	t.Helper()
	status, b := postToken(t, f, tenantID, secretForm(), nil)
	if status != http.StatusOK || b.AccessToken == "" {
		t.Fatalf("token: %d %+v", status, b)
	}
	return b.AccessToken
}

// graphResp is a Graph answer, decoded loosely so tests see exact fields.
type graphResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (g graphResp) errorCode() string {
	e, _ := g.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// values returns the presences of a batch answer by id.
func (g graphResp) values() map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := g.body["value"].([]any)
	for _, v := range list {
		p := v.(map[string]any)
		out[p["id"].(string)] = p
	}
	return out
}

func do(t *testing.T, client *http.Client, method, url, tok, body string) graphResp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	g := graphResp{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &g.body); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON: %v", method, url, resp.StatusCode, raw, err)
	}
	return g
}

// presences posts ids to getPresencesByUserId.
func (f *fixture) presences(t *testing.T, tok string, ids ...string) graphResp {
	t.Helper()
	body, _ := json.Marshal(map[string][]string{"ids": ids})
	return do(t, http.DefaultClient, "POST", f.url+"/v1.0/communications/getPresencesByUserId", tok, string(body))
}

// idList returns n distinct GUIDs.
func idList(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-5f7d-4c3e-9a1b-2d4e6f8a0c1e", i)
	}
	return ids
}
