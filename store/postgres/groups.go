package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

const groupColumns = `directory_id, id, external_id, display_name, doc, version, created, last_modified`

// CreateGroup stores g at version 1 together with its initial members.
func (db *DB) CreateGroup(ctx context.Context, g store.Group, members []string, ev store.SyncEvent) (store.Group, error) {
	doc, err := docText(g.Doc)
	if err != nil {
		return store.Group{}, err
	}
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Group, error) {
		g := g
		g.Doc, g.Version, g.Created, g.LastModified = []byte(doc), 1, tx.now, tx.now
		var gw *groupWrite
		if db.events {
			var err error
			if gw, err = beginGroupWrite(ctx, tx, g.DirectoryID, g.ID, nil, []store.MemberOp{{Kind: store.MembersAdd, UserIDs: members}}, false); err != nil {
				return store.Group{}, err
			}
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO groups (`+groupColumns+`, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			g.DirectoryID, g.ID, g.ExternalID, g.DisplayName, doc, g.Version, g.Created, g.LastModified, store.Fold(g.DisplayName))
		queueAdd(b, g.DirectoryID, g.ID, members)
		br := tx.SendBatch(ctx, b)
		_, err := br.Exec()
		if err = groupWriteError(err, g); err == nil {
			err = readAdd(br, members)
		}
		if err := closeBatch(br, err); err != nil {
			return store.Group{}, err
		}
		if gw != nil {
			gw.finish(tx, groupState(g))
		}
		ev := ev
		ev.ResourceID = g.ID
		return g, insertEvent(ctx, tx, g.DirectoryID, ev)
	})
}

// groupWriteError turns a constraint violation into the sentinel it means.
func groupWriteError(err error, g store.Group) error {
	switch {
	case err == nil:
		return nil
	case isUnique(err) && constraint(err) == "groups_pkey":
		return fmt.Errorf("%w: group id %q already exists", store.ErrConflict, g.ID)
	case isUnique(err):
		return fmt.Errorf("%w: group displayName %q already exists", store.ErrConflict, g.DisplayName)
	case isForeignKey(err):
		return fmt.Errorf("%w: directory %q", store.ErrNotFound, g.DirectoryID)
	}
	return wrap("write group", err)
}

// GetGroup returns group id of the directory, without members.
func (db *DB) GetGroup(ctx context.Context, directoryID, id string) (store.Group, error) {
	return getGroup(ctx, db.pool, directoryID, id, "")
}

// getGroup reads a group; lock is "" or a locking clause (FOR UPDATE), a
// constant of this package.
func getGroup(ctx context.Context, q querier, directoryID, id, lock string) (store.Group, error) {
	g, err := scanGroup(q.QueryRow(ctx,
		`SELECT `+groupColumns+` FROM groups WHERE directory_id = $1 AND id = $2 `+lock, directoryID, id))
	if isNoRows(err) {
		return g, fmt.Errorf("%w: group %q", store.ErrNotFound, id)
	}
	return g, err
}

// GroupMembers returns the member ids of each of the directory's groups
// named in groupIDs, sorted. Groups without members (or unknown to the
// directory) have no entry. One statement: one snapshot.
func (db *DB) GroupMembers(ctx context.Context, directoryID string, groupIDs []string) (map[string][]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT group_id, user_id FROM group_members
		WHERE directory_id = $1 AND group_id = ANY ($2::text[]) ORDER BY group_id, user_id`, directoryID, groupIDs)
	if err != nil {
		return nil, wrap("group members", err)
	}
	defer rows.Close()
	m := make(map[string][]string, len(groupIDs))
	for rows.Next() {
		var gid, uid string
		if err := rows.Scan(&gid, &uid); err != nil {
			return nil, wrap("group members", err)
		}
		m[gid] = append(m[gid], uid)
	}
	return m, wrap("group members", rows.Err())
}

// UpdateGroup locks the group, asks fn for a change and applies it (the
// attributes, then the member operations in order) with the next version,
// all in one transaction: an invalid member writes nothing, and
// concurrent changes of one group queue on its row.
func (db *DB) UpdateGroup(ctx context.Context, directoryID, id string, fn func(store.Group) (store.GroupChange, error)) (store.Group, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Group, error) {
		old, err := getGroup(ctx, tx, directoryID, id, "FOR UPDATE")
		if err != nil {
			return store.Group{}, err
		}
		change, err := fn(old)
		if err != nil {
			return store.Group{}, err // unchanged: callers match their own errors
		}
		g := old
		if change.Group != nil {
			doc, err := docText(change.Group.Doc)
			if err != nil {
				return store.Group{}, err
			}
			g.DisplayName, g.ExternalID, g.Doc = change.Group.DisplayName, change.Group.ExternalID, []byte(doc)
		}
		// Membership is part of the group's state, so its version moves even
		// when only members change.
		g.Version, g.LastModified = old.Version+1, tx.now
		var gw *groupWrite
		if db.events {
			if gw, err = beginGroupWrite(ctx, tx, directoryID, id, groupState(old), change.Members, old.DisplayName != g.DisplayName); err != nil {
				return store.Group{}, err
			}
		}
		if err := writeGroup(ctx, tx, g, change.Members); err != nil {
			return store.Group{}, err
		}
		if gw != nil {
			gw.finish(tx, groupState(g))
		}
		change.Event.ResourceID = g.ID
		return g, insertEvent(ctx, tx, directoryID, change.Event)
	})
}

// writeGroup updates g's row and applies the member operations, in one
// round trip.
func writeGroup(ctx context.Context, tx *tx, g store.Group, ops []store.MemberOp) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE groups
		SET external_id = $1, display_name = $2, name_key = $3, doc = $4, version = $5, last_modified = $6
		WHERE directory_id = $7 AND id = $8`,
		g.ExternalID, g.DisplayName, store.Fold(g.DisplayName), string(g.Doc), g.Version, g.LastModified, g.DirectoryID, g.ID)
	for _, op := range ops {
		switch op.Kind {
		case store.MembersAdd:
			queueAdd(b, g.DirectoryID, g.ID, op.UserIDs)
		case store.MembersRemove:
			b.Queue(`DELETE FROM group_members WHERE directory_id = $1 AND group_id = $2 AND user_id = ANY ($3::text[])`,
				g.DirectoryID, g.ID, op.UserIDs)
		case store.MembersRemoveAll:
			b.Queue(`DELETE FROM group_members WHERE directory_id = $1 AND group_id = $2`, g.DirectoryID, g.ID)
		default:
			return fmt.Errorf("postgres: unknown member operation %d", op.Kind)
		}
	}
	br := tx.SendBatch(ctx, b)
	_, err := br.Exec()
	err = groupWriteError(err, g)
	for _, op := range ops {
		if err != nil {
			break
		}
		if op.Kind == store.MembersAdd {
			err = readAdd(br, op.UserIDs)
		} else if _, err = br.Exec(); err != nil {
			err = wrap("remove members", err)
		}
	}
	return closeBatch(br, err)
}

