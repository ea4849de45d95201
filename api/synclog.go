package api

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// Sync log paging: limit's default and maximum.
const (
	defaultSyncLimit = 100
	maxSyncLimit     = 1000
)

// defaultSummaryWindow is how far back a summary without since counts.
const defaultSummaryWindow = 24 * time.Hour

// syncEventJSON is a sync event as the admin API shows it.
type syncEventJSON struct {
	ID           int64     `json:"id"`
	Time         time.Time `json:"time"`
	Operation    string    `json:"operation"`
	ResourceType string    `json:"resourceType"`
	ResourceID   string    `json:"resourceId"`
	Identity     string    `json:"identity"`
	Type         string    `json:"type"`   // New or Existing
	Status       string    `json:"status"` // Success or Failed
	Result       string    `json:"result"`
}

type syncLogJSON struct {
	Events []syncEventJSON `json:"events"`
	// NextCursor is set when more events may follow; pass it as cursor.
	NextCursor string `json:"nextCursor,omitempty"`
}

type syncSummaryJSON struct {
	Since   time.Time       `json:"since"`
	Total   int             `json:"total"`
	Success int             `json:"success"`
	Failed  int             `json:"failed"`
	Counts  []syncCountJSON `json:"counts"`
}

type syncCountJSON struct {
	Operation    string `json:"operation"`
	ResourceType string `json:"resourceType"`
	Status       string `json:"status"`
	Count        int    `json:"count"`
}

func eventType(ev store.SyncEvent) string {
	if ev.New {
		return "New"
	}
	return "Existing"
}

func eventStatus(failed bool) string {
	if failed {
		return "Failed"
	}
	return "Success"
}

// syncLog answers a page of the directory's sync log, newest first.
func (a *Admin) syncLog(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	q, ok := syncQuery(w, r, true)
	if !ok || !a.directoryExists(w, r, id) {
		return
	}
	// One more than asked tells whether another page follows.
	limit := q.Limit
	q.Limit++
	evs, err := a.cfg.Store.ListSyncEvents(r.Context(), id, q)
	if err != nil {
		a.storeError(w, r, "list sync events", err)
		return
	}
	out := syncLogJSON{Events: make([]syncEventJSON, 0, min(len(evs), limit))}
	if len(evs) > limit {
		evs = evs[:limit]
		out.NextCursor = encodeCursor(evs[limit-1].ID)
	}
	for _, ev := range evs {
		out.Events = append(out.Events, syncEventJSON{
			ID: ev.ID, Time: ev.Time.UTC(), Operation: ev.Operation, ResourceType: ev.ResourceType,
			ResourceID: ev.ResourceID, Identity: ev.Identity, Type: eventType(ev), Status: eventStatus(ev.Failed),
			Result: ev.Result,
		})
	}
	w.Header().Set("Cache-Control", "no-store") // user names
	WriteJSON(w, http.StatusOK, out)
}

// syncSummary answers the directory's event counts since a time.
func (a *Admin) syncSummary(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	vals, ok := queryParams(w, r, "since")
	if !ok {
		return
	}
	since := a.cfg.Now().Add(-defaultSummaryWindow)
	if v := vals.Get("since"); v != "" {
		if since, ok = parseTimeParam(w, "since", v); !ok {
			return
		}
	}
	if !a.directoryExists(w, r, id) {
		return
	}
	counts, err := a.cfg.Store.SyncSummary(r.Context(), id, since)
	if err != nil {
		a.storeError(w, r, "summarise sync events", err)
		return
	}
	out := syncSummaryJSON{Since: since.UTC(), Counts: make([]syncCountJSON, 0, len(counts))}
	for _, c := range counts {
		out.Counts = append(out.Counts, syncCountJSON{
			Operation: c.Operation, ResourceType: c.ResourceType, Status: eventStatus(c.Failed), Count: c.Count,
		})
		out.Total += c.Count
		if c.Failed {
			out.Failed += c.Count
		} else {
			out.Success += c.Count
		}
	}
	WriteJSON(w, http.StatusOK, out)
}

