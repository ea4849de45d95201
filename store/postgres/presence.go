package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

const presenceLinkColumns = `l.directory_id, l.state, l.tenant_id, l.client_id, l.credential, l.sealed,
	l.consent_state_hash, l.consent_expires, l.last_poll, l.contacts_polled, l.skipped, l.last_error, l.updated`

// presenceLinks reads the links of live directories: a deleting
// directory's link goes with it, and its poller stops.
const presenceLinks = `SELECT ` + presenceLinkColumns + ` FROM presence_links l
	JOIN directories d ON d.id = l.directory_id AND NOT d.deleting`

// GetPresenceLink returns the directory's presence link.
func (db *DB) GetPresenceLink(ctx context.Context, directoryID string) (store.PresenceLink, error) {
	l, err := scanPresenceLink(db.pool.QueryRow(ctx, presenceLinks+` WHERE l.directory_id = $1`, directoryID))
	if isNoRows(err) {
		return l, fmt.Errorf("%w: presence of directory %q", store.ErrNotFound, directoryID)
	}
	return l, err
}

// PresenceLinkByConsentState finds the link whose pending consent state
// hashes to hash.
func (db *DB) PresenceLinkByConsentState(ctx context.Context, hash []byte) (store.PresenceLink, error) {
	l, err := scanPresenceLink(db.pool.QueryRow(ctx, presenceLinks+` WHERE l.consent_state_hash = $1`, hash))
	if isNoRows(err) {
		return l, fmt.Errorf("%w: no pending consent with this state", store.ErrNotFound)
	}
	return l, err
}

// ListPresenceLinks returns every live directory's link.
func (db *DB) ListPresenceLinks(ctx context.Context) ([]store.PresenceLink, error) {
	rows, err := db.pool.Query(ctx, presenceLinks+` ORDER BY l.directory_id`)
	if err != nil {
		return nil, wrap("list presence links", err)
	}
	links, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.PresenceLink, error) {
		return scanPresenceLink(row)
	})
	if err != nil {
		return nil, wrap("list presence links", err)
	}
	return links, nil
}

// PutPresenceLink replaces the directory's link.
func (db *DB) PutPresenceLink(ctx context.Context, l store.PresenceLink, ev store.SyncEvent) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		var b pgx.Batch
		queuePresenceLink(&b, tx, l)
		n := 1
		if queueEvent(&b, tx.now, l.DirectoryID, ev) {
			n++
		}
		if _, err := runPresenceLinkBatch(ctx, tx, l.DirectoryID, &b, n); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, l.DirectoryID); err != nil {
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.ChangePresenceLink, DirectoryID: l.DirectoryID})
	})
}

// RevokePresence stores l and deletes the directory's presence rows and
// its presence change feed: revoked presence is forgotten. The feed
// records nothing of it: the presence layer tells its subscribers itself.
func (db *DB) RevokePresence(ctx context.Context, l store.PresenceLink, ev store.SyncEvent) (int64, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (int64, error) {
		var b pgx.Batch
		queuePresenceLink(&b, tx, l)
		b.Queue(`DELETE FROM presence WHERE directory_id = $1`, l.DirectoryID)
		b.Queue(`DELETE FROM presence_changes WHERE directory_id = $1`, l.DirectoryID)
		n := 3
		if queueEvent(&b, tx.now, l.DirectoryID, ev) {
			n++
		}
		tags, err := runPresenceLinkBatch(ctx, tx, l.DirectoryID, &b, n)
		if err != nil {
			return 0, err
		}
		if err := insertAudit(ctx, tx, l.DirectoryID); err != nil {
			return 0, err
		}
		return tags[1], notify(ctx, tx, store.Change{Kind: store.ChangePresenceLink, DirectoryID: l.DirectoryID})
	})
}

// queuePresenceLink queues the upsert of l. It stores nothing for a
// directory that is missing or being deleted: a poller finishing its
// cycle must not bring back the link of a deleted directory.
func queuePresenceLink(b *pgx.Batch, tx *tx, l store.PresenceLink) {
	var consent []byte // nil (NULL) keeps the UNIQUE index to real states
	if len(l.ConsentStateHash) > 0 {
		consent = l.ConsentStateHash
	}
	b.Queue(`INSERT INTO presence_links (directory_id, state, tenant_id, client_id, credential, sealed,
		consent_state_hash, consent_expires, last_poll, contacts_polled, skipped, last_error, updated)
		SELECT id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM directories WHERE id = $1 AND NOT deleting
		ON CONFLICT (directory_id) DO UPDATE SET state = excluded.state, tenant_id = excluded.tenant_id,
			client_id = excluded.client_id, credential = excluded.credential, sealed = excluded.sealed,
			consent_state_hash = excluded.consent_state_hash, consent_expires = excluded.consent_expires,
			last_poll = excluded.last_poll, contacts_polled = excluded.contacts_polled, skipped = excluded.skipped,
			last_error = excluded.last_error, updated = excluded.updated`,
		l.DirectoryID, l.State, l.TenantID, l.ClientID, l.Credential, l.Sealed,
		consent, nullTime(l.ConsentExpires), nullTime(l.LastPoll), l.ContactsPolled, l.Skipped, l.LastError, tx.now)
}

