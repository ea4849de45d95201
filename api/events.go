package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

// Change events of a directory's contacts and groups (store.EventStore),
// as a page (…/events), the current cursor (…/events/latest) and a
// Server-Sent Events stream (…/events/stream).
//
// Visibility applies when events are read, not when they were recorded:
// the store keeps each change's states before and after, and the
// directory's current rules decide what a client sees of them. A change
// of the rules thus applies to the feed at once, as to searches, and a
// contact that enters or leaves the visible set is a contact.created or a
// contact.deleted (contact.deactivated when it was set inactive) for the
// client. A client that read past events before a rule change is not
// told of contacts the new rules show or hide: it re-reads the contacts
// after changing the rules.

// Public event types.
const (
	EventContactCreated     = "contact.created"
	EventContactUpdated     = "contact.updated"
	EventContactDeactivated = "contact.deactivated"
	EventContactDeleted     = "contact.deleted"
	EventGroupCreated       = "group.created"
	EventGroupUpdated       = "group.updated"
	EventGroupDeleted       = "group.deleted"
	EventMemberAdded        = "group.member_added"
	EventMemberRemoved      = "group.member_removed"
)

// Events paging: limit's default and maximum.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

// EventJSON is one change event as clients see it.
type EventJSON struct {
	ID         string    `json:"id"` // the cursor to resume after this event
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurredAt"`
	Data       any       `json:"data"`
}

// eventContactJSON is a contact as events carry it: the lookup API's
// contact without presence, which has its own stream. The outer field
// hides contactJSON's (encoding/json takes the shallower of two fields
// of one name), and omitempty leaves it out.
type eventContactJSON struct {
	contactJSON
	Presence *struct{} `json:"presence,omitempty"`
}

// memberEventJSON is the data of group.member_added and _removed.
type memberEventJSON struct {
	Group   groupJSON        `json:"group"`
	Contact eventContactJSON `json:"contact"`
}

type eventListJSON struct {
	Events []EventJSON `json:"events"`
	Next   string      `json:"next"`
}

type eventLatestJSON struct {
	Next string `json:"next"`
}

// EventCursor is the opaque cursor of the event numbered seq: the
// sync log's encoding, which clients already treat as opaque.
func EventCursor(seq int64) string { return encodeCursor(seq) }

// parseEventCursor reads what EventCursor wrote, 0 included (before the
// first event).
func parseEventCursor(s string) (int64, bool) {
	if s == EventCursor(0) {
		return 0, true
	}
	return decodeCursor(s)
}

// ClientEvent returns ev as a client reading with visibility v sees it,
// and false when it sees nothing of it.
func ClientEvent(v store.Visibility, ev store.Event) (EventJSON, bool) {
	rules := mapping.Rules{Visibility: mapping.Visibility{OnlyGroups: v.OnlyGroups, ExcludeGroups: v.ExcludeGroups, Domains: v.Domains}}
	visible := func(c *store.ContactState) bool {
		return c != nil && rules.Visible(c.Active, c.UserName, c.Contact, c.Groups)
	}
	shown := func(g *store.GroupState) bool { return g != nil && groupShown(v, g.DisplayName) }
	out := EventJSON{ID: EventCursor(ev.Seq), OccurredAt: ev.Time.UTC()}
	switch ev.Kind {
	case store.EventContact:
		b, a := visible(ev.Before), visible(ev.After)
		switch {
		case !b && a:
			out.Type, out.Data = EventContactCreated, eventContact(ev.After)
		case b && a:
			out.Type, out.Data = EventContactUpdated, eventContact(ev.After)
		case b && ev.After != nil && !ev.After.Active:
			out.Type, out.Data = EventContactDeactivated, eventContact(ev.After)
		case b:
			out.Type, out.Data = EventContactDeleted, eventContact(ev.Before)
		default:
			return EventJSON{}, false
		}
	case store.EventGroup:
		b, a := shown(ev.GroupBefore), shown(ev.GroupAfter)
		switch {
		case !b && a:
			out.Type, out.Data = EventGroupCreated, eventGroup(ev.GroupAfter)
		case b && a:
			out.Type, out.Data = EventGroupUpdated, eventGroup(ev.GroupAfter)
		case b:
			out.Type, out.Data = EventGroupDeleted, eventGroup(ev.GroupBefore)
		default:
			return EventJSON{}, false
		}
	case store.EventMemberAdded:
		if !shown(ev.GroupAfter) || !visible(ev.After) {
			return EventJSON{}, false
		}
		out.Type, out.Data = EventMemberAdded, memberEventJSON{Group: eventGroup(ev.GroupAfter), Contact: eventContact(ev.After)}
	case store.EventMemberRemoved:
		if !shown(ev.GroupBefore) || !visible(ev.Before) {
			return EventJSON{}, false
		}
		out.Type, out.Data = EventMemberRemoved, memberEventJSON{Group: eventGroup(ev.GroupBefore), Contact: eventContact(ev.Before)}
	default:
		return EventJSON{}, false // a kind of a newer version
	}
	return out, true
}

