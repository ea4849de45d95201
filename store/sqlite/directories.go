package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/scimd/scimd/store"
)

const directoryColumns = `id, name, scim_token_hash, previous_token_hash, previous_token_expires, mapping, created, updated, rules_version`

// CreateDirectory stores d with the transaction's time as Created and
// Updated.
func (db *DB) CreateDirectory(ctx context.Context, d store.Directory) (store.Directory, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Directory, error) {
		d.Created, d.Updated = tx.now, tx.now
		_, err := tx.ExecContext(ctx, `INSERT INTO directories (`+directoryColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Name, d.SCIMTokenHash, d.PreviousTokenHash, optTime(d.PreviousTokenExpires), nullText(d.Mapping),
			formatTime(d.Created), formatTime(d.Updated), d.RulesVersion)
		if isPrimaryKey(err) {
			return store.Directory{}, fmt.Errorf("%w: directory %q already exists", store.ErrConflict, d.ID)
		}
		if err != nil {
			return store.Directory{}, wrap("create directory", err)
		}
		return d, insertAudit(ctx, tx, d.ID)
	})
}

// GetDirectory returns the directory id.
func (db *DB) GetDirectory(ctx context.Context, id string) (store.Directory, error) {
	d, gen, ok := db.dirs.Get(id)
	if ok {
		return d.Clone(), nil
	}
	d, err := getDirectory(ctx, db.r, id)
	if err != nil {
		return d, err
	}
	db.dirs.Put(id, d.Clone(), gen)
	return d, nil
}

func getDirectory(ctx context.Context, q querier, id string) (store.Directory, error) {
	d, err := scanDirectory(q.QueryRowContext(ctx, `SELECT `+directoryColumns+` FROM directories WHERE id = ? AND deleting = 0`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("%w: directory %q", store.ErrNotFound, id)
	}
	return d, err
}

// ListDirectories returns every directory, oldest first.
func (db *DB) ListDirectories(ctx context.Context) ([]store.Directory, error) {
	tx, err := db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+directoryColumns+` FROM directories WHERE deleting = 0 ORDER BY created, id`)
	if err != nil {
		return nil, wrap("list directories", err)
	}
	defer rows.Close()
	var ds []store.Directory
	for rows.Next() {
		d, err := scanDirectory(rows)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, wrap("list directories", rows.Err())
}

// UpdateDirectory replaces the name, token hashes, mapping and rules
// version of directory id with those fn returns.
func (db *DB) UpdateDirectory(ctx context.Context, id string, fn func(store.Directory) (store.Directory, error)) (store.Directory, error) {
	defer db.dirs.Invalidate()
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Directory, error) {
		old, err := getDirectory(ctx, tx, id)
		if err != nil {
			return store.Directory{}, err
		}
		d, err := fn(old)
		if err != nil {
			return store.Directory{}, err
		}
		d.ID, d.Created, d.Updated = old.ID, old.Created, tx.now
		if _, err := tx.ExecContext(ctx, `UPDATE directories SET name = ?, scim_token_hash = ?, previous_token_hash = ?,
			previous_token_expires = ?, mapping = ?, updated = ?, rules_version = ? WHERE id = ?`,
			d.Name, d.SCIMTokenHash, d.PreviousTokenHash, optTime(d.PreviousTokenExpires), nullText(d.Mapping),
			formatTime(d.Updated), d.RulesVersion, d.ID); err != nil {
			return store.Directory{}, wrap("update directory", err)
		}
		return d, insertAudit(ctx, tx, d.ID)
	})
}

