package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/store"
)

const adminToken = "test-admin-token-0123456789"

// memStore keeps directories in memory. It implements only what the admin
// API uses; the embedded nil Store panics on anything else, which a test
// would report loudly.
type memStore struct {
	store.Store
	mu   sync.Mutex
	dirs []store.Directory
	err  error // returned by every call when set
	// purge, when set, holds DeleteDirectory after the directory is gone
	// until it is closed: a long purge of its data.
	purge chan struct{}
}

func (m *memStore) CreateDirectory(_ context.Context, d store.Directory) (store.Directory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return store.Directory{}, m.err
	}
	d.Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d.Updated = d.Created
	m.dirs = append(m.dirs, d)
	return d, nil
}

func (m *memStore) GetDirectory(_ context.Context, id string) (store.Directory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return store.Directory{}, m.err
	}
	for _, d := range m.dirs {
		if d.ID == id {
			return d, nil
		}
	}
	return store.Directory{}, fmt.Errorf("directory %s: %w", id, store.ErrNotFound)
}

func (m *memStore) ListDirectories(context.Context) ([]store.Directory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	return slices.Clone(m.dirs), nil
}

func (m *memStore) UpdateDirectory(_ context.Context, id string, fn func(store.Directory) (store.Directory, error)) (store.Directory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return store.Directory{}, m.err
	}
	for i, d := range m.dirs {
		if d.ID == id {
			nd, err := fn(d)
			if err != nil {
				return store.Directory{}, err
			}
			m.dirs[i] = nd
			return nd, nil
		}
	}
	return store.Directory{}, fmt.Errorf("directory %s: %w", id, store.ErrNotFound)
}

// ListAudit fails when err is set; the admin API's audit tests run on a
// real store.
func (m *memStore) ListAudit(context.Context, store.AuditQuery) ([]store.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return nil, m.err
}

func (m *memStore) DeleteDirectory(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	n := len(m.dirs)
	m.dirs = slices.DeleteFunc(m.dirs, func(d store.Directory) bool { return d.ID == id })
	if len(m.dirs) == n {
		return fmt.Errorf("directory %s: %w", id, store.ErrNotFound)
	}
	if m.purge != nil {
		m.mu.Unlock()
		store.Hidden(ctx)
		<-m.purge
		m.mu.Lock()
	}
	return nil
}

type fixture struct {
	store   *memStore
	handler http.Handler
	logs    *syncBuffer
}

// syncBuffer is a log sink safe for concurrent handlers.
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

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: &memStore{}, logs: &syncBuffer{}}
	r := mux.NewRouter()
	api.NewAdmin(api.AdminConfig{
		Store:          f.store,
		PublicURL:      "https://scim.example.com/",
		AdminTokenHash: store.HashToken(adminToken),
		Logger:         slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxBodyBytes:   1 << 10,
	}).Register(r)
	f.handler = r
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", f.logs)
		}
	})
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, method, path, body string) response {
	t.Helper()
	return f.doAuth(t, method, path, body, "Bearer "+adminToken)
}

func (f *fixture) doAuth(t *testing.T, method, path, body, authorization string) response {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

type directory struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	SCIMBaseURL string    `json:"scimBaseUrl"`
	SCIMToken   string    `json:"scimToken"`
	Created     time.Time `json:"created"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

func wantError(t *testing.T, r response, status int, code string) apiError {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	e := decode[apiError](t, r)
	if e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error = %+v, want code %q and a message", e.Error, code)
	}
	return e
}

func (f *fixture) create(t *testing.T, name string) directory {
	t.Helper()
	r := f.do(t, http.MethodPost, "/admin/v1/directories", fmt.Sprintf(`{"name":%q}`, name))
	if r.status != http.StatusCreated {
		t.Fatalf("create: status %d, body %s", r.status, r.body)
	}
	return decode[directory](t, r)
}

func TestCreateDirectory(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, http.MethodPost, "/admin/v1/directories", `{"name":"  Contoso  "}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d, body %s", r.status, r.body)
	}
	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "name", "scimBaseUrl", "scimToken", "created"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, r.body)
		}
	}
	d := decode[directory](t, r)
	if d.Name != "Contoso" {
		t.Errorf("name = %q, want trimmed Contoso", d.Name)
	}
	if want := "https://scim.example.com/scim/v2/" + d.ID; d.SCIMBaseURL != want {
		t.Errorf("scimBaseUrl = %q, want %q", d.SCIMBaseURL, want)
	}
	if !strings.HasPrefix(d.SCIMToken, api.SCIMTokenPrefix) {
		t.Errorf("scimToken %q lacks prefix %q", d.SCIMToken, api.SCIMTokenPrefix)
	}
	if r.header.Get("Location") != "/admin/v1/directories/"+d.ID {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	stored := f.store.dirs[0]
	if !store.TokenMatches(d.SCIMToken, stored.SCIMTokenHash) {
		t.Error("stored hash does not match the returned token")
	}
	if bytes.Contains(stored.SCIMTokenHash, []byte(d.SCIMToken)) {
		t.Error("plain token stored")
	}
	if strings.Contains(f.logs.String(), d.SCIMToken) {
		t.Error("token appears in the logs")
	}
}

