package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// AuditEntry is one entry of the audit trail: an administrator's change
// that committed. It outlives its directory (a directory's delete is
// itself an entry) and goes only with the sync log's retention.
type AuditEntry struct {
	ID   int64     // assigned by the store, increasing
	Time time.Time // assigned by the store (the change's transaction time)
	// Actor is who made the change.
	Actor Actor
	// DirectoryID is assigned by the store: the directory the write
	// changed. DirectoryName is its name as the change committed (the new
	// name of a rename, the last name of a delete).
	DirectoryID   string
	DirectoryName string
	Action        string // AuditDirectoryCreated, ...
	// Details is a JSON object saying what changed (an old and new name,
	// a key's id and name, the new mapping rules): never a secret, token,
	// key or client secret. Nil records {}.
	Details []byte
}

// Actor is who made an audited change. Type says by which credential;
// ID names which one of its type where there can be several (a setup
// link's id, a console session's user), "" otherwise.
type Actor struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// Actor types. A future console adds its own (a setup link, a console
// session) with an ID.
const (
	ActorAdminToken      = "admin_token"      // a request bearing SCIMD_ADMIN_TOKEN
	ActorConsentCallback = "consent_callback" // the browser back from Microsoft's consent prompt, with the one-time state
	ActorBootstrap       = "bootstrap"        // scimd itself, at the first start
)

// Audited actions: stable identifiers, "what.happened".
const (
	AuditDirectoryCreated         = "directory.created"
	AuditDirectoryRenamed         = "directory.renamed"
	AuditDirectoryDeleted         = "directory.deleted"
	AuditSCIMTokenRotated         = "scim_token.rotated"
	AuditAPIKeyCreated            = "api_key.created"
	AuditAPIKeyRevoked            = "api_key.revoked"
	AuditMappingReplaced          = "mapping.replaced"
	AuditPresenceConnected        = "presence.connected"
	AuditPresenceConsentStarted   = "presence.consent_started"
	AuditPresenceConsentCompleted = "presence.consent_completed"
	AuditPresenceRevoked          = "presence.revoked"
)

// AuditActions lists every action, for clients that filter by one.
var AuditActions = []string{
	AuditDirectoryCreated, AuditDirectoryRenamed, AuditDirectoryDeleted, AuditSCIMTokenRotated,
	AuditAPIKeyCreated, AuditAPIKeyRevoked, AuditMappingReplaced,
	AuditPresenceConnected, AuditPresenceConsentStarted, AuditPresenceConsentCompleted, AuditPresenceRevoked,
	AuditSetupLinkCreated, AuditSetupLinkRevoked,
	AuditWebhookCreated, AuditWebhookUpdated, AuditWebhookDeleted, AuditWebhookSecretRotated,
}

// IsAuditAction reports whether a is one of AuditActions.
func IsAuditAction(a string) bool { return slices.Contains(AuditActions, a) }

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	Since, Until time.Time // inclusive bounds; zero means unbounded
	DirectoryID  string    // "" for every directory, deleted ones included
	Action       string    // "" for every action
	Before       int64     // cursor: only entries with ID < Before; 0 for the newest
	Limit        int
}

type actorKey struct{}

type auditKey struct{}

// WithActor returns ctx naming who makes the changes done with it; the
// admin API's authentication sets it for each request.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor WithActor put in ctx (zero if none).
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// WithAudit returns ctx carrying e for the one write it is passed to:
// CreateDirectory, UpdateDirectory, DeleteDirectory, CreateAPIKey,
// DeleteAPIKey, PutPresenceLink and RevokePresence record *e in their
// transaction, so an entry exists exactly when the change committed.
// Pass it to that write only: every one of them records what its context
// carries.
//
// The store reads *e when it records it, after any callback of the write
// ran, so that an UpdateDirectory callback may complete e.Details from
// the record it was given (an old name). Such a callback must still be
// pure: it may run again on retry, and must set the same details each
// time.
func WithAudit(ctx context.Context, e *AuditEntry) context.Context {
	return context.WithValue(ctx, auditKey{}, e)
}

// Audited returns a new entry of action by the actor ctx names
// (WithActor), with details, and ctx carrying it (WithAudit) for the
// write it describes.
func Audited(ctx context.Context, action string, details any) (context.Context, *AuditEntry) {
	e := &AuditEntry{Actor: ActorFrom(ctx), Action: action}
	e.SetDetails(details)
	return WithAudit(ctx, e), e
}

// SetDetails sets e.Details to v as JSON: a struct or map of plain values
// (nil leaves none). Values are the callers' own types, which always
// encode; one that does not is recorded as {} rather than failing the
// change.
func (e *AuditEntry) SetDetails(v any) {
	e.Details = nil
	if v == nil {
		return
	}
	if b, err := json.Marshal(v); err == nil && len(b) > 0 && b[0] == '{' {
		e.Details = b
	}
}

// AuditFrom returns the entry WithAudit put in ctx, or nil. Backends call
// it in the writes WithAudit lists.
func AuditFrom(ctx context.Context) *AuditEntry {
	e, _ := ctx.Value(auditKey{}).(*AuditEntry)
	return e
}

// AuditDetails returns e.Details, or {} when it has none.
func (e *AuditEntry) AuditDetails() []byte {
	if len(e.Details) == 0 {
		return []byte("{}")
	}
	return e.Details
}
