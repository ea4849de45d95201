package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/scim"
)

// firstStartOutput extracts what the first start printed.
var (
	tenantURLRe   = regexp.MustCompile(`Tenant URL:\s+(\S+)`)
	secretTokenRe = regexp.MustCompile(`Secret Token:\s+(\S+)`)
	adminTokenRe  = regexp.MustCompile(`Admin Token:\s+(\S+)`)
)

func TestFirstStart(t *testing.T) {
	var db string
	s := startServer(t, testOptions{config: func(c *Config) {
		c.AdminToken = "" // generate one
		db = c.DB
	}})
	out := s.stdout.String()
	tenant := tenantURLRe.FindStringSubmatch(out)
	secret := secretTokenRe.FindStringSubmatch(out)
	admin := adminTokenRe.FindStringSubmatch(out)
	if tenant == nil || secret == nil || admin == nil {
		t.Fatalf("first start printed:\n%s", out)
	}
	if !strings.Contains(out, "Entra") {
		t.Errorf("no hint where to paste:\n%s", out)
	}

	// The admin token works; the directory "default" is the printed one.
	r := s.do(http.MethodGet, "/admin/v1/directories", admin[1], "")
	list := decodeJSON[struct{ Directories []directoryJSON }](t, r)
	if r.status != http.StatusOK || len(list.Directories) != 1 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	d := list.Directories[0]
	if d.Name != "default" || d.SCIMBaseURL != tenant[1] || tenant[1] != scim.BaseURL("https://scim.example.com", d.ID) {
		t.Errorf("default directory %+v does not match printed Tenant URL %s", d, tenant[1])
	}
	// The printed SCIM token authenticates on the printed base URL.
	if r := s.do(http.MethodGet, "/scim/v2/"+d.ID+"/Users", secret[1], ""); r.status == http.StatusUnauthorized {
		t.Errorf("printed SCIM token refused: %s", r.body)
	}
	for _, secret := range []string{secret[1], admin[1]} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("a printed secret appears in the logs")
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	// A second start prints nothing and keeps the admin token.
	s2 := startServer(t, testOptions{db: db, config: func(c *Config) { c.AdminToken = "" }})
	if out := s2.stdout.String(); out != "" {
		t.Errorf("second start printed:\n%s", out)
	}
	if r := s2.do(http.MethodGet, "/admin/v1/directories", admin[1], ""); r.status != http.StatusOK {
		t.Errorf("stored admin token refused after restart: %d", r.status)
	}
	if err := s2.stop(); err != nil {
		t.Fatal(err)
	}

	// Deleting every directory does not bring "default" back.
	s3 := startServer(t, testOptions{db: db})
	if r := s3.do(http.MethodDelete, "/admin/v1/directories/"+d.ID, testAdminToken, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if err := s3.stop(); err != nil {
		t.Fatal(err)
	}
	s4 := startServer(t, testOptions{db: db})
	if out := s4.stdout.String(); out != "" {
		t.Errorf("start after deleting every directory printed:\n%s", out)
	}
}

func TestConfiguredAdminTokenPrintsOnlyDirectory(t *testing.T) {
	s := startServer(t, testOptions{})
	out := s.stdout.String()
	if !secretTokenRe.MatchString(out) || adminTokenRe.MatchString(out) {
		t.Errorf("with SCIMD_ADMIN_TOKEN set, first start printed:\n%s", out)
	}
	if r := s.do(http.MethodGet, "/admin/v1/directories", testAdminToken, ""); r.status != http.StatusOK {
		t.Errorf("configured admin token refused: %d", r.status)
	}
}

func TestAdminAPI(t *testing.T) {
	s := startServer(t, testOptions{})
	var secrets []string

	// Create.
	r := s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`)
	if r.status != http.StatusCreated || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("create: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	for _, key := range []string{`"id"`, `"name"`, `"scimBaseUrl"`, `"scimToken"`, `"created"`} {
		if !bytes.Contains(r.body, []byte(key)) {
			t.Errorf("create answer lacks %s: %s", key, r.body)
		}
	}
	d := decodeJSON[directoryJSON](t, r)
	secrets = append(secrets, d.SCIMToken)
	if d.Name != "Contoso" || d.SCIMBaseURL != scim.BaseURL("https://scim.example.com", d.ID) ||
		!strings.HasPrefix(d.SCIMToken, "scimd_") || d.Created.IsZero() {
		t.Errorf("create answer = %+v", d)
	}
	users := "/scim/v2/" + d.ID + "/Users"
	if r := s.do(http.MethodGet, users, d.SCIMToken, ""); r.status == http.StatusUnauthorized {
		t.Fatalf("new SCIM token refused: %s", r.body)
	}

	// List never shows tokens; get shows one directory.
	r = s.do(http.MethodGet, "/admin/v1/directories", testAdminToken, "")
	if r.status != http.StatusOK || bytes.Contains(r.body, []byte("scimToken")) || !bytes.Contains(r.body, []byte(d.ID)) {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	r = s.do(http.MethodGet, "/admin/v1/directories/"+d.ID, testAdminToken, "")
	if got := decodeJSON[directoryJSON](t, r); r.status != http.StatusOK || got.ID != d.ID || got.SCIMToken != "" {
		t.Errorf("get: %d %s", r.status, r.body)
	}

	// Rename.
	r = s.do(http.MethodPatch, "/admin/v1/directories/"+d.ID, testAdminToken, `{"name":"Fabrikam"}`)
	if got := decodeJSON[directoryJSON](t, r); r.status != http.StatusOK || got.Name != "Fabrikam" {
		t.Errorf("rename: %d %s", r.status, r.body)
	}

	// Rotate: the old token stops working at once.
	r = s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/token", testAdminToken, "")
	rotated := decodeJSON[directoryJSON](t, r)
	secrets = append(secrets, rotated.SCIMToken)
	if r.status != http.StatusOK || rotated.SCIMToken == "" || rotated.SCIMToken == d.SCIMToken {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	wantSCIMError(t, s.do(http.MethodGet, users, d.SCIMToken, ""), http.StatusUnauthorized)
	if r := s.do(http.MethodGet, users, rotated.SCIMToken, ""); r.status == http.StatusUnauthorized {
		t.Errorf("rotated token refused: %s", r.body)
	}

	// A directory's token works on its own base URL only.
	other := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Other"}`))
	secrets = append(secrets, other.SCIMToken)
	wantSCIMError(t, s.do(http.MethodGet, users, other.SCIMToken, ""), http.StatusUnauthorized)

	// Delete: gone from the admin API and from SCIM.
	if r := s.do(http.MethodDelete, "/admin/v1/directories/"+d.ID, testAdminToken, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantAPIError(t, s.do(http.MethodGet, "/admin/v1/directories/"+d.ID, testAdminToken, ""), http.StatusNotFound, "not_found")
	wantAPIError(t, s.do(http.MethodDelete, "/admin/v1/directories/"+d.ID, testAdminToken, ""), http.StatusNotFound, "not_found")
	wantSCIMError(t, s.do(http.MethodGet, users, rotated.SCIMToken, ""), http.StatusUnauthorized)

	// No secret in the logs, however they were produced.
	logs := s.logs.String()
	for _, secret := range append(secrets, testAdminToken) {
		if strings.Contains(logs, secret) {
			t.Errorf("secret %q appears in the logs", secret)
		}
	}
	if !strings.Contains(logs, "directory token rotated") {
		t.Error("rotation was not logged")
	}
}

