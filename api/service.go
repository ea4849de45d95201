package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/store"
)

// The admin operations, as methods that the JSON handlers and the admin
// console both call: one implementation of each rule (validation, audit
// entry, token handling), whatever the caller. The caller puts the actor
// in ctx (store.WithActor); refusals are *Problem, anything else is an
// internal error for the caller to log and hide.

// Problem is why an admin operation was refused, as the admin API answers
// it and the console shows it: a status, a stable code and a message
// naming the problem, safe to show.
type Problem struct {
	Status  int
	Code    string
	Message string
	// Problems lists every problem of a rejected document (the mapping
	// rules), one per entry.
	Problems []string
	// Microsoft is what Microsoft said when it refused a token request.
	Microsoft *MicrosoftError
}

func (p *Problem) Error() string { return p.Message }

func newProblem(status int, code, message string) *Problem {
	return &Problem{Status: status, Code: code, Message: message}
}

// AsProblem returns the Problem err is, or nil for an internal error.
func AsProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return nil
}

// storeProblem turns the store's sentinel errors into the admin API's
// answers; notFound names what is missing.
func storeProblem(err error, notFound string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newProblem(http.StatusNotFound, "not_found", notFound)
	case errors.Is(err, store.ErrConflict):
		return newProblem(http.StatusConflict, "conflict", "the change conflicts with an existing directory")
	}
	return err
}

// fail answers err: a Problem as itself, anything else as an internal
// error, logged.
func (a *Admin) fail(w http.ResponseWriter, r *http.Request, op string, err error, attrs ...any) {
	p := AsProblem(err)
	switch {
	case p == nil:
		writeInternal(w, r, a.log, op, err, attrs...)
	case p.Microsoft != nil:
		writePresenceError(w, p.Status, p.Code, p.Message, p.Microsoft)
	case len(p.Problems) > 0:
		WriteJSON(w, p.Status, errorBody{Error: errorDetail{Code: p.Code, Message: p.Message, Problems: p.Problems}})
	default:
		WriteError(w, p.Status, p.Code, p.Message)
	}
}

// Directory is a directory as the admin API and the console show it.
// SCIMToken is set only in the answers that create it (create and
// rotate): the store keeps its hash alone.
type Directory = directoryJSON

// ValidName checks a directory's (or an API key's) name: required, at
// most MaxNameLength characters, no control characters. Surrounding
// spaces are trimmed.
func ValidName(name string) (string, error) {
	return validName(&name)
}

// CreateDirectory creates a directory with a new SCIM token, shown only
// in the answer.
func (a *Admin) CreateDirectory(ctx context.Context, name string) (Directory, error) {
	name, err := ValidName(name)
	if err != nil {
		return Directory{}, err
	}
	token, hash := store.NewToken(SCIMTokenPrefix)
	actx, _ := store.Audited(ctx, store.AuditDirectoryCreated, map[string]string{"name": name})
	d, err := a.cfg.Store.CreateDirectory(actx, store.Directory{
		ID:            uuid.NewString(),
		Name:          name,
		SCIMTokenHash: hash,
	})
	if err != nil {
		return Directory{}, storeProblem(err, "directory not found")
	}
	a.log.InfoContext(ctx, "directory created", "directory_id", d.ID)
	out := a.directory(d)
	out.SCIMToken = token
	return out, nil
}

// GetDirectory returns a directory.
func (a *Admin) GetDirectory(ctx context.Context, id string) (Directory, error) {
	if uuid.Validate(id) != nil {
		return Directory{}, newProblem(http.StatusNotFound, "not_found", "directory not found")
	}
	d, err := a.cfg.Store.GetDirectory(ctx, id)
	if err != nil {
		return Directory{}, storeProblem(err, "directory not found")
	}
	return a.directory(d), nil
}

// RenameDirectory renames a directory.
func (a *Admin) RenameDirectory(ctx context.Context, id, name string) (Directory, error) {
	name, err := ValidName(name)
	if err != nil {
		return Directory{}, err
	}
	actx, audit := store.Audited(ctx, store.AuditDirectoryRenamed, nil)
	d, err := a.cfg.Store.UpdateDirectory(actx, id, func(d store.Directory) (store.Directory, error) {
		audit.SetDetails(map[string]string{"oldName": d.Name, "newName": name})
		d.Name = name
		return d, nil
	})
	if err != nil {
		return Directory{}, storeProblem(err, "directory not found")
	}
	a.log.InfoContext(ctx, "directory renamed", "directory_id", d.ID)
	return a.directory(d), nil
}

