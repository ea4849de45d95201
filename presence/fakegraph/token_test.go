package fakegraph

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenSecretInBody(t *testing.T) {
	f := newFixture(t, Config{})
	status, b := postToken(t, f, tenantID, secretForm(), nil)
	if status != http.StatusOK || b.TokenType != "Bearer" || b.ExpiresIn != 3599 || b.ExtExpiresIn != 3599 || b.AccessToken == "" {
		t.Fatalf("got %d %+v", status, b)
	}
	// The fake remembers what it issued.
	if g := f.presences(t, b.AccessToken, userA); g.status != http.StatusOK {
		t.Fatalf("issued token refused: %d %s", g.status, g.raw)
	}
	if _, b2 := postToken(t, f, tenantID, secretForm(), nil); b2.AccessToken == b.AccessToken {
		t.Error("two grants gave the same token")
	}
}

func TestTokenBasicAuth(t *testing.T) {
	f := newFixture(t, Config{})
	const secret = "a+b/c=d&e:f%g" // survives form-encoding only if both sides do it
	f.fake.RotateSecret(secret)
	form := secretForm()
	form.Del("client_id")
	form.Del("client_secret")
	status, b := postToken(t, f, tenantID, form, func(r *http.Request) {
		r.SetBasicAuth(url.QueryEscape(DefaultClientID), url.QueryEscape(secret))
	})
	if status != http.StatusOK || b.AccessToken == "" {
		t.Fatalf("got %d %+v", status, b)
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name       string
		knob       func(*Server)
		tenant     string
		form       func(url.Values)
		method     string
		wantStatus int
		wantError  string
		wantCode   int
	}{
		{name: "wrong secret", form: func(v url.Values) { v.Set("client_secret", "nope") },
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000215},
		{name: "expired secret", knob: (*Server).ExpireSecret,
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000222},
		{name: "rotated secret", knob: func(s *Server) { s.RotateSecret("new") },
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000215},
		{name: "no secret", form: func(v url.Values) { v.Del("client_secret") },
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000218},
		{name: "service principal deleted", knob: (*Server).DeleteServicePrincipal,
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000229},
		{name: "app deleted", knob: (*Server).DeleteApp,
			wantStatus: 400, wantError: "unauthorized_client", wantCode: 700016},
		{name: "service principal disabled", knob: (*Server).DisableServicePrincipal,
			wantStatus: 400, wantError: "unauthorized_client", wantCode: 7000112},
		{name: "wrong client id", form: func(v url.Values) { v.Set("client_id", userA) },
			wantStatus: 400, wantError: "unauthorized_client", wantCode: 700016},
		{name: "no client id", form: func(v url.Values) { v.Del("client_id") },
			wantStatus: 400, wantError: "invalid_request", wantCode: 900144},
		{name: "delegated scope", form: func(v url.Values) { v.Set("scope", "https://graph.microsoft.com/Presence.Read.All") },
			wantStatus: 400, wantError: "invalid_scope", wantCode: 70011},
		{name: "no scope", form: func(v url.Values) { v.Del("scope") },
			wantStatus: 400, wantError: "invalid_scope", wantCode: 70011},
		{name: "common tenant", tenant: "common",
			wantStatus: 400, wantError: "invalid_request", wantCode: 9001023},
		{name: "tenant not found", tenant: "contoso",
			wantStatus: 400, wantError: "invalid_request", wantCode: 90002},
		{name: "no grant type", form: func(v url.Values) { v.Del("grant_type") },
			wantStatus: 400, wantError: "invalid_request", wantCode: 900144},
		{name: "other grant type", form: func(v url.Values) { v.Set("grant_type", "password") },
			wantStatus: 400, wantError: "unsupported_grant_type", wantCode: 70003},
		{name: "GET", method: "GET",
			wantStatus: 400, wantError: "invalid_request", wantCode: 900561},
		{name: "unavailable", knob: func(s *Server) { s.FailTokenNext(503, 1) },
			wantStatus: 503, wantError: "temporarily_unavailable", wantCode: 90033},
		{name: "server error", knob: func(s *Server) { s.FailTokenNext(500, 1) },
			wantStatus: 500, wantError: "server_error", wantCode: 50000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			if tt.knob != nil {
				tt.knob(f.fake)
			}
			form := secretForm()
			if tt.form != nil {
				tt.form(form)
			}
			const corr = "c0ffee00-1111-4222-8333-444455556666"
			status, b := postToken(t, f, cmp.Or(tt.tenant, tenantID), form, func(r *http.Request) {
				r.Header.Set("client-request-id", corr)
				if tt.method != "" {
					r.Method = tt.method
				}
			})
			if status != tt.wantStatus || b.Error != tt.wantError || len(b.Codes) != 1 || b.Codes[0] != tt.wantCode {
				t.Fatalf("got %d %q %v, want %d %q [%d]", status, b.Error, b.Codes, tt.wantStatus, tt.wantError, tt.wantCode)
			}
			if b.AccessToken != "" {
				t.Error("an error carried a token")
			}
			checkAADBody(t, f, b, corr)
		})
	}
}

