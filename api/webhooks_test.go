package api_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/webhook"
)

type webhookOut struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Description    string    `json:"description"`
	Events         []string  `json:"events"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabledReason"`
	LastEventID    string    `json:"lastEventId"`
	Secret         string    `json:"secret"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
}

type deliveryOut struct {
	EventID        string     `json:"eventId"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	FirstAttempt   time.Time  `json:"firstAttempt"`
	LastAttempt    time.Time  `json:"lastAttempt"`
	NextAttempt    *time.Time `json:"nextAttempt"`
	ResponseStatus int        `json:"responseStatus"`
	LastError      string     `json:"lastError"`
}

type deliveryPage struct {
	Deliveries []deliveryOut `json:"deliveries"`
	NextCursor string        `json:"nextCursor"`
}

// newWebhookFixture serves the admin and SCIM APIs with a running
// webhook service under policy (key: a random SCIMD_SECRET_KEY; nil
// for none), on this pass's backend.
func newWebhookFixture(t *testing.T, policy webhook.Policy, key []byte) *lookupFixture {
	t.Helper()
	return newWebhookFixtureGivingUp(t, policy, key, 0)
}

// newWebhookFixtureGivingUp is newWebhookFixture with the give-up period
// (0: the default).
func newWebhookFixtureGivingUp(t *testing.T, policy webhook.Policy, key []byte, giveUp time.Duration) *lookupFixture {
	t.Helper()
	f := &lookupFixture{t: t, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db := teststore.Open(t, teststore.Options{Now: time.Now, Logger: logger})
	f.db = db
	sh, _ := db.(store.Shared)
	svc, err := webhook.New(webhook.Config{Store: db, Shared: sh, Key: key, Policy: policy, Render: api.WebhookMessage,
		Logger: logger, Timeout: time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		Rescan: 50 * time.Millisecond, GiveUpAfter: giveUp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	r := mux.NewRouter()
	api.NewAdmin(api.AdminConfig{Store: db, PublicURL: "https://scim.example.com",
		AdminTokenHash: store.HashToken(adminToken), Logger: logger, Webhooks: svc}).Register(r)
	scim.New(scim.Config{Store: db, PublicURL: "https://scim.example.com", Logger: logger}).Register(r)
	srv := httptest.NewServer(r)
	f.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		if t.Failed() {
			t.Logf("logs:\n%s", f.logs)
		}
	})
	return f
}

func randomKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

var loopbackPolicy = webhook.Policy{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// hookReceiver records the requests it gets and answers status().
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []receivedHook
	status int
}

type receivedHook struct {
	id, typ  string
	body     string
	verified error
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{status: http.StatusNoContent}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.got = append(h.got, receivedHook{id: r.Header.Get(webhook.HeaderEventID), typ: r.Header.Get(webhook.HeaderEventType), body: string(body),
			verified: webhook.Verify(h.secret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), webhook.Tolerance)})
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) received() []receivedHook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]receivedHook(nil), h.got...)
}

