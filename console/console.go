// Package console is scimd's admin console: server-rendered pages
// (html/template) under /console/ for the operator, signed in with the
// admin token, and for a customer's own Entra admin, signed in with a
// setup link to one directory. Templates, CSS and JavaScript are embedded
// in the binary; there is no build step.
//
// Every change goes through api.Admin's methods, the ones the JSON admin
// API calls: the console has no rule of its own about directories,
// tokens, presence or keys. What it adds is the browser's side: sessions
// kept in the database (their ids hashed), CSRF tokens on every form,
// strict security headers and a per-address backoff on wrong tokens.
package console

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

// Prefix is where the console lives.
const Prefix = "/console"

// Config configures the console.
type Config struct {
	// Admin runs every operation; its store keeps the sessions.
	Admin *api.Admin
	// Lookup reads contacts as the lookup API shows them (search,
	// caller-ID, a contact) and streams their presence. Nil: the
	// directory pages that need it answer that they are unavailable.
	Lookup *api.Lookup
	// AdminTokenHash is store.HashToken of the admin token, which signs
	// the operator in. Empty: only setup links sign anyone in.
	AdminTokenHash []byte
	// PublicURL is scimd's external base URL: https makes cookies Secure.
	PublicURL string
	// LoginURL is the Microsoft identity platform's base URL: the
	// consent button's form posts there (Content-Security-Policy's
	// form-action).
	LoginURL string
	Logger   *slog.Logger
	// Presence is the presence service, for pages that stream presence
	// changes (Subscribe); nil without one.
	Presence *presence.Service
	Now      func() time.Time // time.Now when nil
	// IdleTimeout ends a session unused this long (default 30 min);
	// SessionLifetime ends any session this long after sign-in (default
	// 12 h), and a setup link's when the link expires, if sooner.
	IdleTimeout, SessionLifetime time.Duration
}

// Console serves the console's pages.
type Console struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	admin    *api.Admin
	pages    *pages
	limiter  *limiter
	secure   bool
	csp      string
	dirPages []DirectoryPage
}

// New returns the console.
func New(cfg Config) *Console {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LoginURL == "" {
		cfg.LoginURL = presence.DefaultLoginURL
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	c := &Console{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "console"),
		store:   cfg.Admin.Store(),
		admin:   cfg.Admin,
		pages:   mustParsePages(),
		limiter: newLimiter(cfg.Now),
		secure:  strings.HasPrefix(cfg.PublicURL, "https://"),
	}
	c.csp = contentSecurityPolicy(cfg.LoginURL)
	c.dirPages = defaultDirectoryPages()
	return c
}

// contentSecurityPolicy allows the console's own files only: no inline
// script or style, no frames, forms that post to the console or to
// Microsoft's consent prompt.
func contentSecurityPolicy(loginURL string) string {
	formAction := "'self'"
	if u, err := url.Parse(loginURL); err == nil && u.Scheme != "" && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
}

// access says who may open a route.
type access int

const (
	// public: no session needed (sign-in, a setup link's landing page,
	// static files).
	public access = iota
	// operator: the operator's session only (the directories list, a new
	// directory, delete, setup links).
	operator
	// directory: a route with {id}: the operator, or a session scoped to
	// that directory.
	directory
)

