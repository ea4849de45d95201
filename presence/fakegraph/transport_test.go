package fakegraph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestTransportSynctest shows a poller's timing can be tested on the fake
// clock: Slow delays, token expiry and AutoPresence follow synctest time.
func TestTransportSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := New(Config{AutoPresence: time.Minute, TokenLifetime: time.Hour})
		client := &http.Client{Transport: fake.Transport()}
		const base = "https://graph.example"

		resp, err := client.PostForm(base+"/"+tenantID+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {DefaultClientID},
			"client_secret": {DefaultClientSecret}, "scope": {graphScope},
		})
		if err != nil {
			t.Fatal(err)
		}
		var tb tokenBody
		decode(t, resp, &tb)
		call := func(ctx context.Context) (graphResp, error) {
			req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1.0/communications/getPresencesByUserId", strings.NewReader(`{"ids":["`+userA+`"]}`))
			req.Header.Set("Authorization", "Bearer "+tb.AccessToken)
			resp, err := client.Do(req)
			if err != nil {
				return graphResp{}, err
			}
			g := graphResp{status: resp.StatusCode}
			decode(t, resp, &g.body)
			return g, nil
		}

		// The delay is honoured to the nanosecond of fake time.
		fake.SlowNext(2, 5*time.Second)
		start := time.Now()
		g, err := call(t.Context())
		if err != nil || g.status != http.StatusOK {
			t.Fatalf("slow call: %v %d", err, g.status)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("slow call took %v, want 5s", d)
		}

		// A request that gives up first gets its context's error, promptly.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		start = time.Now()
		_, err = call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancelled call: %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("cancelled call returned after %v, want 1s", d)
		}

		// The burst is spent; the next call is instant.
		start = time.Now()
		first, _ := call(t.Context())
		if d := time.Since(start); d != 0 || first.status != http.StatusOK {
			t.Errorf("third call: %d after %v", first.status, d)
		}

		// Fake time moves AutoPresence stamps and expires the token.
		time.Sleep(time.Minute)
		later, _ := call(t.Context())
		seq := func(g graphResp) string { return g.values()[userA]["sequenceNumber"].(string) }
		if !(seq(later) > seq(first)) {
			t.Errorf("sequenceNumber %s then %s after a minute", seq(first), seq(later))
		}
		time.Sleep(time.Hour)
		if expired, _ := call(t.Context()); expired.status != http.StatusUnauthorized {
			t.Errorf("after the token's lifetime: %d", expired.status)
		}
	})
}

func TestTransportCancelledBeforeSend(t *testing.T) {
	fake := New(Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://graph.example/_stats", nil)
	if _, err := fake.Transport().RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if fake.Requests() != 0 {
		t.Error("a cancelled request reached the handler")
	}
}

func TestSlowTokenNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := New(Config{})
		fake.SlowTokenNext(1, 3*time.Second)
		client := &http.Client{Transport: fake.Transport()}
		start := time.Now()
		resp, err := client.PostForm("https://login.example/"+tenantID+"/oauth2/v2.0/token", secretForm())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if d := time.Since(start); d != 3*time.Second || resp.StatusCode != http.StatusOK {
			t.Errorf("got %d after %v, want 200 after 3s", resp.StatusCode, d)
		}
	})
}

func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
