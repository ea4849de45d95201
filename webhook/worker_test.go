package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/webhook"
)

// syncBuffer is a log sink tests read while the service writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hit is one request a receiver got.
type hit struct {
	id, typ, sig string
	body         []byte
	verified     error
}

// receiver is a webhook receiver on loopback that checks signatures as
// README documents it and answers what answer says for each attempt.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	hits   []hit
	tries  map[string]int // attempts per event id
	answer func(id string, try int, w http.ResponseWriter, r *http.Request) int
}

func newReceiver(t testing.TB, answer func(id string, try int, w http.ResponseWriter, r *http.Request) int) *receiver {
	rc := &receiver{tries: map[string]int{}, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(webhook.HeaderEventID)
		rc.mu.Lock()
		rc.tries[id]++
		try := rc.tries[id]
		h := hit{id: id, typ: r.Header.Get(webhook.HeaderEventType), sig: r.Header.Get(webhook.HeaderSignature), body: body,
			verified: webhook.Verify(rc.secret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), webhook.Tolerance)}
		rc.hits = append(rc.hits, h)
		rc.mu.Unlock()
		status := http.StatusNoContent
		if rc.answer != nil {
			status = rc.answer(id, try, w, r)
		}
		if status != 0 { // 0: the answer wrote its response itself
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setSecret(s string) {
	rc.mu.Lock()
	rc.secret = s
	rc.mu.Unlock()
}

func (rc *receiver) got() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

// delivered returns the ids of the events answered 2xx, in order.
func (rc *receiver) ids() []string {
	var out []string
	for _, h := range rc.got() {
		out = append(out, h.id)
	}
	return out
}

type fixture struct {
	st   store.Store
	dir  store.Directory
	cfg  webhook.Config
	logs *syncBuffer
	key  []byte
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := teststore.Open(t, teststore.Options{})
	d, err := st.CreateDirectory(t.Context(), store.Directory{ID: uuid.NewString(), Name: "Contoso", SCIMTokenHash: store.HashToken("t")})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	logs := &syncBuffer{}
	f := &fixture{st: st, dir: d, logs: logs, key: key}
	f.cfg = webhook.Config{
		Store:       st,
		Key:         key,
		Policy:      webhook.Policy{AllowHTTP: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Render:      api.WebhookMessage,
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout:     300 * time.Millisecond,
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  40 * time.Millisecond,
		GiveUpAfter: time.Hour,
		Rescan:      50 * time.Millisecond,
	}
	if sh, ok := st.(store.Shared); ok {
		f.cfg.Shared = sh
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	return f
}

// start runs a service on f's store until the returned stop is called
// (or the test ends).
func (f *fixture) start(t testing.TB, mod func(*webhook.Config)) (*webhook.Service, func()) {
	t.Helper()
	cfg := f.cfg
	if mod != nil {
		mod(&cfg)
	}
	svc, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return svc, stop
}

// addWebhook registers rc for events (all types if none), from the
// newest event on, and tells rc the secret.
func (f *fixture) addWebhook(t testing.TB, svc *webhook.Service, rc *receiver, events ...string) store.Webhook {
	t.Helper()
	if len(events) == 0 {
		events = api.EventTypes
	}
	id := uuid.NewString()
	secret, sealed, err := svc.NewSecret(f.dir.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	rc.setSecret(secret)
	cursor, err := f.st.LatestEvent(t.Context(), f.dir.ID)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.st.CreateWebhook(t.Context(), store.Webhook{DirectoryID: f.dir.ID, ID: id, URL: rc.srv.URL + "/hook",
		Events: events, Enabled: true, Sealed: sealed, Cursor: cursor})
	if err != nil {
		t.Fatal(err)
	}
	svc.Poke(f.dir.ID)
	return w
}

// createUser makes a visible contact: one contact.created event.
func (f *fixture) createUser(t testing.TB, name string) store.User {
	t.Helper()
	u, err := f.st.CreateUser(t.Context(), store.User{DirectoryID: f.dir.ID, ID: uuid.NewString(), UserName: name + "@contoso.com",
		DisplayName: name, Active: true, Doc: []byte(`{}`), Contact: store.Contact{DisplayName: name}}, store.SyncEvent{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) webhook(t testing.TB, id string) store.Webhook {
	t.Helper()
	w, err := f.st.GetWebhook(t.Context(), f.dir.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (f *fixture) deliveries(t testing.TB, id string) []store.WebhookDelivery {
	t.Helper()
	ds, err := f.st.ListDeliveries(t.Context(), f.dir.ID, id, store.DeliveryQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// waitFor polls cond until it holds; the deadline only bounds a broken
// test, it asserts no timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeliverySigned(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	svc, _ := f.start(t, nil)
	hook := f.addWebhook(t, svc, rc, api.EventContactCreated)
	u := f.createUser(t, "Ann Archer")
	f.createUser(t, "Bob Baker")
	waitFor(t, "two deliveries", func() bool { return len(rc.got()) == 2 })
	hits := rc.got()
	for i, h := range hits {
		if h.verified != nil {
			t.Errorf("delivery %d: the documented check refuses it: %v", i, h.verified)
		}
		if h.typ != api.EventContactCreated {
			t.Errorf("delivery %d: Scimd-Event-Type %q", i, h.typ)
		}
	}
	// The body is the event as the events API shows it.
	var ev struct {
		ID, Type   string
		OccurredAt time.Time
		Data       map[string]any
	}
	if err := json.Unmarshal(hits[0].body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != hits[0].id || ev.Type != api.EventContactCreated || ev.OccurredAt.IsZero() ||
		ev.Data["id"] != u.ID || ev.Data["displayName"] != "Ann Archer" {
		t.Errorf("body %s", hits[0].body)
	}
	if hits[0].id != api.EventCursor(1) || hits[1].id != api.EventCursor(2) {
		t.Errorf("ids %q, %q; want the events' cursors 1 and 2", hits[0].id, hits[1].id)
	}
	waitFor(t, "the cursor to move", func() bool { return f.webhook(t, hook.ID).Cursor == 2 })
	ds := f.deliveries(t, hook.ID)
	if len(ds) != 2 || ds[0].Seq != 2 || ds[0].Status != store.DeliveryDelivered || ds[0].Attempts != 1 ||
		ds[0].ResponseStatus != http.StatusNoContent || ds[0].LastError != "" || ds[0].EventType != api.EventContactCreated {
		t.Errorf("delivery log %+v", ds)
	}
	// A tampered body fails the documented check.
	if err := webhook.Verify(rc.secret, hits[0].sig, append(hits[0].body, ' '), time.Now(), webhook.Tolerance); !errors.Is(err, webhook.ErrSignatureMismatch) {
		t.Errorf("tampered body: %v", err)
	}
	if strings.Contains(f.logs.String(), rc.secret) {
		t.Error("the signing secret is in the log")
	}
}

func TestDeliveryPassesOverUnwantedTypes(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	svc, _ := f.start(t, nil)
	hook := f.addWebhook(t, svc, rc, api.EventContactDeleted)
	u := f.createUser(t, "Ann Archer") // contact.created: not wanted
	if err := f.st.DeleteUser(t.Context(), f.dir.ID, u.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delete", func() bool { return len(rc.got()) == 1 })
	if h := rc.got()[0]; h.typ != api.EventContactDeleted || h.id != api.EventCursor(2) {
		t.Errorf("got %s %s, want only the contact.deleted (2)", h.typ, h.id)
	}
	waitFor(t, "the cursor", func() bool { return f.webhook(t, hook.ID).Cursor == 2 })
	if ds := f.deliveries(t, hook.ID); len(ds) != 1 {
		t.Errorf("log %+v: want the delivered event only", ds)
	}
}

func TestRetryAfterServerErrorKeepsOrder(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	rc := newReceiver(t, func(id string, try int, w http.ResponseWriter, r *http.Request) int {
		if id == api.EventCursor(1) {
			select {
			case <-release:
				return http.StatusOK
			default:
				if try == 1 {
					w.Header().Set("Retry-After", "0")
				}
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "database\x00 down") //nolint:errcheck // the sender reads it, we do not
				return 0
			}
		}
		return http.StatusOK
	})
	svc, _ := f.start(t, nil)
	hook := f.addWebhook(t, svc, rc)
	f.createUser(t, "Ann Archer")
	f.createUser(t, "Bob Baker")
	waitFor(t, "three failed attempts", func() bool { return len(rc.got()) >= 3 })
	for _, h := range rc.got() {
		if h.id != api.EventCursor(1) {
			t.Fatalf("event %s was sent while event 1 was failing", h.id)
		}
	}
	var pending store.WebhookDelivery
	waitFor(t, "the failure in the log", func() bool {
		ds := f.deliveries(t, hook.ID)
		if len(ds) == 1 && ds[0].Attempts >= 3 {
			pending = ds[0]
			return true
		}
		return false
	})
	if pending.Status != store.DeliveryPending || pending.ResponseStatus != 500 || !strings.Contains(pending.LastError, "500") ||
		!strings.Contains(pending.LastError, "database down") || pending.NextAttempt.IsZero() || f.webhook(t, hook.ID).Cursor != 0 {
		t.Errorf("pending entry %+v", pending)
	}
	close(release)
	waitFor(t, "both events", func() bool { ids := rc.ids(); return len(ids) > 0 && ids[len(ids)-1] == api.EventCursor(2) })
	ids := rc.ids()
	if ids[len(ids)-2] != api.EventCursor(1) {
		t.Errorf("order %v: event 2 must follow event 1's success", ids)
	}
	waitFor(t, "the log", func() bool {
		ds := f.deliveries(t, hook.ID)
		return len(ds) == 2 && ds[1].Status == store.DeliveryDelivered
	})
	ds := f.deliveries(t, hook.ID)
	if ds[1].Attempts < 4 || ds[1].ResponseStatus != 200 || ds[1].LastError != "" || ds[0].Attempts != 1 {
		t.Errorf("log %+v", ds)
	}
	if !strings.Contains(f.logs.String(), "delivery failed; retrying") {
		t.Error("failed attempts are not logged")
	}
}

func TestRetryAfterTimeout(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, func(id string, try int, w http.ResponseWriter, r *http.Request) int {
		if try == 1 {
			<-r.Context().Done() // never answers: the sender gives up at its timeout
		}
		return http.StatusAccepted
	})
	svc, _ := f.start(t, nil)
	hook := f.addWebhook(t, svc, rc)
	f.createUser(t, "Ann Archer")
	waitFor(t, "the delivery", func() bool {
		ds := f.deliveries(t, hook.ID)
		return len(ds) == 1 && ds[0].Status == store.DeliveryDelivered
	})
	d := f.deliveries(t, hook.ID)[0]
	if d.Attempts != 2 || d.ResponseStatus != http.StatusAccepted || len(rc.got()) != 2 {
		t.Errorf("entry %+v after %d requests; want delivered at the second attempt", d, len(rc.got()))
	}
	if !strings.Contains(f.logs.String(), "no answer within 300ms") {
		t.Errorf("the timeout is not logged as such:\n%s", f.logs.String())
	}
}

func TestGiveUpDisablesAndResumes(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	status := http.StatusForbidden
	rc := newReceiver(t, func(string, int, http.ResponseWriter, *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		return status
	})
	svc, _ := f.start(t, func(c *webhook.Config) { c.GiveUpAfter = 50 * time.Millisecond })
	hook := f.addWebhook(t, svc, rc)
	f.createUser(t, "Ann Archer")
	f.createUser(t, "Bob Baker")
	waitFor(t, "the webhook to be disabled", func() bool { return !f.webhook(t, hook.ID).Enabled })
	w := f.webhook(t, hook.ID)
	if !strings.Contains(w.DisabledReason, "gave up on event "+api.EventCursor(1)) || !strings.Contains(w.DisabledReason, "403") ||
		!strings.Contains(w.DisabledReason, "re-enable") || w.Cursor != 0 {
		t.Errorf("disabled webhook %+v", w)
	}
	ds := f.deliveries(t, hook.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryFailed || ds[0].Attempts < 2 {
		t.Errorf("log %+v", ds)
	}
	if !strings.Contains(f.logs.String(), "refused the event (4xx)") {
		t.Error("a 4xx is not logged as a refusal")
	}
	for _, h := range rc.got() {
		if h.id != api.EventCursor(1) {
			t.Fatalf("event %s sent while event 1 failed", h.id)
		}
	}
	// Re-enabled: it resumes with the event given up on, then the next.
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	n := len(rc.got())
	if _, err := f.st.UpdateWebhook(t.Context(), f.dir.ID, hook.ID, func(w store.Webhook) (store.Webhook, error) {
		w.Enabled, w.DisabledReason = true, ""
		return w, nil
	}); err != nil {
		t.Fatal(err)
	}
	svc.Poke(f.dir.ID)
	waitFor(t, "event 2", func() bool { ids := rc.ids(); return ids[len(ids)-1] == api.EventCursor(2) })
	if ids := rc.ids()[n:]; strings.Join(ids, " ") != api.EventCursor(1)+" "+api.EventCursor(2) {
		t.Errorf("after re-enabling: %v, want event 1 again, then 2", ids)
	}
	waitFor(t, "event 2 in the log", func() bool { return len(f.deliveries(t, hook.ID)) == 2 })
	ds = f.deliveries(t, hook.ID)
	if ds[1].Status != store.DeliveryDelivered || ds[1].Attempts < 3 {
		t.Errorf("log after resuming %+v: event 1 delivered, its attempts counted on", ds)
	}
}

func TestRestartResumes(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	svc, stop := f.start(t, nil)
	hook := f.addWebhook(t, svc, rc)
	f.createUser(t, "Ann Archer")
	waitFor(t, "event 1", func() bool { return f.webhook(t, hook.ID).Cursor == 1 })
	stop()
	f.createUser(t, "Bob Baker")
	f.createUser(t, "Cid Carter")
	f.start(t, nil)
	waitFor(t, "events 2 and 3", func() bool { return f.webhook(t, hook.ID).Cursor == 3 })
	if ids := rc.ids(); strings.Join(ids, " ") != strings.Join([]string{api.EventCursor(1), api.EventCursor(2), api.EventCursor(3)}, " ") {
		t.Errorf("received %v, want 1 2 3 once each", ids)
	}
}

func TestRestartResumesRetries(t *testing.T) {
	f := newFixture(t)
	fail := true
	var mu sync.Mutex
	rc := newReceiver(t, func(string, int, http.ResponseWriter, *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	svc, stop := f.start(t, nil)
	hook := f.addWebhook(t, svc, rc)
	f.createUser(t, "Ann Archer")
	waitFor(t, "two failed attempts", func() bool { ds := f.deliveries(t, hook.ID); return len(ds) == 1 && ds[0].Attempts >= 2 })
	stop()
	before := f.deliveries(t, hook.ID)[0]
	mu.Lock()
	fail = false
	mu.Unlock()
	f.start(t, nil)
	waitFor(t, "the delivery", func() bool { ds := f.deliveries(t, hook.ID); return ds[0].Status == store.DeliveryDelivered })
	after := f.deliveries(t, hook.ID)[0]
	if after.Attempts != before.Attempts+1 || !after.FirstAttempt.Equal(before.FirstAttempt) {
		t.Errorf("after the restart %+v, before %+v: want the count and the retry period carried on", after, before)
	}
}

func TestExpiredCursorDisables(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	svc, stop := f.start(t, nil)
	hook := f.addWebhook(t, svc, rc)
	stop()
	for _, n := range []string{"Ann", "Bob", "Cid"} {
		f.createUser(t, n)
	}
	if _, err := f.st.PruneEvents(t.Context(), time.Now().Add(time.Hour)); err != nil { // keeps the newest only
		t.Fatal(err)
	}
	f.start(t, nil)
	waitFor(t, "the webhook to be disabled", func() bool { return !f.webhook(t, hook.ID).Enabled })
	if w := f.webhook(t, hook.ID); !strings.Contains(w.DisabledReason, "pruned") || !strings.Contains(w.DisabledReason, "latest") {
		t.Errorf("reason %q", w.DisabledReason)
	}
	if len(rc.got()) != 0 {
		t.Errorf("delivered %v after the gap", rc.ids())
	}
}

func TestDialGuardRefusesLoopback(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	// The URL passed the creation check under a policy that allowed it;
	// the one delivering does not: nothing reaches the receiver, whether
	// by address or by a name resolving to loopback.
	strict := func(c *webhook.Config) { c.Policy = webhook.Policy{AllowHTTP: true} }
	svc, _ := f.start(t, strict)
	byAddr := f.addWebhook(t, svc, rc)
	byName := f.addWebhook(t, svc, rc)
	if _, err := f.st.UpdateWebhook(t.Context(), f.dir.ID, byName.ID, func(w store.Webhook) (store.Webhook, error) {
		w.URL = strings.Replace(w.URL, "127.0.0.1", "localhost", 1)
		return w, nil
	}); err != nil {
		t.Fatal(err)
	}
	f.createUser(t, "Ann Archer")
	for _, id := range []string{byAddr.ID, byName.ID} {
		waitFor(t, "a refused attempt", func() bool { ds := f.deliveries(t, id); return len(ds) == 1 })
		d := f.deliveries(t, id)[0]
		if d.Status != store.DeliveryPending || d.ResponseStatus != 0 || !strings.Contains(d.LastError, "refused to connect") ||
			!strings.Contains(d.LastError, "loopback") {
			t.Errorf("entry %+v", d)
		}
	}
	if len(rc.got()) != 0 {
		t.Errorf("the receiver got %d requests", len(rc.got()))
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	f := newFixture(t)
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(_ string, _ int, w http.ResponseWriter, _ *http.Request) int {
		w.Header().Set("Location", target.srv.URL)
		return http.StatusTemporaryRedirect
	})
	svc, _ := f.start(t, nil)
	hook := f.addWebhook(t, svc, rc)
	f.createUser(t, "Ann Archer")
	waitFor(t, "a failed attempt", func() bool { return len(f.deliveries(t, hook.ID)) == 1 })
	if d := f.deliveries(t, hook.ID)[0]; d.ResponseStatus != 307 || !strings.Contains(d.LastError, "redirect") {
		t.Errorf("entry %+v", d)
	}
	if len(target.got()) != 0 {
		t.Error("the redirect was followed")
	}
}

func TestSecretKey(t *testing.T) {
	f := newFixture(t)
	nokey, err := webhook.New(webhook.Config{Store: f.st})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := nokey.NewSecret(f.dir.ID, "w"); !errors.Is(err, webhook.ErrNoKey) || !strings.Contains(err.Error(), "SCIMD_SECRET_KEY") {
		t.Errorf("NewSecret without a key: %v", err)
	}
	if _, err := webhook.New(webhook.Config{Store: f.st, Key: []byte("short")}); err == nil {
		t.Error("a short key was accepted")
	}
	// Sealed, never in clear.
	svc, stop := f.start(t, nil)
	secret, sealed, err := svc.NewSecret(f.dir.ID, "w1")
	if err != nil || bytes.Contains(sealed, []byte(secret)) {
		t.Fatalf("NewSecret = %q, %x, %v", secret, sealed, err)
	}
	// Under another key nothing is sent unsigned: attempts fail, naming
	// the key.
	rc := newReceiver(t, nil)
	hook := f.addWebhook(t, svc, rc)
	stop()
	f.start(t, func(c *webhook.Config) { c.Key = make([]byte, 32) })
	f.createUser(t, "Ann Archer")
	waitFor(t, "an attempt", func() bool { return len(f.deliveries(t, hook.ID)) == 1 })
	if d := f.deliveries(t, hook.ID)[0]; d.Status != store.DeliveryPending || !strings.Contains(d.LastError, "SCIMD_SECRET_KEY") {
		t.Errorf("entry %+v", d)
	}
	if len(rc.got()) != 0 {
		t.Error("sent without the secret")
	}
}

// TestChangeRetriesAtOnce: while an event waits for its next attempt
// (an hour away), new events do not bring it forward; an administrator's
// change of the webhook (here its URL) does.
func TestChangeRetriesAtOnce(t *testing.T) {
	f := newFixture(t)
	broken := newReceiver(t, func(string, int, http.ResponseWriter, *http.Request) int { return http.StatusInternalServerError })
	fixed := newReceiver(t, nil)
	svc, _ := f.start(t, func(c *webhook.Config) { c.MinBackoff, c.MaxBackoff = time.Hour, time.Hour })
	hook := f.addWebhook(t, svc, broken)
	f.createUser(t, "Ann Archer")
	waitFor(t, "the first attempt", func() bool { return len(f.deliveries(t, hook.ID)) == 1 })
	f.createUser(t, "Bob Baker")
	f.createUser(t, "Cid Carter")
	fixed.setSecret(broken.secret)
	if _, err := f.st.UpdateWebhook(t.Context(), f.dir.ID, hook.ID, func(w store.Webhook) (store.Webhook, error) {
		w.URL = fixed.srv.URL + "/hook"
		return w, nil
	}); err != nil {
		t.Fatal(err)
	}
	svc.Poke(f.dir.ID)
	waitFor(t, "all three at the new URL", func() bool { return len(fixed.got()) == 3 })
	if n := len(broken.got()); n != 1 {
		t.Errorf("the broken receiver got %d attempts, want 1: the next was an hour away", n)
	}
	for i, h := range fixed.got() {
		if h.id != api.EventCursor(int64(i+1)) || h.verified != nil {
			t.Errorf("delivery %d: %s, %v", i, h.id, h.verified)
		}
	}
}