// runPresenceLinkBatch sends b, whose first statement is the link's
// upsert, in one round trip and returns the rows each of its n statements
// affected; ErrNotFound if the link's directory is not there.
func runPresenceLinkBatch(ctx context.Context, tx *tx, directoryID string, b *pgx.Batch, n int) ([]int64, error) {
	res := tx.SendBatch(ctx, b)
	affected := make([]int64, n)
	for i := range affected {
		tag, err := res.Exec()
		if err != nil {
			res.Close()
			return nil, wrap("store presence link", err)
		}
		affected[i] = tag.RowsAffected()
	}
	if err := res.Close(); err != nil {
		return nil, wrap("store presence link", err)
	}
	if affected[0] == 0 {
		return nil, fmt.Errorf("%w: directory %q", store.ErrNotFound, directoryID)
	}
	return affected, nil
}

func scanPresenceLink(row pgx.Row) (store.PresenceLink, error) {
	var l store.PresenceLink
	var consentExpires, lastPoll *time.Time
	err := row.Scan(&l.DirectoryID, &l.State, &l.TenantID, &l.ClientID, &l.Credential, &l.Sealed,
		&l.ConsentStateHash, &consentExpires, &lastPoll, &l.ContactsPolled, &l.Skipped, &l.LastError, &l.Updated)
	if isNoRows(err) {
		return l, err
	}
	if err != nil {
		return l, wrap("read presence link", err)
	}
	l.ConsentExpires, l.LastPoll, l.Updated = utcPtr(consentExpires), utcPtr(lastPoll), utc(l.Updated)
	return l, nil
}

