package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/presence/fakegraph"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// Secrets of the presence tests: distinctive, so that a leak into an
// answer or a log is found by a plain substring search.
const (
	graphSecret = "fake-Secret~Value.0123456789abcdefXYZ"
	wrongSecret = "wrong-Secret~Value.9876543210zyxwvuABC"
	tenantID    = "33333333-3333-4333-8333-333333333333"
)

// secretKey is SCIMD_SECRET_KEY of the tests, decoded.
var secretKey = []byte("0123456789abcdef0123456789abcdef")

// presenceOptions vary newPresenceFixture.
type presenceOptions struct {
	noKey      bool // run without SCIMD_SECRET_KEY
	serviceApp bool // configure scimd's own app (the admin-consent flow)
}

// presenceFixture is lookupFixture with a real presence service polling a
// fake Microsoft Graph (login and Graph on one httptest server), wired
// into the admin and lookup APIs as internal/server wires them.
type presenceFixture struct {
	*lookupFixture
	graph    *fakegraph.Server
	graphURL string
	svc      *presence.Service
}

// listSignal is the store the presence service uses; it tells when the
// service's Run has read the links, after which connections start their
// pollers.
type listSignal struct {
	store.Store
	calls  atomic.Int32
	ranRun chan struct{}
}

func (s *listSignal) ListPresenceLinks(ctx context.Context) ([]store.PresenceLink, error) {
	ls, err := s.Store.ListPresenceLinks(ctx)
	if s.calls.Add(1) == 2 { // New reads them first, then Run
		close(s.ranRun)
	}
	return ls, err
}

func newPresenceFixture(t *testing.T, opts presenceOptions) *presenceFixture {
	t.Helper()
	f := &lookupFixture{t: t, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db := teststore.Open(t, teststore.Options{Now: time.Now, Logger: logger})
	f.db = db

	graph := fakegraph.New(fakegraph.Config{ClientSecret: graphSecret})
	gsrv := httptest.NewServer(graph)

	// The service needs the server's URL (the consent redirect URI) before
	// the server has its handler.
	srv := httptest.NewUnstartedServer(nil)
	f.url = "http://" + srv.Listener.Addr().String()

	key := secretKey
	if opts.noKey {
		key = nil
	}
	pcfg := presence.Config{
		Store:      &listSignal{Store: db, ranRun: make(chan struct{})},
		Key:        key,
		LoginURL:   gsrv.URL,
		GraphURL:   gsrv.URL,
		Interval:   50 * time.Millisecond,
		PublicURL:  f.url,
		Logger:     logger,
		Registerer: prometheus.NewRegistry(),
	}
	pcfg.Shared, _ = db.(store.Shared) // PostgreSQL: the stream reads the store's record
	if opts.serviceApp {
		pcfg.AppClientID, pcfg.AppClientSecret = fakegraph.DefaultClientID, graphSecret
	}
	svc, err := presence.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}

	r := mux.NewRouter()
	admin := api.NewAdmin(api.AdminConfig{Store: db, PublicURL: "https://scim.example.com",
		AdminTokenHash: store.HashToken(adminToken), Logger: logger, MaxBodyBytes: 16 << 10, Presence: svc})
	admin.Register(r)
	admin.RegisterConsentCallback(r)
	lookup := api.NewLookup(api.LookupConfig{Store: db, AdminTokenHash: store.HashToken(adminToken), Logger: logger,
		Presence: svc, Heartbeat: 100 * time.Millisecond})
	lookup.Register(r)
	scim.New(scim.Config{Store: db, PublicURL: "https://scim.example.com", Logger: logger}).Register(r)
	srv.Config.Handler = r
	srv.Start()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-pcfg.Store.(*listSignal).ranRun:
	case <-time.After(5 * time.Second):
		t.Fatal("the presence service did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("presence Run: %v", err)
		}
		lookup.CloseStreams()
		srv.Close()
		gsrv.Close()
		_ = db.Close()
		if t.Failed() {
			t.Logf("logs:\n%s", f.logs)
		}
	})
	return &presenceFixture{lookupFixture: f, graph: graph, graphURL: gsrv.URL, svc: svc}
}

// admin sends an admin API request for the directory's presence; path is
// appended to …/presence.
func (f *presenceFixture) admin(method string, d dir, path, body string) response {
	f.t.Helper()
	return f.req(method, "/admin/v1/directories/"+d.ID+"/presence"+path, adminToken, body)
}

// connect connects d with the customer's app and a good secret.
func (f *presenceFixture) connect(d dir) presenceStatus {
	f.t.Helper()
	r := f.admin(http.MethodPut, d, "", secretBody(graphSecret))
	if r.status != http.StatusOK {
		f.t.Fatalf("connect: %d %s", r.status, r.body)
	}
	return decode[presenceStatus](f.t, r)
}

func secretBody(secret string) string {
	b, _ := json.Marshal(map[string]string{"tenantId": tenantID, "clientId": fakegraph.DefaultClientID, "clientSecret": secret})
	return string(b)
}

// status reads d's presence status.
func (f *presenceFixture) status(d dir) presenceStatus {
	f.t.Helper()
	r := f.admin(http.MethodGet, d, "", "")
	if r.status != http.StatusOK {
		f.t.Fatalf("presence status: %d %s", r.status, r.body)
	}
	return decode[presenceStatus](f.t, r)
}

