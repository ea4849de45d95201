package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

const directoryColumns = `id, name, scim_token_hash, previous_token_hash, previous_token_expires, mapping, created, updated, rules_version`

// CreateDirectory stores d with the transaction's time as Created and
// Updated.
func (db *DB) CreateDirectory(ctx context.Context, d store.Directory) (store.Directory, error) {
	d, err := writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Directory, error) {
		d := d
		d.Created, d.Updated = tx.now, tx.now
		_, err := tx.Exec(ctx, `INSERT INTO directories (`+directoryColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			d.ID, d.Name, d.SCIMTokenHash, d.PreviousTokenHash, nullTime(d.PreviousTokenExpires), nullText(d.Mapping),
			d.Created, d.Updated, d.RulesVersion)
		if isUnique(err) {
			return store.Directory{}, fmt.Errorf("%w: directory %q already exists", store.ErrConflict, d.ID)
		}
		if err != nil {
			return store.Directory{}, wrap("create directory", err)
		}
		if err := insertAudit(ctx, tx, d.ID); err != nil {
			return store.Directory{}, err
		}
		return d, notify(ctx, tx, store.Change{Kind: store.ChangeDirectory, DirectoryID: d.ID})
	})
	db.dirs.Invalidate()
	return d, err
}

// GetDirectory returns the directory id. Every request reads its
// directory, so rows are cached while the change listener guarantees that
// every replica's writes invalidate them.
func (db *DB) GetDirectory(ctx context.Context, id string) (store.Directory, error) {
	cacheable := db.listen.cacheable()
	d, gen, ok := db.dirs.Get(id)
	if ok && cacheable {
		return d.Clone(), nil
	}
	d, err := getDirectory(ctx, db.pool, id, "")
	if err != nil {
		return d, err
	}
	if cacheable {
		db.dirs.Put(id, d.Clone(), gen)
	}
	return d, nil
}

// getDirectory reads a directory that is not being deleted; lock is "" or
// a locking clause (FOR UPDATE), a constant of this package.
func getDirectory(ctx context.Context, q querier, id, lock string) (store.Directory, error) {
	d, err := scanDirectory(q.QueryRow(ctx,
		`SELECT `+directoryColumns+` FROM directories WHERE id = $1 AND NOT deleting `+lock, id))
	if isNoRows(err) {
		return d, fmt.Errorf("%w: directory %q", store.ErrNotFound, id)
	}
	return d, err
}

// ListDirectories returns every directory, oldest first.
func (db *DB) ListDirectories(ctx context.Context) ([]store.Directory, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+directoryColumns+` FROM directories WHERE NOT deleting ORDER BY created, id`)
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
	d, err := writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Directory, error) {
		old, err := getDirectory(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return store.Directory{}, err
		}
		d, err := fn(old)
		if err != nil {
			return store.Directory{}, err
		}
		d.ID, d.Created, d.Updated = old.ID, old.Created, tx.now
		if _, err := tx.Exec(ctx, `UPDATE directories SET name = $1, scim_token_hash = $2, previous_token_hash = $3,
			previous_token_expires = $4, mapping = $5, updated = $6, rules_version = $7 WHERE id = $8`,
			d.Name, d.SCIMTokenHash, d.PreviousTokenHash, nullTime(d.PreviousTokenExpires), nullText(d.Mapping),
			d.Updated, d.RulesVersion, d.ID); err != nil {
			return store.Directory{}, wrap("update directory", err)
		}
		if err := insertAudit(ctx, tx, id); err != nil {
			return store.Directory{}, err
		}
		return d, notify(ctx, tx, store.Change{Kind: store.ChangeDirectory, DirectoryID: id})
	})
	db.dirs.Invalidate()
	return d, err
}

// DeleteDirectory removes the directory and all of its data, in steps:
// a first transaction marks it deleting, which hides it from every read
// (and so from SCIM and lookup authentication, on every replica) and
// deletes its presence link, which stops its polling; then its rows are
// purged a batch per transaction, so that other directories' writes go on
// between batches; then its row goes, cascading to what is left. A purge
// that a shutdown cuts short resumes at the next start (ResumeDeletes).
func (db *DB) DeleteDirectory(ctx context.Context, id string) error {
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		tag, err := tx.Exec(ctx, `UPDATE directories SET deleting = true WHERE id = $1 AND NOT deleting`, id)
		if err != nil {
			return wrap("delete directory", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: directory %q", store.ErrNotFound, id)
		}
		if err := insertAudit(ctx, tx, id); err != nil {
			return err
		}
		if err := notify(ctx, tx, store.Change{Kind: store.ChangeDirectory, DirectoryID: id}); err != nil {
			return err
		}
		// Its setup links, and the console sessions opened with them, end now.
		if _, err := tx.Exec(ctx, `DELETE FROM setup_links WHERE directory_id = $1`, id); err != nil {
			return wrap("delete directory", err)
		}
		tag, err = tx.Exec(ctx, `DELETE FROM presence_links WHERE directory_id = $1`, id)
		if err != nil || tag.RowsAffected() == 0 { // no link: nothing to announce
			return wrap("delete directory", err)
		}
		return notify(ctx, tx, store.Change{Kind: store.ChangePresenceLink, DirectoryID: id})
	})
	db.dirs.Invalidate()
	db.keys.Invalidate() // the directory's keys go with it
	if err != nil {
		return err
	}
	store.Hidden(ctx)
	// Finish even if the caller goes away: the directory is gone for it.
	// A replica that took the purge over (ResumeDeletes) finishes it.
	_, err = db.purgeDirectory(context.WithoutCancel(ctx), id)
	return err
}

