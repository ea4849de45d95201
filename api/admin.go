// Package api is scimd's JSON HTTP API for administrators (directories,
// their SCIM tokens and API keys, mapping rules, sync log and the audit
// trail of their changes) and for CX clients (directory and caller-ID
// lookup).
package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/webhook"
)

// SCIMTokenPrefix starts every directory SCIM token, so that a leaked token
// is recognisable (secret scanners, logs) and never confused with others.
const SCIMTokenPrefix = "scimd_"

// MaxNameLength is the longest directory name accepted, in characters.
const MaxNameLength = 200

// AdminConfig configures the admin API.
type AdminConfig struct {
	Store store.Store
	// PublicURL is the external base URL used to build SCIM base URLs.
	PublicURL string
	// AdminTokenHash is store.HashToken of the admin bearer token. When it
	// is empty every request is refused.
	AdminTokenHash []byte
	Logger         *slog.Logger
	// MaxBodyBytes limits request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Now is the clock (default time.Now): the sync log summary's default
	// window, the CSV export's file name and a token rotation's grace.
	Now func() time.Time
	// Presence connects directories to Microsoft Teams presence. Nil: the
	// presence endpoints answer 503 presence_unavailable.
	Presence *presence.Service
	// ConsolePath, when set, is where the admin console is served
	// (/console): the consent callback's page then links back to the
	// directory there.
	ConsolePath string
	// DeleteWait is how long deleting a directory waits for the store to
	// purge its data before answering 202 (default 20 s): a directory of a
	// million users takes minutes, longer than the server's write timeout.
	DeleteWait time.Duration
	// Version is scimd's version, shown by the index (GET /admin/v1).
	Version string
	// Webhooks keeps webhook secrets and delivers them. Nil: creating,
	// changing and rotating answer 503 webhooks_unavailable.
	Webhooks *webhook.Service
	// RulesChanged, when set, is told of a directory whose rules changed
	// its contacts (after the change committed): the reapply runner's
	// Kick.
	RulesChanged func(directoryID string)
}

// Admin serves the administrators' API under /admin/v1.
type Admin struct {
	cfg AdminConfig
	log *slog.Logger
}

// NewAdmin returns the admin API.
func NewAdmin(cfg AdminConfig) *Admin {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.DeleteWait <= 0 {
		cfg.DeleteWait = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Admin{cfg: cfg, log: cfg.Logger.With("component", "admin_api")}
}

// Register adds the admin routes below /admin/v1 to r: the OpenAPI
// document (public), then the rest behind the admin token.
func (a *Admin) Register(r *mux.Router) {
	r.Handle("/admin/v1/openapi.json", methods{http.MethodGet: serveAdminOpenAPI})
	s := r.PathPrefix("/admin/v1").Subrouter()
	s.Use(a.authenticate)
	s.Handle("", methods{http.MethodGet: a.adminIndex})
	s.Handle("/directories", methods{
		http.MethodPost: a.createDirectory,
		http.MethodGet:  a.listDirectories,
	})
	s.Handle("/directories/{id}", methods{
		http.MethodGet:    a.getDirectory,
		http.MethodPatch:  a.renameDirectory,
		http.MethodDelete: a.deleteDirectory,
	})
	s.Handle("/directories/{id}/token", methods{http.MethodPost: a.rotateToken})
	s.Handle("/directories/{id}/mapping", methods{
		http.MethodGet: a.getMapping,
		http.MethodPut: a.putMapping,
	})
	s.Handle("/directories/{id}/sync-log", methods{http.MethodGet: a.syncLog})
	s.Handle("/directories/{id}/sync-log.csv", methods{http.MethodGet: a.syncLogCSV})
	s.Handle("/directories/{id}/sync-log/summary", methods{http.MethodGet: a.syncSummary})
	s.Handle("/directories/{id}/api-keys", methods{
		http.MethodPost: a.createAPIKey,
		http.MethodGet:  a.listAPIKeys,
	})
	s.Handle("/directories/{id}/api-keys/{keyId}", methods{http.MethodDelete: a.deleteAPIKey})
	s.Handle("/directories/{id}/presence", methods{
		http.MethodGet:    a.getPresence,
		http.MethodPut:    a.putPresence,
		http.MethodDelete: a.deletePresence,
	})
	s.Handle("/directories/{id}/presence/consent", methods{http.MethodPost: a.startConsent})
	s.Handle("/directories/{id}/audit", methods{http.MethodGet: a.directoryAudit})
	s.Handle("/directories/{id}/setup-links", methods{
		http.MethodPost: a.createSetupLink,
		http.MethodGet:  a.listSetupLinks,
	})
	s.Handle("/directories/{id}/setup-links/{linkId}", methods{http.MethodDelete: a.deleteSetupLink})
	s.Handle("/directories/{id}/webhooks", methods{
		http.MethodPost: a.createWebhook,
		http.MethodGet:  a.listWebhooks,
	})
	s.Handle("/directories/{id}/webhooks/{webhookId}", methods{
		http.MethodGet:    a.getWebhook,
		http.MethodPatch:  a.patchWebhook,
		http.MethodDelete: a.deleteWebhook,
	})
	s.Handle("/directories/{id}/webhooks/{webhookId}/rotate-secret", methods{http.MethodPost: a.rotateWebhookSecret})
	s.Handle("/directories/{id}/webhooks/{webhookId}/deliveries", methods{http.MethodGet: a.webhookDeliveries})
	s.Handle("/audit", methods{http.MethodGet: a.audit})
}

// directoryJSON is a directory as the admin API shows it. SCIMToken is set
// only in the answers that create it (create and rotate): the store keeps
// its hash alone.
type directoryJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	SCIMBaseURL string `json:"scimBaseUrl"`
	SCIMToken   string `json:"scimToken,omitempty"`
	// PreviousTokenValidUntil is when the token the last rotation replaced
	// stops working: in a rotation's answer always, elsewhere while that
	// token still works.
	PreviousTokenValidUntil *time.Time `json:"previousTokenValidUntil,omitempty"`
	Created                 time.Time  `json:"created"`
}

