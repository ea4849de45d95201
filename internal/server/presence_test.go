package server

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/presence/fakegraph"
)

// TestPresenceWired runs Teams presence through the whole server against
// a fake Microsoft Graph: connect through the admin API, presence in the
// lookup API, the stream through the middleware (flushes, and outlives
// the server's WriteTimeout), metrics, and a shutdown that does not wait
// for open streams.
func TestPresenceWired(t *testing.T) {
	const (
		secret = "wired-Graph~Secret.0123456789"
		oid    = "aaaaaaaa-0000-4000-8000-0000000000aa"
		tenant = "33333333-3333-4333-8333-333333333333"
	)
	graph := fakegraph.New(fakegraph.Config{ClientSecret: secret})
	gsrv := httptest.NewServer(graph)
	t.Cleanup(gsrv.Close)
	s := startServer(t, testOptions{
		config: func(c *Config) {
			c.LoginURL, c.GraphURL = gsrv.URL, gsrv.URL
			c.SecretKey = bytes.Repeat([]byte{9}, 32)
		},
		presenceInterval: 50 * time.Millisecond,
		streamHeartbeat:  50 * time.Millisecond,
		writeTimeout:     300 * time.Millisecond,
	})

	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	key := decodeJSON[struct{ Key string }](t, s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`)).Key
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@contoso.com","externalId":"` + oid + `",
		"name":{"givenName":"Ann","familyName":"Archer"},"phoneNumbers":[{"type":"work","value":"+442071838750"}]}`
	r := s.doHeader(http.MethodPost, "/scim/v2/"+d.ID+"/Users", user, map[string]string{
		"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusCreated {
		t.Fatalf("SCIM create: %d %s", r.status, r.body)
	}
	annID := decodeJSON[struct{ ID string }](t, r).ID
	graph.SetPresence(oid, "Busy", "InACall")

	r = s.do(http.MethodPut, "/admin/v1/directories/"+d.ID+"/presence", testAdminToken,
		`{"tenantId":"`+tenant+`","clientId":"`+fakegraph.DefaultClientID+`","clientSecret":"`+secret+`"}`)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"state":"connected"`) {
		t.Fatalf("connect: %d %s", r.status, r.body)
	}
	contact := "/api/v1/directories/" + d.ID + "/contacts/" + annID
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(s.do(http.MethodGet, contact, key, "").body), `"availability":"Busy"`) {
		if time.Now().After(deadline) {
			t.Fatal("presence did not appear in the lookup API")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The stream, through every middleware, for longer than WriteTimeout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/api/v1/directories/"+d.ID+"/presence/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() (string, bool) {
		select {
		case l, ok := <-lines:
			return l, ok
		case <-time.After(5 * time.Second):
			t.Fatal("the stream sent nothing for 5 s")
			return "", false
		}
	}
	opened := time.Now()
	heartbeats := 0
	for time.Since(opened) < 700*time.Millisecond { // more than twice WriteTimeout
		l, ok := next()
		if !ok {
			t.Fatalf("the stream ended after %s, %d heartbeats", time.Since(opened), heartbeats)
		}
		if l == ": heartbeat" {
			heartbeats++
		}
	}
	if heartbeats < 5 {
		t.Errorf("%d heartbeats in 700 ms, want one every 50 ms", heartbeats)
	}
	graph.SetPresence(oid, "Away", "Away")
	for {
		l, ok := next()
		if !ok {
			t.Fatal("the stream ended before the change")
		}
		if strings.HasPrefix(l, "data: ") && strings.Contains(l, annID) && strings.Contains(l, `"availability":"Away"`) {
			break
		}
	}

	// The consent callback is routed (a browser page, not the JSON 404).
	r = s.do(http.MethodGet, presence.ConsentCallbackPath, "", "")
	if r.status != http.StatusBadRequest || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("consent callback: %d %q", r.status, r.header.Get("Content-Type"))
	}
	metrics := string(s.do(http.MethodGet, "/metrics", "", "").body)
	for _, want := range []string{"scimd_presence_polls_total", `scimd_presence_connection_state{directory="` + d.ID + `",state="connected"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Shutdown ends the open stream instead of waiting for its deadline.
	start := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown took %s with a stream open", took)
	}
	for range lines { // the stream ends
	}
	logs := s.logs.String()
	if strings.Contains(logs, secret) {
		t.Error("the Graph secret appears in the logs")
	}
	if !strings.Contains(logs, `route=/api/v1/directories/{directoryId}/presence/stream status=200`) {
		t.Error("the stream was not in the access log")
	}
}

// TestStatusWriterFlushes: the middleware's response writer flushes,
// both for handlers that assert http.Flusher and through a
// ResponseController, and a flush before any write records 200.
func TestStatusWriterFlushes(t *testing.T) {
	for _, viaController := range []bool{false, true} {
		rec := httptest.NewRecorder()
		sw := recordStatus(rec)
		if viaController {
			if err := http.NewResponseController(sw).Flush(); err != nil {
				t.Fatal(err)
			}
		} else {
			var w http.ResponseWriter = sw
			w.(http.Flusher).Flush()
		}
		if !rec.Flushed || sw.Status() != http.StatusOK || rec.Code != http.StatusOK {
			t.Errorf("controller %v: flushed %v, status %d", viaController, rec.Flushed, sw.Status())
		}
	}
}
