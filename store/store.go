// Package store holds scimd's records, the Store interface every backend
// implements, and the sentinel errors the HTTP layers map to status codes.
//
// It imports nothing from the project and only the standard library, so
// that backends (store/sqlite, later store/postgres) and the layers above
// agree on one contract. store/storetest holds the conformance suite.
package store

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Sentinel errors. Backends wrap them with %w and a short, client-safe
// description (never SQL or driver text).
var (
	// ErrNotFound: the directory, user or group does not exist in the
	// directory the caller is scoped to.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule was violated (userName or group
	// displayName within a directory, case-insensitively).
	ErrConflict = errors.New("conflict")
	// ErrPrecondition: the caller's expected version does not match the
	// stored one (If-Match).
	ErrPrecondition = errors.New("version mismatch")
	// ErrInvalidMember: a group member id does not name a user of the
	// same directory.
	ErrInvalidMember = errors.New("invalid member")
	// ErrInvalidFilter: the backend cannot run a filter (an attribute it
	// cannot filter on, or a filter beyond its limits). The message after
	// the sentinel is safe to show to clients.
	ErrInvalidFilter = errors.New("invalid filter")
	// ErrUnavailable: the backend cannot be reached (a database server
	// down or restarting). The request may be retried later; the HTTP
	// layers answer 503.
	ErrUnavailable = errors.New("database unavailable")
)

// Directory is one customer's independent SCIM tenant.
type Directory struct {
	ID   string
	Name string
	// SCIMTokenHash is HashToken of the directory's SCIM bearer token.
	SCIMTokenHash []byte
	// PreviousTokenHash is HashToken of the token the last rotation
	// replaced, still accepted until PreviousTokenExpires (the grace
	// period the admin chose); nil when there is none. AcceptsToken checks
	// both.
	PreviousTokenHash    []byte
	PreviousTokenExpires time.Time
	// Mapping is the directory's mapping rules document (JSON, owned by
	// the mapping package); nil means the defaults.
	Mapping []byte
	// RulesVersion counts the changes of Mapping that change contacts
	// (0: never changed); users record the version their contact was
	// derived under (see ReapplyStore).
	RulesVersion int64
	Created      time.Time
	Updated      time.Time
}

// User is a SCIM user as stored. Doc holds every SCIM attribute exactly as
// the client sent it (after type validation, with canonical attribute
// names), without id, schemas and meta. The other fields are derived from
// Doc so that backends can index and filter them.
type User struct {
	DirectoryID string
	ID          string
	ExternalID  string
	UserName    string
	DisplayName string
	Active      bool
	Doc         []byte // JSON object
	// Contact is the directory contact the mapping layer derived from Doc;
	// the lookup API reads it.
	Contact Contact
	// RulesVersion is the directory's rules version Contact was derived
	// under; the SCIM layer sets it on every write.
	RulesVersion int64
	// Refused, set by a reapply job only, is why the directory's newer
	// rules refuse the user: Contact is then the one older rules made.
	// Every user write clears it.
	Refused      string
	Version      int64 // starts at 1, bumped by every write
	Created      time.Time
	LastModified time.Time
}

// Contact is what a CX client sees of a user: normalised, derived from
// the SCIM document by the directory's mapping rules.
type Contact struct {
	Login       string         `json:"login,omitempty"`    // from userName by default
	ObjectID    string         `json:"objectId,omitempty"` // Entra object id, from externalId by default
	DisplayName string         `json:"displayName,omitempty"`
	GivenName   string         `json:"givenName,omitempty"`
	FamilyName  string         `json:"familyName,omitempty"`
	Email       string         `json:"email,omitempty"`
	Title       string         `json:"title,omitempty"`
	Department  string         `json:"department,omitempty"`
	Phones      []Phone        `json:"phones,omitempty"`
	Custom      map[string]any `json:"custom,omitempty"` // custom field name → string, float64, bool or date string
}