func TestDirectoryLifecycle(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, "a")
	b := f.create(t, "b")

	r := f.do(t, http.MethodGet, "/admin/v1/directories", "")
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if bytes.Contains(r.body, []byte("scimToken")) {
		t.Errorf("list shows tokens: %s", r.body)
	}
	list := decode[struct{ Directories []directory }](t, r)
	if len(list.Directories) != 2 || list.Directories[0].ID != a.ID || list.Directories[1].ID != b.ID {
		t.Fatalf("list = %+v", list)
	}

	r = f.do(t, http.MethodGet, "/admin/v1/directories/"+a.ID, "")
	if got := decode[directory](t, r); r.status != http.StatusOK || got.Name != "a" || got.SCIMToken != "" {
		t.Fatalf("get: %d %s", r.status, r.body)
	}

	r = f.do(t, http.MethodPatch, "/admin/v1/directories/"+a.ID, `{"name":"renamed"}`)
	if got := decode[directory](t, r); r.status != http.StatusOK || got.Name != "renamed" || got.SCIMToken != "" {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}

	r = f.do(t, http.MethodPost, "/admin/v1/directories/"+a.ID+"/token", "")
	rotated := decode[directory](t, r)
	if r.status != http.StatusOK || rotated.SCIMToken == "" || rotated.SCIMToken == a.SCIMToken {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	hash := f.store.dirs[0].SCIMTokenHash
	if store.TokenMatches(a.SCIMToken, hash) || !store.TokenMatches(rotated.SCIMToken, hash) {
		t.Error("rotation did not replace the stored hash")
	}

	r = f.do(t, http.MethodDelete, "/admin/v1/directories/"+a.ID, "")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, req := range [][2]string{
		{http.MethodGet, "/admin/v1/directories/" + a.ID},
		{http.MethodDelete, "/admin/v1/directories/" + a.ID},
		{http.MethodPost, "/admin/v1/directories/" + a.ID + "/token"},
		{http.MethodGet, "/admin/v1/directories/not-a-uuid"},
	} {
		wantError(t, f.do(t, req[0], req[1], ""), http.StatusNotFound, "not_found")
	}
	wantError(t, f.do(t, http.MethodPatch, "/admin/v1/directories/"+a.ID, `{"name":"x"}`), http.StatusNotFound, "not_found")

	logs := f.logs.String()
	for _, tok := range []string{a.SCIMToken, b.SCIMToken, rotated.SCIMToken} {
		if strings.Contains(logs, tok) {
			t.Errorf("token %q appears in the logs", tok)
		}
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	for _, auth := range []string{
		"",
		"Bearer",
		"Bearer ",
		"Basic " + adminToken,
		"Bearer wrong-token",
		"Bearer " + adminToken + "x",
	} {
		t.Run(auth, func(t *testing.T) {
			r := f.doAuth(t, http.MethodGet, "/admin/v1/directories", "", auth)
			wantError(t, r, http.StatusUnauthorized, "unauthorized")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate header")
			}
		})
	}
	if r := f.doAuth(t, http.MethodGet, "/admin/v1/directories", "", "bearer "+adminToken); r.status != http.StatusOK {
		t.Errorf("lower-case scheme: status %d", r.status)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "admin auth failed"); n != 6 {
		t.Errorf("logged %d auth failures, want 6:\n%s", n, logs)
	}
	if strings.Contains(logs, "wrong-token") || strings.Contains(logs, adminToken) {
		t.Errorf("a presented token appears in the logs:\n%s", logs)
	}
}

func TestNoAdminTokenRefusesAll(t *testing.T) {
	r := mux.NewRouter()
	api.NewAdmin(api.AdminConfig{Store: &memStore{}}).Register(r)
	req := httptest.NewRequest(http.MethodGet, "/admin/v1/directories", nil)
	req.Header.Set("Authorization", "Bearer ")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", rec.Code)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "x")
	tests := []struct {
		name, method, path, body string
		status                   int
		code, message            string
	}{
		{"malformed", "POST", "/admin/v1/directories", `{"name":`, 400, "malformed_json", "truncated"},
		{"syntax", "POST", "/admin/v1/directories", `{name:"x"}`, 400, "malformed_json", "not valid JSON"},
		{"empty body", "POST", "/admin/v1/directories", ``, 400, "malformed_json", "empty"},
		{"not an object", "POST", "/admin/v1/directories", `["x"]`, 400, "malformed_json", "object"},
		{"trailing data", "POST", "/admin/v1/directories", `{"name":"x"} {}`, 400, "malformed_json", "single"},
		{"unknown field", "POST", "/admin/v1/directories", `{"name":"x","colour":"red"}`, 400, "unknown_field", `"colour"`},
		{"wrong type", "POST", "/admin/v1/directories", `{"name":42}`, 400, "invalid_field", `"name" must be a JSON string`},
		{"missing name", "POST", "/admin/v1/directories", `{}`, 400, "invalid_name", "required"},
		{"null name", "POST", "/admin/v1/directories", `{"name":null}`, 400, "invalid_name", "required"},
		{"empty name", "POST", "/admin/v1/directories", `{"name":"   "}`, 400, "invalid_name", "empty"},
		{"long name", "POST", "/admin/v1/directories", `{"name":"` + strings.Repeat("é", api.MaxNameLength+1) + `"}`, 400, "invalid_name", "at most 200"},
		{"control char", "POST", "/admin/v1/directories", `{"name":"a\u0000b"}`, 400, "invalid_name", "control"},
		{"oversized", "POST", "/admin/v1/directories", `{"name":"` + strings.Repeat("a", 2<<10) + `"}`, 413, "body_too_large", "exceeds 1024 bytes"},
		{"rename unknown field", "PATCH", "/admin/v1/directories/" + d.ID, `{"id":"x"}`, 400, "unknown_field", `"id"`},
		{"rename empty", "PATCH", "/admin/v1/directories/" + d.ID, `{"name":""}`, 400, "invalid_name", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantError(t, f.do(t, tt.method, tt.path, tt.body), tt.status, tt.code)
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tt.message)
			}
		})
	}
	if len(f.store.dirs) != 1 || f.store.dirs[0].Name != "x" {
		t.Errorf("a bad request changed the store: %+v", f.store.dirs)
	}
}

