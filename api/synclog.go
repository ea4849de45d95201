package api

import (
	"context"
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
	vals, ok := queryParams(w, r, syncParams(true)...)
	if !ok {
		return
	}
	q, err := ParseSyncQuery(vals, true)
	if err != nil {
		a.fail(w, r, "list sync events", err)
		return
	}
	out, err := a.SyncLog(r.Context(), id, q)
	if err != nil {
		a.fail(w, r, "list sync events", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // user names
	WriteJSON(w, http.StatusOK, out)
}

// SyncEvent is a sync event as the admin API and the console show it.
type SyncEvent = syncEventJSON

// SyncLogPage is a page of a directory's sync log.
type SyncLogPage = syncLogJSON

// SyncLog returns a page of the directory's sync log matching q (see
// ParseSyncQuery), newest first; an unknown directory is not an empty
// log.
func (a *Admin) SyncLog(ctx context.Context, directoryID string, q store.SyncQuery) (SyncLogPage, error) {
	if err := a.directoryFound(ctx, directoryID); err != nil {
		return SyncLogPage{}, err
	}
	if q.Limit <= 0 || q.Limit > maxSyncLimit {
		q.Limit = defaultSyncLimit
	}
	// One more than asked tells whether another page follows.
	limit := q.Limit
	q.Limit++
	evs, err := a.cfg.Store.ListSyncEvents(ctx, directoryID, q)
	if err != nil {
		return SyncLogPage{}, storeProblem(err, "directory not found")
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
	return out, nil
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
	var since time.Time
	if v := vals.Get("since"); v != "" {
		if since, ok = parseTimeParam(w, "since", v); !ok {
			return
		}
	}
	out, err := a.SyncSummary(r.Context(), id, since)
	if err != nil {
		a.fail(w, r, "summarise sync events", err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// SyncSummary is a directory's sync event counts since a time.
type SyncSummary = syncSummaryJSON

// SyncSummary counts the directory's events since a time (the zero time:
// the last 24 hours).
func (a *Admin) SyncSummary(ctx context.Context, directoryID string, since time.Time) (SyncSummary, error) {
	if since.IsZero() {
		since = a.cfg.Now().Add(-defaultSummaryWindow)
	}
	if err := a.directoryFound(ctx, directoryID); err != nil {
		return SyncSummary{}, err
	}
	counts, err := a.cfg.Store.SyncSummary(ctx, directoryID, since)
	if err != nil {
		return SyncSummary{}, storeProblem(err, "directory not found")
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
	return out, nil
}

// syncParams are the sync log's query parameters, with or without
// paging.
func syncParams(paging bool) []string {
	known := []string{"since", "until", "status", "resource"}
	if paging {
		known = append(known, "limit", "cursor")
	}
	return known
}

// ParseSyncQuery reads the sync log filters (since, until, status,
// resource) and, with paging, limit and cursor, as the admin API's
// parameters name them. Empty values count as absent; other parameters
// are ignored (the admin API refuses them first). A refusal is a
// *Problem naming the parameter.
func ParseSyncQuery(vals url.Values, paging bool) (store.SyncQuery, error) {
	q := store.SyncQuery{Limit: defaultSyncLimit}
	var err error
	if v := vals.Get("since"); v != "" {
		if q.Since, err = timeParam("since", v); err != nil {
			return q, err
		}
	}
	if v := vals.Get("until"); v != "" {
		if q.Until, err = timeParam("until", v); err != nil {
			return q, err
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return q, paramProblem("until", "must not be before since")
	}
	switch v := strings.ToLower(vals.Get("status")); v {
	case "":
	case "success", "failed":
		failed := v == "failed"
		q.Failed = &failed
	default:
		return q, paramProblem("status", fmt.Sprintf("must be success or failed, got %q", clip(vals.Get("status"))))
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
		return q, paramProblem("resource", fmt.Sprintf("must be User, Group or Presence, got %q", clip(v)))
	}
	if !paging {
		return q, nil
	}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSyncLimit {
			return q, paramProblem("limit", fmt.Sprintf("must be an integer from 1 to %d, got %q", maxSyncLimit, clip(v)))
		}
		q.Limit = n
	}
	if v := vals.Get("cursor"); v != "" {
		var ok bool
		if q.Before, ok = decodeCursor(v); !ok {
			return q, paramProblem("cursor", "must be the nextCursor of a previous answer")
		}
	}
	return q, nil
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
	t, err := timeParam(name, v)
	if err != nil {
		p := AsProblem(err)
		WriteError(w, p.Status, p.Code, p.Message)
		return time.Time{}, false
	}
	return t, true
}

// timeParam parses an RFC 3339 time parameter.
func timeParam(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, paramProblem(name, fmt.Sprintf("must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", clip(v)))
	}
	return t, nil
}

func badParam(w http.ResponseWriter, name, problem string) {
	p := paramProblem(name, problem)
	WriteError(w, p.Status, p.Code, p.Message)
}

// paramProblem refuses a query parameter: problem says what it must be.
func paramProblem(name, problem string) *Problem {
	return newProblem(http.StatusBadRequest, "invalid_parameter", fmt.Sprintf("parameter %q %s", name, problem))
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
