package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

const reapplyColumns = `directory_id, rules_version, after_id, done, failed, total, started, finished`

// PendingReapplies returns the running jobs and a job to start for every
// directory whose rules are newer than its last job's.
func (db *DB) PendingReapplies(ctx context.Context) ([]store.Reapply, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.rules_version, coalesce(j.rules_version = d.rules_version, false),
			coalesce(j.after_id, ''), coalesce(j.done, 0), coalesce(j.failed, 0), coalesce(j.total, 0), j.started, j.finished
		FROM directories d LEFT JOIN reapply_jobs j ON j.directory_id = d.id
		WHERE NOT d.deleting AND (d.rules_version > coalesce(j.rules_version, 0)
			OR j.directory_id IS NOT NULL AND j.finished IS NULL)
		ORDER BY d.id`)
	if err != nil {
		return nil, wrap("pending reapplies", err)
	}
	defer rows.Close()
	var out []store.Reapply
	for rows.Next() {
		var r store.Reapply
		var current bool
		var started, finished *time.Time
		if err := rows.Scan(&r.DirectoryID, &r.RulesVersion, &current, &r.After, &r.Done, &r.Failed, &r.Total, &started, &finished); err != nil {
			return nil, wrap("pending reapplies", err)
		}
		if current {
			r.Started, r.Finished = utcPtr(started), utcPtr(finished)
		} else { // a job of older rules: the new one starts afresh
			r = store.Reapply{DirectoryID: r.DirectoryID, RulesVersion: r.RulesVersion}
		}
		out = append(out, r)
	}
	return out, wrap("pending reapplies", rows.Err())
}

// StartReapply starts (or returns) the job of the directory's rules. The
// directory's row is locked, so that it cannot change meanwhile.
func (db *DB) StartReapply(ctx context.Context, directoryID string) (store.Reapply, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Reapply, error) {
		d, err := getDirectory(ctx, tx, directoryID, "FOR SHARE")
		if err != nil {
			return store.Reapply{}, err
		}
		job, err := getReapply(ctx, tx, directoryID)
		switch {
		case err == nil && job.RulesVersion >= d.RulesVersion:
			return job, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return store.Reapply{}, err
		}
		job = store.Reapply{DirectoryID: directoryID, RulesVersion: d.RulesVersion, Started: tx.now}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE directory_id = $1 AND rules_version < $2`,
			directoryID, d.RulesVersion).Scan(&job.Total); err != nil {
			return store.Reapply{}, wrap("start reapply", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO reapply_jobs (`+reapplyColumns+`) VALUES ($1, $2, '', 0, 0, $3, $4, NULL)
			ON CONFLICT (directory_id) DO UPDATE SET rules_version = excluded.rules_version, after_id = '', done = 0,
				failed = 0, total = excluded.total, started = excluded.started, finished = NULL`,
			directoryID, job.RulesVersion, job.Total, job.Started)
		return job, wrap("start reapply", err)
	})
}

// GetReapply returns the directory's last job.
func (db *DB) GetReapply(ctx context.Context, directoryID string) (store.Reapply, error) {
	return getReapply(ctx, db.pool, directoryID)
}

// getReapply reads the directory's job; within a write transaction it
// locks the job's row, so that batches and restarts of one job queue.
func getReapply(ctx context.Context, q querier, directoryID string) (store.Reapply, error) {
	lock := ""
	if _, ok := q.(*tx); ok {
		lock = " FOR UPDATE"
	}
	var r store.Reapply
	var finished *time.Time
	err := q.QueryRow(ctx, `SELECT `+reapplyColumns+` FROM reapply_jobs WHERE directory_id = $1`+lock, directoryID).
		Scan(&r.DirectoryID, &r.RulesVersion, &r.After, &r.Done, &r.Failed, &r.Total, &r.Started, &finished)
	switch {
	case isNoRows(err):
		return r, fmt.Errorf("%w: no reapply job for directory %q", store.ErrNotFound, directoryID)
	case err != nil:
		return r, wrap("get reapply", err)
	}
	r.Started, r.Finished = utc(r.Started), utcPtr(finished)
	return r, nil
}

// ReapplyUsers reads the next users whose contacts are older than
// rulesVersion, on the primary key: (directory_id, id).
func (db *DB) ReapplyUsers(ctx context.Context, directoryID string, rulesVersion int64, after string, limit int) ([]store.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE directory_id = $1 AND id > $2 AND rules_version < $3 ORDER BY id LIMIT $4`, directoryID, after, rulesVersion, limit)
	if err != nil {
		return nil, wrap("reapply users", err)
	}
	defer rows.Close()
	var us []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	return us, wrap("reapply users", rows.Err())
}