// DeleteDirectory removes the directory and all of its data, in steps:
// a first transaction marks it deleting, which hides it from every read
// (and so from SCIM and lookup authentication) and stops its presence
// polling; then its rows are purged a batch per transaction, so that
// other directories' writes go on between batches; then its row goes,
// cascading to what is left. A purge that a shutdown cuts short resumes
// at the next start (ResumeDeletes).
func (db *DB) DeleteDirectory(ctx context.Context, id string) error {
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE directories SET deleting = 1 WHERE id = ? AND deleting = 0`, id)
		if err != nil {
			return wrap("delete directory", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap("delete directory", err)
		} else if n == 0 {
			return fmt.Errorf("%w: directory %q", store.ErrNotFound, id)
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM presence_links WHERE directory_id = ?`, id); err != nil {
			return wrap("delete directory", err)
		}
		// Its setup links, and the console sessions opened with them, end now.
		if _, err = tx.ExecContext(ctx, `DELETE FROM setup_links WHERE directory_id = ?`, id); err != nil {
			return wrap("delete directory", err)
		}
		return insertAudit(ctx, tx, id)
	})
	db.dirs.Invalidate()
	db.keys.Invalidate() // the directory's keys go with it
	db.phones.forget(id)
	if err != nil {
		return err
	}
	store.Hidden(ctx)
	// Finish even if the caller goes away: the directory is gone for it.
	return db.purgeDirectory(context.WithoutCancel(ctx), id)
}

// ResumeDeletes finishes the deletes of directories that a shutdown cut
// short, until ctx ends, and returns how many it finished.
func (db *DB) ResumeDeletes(ctx context.Context) (int, error) {
	ids, err := db.readStrings(ctx, `SELECT id FROM directories WHERE deleting = 1 ORDER BY id`)
	if err != nil {
		return 0, err
	}
	for i, id := range ids {
		if err := db.purgeDirectory(ctx, id); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

// purgeBatch is how many users or groups (with their memberships, phones,
// words and presence) one purge transaction deletes, and ten times as
// many sync events: about 50 ms of the writer each. A variable for tests.
var purgeBatch = 500

// purgeDirectory deletes a deleting directory's rows a batch at a time,
// then the directory.
func (db *DB) purgeDirectory(ctx context.Context, id string) error {
	for _, step := range []struct {
		sql  string
		size int
	}{
		{`DELETE FROM users WHERE directory_id = ?1 AND id IN (SELECT id FROM users WHERE directory_id = ?1 LIMIT ?2)`, purgeBatch},
		{`DELETE FROM groups WHERE directory_id = ?1 AND id IN (SELECT id FROM groups WHERE directory_id = ?1 LIMIT ?2)`, purgeBatch},
		{`DELETE FROM sync_events WHERE id IN (SELECT id FROM sync_events WHERE directory_id = ?1 ORDER BY id LIMIT ?2)`, 10 * purgeBatch},
		{`DELETE FROM change_events WHERE directory_id = ?1
			AND seq IN (SELECT seq FROM change_events WHERE directory_id = ?1 ORDER BY seq LIMIT ?2)`, 10 * purgeBatch},
	} {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := writeTx(db, ctx, func(ctx context.Context, tx *tx) (int64, error) {
				res, err := tx.ExecContext(ctx, step.sql, id, step.size)
				if err != nil {
					return 0, wrap("delete directory", err)
				}
				n, err := res.RowsAffected()
				return n, wrap("delete directory", err)
			})
			if err != nil {
				return err
			}
			if n < int64(step.size) { // the last batch
				break
			}
		}
	}
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM directories WHERE id = ? AND deleting = 1`, id)
		return wrap("delete directory", err)
	})
}

func scanDirectory(row interface{ Scan(...any) error }) (store.Directory, error) {
	var d store.Directory
	var prevExpires, created, updated string
	var mapping sql.NullString
	if err := row.Scan(&d.ID, &d.Name, &d.SCIMTokenHash, &d.PreviousTokenHash, &prevExpires, &mapping, &created, &updated, &d.RulesVersion); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return d, err
		}
		return d, wrap("scan directory", err)
	}
	if mapping.Valid {
		d.Mapping = []byte(mapping.String)
	}
	var err1, err2, err3 error
	d.PreviousTokenExpires, err1 = parseOptTime(prevExpires)
	d.Created, err2 = parseTime(created)
	d.Updated, err3 = parseTime(updated)
	return d, errors.Join(err1, err2, err3)
}