// Phone is one phone number of a contact: the value as the SCIM client
// sent it and its E.164 form, which lookups match on.
type Phone struct {
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
	E164  string `json:"e164"`
}

// SyncEvent is one entry of a directory's sync log: every SCIM write,
// accepted or refused, leaves one.
type SyncEvent struct {
	DirectoryID  string
	ID           int64     // assigned by the store, increasing
	Time         time.Time // assigned by the store (the write's transaction time)
	Operation    string    // SyncCreate, SyncUpdate, ...
	ResourceType string    // "User" or "Group"
	ResourceID   string    // empty when a create was refused
	Identity     string    // userName or email (users), displayName (groups)
	New          bool      // the write targeted a new resource (a create)
	Failed       bool
	Result       string // what happened, or why it was refused
}

// Sync log operations.
const (
	SyncCreate         = "create"
	SyncUpdate         = "update"
	SyncDisable        = "disable"
	SyncEnable         = "enable"
	SyncDelete         = "delete"
	SyncMembersAdded   = "members added"
	SyncMembersRemoved = "members removed"
	SyncConnect        = "connect" // presence connected (ResourceType "Presence")
	SyncRevoke         = "revoke"  // presence revoked
)

// SyncQuery selects sync events, newest first.
type SyncQuery struct {
	Since, Until time.Time // inclusive bounds; zero means unbounded
	Failed       *bool     // nil: both
	ResourceType string    // "" for both
	Before       int64     // cursor: only events with ID < Before; 0 for the newest
	Limit        int
}

// SyncCount is the number of events of one kind in a summary.
type SyncCount struct {
	Operation    string
	ResourceType string
	Failed       bool
	Count        int
}

// APIKey is a lookup-API credential of one directory. Only its hash is
// stored; the key itself is shown once, when it is created.
type APIKey struct {
	ID          string
	DirectoryID string
	Name        string
	Hash        []byte // HashToken of the key
	Created     time.Time
}

// ContactRecord is a user as the lookup API reads it.
type ContactRecord struct {
	ID           string // the SCIM user id
	UserName     string
	Active       bool
	Contact      Contact
	Groups       []string  // display names of the user's groups, sorted
	Presence     *Presence // nil when none is stored
	Version      int64
	LastModified time.Time
}

// Visibility restricts which contacts a read returns: the directory's
// visibility rules, applied at read time so that a change takes effect at
// once. Inactive users are never returned. Names and domains compare
// case-insensitively.
type Visibility struct {
	OnlyGroups    []string // members of at least one of these groups; "Sales*" matches a prefix
	ExcludeGroups []string // never members of these groups (same syntax)
	Domains       []string // only contacts whose email or userName domain is one of these
}

// ContactQuery selects visible contacts, ordered by display name
// (case-insensitive), then id.
type ContactQuery struct {
	Visibility Visibility
	// Text matches the start of any word of the contact's display, given
	// or family name, or the start of its email; case-insensitive.
	Text string
	// Digits matches contacts with a phone number whose E.164 digits
	// contain these digits.
	Digits  string
	GroupID string // only members of this group
	After   string // the cursor a previous page returned; "" for the first
	Limit   int
}

// Group is a SCIM group without its members: members live in their own
// table so that adding or removing them never rewrites the group.
type Group struct {
	DirectoryID  string
	ID           string
	ExternalID   string
	DisplayName  string
	Doc          []byte // JSON object, never contains "members"
	Version      int64
	Created      time.Time
	LastModified time.Time
}

// MemberOpKind says what a MemberOp does.
type MemberOpKind int

// Member operations, applied in order within one transaction.
const (
	MembersAdd       MemberOpKind = iota + 1 // add these users; present ones are a no-op
	MembersRemove                            // remove these users; absent ones are a no-op
	MembersRemoveAll                         // remove every member
)

// MemberOp is one step of a group membership change.
type MemberOp struct {
	Kind    MemberOpKind
	UserIDs []string
}

