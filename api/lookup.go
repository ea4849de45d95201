package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/internal/limit"
	"github.com/scimd/scimd/internal/route"
	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

// LookupConfig configures the lookup API.
type LookupConfig struct {
	Store  store.Store
	Logger *slog.Logger
	// AdminTokenHash is store.HashToken of the admin bearer token, which
	// reads every directory. Empty: only API keys are accepted.
	AdminTokenHash []byte
	// Presence gives contacts their Teams presence and feeds the presence
	// stream. Nil: presence is always null and the stream answers 503.
	Presence *presence.Service
	// Heartbeat is how often an idle presence stream sends a comment, so
	// that proxies and clients see it alive (default DefaultHeartbeat).
	// While a stream is open, the credential and the directory are
	// checked again at every heartbeat.
	Heartbeat time.Duration
	// Limiter bounds each directory's requests (nil: no limit); a
	// refused request gets 429 with Retry-After. The presence stream
	// spends the rate but holds no slot.
	Limiter *limit.Limiter
}

// Lookup serves the CX clients' API under /api/v1: contact search,
// caller-ID lookup and groups of one directory, read through its API keys.
type Lookup struct {
	cfg LookupConfig
	log *slog.Logger

	// closing is closed by CloseStreams: every presence stream ends.
	closing   chan struct{}
	closeOnce sync.Once
}

// NewLookup returns the lookup API.
func NewLookup(cfg LookupConfig) *Lookup {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	return &Lookup{cfg: cfg, log: cfg.Logger.With("component", "lookup_api"), closing: make(chan struct{})}
}

// Register adds the lookup routes to r: the OpenAPI document (public) and
// the endpoints of a directory (bearer auth).
func (l *Lookup) Register(r *mux.Router) {
	// Matched by splitting the path (internal/route), caller-ID first:
	// mux tries routes in order.
	s := route.Subrouter(r, "/api/v1/directories/{directoryId}")
	s.Use(l.authenticate)
	s.Handle("/lookup", l.limited(methods{http.MethodGet: l.lookupPhone}))
	s.Handle("/contacts", l.limited(methods{http.MethodGet: l.searchContacts}))
	s.Handle("/contacts/{id}", l.limited(methods{http.MethodGet: l.getContact}))
	s.Handle("/groups", l.limited(methods{http.MethodGet: l.listGroups}))
	s.Handle("/groups/{id}/contacts", l.limited(methods{http.MethodGet: l.groupContacts}))
	s.Handle("/presence/stream", l.rateLimited(methods{http.MethodGet: l.presenceStream}))
	s.Handle("/events", l.limited(methods{http.MethodGet: l.listEvents}))
	s.Handle("/events/latest", l.limited(methods{http.MethodGet: l.latestEvent}))
	s.Handle("/events/stream", l.rateLimited(methods{http.MethodGet: l.eventsStream}))
	r.Handle("/api/v1/openapi.json", methods{http.MethodGet: serveOpenAPI})
}

// scope is what a request may read: one directory, through its
// visibility rules.
type scope struct {
	directoryID string
	visibility  store.Visibility
	// region is the directory's default region for national caller-ID
	// numbers.
	region string
}

type scopeKey struct{}

func scopeFrom(r *http.Request) *scope {
	return r.Context().Value(scopeKey{}).(*scope) // set by authenticate on every route
}

// writeDirectoryNotFound is the one answer for an unknown directory and
// for a key of another directory, so that a key holder cannot probe which
// directories exist.
func writeDirectoryNotFound(w http.ResponseWriter) {
	WriteError(w, http.StatusNotFound, "not_found", "directory not found")
}

