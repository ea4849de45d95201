package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/internal/jsonenc"
	"github.com/scimd/scimd/store"
)

// DefaultHeartbeat is LookupConfig.Heartbeat's default: well under the
// idle timeouts of common proxies and load balancers (60 s and more).
const DefaultHeartbeat = 15 * time.Second

// streamRetry is the reconnection delay the stream suggests to
// EventSource clients, in milliseconds.
const streamRetry = "5000"

// resetReason explains an "event: reset" to the client's developer.
const resetReason = "the events after Last-Event-ID are no longer held by this server (or the id is not one of its ids): re-read the contacts' presence through the contacts API, then keep reading this stream"

// CloseStreams ends every open stream (presence, change events), and any
// opened later at once. The server calls it when it starts shutting down: streams would
// otherwise keep the graceful shutdown waiting until its deadline.
func (l *Lookup) CloseStreams() { l.closeOnce.Do(func() { close(l.closing) }) }

// presenceStream sends the directory's presence changes as Server-Sent
// Events, as they happen: one "presence" event per contact change, with
// the event id to resume from (Last-Event-ID header, or the lastEventId
// parameter for clients that cannot set headers), and a comment line
// every heartbeat while nothing happens. The same visibility rules as the
// contacts API apply.
func (l *Lookup) presenceStream(w http.ResponseWriter, r *http.Request) {
	vals, ok := queryParams(w, r, "lastEventId")
	if !ok {
		return
	}
	if l.cfg.Presence == nil {
		writePresenceUnavailable(w)
		return
	}
	l.stream(w, r, scopeFrom(r), lastEventID(r, vals), func(sc *scope) (*scope, bool) { return l.stillAdmitted(r, sc) })
}

// ServePresenceStream streams the directory's presence changes exactly as
// the lookup API's stream does (format, visibility rules, Last-Event-ID
// resume, heartbeats), to a caller that authenticated its own way: the
// console's session. admitted is asked again at every heartbeat; false
// ends the stream, as does the directory's delete.
func (l *Lookup) ServePresenceStream(w http.ResponseWriter, r *http.Request, directoryID string, admitted func(context.Context) bool) {
	if l.cfg.Presence == nil {
		writePresenceUnavailable(w)
		return
	}
	sc, err := l.scope(r.Context(), directoryID)
	if err != nil {
		l.fail(w, r, "presence stream: read directory", err)
		return
	}
	l.stream(w, r, sc, lastEventID(r, r.URL.Query()), func(sc *scope) (*scope, bool) {
		if !admitted(r.Context()) {
			return nil, false
		}
		next, err := l.scope(r.Context(), directoryID)
		if AsProblem(err) != nil { // the directory is gone
			return nil, false
		}
		if err != nil {
			l.log.WarnContext(r.Context(), "presence stream: recheck directory failed", "err", err)
			return sc, true
		}
		return next, true
	})
}

// stream sends the scope's presence changes from lastID on; recheck
// runs at every heartbeat and may end the stream or change its scope.
func (l *Lookup) stream(w http.ResponseWriter, r *http.Request, sc *scope, lastID string, recheck func(*scope) (*scope, bool)) {
	ctx := r.Context()
	st, ok := l.startStream(w, r, "presence stream")
	if !ok {
		return
	}
	sub := l.cfg.Presence.Subscribe(sc.directoryID, lastID)
	defer sub.Close()
	if sub.Reset {
		st.reset(resetReason)
	}
	if !st.send(l, r) {
		return
	}
	l.log.DebugContext(ctx, "presence stream opened", "directory_id", sc.directoryID, "reset", sub.Reset)

	heartbeat := time.NewTicker(l.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.closing:
			return
		case ev, ok := <-sub.Events:
			if !ok {
				return // the subscription ended (revoked, service stopped, client too slow)
			}
			visible, err := l.visibleContact(r, sc, ev.ContactID)
			if err != nil {
				// End the stream: the client reconnects with the last id it
				// got and this event is sent again.
				l.log.ErrorContext(ctx, "presence stream: check contact visibility failed", "err", err)
				return
			}
			if !visible {
				continue
			}
			data, err := jsonenc.Marshal(ev)
			if err != nil {
				l.log.ErrorContext(ctx, "presence stream: encode event failed", "err", err)
				continue
			}
			st.event(ev.ID, "presence", data)
			if !st.send(l, r) {
				return
			}
		case <-heartbeat.C:
			next, ok := recheck(sc)
			if !ok {
				l.log.InfoContext(ctx, "presence stream closed: credential or directory no longer valid", "directory_id", sc.directoryID)
				return
			}
			sc = next
			st.heartbeat()
			if !st.send(l, r) {
				return
			}
		}
	}
}

// visibleContact reports whether the directory's visibility rules show
// the contact, so that the stream never reveals a hidden contact's
// presence. Without rules every contact the poller asks about (active
// users) is visible, and the store is not asked.
func (l *Lookup) visibleContact(r *http.Request, sc *scope, contactID string) (bool, error) {
	v := sc.visibility
	if len(v.OnlyGroups) == 0 && len(v.ExcludeGroups) == 0 && len(v.Domains) == 0 {
		return true, nil
	}
	_, err := l.cfg.Store.GetContact(r.Context(), sc.directoryID, contactID, v)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// stillAdmitted checks again what authenticate checked when a stream
// opened: a revoked key or a deleted directory ends it, and changed
// visibility rules apply from now on. A store failure keeps the stream
// and its current scope.
func (l *Lookup) stillAdmitted(r *http.Request, sc *scope) (*scope, bool) {
	ctx := r.Context()
	key, reason, err := l.credential(r)
	if err != nil {
		l.log.WarnContext(ctx, "presence stream: recheck api key failed", "err", err)
		return sc, true
	}
	if reason != "" || (key != nil && key.DirectoryID != mux.Vars(r)["directoryId"]) {
		return nil, false
	}
	d, err := l.cfg.Store.GetDirectory(ctx, sc.directoryID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, false
	case err != nil:
		l.log.WarnContext(ctx, "presence stream: recheck directory failed", "err", err)
		return sc, true
	}
	next, err := scopeOf(d)
	if err != nil {
		l.log.WarnContext(ctx, "presence stream: read mapping rules failed", "err", err)
		return sc, true
	}
	return next, true
}
