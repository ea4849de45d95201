package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestLookupWired checks the lookup API through the whole server: an API
// key from the admin API reads the directory Entra provisions into, and
// neither the logs nor the metrics show the number looked up.
func TestLookupWired(t *testing.T) {
	s := startServer(t, testOptions{})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	r := s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`)
	key := decodeJSON[struct{ Key string }](t, r).Key
	if r.status != http.StatusCreated || key == "" {
		t.Fatalf("create API key: %d %s", r.status, r.body)
	}
	s.createSCIMUser(d, annArcher)

	base := "/api/v1/directories/" + d.ID
	r = s.do(http.MethodGet, base+"/lookup?phone=020+7183+8750&region=GB", key, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"displayName":"Ann Archer"`) {
		t.Fatalf("lookup: %d %s", r.status, r.body)
	}
	wantAPIError(t, s.do(http.MethodGet, base+"/contacts", "", ""), http.StatusUnauthorized, "unauthorized")
	wantAPIError(t, s.do(http.MethodGet, base+"/nope", key, ""), http.StatusNotFound, "not_found")
	if r := s.do(http.MethodGet, "/api/v1/openapi.json", "", ""); r.status != http.StatusOK {
		t.Errorf("openapi.json: %d", r.status)
	}

	metrics := string(s.do(http.MethodGet, "/metrics", "", "").body)
	if want := `scimd_http_requests_total{directory="",method="GET",route="/api/v1/directories/{directoryId}/lookup",status="200"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
	// The number in every form it took; not a shorter run of digits, which
	// a request id or a duration may contain by chance.
	for _, leak := range []string{"2071838750", "7183+8750", "7183 8750", "ann@contoso.com", key} {
		if strings.Contains(s.logs.String(), leak) || strings.Contains(metrics, leak) {
			t.Errorf("logs or metrics show %q", leak)
		}
	}
}
