package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/store"
)

// auditEntryJSON is an audit entry as the admin API shows it.
type auditEntryJSON struct {
	ID            int64           `json:"id"`
	Time          time.Time       `json:"time"`
	Actor         store.Actor     `json:"actor"`
	DirectoryID   string          `json:"directoryId"`
	DirectoryName string          `json:"directoryName"`
	Action        string          `json:"action"`
	Details       json.RawMessage `json:"details"`
}

type auditLogJSON struct {
	Entries []auditEntryJSON `json:"entries"`
	// NextCursor is set when more entries may follow; pass it as cursor.
	NextCursor string `json:"nextCursor,omitempty"`
}

// audit answers a page of the whole audit trail, newest first.
func (a *Admin) audit(w http.ResponseWriter, r *http.Request) {
	q, ok := auditQuery(w, r, true)
	if ok {
		a.writeAudit(w, r, q)
	}
}

// directoryAudit answers a page of one directory's audit trail. A deleted
// directory's trail is still there; only an id that never had one is
// unknown.
func (a *Admin) directoryAudit(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	q, ok := auditQuery(w, r, false)
	if !ok {
		return
	}
	q.DirectoryID = id
	if _, err := a.cfg.Store.GetDirectory(r.Context(), id); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.storeError(w, r, "get directory", err)
			return
		}
		trail, lerr := a.cfg.Store.ListAudit(r.Context(), store.AuditQuery{DirectoryID: id, Limit: 1})
		switch {
		case lerr != nil:
			a.storeError(w, r, "list audit entries", lerr)
			return
		case len(trail) == 0:
			a.storeError(w, r, "get directory", err)
			return
		}
	}
	a.writeAudit(w, r, q)
}

func (a *Admin) writeAudit(w http.ResponseWriter, r *http.Request, q store.AuditQuery) {
	// One more than asked tells whether another page follows.
	limit := q.Limit
	q.Limit++
	es, err := a.cfg.Store.ListAudit(r.Context(), q)
	if err != nil {
		a.storeError(w, r, "list audit entries", err)
		return
	}
	out := auditLogJSON{Entries: make([]auditEntryJSON, 0, min(len(es), limit))}
	if len(es) > limit {
		es = es[:limit]
		out.NextCursor = encodeCursor(es[limit-1].ID)
	}
	for _, e := range es {
		out.Entries = append(out.Entries, auditEntryJSON{
			ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, DirectoryID: e.DirectoryID, DirectoryName: e.DirectoryName,
			Action: e.Action, Details: json.RawMessage(e.AuditDetails()),
		})
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, out)
}

// auditQuery reads the audit filters (since, until, action and, for the
// whole trail, directory) and paging (limit, cursor). Empty parameters
// count as absent.
func auditQuery(w http.ResponseWriter, r *http.Request, all bool) (store.AuditQuery, bool) {
	known := []string{"since", "until", "action", "limit", "cursor"}
	if all {
		known = append(known, "directory")
	}
	vals, ok := queryParams(w, r, known...)
	if !ok {
		return store.AuditQuery{}, false
	}
	q := store.AuditQuery{Limit: defaultSyncLimit}
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
	if v := vals.Get("directory"); v != "" {
		if uuid.Validate(v) != nil {
			badParam(w, "directory", fmt.Sprintf("must be a directory id, got %q", clip(v)))
			return q, false
		}
		q.DirectoryID = v
	}
	if v := vals.Get("action"); v != "" {
		if !store.IsAuditAction(v) {
			badParam(w, "action", fmt.Sprintf("must be one of %s, got %q", strings.Join(store.AuditActions, ", "), clip(v)))
			return q, false
		}
		q.Action = v
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
