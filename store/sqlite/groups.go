package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/scimd/scimd/store"
)

const groupColumns = `directory_id, id, external_id, display_name, doc, version, created, last_modified`

// CreateGroup stores g at version 1 together with its initial members.
func (db *DB) CreateGroup(ctx context.Context, g store.Group, members []string, ev store.SyncEvent) (store.Group, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Group, error) {
		doc, err := docText(g.Doc)
		if err != nil {
			return store.Group{}, err
		}
		g.Doc, g.Version, g.Created, g.LastModified = []byte(doc), 1, tx.now, tx.now
		var gw *groupWrite
		if db.events {
			if gw, err = beginGroupWrite(ctx, tx, g.DirectoryID, g.ID, nil, []store.MemberOp{{Kind: store.MembersAdd, UserIDs: members}}, false); err != nil {
				return store.Group{}, err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO groups (`+groupColumns+`, name_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			g.DirectoryID, g.ID, g.ExternalID, g.DisplayName, doc, g.Version,
			formatTime(g.Created), formatTime(g.LastModified), fold(g.DisplayName))
		if err := groupWriteError(err, g); err != nil {
			return store.Group{}, err
		}
		if err := addMembers(ctx, tx, g.DirectoryID, g.ID, members); err != nil {
			return store.Group{}, err
		}
		if gw != nil {
			if err := gw.finish(ctx, tx, groupState(g)); err != nil {
				return store.Group{}, err
			}
		}
		ev.ResourceID = g.ID
		return g, insertEvent(ctx, tx, g.DirectoryID, ev)
	})
}

// groupWriteError turns a constraint violation into the sentinel it means.
func groupWriteError(err error, g store.Group) error {
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return fmt.Errorf("%w: group displayName %q already exists", store.ErrConflict, g.DisplayName)
	case isPrimaryKey(err):
		return fmt.Errorf("%w: group id %q already exists", store.ErrConflict, g.ID)
	case isForeignKey(err):
		return fmt.Errorf("%w: directory %q", store.ErrNotFound, g.DirectoryID)
	case isCheck(err):
		return errBadDoc
	}
	return wrap("write group", err)
}

// GetGroup returns group id of the directory, without members.
func (db *DB) GetGroup(ctx context.Context, directoryID, id string) (store.Group, error) {
	return getGroup(ctx, db.r, directoryID, id)
}

func getGroup(ctx context.Context, q querier, directoryID, id string) (store.Group, error) {
	g, err := scanGroup(q.QueryRowContext(ctx,
		`SELECT `+groupColumns+` FROM groups WHERE directory_id = ? AND id = ?`, directoryID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("%w: group %q", store.ErrNotFound, id)
	}
	return g, err
}

// GroupMembers returns the member ids of each of the directory's groups
// named in groupIDs, sorted. Groups without members (or unknown to the
// directory) have no entry.
func (db *DB) GroupMembers(ctx context.Context, directoryID string, groupIDs []string) (map[string][]string, error) {
	tx, err := db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx,
		`SELECT user_id FROM group_members WHERE directory_id = ? AND group_id = ? ORDER BY user_id`)
	if err != nil {
		return nil, wrap("group members", err)
	}
	defer stmt.Close()
	m := make(map[string][]string, len(groupIDs))
	for _, gid := range groupIDs {
		if _, done := m[gid]; done {
			continue
		}
		ids, err := memberIDs(ctx, stmt, directoryID, gid)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			m[gid] = ids
		}
	}
	return m, nil
}

func memberIDs(ctx context.Context, stmt *sql.Stmt, directoryID, groupID string) ([]string, error) {
	rows, err := stmt.QueryContext(ctx, directoryID, groupID)
	if err != nil {
		return nil, wrap("group members", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("group members", err)
		}
		ids = append(ids, id)
	}
	return ids, wrap("group members", rows.Err())
}

// UpdateGroup loads the group, asks fn for a change and applies it (the
// attributes, then the member operations in order) with the next version,
// all in one write transaction: an invalid member writes nothing.
func (db *DB) UpdateGroup(ctx context.Context, directoryID, id string, fn func(store.Group) (store.GroupChange, error)) (store.Group, error) {
	return writeTx(db, ctx, func(ctx context.Context, tx *tx) (store.Group, error) {
		old, err := getGroup(ctx, tx, directoryID, id)
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
		_, err = tx.ExecContext(ctx, `UPDATE groups
			SET external_id = ?, display_name = ?, name_key = ?, doc = ?, version = ?, last_modified = ?
			WHERE directory_id = ? AND id = ?`,
			g.ExternalID, g.DisplayName, fold(g.DisplayName), string(g.Doc), g.Version, formatTime(g.LastModified), g.DirectoryID, g.ID)
		if err := groupWriteError(err, g); err != nil {
			return store.Group{}, err
		}
		for _, op := range change.Members {
			if err := applyMemberOp(ctx, tx, directoryID, id, op); err != nil {
				return store.Group{}, err
			}
		}
		if gw != nil {
			if err := gw.finish(ctx, tx, groupState(g)); err != nil {
				return store.Group{}, err
			}
		}
		change.Event.ResourceID = g.ID
		return g, insertEvent(ctx, tx, directoryID, change.Event)
	})
}

