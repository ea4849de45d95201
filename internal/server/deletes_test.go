package server

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestResumeDirectoryDelete checks that a directory delete cut short
// after its first step (the directory hidden, its rows still there) is
// finished when scimd next starts.
func TestResumeDirectoryDelete(t *testing.T) {
	db := filepath.Join(t.TempDir(), "scimd.db")
	s := startServer(t, testOptions{db: db})
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	s.createSCIMUser(d, annArcher)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	raw, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE directories SET deleting = 1 WHERE id = ?`, d.ID); err != nil {
		t.Fatal(err)
	}
	count := func(query string) int {
		t.Helper()
		var n int
		if err := raw.QueryRow(query, d.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM users WHERE directory_id = ?`); n != 1 {
		t.Fatalf("%d users before the restart, want 1", n)
	}

	s2 := startServer(t, testOptions{db: db})
	if r := s2.do(http.MethodGet, "/admin/v1/directories/"+d.ID, testAdminToken, ""); r.status != http.StatusNotFound {
		t.Errorf("a directory being deleted: GET %d, want 404", r.status)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s2.logs.String(), "resumed directory deletes"); {
		if time.Now().After(deadline) {
			t.Fatal("no resumed delete logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, q := range []string{
		`SELECT count(*) FROM directories WHERE id = ?`,
		`SELECT count(*) FROM users WHERE directory_id = ?`,
		`SELECT count(*) FROM user_phones WHERE directory_id = ?`,
		`SELECT count(*) FROM sync_events WHERE directory_id = ?`,
	} {
		if n := count(q); n != 0 {
			t.Errorf("%s: %d after the resumed delete", q, n)
		}
	}
}
