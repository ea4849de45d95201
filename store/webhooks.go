package store

import (
	"context"
	"slices"
	"time"
)

// Webhooks: a directory's change events (events.go) pushed to a
// receiver's URL, one event per request, in order. The store keeps each
// webhook's settings, its sealed signing secret and its cursor (the Seq
// of the last event delivered or passed over), and a delivery log with
// one entry per event tried: the delivery worker (package webhook)
// resumes from both after a restart, on any process.

// Webhook is one receiver of a directory's change events.
type Webhook struct {
	DirectoryID string
	ID          string
	URL         string
	Description string
	// Events are the public event types delivered (contact.created, ...);
	// the others are passed over.
	Events  []string
	Enabled bool
	// DisabledReason says why the delivery worker disabled the webhook
	// (an event it gave up on, events pruned before their delivery); ""
	// when it is enabled or an administrator disabled it.
	DisabledReason string
	// Sealed is the signing secret, encrypted by the webhook package; the
	// store never sees it in clear.
	Sealed []byte
	// Cursor is the Seq of the last event delivered or passed over:
	// delivery goes on after it.
	Cursor  int64
	Created time.Time // set by the store
	Updated time.Time // set by the store on every write
}

// Wants reports whether w delivers events of the public type typ.
func (w Webhook) Wants(typ string) bool { return slices.Contains(w.Events, typ) }

// Clone returns w with its own copies of the slices.
func (w Webhook) Clone() Webhook {
	w.Events, w.Sealed = slices.Clone(w.Events), slices.Clone(w.Sealed)
	return w
}

// Delivery states.
const (
	DeliveryPending   = "pending"   // tried and failed; tried again at NextAttempt
	DeliveryDelivered = "delivered" // the receiver answered 2xx
	DeliveryFailed    = "failed"    // given up on; the webhook was disabled with it, and resumes with it
)

// WebhookDelivery is a delivery log entry: one event and one webhook,
// every attempt counted.
type WebhookDelivery struct {
	DirectoryID string
	WebhookID   string
	Seq         int64  // the event's
	EventType   string // its public type, as sent
	Status      string // DeliveryPending, ...
	Attempts    int
	// FirstAttempt starts the retry period: the event is given up on
	// once it has failed for the worker's give-up period since.
	FirstAttempt time.Time
	LastAttempt  time.Time
	NextAttempt  time.Time // DeliveryPending only
	// ResponseStatus is the receiver's HTTP status of the last attempt, 0
	// when there was none (a refused connection, a timeout).
	ResponseStatus int
	LastError      string // why the last attempt failed; "" when it succeeded
}

// DeliveryQuery selects a webhook's delivery log, newest event first.
type DeliveryQuery struct {
	Before int64 // cursor: only entries of events with Seq < Before; 0 for the newest
	Status string
	Limit  int
}

// WebhookStore is the part of Store that keeps webhooks and their
// deliveries.
type WebhookStore interface {
	// CreateWebhook, UpdateWebhook and DeleteWebhook record the audit
	// entry their context carries (WithAudit) in their transaction.
	//
	// CreateWebhook stores w; the caller sets everything but the times
	// (ErrNotFound for an unknown directory).
	CreateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	GetWebhook(ctx context.Context, directoryID, id string) (Webhook, error)
	// ListWebhooks returns the directory's webhooks, oldest first.
	ListWebhooks(ctx context.Context, directoryID string) ([]Webhook, error)
	// UpdateWebhook is read-modify-write of the webhook's URL,
	// description, events, enabled state, reason, secret and cursor.
	UpdateWebhook(ctx context.Context, directoryID, id string, fn func(Webhook) (Webhook, error)) (Webhook, error)
	// DeleteWebhook removes the webhook and its delivery log.
	DeleteWebhook(ctx context.Context, directoryID, id string) error
	// WebhookDirectories returns the ids of the directories that have an
	// enabled webhook.
	WebhookDirectories(ctx context.Context) ([]string, error)

	// AdvanceWebhook moves the webhook's cursor forward to cursor (never
	// back): past events it does not deliver.
	AdvanceWebhook(ctx context.Context, directoryID, id string, cursor int64) error
	// SaveDelivery records an attempt's outcome, replacing the log entry
	// of d's event, and in the same transaction moves the webhook's
	// cursor forward to d.Seq when d is DeliveryDelivered; when disable
	// is not "", it also disables the webhook with that reason (an event
	// given up on stays the next one: re-enabling resumes with it).
	// ErrNotFound when the webhook is gone.
	SaveDelivery(ctx context.Context, d WebhookDelivery, disable string) error
	// GetDelivery returns the log entry of one event (ErrNotFound if it
	// was never tried).
	GetDelivery(ctx context.Context, directoryID, webhookID string, seq int64) (WebhookDelivery, error)
	// ListDeliveries returns up to q.Limit log entries of the webhook,
	// newest event first.
	ListDeliveries(ctx context.Context, directoryID, webhookID string, q DeliveryQuery) ([]WebhookDelivery, error)
	// PruneDeliveries deletes every webhook's log entries that are not
	// pending and were last tried before before, and returns how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// Audited webhook actions.
const (
	AuditWebhookCreated       = "webhook.created"
	AuditWebhookUpdated       = "webhook.updated"
	AuditWebhookDeleted       = "webhook.deleted"
	AuditWebhookSecretRotated = "webhook.secret_rotated"
)

// ChangeWebhook is the Change a Shared backend sends when an
// administrator creates, changes or deletes one of the directory's
// webhooks, so that the process delivering them looks again at once.
const ChangeWebhook ChangeKind = "webhook"
