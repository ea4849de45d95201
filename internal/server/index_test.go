package server

import (
	"net/http"
	"strings"
	"testing"
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
