package store

import (
	"context"
	"time"
)

// Shared is implemented by a backend that several scimd processes serve
// from at once (store/postgres). It lets them agree on which process runs
// each background job and tells each what the others changed. A backend
// that one process owns (store/sqlite) does not implement it: that
// process runs every job and sees every change itself.
type Shared interface {
	// TryLease takes the named lease for owner, or extends it if owner
	// holds it already, until ttl from now by the backend's clock, and
	// reports whether owner holds it. A lease held by another owner is
	// taken only once it has expired.
	TryLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// RenewLeases extends every unexpired lease owner holds whose name
	// starts with prefix, and returns their names: a lease missing from
	// the answer was lost (it expired and another owner may hold it).
	RenewLeases(ctx context.Context, owner, prefix string, ttl time.Duration) ([]string, error)
	// ReleaseLease gives up a lease owner holds (a no-op otherwise), so
	// that another owner can take it at once.
	ReleaseLease(ctx context.Context, name, owner string) error

	// Changes returns a feed of the changes every process commits (this
	// one's too) and a function that ends it. The feed sends
	// ChangeResync when changes may have been missed (the connection
	// that carries them was lost and is back): refresh everything then.
	Changes() (<-chan Change, func())

	// PresenceChanges returns up to limit of the directory's recorded
	// presence changes after seq, oldest first (WritePresence records
	// them, numbered per directory in commit order), and the oldest
	// sequence number still recorded (0 if none).
	PresenceChanges(ctx context.Context, directoryID string, after int64, limit int) ([]PresenceChange, int64, error)
	// LastPresenceChange returns the sequence number of the directory's
	// newest presence change, 0 if none.
	LastPresenceChange(ctx context.Context, directoryID string) (int64, error)
	// PrunePresenceChanges deletes recorded presence changes older than
	// before, keeping each directory's newest, and returns how many.
	PrunePresenceChanges(ctx context.Context, before time.Time) (int64, error)
}

// Change is one notification of a Shared backend's feed.
type Change struct {
	Kind        ChangeKind
	DirectoryID string
	Seq         int64 // ChangePresence: the newest change's number
}

// ChangeKind says what changed.
type ChangeKind string

// Kinds of Change.
const (
	ChangeDirectory    ChangeKind = "directory"     // created, renamed, token rotated, rules changed, deleted
	ChangeAPIKey       ChangeKind = "apikey"        // an API key of the directory was created or revoked
	ChangePresenceLink ChangeKind = "presence_link" // the directory's presence link was written
	ChangePresence     ChangeKind = "presence"      // presence changes were recorded, up to Seq
	ChangeResync       ChangeKind = "resync"        // changes may have been missed: refresh everything
)

// PresenceChange is one recorded change of a user's presence; Presence is
// nil when it was cleared.
type PresenceChange struct {
	Seq      int64
	UserID   string
	Presence *Presence
}
