package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/webhook"
)

// Webhooks of a directory (admin API): the change events pushed to a
// receiver, signed with a secret shown once. The webhook package
// delivers them; this file keeps their settings and shows their delivery
// log.

// EventTypes lists the public event types a webhook may subscribe to.
var EventTypes = []string{
	EventContactCreated, EventContactUpdated, EventContactDeactivated, EventContactDeleted,
	EventGroupCreated, EventGroupUpdated, EventGroupDeleted, EventMemberAdded, EventMemberRemoved,
}

// MaxWebhooks bounds a directory's webhooks: each is a delivery loop.
const MaxWebhooks = 20

// Delivery log paging: limit's default and maximum.
const (
	defaultDeliveryLimit = 100
	maxDeliveryLimit     = 1000
)

// WebhookMessage renders a change event as webhooks send it: the event
// as the events API shows it to a client of d (its current visibility
// rules), false when such a client sees nothing of it.
func WebhookMessage(d store.Directory, ev store.Event) (webhook.Message, bool, error) {
	sc, err := scopeOf(d)
	if err != nil {
		return webhook.Message{}, false, fmt.Errorf("directory %s: mapping rules: %w", d.ID, err)
	}
	e, ok := ClientEvent(sc.visibility, ev)
	if !ok {
		return webhook.Message{}, false, nil
	}
	body, err := json.Marshal(e)
	if err != nil {
		return webhook.Message{}, false, err
	}
	return webhook.Message{ID: e.ID, Type: e.Type, Body: body}, true, nil
}

// webhookJSON is a webhook as the admin API shows it. Secret is set only
// in the answers that create it (create and rotate-secret).
type webhookJSON struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Description    string    `json:"description"`
	Events         []string  `json:"events"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	LastEventID    string    `json:"lastEventId"` // the last event delivered or passed over
	Secret         string    `json:"secret,omitempty"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
}

type webhookListJSON struct {
	Webhooks []webhookJSON `json:"webhooks"`
}

type deliveryJSON struct {
	EventID        string     `json:"eventId"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	FirstAttempt   time.Time  `json:"firstAttempt"`
	LastAttempt    time.Time  `json:"lastAttempt"`
	NextAttempt    *time.Time `json:"nextAttempt,omitempty"`
	ResponseStatus int        `json:"responseStatus,omitempty"`
	LastError      string     `json:"lastError,omitempty"`
}

type deliveryListJSON struct {
	Deliveries []deliveryJSON `json:"deliveries"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

// webhookRequest is the body of POST and PATCH; every field is optional
// in a PATCH.
type webhookRequest struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
	// ResumeFrom (PATCH): "latest" moves the webhook past every event
	// recorded so far; "stopped" (the default) goes on where it stopped.
	ResumeFrom *string `json:"resumeFrom"`
}

// errUnchanged ends a PATCH that changes nothing.
var errUnchanged = errors.New("unchanged")

func (a *Admin) webhooksOff(w http.ResponseWriter) bool {
	if a.cfg.Webhooks != nil {
		return false
	}
	WriteError(w, http.StatusServiceUnavailable, "webhooks_unavailable", "this server runs without the webhook service")
	return true
}

