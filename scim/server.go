// Package scim is scimd's SCIM 2.0 HTTP layer: per-directory bearer auth,
// the /Users and /Groups endpoints in Entra ID's dialects, the PATCH
// engine, filter compilation and SCIM errors.
//
// Schemas come from github.com/elimity-com/scim, which also serves
// /Schemas and /ResourceTypes. The resource endpoints are scimd's own: the
// library neither stores nor applies PATCH, rejects several request shapes
// Entra sends (bare-string manager, "True"/"False" booleans without a
// global switch, core/extension filter mixes), answers validation failures
// with one generic message, and spends ~120 µs parsing the filter of
// Entra's most frequent request.
package scim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/internal/limit"
	"github.com/scimd/scimd/internal/route"
	"github.com/scimd/scimd/store"
)

const contentType = "application/scim+json"

// Config configures the SCIM layer.
type Config struct {
	Store store.Store
	// PublicURL is the external base URL (no trailing slash); a
	// directory's SCIM base URL is BaseURL(PublicURL, id).
	PublicURL string
	Logger    *slog.Logger
	// MaxBodyBytes limits request bodies (default 1 MiB).
	MaxBodyBytes int64
	// MaxResults caps count on list requests (default 1000).
	MaxResults int
	// Now is the clock (default time.Now) that ends a rotated token's
	// grace period.
	Now func() time.Time
	// Limiter bounds each directory's requests (nil: no limit); a
	// refused request gets 429 with Retry-After.
	Limiter *limit.Limiter
}

// Server serves every directory's SCIM endpoints.
type Server struct {
	cfg       Config
	store     store.Store
	log       *slog.Logger
	discovery *discovery
	configs   configCache
}

// New returns a SCIM server.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger.With("component", "scim")}
	s.discovery = newDiscovery(cfg.MaxResults, s.log)
	return s
}

// BaseURL is the SCIM base URL (Entra's "Tenant URL") of a directory.
func BaseURL(publicURL, directoryID string) string {
	return strings.TrimRight(publicURL, "/") + "/scim/v2/" + directoryID
}

// Register adds the routes below /scim/v2/{directoryId} to r. They are
// matched by splitting the path (internal/route), not by mux's regular
// expressions.
//
// It also turns off mux's path cleaning on r: a Tenant URL pasted with a
// trailing slash makes Entra send /scim/v2/{id}//Users, which mux would
// answer with a 301 to the cleaned path, and a client that follows a 301
// on POST sends a GET without the body. Such paths are served instead as
// their canonical form (canonicalPath); elsewhere an unclean path no
// longer redirects, it matches no route.
func (s *Server) Register(r *mux.Router) {
	r.SkipClean(true)
	r.MatcherFunc(func(req *http.Request, _ *mux.RouteMatch) bool {
		_, ok := canonicalPath(req.URL.Path)
		return ok
	}).Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p, _ := canonicalPath(req.URL.Path)
		u := *req.URL
		u.Path, u.RawPath = p, ""
		req2 := req.Clone(req.Context())
		req2.URL = &u
		r.ServeHTTP(w, req2)
	})).Name("/scim/v2/{directoryId}")

	sub := route.Subrouter(r, "/scim/v2/{directoryId}")
	sub.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, "", "no SCIM endpoint at "+r.URL.Path+" (endpoints: /Users, /Groups, /Schemas, /ResourceTypes, /ServiceProviderConfig)")
	})
	sub.Use(s.authenticate, s.admit)

	// Methods are dispatched here rather than with mux's Methods: a
	// subrouter's MethodNotAllowedHandler is not reliably reached.
	sub.Handle("/Users", methods{http.MethodGet: s.listUsers, http.MethodPost: s.createUser})
	sub.Handle("/Users/.search", methods{http.MethodPost: s.searchUsers}) // before /Users/{id}
	sub.Handle("/Users/{id}", methods{http.MethodGet: s.getUser, http.MethodPut: s.replaceUser, http.MethodPatch: s.patchUser, http.MethodDelete: s.deleteUser})
	sub.Handle("/Groups", methods{http.MethodGet: s.listGroups, http.MethodPost: s.createGroup})
	sub.Handle("/Groups/.search", methods{http.MethodPost: s.searchGroups})
	sub.Handle("/Groups/{id}", methods{http.MethodGet: s.getGroup, http.MethodPut: s.replaceGroup, http.MethodPatch: s.patchGroup, http.MethodDelete: s.deleteGroup})
	sub.Handle("/.search", notSupported("a search across resource types (POST /.search) is not supported; POST /Users/.search or /Groups/.search"))
	sub.Handle("/Bulk", notSupported("bulk operations are not supported (ServiceProviderConfig: bulk.supported is false); send each operation on its own"))
	sub.Handle("/ServiceProviderConfig", methods{http.MethodGet: s.serviceProviderConfig})
	sub.Handle("/Schemas", methods{http.MethodGet: s.serveDiscovery})
	sub.Handle("/Schemas/{id}", methods{http.MethodGet: s.serveDiscovery})
	sub.Handle("/ResourceTypes", methods{http.MethodGet: s.serveDiscovery})
	sub.Handle("/ResourceTypes/{id}", methods{http.MethodGet: s.serveDiscovery})
}

