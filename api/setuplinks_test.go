package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/store"
)

type setupLinkJSON struct {
	ID          string    `json:"id"`
	DirectoryID string    `json:"directoryId"`
	URL         string    `json:"url"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Expired     bool      `json:"expired"`
}

// TestSetupLinks: create (24 h by default, or as asked within 5 min to
// 30 days), list without secrets, open while valid, revoke; every refusal
// names its problem and changes nothing; each change leaves an audit
// entry without the secret.
func TestSetupLinks(t *testing.T) {
	now := epoch
	f, db := newSQLiteFixture(t, &now)
	d := decode[struct{ ID string }](t, f.do(t, http.MethodPost, "/admin/v1/directories", `{"name":"Contoso"}`))
	base := "/admin/v1/directories/" + d.ID + "/setup-links"

	r := f.do(t, http.MethodPost, base, "")
	if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	day := decode[setupLinkJSON](t, r)
	secret, ok := strings.CutPrefix(day.URL, "https://scim.example.com/console/setup/")
	if !ok || !strings.HasPrefix(secret, api.SetupLinkPrefix) || day.DirectoryID != d.ID || !day.Expires.Equal(now.Add(24*time.Hour)) || day.Expired {
		t.Fatalf("default link = %+v", day)
	}
	if loc := r.header.Get("Location"); loc != base+"/"+day.ID {
		t.Errorf("Location %q", loc)
	}
	week := decode[setupLinkJSON](t, f.do(t, http.MethodPost, base, `{"expiresInSeconds": 604800}`))
	if !week.Expires.Equal(now.Add(7 * 24 * time.Hour)) {
		t.Errorf("7-day link expires %v", week.Expires)
	}

	for _, body := range []string{`{"expiresInSeconds": 60}`, `{"expiresInSeconds": 2592001}`, `{"expiresInSeconds": 3600.5}`, `{"expiresInSeconds": "1h"}`, `{"ttl": 1}`} {
		r := f.do(t, http.MethodPost, base, body)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "expiresInSeconds") && !strings.Contains(string(r.body), "ttl") {
			t.Errorf("create %s: %d %s", body, r.status, r.body)
		}
	}
	wantError(t, f.do(t, http.MethodPost, "/admin/v1/directories/00000000-0000-4000-8000-000000000000/setup-links", ""), http.StatusNotFound, "not_found")
	wantError(t, f.doAuth(t, http.MethodPost, base, "", ""), http.StatusUnauthorized, "unauthorized")

	r = f.do(t, http.MethodGet, base, "")
	list := decode[struct{ SetupLinks []setupLinkJSON }](t, r)
	if r.status != http.StatusOK || len(list.SetupLinks) != 2 || strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), `"url"`) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}

	// The link opens while it is valid, whatever asks (the console).
	admin := api.NewAdmin(api.AdminConfig{Store: db, Now: func() time.Time { return now }})
	if l, err := admin.OpenSetupLink(t.Context(), secret); err != nil || l.ID != day.ID || l.DirectoryID != d.ID {
		t.Fatalf("OpenSetupLink = %+v, %v", l, err)
	}
	if _, err := admin.OpenSetupLink(t.Context(), secret+"x"); err != api.ErrSetupLinkInvalid {
		t.Errorf("OpenSetupLink(wrong secret) = %v", err)
	}
	now = now.Add(24 * time.Hour)
	if _, err := admin.OpenSetupLink(t.Context(), secret); err != api.ErrSetupLinkInvalid {
		t.Errorf("OpenSetupLink(expired) = %v", err)
	}
	if list := decode[struct{ SetupLinks []setupLinkJSON }](t, f.do(t, http.MethodGet, base, "")); !list.SetupLinks[1].Expired || list.SetupLinks[0].Expired {
		t.Errorf("after a day: %+v", list.SetupLinks)
	}

	if r := f.do(t, http.MethodDelete, base+"/"+week.ID, ""); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wantError(t, f.do(t, http.MethodDelete, base+"/"+week.ID, ""), http.StatusNotFound, "not_found")
	wantError(t, f.do(t, http.MethodDelete, base+"/not-a-uuid", ""), http.StatusNotFound, "not_found")
	if list := decode[struct{ SetupLinks []setupLinkJSON }](t, f.do(t, http.MethodGet, base, "")); len(list.SetupLinks) != 1 || list.SetupLinks[0].ID != day.ID {
		t.Errorf("after revoking: %+v", list.SetupLinks)
	}

	es, err := db.ListAudit(t.Context(), store.AuditQuery{DirectoryID: d.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Action)
		if strings.Contains(string(e.Details), secret) || e.Actor.Type != store.ActorAdminToken {
			t.Errorf("audit entry %+v", e)
		}
	}
	if want := "setup_link.revoked setup_link.created setup_link.created directory.created"; strings.Join(got, " ") != want {
		t.Errorf("audit = %q, want %q", got, want)
	}
}