// checkAADBody checks the parts of an identity platform error that every
// code shares.
func checkAADBody(t *testing.T, f *fixture, b tokenBody, corr string) {
	t.Helper()
	code := b.Codes[0]
	stamp := f.clock.Now().Format("2006-01-02 15:04:05Z")
	wantTail := fmt.Sprintf("\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", b.TraceID, corr, stamp)
	if !strings.HasPrefix(b.Description, fmt.Sprintf("AADSTS%d: ", code)) || !strings.HasSuffix(b.Description, wantTail) {
		t.Errorf("error_description = %q", b.Description)
	}
	if !isGUID(b.TraceID) || b.CorrelationID != corr || b.Timestamp != stamp {
		t.Errorf("trace_id %q, correlation_id %q, timestamp %q", b.TraceID, b.CorrelationID, b.Timestamp)
	}
	if b.URI != fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code) {
		t.Errorf("error_uri = %q", b.URI)
	}
}

func TestTokenTenantForms(t *testing.T) {
	f := newFixture(t, Config{})
	for _, tenant := range []string{tenantID, strings.ToUpper(tenantID), "contoso.onmicrosoft.com"} {
		if status, b := postToken(t, f, tenant, secretForm(), nil); status != http.StatusOK {
			t.Errorf("tenant %s: %d %s", tenant, status, b.Description)
		}
	}
}

func TestRotateSecretAcceptsNew(t *testing.T) {
	f := newFixture(t, Config{})
	f.fake.ExpireSecret()
	f.fake.RotateSecret("new")
	form := secretForm()
	form.Set("client_secret", "new")
	if status, b := postToken(t, f, tenantID, form, nil); status != http.StatusOK {
		t.Fatalf("new secret: %d %s", status, b.Description)
	}
}

func TestRestoreApp(t *testing.T) {
	f := newFixture(t, Config{})
	f.fake.DeleteServicePrincipal()
	f.fake.RestoreApp()
	token(t, f)
}

func TestFailTokenNextCountsDown(t *testing.T) {
	f := newFixture(t, Config{})
	f.fake.FailTokenNext(503, 2)
	for i, want := range []int{503, 503, 200} {
		if status, _ := postToken(t, f, tenantID, secretForm(), nil); status != want {
			t.Errorf("request %d: %d, want %d", i, status, want)
		}
	}
}

func TestTokenLifetime(t *testing.T) {
	f := newFixture(t, Config{})
	f.fake.SetTokenLifetime(10 * time.Minute)
	_, b := postToken(t, f, tenantID, secretForm(), nil)
	if b.ExpiresIn != 600 || b.ExtExpiresIn != 600 {
		t.Fatalf("expires_in %d, ext_expires_in %d, want 600", b.ExpiresIn, b.ExtExpiresIn)
	}
	f.clock.Advance(10*time.Minute - time.Second)
	if g := f.presences(t, b.AccessToken, userA); g.status != http.StatusOK {
		t.Fatalf("before expiry: %d", g.status)
	}
	f.clock.Advance(time.Second)
	g := f.presences(t, b.AccessToken, userA)
	if g.status != http.StatusUnauthorized || g.errorCode() != "InvalidAuthenticationToken" {
		t.Fatalf("at expiry: %d %s", g.status, g.raw)
	}
}

func TestExpireTokens(t *testing.T) {
	f := newFixture(t, Config{})
	old := token(t, f)
	f.fake.ExpireTokens()
	if g := f.presences(t, old, userA); g.status != http.StatusUnauthorized || g.errorCode() != "InvalidAuthenticationToken" {
		t.Fatalf("old token: %d %s", g.status, g.raw)
	}
	if g := f.presences(t, token(t, f), userA); g.status != http.StatusOK {
		t.Fatalf("new token: %d %s", g.status, g.raw)
	}
}