// RebuildContacts writes a batch of a reapply job in one transaction and
// two round trips: the users' updates, each conditional on the version it
// was read at (the update waits for a concurrent write's row lock, then
// finds the new version and skips), then the lookup keys and sync events
// of the users written, with the job's progress.
func (db *DB) RebuildContacts(ctx context.Context, job store.Reapply, rebuilt []store.RebuiltContact, finish bool) (store.Reapply, error) {
	rows := make([]userRow, len(rebuilt))
	for i, rc := range rebuilt {
		if rc.Changed && rc.Refusal == "" {
			u := rc.User
			u.Contact = rc.Contact
			var err error
			if rows[i], err = encodeUser(u); err != nil {
				return store.Reapply{}, err
			}
		}
	}
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Reapply, error) {
		stored, err := getReapply(ctx, tx, job.DirectoryID)
		if err != nil {
			return store.Reapply{}, err
		}
		if stored.RulesVersion != job.RulesVersion {
			return store.Reapply{}, fmt.Errorf("%w: the reapply job of rules version %d was replaced by version %d's",
				store.ErrPrecondition, job.RulesVersion, stored.RulesVersion)
		}
		b := &pgx.Batch{}
		const where = ` WHERE directory_id = $2 AND id = $3 AND version = $4 AND rules_version < $1`
		for i, rc := range rebuilt {
			u := rc.User
			switch {
			case rc.Refusal != "":
				b.Queue(`UPDATE users SET rules_version = $1, refused = $5`+where,
					job.RulesVersion, job.DirectoryID, u.ID, u.Version, rc.Refusal)
			case rc.Changed:
				k := rows[i].keys
				b.Queue(`UPDATE users SET rules_version = $1, refused = '', contact = $5,
					sort_name = $6, email_domain = $7, login_domain = $8`+where,
					job.RulesVersion, job.DirectoryID, u.ID, u.Version, rows[i].contact, k.SortName, k.EmailDomain, k.LoginDomain)
			default:
				b.Queue(`UPDATE users SET rules_version = $1, refused = ''`+where,
					job.RulesVersion, job.DirectoryID, u.ID, u.Version)
			}
		}
		written := make([]bool, len(rebuilt))
		if len(rebuilt) > 0 {
			br := tx.SendBatch(ctx, b)
			for i := range rebuilt {
				tag, err := br.Exec()
				if err != nil {
					br.Close()
					return store.Reapply{}, wrap("rebuild contacts", err)
				}
				written[i] = tag.RowsAffected() == 1 // else written since it was read: skipped
			}
			if err := br.Close(); err != nil {
				return store.Reapply{}, wrap("rebuild contacts", err)
			}
		}
		b = &pgx.Batch{}
		for i, rc := range rebuilt {
			if !written[i] {
				continue
			}
			stored.Done++
			u := rc.User
			switch {
			case rc.Refusal != "":
				stored.Failed++
				queueEvent(b, tx.now, job.DirectoryID, store.SyncEvent{Operation: store.SyncReapply, ResourceType: "User",
					ResourceID: u.ID, Identity: u.UserName, Failed: true, Result: rc.Refusal})
			case rc.Changed:
				old := store.KeysOf(u)
				queueKeys(b, u, &old, rows[i].keys)
			}
		}
		stored.After = job.After
		if finish {
			stored.Finished = tx.now
		}
		b.Queue(`UPDATE reapply_jobs SET after_id = $1, done = $2, failed = $3, finished = $4 WHERE directory_id = $5`,
			stored.After, stored.Done, stored.Failed, nullTime(stored.Finished), job.DirectoryID)
		return stored, wrap("rebuild contacts", execBatch(ctx, tx, b))
	})
}
