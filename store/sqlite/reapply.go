package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/scimd/scimd/store"
)

const reapplyColumns = `directory_id, rules_version, after_id, done, failed, total, started, finished`

// PendingReapplies returns the running jobs and a job to start for every
// directory whose rules are newer than its last job's.
func (db *DB) PendingReapplies(ctx context.Context) ([]store.Reapply, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT d.id, d.rules_version, j.directory_id IS NOT NULL AND j.rules_version = d.rules_version,
			COALESCE(j.after_id, ''), COALESCE(j.done, 0), COALESCE(j.failed, 0), COALESCE(j.total, 0),
			COALESCE(j.started, ''), COALESCE(j.finished, '')
		FROM directories d LEFT JOIN reapply_jobs j ON j.directory_id = d.id
		WHERE d.deleting = 0 AND (d.rules_version > COALESCE(j.rules_version, 0) OR j.finished = '')
		ORDER BY d.id`)
	if err != nil {
		return nil, wrap("pending reapplies", err)
	}
	defer rows.Close()
	var out []store.Reapply
	for rows.Next() {
		var r store.Reapply
		var current bool
		var started, finished string
		if err := rows.Scan(&r.DirectoryID, &r.RulesVersion, &current, &r.After, &r.Done, &r.Failed, &r.Total, &started, &finished); err != nil {
			return nil, wrap("pending reapplies", err)
		}
		if current { // else a job of older rules: the new one starts afresh
			var err1, err2 error
			r.Started, err1 = parseOptTime(started)
			r.Finished, err2 = parseOptTime(finished)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
		} else {
			r = store.Reapply{DirectoryID: r.DirectoryID, RulesVersion: r.RulesVersion}
		}
		out = append(out, r)
	}
	return out, wrap("pending reapplies", rows.Err())
}

// StartReapply starts (or returns) the job of the directory's rules.
func (db *DB) StartReapply(ctx context.Context, directoryID string) (store.Reapply, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Reapply, error) {
		d, err := getDirectory(ctx, tx, directoryID)
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
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE directory_id = ? AND rules_version < ?`,
			directoryID, d.RulesVersion).Scan(&job.Total); err != nil {
			return store.Reapply{}, wrap("start reapply", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO reapply_jobs (`+reapplyColumns+`) VALUES (?, ?, '', 0, 0, ?, ?, '')`,
			directoryID, job.RulesVersion, job.Total, formatTime(job.Started))
		return job, wrap("start reapply", err)
	})
}

// GetReapply returns the directory's last job.
func (db *DB) GetReapply(ctx context.Context, directoryID string) (store.Reapply, error) {
	return getReapply(ctx, db.r, directoryID)
}

func getReapply(ctx context.Context, q querier, directoryID string) (store.Reapply, error) {
	var r store.Reapply
	var started, finished string
	err := q.QueryRowContext(ctx, `SELECT `+reapplyColumns+` FROM reapply_jobs WHERE directory_id = ?`, directoryID).
		Scan(&r.DirectoryID, &r.RulesVersion, &r.After, &r.Done, &r.Failed, &r.Total, &started, &finished)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, fmt.Errorf("%w: no reapply job for directory %q", store.ErrNotFound, directoryID)
	case err != nil:
		return r, wrap("get reapply", err)
	}
	var err1, err2 error
	r.Started, err1 = parseTime(started)
	r.Finished, err2 = parseOptTime(finished)
	return r, errors.Join(err1, err2)
}

// ReapplyUsers reads the next users whose contacts are older than
// rulesVersion, on the primary key: (directory_id, id).
func (db *DB) ReapplyUsers(ctx context.Context, directoryID string, rulesVersion int64, after string, limit int) ([]store.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE directory_id = ? AND id > ? AND rules_version < ? ORDER BY id LIMIT ?`, directoryID, after, rulesVersion, limit)
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

// RebuildContacts writes a batch of a reapply job on the writer. Contacts
// are encoded before it, which every concurrent write waits for.
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
		var changed []store.RebuiltContact // written with a new contact
		for i, rc := range rebuilt {
			written, err := rebuildContact(ctx, tx, job, rc, rows[i])
			if err != nil {
				return store.Reapply{}, err
			}
			if written {
				stored.Done++
				if rc.Refusal != "" {
					stored.Failed++
				} else if rc.Changed {
					changed = append(changed, rc)
				}
			}
		}
		if err := db.recordRebuilt(ctx, tx, job.DirectoryID, changed); err != nil {
			return store.Reapply{}, err
		}
		stored.After = job.After
		if finish {
			stored.Finished = tx.now
		}
		_, err = tx.ExecContext(ctx, `UPDATE reapply_jobs SET after_id = ?, done = ?, failed = ?, finished = ? WHERE directory_id = ?`,
			stored.After, stored.Done, stored.Failed, optTime(stored.Finished), job.DirectoryID)
		return stored, wrap("rebuild contacts", err)
	})
}