// DeleteDirectory deletes a directory and reports whether its data is
// gone (true) or still being purged after the wait (false). The store
// hides the directory at once, then purges its data; the purge goes on
// if the caller leaves, and a restart resumes it. The audit entry goes in
// with the first step, which is the delete as clients see it; the store
// adds the directory's name.
func (a *Admin) DeleteDirectory(ctx context.Context, id string) (bool, error) {
	hidden := make(chan struct{})
	actx, _ := store.Audited(context.WithoutCancel(ctx), store.AuditDirectoryDeleted, nil)
	actx = store.WithHidden(actx, func() { close(hidden) })
	done := make(chan error, 1)
	go func() { done <- a.cfg.Store.DeleteDirectory(actx, id) }()
	timer := time.NewTimer(a.cfg.DeleteWait)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return false, storeProblem(err, "directory not found")
		}
		a.log.InfoContext(ctx, "directory deleted", "directory_id", id)
		return true, nil
	case <-timer.C:
	}
	// The answer says the directory is gone: it must be, to every reader,
	// before the purge goes on in the background.
	select {
	case err := <-done:
		if err != nil {
			return false, storeProblem(err, "directory not found")
		}
		a.log.InfoContext(ctx, "directory deleted", "directory_id", id)
		return true, nil
	case <-hidden:
	}
	go func() {
		if err := <-done; err != nil {
			// A shutdown, most often: the purge resumes at the next start.
			a.log.WarnContext(actx, "directory delete interrupted; scimd resumes it at its next start", "directory_id", id, "err", err)
			return
		}
		a.log.InfoContext(actx, "directory deleted", "directory_id", id)
	}()
	a.log.InfoContext(ctx, "directory deleting", "directory_id", id)
	return false, nil
}

// RotateToken replaces the directory's SCIM token. The replaced one keeps
// working for grace (0 to MaxTokenGrace), then stops: SCIM auth compares
// the stored expiry with the clock on every request, on every replica. A
// token an earlier rotation kept working stops at once: there is one
// previous token at most. The answer holds the new token and, always,
// PreviousTokenValidUntil.
func (a *Admin) RotateToken(ctx context.Context, id string, grace time.Duration) (Directory, error) {
	if grace < 0 || grace > MaxTokenGrace || grace%time.Second != 0 {
		return Directory{}, newProblem(http.StatusBadRequest, "invalid_field",
			fmt.Sprintf(`field "graceSeconds" must be a whole number of seconds from 0 to %d (7 days), got %v`,
				int64(MaxTokenGrace.Seconds()), grace.Seconds()))
	}
	now := a.cfg.Now()
	until := now
	if grace > 0 {
		until = ceilSecond(now.Add(grace))
	}
	token, hash := store.NewToken(SCIMTokenPrefix)
	actx, audit := store.Audited(ctx, store.AuditSCIMTokenRotated, nil)
	d, err := a.cfg.Store.UpdateDirectory(actx, id, func(d store.Directory) (store.Directory, error) {
		details := map[string]any{"graceSeconds": int64(grace / time.Second), "previousTokenValidUntil": until.UTC()}
		if len(d.PreviousTokenHash) > 0 && now.Before(d.PreviousTokenExpires) {
			details["earlierPreviousTokenEnded"] = true // it was still in its grace period
		}
		audit.SetDetails(details)
		d.PreviousTokenHash, d.PreviousTokenExpires = nil, time.Time{}
		if grace > 0 {
			d.PreviousTokenHash, d.PreviousTokenExpires = d.SCIMTokenHash, until
		}
		d.SCIMTokenHash = hash
		return d, nil
	})
	if err != nil {
		return Directory{}, storeProblem(err, "directory not found")
	}
	a.log.InfoContext(ctx, "directory token rotated", "directory_id", d.ID, "grace", grace)
	out := a.directory(d)
	out.SCIMToken = token
	u := until.UTC()
	out.PreviousTokenValidUntil = &u
	return out, nil
}

// SCIMBaseURL is the directory's Tenant URL, as Entra calls it.
func (a *Admin) SCIMBaseURL(id string) string {
	// Same form as scim.BaseURL; api may not import scim (see
	// docs/ARCHITECTURE.md), and internal/server tests that the two agree.
	return a.cfg.PublicURL + "/scim/v2/" + id
}

// PublicURL is the server's external base URL, without a trailing slash.
func (a *Admin) PublicURL() string { return a.cfg.PublicURL }

// Store is the admin API's store, for the console's reads.
func (a *Admin) Store() store.Store { return a.cfg.Store }

// directoryFound is nil when the directory exists, else why not.
func (a *Admin) directoryFound(ctx context.Context, id string) error {
	if _, err := a.cfg.Store.GetDirectory(ctx, id); err != nil {
		return storeProblem(err, "directory not found")
	}
	return nil
}