// authenticate admits the admin token and the directory's API keys, then
// loads the directory's visibility rules for the handler. Credentials are
// checked before the directory, so an unauthenticated caller learns
// nothing about which directories exist.
func (l *Lookup) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		dirID := mux.Vars(r)["directoryId"]
		key, reason, err := l.credential(r)
		switch {
		case err != nil:
			l.internal(w, r, "find api key", err)
			return
		case reason != "":
			l.log.WarnContext(ctx, "lookup auth failed", "reason", reason, "remote_addr", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="scimd-lookup"`)
			WriteError(w, http.StatusUnauthorized, "unauthorized", "a valid API key of this directory (or the admin token) is required as a bearer token")
			return
		case key != nil && key.DirectoryID != dirID:
			l.log.WarnContext(ctx, "lookup auth failed", "reason", "API key of another directory",
				"api_key_id", key.ID, "remote_addr", r.RemoteAddr)
			writeDirectoryNotFound(w)
			return
		case !plausibleID(dirID):
			writeDirectoryNotFound(w)
			return
		}
		d, err := l.cfg.Store.GetDirectory(ctx, dirID)
		if errors.Is(err, store.ErrNotFound) {
			writeDirectoryNotFound(w)
			return
		}
		if err != nil {
			l.internal(w, r, "get directory", err)
			return
		}
		sc, err := scopeOf(d)
		if err != nil {
			l.internal(w, r, "read mapping rules", err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, scopeKey{}, sc)))
	})
}

// credential identifies the bearer token: the admin token (nil key), an
// API key, or neither (a reason to refuse). A key is found by the SHA-256
// of the presented token, so the store compares hashes, never secrets;
// TokenMatches then checks the match in constant time.
func (l *Lookup) credential(r *http.Request) (key *store.APIKey, reason string, err error) {
	token, reason := bearerToken(r)
	if reason != "" {
		return nil, reason, nil
	}
	if len(l.cfg.AdminTokenHash) > 0 && store.TokenMatches(token, l.cfg.AdminTokenHash) {
		return nil, "", nil
	}
	k, err := l.cfg.Store.APIKeyByHash(r.Context(), store.HashToken(token))
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && !store.TokenMatches(token, k.Hash):
		return nil, "unknown API key", nil
	case err != nil:
		return nil, "", err
	}
	return &k, "", nil
}

// plausibleID rejects ids no store holds without asking it. scimd makes
// UUIDs, but the store does not require them, so only the length is
// checked.
func plausibleID(id string) bool { return id != "" && len(id) <= 128 }

// internal answers an unexpected failure (writeInternal).
func (l *Lookup) internal(w http.ResponseWriter, r *http.Request, op string, err error) {
	writeInternal(w, r, l.log, op, err)
}

// fail answers err: a *Problem as itself, anything else as an internal
// error (writeInternal).
func (l *Lookup) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	if p := AsProblem(err); p != nil {
		WriteError(w, p.Status, p.Code, p.Message)
		return
	}
	l.internal(w, r, op, err)
}

// scope reads what the directory's rules let a reader see, for the
// exported reads (the console's): they authenticate their own way.
func (l *Lookup) scope(ctx context.Context, directoryID string) (*scope, error) {
	if !plausibleID(directoryID) {
		return nil, newProblem(http.StatusNotFound, "not_found", "directory not found")
	}
	d, err := l.cfg.Store.GetDirectory(ctx, directoryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newProblem(http.StatusNotFound, "not_found", "directory not found")
	}
	if err != nil {
		return nil, err
	}
	return scopeOf(d)
}

// scopeOf derives what a directory's rules mean for reads: its visibility
// and the default region of caller-ID numbers.
func scopeOf(d store.Directory) (*scope, error) {
	rules, err := mapping.ParseCached(d.Mapping)
	if err != nil {
		return nil, err
	}
	v := rules.Visibility
	return &scope{
		directoryID: d.ID,
		visibility:  store.Visibility{OnlyGroups: v.OnlyGroups, ExcludeGroups: v.ExcludeGroups, Domains: v.Domains},
		region:      rules.DefaultRegion,
	}, nil
}
