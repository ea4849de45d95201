package fakegraph

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestStats(t *testing.T) {
	f := newFixture(t, Config{})
	tok := token(t, f)
	bad := secretForm()
	bad.Set("client_secret", "nope")
	postToken(t, f, tenantID, bad, nil)
	postToken(t, f, "Contoso.onmicrosoft.com", secretForm(), nil)
	f.presences(t, tok, idList(3)...)
	f.presences(t, "", idList(2)...) // refused, but still asked
	f.presences(t, tok, idList(651)...)
	do(t, http.DefaultClient, "POST", f.url+"/v1.0/communications/getPresencesByUserId", tok, "{")
	do(t, http.DefaultClient, "GET", f.url+"/v1.0/users/"+userA+"/presence", tok, "")
	// Neither of these counts.
	consent(t, f, "/"+tenantID+"/v2.0/adminconsent", url.Values{"client_id": {DefaultClientID}})
	do(t, http.DefaultClient, "GET", f.url+"/nowhere", "", "")

	want := Stats{
		Requests: 8, TokenRequests: 3, GraphRequests: 5, IDsRequested: 3 + 2 + 651,
		PerTenantToken: map[string]int{tenantID: 2, "contoso.onmicrosoft.com": 1},
	}
	got := f.fake.Stats()
	if got.Requests != want.Requests || got.TokenRequests != want.TokenRequests || got.GraphRequests != want.GraphRequests ||
		got.IDsRequested != want.IDsRequested || !maps.Equal(got.PerTenantToken, want.PerTenantToken) {
		t.Errorf("Stats() = %+v\nwant %+v", got, want)
	}
	if f.fake.Requests() != 8 {
		t.Errorf("Requests() = %d", f.fake.Requests())
	}
	got.PerTenantToken["x"] = 1 // a copy: the fake's own is untouched
	if _, ok := f.fake.Stats().PerTenantToken["x"]; ok {
		t.Error("Stats shares its map")
	}

	g := do(t, http.DefaultClient, "GET", f.url+"/_stats", "", "")
	var js Stats
	json.Unmarshal([]byte(g.raw), &js)
	if g.status != http.StatusOK || js.Requests != 8 || js.TokenRequests != 3 || js.GraphRequests != 5 || js.IDsRequested != 656 {
		t.Errorf("/_stats: %d %s", g.status, g.raw)
	}
	if !strings.HasPrefix(g.raw, `{"requests":8,"tokenRequests":3,"graphRequests":5,"idsRequested":656`) {
		t.Errorf("/_stats keys: %s", g.raw)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t, Config{})
	for _, path := range []string{"/nowhere", "/v1.0/users/" + userA, "/beta/communications/getPresencesByUserId"} {
		g := do(t, http.DefaultClient, "GET", f.url+path, "", "")
		if g.status != http.StatusNotFound || g.errorCode() != "NotFound" || g.header.Get("Content-Type") != graphContentType {
			t.Errorf("%s: %d %s", path, g.status, g.raw)
		}
	}
	// A Graph action asked with the wrong method is no route either.
	if g := do(t, http.DefaultClient, "GET", f.url+"/v1.0/communications/getPresencesByUserId", "", ""); g.status != http.StatusNotFound {
		t.Errorf("GET on the action: %d", g.status)
	}
}

func TestIsGUID(t *testing.T) {
	for s, want := range map[string]bool{
		userA:                                  true,
		strings.ToUpper(userA):                 true,
		"00000000-0000-0000-0000-000000000000": true,
		"0b8c6e3a5f7d4c3e9a1b2d4e6f8a0c1e":     false,
		"{" + userA + "}":                      false,
		"0b8c6e3a-5f7d-4c3e-9a1b-2d4e6f8a0c1g": false,
		"0b8c6e3a-5f7d-4c3e-9a1b_2d4e6f8a0c1e": false,
		"":                                     false,
	} {
		if isGUID(s) != want {
			t.Errorf("isGUID(%q) = %v", s, !want)
		}
	}
	if g := newGUID(); !isGUID(g) || g[14] != '4' {
		t.Errorf("newGUID() = %q", g)
	}
}
