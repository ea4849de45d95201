package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

type auditJSON struct {
	Entries []struct {
		Actor         store.Actor `json:"actor"`
		DirectoryID   string      `json:"directoryId"`
		DirectoryName string      `json:"directoryName"`
		Action        string      `json:"action"`
	} `json:"entries"`
}

// TestFirstStartAudited: the default directory of a first start is in
// the audit trail, made by scimd itself.
func TestFirstStartAudited(t *testing.T) {
	s := startServer(t, testOptions{})
	r := s.do(http.MethodGet, "/admin/v1/audit", testAdminToken, "")
	trail := decodeJSON[auditJSON](t, r)
	if r.status != http.StatusOK || len(trail.Entries) != 1 {
		t.Fatalf("audit after the first start: %d %s", r.status, r.body)
	}
	e := trail.Entries[0]
	if e.Action != store.AuditDirectoryCreated || e.Actor.Type != store.ActorBootstrap || e.DirectoryName != "default" {
		t.Errorf("first start's entry: %+v", e)
	}
}

// TestReplicasTokenGrace: a token rotated on one replica with a grace
// period keeps working on the other, which cached the directory, until
// the period ends, and stops then, with no change announced at that
// instant. A second rotation ends the first one's previous token on both
// replicas within a second.
func TestReplicasTokenGrace(t *testing.T) {
	rs := startReplicas(t, 2, testOptions{})
	a, b := rs[0], rs[1]
	d := decodeJSON[directoryJSON](t, a.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	users := "/scim/v2/" + d.ID + "/Users"
	status := func(s *testServer, token string) int { return s.do(http.MethodGet, users, token, "").status }
	if got := status(b, d.SCIMToken); got != http.StatusOK {
		t.Fatalf("the first token on B: %d", got)
	}

	type rotated struct {
		SCIMToken               string
		PreviousTokenValidUntil time.Time
	}
	r := a.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/token", testAdminToken, `{"graceSeconds":2}`)
	first := decodeJSON[rotated](t, r)
	if r.status != http.StatusOK || first.PreviousTokenValidUntil.Before(time.Now().Add(time.Second)) {
		t.Fatalf("rotate with 2 s of grace: %d %s", r.status, r.body)
	}
	// B follows the rotation (the new token works) and still takes the
	// old one: it caches the directory as rotated.
	within(t, time.Second, "the new token accepted on B", func() bool { return status(b, first.SCIMToken) == http.StatusOK })
	if got := status(b, d.SCIMToken); got != http.StatusOK && time.Now().Before(first.PreviousTokenValidUntil) {
		t.Fatalf("the previous token on B during the grace period: %d", got)
	}
	for _, s := range rs {
		within(t, time.Until(first.PreviousTokenValidUntil)+1500*time.Millisecond, "the previous token refused once its grace ended", func() bool {
			return status(s, d.SCIMToken) == http.StatusUnauthorized
		})
	}
	if now := time.Now(); now.Before(first.PreviousTokenValidUntil) {
		t.Errorf("the previous token was refused at %v, before its grace ended at %v", now, first.PreviousTokenValidUntil)
	}
	if got := status(b, first.SCIMToken); got != http.StatusOK {
		t.Errorf("the current token on B after the grace period: %d", got)
	}

	// Two rotations with an hour of grace: only the last token's
	// predecessor stays.
	second := decodeJSON[rotated](t, a.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/token", testAdminToken, `{"graceSeconds":3600}`))
	third := decodeJSON[rotated](t, b.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/token", testAdminToken, `{"graceSeconds":3600}`))
	for _, s := range rs {
		within(t, time.Second, "the token two rotations back refused", func() bool {
			return status(s, first.SCIMToken) == http.StatusUnauthorized
		})
		for _, tok := range []string{second.SCIMToken, third.SCIMToken} {
			if got := status(s, tok); got != http.StatusOK {
				t.Errorf("token %s…: %d", tok[:10], got)
			}
		}
	}
	r = b.do(http.MethodGet, "/admin/v1/directories/"+d.ID+"/audit?action=scim_token.rotated", testAdminToken, "")
	if trail := decodeJSON[auditJSON](t, r); len(trail.Entries) != 3 || strings.Contains(string(r.body), third.SCIMToken) {
		t.Errorf("rotations in the audit trail: %s", r.body)
	}
}
