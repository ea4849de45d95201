package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// Webhooks and their delivery log (store.WebhookStore). Reads join the
// webhook's directory, so that those of a directory being deleted are
// not found; the directory's final delete cascades to both tables. An
// administrator's change notifies every replica (store.ChangeWebhook):
// the one delivering the directory's webhooks looks again at once.

const webhookColumns = `w.directory_id, w.id, w.url, w.description, w.events, w.enabled, w.disabled_reason,
	w.sealed, w.cursor, w.created, w.updated`

const webhookFrom = ` FROM webhooks w JOIN directories d ON d.id = w.directory_id AND NOT d.deleting`

var errNoWebhookSecret = errors.New("postgres: webhook without a sealed secret")

// CreateWebhook stores w with the transaction's time.
func (db *DB) CreateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	if len(w.Sealed) == 0 {
		return store.Webhook{}, errNoWebhookSecret
	}
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Webhook, error) {
		w := w.Clone()
		w.Created, w.Updated = tx.now, tx.now
		if _, err := getDirectory(ctx, tx, w.DirectoryID, "FOR SHARE"); err != nil {
			return store.Webhook{}, err
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhooks (directory_id, id, url, description, events, enabled,
			disabled_reason, sealed, cursor, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			w.DirectoryID, w.ID, w.URL, w.Description, w.Events, w.Enabled, w.DisabledReason, w.Sealed,
			w.Cursor, w.Created, w.Updated)
		switch {
		case err == nil:
			return w, webhookChanged(ctx, tx, w.DirectoryID)
		case isUnique(err):
			return store.Webhook{}, fmt.Errorf("%w: webhook id %q already exists", store.ErrConflict, w.ID)
		case isForeignKey(err):
			return store.Webhook{}, fmt.Errorf("%w: directory %q", store.ErrNotFound, w.DirectoryID)
		}
		return store.Webhook{}, wrap("create webhook", err)
	})
}

// webhookChanged records an administrator's change: its audit entry and
// the notification.
func webhookChanged(ctx context.Context, tx *tx, directoryID string) error {
	if err := insertAudit(ctx, tx, directoryID); err != nil {
		return err
	}
	return notify(ctx, tx, store.Change{Kind: store.ChangeWebhook, DirectoryID: directoryID})
}

// GetWebhook returns one webhook of the directory.
func (db *DB) GetWebhook(ctx context.Context, directoryID, id string) (store.Webhook, error) {
	return getWebhook(ctx, db.pool, directoryID, id, "")
}

func getWebhook(ctx context.Context, q querier, directoryID, id, lock string) (store.Webhook, error) {
	w, err := scanWebhook(q.QueryRow(ctx, `SELECT `+webhookColumns+webhookFrom+`
		WHERE w.directory_id = $1 AND w.id = $2 `+lock, directoryID, id))
	if isNoRows(err) {
		return w, fmt.Errorf("%w: webhook %q", store.ErrNotFound, id)
	}
	return w, err
}

// ListWebhooks returns the directory's webhooks, oldest first.
func (db *DB) ListWebhooks(ctx context.Context, directoryID string) ([]store.Webhook, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+webhookColumns+webhookFrom+`
		WHERE w.directory_id = $1 ORDER BY w.created, w.id`, directoryID)
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

// UpdateWebhook is read-modify-write under the webhook's row lock.
func (db *DB) UpdateWebhook(ctx context.Context, directoryID, id string, fn func(store.Webhook) (store.Webhook, error)) (store.Webhook, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Webhook, error) {
		old, err := getWebhook(ctx, tx, directoryID, id, "FOR UPDATE OF w")
		if err != nil {
			return store.Webhook{}, err
		}
		w, err := fn(old.Clone())
		if err != nil {
			return store.Webhook{}, err
		}
		w.DirectoryID, w.ID, w.Created, w.Updated = old.DirectoryID, old.ID, old.Created, tx.now
		if _, err := tx.Exec(ctx, `UPDATE webhooks SET url = $1, description = $2, events = $3, enabled = $4,
			disabled_reason = $5, sealed = $6, cursor = $7, updated = $8 WHERE directory_id = $9 AND id = $10`,
			w.URL, w.Description, w.Events, w.Enabled, w.DisabledReason, w.Sealed, w.Cursor, w.Updated,
			directoryID, id); err != nil {
			return store.Webhook{}, wrap("update webhook", err)
		}
		return w, webhookChanged(ctx, tx, directoryID)
	})
}

// DeleteWebhook removes the webhook; its delivery log cascades.
func (db *DB) DeleteWebhook(ctx context.Context, directoryID, id string) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := getWebhook(ctx, tx, directoryID, id, "FOR UPDATE OF w"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE directory_id = $1 AND id = $2`, directoryID, id); err != nil {
			return wrap("delete webhook", err)
		}
		return webhookChanged(ctx, tx, directoryID)
	})
}

// WebhookDirectories returns the directories with an enabled webhook.
func (db *DB) WebhookDirectories(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT w.directory_id`+webhookFrom+` WHERE w.enabled ORDER BY 1`)
	if err != nil {
		return nil, wrap("list webhook directories", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("list webhook directories", err)
}

// AdvanceWebhook moves the cursor forward only.
func (db *DB) AdvanceWebhook(ctx context.Context, directoryID, id string, cursor int64) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		return advanceWebhook(ctx, tx, directoryID, id, cursor)
	})
}

