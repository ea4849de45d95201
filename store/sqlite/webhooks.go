package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/store"
)

// Webhooks and their delivery log (store.WebhookStore). Reads join the
// webhook's directory, so that those of a directory being deleted are
// not found; the directory's final delete cascades to both tables.

const webhookColumns = `w.directory_id, w.id, w.url, w.description, w.events, w.enabled, w.disabled_reason,
	w.sealed, w.cursor, w.created, w.updated`

const webhookFrom = ` FROM webhooks w JOIN directories d ON d.id = w.directory_id AND d.deleting = 0`

var errNoWebhookSecret = errors.New("sqlite: webhook without a sealed secret")

// CreateWebhook stores w with the transaction's time.
func (db *DB) CreateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	if len(w.Sealed) == 0 {
		return store.Webhook{}, errNoWebhookSecret
	}
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Webhook, error) {
		w := w.Clone()
		w.Created, w.Updated = tx.now, tx.now
		if _, err := getDirectory(ctx, tx, w.DirectoryID); err != nil {
			return store.Webhook{}, err
		}
		events, err := json.Marshal(w.Events)
		if err != nil {
			return store.Webhook{}, fmt.Errorf("sqlite: encode webhook events: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhooks (directory_id, id, url, description, events, enabled,
			disabled_reason, sealed, cursor, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.DirectoryID, w.ID, w.URL, w.Description, string(events), w.Enabled, w.DisabledReason, w.Sealed,
			w.Cursor, formatTime(w.Created), formatTime(w.Updated))
		switch {
		case err == nil:
			return w, insertAudit(ctx, tx, w.DirectoryID)
		case isPrimaryKey(err) || isUnique(err):
			return store.Webhook{}, fmt.Errorf("%w: webhook id %q already exists", store.ErrConflict, w.ID)
		case isForeignKey(err):
			return store.Webhook{}, fmt.Errorf("%w: directory %q", store.ErrNotFound, w.DirectoryID)
		}
		return store.Webhook{}, wrap("create webhook", err)
	})
}

// GetWebhook returns one webhook of the directory.
func (db *DB) GetWebhook(ctx context.Context, directoryID, id string) (store.Webhook, error) {
	return getWebhook(ctx, db.r, directoryID, id)
}

func getWebhook(ctx context.Context, q querier, directoryID, id string) (store.Webhook, error) {
	w, err := scanWebhook(q.QueryRowContext(ctx, `SELECT `+webhookColumns+webhookFrom+`
		WHERE w.directory_id = ? AND w.id = ?`, directoryID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("%w: webhook %q", store.ErrNotFound, id)
	}
	return w, err
}

// ListWebhooks returns the directory's webhooks, oldest first.
func (db *DB) ListWebhooks(ctx context.Context, directoryID string) ([]store.Webhook, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+webhookColumns+webhookFrom+`
		WHERE w.directory_id = ? ORDER BY w.created, w.id`, directoryID)
	if err != nil {
		return nil, wrap("list webhooks", err)
	}
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, wrap("list webhooks", rows.Err())
}

// UpdateWebhook is read-modify-write in the one writer's transaction.
func (db *DB) UpdateWebhook(ctx context.Context, directoryID, id string, fn func(store.Webhook) (store.Webhook, error)) (store.Webhook, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Webhook, error) {
		old, err := getWebhook(ctx, tx, directoryID, id)
		if err != nil {
			return store.Webhook{}, err
		}
		w, err := fn(old.Clone())
		if err != nil {
			return store.Webhook{}, err
		}
		w.DirectoryID, w.ID, w.Created, w.Updated = old.DirectoryID, old.ID, old.Created, tx.now
		events, err := json.Marshal(w.Events)
		if err != nil {
			return store.Webhook{}, fmt.Errorf("sqlite: encode webhook events: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET url = ?, description = ?, events = ?, enabled = ?,
			disabled_reason = ?, sealed = ?, cursor = ?, updated = ? WHERE directory_id = ? AND id = ?`,
			w.URL, w.Description, string(events), w.Enabled, w.DisabledReason, w.Sealed, w.Cursor,
			formatTime(w.Updated), directoryID, id); err != nil {
			return store.Webhook{}, wrap("update webhook", err)
		}
		return w, insertAudit(ctx, tx, directoryID)
	})
}

// DeleteWebhook removes the webhook; its delivery log cascades.
func (db *DB) DeleteWebhook(ctx context.Context, directoryID, id string) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := getWebhook(ctx, tx, directoryID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE directory_id = ? AND id = ?`, directoryID, id); err != nil {
			return wrap("delete webhook", err)
		}
		return insertAudit(ctx, tx, directoryID)
	})
}

// WebhookDirectories returns the directories with an enabled webhook.
func (db *DB) WebhookDirectories(ctx context.Context) ([]string, error) {
	return db.readStrings(ctx, `SELECT DISTINCT w.directory_id`+webhookFrom+` WHERE w.enabled = 1 ORDER BY 1`)
}