func TestAdminAPIRefusals(t *testing.T) {
	s := startServer(t, testOptions{config: func(c *Config) { c.MaxBodyBytes = 4096 }})
	for _, token := range []string{"", "wrong-token", testAdminToken + "x"} {
		r := s.do(http.MethodGet, "/admin/v1/directories", token, "")
		wantAPIError(t, r, http.StatusUnauthorized, "unauthorized")
	}
	if n := strings.Count(s.logs.String(), "admin auth failed"); n != 3 {
		t.Errorf("logged %d auth failures, want 3", n)
	}
	if strings.Contains(s.logs.String(), "wrong-token") {
		t.Error("a presented token appears in the logs")
	}
	// A SCIM token is no admin token.
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"x"}`))
	wantAPIError(t, s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/token", d.SCIMToken, ""), http.StatusUnauthorized, "unauthorized")

	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"malformed", `{"name":"x"`, http.StatusBadRequest, "malformed_json"},
		{"unknown field", `{"name":"x","tenant":"y"}`, http.StatusBadRequest, "unknown_field"},
		{"empty name", `{"name":""}`, http.StatusBadRequest, "invalid_name"},
		{"long name", `{"name":"` + strings.Repeat("x", 201) + `"}`, http.StatusBadRequest, "invalid_name"},
		{"oversized", `{"name":"` + strings.Repeat("x", 5000) + `"}`, http.StatusRequestEntityTooLarge, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantAPIError(t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, tt.body), tt.status, tt.code)
		})
	}
}

func TestOperationsEndpoints(t *testing.T) {
	s := startServer(t, testOptions{})
	for _, path := range []string{"/healthz", "/readyz"} {
		r := s.do(http.MethodGet, path, "", "")
		if r.status != http.StatusOK || string(bytes.TrimSpace(r.body)) != `{"status":"ok"}` ||
			r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q %s", path, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	// Count a SCIM request too, to see its template and directory labels.
	r := s.do(http.MethodGet, "/admin/v1/directories", testAdminToken, "")
	d := decodeJSON[struct{ Directories []directoryJSON }](t, r).Directories[0]
	s.do(http.MethodGet, "/scim/v2/"+d.ID+"/Users?filter=userName+eq+%22x%22", "wrong", "")
	s.do(http.MethodGet, "/no/such/path", "", "")

	r = s.do(http.MethodGet, "/metrics", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("metrics: %d", r.status)
	}
	metrics := string(r.body)
	for _, want := range []string{
		`scimd_http_requests_total{directory="",method="GET",route="/healthz",status="200"} 1`,
		`scimd_http_requests_total{directory="",method="GET",route="/admin/v1/directories",status="200"} 1`,
		`scimd_http_requests_total{directory="",method="GET",route="unmatched",status="404"} 1`,
		`scimd_http_request_duration_seconds_bucket{method="GET",route="/readyz",le="+Inf"} 1`,
		`route="/scim/v2/{directoryId}/Users"`,
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{d.ID, "/no/such/path", "userName"} {
		if strings.Contains(metrics, leak) {
			t.Errorf("metrics show %q (an unauthenticated id or raw path)", leak)
		}
	}
}

func TestReadyzFailsWithoutStore(t *testing.T) {
	s := startServer(t, testOptions{})
	if err := s.main.db.Close(); err != nil {
		t.Fatal(err)
	}
	r := s.do(http.MethodGet, "/readyz", "", "")
	if r.status != http.StatusServiceUnavailable || bytes.Contains(r.body, []byte("sql")) {
		t.Errorf("readyz with a closed store: %d %s", r.status, r.body)
	}
}

func TestNotFoundAndMethodNotAllowedAreJSON(t *testing.T) {
	s := startServer(t, testOptions{})
	wantAPIError(t, s.do(http.MethodGet, "/nope", "", ""), http.StatusNotFound, "not_found")
	wantAPIError(t, s.do(http.MethodGet, "/admin/v1/nope", testAdminToken, ""), http.StatusNotFound, "not_found")
	wantAPIError(t, s.do(http.MethodPost, "/healthz", "", ""), http.StatusMethodNotAllowed, "method_not_allowed")
	wantAPIError(t, s.do(http.MethodPut, "/admin/v1/directories", testAdminToken, ""), http.StatusMethodNotAllowed, "method_not_allowed")
	wantSCIMError(t, s.do(http.MethodGet, "/scim/v2", "", ""), http.StatusNotFound)
	wantSCIMError(t, s.do(http.MethodGet, "/scim/v2/5f1e1ba0-3a2f-4a5e-9b55-4b0f9a1f4c11/Nope", "", ""), http.StatusNotFound)
	wantSCIMError(t, s.do(http.MethodGet, "/scim/nope", "", ""), http.StatusNotFound)
	// Every answer, matched or not, carries a request id and is logged.
	if r := s.do(http.MethodGet, "/nope", "", ""); r.header.Get("X-Request-Id") == "" {
		t.Error("404 has no X-Request-Id")
	}
	if n := strings.Count(s.logs.String(), "route=unmatched status=404"); n != 6 {
		t.Errorf("%d unmatched 404s in the access log, want 6:\n%s", n, s.logs)
	}
}

func TestRequestID(t *testing.T) {
	s := startServer(t, testOptions{})
	tests := []struct {
		name   string
		header map[string]string
		want   string // "" means generated
	}{
		{"x-request-id", map[string]string{"X-Request-Id": "abc-123"}, "abc-123"},
		{"entra client-request-id", map[string]string{"client-request-id": "5f1e1ba0-3a2f-4a5e-9b55-4b0f9a1f4c11"}, "5f1e1ba0-3a2f-4a5e-9b55-4b0f9a1f4c11"},
		{"insane is replaced", map[string]string{"X-Request-Id": "bad id\"<script>"}, ""},
		{"too long is replaced", map[string]string{"X-Request-Id": strings.Repeat("a", 200)}, ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.doHeader(http.MethodGet, "/healthz", "", tt.header)
			got := r.header.Get("X-Request-Id")
			switch {
			case tt.want != "" && got != tt.want:
				t.Errorf("X-Request-Id = %q, want %q", got, tt.want)
			case tt.want == "" && (!saneRequestID(got) || len(got) != 36):
				t.Errorf("X-Request-Id = %q, want a generated UUID", got)
			}
			if !strings.Contains(s.logs.String(), "request_id="+got) {
				t.Errorf("request id %q not in the access log", got)
			}
		})
	}
}

func TestPanicRecovery(t *testing.T) {
	s := startServer(t, testOptions{extraRoutes: func(r *mux.Router) {
		r.HandleFunc("/test/panic", func(http.ResponseWriter, *http.Request) { panic("boom: secret detail") })
		r.HandleFunc("/scim/test/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	}})
	r := s.do(http.MethodGet, "/test/panic", "", "")
	wantAPIError(t, r, http.StatusInternalServerError, "internal")
	if bytes.Contains(r.body, []byte("boom")) || bytes.Contains(r.body, []byte(".go")) {
		t.Errorf("panic leaks to the client: %s", r.body)
	}
	wantSCIMError(t, s.do(http.MethodGet, "/scim/test/panic", "", ""), http.StatusInternalServerError)
	logs := s.logs.String()
	if !strings.Contains(logs, "panic serving request") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with a stack:\n%s", logs)
	}
	if r := s.do(http.MethodGet, "/healthz", "", ""); r.status != http.StatusOK {
		t.Error("server unhealthy after a panic")
	}
}

func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s := startServer(t, testOptions{extraRoutes: func(r *mux.Router) {
		r.HandleFunc("/test/slow", func(w http.ResponseWriter, _ *http.Request) {
			close(started)
			<-release
			fmt.Fprint(w, "done")
		})
	}})

	type result struct {
		r   response
		err error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.url + "/test/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, err = b.ReadFrom(resp.Body)
		got <- result{response{status: resp.StatusCode, body: b.Bytes()}, err}
	}()
	<-started
	s.cancel() // as SIGTERM does through signal.NotifyContext

	// New connections are refused while the slow request drains.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := http.Get(s.url + "/healthz"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections after cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-s.done:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}

	close(release)
	res := <-got
	if res.err != nil || res.r.status != http.StatusOK || string(res.r.body) != "done" {
		t.Fatalf("in-flight request: %+v", res)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s := startServer(t, testOptions{
		config: func(c *Config) { c.ShutdownTimeout = 100 * time.Millisecond },
		extraRoutes: func(r *mux.Router) {
			r.HandleFunc("/test/stuck", func(http.ResponseWriter, *http.Request) {
				close(started)
				<-release
			})
		},
	})
	defer close(release)
	go func() {
		if resp, err := http.Get(s.url + "/test/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	err := s.stop()
	if err == nil || !strings.Contains(err.Error(), "did not finish within 100ms") {
		t.Errorf("Run = %v, want a shutdown timeout error", err)
	}
}

func TestRunCommands(t *testing.T) {
	ctx := context.Background()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	var stdout, stderr bytes.Buffer
	reset := func() { stdout.Reset(); stderr.Reset() }

	if code := run(ctx, []string{"version"}, env(), &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "scimd ") {
		t.Errorf("version: %d %q", code, stdout.String())
	}
	reset()
	if code := run(ctx, []string{"frobnicate"}, env(), &stdout, &stderr); code != exitUsage {
		t.Errorf("unknown command: exit %d", code)
	}
	reset()
	if code := run(ctx, []string{"serve"}, env("SCIMD_LOG_FORMAT", "xml", "SCIMD_ADDR", "x"), &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "SCIMD_LOG_FORMAT") || !strings.Contains(stderr.String(), "SCIMD_ADDR") {
		t.Errorf("invalid config: exit %d, stderr %q", code, stderr.String())
	}
	reset()
	if code := run(ctx, []string{"-h"}, env(), &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "SCIMD_PUBLIC_URL") {
		t.Errorf("-h: exit %d, stderr %q", code, stderr.String())
	}

	// migrate applies every migration once, then none.
	db := t.TempDir() + "/m.db"
	reset()
	if code := run(ctx, []string{"migrate"}, env("SCIMD_DB", db), &stdout, &stderr); code != 0 ||
		!regexp.MustCompile(`^applied [1-9]\d* migrations`).MatchString(stdout.String()) {
		t.Errorf("migrate: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	reset()
	if code := run(ctx, []string{"migrate", "-db", db}, env(), &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "applied 0 migrations") {
		t.Errorf("second migrate: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}

	// healthcheck against a running server and against nothing.
	s := startServer(t, testOptions{})
	reset()
	if code := run(ctx, []string{"healthcheck"}, env("SCIMD_ADDR", s.main.Addr()), &stdout, &stderr); code != 0 {
		t.Errorf("healthcheck: exit %d, stderr %q", code, stderr.String())
	}
	addr := s.main.Addr()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	reset()
	if code := run(ctx, []string{"healthcheck"}, env("SCIMD_ADDR", addr), &stdout, &stderr); code != exitError {
		t.Errorf("healthcheck on a stopped server: exit %d", code)
	}
}

func TestLocalAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:8080":   "127.0.0.1:8080",
		"[::]:8080":      "[::1]:8080",
		"10.0.0.1:8080":  "10.0.0.1:8080",
		"localhost:9000": "localhost:9000",
	} {
		if got := localAddr(in); got != want {
			t.Errorf("localAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDirectoryLabel(t *testing.T) {
	id := "5f1e1ba0-3a2f-4a5e-9b55-4b0f9a1f4c11"
	tests := []struct {
		route, dir string
		status     int
		want       string
	}{
		{"/scim/v2/{directoryId}/Users", id, 200, id},
		{"/scim/v2/{directoryId}/Users", id, 409, id},
		{"/scim/v2/{directoryId}/Users", id, 401, ""},
		{"/scim/v2/{directoryId}/Users", id, 404, ""},
		{"/scim/v2/{directoryId}/Users", "not-a-uuid", 200, ""},
		{"/admin/v1/directories/{id}", id, 200, ""},
		{unmatchedRoute, id, 200, ""},
	}
	for _, tt := range tests {
		if got := directoryLabel(tt.route, tt.dir, tt.status); got != tt.want {
			t.Errorf("directoryLabel(%q, %q, %d) = %q, want %q", tt.route, tt.dir, tt.status, got, tt.want)
		}
	}
}