type directoryListJSON struct {
	Directories []directoryJSON `json:"directories"`
}

type directoryRequest struct {
	Name *string `json:"name"`
}

func (a *Admin) createDirectory(w http.ResponseWriter, r *http.Request) {
	var req directoryRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.Name == nil {
		a.fail(w, r, "create directory", errNameRequired)
		return
	}
	out, err := a.CreateDirectory(r.Context(), *req.Name)
	if err != nil {
		a.fail(w, r, "create directory", err)
		return
	}
	w.Header().Set("Location", "/admin/v1/directories/"+out.ID)
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, out)
}

func (a *Admin) listDirectories(w http.ResponseWriter, r *http.Request) {
	ds, err := a.cfg.Store.ListDirectories(r.Context())
	if err != nil {
		a.storeError(w, r, "list directories", err)
		return
	}
	out := directoryListJSON{Directories: make([]directoryJSON, 0, len(ds))}
	for _, d := range ds {
		out.Directories = append(out.Directories, a.directory(d))
	}
	WriteJSON(w, http.StatusOK, out)
}

func (a *Admin) getDirectory(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	d, err := a.GetDirectory(r.Context(), id)
	if err != nil {
		a.fail(w, r, "get directory", err)
		return
	}
	WriteJSON(w, http.StatusOK, d)
}

func (a *Admin) renameDirectory(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	var req directoryRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.Name == nil {
		a.fail(w, r, "rename directory", errNameRequired)
		return
	}
	d, err := a.RenameDirectory(r.Context(), id, *req.Name)
	if err != nil {
		a.fail(w, r, "rename directory", err)
		return
	}
	WriteJSON(w, http.StatusOK, d)
}

func (a *Admin) deleteDirectory(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	done, err := a.DeleteDirectory(r.Context(), id)
	switch {
	case err != nil:
		a.fail(w, r, "delete directory", err)
	case done:
		w.WriteHeader(http.StatusNoContent)
	default:
		WriteJSON(w, http.StatusAccepted, map[string]string{"status": "deleting"})
	}
}

// MaxTokenGrace is the longest grace period a rotation may give the
// token it replaces.
const MaxTokenGrace = 7 * 24 * time.Hour

// rotateRequest is the optional body of POST …/token.
type rotateRequest struct {
	// GraceSeconds keeps the replaced token working this long, so that
	// the Entra admin can paste the new one first; 0 (the default) ends
	// it with the commit.
	GraceSeconds *float64 `json:"graceSeconds"`
}

