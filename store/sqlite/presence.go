package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/store"
)

const presenceLinkColumns = `directory_id, state, tenant_id, client_id, credential, sealed,
	consent_state_hash, consent_expires, last_poll, contacts_polled, skipped, last_error, updated`

// GetPresenceLink returns the directory's presence link.
func (db *DB) GetPresenceLink(ctx context.Context, directoryID string) (store.PresenceLink, error) {
	l, err := scanPresenceLink(db.r.QueryRowContext(ctx, `SELECT `+presenceLinkColumns+` FROM presence_links
		WHERE directory_id = ?`, directoryID))
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("%w: presence of directory %q", store.ErrNotFound, directoryID)
	}
	return l, err
}

// PresenceLinkByConsentState finds the link whose pending consent state
// hashes to hash.
func (db *DB) PresenceLinkByConsentState(ctx context.Context, hash []byte) (store.PresenceLink, error) {
	l, err := scanPresenceLink(db.r.QueryRowContext(ctx, `SELECT `+presenceLinkColumns+` FROM presence_links
		WHERE consent_state_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("%w: no pending consent with this state", store.ErrNotFound)
	}
	return l, err
}

// ListPresenceLinks returns every directory's link.
func (db *DB) ListPresenceLinks(ctx context.Context) ([]store.PresenceLink, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+presenceLinkColumns+` FROM presence_links ORDER BY directory_id`)
	if err != nil {
		return nil, wrap("list presence links", err)
	}
	defer rows.Close()
	var out []store.PresenceLink
	for rows.Next() {
		l, err := scanPresenceLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, wrap("list presence links", rows.Err())
}

// PutPresenceLink replaces the directory's link.
func (db *DB) PutPresenceLink(ctx context.Context, l store.PresenceLink, ev store.SyncEvent) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		if err := putPresenceLink(ctx, tx, l); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, l.DirectoryID); err != nil {
			return err
		}
		return insertEvent(ctx, tx, l.DirectoryID, ev)
	})
}

// RevokePresence stores l and deletes the directory's presence rows.
func (db *DB) RevokePresence(ctx context.Context, l store.PresenceLink, ev store.SyncEvent) (int64, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (int64, error) {
		if err := putPresenceLink(ctx, tx, l); err != nil {
			return 0, err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM presence WHERE directory_id = ?`, l.DirectoryID)
		if err != nil {
			return 0, wrap("clear presence", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, wrap("clear presence", err)
		}
		if err := insertAudit(ctx, tx, l.DirectoryID); err != nil {
			return 0, err
		}
		return n, insertEvent(ctx, tx, l.DirectoryID, ev)
	})
}

func putPresenceLink(ctx context.Context, tx *tx, l store.PresenceLink) error {
	var consent any // NULL keeps the UNIQUE index to real states
	if len(l.ConsentStateHash) > 0 {
		consent = l.ConsentStateHash
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO presence_links (`+presenceLinkColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.DirectoryID, l.State, l.TenantID, l.ClientID, l.Credential, l.Sealed,
		consent, optTime(l.ConsentExpires), optTime(l.LastPoll), l.ContactsPolled, l.Skipped, l.LastError,
		formatTime(tx.now))
	switch {
	case err == nil:
		return nil
	case isForeignKey(err):
		return fmt.Errorf("%w: directory %q", store.ErrNotFound, l.DirectoryID)
	}
	return wrap("store presence link", err)
}

func scanPresenceLink(row interface{ Scan(...any) error }) (store.PresenceLink, error) {
	var l store.PresenceLink
	var consentExpires, lastPoll, updated string
	err := row.Scan(&l.DirectoryID, &l.State, &l.TenantID, &l.ClientID, &l.Credential, &l.Sealed,
		&l.ConsentStateHash, &consentExpires, &lastPoll, &l.ContactsPolled, &l.Skipped, &l.LastError, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return l, err
	}
	if err != nil {
		return l, wrap("read presence link", err)
	}
	var err1, err2, err3 error
	l.ConsentExpires, err1 = parseOptTime(consentExpires)
	l.LastPoll, err2 = parseOptTime(lastPoll)
	l.Updated, err3 = parseTime(updated)
	return l, errors.Join(err1, err2, err3)
}

// optTime stores the zero time as "".
func optTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatTime(t)
}

func parseOptTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return parseTime(s)
}

// PresenceTargets returns the directory's active users with an object id.
func (db *DB) PresenceTargets(ctx context.Context, directoryID string) ([]store.PresenceTarget, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, json_extract(contact, '$.objectId'), version FROM users
		WHERE directory_id = ? AND active = 1 AND json_extract(contact, '$.objectId') != '' ORDER BY id`, directoryID)
	if err != nil {
		return nil, wrap("list presence targets", err)
	}
	defer rows.Close()
	var out []store.PresenceTarget
	for rows.Next() {
		var t store.PresenceTarget
		if err := rows.Scan(&t.UserID, &t.ObjectID, &t.Version); err != nil {
			return nil, wrap("list presence targets", err)
		}
		out = append(out, t)
	}
	return out, wrap("list presence targets", rows.Err())
}

// ListPresence returns the directory's stored presence.
func (db *DB) ListPresence(ctx context.Context, directoryID string) ([]store.Presence, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT user_id, availability, activity, observed_at FROM presence
		WHERE directory_id = ? ORDER BY user_id`, directoryID)
	if err != nil {
		return nil, wrap("list presence", err)
	}
	defer rows.Close()
	var out []store.Presence
	for rows.Next() {
		var p store.Presence
		var at string
		if err := rows.Scan(&p.UserID, &p.Availability, &p.Activity, &at); err != nil {
			return nil, wrap("list presence", err)
		}
		if p.ObservedAt, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, wrap("list presence", rows.Err())
}

// WritePresence upserts set and deletes del. A user deleted meanwhile is
// skipped: INSERT ... SELECT finds no row to insert.
func (db *DB) WritePresence(ctx context.Context, directoryID string, set []store.Presence, del []string) error {
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		for _, p := range set {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO presence
				(directory_id, user_id, availability, activity, observed_at)
				SELECT directory_id, id, ?, ?, ? FROM users WHERE directory_id = ? AND id = ?`,
				p.Availability, p.Activity, formatTime(p.ObservedAt), directoryID, p.UserID); err != nil {
				return wrap("store presence", err)
			}
		}
		for _, id := range del {
			if _, err := tx.ExecContext(ctx, `DELETE FROM presence WHERE directory_id = ? AND user_id = ?`,
				directoryID, id); err != nil {
				return wrap("clear presence", err)
			}
		}
		return nil
	})
}