func eventContact(c *store.ContactState) eventContactJSON {
	rec := store.ContactRecord{ID: c.ID, UserName: c.UserName, Active: c.Active, Contact: c.Contact, Groups: c.Groups}
	return eventContactJSON{contactJSON: contactOut(rec, nil)}
}

func eventGroup(g *store.GroupState) groupJSON {
	return groupJSON{ID: g.ID, DisplayName: g.DisplayName}
}

// eventsOff answers for a server that records no events.
func (l *Lookup) eventsOff(w http.ResponseWriter) bool {
	if l.cfg.Store.EventsEnabled() {
		return false
	}
	WriteError(w, http.StatusNotFound, "events_disabled",
		"change events are turned off on this server (SCIMD_EVENTS=off); read the contacts instead")
	return true
}

// cursorExpired answers a cursor whose events are no longer kept.
func cursorExpired(w http.ResponseWriter) {
	WriteError(w, http.StatusGone, "cursor_expired",
		"the events after this cursor are no longer kept (or the cursor is not one of this directory's): "+
			"take next from GET …/events/latest, re-read the contacts through GET …/contacts, then read the events after that next")
}

// readEvents returns up to limit events after seq after that sc shows,
// reading on while hidden ones make the page short, and the seq of the
// last event read. With given (after is a client's cursor, not "from the
// oldest kept"), expired reports a cursor whose events were pruned or
// that is ahead of the directory's newest.
func (l *Lookup) readEvents(r *http.Request, sc *scope, after int64, given bool, limit int) (out []EventJSON, last int64, expired bool, err error) {
	ctx := r.Context()
	last = after
	for first := true; ; first = false {
		evs, oldest, err := l.cfg.Store.ListEvents(ctx, sc.directoryID, last, limit)
		if err != nil {
			return nil, 0, false, err
		}
		if first && given {
			if oldest > 0 && after < oldest-1 {
				return nil, 0, true, nil
			}
			if len(evs) == 0 {
				newest, err := l.cfg.Store.LatestEvent(ctx, sc.directoryID)
				if err != nil {
					return nil, 0, false, err
				}
				if after > newest {
					return nil, 0, true, nil
				}
			}
		}
		for _, ev := range evs {
			last = ev.Seq
			if e, ok := ClientEvent(sc.visibility, ev); ok {
				out = append(out, e)
				if len(out) == limit {
					return out, last, false, nil
				}
			}
		}
		if len(evs) < limit {
			return out, last, false, nil
		}
	}
}

