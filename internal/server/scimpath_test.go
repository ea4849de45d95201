package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestSCIMPathsWithDoubledSlashes: through the whole handler (middleware
// and every area's routes), a Tenant URL pasted with a trailing slash
// works: POST {base}//Users creates the user instead of a 301 that the
// client follows as a GET (s.do follows redirects, as most clients do),
// and the request is logged and counted under its route.
func TestSCIMPathsWithDoubledSlashes(t *testing.T) {
	s := startServer(t, testOptions{})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Slash"}`))
	base := "/scim/v2/" + d.ID + "/"

	r := s.do(http.MethodPost, base+"/Users", d.SCIMToken, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"slash@example.com","externalId":"x","name":{"givenName":"S"},"phoneNumbers":[{"type":"work","value":"+14255550100"}]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("POST %s/Users: %d %s", base, r.status, r.body)
	}
	id := decodeJSON[struct{ ID string }](t, r).ID
	r = s.do(http.MethodPatch, base+"/Users/"+id, d.SCIMToken, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","path":"title","value":"T"}]}`)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"title":"T"`) {
		t.Fatalf("PATCH %s/Users/{id}: %d %s", base, r.status, r.body)
	}
	r = s.do(http.MethodGet, base+"/Users?filter=userName+eq+%22slash@example.com%22", d.SCIMToken, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"totalResults":1`) {
		t.Fatalf("GET %s/Users: %d %s", base, r.status, r.body)
	}
	if !strings.Contains(s.logs.String(), "route=/scim/v2/{directoryId}/Users status=201") {
		t.Errorf("the create is not logged under its route:\n%s", s.logs)
	}
	// Other areas do not redirect an unclean path either: it matches
	// nothing.
	if r := s.do(http.MethodGet, "/admin/v1//directories", testAdminToken, ""); r.status != http.StatusNotFound {
		t.Errorf("GET /admin/v1//directories: %d %s", r.status, r.body)
	}
}
