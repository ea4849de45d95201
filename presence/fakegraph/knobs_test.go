package fakegraph

import (
	"net/http"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	httpDate := time.Date(2026, 3, 4, 5, 7, 0, 0, time.UTC).Format(http.TimeFormat)
	for _, retryAfter := range []string{"7", httpDate, ""} {
		f := newFixture(t, Config{AutoPresence: time.Minute})
		tok := token(t, f)
		f.fake.Throttle(2, retryAfter)
		for i := range 2 {
			g := f.presences(t, tok, userA)
			_, has := g.header["Retry-After"]
			if g.status != http.StatusTooManyRequests || g.errorCode() != "TooManyRequests" ||
				g.header.Get("Retry-After") != retryAfter || has != (retryAfter != "") {
				t.Errorf("Retry-After %q, call %d: %d %v %s", retryAfter, i, g.status, g.header, g.raw)
			}
		}
		if g := f.presences(t, tok, userA); g.status != http.StatusOK {
			t.Errorf("Retry-After %q, after the burst: %d", retryAfter, g.status)
		}
	}
}

func TestFailNext(t *testing.T) {
	f := newFixture(t, Config{AutoPresence: time.Minute})
	tok := token(t, f)
	// Bursts queue in order; a call refused for its token spends none.
	f.fake.Throttle(1, "2")
	f.fake.FailNext(503, 1, "3")
	f.fake.FailNext(504, 1, "")
	f.fake.FailNext(500, 1, "")
	if g := f.presences(t, "", userA); g.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", g.status)
	}
	want := []struct {
		status     int
		code       string
		retryAfter string
	}{
		{429, "TooManyRequests", "2"},
		{503, "ServiceUnavailable", "3"},
		{504, "GatewayTimeout", ""},
		{500, "InternalServerError", ""},
		{200, "", ""},
	}
	for i, w := range want {
		g := f.presences(t, tok, userA)
		if g.status != w.status || g.errorCode() != w.code || g.header.Get("Retry-After") != w.retryAfter {
			t.Errorf("call %d: %d %q Retry-After %q, want %d %q %q", i, g.status, g.errorCode(), g.header.Get("Retry-After"), w.status, w.code, w.retryAfter)
		}
		if w.status != 200 && !isGUID(g.header.Get("request-id")) {
			t.Errorf("call %d: no request-id on an error", i)
		}
	}
}

func TestFailNextSingleUserCall(t *testing.T) {
	f := newFixture(t, Config{AutoPresence: time.Minute})
	tok := token(t, f)
	f.fake.FailNext(503, 1, "1")
	if g := do(t, http.DefaultClient, "GET", f.url+"/v1.0/users/"+userA+"/presence", tok, ""); g.status != 503 {
		t.Errorf("single call: %d", g.status)
	}
}
