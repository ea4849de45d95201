package server

import (
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// TestGCSettings checks that a started server runs the collector with
// scimd's settings, as long as the environment sets none.
func TestGCSettings(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set")
	}
	startServer(t, testOptions{})
	percent := debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	debug.SetMemoryLimit(limit)
	if percent != gcPercent || limit != memoryLimit {
		t.Errorf("GC percent %d, memory limit %d; want %d, %d", percent, limit, gcPercent, memoryLimit)
	}
}

// TestSoftLimitFollowsPhoneIndexes checks that scimd's soft memory limit
// grows by what phone search holds in memory and shrinks when that goes,
// and that a limit scimd did not set is left alone.
func TestSoftLimitFollowsPhoneIndexes(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set")
	}
	limit := func() int64 { return debug.SetMemoryLimit(-1) }
	s := startServer(t, testOptions{})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	key := decodeJSON[struct{ Key string }](t, s.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`)).Key
	s.createSCIMUser(d, annArcher)
	if got := limit(); got != memoryLimit {
		t.Fatalf("limit before any phone search: %d, want %d", got, memoryLimit)
	}
	r := s.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/contacts?q=7183", key, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Ann Archer") {
		t.Fatalf("phone search: %d %s", r.status, r.body)
	}
	if got := limit(); got <= memoryLimit || got > memoryLimit+1<<20 {
		t.Errorf("limit after a phone search of one number: %d, want a little over %d", got, memoryLimit)
	}
	if r := s.do(http.MethodDelete, "/admin/v1/directories/"+d.ID, testAdminToken, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete directory: %d %s", r.status, r.body)
	}
	if got := limit(); got != memoryLimit {
		t.Errorf("limit after the directory went: %d, want %d", got, memoryLimit)
	}

	// A limit set by someone else (a program embedding scimd) stays.
	const theirs = 1 << 40
	debug.SetMemoryLimit(theirs)
	defer ownLimit.set(memoryLimit)
	ownLimit.grow(1 << 20)
	if got := limit(); got != theirs {
		t.Errorf("limit set elsewhere became %d", got)
	}
}