// directoryExists answers 404 (or a store failure) unless the directory
// exists: an unknown directory's log would otherwise look empty.
func (a *Admin) directoryExists(w http.ResponseWriter, r *http.Request, id string) bool {
	if _, err := a.cfg.Store.GetDirectory(r.Context(), id); err != nil {
		a.storeError(w, r, "get directory", err)
		return false
	}
	return true
}

// syncQuery reads the sync log filters (since, until, status, resource)
// and, with paging, limit and cursor. Empty parameters count as absent.
func syncQuery(w http.ResponseWriter, r *http.Request, paging bool) (store.SyncQuery, bool) {
	known := []string{"since", "until", "status", "resource"}
	if paging {
		known = append(known, "limit", "cursor")
	}
	vals, ok := queryParams(w, r, known...)
	if !ok {
		return store.SyncQuery{}, false
	}
	q := store.SyncQuery{Limit: defaultSyncLimit}
	if v := vals.Get("since"); v != "" {
		if q.Since, ok = parseTimeParam(w, "since", v); !ok {
			return q, false
		}
	}
	if v := vals.Get("until"); v != "" {
		if q.Until, ok = parseTimeParam(w, "until", v); !ok {
			return q, false
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		badParam(w, "until", "must not be before since")
		return q, false
	}
	switch v := strings.ToLower(vals.Get("status")); v {
	case "":
	case "success", "failed":
		failed := v == "failed"
		q.Failed = &failed
	default:
		badParam(w, "status", fmt.Sprintf("must be success or failed, got %q", clip(vals.Get("status"))))
		return q, false
	}
	switch v := vals.Get("resource"); strings.ToLower(v) {
	case "":
	case "user":
		q.ResourceType = "User"
	case "group":
		q.ResourceType = "Group"
	case "presence": // connect and revoke of Teams presence
		q.ResourceType = "Presence"
	default:
		badParam(w, "resource", fmt.Sprintf("must be User, Group or Presence, got %q", clip(v)))
		return q, false
	}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSyncLimit {
			badParam(w, "limit", fmt.Sprintf("must be an integer from 1 to %d, got %q", maxSyncLimit, clip(v)))
			return q, false
		}
		q.Limit = n
	}
	if v := vals.Get("cursor"); v != "" {
		if q.Before, ok = decodeCursor(v); !ok {
			badParam(w, "cursor", "must be the nextCursor of a previous answer")
			return q, false
		}
	}
	return q, true
}

// queryParams parses the query string, refusing unknown and repeated
// parameters so that a mistyped filter is not silently ignored.
func queryParams(w http.ResponseWriter, r *http.Request, known ...string) (url.Values, bool) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		WriteError(w, http.StatusBadRequest, "invalid_parameter", "the query string is malformed (bad %-escape or ;)")
		return nil, false
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		switch {
		case !slices.Contains(known, k):
			takes := "no parameters"
			if len(known) > 0 {
				takes = strings.Join(known, ", ")
			}
			WriteError(w, http.StatusBadRequest, "invalid_parameter",
				fmt.Sprintf("unknown parameter %q; this endpoint takes %s", clip(k), takes))
			return nil, false
		case len(vals[k]) > 1:
			badParam(w, k, "must be given at most once")
			return nil, false
		}
	}
	return vals, true
}

func parseTimeParam(w http.ResponseWriter, name, v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		badParam(w, name, fmt.Sprintf("must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", clip(v)))
		return time.Time{}, false
	}
	return t, true
}

func badParam(w http.ResponseWriter, name, problem string) {
	WriteError(w, http.StatusBadRequest, "invalid_parameter", fmt.Sprintf("parameter %q %s", name, problem))
}

// clip shortens a client's value quoted back in an error.
func clip(s string) string {
	const max = 64
	for i := range s { // i is at a rune boundary
		if i >= max {
			return s[:i] + "…"
		}
	}
	return s
}

// Cursors are opaque to clients so that their form can change; today one
// holds the id of the last event shown.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	return id, err == nil && id > 0
}
