package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
		job, err := getReapply(ctx, tx, directoryID, "FOR UPDATE")
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
		// Two starts at once (the admin API's and a runner's) both find no
		// row to lock: the second must not reset the job the first began.
		tag, err := tx.Exec(ctx, `INSERT INTO reapply_jobs (`+reapplyColumns+`) VALUES ($1, $2, '', 0, 0, $3, $4, NULL)
			ON CONFLICT (directory_id) DO UPDATE SET rules_version = excluded.rules_version, after_id = '', done = 0,
				failed = 0, total = excluded.total, started = excluded.started, finished = NULL
			WHERE reapply_jobs.rules_version < excluded.rules_version`,
			directoryID, job.RulesVersion, job.Total, job.Started)
		switch {
		case err != nil:
			return store.Reapply{}, wrap("start reapply", err)
		case tag.RowsAffected() == 0:
			return getReapply(ctx, tx, directoryID, "")
		}
		return job, nil
	})
}

// GetReapply returns the directory's last job.
func (db *DB) GetReapply(ctx context.Context, directoryID string) (store.Reapply, error) {
	return getReapply(ctx, db.pool, directoryID, "")
}

// getReapply reads the directory's job; lock is "" or a locking clause
// (FOR UPDATE: batches and restarts of one job queue on its row), a
// constant of this package.
func getReapply(ctx context.Context, q querier, directoryID, lock string) (store.Reapply, error) {
	var r store.Reapply
	var finished *time.Time
	err := q.QueryRow(ctx, `SELECT `+reapplyColumns+` FROM reapply_jobs WHERE directory_id = $1 `+lock, directoryID).
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
// rulesVersion on the primary key, (directory_id, id), in its order.
// Bitmap scans are off for it: with the statistics of a table just filled
// (an initial cycle, scimd copy) the planner expects a few rows after the
// cursor and reads and sorts every one of them (55 ms a batch at 9,000
// users, growing with the directory) where the index's order gives the
// batch at once.
func (db *DB) ReapplyUsers(ctx context.Context, directoryID string, rulesVersion int64, after string, limit int) ([]store.User, error) {
	var us []store.User
	err := db.read(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_bitmapscan = off`); err != nil {
			return wrap("reapply users", err)
		}
		rows, err := tx.Query(ctx, `SELECT `+userColumns+` FROM users
			WHERE directory_id = $1 AND id > $2 AND rules_version < $3 ORDER BY id LIMIT $4`, directoryID, after, rulesVersion, limit)
		if err != nil {
			return wrap("reapply users", err)
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			us = append(us, u)
		}
		return wrap("reapply users", rows.Err())
	})
	return us, err
}

// RebuildContacts writes a batch of a reapply job in one transaction, in
// a few set-based statements whatever the batch's size (one statement a
// user cost five times as much): one update of the users still at the
// version they were read at (it waits for a concurrent write's row lock,
// then finds the new version and skips the user), then the lookup keys
// of the contacts whose keys changed, the refusals' sync events and the
// job's progress.
func (db *DB) RebuildContacts(ctx context.Context, job store.Reapply, rebuilt []store.RebuiltContact, finish bool) (store.Reapply, error) {
	n := len(rebuilt)
	ids, refusals, contacts := make([]string, n), make([]string, n), make([]string, n)
	sorts, emails, logins := make([]string, n), make([]string, n), make([]string, n)
	versions, changed := make([]int64, n), make([]bool, n)
	keys := make([]store.ContactKeys, n)
	for i, rc := range rebuilt {
		ids[i], versions[i], refusals[i] = rc.User.ID, rc.User.Version, rc.Refusal
		if changed[i] = rc.Changed && rc.Refusal == ""; changed[i] {
			u := rc.User
			u.Contact = rc.Contact
			row, err := encodeUser(u)
			if err != nil {
				return store.Reapply{}, err
			}
			keys[i], contacts[i] = row.keys, row.contact
			sorts[i], emails[i], logins[i] = row.keys.SortName, row.keys.EmailDomain, row.keys.LoginDomain
		}
	}
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Reapply, error) {
		stored, err := getReapply(ctx, tx, job.DirectoryID, "FOR UPDATE")
		if err != nil {
			return store.Reapply{}, err
		}
		if stored.RulesVersion != job.RulesVersion {
			return store.Reapply{}, fmt.Errorf("%w: the reapply job of rules version %d was replaced by version %d's",
				store.ErrPrecondition, job.RulesVersion, stored.RulesVersion)
		}
		written := map[string]bool{}
		if n > 0 {
			rows, err := tx.Query(ctx, rebuildUsers, job.DirectoryID, job.RulesVersion,
				ids, versions, refusals, changed, contacts, sorts, emails, logins)
			if err != nil {
				return store.Reapply{}, wrap("rebuild contacts", err)
			}
			ws, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return store.Reapply{}, wrap("rebuild contacts", err)
			}
			for _, id := range ws {
				written[id] = true
			}
		}
		b := &pgx.Batch{}
		var kw keyRows
		for i, rc := range rebuilt {
			if !written[rc.User.ID] {
				continue // written since it was read: skipped
			}
			stored.Done++
			switch u := rc.User; {
			case rc.Refusal != "":
				stored.Failed++
				queueEvent(b, tx.now, job.DirectoryID, store.SyncEvent{Operation: store.SyncReapply, ResourceType: "User",
					ResourceID: u.ID, Identity: u.UserName, Failed: true, Result: rc.Refusal})
			case changed[i]:
				kw.add(u.ID, store.KeysOf(u), keys[i])
			}
		}
		kw.queue(b, job.DirectoryID)
		if err := recordRebuilt(ctx, db, tx, job.DirectoryID, rebuilt, written); err != nil {
			return store.Reapply{}, err
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

// rebuildUsers updates a batch of users from arrays, one element a user,
// and returns the ids of those it updated.
const rebuildUsers = `UPDATE users AS u SET rules_version = $2, refused = n.refused,
		contact = CASE WHEN n.changed THEN n.contact ELSE u.contact END,
		sort_name = CASE WHEN n.changed THEN n.sort_name ELSE u.sort_name END,
		email_domain = CASE WHEN n.changed THEN n.email_domain ELSE u.email_domain END,
		login_domain = CASE WHEN n.changed THEN n.login_domain ELSE u.login_domain END
	FROM unnest($3::text[], $4::bigint[], $5::text[], $6::boolean[], $7::text[], $8::text[], $9::text[], $10::text[])
		AS n(id, version, refused, changed, contact, sort_name, email_domain, login_domain)
	WHERE u.directory_id = $1 AND u.id = n.id AND u.version = n.version AND u.rules_version < $2
	RETURNING u.id`

// keyRows collects the lookup keys of a batch's rebuilt contacts whose
// words or phones changed: their rows are replaced, a table per statement.
type keyRows struct {
	wordUsers, phoneUsers              []string
	sortUsers, sorts                   []string // phones kept, in a new order
	words, wordSorts, wordIDs          []string
	e164s, types, phoneSorts, phoneIDs []string
}

func (k *keyRows) add(id string, old, cur store.ContactKeys) {
	if old.SortName != cur.SortName || !slices.Equal(old.Words, cur.Words) {
		k.wordUsers = append(k.wordUsers, id)
		for _, w := range cur.Words {
			k.words, k.wordSorts, k.wordIDs = append(k.words, w), append(k.wordSorts, cur.SortName), append(k.wordIDs, id)
		}
	}
	switch {
	case slices.Equal(old.Phones, cur.Phones) && old.SortName != cur.SortName:
		// Only the order moves: an update of a column no index holds,
		// which leaves the trigram index alone.
		k.sortUsers, k.sorts = append(k.sortUsers, id), append(k.sorts, cur.SortName)
	case !slices.Equal(old.Phones, cur.Phones):
		k.phoneUsers = append(k.phoneUsers, id)
		for _, p := range cur.Phones {
			k.e164s, k.types = append(k.e164s, p.E164), append(k.types, p.Type)
			k.phoneSorts, k.phoneIDs = append(k.phoneSorts, cur.SortName), append(k.phoneIDs, id)
		}
	}
}

func (k *keyRows) queue(b *pgx.Batch, dir string) {
	if len(k.wordUsers) > 0 {
		b.Queue(`DELETE FROM user_words WHERE directory_id = $1 AND user_id = ANY ($2::text[])`, dir, k.wordUsers)
		b.Queue(`INSERT INTO user_words (directory_id, word, sort_name, user_id)
			SELECT $1, w, s, u FROM unnest($2::text[], $3::text[], $4::text[]) AS n(w, s, u)`,
			dir, nonNil(k.words), nonNil(k.wordSorts), nonNil(k.wordIDs))
	}
	if len(k.sortUsers) > 0 {
		b.Queue(`UPDATE user_phones AS p SET sort_name = n.s FROM unnest($2::text[], $3::text[]) AS n(u, s)
			WHERE p.directory_id = $1 AND p.user_id = n.u`, dir, k.sortUsers, k.sorts)
	}
	if len(k.phoneUsers) > 0 {
		b.Queue(`DELETE FROM user_phones WHERE directory_id = $1 AND user_id = ANY ($2::text[])`, dir, k.phoneUsers)
		b.Queue(`INSERT INTO user_phones (directory_id, user_id, e164, type, sort_name)
			SELECT $1, u, e, t, s FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS n(u, e, t, s)`,
			dir, nonNil(k.phoneIDs), nonNil(k.e164s), nonNil(k.types), nonNil(k.phoneSorts))
	}
}

// nonNil binds an empty list as an empty array, not NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// recordRebuilt records a contact.updated event of each rebuilt contact
// that changed as the lookup API shows it. The users' rows are locked by
// the update, so their states (groups, active) cannot move before the
// commit; the state before is the same with the contact the job read,
// which the version check says was still the stored one.
func recordRebuilt(ctx context.Context, db *DB, tx *tx, directoryID string, rebuilt []store.RebuiltContact, written map[string]bool) error {
	if !db.events {
		return nil
	}
	var ids []string
	for _, rc := range rebuilt {
		if written[rc.User.ID] && rc.Changed && rc.Refusal == "" {
			ids = append(ids, rc.User.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	after, err := contactStates(ctx, tx, directoryID, ids)
	if err != nil {
		return err
	}
	for _, rc := range rebuilt {
		a := after[rc.User.ID]
		if a == nil || !written[rc.User.ID] || !rc.Changed || rc.Refusal != "" {
			continue
		}
		before := *a
		before.Contact = rc.User.Contact
		if ev, ok := store.ContactEvent(&before, a); ok {
			tx.record(directoryID, ev)
		}
	}
	return nil
}