func (a *Admin) createWebhook(w http.ResponseWriter, r *http.Request) {
	dir, ok := directoryID(w, r)
	if !ok || a.webhooksOff(w) {
		return
	}
	var req webhookRequest
	if !a.decode(w, r, &req) {
		return
	}
	if req.URL == nil {
		WriteError(w, http.StatusBadRequest, "invalid_url", `field "url" is required`)
		return
	}
	if req.Events == nil {
		WriteError(w, http.StatusBadRequest, "invalid_events", fmt.Sprintf(`field "events" is required: a list of %s`, strings.Join(EventTypes, ", ")))
		return
	}
	if req.ResumeFrom != nil {
		WriteError(w, http.StatusBadRequest, "invalid_field", `field "resumeFrom" applies to PATCH only: a new webhook delivers the events recorded after its creation`)
		return
	}
	if !a.cfg.Store.EventsEnabled() {
		WriteError(w, http.StatusConflict, "events_disabled",
			"change events are turned off on this server (SCIMD_EVENTS=off): a webhook would receive nothing; turn them on first")
		return
	}
	hook := store.Webhook{DirectoryID: dir, ID: uuid.NewString(), Enabled: req.Enabled == nil || *req.Enabled}
	if !a.applyWebhook(w, r, &hook, req) || !a.directoryExists(w, r, dir) {
		return
	}
	if hooks, err := a.cfg.Store.ListWebhooks(r.Context(), dir); err != nil {
		a.storeError(w, r, "list webhooks", err)
		return
	} else if len(hooks) >= MaxWebhooks {
		WriteError(w, http.StatusConflict, "too_many_webhooks", fmt.Sprintf("a directory has at most %d webhooks; delete one first", MaxWebhooks))
		return
	}
	secret, sealed, err := a.cfg.Webhooks.NewSecret(dir, hook.ID)
	if errors.Is(err, webhook.ErrNoKey) {
		WriteError(w, http.StatusBadRequest, "no_secret_key", err.Error())
		return
	} else if err != nil {
		writeInternal(w, r, a.log, "seal webhook secret", err)
		return
	}
	hook.Sealed = sealed
	// From the newest event on: a new receiver starts from the current
	// contacts, which it reads through the lookup API.
	if hook.Cursor, err = a.cfg.Store.LatestEvent(r.Context(), dir); err != nil {
		a.storeError(w, r, "latest event", err)
		return
	}
	ctx, _ := store.Audited(r.Context(), store.AuditWebhookCreated, map[string]any{
		"webhookId": hook.ID, "url": auditURL(hook.URL), "events": hook.Events, "enabled": hook.Enabled})
	created, err := a.cfg.Store.CreateWebhook(ctx, hook)
	if err != nil {
		a.webhookError(w, r, "create webhook", err)
		return
	}
	a.cfg.Webhooks.Poke(dir)
	a.log.InfoContext(r.Context(), "webhook created", "directory_id", dir, "webhook_id", created.ID)
	out := webhookOut(created)
	out.Secret = secret
	w.Header().Set("Location", "/admin/v1/directories/"+dir+"/webhooks/"+created.ID)
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, out)
}

// applyWebhook validates the request's fields and sets them on hook.
func (a *Admin) applyWebhook(w http.ResponseWriter, r *http.Request, hook *store.Webhook, req webhookRequest) bool {
	if req.URL != nil {
		u, err := a.cfg.Webhooks.CheckURL(r.Context(), strings.TrimSpace(*req.URL))
		if err != nil {
			code := "invalid_url"
			if errors.Is(err, webhook.ErrBlocked) {
				code = "url_not_allowed"
			}
			WriteError(w, http.StatusBadRequest, code, `field "url" `+err.Error())
			return false
		}
		hook.URL = u
	}
	if req.Events != nil {
		evs, msg := validEventTypes(*req.Events)
		if msg != "" {
			WriteError(w, http.StatusBadRequest, "invalid_events", msg)
			return false
		}
		hook.Events = evs
	}
	if req.Description != nil {
		d := strings.TrimSpace(*req.Description)
		switch {
		case utf8.RuneCountInString(d) > MaxNameLength:
			WriteError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf(`field "description" must be at most %d characters`, MaxNameLength))
			return false
		case strings.ContainsFunc(d, unicode.IsControl):
			WriteError(w, http.StatusBadRequest, "invalid_field", `field "description" must not contain control characters`)
			return false
		}
		hook.Description = d
	}
	if req.Enabled != nil {
		hook.Enabled, hook.DisabledReason = *req.Enabled, ""
	}
	return true
}

// validEventTypes checks a subscription: known types, at least one, each
// once (duplicates are dropped), in EventTypes order.
func validEventTypes(types []string) ([]string, string) {
	if len(types) == 0 {
		return nil, fmt.Sprintf(`field "events" must list at least one of %s`, strings.Join(EventTypes, ", "))
	}
	for _, t := range types {
		if !slices.Contains(EventTypes, t) {
			return nil, fmt.Sprintf(`field "events": %q is not an event type; use %s`, clip(t), strings.Join(EventTypes, ", "))
		}
	}
	var out []string
	for _, t := range EventTypes {
		if slices.Contains(types, t) {
			out = append(out, t)
		}
	}
	return out, ""
}

func (a *Admin) listWebhooks(w http.ResponseWriter, r *http.Request) {
	dir, ok := directoryID(w, r)
	if !ok || !a.directoryExists(w, r, dir) {
		return
	}
	hooks, err := a.cfg.Store.ListWebhooks(r.Context(), dir)
	if err != nil {
		a.storeError(w, r, "list webhooks", err)
		return
	}
	out := webhookListJSON{Webhooks: make([]webhookJSON, 0, len(hooks))}
	for _, h := range hooks {
		out.Webhooks = append(out.Webhooks, webhookOut(h))
	}
	WriteJSON(w, http.StatusOK, out)
}

