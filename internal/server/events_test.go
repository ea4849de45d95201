package server

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
)

type eventsPage struct {
	Events []struct{ ID, Type string }
	Next   string
}

// cursorOf is the events cursor of seq, as the API writes it (opaque to
// clients; the tests know it to name old positions).
func cursorOf(seq string) string { return base64.RawURLEncoding.EncodeToString([]byte(seq)) }

// apiKey creates a lookup API key of d.
func (s *testServer) apiKey(d directoryJSON) string {
	s.t.Helper()
	r := s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`)
	if r.status != http.StatusCreated {
		s.t.Fatalf("create API key: %d %s", r.status, r.body)
	}
	return decodeJSON[struct{ Key string }](s.t, r).Key
}

func (s *testServer) events(d directoryJSON, key, after string) eventsPage {
	s.t.Helper()
	r := s.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/events?after="+after, key, "")
	if r.status != http.StatusOK {
		s.t.Fatalf("events after %q: %d %s", after, r.status, r.body)
	}
	return decodeJSON[eventsPage](s.t, r)
}

// TestServeEvents: the pruner applies SCIMD_EVENT_RETENTION (an expired
// cursor answers 410, the newer events stay), a cursor resumes across a
// restart, and SCIMD_EVENTS=off records nothing and says so.
func TestServeEvents(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "scimd.db")
	at := time.Now().Add(-48 * time.Hour)
	db, err := sqlite.OpenAndMigrate(ctx, path, sqlite.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	const dirID = "8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10"
	if _, err := db.CreateDirectory(ctx, store.Directory{ID: dirID, Name: "d", SCIMTokenHash: store.HashToken("unused-token-0123456789")}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"old1", "old2", "old3", "recent"} {
		if i == 3 {
			at = time.Now().Add(-time.Hour) // within the retention
		}
		u := store.User{DirectoryID: dirID, ID: "user-" + name, UserName: name + "@contoso.com", Active: true, Doc: []byte(`{}`)}
		if _, err := db.CreateUser(ctx, u, store.SyncEvent{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	pruned := make(chan struct{}, 1)
	s := startServer(t, testOptions{db: path,
		config:        func(c *Config) { c.EventRetention = 24 * time.Hour },
		syncLogPruned: func(int64, error) { pruned <- struct{}{} }})
	select {
	case <-pruned:
	case <-time.After(10 * time.Second):
		t.Fatal("no prune at start")
	}
	d := directoryJSON{ID: dirID}
	key := s.apiKey(d)
	wantAPIError(t, s.do(http.MethodGet, "/api/v1/directories/"+dirID+"/events?after="+cursorOf("1"), key, ""), http.StatusGone, "cursor_expired")
	p := s.events(d, key, cursorOf("3"))
	if len(p.Events) != 1 || p.Events[0].ID != cursorOf("4") || p.Events[0].Type != "contact.created" {
		t.Fatalf("events after the pruned ones: %+v", p)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	// The cursor resumes on the restarted server.
	s2 := startServer(t, testOptions{db: path})
	tok := decodeJSON[struct{ SCIMToken string }](t, s2.do(http.MethodPost, "/admin/v1/directories/"+dirID+"/token", testAdminToken, ""))
	d.SCIMToken = tok.SCIMToken
	id := s2.createSCIMUser(d, annArcher)
	p2 := s2.events(d, key, p.Next)
	if len(p2.Events) != 1 || p2.Events[0].ID != cursorOf("5") {
		t.Fatalf("after a restart: %+v", p2)
	}
	if err := s2.stop(); err != nil {
		t.Fatal(err)
	}

	// Off: the API says so, writes record nothing.
	s3 := startServer(t, testOptions{db: path, config: func(c *Config) { c.EventsOff = true }})
	for _, ep := range []string{"/events", "/events/latest", "/events/stream"} {
		wantAPIError(t, s3.do(http.MethodGet, "/api/v1/directories/"+dirID+ep, key, ""), http.StatusNotFound, "events_disabled")
	}
	r := s3.doHeader(http.MethodPatch, "/scim/v2/"+dirID+"/Users/"+id,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"title","value":"Lead"}]}`,
		map[string]string{"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusOK && r.status != http.StatusNoContent {
		t.Fatalf("PATCH with events off: %d %s", r.status, r.body)
	}
	if err := s3.stop(); err != nil {
		t.Fatal(err)
	}
	s4 := startServer(t, testOptions{db: path})
	if p := s4.events(d, key, p2.Next); len(p.Events) != 0 {
		t.Errorf("a write made with events off left %+v", p.Events)
	}
}