// canonicalPath reports whether path is a SCIM path with empty segments
// (doubled slashes, a trailing slash) and returns it without them:
// /scim/v2/{id}//Users/ is /scim/v2/{id}/Users. Canonical paths, the
// common case, cost one scan; other areas' paths, a prefix check.
func canonicalPath(path string) (string, bool) {
	if !strings.HasPrefix(path, "/scim/") && !strings.HasPrefix(path, "//") {
		return "", false
	}
	if !strings.Contains(path, "//") && path[len(path)-1] != '/' {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(path))
	for i := 0; i < len(path); i++ {
		if path[i] == '/' && (i+1 == len(path) || path[i+1] == '/') {
			continue
		}
		b.WriteByte(path[i])
	}
	p := b.String()
	if !strings.HasPrefix(p, "/scim/v2/") {
		return "", false
	}
	return p, true
}

// notSupported answers 404 for an endpoint RFC 7644 defines and scimd
// does not serve, saying so rather than that nothing is there. Not 501: a
// client's probe is not a server fault, and should not page anyone.
func notSupported(detail string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, http.StatusNotFound, "", detail)
	}
}

// methods dispatches on the request method and answers anything else with
// a SCIM 405 naming the allowed methods.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	WriteError(w, http.StatusMethodNotAllowed, "", r.Method+" is not supported on "+r.URL.Path+"; allowed: "+strings.Join(allowed, ", "))
}

type ctxKey struct{}

// authenticated is what authentication puts in the request context.
type authenticated struct {
	dir store.Directory
	cfg *dirConfig
}

// directoryFrom returns the directory the request authenticated for.
func directoryFrom(ctx context.Context) store.Directory {
	a, _ := ctx.Value(ctxKey{}).(*authenticated)
	if a == nil {
		return store.Directory{}
	}
	return a.dir
}

// configFrom returns the authenticated directory's SCIM configuration.
func configFrom(ctx context.Context) *dirConfig {
	a, _ := ctx.Value(ctxKey{}).(*authenticated)
	if a == nil {
		return nil
	}
	return a.cfg
}

// dummyHash keeps the unknown-directory path as slow as a wrong token, so
// response times do not reveal which directory ids exist.
var dummyHash = store.HashToken("scimd-no-such-directory")

// authenticate checks the bearer token against the directory named in the
// URL: a directory's token is valid on its own base URL only, and so is
// the token it replaced while the rotation's grace period lasts.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["directoryId"]
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.log.WarnContext(r.Context(), "scim auth failed", "directory_id", id, "reason", "missing bearer token", "remote_addr", r.RemoteAddr)
			WriteError(w, http.StatusUnauthorized, "", "missing bearer token: send \"Authorization: Bearer <the directory's SCIM token>\"")
			return
		}
		d, err := s.store.GetDirectory(r.Context(), id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			store.TokenMatches(token, dummyHash)
		case err != nil:
			writeError(w, s.toSCIMError(r, err))
			return
		}
		if err != nil || !d.AcceptsToken(token, s.cfg.Now()) {
			s.log.WarnContext(r.Context(), "scim auth failed", "directory_id", id, "reason", "invalid token", "remote_addr", r.RemoteAddr)
			WriteError(w, http.StatusUnauthorized, "", "invalid bearer token for this SCIM base URL")
			return
		}
		cfg, err := s.configs.get(s, d)
		if err != nil {
			writeError(w, s.toSCIMError(r, err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &authenticated{dir: d, cfg: cfg})))
	})
}

func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// readBody reads a request body up to the configured limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "", "request body exceeds the limit of %d bytes", mb.Limit)
		}
		return nil, invalidSyntax("could not read the request body")
	}
	return body, nil
}

func (s *Server) baseURL(r *http.Request) string {
	return BaseURL(s.cfg.PublicURL, directoryFrom(r.Context()).ID)
}