// webhookIDs returns the path's directory and webhook ids; a webhook id
// that is not a UUID cannot exist.
func (a *Admin) webhookIDs(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	dir, ok := directoryID(w, r)
	if !ok {
		return "", "", false
	}
	id := mux.Vars(r)["webhookId"]
	if uuid.Validate(id) != nil {
		if a.directoryExists(w, r, dir) {
			WriteError(w, http.StatusNotFound, "not_found", "webhook not found")
		}
		return "", "", false
	}
	return dir, id, true
}

func (a *Admin) getWebhook(w http.ResponseWriter, r *http.Request) {
	dir, id, ok := a.webhookIDs(w, r)
	if !ok {
		return
	}
	hook, err := a.cfg.Store.GetWebhook(r.Context(), dir, id)
	if err != nil {
		a.webhookError(w, r, "get webhook", err)
		return
	}
	WriteJSON(w, http.StatusOK, webhookOut(hook))
}

func (a *Admin) patchWebhook(w http.ResponseWriter, r *http.Request) {
	dir, id, ok := a.webhookIDs(w, r)
	if !ok || a.webhooksOff(w) {
		return
	}
	var req webhookRequest
	if !a.decode(w, r, &req) {
		return
	}
	latest := false
	if req.ResumeFrom != nil {
		switch *req.ResumeFrom {
		case "stopped":
		case "latest":
			latest = true
		default:
			WriteError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf(`field "resumeFrom" must be "stopped" or "latest", got %q`, clip(*req.ResumeFrom)))
			return
		}
	}
	// Validate (and resolve the URL) once, outside the transaction.
	var probe store.Webhook
	if !a.applyWebhook(w, r, &probe, req) {
		return
	}
	var newest int64
	if latest {
		var err error
		if newest, err = a.cfg.Store.LatestEvent(r.Context(), dir); err != nil {
			a.webhookError(w, r, "latest event", err)
			return
		}
	}
	ctx, audit := store.Audited(r.Context(), store.AuditWebhookUpdated, nil)
	hook, err := a.cfg.Store.UpdateWebhook(ctx, dir, id, func(h store.Webhook) (store.Webhook, error) {
		changed := map[string]any{}
		if req.URL != nil && probe.URL != h.URL {
			changed["url"] = auditURL(probe.URL)
			h.URL = probe.URL
		}
		if req.Events != nil && !slices.Equal(probe.Events, h.Events) {
			changed["events"] = probe.Events
			h.Events = probe.Events
		}
		if req.Description != nil && probe.Description != h.Description {
			changed["description"] = probe.Description
			h.Description = probe.Description
		}
		if req.Enabled != nil && *req.Enabled != h.Enabled {
			changed["enabled"] = *req.Enabled
			h.Enabled, h.DisabledReason = *req.Enabled, ""
		}
		if latest && newest > h.Cursor {
			changed["resumeFrom"] = "latest"
			changed["skippedEvents"] = newest - h.Cursor
			h.Cursor = newest
		}
		if len(changed) == 0 {
			return h, errUnchanged // nothing to write, nothing to audit
		}
		audit.SetDetails(map[string]any{"webhookId": id, "changed": changed})
		return h, nil
	})
	if errors.Is(err, errUnchanged) {
		hook, err = a.cfg.Store.GetWebhook(r.Context(), dir, id)
	}
	if err != nil {
		a.webhookError(w, r, "update webhook", err)
		return
	}
	a.cfg.Webhooks.Poke(dir)
	a.log.InfoContext(r.Context(), "webhook updated", "directory_id", dir, "webhook_id", id)
	WriteJSON(w, http.StatusOK, webhookOut(hook))
}

func (a *Admin) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	dir, id, ok := a.webhookIDs(w, r)
	if !ok {
		return
	}
	hook, err := a.cfg.Store.GetWebhook(r.Context(), dir, id)
	if err != nil {
		a.webhookError(w, r, "get webhook", err)
		return
	}
	ctx, _ := store.Audited(r.Context(), store.AuditWebhookDeleted, map[string]string{"webhookId": id, "url": auditURL(hook.URL)})
	if err := a.cfg.Store.DeleteWebhook(ctx, dir, id); err != nil {
		a.webhookError(w, r, "delete webhook", err)
		return
	}
	if a.cfg.Webhooks != nil {
		a.cfg.Webhooks.Poke(dir)
	}
	a.log.InfoContext(r.Context(), "webhook deleted", "directory_id", dir, "webhook_id", id)
	w.WriteHeader(http.StatusNoContent)
}