// ResumeDeletes finishes the deletes of directories that a shutdown cut
// short, until ctx ends, and returns how many it finished. Directories
// whose purge another replica holds are left to it.
func (db *DB) ResumeDeletes(ctx context.Context) (int, error) {
	ids, err := deletingDirectories(ctx, db.pool)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, id := range ids {
		ok, err := db.purgeDirectory(ctx, id)
		if err != nil {
			return done, err
		}
		if ok {
			done++
		}
	}
	return done, nil
}

func deletingDirectories(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT id FROM directories WHERE deleting ORDER BY id`)
	if err != nil {
		return nil, wrap("resume deletes", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("resume deletes", err)
}

// purgeBatch is how many users or groups (with their memberships, phones,
// words and presence) one purge transaction deletes, and ten times as
// many sync events and presence changes. A variable for tests.
var purgeBatch = 500

// purgeLease is how long a purge's lease lasts without renewal; it is
// renewed every batch.
const purgeLease = time.Minute

// purgeSteps delete a batch of a deleting directory's rows ($1) each, at
// most $2.
var purgeSteps = []struct {
	sql   string
	scale int // of purgeBatch
}{
	{`DELETE FROM users WHERE directory_id = $1 AND id IN (SELECT id FROM users WHERE directory_id = $1 LIMIT $2)`, 1},
	{`DELETE FROM groups WHERE directory_id = $1 AND id IN (SELECT id FROM groups WHERE directory_id = $1 LIMIT $2)`, 1},
	{`DELETE FROM sync_events WHERE id IN (SELECT id FROM sync_events WHERE directory_id = $1 ORDER BY id LIMIT $2)`, 10},
	{`DELETE FROM presence_changes WHERE directory_id = $1
		AND seq IN (SELECT seq FROM presence_changes WHERE directory_id = $1 ORDER BY seq LIMIT $2)`, 10},
	{`DELETE FROM change_events WHERE directory_id = $1
		AND seq IN (SELECT seq FROM change_events WHERE directory_id = $1 ORDER BY seq LIMIT $2)`, 10},
}

// purgeDirectory deletes a deleting directory's rows a batch at a time,
// then the directory, under the directory's purge lease so that two
// replicas never purge one directory at once. It reports false, with no
// error, when another replica holds (or took over) the lease.
func (db *DB) purgeDirectory(ctx context.Context, id string) (bool, error) {
	lease, owner := "purge:"+id, db.owner()
	defer func() {
		if err := db.ReleaseLease(context.WithoutCancel(ctx), lease, owner); err != nil {
			db.log.Warn("postgres: releasing a purge lease failed; it expires by itself", "directory", id, "err", err)
		}
	}()
	// hold takes the lease, then renews it before each batch.
	hold := func() (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		return db.TryLease(ctx, lease, owner, purgeLease)
	}
	for _, step := range purgeSteps {
		size := step.scale * purgeBatch
		for n := size; n == size; {
			if ok, err := hold(); !ok || err != nil {
				return false, err
			}
			var err error
			if n, err = db.purgeOnce(ctx, step.sql, id, size); err != nil {
				return false, err
			}
		}
	}
	if ok, err := hold(); !ok || err != nil {
		return false, err
	}
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM directories WHERE id = $1 AND deleting`, id); err != nil {
			return wrap("delete directory", err)
		}
		return notify(ctx, tx, store.Change{Kind: store.ChangeDirectory, DirectoryID: id})
	})
	return err == nil, err
}

// purgeOnce runs one purge step's statement in its own transaction and
// returns how many rows it deleted.
func (db *DB) purgeOnce(ctx context.Context, sql, id string, size int) (int, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (int, error) {
		tag, err := tx.Exec(ctx, sql, id, size)
		if err != nil {
			return 0, wrap("delete directory", err)
		}
		return int(tag.RowsAffected()), nil
	})
}

func scanDirectory(row pgx.Row) (store.Directory, error) {
	var d store.Directory
	var mapping *string
	var prevExpires *time.Time
	if err := row.Scan(&d.ID, &d.Name, &d.SCIMTokenHash, &d.PreviousTokenHash, &prevExpires, &mapping, &d.Created, &d.Updated, &d.RulesVersion); err != nil {
		if isNoRows(err) {
			return d, err
		}
		return d, wrap("scan directory", err)
	}
	if mapping != nil {
		d.Mapping = []byte(*mapping)
	}
	d.PreviousTokenExpires, d.Created, d.Updated = utcPtr(prevExpires), utc(d.Created), utc(d.Updated)
	return d, nil
}

// nullText binds nil as NULL and anything else as text.
func nullText(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}
