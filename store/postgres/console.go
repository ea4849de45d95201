package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// CreateConsoleSession stores a session and deletes the expired ones, so
// that the table holds only what can still sign someone in. Sessions live
// in the database, so every replica knows every session.
func (db *DB) CreateConsoleSession(ctx context.Context, s store.ConsoleSession) (store.ConsoleSession, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.ConsoleSession, error) {
		s := s
		s.Created = tx.now
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires < $1`, tx.now); err != nil {
			return s, wrap("prune console sessions", err)
		}
		var link *string
		if s.SetupLinkID != "" {
			link = &s.SetupLinkID
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_sessions (hash, id, directory_id, setup_link_id, created, last_seen, expires)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.Hash, s.ID, s.DirectoryID, link,
			s.Created, s.LastSeen.UTC().Truncate(time.Microsecond), s.Expires.UTC().Truncate(time.Microsecond))
		switch {
		case isForeignKey(err):
			return s, fmt.Errorf("%w: setup link %q", store.ErrNotFound, s.SetupLinkID)
		case isUnique(err):
			return s, fmt.Errorf("%w: console session", store.ErrConflict)
		}
		s.LastSeen, s.Expires = s.LastSeen.UTC().Truncate(time.Microsecond), s.Expires.UTC().Truncate(time.Microsecond)
		return s, wrap("create console session", err)
	})
}

// ConsoleSessionByHash reads a session by the hash of its id.
func (db *DB) ConsoleSessionByHash(ctx context.Context, hash []byte) (store.ConsoleSession, error) {
	var s store.ConsoleSession
	var link *string
	err := db.pool.QueryRow(ctx, `SELECT hash, id, directory_id, setup_link_id, created, last_seen, expires
		FROM console_sessions WHERE hash = $1`, hash).Scan(&s.Hash, &s.ID, &s.DirectoryID, &link, &s.Created, &s.LastSeen, &s.Expires)
	if isNoRows(err) {
		return s, fmt.Errorf("%w: console session", store.ErrNotFound)
	}
	if err != nil {
		return s, wrap("read console session", err)
	}
	if link != nil {
		s.SetupLinkID = *link
	}
	s.Created, s.LastSeen, s.Expires = utc(s.Created), utc(s.LastSeen), utc(s.Expires)
	return s, nil
}

// TouchConsoleSession records the session's last activity.
func (db *DB) TouchConsoleSession(ctx context.Context, hash []byte, lastSeen time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE console_sessions SET last_seen = $1 WHERE hash = $2`, lastSeen.UTC(), hash)
	if err != nil {
		return wrap("touch console session", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: console session", store.ErrNotFound)
	}
	return nil
}