// rotateWebhookSecret replaces the signing secret; the old one stops
// signing with the commit.
func (a *Admin) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	dir, id, ok := a.webhookIDs(w, r)
	if !ok || a.webhooksOff(w) {
		return
	}
	secret, sealed, err := a.cfg.Webhooks.NewSecret(dir, id)
	if errors.Is(err, webhook.ErrNoKey) {
		WriteError(w, http.StatusBadRequest, "no_secret_key", err.Error())
		return
	} else if err != nil {
		writeInternal(w, r, a.log, "seal webhook secret", err)
		return
	}
	ctx, _ := store.Audited(r.Context(), store.AuditWebhookSecretRotated, map[string]string{"webhookId": id})
	hook, err := a.cfg.Store.UpdateWebhook(ctx, dir, id, func(h store.Webhook) (store.Webhook, error) {
		h.Sealed = sealed
		return h, nil
	})
	if err != nil {
		a.webhookError(w, r, "rotate webhook secret", err)
		return
	}
	a.cfg.Webhooks.Poke(dir)
	a.log.InfoContext(r.Context(), "webhook secret rotated", "directory_id", dir, "webhook_id", id)
	out := webhookOut(hook)
	out.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, out)
}

// webhookDeliveries answers a page of the webhook's delivery log, newest
// event first.
func (a *Admin) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	dir, id, ok := a.webhookIDs(w, r)
	if !ok {
		return
	}
	vals, ok := queryParams(w, r, "limit", "cursor", "status")
	if !ok {
		return
	}
	q := store.DeliveryQuery{Limit: defaultDeliveryLimit}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeliveryLimit {
			badParam(w, "limit", fmt.Sprintf("must be an integer from 1 to %d, got %q", maxDeliveryLimit, clip(v)))
			return
		}
		q.Limit = n
	}
	if v := vals.Get("cursor"); v != "" {
		if q.Before, ok = decodeCursor(v); !ok {
			badParam(w, "cursor", "must be the nextCursor of a previous answer")
			return
		}
	}
	switch v := vals.Get("status"); v {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed:
		q.Status = v
	default:
		badParam(w, "status", fmt.Sprintf("must be pending, delivered or failed, got %q", clip(v)))
		return
	}
	if _, err := a.cfg.Store.GetWebhook(r.Context(), dir, id); err != nil {
		a.webhookError(w, r, "get webhook", err)
		return
	}
	limit := q.Limit
	q.Limit++ // one more tells whether a next page exists
	ds, err := a.cfg.Store.ListDeliveries(r.Context(), dir, id, q)
	if err != nil {
		a.storeError(w, r, "list deliveries", err)
		return
	}
	out := deliveryListJSON{Deliveries: make([]deliveryJSON, 0, min(len(ds), limit))}
	if len(ds) > limit {
		ds = ds[:limit]
		out.NextCursor = encodeCursor(ds[limit-1].Seq)
	}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryOut(d))
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, out)
}

// webhookError is storeError with the messages of a webhook: a missing
// record is the directory when it is missing, else the webhook.
func (a *Admin) webhookError(w http.ResponseWriter, r *http.Request, op string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		if a.directoryExists(w, r, mux.Vars(r)["id"]) {
			WriteError(w, http.StatusNotFound, "not_found", "webhook not found")
		}
		return
	}
	a.storeError(w, r, op, err)
}

func webhookOut(h store.Webhook) webhookJSON {
	return webhookJSON{ID: h.ID, URL: h.URL, Description: h.Description, Events: h.Events, Enabled: h.Enabled,
		DisabledReason: h.DisabledReason, LastEventID: EventCursor(h.Cursor), Created: h.Created.UTC(), Updated: h.Updated.UTC()}
}

func deliveryOut(d store.WebhookDelivery) deliveryJSON {
	out := deliveryJSON{EventID: EventCursor(d.Seq), Type: d.EventType, Status: d.Status, Attempts: d.Attempts,
		FirstAttempt: d.FirstAttempt.UTC(), LastAttempt: d.LastAttempt.UTC(), ResponseStatus: d.ResponseStatus, LastError: d.LastError}
	if d.Status == store.DeliveryPending {
		n := d.NextAttempt.UTC()
		out.NextAttempt = &n
	}
	return out
}

// auditURL is a webhook URL as the audit trail records it: without its
// query, which may carry a receiver's token.
func auditURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

// directoryExists answers 404 (or a store failure) unless the directory
// exists: an unknown directory's webhooks would otherwise look empty.
func (a *Admin) directoryExists(w http.ResponseWriter, r *http.Request, id string) bool {
	if err := a.directoryFound(r.Context(), id); err != nil {
		a.fail(w, r, "get directory", err)
		return false
	}
	return true
}
