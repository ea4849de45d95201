package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/store"
)

// CreateConsoleSession stores a session and deletes the expired ones, so
// that the table holds only what can still sign someone in.
func (db *DB) CreateConsoleSession(ctx context.Context, s store.ConsoleSession) (store.ConsoleSession, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.ConsoleSession, error) {
		s.Created = tx.now
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires < ?`, formatTime(tx.now)); err != nil {
			return s, wrap("prune console sessions", err)
		}
		var link any
		if s.SetupLinkID != "" {
			link = s.SetupLinkID
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (hash, id, directory_id, setup_link_id, created, last_seen, expires)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, s.Hash, s.ID, s.DirectoryID, link,
			formatTime(s.Created), formatTime(s.LastSeen), formatTime(s.Expires))
		switch {
		case isForeignKey(err):
			return s, fmt.Errorf("%w: setup link %q", store.ErrNotFound, s.SetupLinkID)
		case isPrimaryKey(err) || isUnique(err):
			return s, fmt.Errorf("%w: console session", store.ErrConflict)
		}
		return s, wrap("create console session", err)
	})
}

// ConsoleSessionByHash reads a session by the hash of its id.
func (db *DB) ConsoleSessionByHash(ctx context.Context, hash []byte) (store.ConsoleSession, error) {
	var s store.ConsoleSession
	var link sql.NullString
	var created, seen, expires string
	err := db.r.QueryRowContext(ctx, `SELECT hash, id, directory_id, setup_link_id, created, last_seen, expires
		FROM console_sessions WHERE hash = ?`, hash).Scan(&s.Hash, &s.ID, &s.DirectoryID, &link, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("%w: console session", store.ErrNotFound)
	}
	if err != nil {
		return s, wrap("read console session", err)
	}
	s.SetupLinkID = link.String
	var err1, err2, err3 error
	s.Created, err1 = parseTime(created)
	s.LastSeen, err2 = parseTime(seen)
	s.Expires, err3 = parseTime(expires)
	return s, errors.Join(err1, err2, err3)
}

// TouchConsoleSession records the session's last activity.
func (db *DB) TouchConsoleSession(ctx context.Context, hash []byte, lastSeen time.Time) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE console_sessions SET last_seen = ? WHERE hash = ?`, formatTime(lastSeen), hash)
		if err != nil {
			return wrap("touch console session", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap("touch console session", err)
		} else if n == 0 {
			return fmt.Errorf("%w: console session", store.ErrNotFound)
		}
		return nil
	})
}

// DeleteConsoleSession signs a session out.
func (db *DB) DeleteConsoleSession(ctx context.Context, hash []byte) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE hash = ?`, hash)
		return wrap("delete console session", err)
	})
}

const setupLinkColumns = `l.id, l.directory_id, l.hash, l.created, l.expires`

// CreateSetupLink stores a setup link of a directory that is not being
// deleted.
func (db *DB) CreateSetupLink(ctx context.Context, l store.SetupLink) (store.SetupLink, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.SetupLink, error) {
		l.Created = tx.now
		res, err := tx.ExecContext(ctx, `INSERT INTO setup_links (id, directory_id, hash, created, expires)
			SELECT ?, id, ?, ?, ? FROM directories WHERE id = ? AND deleting = 0`,
			l.ID, l.Hash, formatTime(l.Created), formatTime(l.Expires), l.DirectoryID)
		switch {
		case isPrimaryKey(err) || isUnique(err):
			return l, fmt.Errorf("%w: setup link %q already exists", store.ErrConflict, l.ID)
		case err != nil:
			return l, wrap("create setup link", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return l, wrap("create setup link", err)
		} else if n == 0 {
			return l, fmt.Errorf("%w: directory %q", store.ErrNotFound, l.DirectoryID)
		}
		return l, insertAudit(ctx, tx, l.DirectoryID)
	})
}

// ListSetupLinks returns the directory's links, newest first.
func (db *DB) ListSetupLinks(ctx context.Context, directoryID string) ([]store.SetupLink, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+setupLinkColumns+` FROM setup_links l
		WHERE l.directory_id = ? ORDER BY l.created DESC, l.id`, directoryID)
	if err != nil {
		return nil, wrap("list setup links", err)
	}
	defer rows.Close()
	var out []store.SetupLink
	for rows.Next() {
		l, err := scanSetupLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, wrap("list setup links", rows.Err())
}

// SetupLinkByHash finds a link by the hash of its secret.
func (db *DB) SetupLinkByHash(ctx context.Context, hash []byte) (store.SetupLink, error) {
	l, err := scanSetupLink(db.r.QueryRowContext(ctx, `SELECT `+setupLinkColumns+` FROM setup_links l
		JOIN directories d ON d.id = l.directory_id WHERE l.hash = ? AND d.deleting = 0`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("%w: setup link", store.ErrNotFound)
	}
	return l, err
}

// DeleteSetupLink revokes a link; its sessions go with it (the foreign
// key cascades).
func (db *DB) DeleteSetupLink(ctx context.Context, directoryID, id string) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM setup_links WHERE directory_id = ? AND id = ?`, directoryID, id)
		if err != nil {
			return wrap("delete setup link", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap("delete setup link", err)
		} else if n == 0 {
			return fmt.Errorf("%w: setup link %q", store.ErrNotFound, id)
		}
		return insertAudit(ctx, tx, directoryID)
	})
}

