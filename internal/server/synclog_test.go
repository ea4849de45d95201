package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestSyncLogEndToEnd checks the wiring: SCIM writes through the real
// server show in the admin API's sync log, JSON and CSV, under the
// directory's mapping rules.
func TestSyncLogEndToEnd(t *testing.T) {
	s := startServer(t, testOptions{})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	admin := "/admin/v1/directories/" + d.ID
	if r := s.do(http.MethodPut, admin+"/mapping", testAdminToken, `{"required":["userName"]}`); r.status != http.StatusOK {
		t.Fatalf("PUT mapping: %d %s", r.status, r.body)
	}

	users := "/scim/v2/" + d.ID + "/Users"
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@contoso.com","active":true}`
	r := s.doHeader(http.MethodPost, users, body, map[string]string{"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusCreated {
		t.Fatalf("create user: %d %s", r.status, r.body)
	}
	id := decodeJSON[struct{ ID string }](t, r).ID
	r = s.doHeader(http.MethodPost, users, body, map[string]string{"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusConflict {
		t.Fatalf("duplicate user: %d %s", r.status, r.body)
	}

	r = s.do(http.MethodGet, admin+"/sync-log?resource=User", testAdminToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("sync-log: %d %s", r.status, r.body)
	}
	var log struct {
		Events []struct {
			Operation, ResourceType, ResourceID, Identity, Type, Status, Result string
		}
	}
	if err := json.Unmarshal(r.body, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Events) != 2 {
		t.Fatalf("events = %+v, want the refused duplicate and the create", log.Events)
	}
	refused, created := log.Events[0], log.Events[1]
	if created.Operation != "create" || created.ResourceID != id || created.Identity != "alice@contoso.com" ||
		created.Type != "New" || created.Status != "Success" {
		t.Errorf("create event = %+v", created)
	}
	if refused.Operation != "create" || refused.Status != "Failed" || refused.Identity != "alice@contoso.com" || refused.Result == "" {
		t.Errorf("refusal event = %+v", refused)
	}

	r = s.do(http.MethodGet, admin+"/sync-log.csv?status=success", testAdminToken, "")
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if r.status != http.StatusOK || len(lines) != 2 || lines[0] != "Time,Operation,Resource,Resource ID,Email,Type,Sync Status,Result" ||
		!strings.Contains(lines[1], ",create,User,"+id+",alice@contoso.com,New,Success,") {
		t.Errorf("CSV: %d\n%s", r.status, r.body)
	}
	r = s.do(http.MethodGet, admin+"/sync-log/summary", testAdminToken, "")
	if sum := decodeJSON[struct{ Total, Success, Failed int }](t, r); sum.Total != 2 || sum.Success != 1 || sum.Failed != 1 {
		t.Errorf("summary: %s", r.body)
	}
}
