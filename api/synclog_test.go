package api_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

const seededID = "0fcf6886-abc4-41a2-b0e9-def32ac0295c"

// seedSyncLog fills a directory's sync log through the store's writes,
// deterministically, with values that test CSV quoting and formula
// neutralisation. Another directory gets events that must never show.
func seedSyncLog(t *testing.T, db store.Store) store.Directory {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	d, err := db.CreateDirectory(ctx, store.Directory{ID: seededID, Name: "Contoso Ltd"})
	must(err)
	other, err := db.CreateDirectory(ctx, store.Directory{ID: "9a1b2c3d-0000-4000-8000-000000000000", Name: "Other"})
	must(err)
	must(db.RecordSyncEvent(ctx, store.SyncEvent{DirectoryID: other.ID, Operation: store.SyncCreate,
		ResourceType: "User", Identity: "other@fabrikam.com", New: true, Result: "created"}))

	userEv := func(op, who, result string, failed bool) store.SyncEvent {
		return store.SyncEvent{DirectoryID: d.ID, Operation: op, ResourceType: "User", Identity: who,
			New: op == store.SyncCreate, Failed: failed, Result: result}
	}
	alice := store.User{DirectoryID: d.ID, ID: "user-alice", UserName: "alice@contoso.com", Active: true}
	_, err = db.CreateUser(ctx, alice, userEv(store.SyncCreate, alice.UserName, "created", false))
	must(err)
	must(db.RecordSyncEvent(ctx, userEv(store.SyncCreate, "bob@contoso.com",
		`phoneNumbers[type eq "work"].value "555 1234" is not E.164; expected the form +14255550100`, true)))
	_, err = db.UpdateUser(ctx, d.ID, alice.ID, func(u store.User) (store.User, store.SyncEvent, error) {
		u.Active = false
		return u, userEv(store.SyncDisable, u.UserName, "disabled", false), nil
	})
	must(err)
	groupEv := func(op, result string) store.SyncEvent {
		return store.SyncEvent{DirectoryID: d.ID, Operation: op, ResourceType: "Group", Identity: "Sales, EMEA",
			New: op == store.SyncCreate, Result: result}
	}
	g, err := db.CreateGroup(ctx, store.Group{DirectoryID: d.ID, ID: "group-sales", DisplayName: "Sales, EMEA"},
		nil, groupEv(store.SyncCreate, "created"))
	must(err)
	_, err = db.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
		return store.GroupChange{
			Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{alice.ID}}},
			Event:   groupEv(store.SyncMembersAdded, "1 member added"),
		}, nil
	})
	must(err)
	hostile := userEv(store.SyncUpdate, `=HYPERLINK("http://evil.example","click")`, "@SUM(1+1)\nsecond line", true)
	hostile.ResourceID = alice.ID
	must(db.RecordSyncEvent(ctx, hostile))
	must(db.RecordSyncEvent(ctx, userEv(store.SyncCreate, "+14255550100", "-1 is not a userName", true)))
	zoe := store.User{DirectoryID: d.ID, ID: "user-zoe", UserName: "zoë@contoso.com", Active: true}
	_, err = db.CreateUser(ctx, zoe, userEv(store.SyncCreate, zoe.UserName, `created "Zoë"`, false))
	must(err)
	must(db.DeleteUser(ctx, d.ID, alice.ID, 0, userEv(store.SyncDelete, alice.UserName, "deleted", false)))
	return d
}