// noSecretsLogged fails the test if a log line holds one of secrets.
func (f *presenceFixture) noSecretsLogged(secrets ...string) {
	f.t.Helper()
	logs := f.logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			f.t.Errorf("the logs contain the secret %q", s)
		}
	}
}

type presenceStatus struct {
	State              string     `json:"state"`
	Credential         string     `json:"credential"`
	TenantID           string     `json:"tenantId"`
	ClientID           string     `json:"clientId"`
	LastSuccessfulPoll *time.Time `json:"lastSuccessfulPoll"`
	ContactsPolled     int        `json:"contactsPolled"`
	SkippedContacts    int        `json:"skippedContacts"`
	LastError          string     `json:"lastError"`
	Interval           string     `json:"pollInterval"`
}

type presenceValue struct {
	Availability string    `json:"availability"`
	Activity     string    `json:"activity"`
	ObservedAt   time.Time `json:"observedAt"`
	Stale        bool      `json:"stale"`
}

// contactWithPresence is a contact of the lookup API reduced to its
// presence.
type contactWithPresence struct {
	ID       string         `json:"id"`
	Presence *presenceValue `json:"presence"`
}

// presenceOf reads a contact's presence through the lookup API.
func (f *lookupFixture) presenceOf(d dir, contactID string) *presenceValue {
	f.t.Helper()
	return decode[contactWithPresence](f.t, f.get(d.api("/contacts/"+contactID), d.Key)).Presence
}

// waitFor polls cond every 10 ms until it holds, and fails the test with
// what after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPresence waits until the lookup API shows the contact with the
// availability ("" for null presence).
func (f *lookupFixture) waitPresence(d dir, contactID, availability string) *presenceValue {
	f.t.Helper()
	var p *presenceValue
	waitFor(f.t, "contact "+contactID+" to show presence "+availability, func() bool {
		p = f.presenceOf(d, contactID)
		if availability == "" {
			return p == nil
		}
		return p != nil && p.Availability == availability
	})
	return p
}

// sseBlock is one block of an event stream: an event, or comments and
// fields without data.
type sseBlock struct {
	id, event, data, retry string
	comments               []string
}

// sseStream reads an event stream in the background.
type sseStream struct {
	t      *testing.T
	header http.Header
	blocks chan sseBlock // closed when the stream ends
	stop   context.CancelFunc
	done   chan struct{}
}

// openStream opens the presence stream and fails unless it answers 200;
// header holds name, value pairs.
func (f *lookupFixture) openStream(d dir, query, token string, header ...string) *sseStream {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+d.api("/presence/stream"+query), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		f.t.Fatalf("stream: status %d", resp.StatusCode)
	}
	s := &sseStream{t: f.t, header: resp.Header, blocks: make(chan sseBlock), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.blocks)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var b sseBlock
		started := false
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if started {
					select {
					case s.blocks <- b:
					case <-s.done:
						return
					}
				}
				b, started = sseBlock{}, false
				continue
			}
			started = true
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "":
				b.comments = append(b.comments, value)
			case "id":
				b.id = value
			case "event":
				b.event = value
			case "data":
				b.data += value
			case "retry":
				b.retry = value
			}
		}
	}()
	f.t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	select {
	case <-s.done:
	default:
		close(s.done)
		s.stop()
	}
}

// next returns the next block, or false when the stream ended; it fails
// the test after 10 s.
func (s *sseStream) next() (sseBlock, bool) {
	s.t.Helper()
	select {
	case b, ok := <-s.blocks:
		return b, ok
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10 s")
		return sseBlock{}, false
	}
}

// nextEvent returns the next block with an event name, skipping
// heartbeats and the retry hint.
func (s *sseStream) nextEvent() sseBlock {
	s.t.Helper()
	for {
		b, ok := s.next()
		if !ok {
			s.t.Fatal("the stream ended")
		}
		if b.event != "" {
			return b
		}
	}
}

// presenceEvent is the data of a presence event.
type presenceEvent struct {
	ContactID string         `json:"contactId"`
	Presence  *presenceValue `json:"presence"`
}

// waitEvent returns the next presence event of contactID, and fails the
// test if another event comes first for a contact in forbidden.
func (s *sseStream) waitEvent(contactID string, forbidden ...string) (sseBlock, presenceEvent) {
	s.t.Helper()
	for {
		b := s.nextEvent()
		if b.event != "presence" {
			s.t.Fatalf("unexpected event %q: %s", b.event, b.data)
		}
		var ev presenceEvent
		if err := json.Unmarshal([]byte(b.data), &ev); err != nil {
			s.t.Fatalf("event data %q: %v", b.data, err)
		}
		for _, id := range forbidden {
			if ev.ContactID == id {
				s.t.Fatalf("the stream sent an event of contact %s: %s", id, b.data)
			}
		}
		if ev.ContactID == contactID {
			return b, ev
		}
	}
}

// ended waits for the stream to end, skipping what it still sends.
func (s *sseStream) ended() {
	s.t.Helper()
	for {
		if _, ok := s.next(); !ok {
			return
		}
	}
}
