package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/store"
)

// syncLogPageSize is how many events a page of the sync log shows.
const syncLogPageSize = 50

// periods are the sync log's time filter choices; "custom" reads the
// From and To fields.
var periods = []struct {
	Value, Label string
	Back         time.Duration
}{
	{"", "Any time", 0},
	{"1h", "Last hour", time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"30d", "Last 30 days", 30 * 24 * time.Hour},
	{"custom", "Custom range (From, To)", 0},
}

// syncFilter is the sync log page's filter form, as the browser sent it.
type syncFilter struct {
	Period, From, To, Status, Resource string
}

func syncFilterOf(r *http.Request) syncFilter {
	q := r.URL.Query()
	return syncFilter{Period: q.Get("period"), From: q.Get("from"), To: q.Get("to"), Status: q.Get("status"), Resource: q.Get("resource")}
}

// values is the filter as the page's own query string (links to other
// pages and to the CSV keep it).
func (f syncFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"period": f.Period, "from": f.From, "to": f.To, "status": f.Status, "resource": f.Resource} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// query turns the form into the admin API's sync log parameters and
// parses them with the API's own rules (api.ParseSyncQuery): the
// messages of a refusal are the API's. The form's From and To are
// datetime-local fields, read as UTC.
func (f syncFilter) query(now time.Time, cursor string) (store.SyncQuery, error) {
	v := url.Values{"status": {f.Status}, "resource": {f.Resource}, "cursor": {cursor}}
	switch f.Period {
	case "custom":
		for _, p := range []struct{ field, param, label string }{{f.From, "since", "From"}, {f.To, "until", "To"}} {
			if strings.TrimSpace(p.field) == "" {
				continue
			}
			t, ok := parseLocalTime(p.field)
			if !ok {
				return store.SyncQuery{}, &api.Problem{Status: http.StatusBadRequest, Code: "invalid_parameter",
					Message: p.label + ": enter a date and time in UTC, such as 2026-03-04 09:00"}
			}
			v.Set(p.param, t.Format(time.RFC3339))
		}
	default:
		for _, p := range periods {
			if p.Value == f.Period && p.Back > 0 {
				v.Set("since", now.Add(-p.Back).UTC().Format(time.RFC3339))
			}
		}
	}
	q, err := api.ParseSyncQuery(v, true)
	q.Limit = syncLogPageSize
	return q, err
}

// parseLocalTime reads a datetime-local value (or the same with a space)
// as UTC.
func parseLocalTime(s string) (time.Time, bool) {
	s = strings.Replace(strings.TrimSpace(s), " ", "T", 1)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

type syncLogData struct {
	Filter   syncFilter
	Periods  []choice
	Statuses []choice
	Types    []choice
	Events   []eventRow
	Summary  api.SyncSummary
	// Older is the link to the next (older) page, Newest back to the
	// first; CSV downloads what the filters match.
	Older, Newest, CSV string
	// Filtered: the filters are not the defaults.
	Filtered bool
}

// eventRow is a sync event with its time to the second: Entra sends a
// cycle's requests within moments.
type eventRow struct {
	api.SyncEvent
	When string
}

func selected(opts []choice, v string) []choice {
	out := make([]choice, len(opts))
	for i, o := range opts {
		o.Selected = strings.EqualFold(o.Value, v)
		out[i] = o
	}
	return out
}

var (
	statusChoices   = []choice{{"", "Any", false}, {"success", "Success", false}, {"failed", "Failed", false}}
	resourceChoices = []choice{{"", "Any", false}, {"user", "Users", false}, {"group", "Groups", false}, {"presence", "Teams presence", false}}
)

// syncLogPage shows the sync log: the last 24 hours' counts, the
// filters, a page of events, and the CSV download of what they match.
func (c *Console) syncLogPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := DirectoryFrom(ctx)
	f := syncFilterOf(r)
	base := Prefix + "/directories/" + d.ID
	var periodChoices []choice
	for _, p := range periods {
		periodChoices = append(periodChoices, choice{Value: p.Value, Label: p.Label})
	}
	data := syncLogData{Filter: f, Periods: selected(periodChoices, f.Period), Statuses: selected(statusChoices, f.Status),
		Types: selected(resourceChoices, f.Resource), Filtered: len(f.values()) > 0}
	sum, err := c.admin.SyncSummary(ctx, d.ID, time.Time{})
	if err != nil {
		c.fail(w, r, "summarise sync log", err)
		return
	}
	data.Summary = sum
	page := &Page{Title: "Sync log · " + d.Name, Active: "synclog", Data: &data}
	q, err := f.query(c.cfg.Now(), r.URL.Query().Get("cursor"))
	if err != nil {
		if status, msg, ok := problemMessage(err); ok {
			page.Error = msg
			c.renderStatus(w, r, status, "synclog.html", page)
			return
		}
		c.internalError(w, r, "read sync log", err)
		return
	}
	log, err := c.admin.SyncLog(ctx, d.ID, q)
	if err != nil {
		c.fail(w, r, "read sync log", err)
		return
	}
	for _, ev := range log.Events {
		data.Events = append(data.Events, eventRow{SyncEvent: ev, When: ev.Time.UTC().Format("2 Jan 2006 15:04:05 UTC")})
	}
	vals := f.values()
	data.CSV = base + "/sync-log.csv" + query(vals)
	if r.URL.Query().Get("cursor") != "" {
		data.Newest = base + "/sync-log" + query(vals)
	}
	if log.NextCursor != "" {
		vals.Set("cursor", log.NextCursor)
		data.Older = base + "/sync-log" + query(vals)
	}
	c.render(w, r, "synclog.html", page)
}

// syncLogCSV downloads every event the filters match: the admin API's CSV.
func (c *Console) syncLogCSV(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	q, err := syncFilterOf(r).query(c.cfg.Now(), "")
	if err == nil {
		err = c.admin.WriteSyncLogCSV(w, r, d.ID, q)
	}
	if err != nil {
		c.fail(w, r, "download sync log", err)
	}
}

func query(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