// AdvanceWebhook moves the cursor forward only.
func (db *DB) AdvanceWebhook(ctx context.Context, directoryID, id string, cursor int64) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		return advanceWebhook(ctx, tx, directoryID, id, cursor)
	})
}

func advanceWebhook(ctx context.Context, tx *tx, directoryID, id string, cursor int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE webhooks SET cursor = max(cursor, ?) WHERE directory_id = ? AND id = ?`,
		cursor, directoryID, id)
	if err != nil {
		return wrap("advance webhook", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("advance webhook", err)
	} else if n == 0 {
		return fmt.Errorf("%w: webhook %q", store.ErrNotFound, id)
	}
	return nil
}

// SaveDelivery replaces the event's log entry and moves the webhook on.
func (db *DB) SaveDelivery(ctx context.Context, d store.WebhookDelivery, disable string) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := getWebhook(ctx, tx, d.DirectoryID, d.WebhookID); err != nil {
			return err
		}
		next := ""
		if d.Status == store.DeliveryPending {
			next = formatTime(d.NextAttempt)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO webhook_deliveries (directory_id, webhook_id, seq,
			event_type, status, attempts, first_attempt, last_attempt, next_attempt, response_status, last_error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.DirectoryID, d.WebhookID, d.Seq, d.EventType, d.Status, d.Attempts, formatTime(d.FirstAttempt),
			formatTime(d.LastAttempt), next, d.ResponseStatus, d.LastError); err != nil {
			return wrap("save delivery", err)
		}
		if d.Status == store.DeliveryDelivered {
			if err := advanceWebhook(ctx, tx, d.DirectoryID, d.WebhookID, d.Seq); err != nil {
				return err
			}
		}
		if disable == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE webhooks SET enabled = 0, disabled_reason = ?, updated = ?
			WHERE directory_id = ? AND id = ?`, disable, formatTime(tx.now), d.DirectoryID, d.WebhookID)
		return wrap("disable webhook", err)
	})
}

const deliveryColumns = `directory_id, webhook_id, seq, event_type, status, attempts, first_attempt, last_attempt,
	next_attempt, response_status, last_error`

// GetDelivery returns the log entry of one event.
func (db *DB) GetDelivery(ctx context.Context, directoryID, webhookID string, seq int64) (store.WebhookDelivery, error) {
	d, err := scanDelivery(db.r.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE directory_id = ? AND webhook_id = ? AND seq = ?`, directoryID, webhookID, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("%w: delivery of event %d", store.ErrNotFound, seq)
	}
	return d, err
}

// ListDeliveries returns the webhook's log, newest event first.
func (db *DB) ListDeliveries(ctx context.Context, directoryID, webhookID string, q store.DeliveryQuery) ([]store.WebhookDelivery, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	query := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE directory_id = ? AND webhook_id = ?`
	args := []any{directoryID, webhookID}
	if q.Before > 0 {
		query += ` AND seq < ?`
		args = append(args, q.Before)
	}
	if q.Status != "" {
		query += ` AND status = ?`
		args = append(args, q.Status)
	}
	rows, err := db.r.QueryContext(ctx, query+` ORDER BY seq DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, wrap("list deliveries", err)
	}
	defer rows.Close()
	var out []store.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, wrap("list deliveries", rows.Err())
}

// PruneDeliveries deletes finished entries a batch per write.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.write(ctx, func(ctx context.Context, tx *tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE (directory_id, webhook_id, seq) IN
				(SELECT directory_id, webhook_id, seq FROM webhook_deliveries
				 WHERE status <> 'pending' AND last_attempt < ? LIMIT ?)`, formatTime(before), pruneBatch)
			if err != nil {
				return wrap("prune deliveries", err)
			}
			n, err = res.RowsAffected()
			return wrap("prune deliveries", err)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

func scanWebhook(row interface{ Scan(...any) error }) (store.Webhook, error) {
	var w store.Webhook
	var events, created, updated string
	if err := row.Scan(&w.DirectoryID, &w.ID, &w.URL, &w.Description, &events, &w.Enabled, &w.DisabledReason,
		&w.Sealed, &w.Cursor, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return w, err
		}
		return w, wrap("scan webhook", err)
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return w, fmt.Errorf("sqlite: stored webhook events: %w", err)
	}
	var err error
	if w.Created, err = parseTime(created); err != nil {
		return w, err
	}
	w.Updated, err = parseTime(updated)
	return w, err
}

func scanDelivery(row interface{ Scan(...any) error }) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var first, last, next string
	if err := row.Scan(&d.DirectoryID, &d.WebhookID, &d.Seq, &d.EventType, &d.Status, &d.Attempts, &first, &last,
		&next, &d.ResponseStatus, &d.LastError); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return d, err
		}
		return d, wrap("scan delivery", err)
	}
	var err error
	if d.FirstAttempt, err = parseTime(first); err != nil {
		return d, err
	}
	if d.LastAttempt, err = parseTime(last); err != nil {
		return d, err
	}
	if next != "" {
		d.NextAttempt, err = parseTime(next)
	}
	return d, err
}