// PresenceTargets returns the directory's active users with an object id.
func (db *DB) PresenceTargets(ctx context.Context, directoryID string) ([]store.PresenceTarget, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, oid, version FROM
		(SELECT id, contact::jsonb ->> 'objectId' AS oid, version FROM users WHERE directory_id = $1 AND active) u
		WHERE oid <> '' ORDER BY id`, directoryID)
	if err != nil {
		return nil, wrap("list presence targets", err)
	}
	targets, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.PresenceTarget, error) {
		var t store.PresenceTarget
		err := row.Scan(&t.UserID, &t.ObjectID, &t.Version)
		return t, err
	})
	if err != nil {
		return nil, wrap("list presence targets", err)
	}
	return targets, nil
}

// ListPresence returns the directory's stored presence.
func (db *DB) ListPresence(ctx context.Context, directoryID string) ([]store.Presence, error) {
	rows, err := db.pool.Query(ctx, `SELECT user_id, availability, activity, observed_at FROM presence
		WHERE directory_id = $1 ORDER BY user_id`, directoryID)
	if err != nil {
		return nil, wrap("list presence", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Presence, error) {
		var p store.Presence
		err := row.Scan(&p.UserID, &p.Availability, &p.Activity, &p.ObservedAt)
		p.ObservedAt = utc(p.ObservedAt)
		return p, err
	})
	if err != nil {
		return nil, wrap("list presence", err)
	}
	return out, nil
}

// writePresence applies a WritePresence in one statement and records what
// it applied in the directory's change feed ($1):
//   - stored upserts the presence of the set users ($2-$5) that are still
//     in the directory: the join skips the others, and locking their
//     rows (FOR KEY SHARE) skips a user whose delete commits meanwhile
//     instead of failing on the foreign key. Rows are upserted in user
//     order, so that two writers setting the same users do not deadlock;
//   - deleted deletes the presence of the users in $6 that have one;
//   - counter takes as many numbers as there are changes under the
//     directory's counter row, which it keeps locked until the commit:
//     writers of one directory number their changes in commit order;
//   - the last insert records the changes with those numbers, at $7.
//
// It returns the newest number, no row if nothing changed.
const writePresence = `WITH stored AS (
	INSERT INTO presence (directory_id, user_id, availability, activity, observed_at)
	SELECT u.directory_id, u.id, v.availability, v.activity, v.observed_at
	FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS v (user_id, availability, activity, observed_at)
	JOIN users u ON u.directory_id = $1 AND u.id = v.user_id
	ORDER BY u.id
	FOR KEY SHARE OF u
	ON CONFLICT (directory_id, user_id) DO UPDATE SET availability = excluded.availability,
		activity = excluded.activity, observed_at = excluded.observed_at
	RETURNING user_id, availability, activity, observed_at
), deleted AS (
	DELETE FROM presence WHERE directory_id = $1 AND user_id = ANY ($6::text[])
	RETURNING user_id, NULL::text AS availability, NULL::text AS activity, NULL::timestamptz AS observed_at
), changes AS (
	SELECT row_number() OVER (ORDER BY cleared, user_id) AS n, count(*) OVER () AS total, c.*
	FROM (SELECT false AS cleared, * FROM stored UNION ALL SELECT true, * FROM deleted) c
), counter AS (
	INSERT INTO presence_counters (directory_id, seq)
	SELECT $1, count(*) FROM changes HAVING count(*) > 0
	ON CONFLICT (directory_id) DO UPDATE SET seq = presence_counters.seq + excluded.seq
	RETURNING seq
), recorded AS (
	INSERT INTO presence_changes (directory_id, seq, user_id, availability, activity, observed_at, recorded)
	SELECT $1, counter.seq - changes.total + changes.n, changes.user_id, changes.availability,
		changes.activity, changes.observed_at, $7
	FROM changes, counter
)
SELECT seq FROM counter`

// WritePresence upserts set and deletes del, skipping users that are no
// longer in the directory, and records each change it applied in the
// directory's change feed (store.Shared), telling every replica.
func (db *DB) WritePresence(ctx context.Context, directoryID string, set []store.Presence, del []string) error {
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	ids, avs, acs, ats := presenceArrays(set, del)
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		var newest int64
		err := tx.QueryRow(ctx, writePresence, directoryID, ids, avs, acs, ats, del, tx.now).Scan(&newest)
		if isNoRows(err) {
			return nil // nothing applied
		}
		if err != nil {
			return wrap("store presence", err)
		}
		return notify(ctx, tx, store.Change{Kind: store.ChangePresence, DirectoryID: directoryID, Seq: newest})
	})
}

// presenceArrays returns set as columns, one entry per user: a user set
// twice keeps its last value, and a user also in del is deleted (as if
// set, then deleted). One statement cannot change a row twice.
func presenceArrays(set []store.Presence, del []string) (ids, avs, acs []string, ats []time.Time) {
	deleted := make(map[string]bool, len(del))
	for _, id := range del {
		deleted[id] = true
	}
	at := make(map[string]int, len(set))
	for _, p := range set {
		if deleted[p.UserID] {
			continue
		}
		if i, ok := at[p.UserID]; ok {
			avs[i], acs[i], ats[i] = p.Availability, p.Activity, p.ObservedAt
			continue
		}
		at[p.UserID] = len(ids)
		ids, avs, acs, ats = append(ids, p.UserID), append(avs, p.Availability), append(acs, p.Activity), append(ats, p.ObservedAt)
	}
	return ids, avs, acs, ats
}

// PresenceChanges returns up to limit of the directory's changes after
// seq, oldest first, and the oldest number still recorded, in one
// statement (one snapshot).
func (db *DB) PresenceChanges(ctx context.Context, directoryID string, after int64, limit int) ([]store.PresenceChange, int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT o.oldest, c.seq, c.user_id, c.availability, c.activity, c.observed_at
		FROM (SELECT coalesce(min(seq), 0) AS oldest FROM presence_changes WHERE directory_id = $1) o
		LEFT JOIN LATERAL (SELECT seq, user_id, availability, activity, observed_at FROM presence_changes
			WHERE directory_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) c ON true
		ORDER BY c.seq`, directoryID, after, max(limit, 0))
	if err != nil {
		return nil, 0, wrap("list presence changes", err)
	}
	var oldest int64
	changes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.PresenceChange, error) {
		var seq *int64
		var user, av, ac *string
		var at *time.Time
		if err := row.Scan(&oldest, &seq, &user, &av, &ac, &at); err != nil || seq == nil {
			return nil, err // no change: the row only carries oldest
		}
		c := &store.PresenceChange{Seq: *seq, UserID: *user}
		if av != nil {
			c.Presence = &store.Presence{UserID: *user, Availability: *av, Activity: *ac, ObservedAt: utcPtr(at)}
		}
		return c, nil
	})
	if err != nil {
		return nil, 0, wrap("list presence changes", err)
	}
	out := make([]store.PresenceChange, 0, len(changes))
	for _, c := range changes {
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, oldest, nil
}

// LastPresenceChange returns the number of the directory's newest
// recorded change, 0 if none.
func (db *DB) LastPresenceChange(ctx context.Context, directoryID string) (int64, error) {
	var seq int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM presence_changes WHERE directory_id = $1`,
		directoryID).Scan(&seq)
	return seq, wrap("last presence change", err)
}

// PrunePresenceChanges deletes every directory's changes recorded before
// before, in batches like PruneSyncEvents, but never a directory's
// newest: a client resuming from it must still find it is current.
func (db *DB) PrunePresenceChanges(ctx context.Context, before time.Time) (int64, error) {
	return db.pruneBatches(ctx, "prune presence changes", `DELETE FROM presence_changes WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM presence_changes c WHERE recorded < $1 AND EXISTS
			(SELECT 1 FROM presence_changes n WHERE n.directory_id = c.directory_id AND n.seq > c.seq)
		LIMIT $2))`, ceilMicro(before), pruneBatch)
}