// listEvents answers a page of the directory's change events after a
// cursor, in commit order.
func (l *Lookup) listEvents(w http.ResponseWriter, r *http.Request) {
	vals, ok := queryParams(w, r, "after", "limit")
	if !ok || l.eventsOff(w) {
		return
	}
	limit := defaultEventLimit
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEventLimit {
			badParam(w, "limit", fmt.Sprintf("must be an integer from 1 to %d, got %q", maxEventLimit, clip(v)))
			return
		}
		limit = n
	}
	var after int64
	v := vals.Get("after")
	if v != "" {
		if after, ok = parseEventCursor(v); !ok {
			badParam(w, "after", "must be the next of a previous answer or an event's id")
			return
		}
	}
	sc := scopeFrom(r)
	evs, last, expired, err := l.readEvents(r, sc, after, v != "", limit)
	switch {
	case err != nil:
		l.internal(w, r, "list events", err)
		return
	case expired:
		cursorExpired(w)
		return
	}
	if evs == nil {
		evs = []EventJSON{}
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, eventListJSON{Events: evs, Next: EventCursor(last)})
}

// latestEvent answers the cursor after the directory's newest event.
func (l *Lookup) latestEvent(w http.ResponseWriter, r *http.Request) {
	if _, ok := queryParams(w, r); !ok || l.eventsOff(w) {
		return
	}
	seq, err := l.cfg.Store.LatestEvent(r.Context(), scopeFrom(r).directoryID)
	if err != nil {
		l.internal(w, r, "latest event", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, eventLatestJSON{Next: EventCursor(seq)})
}

// eventResetReason explains an "event: reset" of the events stream.
const eventResetReason = "the events after Last-Event-ID are no longer kept (or the id is not one of this directory's): " +
	"re-read the contacts through GET …/contacts; this stream goes on from the newest event"

// eventsStream sends the directory's change events as Server-Sent
// Events: from the event after Last-Event-ID (or lastEventId), else from
// now on. Each event's SSE name is its type and its data the event as
// …/events shows it, its id the cursor.
func (l *Lookup) eventsStream(w http.ResponseWriter, r *http.Request) {
	vals, ok := queryParams(w, r, "lastEventId")
	if !ok || l.eventsOff(w) {
		return
	}
	ctx := r.Context()
	sc := scopeFrom(r)
	// Watch before reading, so that no commit falls between the read and
	// the wait.
	wake, stop := l.cfg.Store.WatchEvents(sc.directoryID)
	defer stop()
	var after int64
	reset := false
	if id := lastEventID(r, vals); id != "" {
		after, ok = parseEventCursor(id)
		reset = !ok
	} else {
		var err error
		if after, err = l.cfg.Store.LatestEvent(ctx, sc.directoryID); err != nil {
			l.internal(w, r, "events stream", err)
			return
		}
	}
	st, ok := l.startStream(w, r, "events stream")
	if !ok {
		return
	}
	heartbeat := time.NewTicker(l.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		evs, last, expired, err := l.readEvents(r, sc, after, true, defaultEventLimit)
		switch {
		case err != nil:
			// End the stream: the client reconnects with the last id it
			// got and misses nothing.
			l.log.ErrorContext(ctx, "events stream: read events failed", "err", err)
			return
		case expired || reset:
			reset = false
			if after, err = l.cfg.Store.LatestEvent(ctx, sc.directoryID); err != nil {
				l.log.ErrorContext(ctx, "events stream: read events failed", "err", err)
				return
			}
			st.reset(eventResetReason)
			if !st.send(l, r) {
				return
			}
			continue
		}
		after = last
		for _, e := range evs {
			data, err := json.Marshal(e)
			if err != nil {
				l.log.ErrorContext(ctx, "events stream: encode event failed", "err", err)
				return
			}
			st.event(e.ID, e.Type, data)
		}
		if !st.send(l, r) {
			return
		}
		if len(evs) == defaultEventLimit {
			continue // more may follow at once
		}
		select {
		case <-ctx.Done():
			return
		case <-l.closing:
			return
		case <-wake:
		case <-heartbeat.C:
			next, ok := l.stillAdmitted(r, sc)
			if !ok {
				l.log.InfoContext(ctx, "events stream closed: credential or directory no longer valid", "directory_id", sc.directoryID)
				return
			}
			sc = next
			st.heartbeat()
		}
	}
}