func (h *hookReceiver) set(secret string, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if secret != "" {
		h.secret = secret
	}
	h.status = status
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebhookAdminAPI(t *testing.T) {
	f := newWebhookFixture(t, loopbackPolicy, randomKey())
	d := f.newDirectory("Contoso", "")
	hooks := "/admin/v1/directories/" + d.ID + "/webhooks"
	rc := newHookReceiver(t)

	r := f.req(http.MethodPost, hooks, adminToken, `{"url":"`+rc.srv.URL+`/in?token=receiver-token","events":["contact.updated","contact.created","contact.created"],"description":" CX sync "}`)
	if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Location"), hooks+"/") {
		t.Fatalf("create: %d %s %v", r.status, r.body, r.header)
	}
	created := decode[webhookOut](t, r)
	if !strings.HasPrefix(created.Secret, webhook.SecretPrefix) || !created.Enabled || created.Description != "CX sync" ||
		strings.Join(created.Events, ",") != "contact.created,contact.updated" || created.LastEventID != api.EventCursor(0) {
		t.Errorf("created %+v", created)
	}
	path := hooks + "/" + created.ID
	for _, p := range []string{hooks, path} {
		body := string(f.get(p, adminToken).body)
		if strings.Contains(body, created.Secret) || strings.Contains(body, `"secret"`) {
			t.Errorf("GET %s shows the secret: %s", p, body)
		}
	}
	if list := decode[struct{ Webhooks []webhookOut }](t, f.get(hooks, adminToken)); len(list.Webhooks) != 1 || list.Webhooks[0].ID != created.ID {
		t.Errorf("list %+v", list)
	}

	// It delivers: a SCIM create, signed with the secret shown.
	rc.set(created.Secret, http.StatusNoContent)
	uid := f.user(d, person{userName: "ann@contoso.com", given: "Ann", family: "Archer", phones: [][2]string{{"work", "+442071838750"}}})
	f.patch(d, "Users", uid, `[{"op":"replace","path":"title","value":"Agent"}]`)
	eventually(t, "two deliveries", func() bool { return len(rc.received()) == 2 })
	for i, h := range rc.received() {
		if h.verified != nil || h.typ != []string{"contact.created", "contact.updated"}[i] || !strings.Contains(h.body, uid) {
			t.Errorf("delivery %d: %+v", i, h)
		}
	}
	if !strings.Contains(rc.received()[1].body, `"title":"Agent"`) {
		t.Errorf("update body %s", rc.received()[1].body)
	}
	var log deliveryPage
	eventually(t, "the log", func() bool {
		log = decode[deliveryPage](t, f.get(path+"/deliveries", adminToken))
		return len(log.Deliveries) == 2
	})
	if d0 := log.Deliveries[0]; d0.EventID != rc.received()[1].id || d0.Type != "contact.updated" || d0.Status != "delivered" ||
		d0.Attempts != 1 || d0.ResponseStatus != 204 || d0.NextAttempt != nil || d0.LastError != "" {
		t.Errorf("newest entry %+v", d0)
	}
	page := decode[deliveryPage](t, f.get(path+"/deliveries?limit=1", adminToken))
	next := decode[deliveryPage](t, f.get(path+"/deliveries?limit=1&cursor="+page.NextCursor, adminToken))
	if len(page.Deliveries) != 1 || page.NextCursor == "" || len(next.Deliveries) != 1 || next.Deliveries[0].Type != "contact.created" || next.NextCursor != "" {
		t.Errorf("pages %+v then %+v", page, next)
	}
	if got := decode[deliveryPage](t, f.get(path+"/deliveries?status=failed", adminToken)); len(got.Deliveries) != 0 {
		t.Errorf("failed entries %+v", got)
	}

	// A failing receiver: the log says why, and when it tries again.
	rc.set("", http.StatusServiceUnavailable)
	f.patch(d, "Users", uid, `[{"op":"replace","path":"title","value":"Lead"}]`)
	eventually(t, "a pending entry", func() bool {
		log = decode[deliveryPage](t, f.get(path+"/deliveries?status=pending", adminToken))
		return len(log.Deliveries) == 1
	})
	if p := log.Deliveries[0]; p.ResponseStatus != 503 || !strings.Contains(p.LastError, "503") || p.NextAttempt == nil || p.Attempts < 1 {
		t.Errorf("pending entry %+v", p)
	}

	// A PATCH that changes nothing writes nothing, and leaves no entry.
	before := string(f.get("/admin/v1/directories/"+d.ID+"/audit?limit=100", adminToken).body)
	if r := f.req(http.MethodPatch, path, adminToken, `{"enabled":true,"description":"CX sync"}`); r.status != http.StatusOK {
		t.Fatalf("no-op patch: %d %s", r.status, r.body)
	}
	if after := string(f.get("/admin/v1/directories/"+d.ID+"/audit?limit=100", adminToken).body); after != before {
		t.Errorf("a PATCH changing nothing was audited:\n%s", after)
	}

	// PATCH: disable, change, re-enable past everything recorded.
	r = f.req(http.MethodPatch, path, adminToken, `{"enabled":false,"events":["contact.deleted"],"description":"off"}`)
	patched := decode[webhookOut](t, r)
	if r.status != http.StatusOK || patched.Enabled || strings.Join(patched.Events, ",") != "contact.deleted" || patched.Description != "off" {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	rc.set("", http.StatusOK)
	f.patch(d, "Users", uid, `[{"op":"replace","path":"title","value":"Head"}]`)
	r = f.req(http.MethodPatch, path, adminToken, `{"enabled":true,"resumeFrom":"latest","events":["contact.updated"]}`)
	resumed := decode[webhookOut](t, r)
	if r.status != http.StatusOK || !resumed.Enabled || resumed.LastEventID == patched.LastEventID {
		t.Fatalf("resume from latest: %d %s", r.status, r.body)
	}
	n := len(rc.received())
	f.patch(d, "Users", uid, `[{"op":"replace","path":"title","value":"Chief"}]`)
	eventually(t, "the delivery after the resume", func() bool { return len(rc.received()) > n })
	for _, h := range rc.received()[n:] {
		if !strings.Contains(h.body, `"title":"Chief"`) {
			t.Errorf("after resuming from latest got %s", h.body)
		}
	}

	// Rotation: a new secret, shown once; deliveries sign with it.
	r = f.req(http.MethodPost, path+"/rotate-secret", adminToken, "")
	rotated := decode[webhookOut](t, r)
	if r.status != http.StatusOK || rotated.Secret == "" || rotated.Secret == created.Secret || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	rc.set(rotated.Secret, http.StatusOK)
	n = len(rc.received())
	f.patch(d, "Users", uid, `[{"op":"replace","path":"title","value":"Boss"}]`)
	eventually(t, "a delivery signed with the new secret", func() bool { return len(rc.received()) > n })
	if h := rc.received()[n]; h.verified != nil {
		t.Errorf("after rotation: %v", h.verified)
	}

	// The trail: every change, no secret, no receiver token.
	trail := f.get("/admin/v1/directories/"+d.ID+"/audit?limit=100", adminToken)
	for _, want := range []string{"webhook.created", "webhook.updated", "webhook.secret_rotated"} {
		if !strings.Contains(string(trail.body), want) {
			t.Errorf("trail lacks %s: %s", want, trail.body)
		}
	}
	if r := f.req(http.MethodDelete, path, adminToken, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, f.req(http.MethodGet, path, adminToken, ""), http.StatusNotFound, "not_found")
	wantError(t, f.req(http.MethodGet, path+"/deliveries", adminToken, ""), http.StatusNotFound, "not_found")
	trail = f.get("/admin/v1/directories/"+d.ID+"/audit?limit=100", adminToken)
	for _, secret := range []string{created.Secret, rotated.Secret, "receiver-token"} {
		if strings.Contains(string(trail.body), secret) || strings.Contains(f.logs.String(), secret) {
			t.Errorf("%q is in the trail or the log", secret)
		}
	}
	if !strings.Contains(string(trail.body), "webhook.deleted") {
		t.Errorf("trail lacks the delete: %s", trail.body)
	}
}

func TestWebhookAdminErrors(t *testing.T) {
	f := newWebhookFixture(t, webhook.Policy{}, randomKey())
	d := f.newDirectory("Contoso", "")
	hooks := "/admin/v1/directories/" + d.ID + "/webhooks"
	for _, tt := range []struct {
		body, code, mention string
	}{
		{`{"events":["contact.created"]}`, "invalid_url", `"url" is required`},
		{`{"url":"https://hooks.example.com/"}`, "invalid_events", `"events" is required`},
		{`{"url":"https://hooks.example.com/","events":[]}`, "invalid_events", "at least one"},
		{`{"url":"https://hooks.example.com/","events":["contact.moved"]}`, "invalid_events", `"contact.moved"`},
		{`{"url":"https://hooks.example.com/","events":["contact.created"],"colour":"red"}`, "unknown_field", "colour"},
		{`{"url":"https://hooks.example.com/","events":["contact.created"],"resumeFrom":"latest"}`, "invalid_field", "PATCH"},
		{`{"url":"https://hooks.example.com/","events":["contact.created"],"description":"a\u0007b"}`, "invalid_field", "control"},
		{`{"url":"http://hooks.example.com/","events":["contact.created"]}`, "invalid_url", "SCIMD_WEBHOOK_ALLOW_HTTP"},
		{`{"url":"hooks.example.com","events":["contact.created"]}`, "invalid_url", "absolute"},
		{`{"url":"https://127.0.0.1:8443/","events":["contact.created"]}`, "url_not_allowed", "loopback"},
		{`{"url":"https://localhost/","events":["contact.created"]}`, "url_not_allowed", "loopback"},
		{`{"url":"https://[::1]/","events":["contact.created"]}`, "url_not_allowed", "loopback"},
		{`{"url":"https://10.1.2.3/","events":["contact.created"]}`, "url_not_allowed", "private"},
		{`{"url":"https://192.168.0.10/","events":["contact.created"]}`, "url_not_allowed", "private"},
		{`{"url":"https://[fd00::5]/","events":["contact.created"]}`, "url_not_allowed", "private"},
		{`{"url":"https://169.254.169.254/latest/meta-data/","events":["contact.created"]}`, "url_not_allowed", "link-local"},
		{`{"url":"https://0.0.0.0/","events":["contact.created"]}`, "url_not_allowed", "unspecified"},
		{`{"url":"https://224.0.0.1/","events":["contact.created"]}`, "url_not_allowed", "multicast"},
	} {
		e := wantError(t, f.req(http.MethodPost, hooks, adminToken, tt.body), http.StatusBadRequest, tt.code)
		if !strings.Contains(e.Error.Message, tt.mention) {
			t.Errorf("%s: message %q should mention %q", tt.body, e.Error.Message, tt.mention)
		}
	}
	if list := decode[struct{ Webhooks []webhookOut }](t, f.get(hooks, adminToken)); len(list.Webhooks) != 0 {
		t.Errorf("refused creates stored %+v", list.Webhooks)
	}
	wantError(t, f.req(http.MethodPost, "/admin/v1/directories/5f0c8a5e-0000-4000-8000-000000000000/webhooks", adminToken,
		`{"url":"https://hooks.example.com/","events":["contact.created"]}`), http.StatusNotFound, "not_found")
	wantError(t, f.req(http.MethodGet, hooks+"/not-a-uuid", adminToken, ""), http.StatusNotFound, "not_found")
	wantError(t, f.req(http.MethodGet, hooks+"/5f0c8a5e-0000-4000-8000-000000000000", adminToken, ""), http.StatusNotFound, "not_found")
	wantError(t, f.req(http.MethodGet, hooks, "wrong-token", ""), http.StatusUnauthorized, "unauthorized")
	wantError(t, f.req(http.MethodPut, hooks, adminToken, "{}"), http.StatusMethodNotAllowed, "method_not_allowed")

	created := decode[webhookOut](t, f.req(http.MethodPost, hooks, adminToken, `{"url":"https://hooks.example.com/","events":["group.created"],"enabled":false}`))
	if created.Enabled {
		t.Error(`"enabled": false ignored`)
	}
	path := hooks + "/" + created.ID
	for _, tt := range []struct{ body, code string }{
		{`{"resumeFrom":"yesterday"}`, "invalid_field"},
		{`{"url":"https://10.0.0.1/"}`, "url_not_allowed"},
		{`{"events":[]}`, "invalid_events"},
		{`{"enabled":"yes"}`, "invalid_field"},
	} {
		wantError(t, f.req(http.MethodPatch, path, adminToken, tt.body), http.StatusBadRequest, tt.code)
	}
	if got := decode[webhookOut](t, f.get(path, adminToken)); got.URL != "https://hooks.example.com/" || strings.Join(got.Events, ",") != "group.created" {
		t.Errorf("a refused PATCH changed %+v", got)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?cursor=zzz", "?status=lost", "?page=2"} {
		wantError(t, f.req(http.MethodGet, path+"/deliveries"+q, adminToken, ""), http.StatusBadRequest, "invalid_parameter")
	}
}

func TestWebhookNeedsSecretKey(t *testing.T) {
	f := newWebhookFixture(t, webhook.Policy{}, nil)
	d := f.newDirectory("Contoso", "")
	e := wantError(t, f.req(http.MethodPost, "/admin/v1/directories/"+d.ID+"/webhooks", adminToken,
		`{"url":"https://hooks.example.com/","events":["contact.created"]}`), http.StatusBadRequest, "no_secret_key")
	if !strings.Contains(e.Error.Message, "SCIMD_SECRET_KEY") {
		t.Errorf("message %q should name SCIMD_SECRET_KEY", e.Error.Message)
	}
}

// TestWebhookGiveUpShown: a webhook scimd disabled says why, its log
// shows the event failed, and re-enabling it resumes with that event.
func TestWebhookGiveUpShown(t *testing.T) {
	f := newWebhookFixtureGivingUp(t, loopbackPolicy, randomKey(), 100*time.Millisecond)
	d := f.newDirectory("Contoso", "")
	rc := newHookReceiver(t)
	rc.set("", http.StatusGone)
	r := f.req(http.MethodPost, "/admin/v1/directories/"+d.ID+"/webhooks", adminToken, `{"url":"`+rc.srv.URL+`","events":["contact.created"]}`)
	created := decode[webhookOut](t, r)
	rc.set(created.Secret, http.StatusGone)
	path := "/admin/v1/directories/" + d.ID + "/webhooks/" + created.ID
	f.user(d, person{userName: "ann@contoso.com", given: "Ann", family: "Archer", phones: [][2]string{{"work", "+442071838750"}}})
	var hook webhookOut
	eventually(t, "the webhook disabled", func() bool {
		hook = decode[webhookOut](t, f.get(path, adminToken))
		return !hook.Enabled
	})
	if !strings.Contains(hook.DisabledReason, "gave up") || !strings.Contains(hook.DisabledReason, "410") {
		t.Errorf("disabledReason %q", hook.DisabledReason)
	}
	failed := decode[deliveryPage](t, f.get(path+"/deliveries?status=failed", adminToken))
	if len(failed.Deliveries) != 1 || failed.Deliveries[0].ResponseStatus != 410 || failed.Deliveries[0].NextAttempt != nil ||
		!strings.Contains(failed.Deliveries[0].LastError, "refused the event with 410") {
		t.Fatalf("failed entries %+v", failed)
	}
	rc.set("", http.StatusOK)
	r = f.req(http.MethodPatch, path, adminToken, `{"enabled":true}`)
	if resumed := decode[webhookOut](t, r); r.status != http.StatusOK || !resumed.Enabled || resumed.DisabledReason != "" {
		t.Fatalf("re-enable: %d %s", r.status, r.body)
	}
	eventually(t, "the event delivered after re-enabling", func() bool {
		log := decode[deliveryPage](t, f.get(path+"/deliveries", adminToken))
		return len(log.Deliveries) == 1 && log.Deliveries[0].Status == "delivered"
	})
	if got := rc.received(); got[len(got)-1].id != failed.Deliveries[0].EventID || got[len(got)-1].verified != nil {
		t.Errorf("last received %+v, want the event given up on, signed", got[len(got)-1])
	}
}

// TestWebhooksUnavailable: without the webhook service, the writes that
// need it answer 503 saying so; reads still answer.
func TestWebhooksUnavailable(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Contoso", "")
	hooks := "/admin/v1/directories/" + d.ID + "/webhooks"
	wantError(t, f.req(http.MethodPost, hooks, adminToken, `{"url":"https://hooks.example.com/","events":["contact.created"]}`),
		http.StatusServiceUnavailable, "webhooks_unavailable")
	if list := decode[struct{ Webhooks []webhookOut }](t, f.get(hooks, adminToken)); len(list.Webhooks) != 0 {
		t.Errorf("list %+v", list)
	}
}