func TestStoreErrorsDoNotLeak(t *testing.T) {
	f := newFixture(t)
	f.store.err = errors.New("sql: database is locked (sqlite3.go:123)")
	for _, req := range [][3]string{
		{"GET", "/admin/v1/directories", ""},
		{"POST", "/admin/v1/directories", `{"name":"x"}`},
		{"GET", "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10", ""},
		{"GET", "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10/mapping", ""},
		{"PUT", "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10/mapping", `{}`},
		{"GET", "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10/sync-log", ""},
		{"GET", "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10/sync-log.csv", ""},
		{"GET", "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10/sync-log/summary", ""},
		{"POST", "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10/token", `{"graceSeconds":60}`},
		{"GET", "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10/audit", ""},
		{"GET", "/admin/v1/audit", ""},
	} {
		r := f.do(t, req[0], req[1], req[2])
		wantError(t, r, http.StatusInternalServerError, "internal")
		for _, leak := range []string{"sql", ".go", "sqlite", "locked"} {
			if bytes.Contains(r.body, []byte(leak)) {
				t.Errorf("%s %s leaks %q: %s", req[0], req[1], leak, r.body)
			}
		}
	}
	if !strings.Contains(f.logs.String(), "database is locked") {
		t.Error("the store error was not logged for the operator")
	}
}

func TestConflict(t *testing.T) {
	f := newFixture(t)
	f.store.err = fmt.Errorf("directory name: %w", store.ErrConflict)
	wantError(t, f.do(t, "POST", "/admin/v1/directories", `{"name":"x"}`), http.StatusConflict, "conflict")
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	d := f.create(t, "x")
	for _, req := range [][2]string{
		{http.MethodPut, "/admin/v1/directories"},
		{http.MethodPut, "/admin/v1/directories/" + d.ID},
		{http.MethodGet, "/admin/v1/directories/" + d.ID + "/token"},
	} {
		r := f.do(t, req[0], req[1], "")
		wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		if r.header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", req[0], req[1])
		}
	}
}

// TestDeleteDirectoryAccepted checks that a delete whose purge outlasts
// DeleteWait answers 202 with the directory already gone, and that the
// purge's end is logged.
func TestDeleteDirectoryAccepted(t *testing.T) {
	f := newFixture(t)
	r := mux.NewRouter()
	api.NewAdmin(api.AdminConfig{
		Store:          f.store,
		PublicURL:      "https://scim.example.com/",
		AdminTokenHash: store.HashToken(adminToken),
		Logger:         slog.New(slog.NewTextHandler(f.logs, nil)),
		DeleteWait:     10 * time.Millisecond,
	}).Register(r)
	f.handler = r
	d := decode[directory](t, f.do(t, http.MethodPost, "/admin/v1/directories", `{"name":"big"}`))
	purge := make(chan struct{})
	f.store.purge = purge

	resp := f.do(t, http.MethodDelete, "/admin/v1/directories/"+d.ID, "")
	if got := decode[map[string]string](t, resp); resp.status != http.StatusAccepted || got["status"] != "deleting" {
		t.Fatalf("delete with a long purge: %d %s, want 202 deleting", resp.status, resp.body)
	}
	if resp := f.do(t, http.MethodGet, "/admin/v1/directories/"+d.ID, ""); resp.status != http.StatusNotFound {
		t.Errorf("GET while the purge runs: %d, want 404", resp.status)
	}
	if strings.Contains(f.logs.String(), "directory deleted") {
		t.Error("logged deleted before the purge ended")
	}
	close(purge)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(f.logs.String(), "directory deleted"); {
		if time.Now().After(deadline) {
			t.Fatal("the purge's end was not logged")
		}
		time.Sleep(time.Millisecond)
	}
}
