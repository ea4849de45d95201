package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
)

// onBothBackends runs test on a server on SQLite, then on PostgreSQL
// (skipped without one).
func onBothBackends(t *testing.T, opts testOptions, test func(t *testing.T, s *testServer)) {
	t.Run("sqlite", func(t *testing.T) { test(t, startServer(t, opts)) })
	t.Run("postgres", func(t *testing.T) {
		o := opts
		o.databaseURL = pgtest.URL(t)
		test(t, startServer(t, o))
	})
}

// limitClock is a settable clock for the servers' rates.
type limitClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *limitClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *limitClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (s *testServer) newDirectory(name string) directoryJSON {
	s.t.Helper()
	r := s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"`+name+`"}`)
	if r.status != http.StatusCreated {
		s.t.Fatalf("create directory: %d %s", r.status, r.body)
	}
	return decodeJSON[directoryJSON](s.t, r)
}

// want429SCIM checks a SCIM 429: Retry-After in seconds, and a SCIM
// error whose status is "429" and whose detail names the limit.
func want429SCIM(t *testing.T, r response, retryAfter, detail string) {
	t.Helper()
	wantSCIMError(t, r, http.StatusTooManyRequests)
	var e struct{ Status, Detail string }
	if err := json.Unmarshal(r.body, &e); err != nil || e.Status != "429" || !strings.Contains(e.Detail, detail) {
		t.Errorf("SCIM 429 body %s, want status \"429\" and a detail with %q", r.body, detail)
	}
	if got := r.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
}

func (s *testServer) metric(line string) bool {
	s.t.Helper()
	return strings.Contains(string(s.do(http.MethodGet, "/metrics", "", "").body), line)
}

// TestSCIMInFlightLimitPerDirectory: directory A's requests in flight at
// its limit get 429 with Retry-After while directory B's are served, and
// A is served again once its requests end.
func TestSCIMInFlightLimitPerDirectory(t *testing.T) {
	// A create that arrives while a probe below holds a slot waits for
	// it (LimitWait) instead of being refused; a probe that finds both
	// slots held waits as long, then is refused.
	opts := testOptions{config: func(c *Config) { c.SCIMMaxInFlight, c.LimitWait = 2, 500*time.Millisecond }}
	onBothBackends(t, opts, func(t *testing.T, s *testServer) {
		a, b := s.newDirectory("A"), s.newDirectory("B")
		if !s.metric(`scimd_limit_refusals_total{api="scim",limit="inflight"} 0`) {
			t.Error("the refusals metric is not there before the first refusal")
		}
		// Two creates whose bodies have not arrived yet hold A's slots:
		// the handler is reading them.
		client := &http.Client{Timeout: 30 * time.Second}
		var bodies []*io.PipeWriter
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i := range 2 {
			pr, pw := io.Pipe()
			bodies = append(bodies, pw)
			req, _ := http.NewRequest(http.MethodPost, s.url+"/scim/v2/"+a.ID+"/Users", pr)
			req.Header.Set("Authorization", bearer(a.SCIMToken))
			req.Header.Set("Content-Type", "application/scim+json")
			wg.Go(func() {
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		// Once both are admitted, A's next request is refused.
		var r response
		for deadline := time.Now().Add(10 * time.Second); ; {
			r = s.do(http.MethodGet, "/scim/v2/"+a.ID+"/Users", a.SCIMToken, "")
			if r.status == http.StatusTooManyRequests || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		want429SCIM(t, r, "1", "in flight are at its limit of 2")

		// B is not A: its requests are served meanwhile.
		for range 5 {
			if r := s.do(http.MethodGet, "/scim/v2/"+b.ID+"/Users", b.SCIMToken, ""); r.status != http.StatusOK {
				t.Fatalf("B while A is at its limit: %d %s", r.status, r.body)
			}
		}
		s.createSCIMUser(b, annArcher)
		// A wrong token for A is refused as such, not counted against A.
		wantSCIMError(t, s.do(http.MethodGet, "/scim/v2/"+a.ID+"/Users", "wrong-token", ""), http.StatusUnauthorized)
		if !s.metric(`scimd_limit_refusals_total{api="scim",limit="inflight"} 1`) {
			t.Error("the refusal is not counted in scimd_limit_refusals_total")
		}

		for i, pw := range bodies {
			user := strings.Replace(annArcher, `"ann@contoso.com"`, `"ann`+string(rune('0'+i))+`@contoso.com"`, 1)
			if _, err := io.WriteString(pw, user); err != nil {
				t.Fatal(err)
			}
			pw.Close()
		}
		wg.Wait()
		if statuses[0] != http.StatusCreated || statuses[1] != http.StatusCreated {
			t.Fatalf("held creates answered %v", statuses)
		}
		if r := s.do(http.MethodGet, "/scim/v2/"+a.ID+"/Users", a.SCIMToken, ""); r.status != http.StatusOK {
			t.Fatalf("A after its requests ended: %d %s", r.status, r.body)
		}
	})
}

// TestRatesRefillPerDirectory: a directory over its SCIM or lookup rate
// gets 429 with Retry-After until the bucket refills (on the injected
// clock); another directory is never refused.
func TestRatesRefillPerDirectory(t *testing.T) {
	clock := &limitClock{now: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
	opts := testOptions{limitNow: clock.Now, config: func(c *Config) {
		c.SCIMMaxInFlight, c.SCIMRate, c.LookupRate = 0, 2, 0.5
	}}
	onBothBackends(t, opts, func(t *testing.T, s *testServer) {
		a, b := s.newDirectory("A"), s.newDirectory("B")
		keyA, keyB := s.apiKey(a), s.apiKey(b)
		scimA := func() response { return s.do(http.MethodGet, "/scim/v2/"+a.ID+"/Users", a.SCIMToken, "") }
		lookupA := func() response { return s.do(http.MethodGet, "/api/v1/directories/"+a.ID+"/contacts", keyA, "") }

		// SCIM: a burst of 2, then one request every half second.
		for i := range 2 {
			if r := scimA(); r.status != http.StatusOK {
				t.Fatalf("SCIM request %d within the burst: %d %s", i, r.status, r.body)
			}
		}
		want429SCIM(t, scimA(), "1", "rate of 2 a second")
		if r := s.do(http.MethodGet, "/scim/v2/"+b.ID+"/Users", b.SCIMToken, ""); r.status != http.StatusOK {
			t.Fatalf("B refused by A's rate: %d %s", r.status, r.body)
		}
		clock.Advance(500 * time.Millisecond)
		if r := scimA(); r.status != http.StatusOK {
			t.Fatalf("SCIM after the bucket refilled: %d %s", r.status, r.body)
		}
		want429SCIM(t, scimA(), "1", "rate of 2 a second")

		// The lookup API: one request every 2 s, said in Retry-After.
		if r := lookupA(); r.status != http.StatusOK {
			t.Fatalf("lookup: %d %s", r.status, r.body)
		}
		r := lookupA()
		wantAPIError(t, r, http.StatusTooManyRequests, "too_many_requests")
		if r.header.Get("Retry-After") != "2" || !strings.Contains(string(r.body), "rate of 0.5 a second") {
			t.Errorf("lookup 429: Retry-After %q, body %s", r.header.Get("Retry-After"), r.body)
		}
		if r := s.do(http.MethodGet, "/api/v1/directories/"+b.ID+"/contacts", keyB, ""); r.status != http.StatusOK {
			t.Fatalf("B's lookup refused by A's rate: %d %s", r.status, r.body)
		}
		clock.Advance(2 * time.Second)
		if r := lookupA(); r.status != http.StatusOK {
			t.Fatalf("lookup after the bucket refilled: %d %s", r.status, r.body)
		}
		for _, line := range []string{
			`scimd_limit_refusals_total{api="scim",limit="rate"} 2`,
			`scimd_limit_refusals_total{api="lookup",limit="rate"} 1`,
		} {
			if !s.metric(line) {
				t.Errorf("metrics lack %s", line)
			}
		}
	})
}

func TestConfigLimits(t *testing.T) {
	c, err := loadConfig(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SCIMMaxInFlight != 64 || c.SCIMRate != 0 || c.LookupMaxInFlight != 0 || c.LookupRate != 0 || c.LimitWait != time.Second {
		t.Errorf("defaults: SCIM %d %v, lookup %d %v, wait %v", c.SCIMMaxInFlight, c.SCIMRate, c.LookupMaxInFlight, c.LookupRate, c.LimitWait)
	}
	c, err = loadConfig(t, map[string]string{"SCIMD_SCIM_MAX_INFLIGHT": "0", "SCIMD_SCIM_RATE": "12.5",
		"SCIMD_LOOKUP_MAX_INFLIGHT": "16", "SCIMD_LOOKUP_RATE": "200", "SCIMD_LIMIT_WAIT": "250ms"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SCIMMaxInFlight != 0 || c.SCIMRate != 12.5 || c.LookupMaxInFlight != 16 || c.LookupRate != 200 || c.LimitWait != 250*time.Millisecond {
		t.Errorf("set: %+v", c)
	}
	if c, err := loadConfig(t, nil, "-lookup-rate", "5", "-limit-wait", "0"); err != nil || c.LookupRate != 5 || c.LimitWait != 0 {
		t.Errorf("flags: %v %v %v", c.LookupRate, c.LimitWait, err)
	}

	_, err = loadConfig(t, map[string]string{"SCIMD_SCIM_MAX_INFLIGHT": "-1", "SCIMD_SCIM_RATE": "fast",
		"SCIMD_LOOKUP_MAX_INFLIGHT": "2.5", "SCIMD_LOOKUP_RATE": "-3", "SCIMD_LIMIT_WAIT": "1m"})
	for _, want := range []string{
		"SCIMD_SCIM_MAX_INFLIGHT: -1 is negative (0 turns the limit off)",
		`SCIMD_SCIM_RATE: "fast" is not a number of requests a second`,
		`SCIMD_LOOKUP_MAX_INFLIGHT: "2.5" is not a whole number of requests`,
		"SCIMD_LOOKUP_RATE: -3 is negative",
		"SCIMD_LIMIT_WAIT: 1m0s is outside 0 to 10s",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	for _, bad := range []string{"NaN", "Inf"} {
		if _, err := loadConfig(t, map[string]string{"SCIMD_SCIM_RATE": bad}); err == nil {
			t.Errorf("SCIMD_SCIM_RATE=%s accepted", bad)
		}
	}
	// A Config built in code is checked too.
	bad := testConfig(t)
	bad.LookupMaxInFlight, bad.SCIMRate, bad.LimitWait = -2, -1, -time.Second
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "SCIMD_LOOKUP_MAX_INFLIGHT") ||
		!strings.Contains(err.Error(), "SCIMD_SCIM_RATE") || !strings.Contains(err.Error(), "SCIMD_LIMIT_WAIT") {
		t.Errorf("Validate: %v", err)
	}
}
