package store

import (
	"context"
	"time"
)

// ConsoleSession is a signed-in browser of the admin console. The
// session id itself lives only in the browser's cookie: the store keeps
// its hash, so a copy of the database signs nobody in.
type ConsoleSession struct {
	// Hash is HashToken of the cookie's session id; the store's key.
	Hash []byte
	// ID is a public handle of the session, for the audit trail's actor:
	// never the secret.
	ID string
	// DirectoryID, when set, scopes the session to that one directory (a
	// customer's admin who opened a setup link); "" is the operator,
	// signed in with the admin token.
	DirectoryID string
	// SetupLinkID is the setup link the session was opened with ("" for
	// the operator). Revoking the link ends its sessions.
	SetupLinkID string
	Created     time.Time // set by the store
	LastSeen    time.Time // the idle expiry counts from here
	Expires     time.Time // absolute expiry, whatever the activity
}

// SetupLink lets a customer's own Entra admin set up one directory
// through the console without the admin token. Only the hash of its
// secret is stored; the link is shown once, when it is created.
type SetupLink struct {
	ID          string
	DirectoryID string
	Hash        []byte // HashToken of the link's secret
	Created     time.Time
	Expires     time.Time
}

// DirectoryOverview is a directory with the figures the console's list
// shows beside it, all read by one query.
type DirectoryOverview struct {
	Directory Directory
	Users     int
	Groups    int
	// LastSCIMChange is the time of the newest sync event of a user or a
	// group, refused ones included: when Entra last wrote. Zero if never.
	LastSCIMChange time.Time
	// Failures counts the refused SCIM writes since the time asked.
	Failures int
	// PresenceState is the presence link's state, "" if presence was
	// never connected.
	PresenceState string
}

// Actor types of the console (store.Actor.ID is the session's public id,
// or the setup link's id).
const (
	ActorConsole   = "console"    // the operator, signed in to the console with the admin token
	ActorSetupLink = "setup_link" // a customer's admin, through a setup link
)

// Audited actions of setup links.
const (
	AuditSetupLinkCreated = "setup_link.created"
	AuditSetupLinkRevoked = "setup_link.revoked"
)

// ConsoleStore is what the admin console keeps: sessions (shared by every
// replica), setup links and the directories' overview.
type ConsoleStore interface {
	// CreateConsoleSession stores s (Created is the store's) and deletes
	// the sessions whose absolute expiry has passed.
	CreateConsoleSession(ctx context.Context, s ConsoleSession) (ConsoleSession, error)
	// ConsoleSessionByHash returns the session whose id hashes to hash
	// (ErrNotFound if none). The caller checks its expiry.
	ConsoleSessionByHash(ctx context.Context, hash []byte) (ConsoleSession, error)
	// TouchConsoleSession sets the session's LastSeen (ErrNotFound if it
	// is gone).
	TouchConsoleSession(ctx context.Context, hash []byte, lastSeen time.Time) error
	// DeleteConsoleSession signs a session out; deleting one that is gone
	// is not an error.
	DeleteConsoleSession(ctx context.Context, hash []byte) error

	// CreateSetupLink stores l (Created is the store's), recording the
	// audit entry its context carries; ErrNotFound if the directory is
	// not there.
	CreateSetupLink(ctx context.Context, l SetupLink) (SetupLink, error)
	// ListSetupLinks returns the directory's links, expired ones
	// included, newest first.
	ListSetupLinks(ctx context.Context, directoryID string) ([]SetupLink, error)
	// SetupLinkByHash finds a link of a directory that is not being
	// deleted by the hash of its secret (ErrNotFound if none). The caller
	// checks its expiry.
	SetupLinkByHash(ctx context.Context, hash []byte) (SetupLink, error)
	// DeleteSetupLink revokes a link of the directory and ends the
	// sessions opened with it, recording the audit entry its context
	// carries; ErrNotFound if the directory has no such link.
	DeleteSetupLink(ctx context.Context, directoryID, id string) error

	// DirectoryOverviews returns every directory, ordered as
	// ListDirectories, with its figures (only directory id's when id is
	// not ""); Failures counts since since.
	DirectoryOverviews(ctx context.Context, since time.Time, id string) ([]DirectoryOverview, error)
}