func applyMemberOp(ctx context.Context, tx *tx, directoryID, groupID string, op store.MemberOp) error {
	switch op.Kind {
	case store.MembersAdd:
		return addMembers(ctx, tx, directoryID, groupID, op.UserIDs)
	case store.MembersRemove:
		return removeMembers(ctx, tx, directoryID, groupID, op.UserIDs)
	case store.MembersRemoveAll:
		_, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE directory_id = ? AND group_id = ?`,
			directoryID, groupID)
		return wrap("remove members", err)
	}
	return fmt.Errorf("sqlite: unknown member operation %d", op.Kind)
}

// addMembers adds users to the group; present ones are a no-op. Each id is
// checked first so that the error names it: the foreign key would only say
// that some member is missing.
func addMembers(ctx context.Context, tx *tx, directoryID, groupID string, userIDs []string) error {
	if len(userIDs) == 0 {
		return nil
	}
	exists, err := tx.PrepareContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE directory_id = ? AND id = ?)`)
	if err != nil {
		return wrap("add members", err)
	}
	defer exists.Close()
	insert, err := tx.PrepareContext(ctx, `INSERT INTO group_members (directory_id, group_id, user_id)
		VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return wrap("add members", err)
	}
	defer insert.Close()
	for _, uid := range userIDs {
		var ok bool
		if err := exists.QueryRowContext(ctx, directoryID, uid).Scan(&ok); err != nil {
			return wrap("add members", err)
		}
		if !ok {
			return invalidMember(uid)
		}
		if _, err := insert.ExecContext(ctx, directoryID, groupID, uid); isForeignKey(err) {
			return invalidMember(uid)
		} else if err != nil {
			return wrap("add members", err)
		}
	}
	return nil
}

func invalidMember(userID string) error {
	return fmt.Errorf("%w: %q is not a user of this directory", store.ErrInvalidMember, userID)
}

// removeMembers removes users from the group; absent ones are a no-op.
func removeMembers(ctx context.Context, tx *tx, directoryID, groupID string, userIDs []string) error {
	if len(userIDs) == 0 {
		return nil
	}
	del, err := tx.PrepareContext(ctx, `DELETE FROM group_members WHERE directory_id = ? AND group_id = ? AND user_id = ?`)
	if err != nil {
		return wrap("remove members", err)
	}
	defer del.Close()
	for _, uid := range userIDs {
		if _, err := del.ExecContext(ctx, directoryID, groupID, uid); err != nil {
			return wrap("remove members", err)
		}
	}
	return nil
}

// DeleteGroup removes the group; its memberships go by cascade.
func (db *DB) DeleteGroup(ctx context.Context, directoryID, id string, version int64, ev store.SyncEvent) error {
	return db.write(ctx, func(ctx context.Context, tx *tx) error {
		if err := checkVersion(ctx, tx, "group", directoryID, id, version); err != nil {
			return err
		}
		var gw *groupWrite
		if db.events {
			g, err := getGroup(ctx, tx, directoryID, id)
			if err != nil {
				return err
			}
			if gw, err = beginGroupWrite(ctx, tx, directoryID, id, groupState(g), []store.MemberOp{{Kind: store.MembersRemoveAll}}, false); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE directory_id = ? AND id = ?`, directoryID, id); err != nil {
			return wrap("delete group", err)
		}
		if gw != nil {
			if err := gw.finish(ctx, tx, nil); err != nil {
				return err
			}
		}
		ev.ResourceID = id
		return insertEvent(ctx, tx, directoryID, ev)
	})
}

// ListGroups returns a page of the directory's groups matching q.Filter,
// ordered by (Created, ID), and the number of matches.
func (db *DB) ListGroups(ctx context.Context, directoryID string, q store.Query) ([]store.Group, int, error) {
	return list(ctx, db, groupsTable, groupColumns, directoryID, q, scanGroup)
}

func scanGroup(row interface{ Scan(...any) error }) (store.Group, error) {
	var g store.Group
	var created, modified string
	if err := row.Scan(&g.DirectoryID, &g.ID, &g.ExternalID, &g.DisplayName, &g.Doc, &g.Version,
		&created, &modified); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return g, err
		}
		return g, wrap("scan group", err)
	}
	var err1, err2 error
	g.Created, err1 = parseTime(created)
	g.LastModified, err2 = parseTime(modified)
	return g, errors.Join(err1, err2)
}
