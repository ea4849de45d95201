package server

import (
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/webhook"
)

// countingReceiver counts deliveries per event id, checking each
// signature as README documents it.
type countingReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	order  []string
	counts map[string]int
	bad    []string
}

func newCountingReceiver(t *testing.T) *countingReceiver {
	c := &countingReceiver{counts: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(webhook.HeaderEventID)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := webhook.Verify(c.secret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), webhook.Tolerance); err != nil {
			c.bad = append(c.bad, id+": "+err.Error())
		}
		c.counts[id]++
		c.order = append(c.order, id)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *countingReceiver) received() (order []string, counts map[string]int, bad []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts = make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		counts[k] = v
	}
	return append([]string(nil), c.order...), counts, append([]string(nil), c.bad...)
}

// webhookOptions run the webhook service with a key, reaching loopback
// over http, retrying and rescanning every few milliseconds.
func webhookOptions(key []byte) testOptions {
	return testOptions{
		config: func(c *Config) {
			c.SecretKey = key
			c.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			c.WebhookAllowHTTP = true
		},
		webhookConfig: func(c *webhook.Config) {
			c.MinBackoff, c.MaxBackoff, c.Rescan = 10*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
		},
	}
}

func newKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// scimUser is a minimal valid user named n.
func scimUser(n int) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user` + strconv.Itoa(n) + `@contoso.com","externalId":"x` +
		strconv.Itoa(n) + `","name":{"givenName":"User","familyName":"N` + strconv.Itoa(n) + `"},"phoneNumbers":[{"type":"work","value":"+4420718387` +
		strconv.Itoa(10+n) + `"}]}`
}

type webhookCreated struct {
	ID, Secret string
}

func createWebhook(t *testing.T, s *testServer, d directoryJSON, url string) webhookCreated {
	t.Helper()
	r := s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/webhooks", testAdminToken, `{"url":"`+url+`","events":["contact.created"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", r.status, r.body)
	}
	return decodeJSON[webhookCreated](t, r)
}

// TestWebhooksResumeAfterRestart: a webhook created through the admin
// API delivers SCIM creates signed; events committed while scimd is down
// are delivered after its restart, each once.
func TestWebhooksResumeAfterRestart(t *testing.T) {
	key := newKey(t)
	opts := webhookOptions(key)
	s := startServer(t, opts)
	rc := newCountingReceiver(t)
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	w := createWebhook(t, s, d, rc.srv.URL+"/scimd")
	rc.mu.Lock()
	rc.secret = w.Secret
	rc.mu.Unlock()
	s.createSCIMUser(d, scimUser(1))
	within(t, 10*time.Second, "the first delivery recorded", func() bool {
		r := s.do(http.MethodGet, "/admin/v1/directories/"+d.ID+"/webhooks/"+w.ID, testAdminToken, "")
		return decodeJSON[struct{ LastEventID string }](t, r).LastEventID == api.EventCursor(1)
	})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	// scimd is down; Entra's writes go to the next process on the same
	// database file, which starts with deliveries paused.
	opts.db = s.main.Config.DB
	paused := opts
	paused.config = func(c *Config) { webhookOptions(key).config(c); c.WebhookAllow = nil } // the guard refuses loopback: nothing delivered
	s2 := startServer(t, paused)
	s2.createSCIMUser(d, scimUser(2))
	s2.createSCIMUser(d, scimUser(3))
	if err := s2.stop(); err != nil {
		t.Fatal(err)
	}
	s3 := startServer(t, opts)
	within(t, 10*time.Second, "the events after the restart", func() bool { order, _, _ := rc.received(); return len(order) >= 3 })
	order, counts, bad := rc.received()
	want := []string{api.EventCursor(1), api.EventCursor(2), api.EventCursor(3)}
	if strings.Join(order, " ") != strings.Join(want, " ") || len(bad) > 0 {
		t.Errorf("received %v (counts %v, bad signatures %v), want %v once each", order, counts, bad, want)
	}
	log := s3.do(http.MethodGet, "/admin/v1/directories/"+d.ID+"/webhooks/"+w.ID+"/deliveries", testAdminToken, "")
	if !strings.Contains(string(log.body), `"status":"delivered"`) || strings.Contains(string(log.body), w.Secret) {
		t.Errorf("delivery log %s", log.body)
	}
	within(t, 10*time.Second, "the restarted server's two deliveries in its metrics", func() bool {
		return strings.Contains(string(s3.do(http.MethodGet, "/metrics", "", "").body), `scimd_webhook_attempts_total{outcome="delivered"} 2`)
	})
	for _, srv := range []*testServer{s, s2, s3} {
		if strings.Contains(srv.logs.String(), w.Secret) {
			t.Error("the signing secret is in the log")
		}
	}
}

// TestReplicasWebhookDeliverOnce: two replicas on one database deliver
// each event once, in order, whichever replica took the write; when the
// one delivering stops, the other goes on.
func TestReplicasWebhookDeliverOnce(t *testing.T) {
	rs := startReplicas(t, 2, webhookOptions(newKey(t)))
	a, b := rs[0], rs[1]
	rc := newCountingReceiver(t)
	d := decodeJSON[directoryJSON](t, a.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	w := createWebhook(t, b, d, rc.srv.URL+"/scimd")
	rc.mu.Lock()
	rc.secret = w.Secret
	rc.mu.Unlock()
	const half = 10
	for i := 1; i <= half; i++ {
		rs[i%2].createSCIMUser(d, scimUser(i))
	}
	delivered := func(n int) func() bool {
		return func() bool {
			r := a.do(http.MethodGet, "/admin/v1/directories/"+d.ID+"/webhooks/"+w.ID, testAdminToken, "")
			return decodeJSON[struct{ LastEventID string }](t, r).LastEventID == api.EventCursor(int64(n))
		}
	}
	within(t, 15*time.Second, "the first half delivered", delivered(half))
	if err := a.stop(); err != nil { // whether or not it held the lease
		t.Fatal(err)
	}
	for i := half + 1; i <= 2*half; i++ {
		b.createSCIMUser(d, scimUser(i))
	}
	within(t, 15*time.Second, "the second half delivered", func() bool { order, _, _ := rc.received(); return len(order) >= 2*half })
	time.Sleep(100 * time.Millisecond) // two rescans: a duplicate would show by now
	order, counts, bad := rc.received()
	if len(bad) > 0 {
		t.Errorf("bad signatures: %v", bad)
	}
	for i := 1; i <= 2*half; i++ {
		id := api.EventCursor(int64(i))
		if counts[id] != 1 {
			t.Errorf("event %d delivered %d times", i, counts[id])
		}
		if i <= len(order) && order[i-1] != id {
			t.Errorf("delivery %d is event %s, want %s: order %v", i, order[i-1], id, order)
			break
		}
	}
}

// TestWebhooksNeedEvents: with SCIMD_EVENTS=off a webhook would receive
// nothing, so creating one is refused, saying why.
func TestWebhooksNeedEvents(t *testing.T) {
	opts := webhookOptions(newKey(t))
	on := opts.config
	opts.config = func(c *Config) { on(c); c.EventsOff = true }
	s := startServer(t, opts)
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	r := s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/webhooks", testAdminToken, `{"url":"https://hooks.example.com/","events":["contact.created"]}`)
	wantAPIError(t, r, http.StatusConflict, "events_disabled")
	if !strings.Contains(string(r.body), "SCIMD_EVENTS") {
		t.Errorf("answer %s should name SCIMD_EVENTS", r.body)
	}
}