// Register adds the console's routes to r.
func (c *Console) Register(r *mux.Router) {
	r.Handle(Prefix, c.headers(http.RedirectHandler(Prefix+"/", http.StatusMovedPermanently)))
	s := r.PathPrefix(Prefix).Subrouter()
	c.route(s, "/", public, get(c.home))
	c.route(s, "/static/{file}", public, get(serveStatic))
	c.route(s, "/sign-in", public, methods{http.MethodGet: c.signInPage, http.MethodPost: c.signIn})
	c.route(s, "/sign-out", public, methods{http.MethodPost: c.signOut})
	c.route(s, "/setup/{secret}", public, methods{http.MethodGet: c.setupLanding, http.MethodPost: c.openSetupLink})

	c.route(s, "/directories", operator, get(c.directoriesPage))
	c.route(s, "/new", operator, methods{http.MethodGet: c.newDirectoryPage, http.MethodPost: c.createDirectory})
	c.route(s, "/directories/{id}/rename", operator, post(c.renameDirectory))
	c.route(s, "/directories/{id}/delete", operator, methods{http.MethodGet: c.deletePage, http.MethodPost: c.deleteDirectory})
	c.route(s, "/directories/{id}/setup-links", operator, post(c.createSetupLink))
	c.route(s, "/directories/{id}/setup-links/{linkId}/revoke", operator, post(c.revokeSetupLink))

	c.route(s, "/directories/{id}", directory, get(c.overviewPage))
	c.route(s, "/directories/{id}/token", directory, post(c.rotateToken))
	c.route(s, "/directories/{id}/setup", directory, get(c.credentialsPage))
	c.route(s, "/directories/{id}/setup/presence", directory, get(c.presenceStepPage))
	c.route(s, "/directories/{id}/setup/presence/consent", directory, post(c.startConsent))
	c.route(s, "/directories/{id}/setup/presence/connect", directory, post(c.connectPresence))
	c.route(s, "/directories/{id}/setup/done", directory, get(c.donePage))

	// A directory's pages (settings, sync log, contacts, presence, API keys).
	c.route(s, "/directories/{id}/settings", operator, methods{http.MethodGet: c.settingsPage, http.MethodPost: c.saveSettings})
	c.route(s, "/directories/{id}/settings/json", operator, post(c.saveSettingsJSON))
	c.route(s, "/directories/{id}/sync-log", directory, get(c.syncLogPage))
	c.route(s, "/directories/{id}/sync-log.csv", directory, get(c.syncLogCSV))
	c.route(s, "/directories/{id}/contacts", operator, get(c.contactsPage))
	c.route(s, "/directories/{id}/contacts/results", operator, get(c.contactResults))
	c.route(s, "/directories/{id}/contacts/{contactId}", operator, get(c.contactPage))
	c.route(s, "/directories/{id}/presence", directory, get(c.presencePage))
	c.route(s, "/directories/{id}/presence/revoke", operator, post(c.revokePresence))
	c.route(s, "/directories/{id}/presence/stream", operator, get(c.presenceStream))
	c.route(s, "/directories/{id}/api-keys", operator, methods{http.MethodGet: c.apiKeysPage, http.MethodPost: c.createAPIKey})
	c.route(s, "/directories/{id}/api-keys/{keyId}/revoke", operator, post(c.revokeAPIKey))

	// Anything else below /console is a console page that does not
	// exist, answered as a page with the console's headers.
	s.PathPrefix("/").Handler(c.headers(http.HandlerFunc(c.notFound)))
}

// route registers h at path behind the one place that checks who may
// open it (guard).
func (c *Console) route(s *mux.Router, path string, a access, h http.Handler) {
	s.Handle(path, c.headers(c.guard(a, h)))
}

// methods dispatches a route by method; others answer 405.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	if r.Method == http.MethodHead {
		if h, ok := m[http.MethodGet]; ok {
			h(w, r)
			return
		}
	}
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

func get(h http.HandlerFunc) methods  { return methods{http.MethodGet: h} }
func post(h http.HandlerFunc) methods { return methods{http.MethodPost: h} }

// actorOf is who the audit trail names for the session's changes.
func actorOf(s *Session) store.Actor {
	if s.SetupLinkID != "" {
		return store.Actor{Type: store.ActorSetupLink, ID: s.SetupLinkID}
	}
	return store.Actor{Type: store.ActorConsole, ID: s.ID}
}

type ctxKey int

const (
	sessionKey ctxKey = iota
	directoryKey
)

// SessionFrom returns the request's session (nil on public routes
// without one).
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey).(*Session)
	return s
}

// DirectoryFrom returns the directory of a directory route, which the
// guard has read and checked against the session's scope.
func DirectoryFrom(ctx context.Context) api.Directory {
	d, _ := ctx.Value(directoryKey).(api.Directory)
	return d
}