// rotateToken replaces the directory's SCIM token (RotateToken).
func (a *Admin) rotateToken(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	grace, ok := a.graceSeconds(w, r)
	if !ok {
		return
	}
	out, err := a.RotateToken(r.Context(), id, grace)
	if err != nil {
		a.fail(w, r, "rotate token", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, out)
}

// graceSeconds reads the optional rotation body: none (or an empty one)
// means no grace.
func (a *Admin) graceSeconds(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	var req rotateRequest
	if !a.decodeOptional(w, r, &req) {
		return 0, false
	}
	if req.GraceSeconds == nil {
		return 0, true
	}
	g := *req.GraceSeconds
	if g < 0 || g > MaxTokenGrace.Seconds() || g != math.Trunc(g) {
		a.fail(w, r, "rotate token", graceProblem(g))
		return 0, false
	}
	return time.Duration(g) * time.Second, true
}

// graceProblem refuses a grace period of got seconds.
func graceProblem(got float64) *Problem {
	return newProblem(http.StatusBadRequest, "invalid_field",
		fmt.Sprintf(`field "graceSeconds" must be a whole number of seconds from 0 to %d (7 days), got %v`, int64(MaxTokenGrace.Seconds()), got))
}

// ceilSecond rounds t up to a whole second, so that a grace period is at
// least what was asked and its end reads cleanly.
func ceilSecond(t time.Time) time.Time {
	if u := t.Truncate(time.Second); !u.Equal(t) {
		return u.Add(time.Second)
	}
	return t
}

// authenticate admits requests bearing the admin token. Every refusal is
// logged with its reason, never with the presented token.
func (a *Admin) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, reason := bearerToken(r)
		if reason == "" {
			if len(a.cfg.AdminTokenHash) == 0 {
				reason = "no admin token configured"
			} else if !store.TokenMatches(token, a.cfg.AdminTokenHash) {
				reason = "wrong admin token"
			}
		}
		if reason != "" {
			a.log.WarnContext(r.Context(), "admin auth failed", "reason", reason, "remote_addr", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="scimd-admin"`)
			WriteError(w, http.StatusUnauthorized, "unauthorized", "a valid admin bearer token is required")
			return
		}
		// The actor of the audit entries this request's changes leave.
		next.ServeHTTP(w, r.WithContext(store.WithActor(r.Context(), store.Actor{Type: store.ActorAdminToken})))
	})
}

// bearerToken returns the request's bearer token, or why there is none.
func bearerToken(r *http.Request) (token, reason string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "missing Authorization header"
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", "Authorization is not a bearer token"
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", "empty bearer token"
	}
	return token, ""
}

func (a *Admin) directory(d store.Directory) directoryJSON {
	out := directoryJSON{
		ID:   d.ID,
		Name: d.Name,
		// Same form as scim.BaseURL; api may not import scim (see
		// docs/ARCHITECTURE.md), and internal/server tests that the two agree.
		SCIMBaseURL: a.cfg.PublicURL + "/scim/v2/" + d.ID,
		Created:     d.Created.UTC(),
	}
	if len(d.PreviousTokenHash) > 0 && a.cfg.Now().Before(d.PreviousTokenExpires) {
		u := d.PreviousTokenExpires.UTC()
		out.PreviousTokenValidUntil = &u
	}
	return out
}

// decodeOptional decodes a body that may be absent or empty (v is then
// left as it is) and answers false after refusing a bad one.
func (a *Admin) decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		re := decodeError(err, a.cfg.MaxBodyBytes).(*requestError)
		WriteError(w, re.status, re.code, re.message)
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return a.decode(w, r, v)
}

func (a *Admin) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := decodeJSON(w, r, a.cfg.MaxBodyBytes, v)
	if err == nil {
		return true
	}
	var re *requestError
	if !errors.As(err, &re) { // decodeJSON returns only requestErrors
		re = &requestError{http.StatusBadRequest, "malformed_json", "request body is not valid JSON"}
	}
	WriteError(w, re.status, re.code, re.message)
	return false
}

// storeError answers a store failure: sentinel errors become their status,
// anything else is logged and hidden behind a generic 500.
func (a *Admin) storeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	a.fail(w, r, op, storeProblem(err, "directory not found"))
}

// directoryID returns the {id} path variable. Ids are UUIDs, so anything
// else cannot exist and is answered without asking the store.
func directoryID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := mux.Vars(r)["id"]
	if err := uuid.Validate(id); err != nil {
		WriteError(w, http.StatusNotFound, "not_found", "directory not found")
		return "", false
	}
	return id, true
}

// errNameRequired refuses a body without a name.
var errNameRequired = newProblem(http.StatusBadRequest, "invalid_name", `field "name" is required`)

// validName checks a directory name: required, at most MaxNameLength
// characters, no control characters. Surrounding spaces are trimmed.
func validName(p *string) (string, error) {
	if p == nil {
		return "", errNameRequired
	}
	name := strings.TrimSpace(*p)
	switch {
	case name == "":
		return "", newProblem(http.StatusBadRequest, "invalid_name", `field "name" must not be empty`)
	case utf8.RuneCountInString(name) > MaxNameLength:
		return "", newProblem(http.StatusBadRequest, "invalid_name", fmt.Sprintf(`field "name" must be at most %d characters`, MaxNameLength))
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", newProblem(http.StatusBadRequest, "invalid_name", `field "name" must not contain control characters`)
	}
	return name, nil
}
