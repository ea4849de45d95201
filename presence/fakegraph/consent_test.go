package fakegraph

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// consent opens the admin-consent page as a browser would, without
// following the redirect.
func consent(t *testing.T, f *fixture, path string, q url.Values) (int, string, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.url + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

func consentQuery() url.Values {
	return url.Values{
		"client_id":    {DefaultClientID},
		"scope":        {graphScope},
		"redirect_uri": {"https://scimd.example/admin/consent/callback"},
		"state":        {"csrf 1/2"},
	}
}

func TestAdminConsent(t *testing.T) {
	const cb = "https://scimd.example/admin/consent/callback"
	tests := []struct {
		name, path, redirect, wantLocation string
	}{
		{"v2, tenant GUID", "/" + tenantID + "/v2.0/adminconsent", cb,
			cb + "?admin_consent=True&tenant=" + tenantID + "&state=csrf+1%2f2&scope=https%3a%2f%2fgraph.microsoft.com%2f.default"},
		{"v2, domain", "/contoso.onmicrosoft.com/v2.0/adminconsent", cb,
			cb + "?admin_consent=True&tenant=22222222-2222-2222-2222-222222222222&state=csrf+1%2f2&scope=https%3a%2f%2fgraph.microsoft.com%2f.default"},
		{"v1, organizations", "/organizations/adminconsent", cb,
			cb + "?admin_consent=True&tenant=22222222-2222-2222-2222-222222222222&state=csrf+1%2f2"},
		{"redirect with a query", "/" + tenantID + "/adminconsent", cb + "?x=1",
			cb + "?x=1&admin_consent=True&tenant=" + tenantID + "&state=csrf+1%2f2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			q := consentQuery()
			q.Set("redirect_uri", tt.redirect)
			status, loc, _ := consent(t, f, tt.path, q)
			if status != http.StatusFound || loc != tt.wantLocation {
				t.Errorf("got %d %q\nwant 302 %q", status, loc, tt.wantLocation)
			}
		})
	}
}

func TestAdminConsentGrants(t *testing.T) {
	f := newFixture(t, Config{})
	f.fake.SetPresence(userA, "Busy", "Busy")
	tok := token(t, f)
	f.fake.RevokeConsent()
	if status, _, _ := consent(t, f, "/"+tenantID+"/v2.0/adminconsent", consentQuery()); status != http.StatusFound {
		t.Fatalf("consent: %d", status)
	}
	if g := f.presences(t, tok, userA); g.status != http.StatusOK {
		t.Errorf("after admin consent: %d", g.status)
	}
}

func TestAdminConsentDenied(t *testing.T) {
	f := newFixture(t, Config{})
	f.fake.RevokeConsent()
	f.fake.DenyConsent()
	status, loc, _ := consent(t, f, "/"+tenantID+"/v2.0/adminconsent", consentQuery())
	want := "https://scimd.example/admin/consent/callback?error=access_denied&error_description=AADSTS65004%3a+User+declined+to+consent+to+access+the+app.&state=csrf+1%2f2"
	if status != http.StatusFound || loc != want {
		t.Fatalf("got %d %q\nwant 302 %q", status, loc, want)
	}
	g := f.presences(t, token(t, f), userA)
	if g.status != http.StatusForbidden {
		t.Errorf("a declined consent granted: %d", g.status)
	}
	f.fake.GrantConsent()
	if _, loc, _ := consent(t, f, "/"+tenantID+"/v2.0/adminconsent", consentQuery()); !strings.Contains(loc, "admin_consent=True") {
		t.Errorf("after GrantConsent: %q", loc)
	}
}

func TestAdminConsentErrors(t *testing.T) {
	f := newFixture(t, Config{})
	tests := map[string]struct {
		edit func(url.Values)
		want string
	}{
		"wrong client id": {func(q url.Values) { q.Set("client_id", userA) }, "AADSTS700016: "},
		"no client id":    {func(q url.Values) { q.Del("client_id") }, "AADSTS900144: "},
		"no redirect":     {func(q url.Values) { q.Del("redirect_uri") }, "AADSTS900144: "},
	}
	for name, tt := range tests {
		q := consentQuery()
		tt.edit(q)
		status, loc, body := consent(t, f, "/"+tenantID+"/v2.0/adminconsent", q)
		if status != http.StatusBadRequest || loc != "" || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %q %q", name, status, loc, body)
		}
	}
	f.fake.DeleteApp()
	if status, _, body := consent(t, f, "/"+tenantID+"/v2.0/adminconsent", consentQuery()); status != 400 || !strings.Contains(body, "AADSTS700016") {
		t.Errorf("deleted app: %d %q", status, body)
	}
}
