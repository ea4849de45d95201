package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/presence/fakegraph"
)

// TestJSONLeavesHTMLCharacters checks, on each API, that &, < and > come
// back as sent rather than as \u0026, \u003c and \u003e: a consent URL
// printed by curl must work when pasted, and names must read as typed.
func TestJSONLeavesHTMLCharacters(t *testing.T) {
	s := startServer(t, testOptions{config: func(c *Config) {
		c.PresenceClientID, c.PresenceClientSecret = fakegraph.DefaultClientID, fakegraph.DefaultClientSecret
	}})
	unescaped := func(what string, r response, want ...string) {
		t.Helper()
		body := string(r.body)
		for _, esc := range []string{`\u0026`, `\u003c`, `\u003e`} {
			if strings.Contains(body, esc) {
				t.Errorf("%s: %s in %s", what, esc, body)
			}
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: %s lacks %s", what, body, w)
			}
		}
	}

	// Admin API.
	r := s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"a&b<c>"}`)
	unescaped("create directory", r, `"name":"a&b<c>"`)
	d := decodeJSON[directoryJSON](t, r)
	unescaped("list directories", s.do(http.MethodGet, "/admin/v1/directories", testAdminToken, ""), `"name":"a&b<c>"`)
	r = s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/presence/consent", testAdminToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.status, r.body)
	}
	unescaped("consent URL", r, "&redirect_uri=", "&scope=", "&state=")
	unescaped("admin error", s.do(http.MethodPatch, "/admin/v1/directories/"+d.ID, testAdminToken, `{"name":"x","<b>&":1}`),
		`unknown field \"<b>&\"`)

	// SCIM: a resource, a list and an error.
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@contoso.com","externalId":"a1",
		"displayName":"Ann & <Support>","name":{"givenName":"Ann","familyName":"Archer"},
		"phoneNumbers":[{"type":"work","value":"+442071838750"}]}`
	scimHeader := map[string]string{"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"}
	r = s.doHeader(http.MethodPost, "/scim/v2/"+d.ID+"/Users", user, scimHeader)
	if r.status != http.StatusCreated {
		t.Fatalf("SCIM create: %d %s", r.status, r.body)
	}
	unescaped("SCIM create", r, `"displayName":"Ann & <Support>"`)
	id := decodeJSON[struct{ ID string }](t, r).ID
	unescaped("SCIM list", s.doHeader(http.MethodGet, "/scim/v2/"+d.ID+"/Users", "", scimHeader), `"displayName":"Ann & <Support>"`)
	r = s.doHeader(http.MethodPatch, "/scim/v2/"+d.ID+"/Users/"+id,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"+44 & <1>"}]}`,
		scimHeader)
	wantSCIMError(t, r, http.StatusBadRequest)
	unescaped("SCIM error", r, `\"+44 & <1>\"`)

	// Lookup API.
	key := decodeJSON[struct{ Key string }](t, s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`)).Key
	unescaped("lookup", s.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/contacts?q=ann", key, ""), `"displayName":"Ann & <Support>"`)
	unescaped("lookup error", s.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/lookup?phone=%3Cb%3E%26", key, ""), `<b>&`)
}
