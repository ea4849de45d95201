package store

import "time"

// Presence connection states (see docs/GRAPH-PRESENCE.md §5).
const (
	PresenceConnected    = "connected"     // polling
	PresenceNeedsConsent = "needs_consent" // consent not granted yet, or removed (Graph answers 403)
	PresenceNeedsAdmin   = "needs_admin"   // the token endpoint refuses the app: deleted, disabled, secret expired
	PresenceRevoked      = "revoked"       // revoked through the admin API: no credentials, no polling
	PresenceError        = "error"         // scimd cannot use the stored credentials (e.g. the secret key changed)
)

// Presence credential kinds.
const (
	CredentialSecret      = "secret"      // the customer's app, client secret
	CredentialCertificate = "certificate" // the customer's app, certificate and private key
	CredentialServiceApp  = "service"     // scimd's multi-tenant app (admin consent); nothing stored
)

// PresenceLink is how a directory reaches Microsoft Graph for presence:
// its tenant, app and sealed credential, and the poller's last outcome.
type PresenceLink struct {
	DirectoryID string
	State       string
	TenantID    string
	ClientID    string
	Credential  string // CredentialSecret, ...
	// Sealed is the credential (secret, or certificate and key) encrypted
	// by the presence package; the store never sees it in clear.
	Sealed []byte
	// ConsentStateHash is HashToken of the state of a pending admin
	// consent request, which the redirect back must present before
	// ConsentExpires.
	ConsentStateHash []byte
	ConsentExpires   time.Time
	LastPoll         time.Time // end of the last complete poll cycle
	ContactsPolled   int       // contacts in that cycle
	Skipped          int       // contacts skipped in it: their object id is not a GUID
	LastError        string
	Updated          time.Time // set by the store
}

// Presence is the Teams presence last observed for a user, as Graph
// reported it.
type Presence struct {
	UserID       string
	Availability string
	Activity     string
	ObservedAt   time.Time // when this value was first seen
}

// PresenceTarget is a user the poller asks Graph about.
type PresenceTarget struct {
	UserID   string
	ObjectID string // as mapped; the poller validates it
	Version  int64
}