// golden compares got with testdata/synclog/<name>.golden.csv, or
// rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "synclog", name+".golden.csv")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run TestSyncLogCSVGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestSyncLogCSVGolden(t *testing.T) {
	now := time.Date(2026, 3, 5, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600))
	f, db := newSQLiteFixture(t, &now)
	d := seedSyncLog(t, db)
	base := "/admin/v1/directories/" + d.ID + "/sync-log.csv"

	for _, tt := range []struct{ name, query string }{
		{"all", ""},
		{"failed_users", "?status=failed&resource=User"},
		{"groups_window", "?resource=group&since=2026-03-04T09:00:06Z&until=2026-03-04T10:00:07%2B01:00"},
		{"empty", "?since=2030-01-01T00:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var bodies [][]byte
			for _, pageSize := range []int{2, 1000} { // several pages and one
				api.SetCSVPageSize(t, pageSize)
				r := f.do(t, http.MethodGet, base+tt.query, "")
				if r.status != http.StatusOK {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
				if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="sync-log-Contoso-Ltd-2026-03-06.csv"` {
					t.Errorf("Content-Disposition = %q", cd)
				}
				bodies = append(bodies, r.body)
			}
			if !bytes.Equal(bodies[0], bodies[1]) {
				t.Errorf("paged export differs from the one-page export:\n%s\n---\n%s", bodies[0], bodies[1])
			}
			golden(t, tt.name, bodies[1])
		})
	}
}

// TestSyncLogCSVFailsMidStream checks that a store failure after the first
// page aborts the response instead of ending it like a complete file.
func TestSyncLogCSVFailsMidStream(t *testing.T) {
	now := epoch
	f, db := newFixtureOn(t, &now, func(db store.Store) store.Store { return &failingList{Store: db, okCalls: 1} })
	d := seedSyncLog(t, db)
	api.SetCSVPageSize(t, 2)
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
		if !strings.Contains(f.logs.String(), "mid-stream") {
			t.Error("the failure was not logged")
		}
	}()
	f.do(t, http.MethodGet, "/admin/v1/directories/"+d.ID+"/sync-log.csv", "")
	t.Error("the export did not abort")
}

// failingList fails ListSyncEvents after okCalls calls.
type failingList struct {
	store.Store
	okCalls int
}

func (s *failingList) ListSyncEvents(ctx context.Context, directoryID string, q store.SyncQuery) ([]store.SyncEvent, error) {
	if s.okCalls == 0 {
		return nil, errors.New("sqlite: list sync events: disk I/O error")
	}
	s.okCalls--
	return s.Store.ListSyncEvents(ctx, directoryID, q)
}

type syncLogPage struct {
	Events     []map[string]any `json:"events"`
	NextCursor string           `json:"nextCursor"`
}

func TestSyncLogJSON(t *testing.T) {
	now := epoch
	f, db := newSQLiteFixture(t, &now)
	d := seedSyncLog(t, db)
	all, err := db.ListSyncEvents(t.Context(), d.ID, store.SyncQuery{Limit: 100})
	if err != nil || len(all) != 9 {
		t.Fatalf("seeded %d events, %v", len(all), err)
	}
	base := "/admin/v1/directories/" + d.ID + "/sync-log"

	// The shape of one event: the hostile update (refused, existing user).
	r := f.do(t, http.MethodGet, base+"?status=failed&resource=user&limit=1&cursor=", "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	page := decode[syncLogPage](t, r)
	want := map[string]any{
		"id": float64(all[2].ID), "time": "2026-03-04T09:00:09Z", "operation": "create", "resourceType": "User",
		"resourceId": "", "identity": "+14255550100", "type": "New", "status": "Failed", "result": "-1 is not a userName",
	}
	if len(page.Events) != 1 || !mapsEqual(page.Events[0], want) || page.NextCursor == "" {
		t.Errorf("first failed user:\n got %v (next %q)\nwant %v", page.Events, page.NextCursor, want)
	}
	r = f.do(t, http.MethodGet, base+"?status=failed&resource=user&limit=1&cursor="+url.QueryEscape(page.NextCursor), "")
	page = decode[syncLogPage](t, r)
	if len(page.Events) != 1 || page.Events[0]["type"] != "Existing" || page.Events[0]["resourceId"] != "user-alice" {
		t.Errorf("second failed user: %v", page.Events)
	}

	// Paging visits every event once, newest first, while new ones arrive;
	// the last page has no nextCursor, even when it is full.
	for _, limit := range []string{"1", "2", "3", "9", "1000"} {
		var ids []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatalf("limit %s: paging does not end", limit)
			}
			r := f.do(t, http.MethodGet, base+"?limit="+limit+"&until=2026-03-04T09:00:11Z&cursor="+url.QueryEscape(cursor), "")
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			p := decode[syncLogPage](t, r)
			for _, ev := range p.Events {
				ids = append(ids, int64(ev["id"].(float64)))
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
			if err := db.RecordSyncEvent(t.Context(), store.SyncEvent{DirectoryID: d.ID, Operation: store.SyncCreate, ResourceType: "User"}); err != nil {
				t.Fatal(err)
			}
		}
		wantIDs := make([]int64, len(all))
		for i, ev := range all {
			wantIDs[i] = ev.ID
		}
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("limit %s: ids %v, want %v", limit, ids, wantIDs)
		}
	}

	// An empty result is an empty array.
	r = f.do(t, http.MethodGet, base+"?since=2030-01-01T00:00:00Z", "")
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"events":[]`)) || bytes.Contains(r.body, []byte("nextCursor")) {
		t.Errorf("empty result: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

type summary struct {
	Since   time.Time `json:"since"`
	Total   int       `json:"total"`
	Success int       `json:"success"`
	Failed  int       `json:"failed"`
	Counts  []struct {
		Operation    string `json:"operation"`
		ResourceType string `json:"resourceType"`
		Status       string `json:"status"`
		Count        int    `json:"count"`
	} `json:"counts"`
}

func TestSyncLogSummary(t *testing.T) {
	now := epoch.Add(24*time.Hour + 8*time.Second) // the default window starts at the 9th tick
	f, db := newSQLiteFixture(t, &now)
	d := seedSyncLog(t, db)
	base := "/admin/v1/directories/" + d.ID + "/sync-log/summary"

	r := f.do(t, http.MethodGet, base+"?since=2026-03-04T00:00:00Z", "")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	s := decode[summary](t, r)
	if s.Total != 9 || s.Success != 6 || s.Failed != 3 || !s.Since.Equal(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("summary = %+v; want 9 = 6 + 3", s)
	}
	var lines []string
	for _, c := range s.Counts {
		lines = append(lines, c.Operation+"/"+c.ResourceType+"/"+c.Status+"="+strconv.Itoa(c.Count))
	}
	want := []string{"create/Group/Success=1", "create/User/Success=2", "create/User/Failed=2", "delete/User/Success=1",
		"disable/User/Success=1", "members added/Group/Success=1", "update/User/Failed=1"}
	if !slices.Equal(lines, want) {
		t.Errorf("counts = %q, want %q", lines, want)
	}

	// Without since: the last 24 hours of the API's clock.
	s = decode[summary](t, f.do(t, http.MethodGet, base, ""))
	if !s.Since.Equal(epoch.Add(8*time.Second)) || s.Total != 4 {
		t.Errorf("default summary = %+v; want 4 events since %v", s, epoch.Add(8*time.Second))
	}
	r = f.do(t, http.MethodGet, base+"?since=2030-01-01T00:00:00Z", "")
	if !bytes.Contains(r.body, []byte(`"counts":[]`)) || decode[summary](t, r).Total != 0 {
		t.Errorf("empty summary: %s", r.body)
	}
}

func TestSyncLogBadRequests(t *testing.T) {
	now := epoch
	f, db := newSQLiteFixture(t, &now)
	d := seedSyncLog(t, db)
	log := "/admin/v1/directories/" + d.ID + "/sync-log"
	tests := []struct {
		path, param, message string
	}{
		{log + "?since=yesterday", "since", "RFC 3339"},
		{log + "?until=2026-03-04", "until", "RFC 3339"},
		{log + "?since=2026-03-05T00:00:00Z&until=2026-03-04T00:00:00Z", "until", "before since"},
		{log + "?status=ok", "status", "success or failed"},
		{log + "?resource=Users", "resource", "User, Group or Presence"},
		{log + "?limit=0", "limit", "1 to 1000"},
		{log + "?limit=1001", "limit", "1 to 1000"},
		{log + "?limit=ten", "limit", "1 to 1000"},
		{log + "?cursor=!!", "cursor", "nextCursor"},
		{log + "?cursor=YWJj", "cursor", "nextCursor"},
		{log + "?staus=failed", "staus", "since, until, status, resource, limit, cursor"},
		{log + "?status=failed&status=success", "status", "at most once"},
		{log + "?since=%zz", "", "malformed"},
		{log + ".csv?limit=10", "limit", "since, until, status, resource"},
		{log + ".csv?resource=robot", "resource", "User, Group or Presence"},
		{log + "/summary?status=failed", "status", "since"},
		{log + "/summary?since=now", "since", "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e := wantError(t, f.do(t, http.MethodGet, tt.path, ""), http.StatusBadRequest, "invalid_parameter")
			if tt.param != "" && !strings.Contains(e.Error.Message, `"`+tt.param+`"`) || !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("message %q does not name %q and %q", e.Error.Message, tt.param, tt.message)
			}
		})
	}

	missing := "/admin/v1/directories/8f0c1f2e-9a54-4c1b-8d7e-0c6f3b1f1a10"
	for _, path := range []string{
		missing + "/sync-log", missing + "/sync-log.csv", missing + "/sync-log/summary",
		"/admin/v1/directories/not-a-uuid/sync-log",
	} {
		wantError(t, f.do(t, http.MethodGet, path, ""), http.StatusNotFound, "not_found")
	}
	for _, path := range []string{log, log + ".csv", log + "/summary"} {
		wantError(t, f.do(t, http.MethodPost, path, ""), http.StatusMethodNotAllowed, "method_not_allowed")
		wantError(t, f.doAuth(t, http.MethodGet, path, "", ""), http.StatusUnauthorized, "unauthorized")
	}
}