// GroupChange is what an UpdateGroup callback asks the store to write.
type GroupChange struct {
	// Group, when non-nil, replaces the group's attributes (DisplayName,
	// ExternalID, Doc). Identity, version and times are the store's.
	Group *Group
	// Members are applied in order after Group.
	Members []MemberOp
	// Event, when its Operation is set, is recorded in the same
	// transaction.
	Event SyncEvent
}

// Query selects a page of users or groups.
type Query struct {
	Filter Filter // nil selects everything
	Offset int    // 0-based index of the first result
	Limit  int    // maximum number of results; 0 returns only the total
}

// Store is implemented by every backend. Every method is scoped to one
// directory where it takes a directory id: a backend must never read or
// change another directory's rows through it.
//
// Update methods are read-modify-write in one transaction: the callback
// receives the current record and returns the new one (or an error, which
// aborts the transaction and is returned unchanged). The store bumps the
// version and sets LastModified. Callbacks must be pure: a backend may
// call them again on retry.
type Store interface {
	EventStore   // change events of contacts and groups (events.go)
	WebhookStore // webhooks and their delivery log (webhooks.go)
	ReapplyStore

	// Ping reports whether the backend is reachable and its schema current.
	Ping(ctx context.Context) error
	Close() error

	// Settings are small server-wide values (e.g. the admin token hash).
	// GetSetting returns ErrNotFound for a key never set.
	GetSetting(ctx context.Context, key string) ([]byte, error)
	SetSetting(ctx context.Context, key string, value []byte) error

	// The directory and API key writes below, PutPresenceLink and
	// RevokePresence record the audit entry their context carries
	// (WithAudit) in their transaction: only a change that commits leaves
	// one.
	//
	// CreateDirectory stores d; the caller sets ID, Name and SCIMTokenHash.
	CreateDirectory(ctx context.Context, d Directory) (Directory, error)
	GetDirectory(ctx context.Context, id string) (Directory, error)
	// ListDirectories returns all directories ordered by creation.
	ListDirectories(ctx context.Context) ([]Directory, error)
	UpdateDirectory(ctx context.Context, id string, fn func(Directory) (Directory, error)) (Directory, error)
	// DeleteDirectory removes the directory and all of its data but its
	// audit entries. It hides the directory first, then tells the
	// context's WithHidden function, then purges the data.
	DeleteDirectory(ctx context.Context, id string) error

	// CreateUser stores u; the caller sets DirectoryID, ID and the
	// attributes. ErrConflict if userName is taken in the directory.
	//
	// Write methods take the sync event that describes them and record it
	// in the same transaction; an event with an empty Operation is not
	// recorded.
	CreateUser(ctx context.Context, u User, ev SyncEvent) (User, error)
	GetUser(ctx context.Context, directoryID, id string) (User, error)
	UpdateUser(ctx context.Context, directoryID, id string, fn func(User) (User, SyncEvent, error)) (User, error)
	// DeleteUser removes the user and its group memberships. A non-zero
	// version must match the stored one (ErrPrecondition otherwise).
	DeleteUser(ctx context.Context, directoryID, id string, version int64, ev SyncEvent) error
	// ListUsers returns a page ordered by (Created, ID) and the total
	// number of matches.
	ListUsers(ctx context.Context, directoryID string, q Query) ([]User, int, error)

	// CreateGroup stores g and its initial members (ErrInvalidMember if
	// one is not a user of the directory, ErrConflict on displayName).
	CreateGroup(ctx context.Context, g Group, members []string, ev SyncEvent) (Group, error)
	GetGroup(ctx context.Context, directoryID, id string) (Group, error)
	// GroupMembers returns the user ids of the given groups' members,
	// keyed by group id, each list in a stable order.
	GroupMembers(ctx context.Context, directoryID string, groupIDs []string) (map[string][]string, error)
	UpdateGroup(ctx context.Context, directoryID, id string, fn func(Group) (GroupChange, error)) (Group, error)
	DeleteGroup(ctx context.Context, directoryID, id string, version int64, ev SyncEvent) error
	ListGroups(ctx context.Context, directoryID string, q Query) ([]Group, int, error)

	// API keys of the lookup API. APIKeyByHash finds a key by the hash of
	// the presented key (ErrNotFound if none).
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	ListAPIKeys(ctx context.Context, directoryID string) ([]APIKey, error)
	DeleteAPIKey(ctx context.Context, directoryID, id string) error
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)

	// SearchContacts returns a page of the directory's visible contacts
	// matching q and the cursor of the next page ("" after the last).
	SearchContacts(ctx context.Context, directoryID string, q ContactQuery) ([]ContactRecord, string, error)
	// GetContact returns a visible contact (ErrNotFound if the user is
	// absent, inactive or hidden by v).
	GetContact(ctx context.Context, directoryID, id string, v Visibility) (ContactRecord, error)
	// LookupPhone returns the visible contacts with a phone number whose
	// E.164 form is e164, ordered as SearchContacts.
	LookupPhone(ctx context.Context, directoryID, e164 string, v Visibility) ([]ContactRecord, error)

	// RecordSyncEvent records an event on its own: a refused write stores
	// nothing else.
	RecordSyncEvent(ctx context.Context, ev SyncEvent) error
	// ListSyncEvents returns up to q.Limit of the directory's events
	// matching q, newest first.
	ListSyncEvents(ctx context.Context, directoryID string, q SyncQuery) ([]SyncEvent, error)
	// SyncSummary counts the directory's events since a time by
	// operation, resource type and outcome.
	SyncSummary(ctx context.Context, directoryID string, since time.Time) ([]SyncCount, error)
	// PruneSyncEvents deletes every directory's events older than before
	// and returns how many it deleted.
	PruneSyncEvents(ctx context.Context, before time.Time) (int64, error)

	// ListAudit returns up to q.Limit audit entries matching q, newest
	// first, those of deleted directories included.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// PruneAudit deletes every audit entry older than before and returns
	// how many it deleted.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)

	// GetPresenceLink returns the directory's presence link (ErrNotFound
	// if presence was never connected).
	GetPresenceLink(ctx context.Context, directoryID string) (PresenceLink, error)
	// PutPresenceLink stores l (replacing the directory's link) and ev.
	PutPresenceLink(ctx context.Context, l PresenceLink, ev SyncEvent) error
	// ListPresenceLinks returns every directory's link.
	ListPresenceLinks(ctx context.Context) ([]PresenceLink, error)
	// PresenceLinkByConsentState finds the link waiting for the admin
	// consent whose state hashes to hash (ErrNotFound if none).
	PresenceLinkByConsentState(ctx context.Context, hash []byte) (PresenceLink, error)
	// RevokePresence stores l, deletes every stored presence of the
	// directory and records ev, in one transaction; it returns how many
	// presence rows it deleted.
	RevokePresence(ctx context.Context, l PresenceLink, ev SyncEvent) (int64, error)
	// PresenceTargets returns the directory's active users that have an
	// object id, ordered by user id.
	PresenceTargets(ctx context.Context, directoryID string) ([]PresenceTarget, error)
	// ListPresence returns the directory's stored presence.
	ListPresence(ctx context.Context, directoryID string) ([]Presence, error)
	// WritePresence stores set (replacing those users' presence) and
	// deletes the presence of the users in del, in one transaction. Users
	// that are no longer in the directory are skipped.
	WritePresence(ctx context.Context, directoryID string, set []Presence, del []string) error

	ConsoleStore
}

// Clone returns d with its own copies of the slices, for caches that must
// not share them with callers.
func (d Directory) Clone() Directory {
	d.SCIMTokenHash, d.Mapping = slices.Clone(d.SCIMTokenHash), slices.Clone(d.Mapping)
	d.PreviousTokenHash = slices.Clone(d.PreviousTokenHash)
	return d
}

// Clone returns k with its own copy of the hash.
func (k APIKey) Clone() APIKey {
	k.Hash = slices.Clone(k.Hash)
	return k
}
