package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDeleteDirectoryStatuses checks that removing a run's directory
// accepts scimd's 204, and its 202 for a directory it purges in the
// background, and reports anything else with the answer's body.
func TestDeleteDirectoryStatuses(t *testing.T) {
	for _, tt := range []struct {
		status  int
		wantErr bool
	}{
		{http.StatusNoContent, false},
		{http.StatusAccepted, false},
		{http.StatusNotFound, true},
		{http.StatusInternalServerError, true},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodDelete || r.URL.Path != "/admin/v1/directories/d1" || r.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("request %s %s, Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			}
			w.WriteHeader(tt.status)
			w.Write([]byte(`{"error":{"code":"x","message":"why"}}`))
		}))
		tg := &target{bases: []string{srv.URL}, adminToken: "tok"}
		err := tg.deleteDirectory(t.Context(), srv.Client(), &directory{id: "d1"})
		srv.Close()
		if (err != nil) != tt.wantErr || (err != nil && !strings.Contains(err.Error(), "why")) {
			t.Errorf("status %d: %v", tt.status, err)
		}
	}
}