// queueAdd queues the statements that add users to a group (present ones
// are a no-op): a query for the first id that is not a user of the
// directory, so that the error names it, then the insert. An empty list
// queues nothing.
func queueAdd(b *pgx.Batch, directoryID, groupID string, userIDs []string) {
	if len(userIDs) == 0 {
		return
	}
	b.Queue(`SELECT m.id FROM unnest($2::text[]) WITH ORDINALITY AS m (id, n)
		WHERE NOT EXISTS (SELECT 1 FROM users WHERE directory_id = $1 AND id = m.id)
		ORDER BY m.n LIMIT 1`, directoryID, userIDs)
	b.Queue(`INSERT INTO group_members (directory_id, group_id, user_id)
		SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`, directoryID, groupID, userIDs)
}

// readAdd reads the results of queueAdd's statements.
func readAdd(br pgx.BatchResults, userIDs []string) error {
	if len(userIDs) == 0 {
		return nil
	}
	var missing string
	switch err := br.QueryRow().Scan(&missing); {
	case err == nil:
		return invalidMember(missing)
	case !isNoRows(err):
		return wrap("add members", err)
	}
	_, err := br.Exec()
	if isForeignKey(err) { // a user deleted since the check
		return fmt.Errorf("%w: a member is not a user of this directory", store.ErrInvalidMember)
	}
	return wrap("add members", err)
}

// closeBatch closes br and returns err, or else the error closing it.
func closeBatch(br pgx.BatchResults, err error) error {
	if cerr := br.Close(); err == nil {
		err = wrap("batch", cerr)
	}
	return err
}

func invalidMember(userID string) error {
	return fmt.Errorf("%w: %q is not a user of this directory", store.ErrInvalidMember, userID)
}

// DeleteGroup removes the group; its memberships go by cascade.
func (db *DB) DeleteGroup(ctx context.Context, directoryID, id string, version int64, ev store.SyncEvent) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		if err := checkVersion(ctx, tx, "group", directoryID, id, version); err != nil {
			return err
		}
		var gw *groupWrite
		if db.events {
			g, err := getGroup(ctx, tx, directoryID, id, "")
			if err != nil {
				return err
			}
			if gw, err = beginGroupWrite(ctx, tx, directoryID, id, groupState(g), []store.MemberOp{{Kind: store.MembersRemoveAll}}, false); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM groups WHERE directory_id = $1 AND id = $2`, directoryID, id); err != nil {
			return wrap("delete group", err)
		}
		if gw != nil {
			gw.finish(tx, nil)
		}
		ev.ResourceID = id
		return insertEvent(ctx, tx, directoryID, ev)
	})
}

// scanGroup reads a row of groupColumns. A missing row is pgx.ErrNoRows,
// unwrapped.
func scanGroup(row pgx.Row) (store.Group, error) {
	var g store.Group
	if err := row.Scan(&g.DirectoryID, &g.ID, &g.ExternalID, &g.DisplayName, &g.Doc, &g.Version,
		&g.Created, &g.LastModified); err != nil {
		if isNoRows(err) {
			return g, err
		}
		return g, wrap("scan group", err)
	}
	g.Created, g.LastModified = utc(g.Created), utc(g.LastModified)
	return g, nil
}
