package scim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// testServer is scimd's SCIM layer over real HTTP on loopback, backed by a
// real store: a SQLite file, then a PostgreSQL schema (main_test.go).
type testServer struct {
	t      *testing.T
	srv    *httptest.Server
	store  store.Store
	logs   *bytes.Buffer
	dirID  string
	token  string
	base   string // the directory's SCIM base URL
	client *http.Client
}

func newTestServer(t *testing.T, opts ...func(*scim.Config)) *testServer {
	t.Helper()
	db := teststore.Open(t, teststore.Options{})

	logs := &bytes.Buffer{}
	r := mux.NewRouter()
	srv := httptest.NewUnstartedServer(r)
	srv.Start()
	t.Cleanup(srv.Close)
	cfg := scim.Config{Store: db, PublicURL: srv.URL, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	scim.New(cfg).Register(r)

	ts := &testServer{t: t, srv: srv, store: db, logs: logs, client: srv.Client()}
	ts.dirID, ts.token = ts.newDirectory("test")
	ts.base = scim.BaseURL(srv.URL, ts.dirID)
	return ts
}

// setMapping replaces the directory's mapping rules document (nil: the
// defaults).
func (ts *testServer) setMapping(doc string) {
	ts.t.Helper()
	var b []byte
	if doc != "" {
		b = []byte(doc)
	}
	if _, err := ts.store.UpdateDirectory(ts.t.Context(), ts.dirID, func(d store.Directory) (store.Directory, error) {
		d.Mapping = b
		return d, nil
	}); err != nil {
		ts.t.Fatal(err)
	}
}

// newDirectory creates another directory and returns its id and token.
func (ts *testServer) newDirectory(name string) (string, string) {
	plain, hash := store.NewToken("scimd_")
	// Protocol tests run on directories that accept any valid SCIM user;
	// tests of the CX rules set them with setMapping.
	d, err := ts.store.CreateDirectory(ts.t.Context(), store.Directory{ID: uuid.NewString(), Name: name, SCIMTokenHash: hash,
		Mapping: []byte(`{"phonePolicy":"lenient","required":["userName"]}`)})
	if err != nil {
		ts.t.Fatal(err)
	}
	return d.ID, plain
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request relative to the directory's base URL with its token.
func (ts *testServer) do(method, path string, body any) response {
	return ts.doWith(method, ts.base+path, ts.token, body, nil)
}

func (ts *testServer) doWith(method, url, token string, body any, header http.Header) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ts.t.Context(), method, url, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// createUser creates a minimal user and returns its id.
func (ts *testServer) createUser(userName string) string {
	ts.t.Helper()
	r := ts.do("POST", "/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName, "active": true,
	})
	if r.status != http.StatusCreated {
		ts.t.Fatalf("create %s: %d %s", userName, r.status, r.body)
	}
	return r.json(ts.t)["id"].(string)
}