// openEventStream opens …/events/stream on s and returns its lines.
func openEventStream(t *testing.T, s *testServer, dirID, key, lastEventID string) <-chan string {
	t.Helper()
	return s.openSSE(t, "/api/v1/directories/"+dirID+"/events/stream", key, lastEventID)
}

// nextChange returns the id and SSE name of the stream's next event.
func nextChange(t *testing.T, lines <-chan string) (id, name string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			switch {
			case strings.HasPrefix(l, "id: "):
				id = strings.TrimPrefix(l, "id: ")
			case strings.HasPrefix(l, "event: "):
				name = strings.TrimPrefix(l, "event: ")
			case strings.HasPrefix(l, "data: ") && name != "":
				return id, name
			}
		case <-timeout:
			t.Fatal("no event within 10 s")
		}
	}
}

// TestReplicasEvents: an event written through replica A reaches a
// stream on replica B, and cursors mean the same on both.
func TestReplicasEvents(t *testing.T) {
	rs := startReplicas(t, 2, testOptions{})
	a, b := rs[0], rs[1]
	d := decodeJSON[directoryJSON](t, a.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	key := a.apiKey(d)
	onB := openEventStream(t, b, d.ID, key, "")
	a.createSCIMUser(d, annArcher)
	id, name := nextChange(t, onB)
	if name != "contact.created" {
		t.Fatalf("B's stream got %q", name)
	}
	// A's cursor resumes on B, B's on A.
	latest := decodeJSON[struct{ Next string }](t, a.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/events/latest", key, ""))
	if latest.Next != id {
		t.Errorf("A's latest %q, B streamed %q", latest.Next, id)
	}
	second := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"max@contoso.com","externalId":"m1","name":{"givenName":"Max"},"phoneNumbers":[{"type":"work","value":"+14255550100"}]}`
	b.createSCIMUser(d, second)
	if p := a.events(d, key, id); len(p.Events) != 1 || p.Events[0].Type != "contact.created" {
		t.Errorf("A after B's write: %+v", p)
	}
	onA := openEventStream(t, a, d.ID, key, id)
	if _, name := nextChange(t, onA); name != "contact.created" {
		t.Errorf("A's stream resumed from B's id got %q", name)
	}
}

// TestReplicasEventsConcurrentWriters: writers on both replicas while a
// reader follows the feed on one: it sees every event once, numbered
// without gaps (a reader that saw a later number before an earlier one
// committed would skip that one forever).
func TestReplicasEventsConcurrentWriters(t *testing.T) {
	rs := startReplicas(t, 2, testOptions{})
	d := decodeJSON[directoryJSON](t, rs[0].do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	key := rs[0].apiKey(d)
	const writers, each = 4, 10
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := range writers {
			s := rs[w%2]
			wg.Go(func() {
				for i := range each {
					user := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"w%d-%d@contoso.com","externalId":"x%d-%d","name":{"givenName":"W"},"phoneNumbers":[{"type":"work","value":"+14255550100"}]}`, w, i, w, i)
					r := s.doHeader(http.MethodPost, "/scim/v2/"+d.ID+"/Users", user, map[string]string{
						"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
					if r.status != http.StatusCreated {
						t.Errorf("create: %d %s", r.status, r.body)
						return
					}
				}
			})
		}
		wg.Wait()
	}()
	var seen, last int
	after := cursorOf("0")
	for finished := false; ; {
		select {
		case <-done:
			finished = true // read to the end after the last commit
		default:
		}
		p := rs[1].events(d, key, after)
		for _, e := range p.Events {
			b, _ := base64.RawURLEncoding.DecodeString(e.ID)
			n, _ := strconv.Atoi(string(b))
			if n != last+1 {
				t.Fatalf("reader after %d got %d: an event was skipped", last, n)
			}
			last = n
			seen++
		}
		after = p.Next
		if finished && len(p.Events) == 0 {
			break
		}
	}
	if seen != writers*each {
		t.Errorf("reader saw %d events, want %d", seen, writers*each)
	}
}
