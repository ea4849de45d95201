package server

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

type indexJSON struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	Links   map[string]string `json:"links"`
}

// TestIndex checks GET / (no token) and GET /admin/v1 (admin token): the
// server's name, version and links, each of which leads somewhere.
func TestIndex(t *testing.T) {
	s := startServer(t, testOptions{})
	const public = "https://scim.example.com" // testConfig's SCIMD_PUBLIC_URL

	follow := func(idx indexJSON, token string) {
		t.Helper()
		for name, link := range idx.Links {
			switch {
			case name == "docs":
				if link != "https://github.com/scimd/scimd#readme" {
					t.Errorf("docs = %q", link)
				}
				continue
			case !strings.HasPrefix(link, public+"/"):
				t.Errorf("link %s = %q, not under SCIMD_PUBLIC_URL", name, link)
				continue
			case strings.Contains(link, "{directoryId}"):
				continue // a pattern
			}
			if r := s.do(http.MethodGet, strings.TrimPrefix(link, public), token, ""); r.status != http.StatusOK {
				t.Errorf("link %s (%s): %d", name, link, r.status)
			}
		}
	}

	r := s.do(http.MethodGet, "/", "", "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /: %d %s", r.status, r.body)
	}
	idx := decodeJSON[indexJSON](t, r)
	if idx.Name != "scimd" || idx.Version != version || idx.Links["scimBaseUrl"] != public+"/scim/v2/{directoryId}" ||
		idx.Links["lookupOpenApi"] != public+"/api/v1/openapi.json" || idx.Links["adminApi"] != public+"/admin/v1" {
		t.Errorf("GET /: %s", r.body)
	}
	if idx.Links["directories"] != "" || idx.Links["audit"] != "" {
		t.Errorf("GET / names admin entry points: %s", r.body)
	}
	follow(idx, testAdminToken)
	if r := s.do(http.MethodGet, "/?utm_source=x", "", ""); r.status != http.StatusOK {
		t.Errorf("GET / with a query: %d", r.status)
	}
	if r := s.do(http.MethodHead, "/", "", ""); r.status != http.StatusOK || len(r.body) != 0 {
		t.Errorf("HEAD /: %d %q", r.status, r.body)
	}
	wantAPIError(t, s.do(http.MethodPost, "/", "", ""), http.StatusMethodNotAllowed, "method_not_allowed")

	wantAPIError(t, s.do(http.MethodGet, "/admin/v1", "", ""), http.StatusUnauthorized, "unauthorized")
	wantAPIError(t, s.do(http.MethodGet, "/admin/v1", "wrong-token-0123456789", ""), http.StatusUnauthorized, "unauthorized")
	r = s.do(http.MethodGet, "/admin/v1", testAdminToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /admin/v1: %d %s", r.status, r.body)
	}
	admin := decodeJSON[indexJSON](t, r)
	if admin.Links["directories"] != public+"/admin/v1/directories" || admin.Links["audit"] != public+"/admin/v1/audit" ||
		admin.Links["scimBaseUrl"] != idx.Links["scimBaseUrl"] {
		t.Errorf("GET /admin/v1: %s", r.body)
	}
	follow(admin, testAdminToken)
	wantAPIError(t, s.do(http.MethodGet, "/admin/v1?x=1", testAdminToken, ""), http.StatusBadRequest, "invalid_parameter")
	wantAPIError(t, s.do(http.MethodPost, "/admin/v1", testAdminToken, ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

// TestPublicURLOfPortZero runs `scimd serve` on port 0 without
// SCIMD_PUBLIC_URL: the first start's Tenant URL and the index name the
// port the server got.
func TestPublicURLOfPortZero(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	env := map[string]string{"SCIMD_ADDR": "127.0.0.1:0", "SCIMD_DB": filepath.Join(t.TempDir(), "scimd.db"), "SCIMD_LOG_LEVEL": "warn"}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &stdout, &stderr) }()

	tenant := regexp.MustCompile(`Tenant URL: +(http://127\.0\.0\.1:(\d+))/scim/v2/\S+`)
	var m []string
	for deadline := time.Now().Add(20 * time.Second); m == nil; m = tenant.FindStringSubmatch(stdout.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no Tenant URL on the bound port: stdout %q, stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m[2] == "0" {
		t.Fatalf("Tenant URL on port 0: %s", m[0])
	}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if resp, err = http.Get(m[1] + "/"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var idx indexJSON
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil || idx.Links["scimBaseUrl"] != m[1]+"/scim/v2/{directoryId}" {
		t.Errorf("index: %+v, %v", idx, err)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("serve exited %d: %s", code, stderr.String())
	}
}
