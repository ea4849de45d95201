// Package fakegraph fakes the Microsoft identity platform token endpoint and
// the Microsoft Graph presence API, for tests of the presence poller.
//
// One Server plays one multi-tenant app registration: every knob applies to
// all tenants. Wire formats follow docs/GRAPH-PRESENCE.md; where Microsoft
// documents nothing, the fake picks one plausible behaviour and says so.
package fakegraph

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config sets up a Server. The zero value is usable.
type Config struct {
	ClientID      string           // accepted client id; default "11111111-1111-1111-1111-111111111111"
	ClientSecret  string           // accepted secret; default "fake-secret"
	TokenLifetime time.Duration    // expires_in of issued tokens; default 3599s
	Now           func() time.Time // default time.Now (already fake inside a testing/synctest bubble)

	// AutoPresence, when > 0, gives every well-formed GUID asked about a
	// presence derived from (id, Now() truncated to AutoPresence), so it
	// changes from time to time. Ids set with SetPresence override it.
	// When 0, unknown ids are omitted from responses, one of the behaviours
	// reported for unknown or deleted users.
	AutoPresence time.Duration
}

// Defaults of Config.
const (
	DefaultClientID      = "11111111-1111-1111-1111-111111111111"
	DefaultClientSecret  = "fake-secret"
	DefaultTokenLifetime = 3599 * time.Second
)

// Server is the fake. It is an http.Handler; its knobs are safe for
// concurrent use.
type Server struct {
	clientID     string
	now          func() time.Time
	autoPresence time.Duration
	mux          *http.ServeMux

	mu            sync.Mutex // guards the fields below
	secret        string
	secretExpired bool
	lifetime      time.Duration
	tokens        map[string]time.Time         // access token → expiry
	certs         map[string]*x509.Certificate // "x5t#S256:…" or "x5t:…" → registered certificate
	app           appState
	consentOff    bool // RevokeConsent: presence calls answer 403
	consentDenied bool // DenyConsent: the admin-consent page cancels

	users   map[string]presence // lower-case id → state set by SetPresence
	deleted map[string]bool     // lower-case ids hidden even from AutoPresence
	lastSeq int64

	graphFaults, graphSlow, tokenFaults, tokenSlow queue
	stats                                          Stats
}

// appState is the app registration as an admin left it.
type appState int

const (
	appOK appState = iota
	appDeleted
	spDeleted
	spDisabled
)

// New returns a Server with cfg's zero fields set to their defaults.
func New(cfg Config) *Server {
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = DefaultClientSecret
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		clientID:     cfg.ClientID,
		now:          cfg.Now,
		autoPresence: max(cfg.AutoPresence, 0),
		secret:       cfg.ClientSecret,
		lifetime:     cfg.TokenLifetime,
		tokens:       map[string]time.Time{},
		certs:        map[string]*x509.Certificate{},
		users:        map[string]presence{},
		deleted:      map[string]bool{},
		stats:        Stats{PerTenantToken: map[string]int{}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", s.token) // any method: GET gets AADSTS900561
	mux.HandleFunc("POST /v1.0/communications/getPresencesByUserId", s.presences)
	mux.HandleFunc("POST /v1.0/communications/microsoft.graph.getPresencesByUserId", s.presences)
	mux.HandleFunc("GET /v1.0/users/{id}/presence", s.userPresence)
	mux.HandleFunc("GET /{tenant}/v2.0/adminconsent", s.adminConsent)
	mux.HandleFunc("GET /{tenant}/adminconsent", s.adminConsent)
	mux.HandleFunc("GET /_stats", s.statsJSON)
	mux.HandleFunc("/", s.notFound)
	s.mux = mux
	return s
}

// ServeHTTP serves the token, admin-consent, Graph presence and /_stats endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stats counts what the fake served since New.
type Stats struct {
	Requests       int            `json:"requests"`       // token + Graph requests served, all tenants
	TokenRequests  int            `json:"tokenRequests"`  // whatever their answer
	GraphRequests  int            `json:"graphRequests"`  // presence calls (batch and single), whatever their answer
	IDsRequested   int            `json:"idsRequested"`   // ids across well-formed batch bodies
	PerTenantToken map[string]int `json:"perTenantToken"` // token requests by lower-case tenant path segment
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PerTenantToken = make(map[string]int, len(s.stats.PerTenantToken))
	for k, v := range s.stats.PerTenantToken {
		st.PerTenantToken[k] = v
	}
	return st
}

// Requests returns Stats().Requests.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Requests
}

func (s *Server) statsJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, "application/json; charset=utf-8", http.StatusOK, s.Stats())
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	g := s.graphReply(w, r)
	g.error(http.StatusNotFound, "NotFound", fmt.Sprintf("Resource not found for the segment '%s'.", strings.TrimPrefix(r.URL.Path, "/")))
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types get here
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(body)
}

// isGUID reports whether s is a GUID in 8-4-4-4-12 hex form, either case.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// newGUID returns a random version-4 GUID, as Microsoft uses for trace and
// request ids.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// headerGUID returns the request's header h if it holds a GUID, else a new
// one: Microsoft echoes a caller's client-request-id.
func headerGUID(r *http.Request, h string) string {
	if v := r.Header.Get(h); isGUID(v) {
		return v
	}
	return newGUID()
}
