package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/limit"
	"github.com/scimd/scimd/store"
)

// heldLookups holds caller-ID lookups of one directory in the store until
// released, so that a test knows they are in flight.
type heldLookups struct {
	store.Store
	dir     string
	entered chan struct{}
	release chan struct{}
}

func (s *heldLookups) LookupPhone(ctx context.Context, dir, e164 string, v store.Visibility) ([]store.ContactRecord, error) {
	if dir == s.dir {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.LookupPhone(ctx, dir, e164, v)
}

// TestLookupInFlightLimitPerDirectory: a directory whose caller-ID
// lookups fill its in-flight limit gets 429 with Retry-After and the
// API's JSON error; another directory, and the first one's presence
// stream, are served meanwhile.
func TestLookupInFlightLimitPerDirectory(t *testing.T) {
	held := &heldLookups{entered: make(chan struct{}), release: make(chan struct{})}
	f := newLookupFixtureOn(t, func(db store.Store) store.Store { held.Store = db; return held },
		func(c *api.LookupConfig) { c.Limiter = limit.New(limit.Config{MaxInFlight: 1}) })
	a := f.newDirectory("A", "")
	b := f.newDirectory("B", "")
	f.user(a, person{userName: "ann@a.example", given: "Ann", family: "Archer", phones: [][2]string{{"work", "+14255550100"}}})
	f.user(b, person{userName: "bob@b.example", given: "Bob", family: "Brown", phones: [][2]string{{"work", "+14255550100"}}})
	held.dir = a.ID

	done := make(chan response)
	go func() {
		done <- f.req(http.MethodGet, a.api("/lookup?phone=%2B14255550100"), a.Key, "")
	}()
	<-held.entered // A's lookup holds A's only slot

	r := f.req(http.MethodGet, a.api("/lookup?phone=%2B14255550100"), a.Key, "")
	e := wantError(t, r, http.StatusTooManyRequests, "too_many_requests")
	if r.header.Get("Retry-After") != "1" || !strings.Contains(e.Error.Message, "in flight are at its limit of 1") {
		t.Errorf("429: Retry-After %q, message %q", r.header.Get("Retry-After"), e.Error.Message)
	}
	wantError(t, f.req(http.MethodGet, a.api("/contacts"), a.Key, ""), http.StatusTooManyRequests, "too_many_requests")
	if got := f.callerID(b, "phone=%2B14255550100"); len(got) != 1 || got[0] != "Bob Brown" {
		t.Errorf("B's caller-ID while A is at its limit: %q", got)
	}
	// The stream is not counted in flight: it is admitted (and answers
	// 503 here, as this fixture has no presence service).
	wantError(t, f.req(http.MethodGet, a.api("/presence/stream"), a.Key, ""), http.StatusServiceUnavailable, "presence_unavailable")

	close(held.release)
	if r := <-done; r.status != http.StatusOK {
		t.Fatalf("held lookup: %d %s", r.status, r.body)
	}
	held.dir = "" // no more holding (the goroutine above is done)
	f.get(a.api("/contacts"), a.Key)
}

// TestLookupRateCountsStreams: opening a presence stream spends the
// directory's rate, so that reconnecting in a loop is limited too.
func TestLookupRateCountsStreams(t *testing.T) {
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	f := newLookupFixtureOn(t, func(db store.Store) store.Store { return db },
		func(c *api.LookupConfig) {
			c.Limiter = limit.New(limit.Config{Rate: 1, Now: func() time.Time { return now }})
		})
	a := f.newDirectory("A", "")
	wantError(t, f.req(http.MethodGet, a.api("/presence/stream"), a.Key, ""), http.StatusServiceUnavailable, "presence_unavailable")
	r := f.req(http.MethodGet, a.api("/presence/stream"), a.Key, "")
	e := wantError(t, r, http.StatusTooManyRequests, "too_many_requests")
	if r.header.Get("Retry-After") != "1" || !strings.Contains(e.Error.Message, "rate of 1 a second") {
		t.Errorf("429: Retry-After %q, message %q", r.header.Get("Retry-After"), e.Error.Message)
	}
}