// DeleteConsoleSession signs a session out.
func (db *DB) DeleteConsoleSession(ctx context.Context, hash []byte) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM console_sessions WHERE hash = $1`, hash)
	return wrap("delete console session", err)
}

const setupLinkColumns = `l.id, l.directory_id, l.hash, l.created, l.expires`

// CreateSetupLink stores a setup link of a directory that is not being
// deleted.
func (db *DB) CreateSetupLink(ctx context.Context, l store.SetupLink) (store.SetupLink, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.SetupLink, error) {
		l := l
		l.Created, l.Expires = tx.now, l.Expires.UTC().Truncate(time.Microsecond)
		tag, err := tx.Exec(ctx, `INSERT INTO setup_links (id, directory_id, hash, created, expires)
			SELECT $1, id, $2, $3, $4 FROM directories WHERE id = $5 AND NOT deleting`,
			l.ID, l.Hash, l.Created, l.Expires, l.DirectoryID)
		switch {
		case isUnique(err):
			return l, fmt.Errorf("%w: setup link %q already exists", store.ErrConflict, l.ID)
		case err != nil:
			return l, wrap("create setup link", err)
		case tag.RowsAffected() == 0:
			return l, fmt.Errorf("%w: directory %q", store.ErrNotFound, l.DirectoryID)
		}
		return l, insertAudit(ctx, tx, l.DirectoryID)
	})
}

// ListSetupLinks returns the directory's links, newest first.
func (db *DB) ListSetupLinks(ctx context.Context, directoryID string) ([]store.SetupLink, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+setupLinkColumns+` FROM setup_links l
		WHERE l.directory_id = $1 ORDER BY l.created DESC, l.id`, directoryID)
	if err != nil {
		return nil, wrap("list setup links", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SetupLink, error) { return scanSetupLink(row) })
	return out, wrap("list setup links", err)
}

// SetupLinkByHash finds a link by the hash of its secret.
func (db *DB) SetupLinkByHash(ctx context.Context, hash []byte) (store.SetupLink, error) {
	l, err := scanSetupLink(db.pool.QueryRow(ctx, `SELECT `+setupLinkColumns+` FROM setup_links l
		JOIN directories d ON d.id = l.directory_id WHERE l.hash = $1 AND NOT d.deleting`, hash))
	if isNoRows(err) {
		return l, fmt.Errorf("%w: setup link", store.ErrNotFound)
	}
	return l, wrap("read setup link", err)
}

// DeleteSetupLink revokes a link; its sessions go with it (the foreign
// key cascades).
func (db *DB) DeleteSetupLink(ctx context.Context, directoryID, id string) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM setup_links WHERE directory_id = $1 AND id = $2`, directoryID, id)
		if err != nil {
			return wrap("delete setup link", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: setup link %q", store.ErrNotFound, id)
		}
		return insertAudit(ctx, tx, directoryID)
	})
}

func scanSetupLink(row pgx.Row) (store.SetupLink, error) {
	var l store.SetupLink
	if err := row.Scan(&l.ID, &l.DirectoryID, &l.Hash, &l.Created, &l.Expires); err != nil {
		return l, err
	}
	l.Created, l.Expires = utc(l.Created), utc(l.Expires)
	return l, nil
}

// DirectoryOverviews reads every directory with its figures in one
// statement: each figure is a subquery on an index of the directory's
// rows (counts read users_created and groups_created; the last change is
// the newest row of sync_events_directory that is not presence; failures
// read the partial index of refused writes).
func (db *DB) DirectoryOverviews(ctx context.Context, since time.Time, id string) ([]store.DirectoryOverview, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.name, d.scim_token_hash, d.previous_token_hash, d.previous_token_expires,
		d.mapping, d.created, d.updated,
		(SELECT count(*) FROM users u WHERE u.directory_id = d.id),
		(SELECT count(*) FROM groups g WHERE g.directory_id = d.id),
		(SELECT e.time FROM sync_events e WHERE e.directory_id = d.id AND e.resource_type IN ('User', 'Group')
			ORDER BY e.id DESC LIMIT 1),
		(SELECT count(*) FROM sync_events f WHERE f.directory_id = d.id AND f.failed AND f.time >= $1),
		coalesce(p.state, '')
		FROM directories d LEFT JOIN presence_links p ON p.directory_id = d.id
		WHERE NOT d.deleting AND ($2 = '' OR d.id = $2) ORDER BY d.created, d.id`, ceilMicro(since), id)
	if err != nil {
		return nil, wrap("list directory overviews", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DirectoryOverview, error) {
		var o store.DirectoryOverview
		var mapping *string
		var prevExpires, last *time.Time
		d := &o.Directory
		err := row.Scan(&d.ID, &d.Name, &d.SCIMTokenHash, &d.PreviousTokenHash, &prevExpires, &mapping, &d.Created, &d.Updated,
			&o.Users, &o.Groups, &last, &o.Failures, &o.PresenceState)
		if mapping != nil {
			d.Mapping = []byte(*mapping)
		}
		d.PreviousTokenExpires, d.Created, d.Updated = utcPtr(prevExpires), utc(d.Created), utc(d.Updated)
		o.LastSCIMChange = utcPtr(last)
		return o, err
	})
	return out, wrap("list directory overviews", err)
}
