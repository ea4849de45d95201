package api

import (
	"encoding/csv"
	"net/http"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// csvPageSize is how many events the CSV export reads per query; a
// variable so that tests can force several pages.
var csvPageSize = 1000

// csvPageTimeout is the write deadline each page of a CSV export gets, so
// that a large export is not cut off by the server's WriteTimeout while a
// stalled client still is.
const csvPageTimeout = 60 * time.Second

var csvHeader = []string{"Time", "Operation", "Resource", "Resource ID", "Email", "Type", "Sync Status", "Result"}

// syncLogCSV streams every event matching the filters as CSV
// (WriteSyncLogCSV).
func (a *Admin) syncLogCSV(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	vals, ok := queryParams(w, r, syncParams(false)...)
	if !ok {
		return
	}
	q, err := ParseSyncQuery(vals, false)
	if err == nil {
		err = a.WriteSyncLogCSV(w, r, id, q)
	}
	if err != nil {
		a.fail(w, r, "export sync events", err)
	}
}

// WriteSyncLogCSV streams every event of the directory matching q's
// filters, newest first, as the CSV download (the admin API's and the
// console's). Pages are read by id cursor, so events that arrive
// meanwhile are left out rather than shifting rows. An error means
// nothing was written yet: the caller answers it (a *Problem, or an
// internal error). A store failure after the first rows aborts the
// response, so that the client sees a cut download.
func (a *Admin) WriteSyncLogCSV(w http.ResponseWriter, r *http.Request, id string, q store.SyncQuery) error {
	d, err := a.cfg.Store.GetDirectory(r.Context(), id)
	if err != nil {
		return storeProblem(err, "directory not found")
	}
	q.Limit, q.Before = csvPageSize, 0
	// The first page is read before the status is sent, so that a store
	// failure can still be a 500.
	page, err := a.cfg.Store.ListSyncEvents(r.Context(), id, q)
	if err != nil {
		return storeProblem(err, "directory not found")
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+csvFileName(d, a.cfg.Now())+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)

	rc := http.NewResponseController(w)
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader) // errors stick; checked after Flush
	for {
		_ = rc.SetWriteDeadline(time.Now().Add(csvPageTimeout)) // unsupported in tests: fine
		for _, ev := range page {
			_ = cw.Write(csvRow(ev))
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			a.log.DebugContext(r.Context(), "sync log export stopped: client gone", "directory_id", id, "err", err)
			return nil
		}
		_ = rc.Flush()
		if len(page) < q.Limit {
			return nil
		}
		q.Before = page[len(page)-1].ID
		if page, err = a.cfg.Store.ListSyncEvents(r.Context(), id, q); err != nil {
			a.log.ErrorContext(r.Context(), "export sync events failed mid-stream", "directory_id", id, "err", err)
			// Too late for a status: abort the connection so that the
			// client sees a cut download, not a complete-looking file.
			panic(http.ErrAbortHandler)
		}
	}
}

func csvRow(ev store.SyncEvent) []string {
	return []string{
		ev.Time.UTC().Format(time.RFC3339),
		csvCell(ev.Operation),
		csvCell(ev.ResourceType),
		csvCell(ev.ResourceID),
		csvCell(ev.Identity),
		eventType(ev),
		eventStatus(ev.Failed),
		csvCell(ev.Result),
	}
}

// csvCell neutralises spreadsheet formula injection: a cell that starts
// with a character a spreadsheet reads as a formula (or, tab and carriage
// return, one that can hide it) gets a leading apostrophe, which makes it
// text. Values come from Entra and from SCIM clients, so they are
// untrusted.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvFileName is sync-log-<directory name>-<UTC date>.csv, the name
// reduced to characters safe in any file system and header; the id stands
// in for a name with none.
func csvFileName(d store.Directory, now time.Time) string {
	var b strings.Builder
	dash := false
	for _, c := range d.Name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.':
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 64 {
			break
		}
	}
	name := strings.Trim(b.String(), "-.")
	if name == "" {
		name = d.ID
	}
	return "sync-log-" + name + "-" + now.UTC().Format("2006-01-02") + ".csv"
}