func advanceWebhook(ctx context.Context, tx *tx, directoryID, id string, cursor int64) error {
	tag, err := tx.Exec(ctx, `UPDATE webhooks SET cursor = greatest(cursor, $1) WHERE directory_id = $2 AND id = $3`,
		cursor, directoryID, id)
	if err != nil {
		return wrap("advance webhook", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: webhook %q", store.ErrNotFound, id)
	}
	return nil
}

// SaveDelivery replaces the event's log entry and moves the webhook on,
// in one round trip inside the transaction: the webhook's update (which
// locks its row and finds it, its directory not being deleted) and the
// entry's upsert go as one batch.
func (db *DB) SaveDelivery(ctx context.Context, d store.WebhookDelivery, disable string) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		var next *time.Time
		if d.Status == store.DeliveryPending {
			n := d.NextAttempt
			next = &n
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE webhooks w SET
				cursor = CASE WHEN $3::boolean THEN greatest(w.cursor, $4) ELSE w.cursor END,
				enabled = w.enabled AND $5::text = '',
				disabled_reason = CASE WHEN $5::text = '' THEN w.disabled_reason ELSE $5::text END,
				updated = CASE WHEN $5::text = '' THEN w.updated ELSE $6 END
			FROM directories d WHERE w.directory_id = $1 AND w.id = $2 AND d.id = w.directory_id AND NOT d.deleting`,
			d.DirectoryID, d.WebhookID, d.Status == store.DeliveryDelivered, d.Seq, disable, tx.now)
		b.Queue(`INSERT INTO webhook_deliveries (directory_id, webhook_id, seq, event_type, status,
			attempts, first_attempt, last_attempt, next_attempt, response_status, last_error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (directory_id, webhook_id, seq) DO UPDATE SET event_type = excluded.event_type,
				status = excluded.status, attempts = excluded.attempts, first_attempt = excluded.first_attempt,
				last_attempt = excluded.last_attempt, next_attempt = excluded.next_attempt,
				response_status = excluded.response_status, last_error = excluded.last_error`,
			d.DirectoryID, d.WebhookID, d.Seq, d.EventType, d.Status, d.Attempts, d.FirstAttempt, d.LastAttempt,
			next, d.ResponseStatus, d.LastError)
		br := tx.SendBatch(ctx, b)
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return wrap("save delivery", err)
		}
		if tag.RowsAffected() == 0 {
			_ = br.Close() // the entry's insert fails or is rolled back with the transaction
			return fmt.Errorf("%w: webhook %q", store.ErrNotFound, d.WebhookID)
		}
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return wrap("save delivery", err)
		}
		return wrap("save delivery", br.Close())
	})
}

const deliveryColumns = `directory_id, webhook_id, seq, event_type, status, attempts, first_attempt, last_attempt,
	next_attempt, response_status, last_error`

// GetDelivery returns the log entry of one event.
func (db *DB) GetDelivery(ctx context.Context, directoryID, webhookID string, seq int64) (store.WebhookDelivery, error) {
	d, err := scanDelivery(db.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE directory_id = $1 AND webhook_id = $2 AND seq = $3`, directoryID, webhookID, seq))
	if isNoRows(err) {
		return d, fmt.Errorf("%w: delivery of event %d", store.ErrNotFound, seq)
	}
	return d, err
}

// ListDeliveries returns the webhook's log, newest event first.
func (db *DB) ListDeliveries(ctx context.Context, directoryID, webhookID string, q store.DeliveryQuery) ([]store.WebhookDelivery, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE directory_id = $1 AND webhook_id = $2 AND ($3 = 0 OR seq < $3) AND ($4 = '' OR status = $4)
		ORDER BY seq DESC LIMIT $5`, directoryID, webhookID, q.Before, q.Status, q.Limit)
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

// PruneDeliveries deletes finished entries a batch per statement.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := db.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE (directory_id, webhook_id, seq) IN
			(SELECT directory_id, webhook_id, seq FROM webhook_deliveries
			 WHERE status <> 'pending' AND last_attempt < $1 LIMIT $2)`, before, pruneBatch)
		if err != nil {
			return total, wrap("prune deliveries", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

func scanWebhook(row pgx.Row) (store.Webhook, error) {
	var w store.Webhook
	if err := row.Scan(&w.DirectoryID, &w.ID, &w.URL, &w.Description, &w.Events, &w.Enabled, &w.DisabledReason,
		&w.Sealed, &w.Cursor, &w.Created, &w.Updated); err != nil {
		if isNoRows(err) {
			return w, err
		}
		return w, wrap("scan webhook", err)
	}
	w.Created, w.Updated = utc(w.Created), utc(w.Updated)
	return w, nil
}

func scanDelivery(row pgx.Row) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var next *time.Time
	if err := row.Scan(&d.DirectoryID, &d.WebhookID, &d.Seq, &d.EventType, &d.Status, &d.Attempts, &d.FirstAttempt,
		&d.LastAttempt, &next, &d.ResponseStatus, &d.LastError); err != nil {
		if isNoRows(err) {
			return d, err
		}
		return d, wrap("scan delivery", err)
	}
	d.FirstAttempt, d.LastAttempt = utc(d.FirstAttempt), utc(d.LastAttempt)
	d.NextAttempt = utcPtr(next)
	return d, nil
}