func scanSetupLink(row interface{ Scan(...any) error }) (store.SetupLink, error) {
	var l store.SetupLink
	var created, expires string
	if err := row.Scan(&l.ID, &l.DirectoryID, &l.Hash, &created, &expires); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return l, err
		}
		return l, wrap("scan setup link", err)
	}
	var err1, err2 error
	l.Created, err1 = parseTime(created)
	l.Expires, err2 = parseTime(expires)
	return l, errors.Join(err1, err2)
}

// DirectoryOverviews reads every directory with its figures in one
// statement: each figure is a subquery on an index of the directory's
// rows (counts walk users_created and groups_created; the last change is
// the newest row of sync_events_directory that is not presence; failures
// read the partial index of refused writes).
func (db *DB) DirectoryOverviews(ctx context.Context, since time.Time, id string) ([]store.DirectoryOverview, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT d.id, d.name, d.scim_token_hash, d.previous_token_hash, d.previous_token_expires, d.mapping, d.created, d.updated,
		(SELECT count(*) FROM users u WHERE u.directory_id = d.id),
		(SELECT count(*) FROM groups g WHERE g.directory_id = d.id),
		coalesce((SELECT e.time FROM sync_events e WHERE e.directory_id = d.id AND e.resource_type IN ('User', 'Group')
			ORDER BY e.id DESC LIMIT 1), ''),
		(SELECT count(*) FROM sync_events f WHERE f.directory_id = d.id AND f.failed = 1 AND f.time >= ?1),
		coalesce(p.state, '')
		FROM directories d LEFT JOIN presence_links p ON p.directory_id = d.id
		WHERE d.deleting = 0 AND (?2 = '' OR d.id = ?2) ORDER BY d.created, d.id`, formatTime(since), id)
	if err != nil {
		return nil, wrap("list directory overviews", err)
	}
	defer rows.Close()
	var out []store.DirectoryOverview
	for rows.Next() {
		var o store.DirectoryOverview
		var prevExpires, created, updated, last string
		var mapping sql.NullString
		d := &o.Directory
		if err := rows.Scan(&d.ID, &d.Name, &d.SCIMTokenHash, &d.PreviousTokenHash, &prevExpires, &mapping, &created, &updated,
			&o.Users, &o.Groups, &last, &o.Failures, &o.PresenceState); err != nil {
			return nil, wrap("scan directory overview", err)
		}
		if mapping.Valid {
			d.Mapping = []byte(mapping.String)
		}
		var err1, err2, err3, err4 error
		d.PreviousTokenExpires, err1 = parseOptTime(prevExpires)
		d.Created, err2 = parseTime(created)
		d.Updated, err3 = parseTime(updated)
		o.LastSCIMChange, err4 = parseOptTime(last)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, wrap("list directory overviews", rows.Err())
}