// rebuildContact writes one rebuilt contact if its user is still at the
// version it was read at and older than the job's rules, and reports
// whether it did.
func rebuildContact(ctx context.Context, tx *tx, job store.Reapply, rc store.RebuiltContact, row userRow) (bool, error) {
	u := rc.User
	var res sql.Result
	var err error
	const where = ` WHERE directory_id = ? AND id = ? AND version = ? AND rules_version < ?`
	switch {
	case rc.Refusal != "":
		res, err = tx.ExecContext(ctx, `UPDATE users SET rules_version = ?, refused = ?`+where,
			job.RulesVersion, rc.Refusal, job.DirectoryID, u.ID, u.Version, job.RulesVersion)
	case rc.Changed:
		lr := row.lookup
		res, err = tx.ExecContext(ctx, `UPDATE users SET rules_version = ?, refused = '', contact = ?,
			sort_name = ?, email_domain = ?, login_domain = ?`+where,
			job.RulesVersion, row.contact, lr.sortName, lr.emailDomain, lr.loginDomain,
			job.DirectoryID, u.ID, u.Version, job.RulesVersion)
	default:
		res, err = tx.ExecContext(ctx, `UPDATE users SET rules_version = ?, refused = ''`+where,
			job.RulesVersion, job.DirectoryID, u.ID, u.Version, job.RulesVersion)
	}
	if err != nil {
		return false, wrap("rebuild contact", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, wrap("rebuild contact", err) // written since it was read: skipped
	}
	switch {
	case rc.Refusal != "":
		return true, insertEvent(ctx, tx, job.DirectoryID, store.SyncEvent{Operation: store.SyncReapply, ResourceType: "User",
			ResourceID: u.ID, Identity: u.UserName, Failed: true, Result: rc.Refusal})
	case rc.Changed:
		nu := u
		nu.Contact = rc.Contact
		return true, updateLookup(ctx, tx, nu, deriveLookup(u), row.lookup)
	}
	return true, nil
}

// recordRebuilt records a contact.updated event of each rebuilt contact
// that changed as the lookup API shows it: the state before is the one
// after with the contact the job read (the version check says it was
// still the stored one).
func (db *DB) recordRebuilt(ctx context.Context, tx *tx, directoryID string, changed []store.RebuiltContact) error {
	if !db.events || len(changed) == 0 {
		return nil
	}
	ids := make([]string, len(changed))
	for i, rc := range changed {
		ids[i] = rc.User.ID
	}
	after, err := contactStates(ctx, tx, directoryID, ids)
	if err != nil {
		return err
	}
	var evs []store.Event
	for _, rc := range changed {
		a := after[rc.User.ID]
		if a == nil {
			continue
		}
		before := *a
		before.Contact = rc.User.Contact
		if ev, ok := store.ContactEvent(&before, a); ok {
			evs = append(evs, ev)
		}
	}
	return recordChanges(ctx, tx, directoryID, evs)
}
