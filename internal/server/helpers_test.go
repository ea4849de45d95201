package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/reapply"
	"github.com/scimd/scimd/webhook"
)

const testAdminToken = "test-admin-token-0123456789"

// syncBuffer collects output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a running Main on loopback with a real SQLite file.
type testServer struct {
	t      *testing.T
	main   *Main
	url    string
	stdout *syncBuffer
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

type testOptions struct {
	config        func(*Config)
	extraRoutes   func(*mux.Router)
	syncLogPruned func(deleted int64, err error)
	db            string // reuse a database file; default: a new one
	// databaseURL runs the server on PostgreSQL (pgtest.URL) instead.
	databaseURL string
	// leaseTTL is the presence pollers' lease, see Main.
	leaseTTL time.Duration
	// clock is the admin API's and the console's clock, see Main.
	clock func() time.Time
	// Presence test hooks, see Main.
	presenceInterval, streamHeartbeat, writeTimeout time.Duration
	// webhookConfig adjusts the webhook service, see Main.
	webhookConfig func(*webhook.Config)
	// limitNow is the clock of the per-directory rates, see Main.
	limitNow func() time.Time
	// reapply tunes the reapply runner, see Main.
	reapply func(*reapply.Config)
}

func testConfig(t *testing.T) Config {
	t.Helper()
	return Config{
		Addr:             "127.0.0.1:0",
		DB:               filepath.Join(t.TempDir(), "scimd.db"),
		PublicURL:        "https://scim.example.com",
		AdminToken:       testAdminToken,
		MaxBodyBytes:     1 << 20,
		LogLevel:         slog.LevelDebug,
		LogFormat:        "text",
		ShutdownTimeout:  5 * time.Second,
		SyncLogRetention: 720 * time.Hour,
	}
}

// startServer opens and runs a Main; it is stopped when the test ends.
func startServer(t *testing.T, opts testOptions) *testServer {
	t.Helper()
	cfg := testConfig(t)
	if opts.db != "" {
		cfg.DB = opts.db
	}
	if opts.databaseURL != "" {
		cfg.DB, cfg.DatabaseURL = "", opts.databaseURL
	}
	if opts.config != nil {
		opts.config(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, stdout: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan error, 1)}
	s.main = &Main{
		Config:           cfg,
		Logger:           newLogger(io.MultiWriter(s.logs, t.Output()), cfg.LogLevel, cfg.LogFormat),
		Stdout:           s.stdout,
		extraRoutes:      opts.extraRoutes,
		syncLogPruned:    opts.syncLogPruned,
		presenceInterval: opts.presenceInterval,
		streamHeartbeat:  opts.streamHeartbeat,
		writeTimeout:     opts.writeTimeout,
		leaseTTL:         opts.leaseTTL,
		clock:            opts.clock,
		webhookConfig:    opts.webhookConfig,
		limitNow:         opts.limitNow,
		reapplyTuning:    opts.reapply,
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.main.Open(ctx); err != nil {
		cancel()
		_ = s.main.Close()
		t.Fatalf("open: %v", err)
	}
	s.url = "http://" + s.main.Addr()
	go func() { s.done <- s.main.Run(ctx) }()
	t.Cleanup(func() { _ = s.stop() })
	return s
}

// stop cancels the server's context and returns what Run returned.
func (s *testServer) stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // later calls see the same result
		return err
	case <-time.After(10 * time.Second):
		s.t.Fatal("Run did not return after cancel")
		return nil
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *testServer) do(method, path, token, body string) response {
	s.t.Helper()
	return s.doHeader(method, path, body, map[string]string{"Authorization": bearer(token)})
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

func (s *testServer) doHeader(method, path, body string, header map[string]string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func decodeJSON[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

type directoryJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	SCIMBaseURL string    `json:"scimBaseUrl"`
	SCIMToken   string    `json:"scimToken"`
	Created     time.Time `json:"created"`
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantAPIError checks an admin/operations JSON error.
func wantAPIError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if e := decodeJSON[errorJSON](t, r); e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error = %+v, want code %q", e, code)
	}
}

// wantSCIMError checks a SCIM error response.
func wantSCIMError(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("Content-Type = %q, want application/scim+json", ct)
	}
	var e struct{ Schemas []string }
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("not a SCIM error: %s", r.body)
	}
}

// annArcher is a SCIM user with a London work number, 020 7183 8750.
const annArcher = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@contoso.com","externalId":"a1",
	"name":{"givenName":"Ann","familyName":"Archer"},"phoneNumbers":[{"type":"work","value":"+442071838750"}]}`

// createSCIMUser creates a user in directory d through its SCIM
// endpoint, as Entra does, and returns its id.
func (s *testServer) createSCIMUser(d directoryJSON, user string) string {
	s.t.Helper()
	r := s.doHeader(http.MethodPost, "/scim/v2/"+d.ID+"/Users", user, map[string]string{
		"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusCreated {
		s.t.Fatalf("SCIM create: %d %s", r.status, r.body)
	}
	return decodeJSON[struct{ ID string }](s.t, r).ID
}

// openSSE opens a Server-Sent Events stream of the lookup API with an API
// key (resuming after lastEventID when set) and returns its lines; the
// stream closes with the test.
func (s *testServer) openSSE(t *testing.T, path, key, lastEventID string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("stream %s: %d", path, resp.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}
