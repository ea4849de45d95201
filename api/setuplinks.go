package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/store"
)

// Setup links let a customer's own Entra admin set up one directory in
// the console (the wizard, the SCIM credentials, presence, the sync log)
// without the admin token.
const (
	// SetupLinkPath, followed by the link's secret, is the console page
	// a setup link opens.
	SetupLinkPath = "/console/setup/"
	// SetupLinkPrefix starts every setup link's secret, so that a leaked
	// one is recognisable.
	SetupLinkPrefix = "scimd_setup_"
	// DefaultSetupLinkTTL is how long a setup link works unless asked
	// otherwise, and MaxSetupLinkTTL the longest it may.
	DefaultSetupLinkTTL = 24 * time.Hour
	MaxSetupLinkTTL     = 30 * 24 * time.Hour
	// MinSetupLinkTTL leaves the customer time to open the link.
	MinSetupLinkTTL = 5 * time.Minute
)

// SetupLink is a setup link as the admin API and the console show it.
// URL is set only in the answer that creates it: the store keeps the
// hash of its secret alone.
type SetupLink struct {
	ID          string    `json:"id"`
	DirectoryID string    `json:"directoryId"`
	URL         string    `json:"url,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	Expired     bool      `json:"expired"`
}

type setupLinkListJSON struct {
	SetupLinks []SetupLink `json:"setupLinks"`
}

// setupLinkRequest is the optional body of POST …/setup-links.
type setupLinkRequest struct {
	ExpiresInSeconds *float64 `json:"expiresInSeconds"`
}

func (a *Admin) setupLink(l store.SetupLink) SetupLink {
	return SetupLink{ID: l.ID, DirectoryID: l.DirectoryID, Created: l.Created.UTC(), Expires: l.Expires.UTC(),
		Expired: !a.cfg.Now().Before(l.Expires)}
}

// CreateSetupLink creates a setup link of the directory that works for
// ttl (MinSetupLinkTTL to MaxSetupLinkTTL; 0 means DefaultSetupLinkTTL).
func (a *Admin) CreateSetupLink(ctx context.Context, directoryID string, ttl time.Duration) (SetupLink, error) {
	if ttl == 0 {
		ttl = DefaultSetupLinkTTL
	}
	if ttl < MinSetupLinkTTL || ttl > MaxSetupLinkTTL || ttl%time.Second != 0 {
		return SetupLink{}, ttlProblem(ttl.Seconds())
	}
	secret, hash := store.NewToken(SetupLinkPrefix)
	id := uuid.NewString()
	expires := ceilSecond(a.cfg.Now().Add(ttl))
	actx, _ := store.Audited(ctx, store.AuditSetupLinkCreated, map[string]any{"setupLinkId": id, "expires": expires.UTC()})
	l, err := a.cfg.Store.CreateSetupLink(actx, store.SetupLink{ID: id, DirectoryID: directoryID, Hash: hash, Expires: expires})
	if err != nil {
		return SetupLink{}, storeProblem(err, "directory not found")
	}
	a.log.InfoContext(ctx, "setup link created", "directory_id", directoryID, "setup_link_id", id, "expires", expires)
	out := a.setupLink(l)
	out.URL = a.cfg.PublicURL + SetupLinkPath + secret
	return out, nil
}

func ttlProblem(got float64) *Problem {
	return newProblem(http.StatusBadRequest, "invalid_field", fmt.Sprintf(
		`field "expiresInSeconds" must be a whole number of seconds from %d (5 minutes) to %d (30 days), got %v`,
		int64(MinSetupLinkTTL.Seconds()), int64(MaxSetupLinkTTL.Seconds()), got))
}

// ListSetupLinks returns the directory's setup links, expired ones
// included, newest first.
func (a *Admin) ListSetupLinks(ctx context.Context, directoryID string) ([]SetupLink, error) {
	if err := a.directoryFound(ctx, directoryID); err != nil {
		return nil, err
	}
	ls, err := a.cfg.Store.ListSetupLinks(ctx, directoryID)
	if err != nil {
		return nil, storeProblem(err, "directory not found")
	}
	out := make([]SetupLink, 0, len(ls))
	for _, l := range ls {
		out = append(out, a.setupLink(l))
	}
	return out, nil
}

// RevokeSetupLink revokes a setup link: it stops working, and the
// console sessions opened with it end.
func (a *Admin) RevokeSetupLink(ctx context.Context, directoryID, linkID string) error {
	if err := a.directoryFound(ctx, directoryID); err != nil {
		return err
	}
	notFound := newProblem(http.StatusNotFound, "not_found", "setup link not found")
	if uuid.Validate(linkID) != nil {
		return notFound
	}
	actx, _ := store.Audited(ctx, store.AuditSetupLinkRevoked, map[string]string{"setupLinkId": linkID})
	if err := a.cfg.Store.DeleteSetupLink(actx, directoryID, linkID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		return err
	}
	a.log.InfoContext(ctx, "setup link revoked", "directory_id", directoryID, "setup_link_id", linkID)
	return nil
}

// ErrSetupLinkInvalid refuses a setup link that is unknown, revoked,
// expired, or whose directory is gone: the same answer for each, so
// that guessing learns nothing.
var ErrSetupLinkInvalid = newProblem(http.StatusNotFound, "setup_link_invalid",
	"this setup link is not valid: it has expired or was revoked. Ask your provider for a new one.")

// OpenSetupLink returns the setup link whose secret is secret, while it
// works.
func (a *Admin) OpenSetupLink(ctx context.Context, secret string) (store.SetupLink, error) {
	l, err := a.cfg.Store.SetupLinkByHash(ctx, store.HashToken(secret))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return l, ErrSetupLinkInvalid
	case err != nil:
		return l, err
	case !a.cfg.Now().Before(l.Expires):
		return l, ErrSetupLinkInvalid
	}
	return l, nil
}

func (a *Admin) createSetupLink(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	ttl, ok := a.setupLinkTTL(w, r)
	if !ok {
		return
	}
	out, err := a.CreateSetupLink(r.Context(), id, ttl)
	if err != nil {
		a.fail(w, r, "create setup link", err)
		return
	}
	w.Header().Set("Location", "/admin/v1/directories/"+id+"/setup-links/"+out.ID)
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, out)
}

// setupLinkTTL reads the optional body: none (or an empty one) means
// the default.
func (a *Admin) setupLinkTTL(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	var req setupLinkRequest
	if !a.decodeOptional(w, r, &req) {
		return 0, false
	}
	if req.ExpiresInSeconds == nil {
		return 0, true
	}
	s := *req.ExpiresInSeconds
	if s < MinSetupLinkTTL.Seconds() || s > MaxSetupLinkTTL.Seconds() || s != math.Trunc(s) {
		a.fail(w, r, "create setup link", ttlProblem(s))
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

func (a *Admin) listSetupLinks(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	ls, err := a.ListSetupLinks(r.Context(), id)
	if err != nil {
		a.fail(w, r, "list setup links", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, setupLinkListJSON{SetupLinks: ls})
}

func (a *Admin) deleteSetupLink(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	if err := a.RevokeSetupLink(r.Context(), id, mux.Vars(r)["linkId"]); err != nil {
		a.fail(w, r, "revoke setup link", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
