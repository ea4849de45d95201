package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// Change events (store.EventStore). A write records its events with
// recordChanges; the group commit inserts the events of its batch's
// writes at its end, numbered per directory after the directory's newest
// (the one writer makes that commit order), and wakes the directories'
// watchers once committed. A write rolled back to its savepoint takes its
// events with it.
//
// A new write method records events by loading the states it changes
// before and after its statements (contactStates, or StateOf for a user
// it has in hand), turning them into events with store.ContactEvent or
// store.MembershipEvents, and passing those to recordChanges, all inside
// its transaction function, and only when db.events is set.

// pendingChange is an encoded event waiting for its batch's insert.
type pendingChange struct {
	directoryID, kind, resourceID string
	time                          time.Time
	data                          string
}

// encodeChanges encodes evs of the directory, at t.
func encodeChanges(directoryID string, t time.Time, evs []store.Event) ([]pendingChange, error) {
	out := make([]pendingChange, 0, len(evs))
	for _, ev := range evs {
		b, err := ev.Payload()
		if err != nil {
			return nil, fmt.Errorf("sqlite: encode change event: %w", err)
		}
		out = append(out, pendingChange{directoryID: directoryID, kind: ev.Kind, resourceID: ev.ResourceID, time: t, data: string(b)})
	}
	return out, nil
}

// recordChanges records evs of the directory with tx's write: in a group
// commit they join the batch's insert.
func recordChanges(ctx context.Context, tx *tx, directoryID string, evs []store.Event) error {
	if len(evs) == 0 {
		return nil
	}
	ps, err := encodeChanges(directoryID, tx.now, evs)
	if err != nil {
		return err
	}
	return tx.addChanges(ctx, ps)
}

// addChanges records encoded events with tx's write.
func (t *tx) addChanges(ctx context.Context, ps []pendingChange) error {
	if t.changes == nil {
		_, err := flushChanges(ctx, t.Tx, ps)
		return err
	}
	*t.changes = append(*t.changes, ps...)
	return nil
}

// changeRows bounds the rows of one insert (six parameters each, far
// below SQLite's limit).
const changeRows = 200

// flushChanges numbers and inserts the events of a batch and returns the
// directories they belong to.
func flushChanges(ctx context.Context, t *sql.Tx, changes []pendingChange) ([]string, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	next := map[string]int64{}
	var dirs []string
	for _, c := range changes {
		if _, ok := next[c.directoryID]; ok {
			continue
		}
		var newest int64
		if err := t.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM change_events WHERE directory_id = ?`,
			c.directoryID).Scan(&newest); err != nil {
			return nil, wrap("record change events", err)
		}
		next[c.directoryID] = newest + 1
		dirs = append(dirs, c.directoryID)
	}
	for chunk := range slices.Chunk(changes, changeRows) {
		var q strings.Builder
		q.WriteString(`INSERT INTO change_events (directory_id, seq, time, kind, resource_id, data) VALUES `)
		args := make([]any, 0, 6*len(chunk))
		for i, c := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(`(?, ?, ?, ?, ?, ?)`)
			args = append(args, c.directoryID, next[c.directoryID], formatTime(c.time), c.kind, c.resourceID, c.data)
			next[c.directoryID]++
		}
		if _, err := t.ExecContext(ctx, q.String(), args...); err != nil {
			return nil, wrap("record change events", err)
		}
	}
	return dirs, nil
}

// EventsEnabled reports whether writes record change events.
func (db *DB) EventsEnabled() bool { return db.events }

// ListEvents returns up to limit of the directory's events after seq
// after, and the oldest seq it holds, from one snapshot.
func (db *DB) ListEvents(ctx context.Context, directoryID string, after int64, limit int) ([]store.Event, int64, error) {
	t, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer t.Rollback()
	var oldest int64
	if err := t.QueryRowContext(ctx, `SELECT coalesce(min(seq), 0) FROM change_events WHERE directory_id = ?`,
		directoryID).Scan(&oldest); err != nil {
		return nil, 0, wrap("list change events", err)
	}
	if limit <= 0 {
		return nil, oldest, nil
	}
	rows, err := t.QueryContext(ctx, `SELECT seq, time, kind, resource_id, data FROM change_events
		WHERE directory_id = ? AND seq > ? ORDER BY seq LIMIT ?`, directoryID, after, limit)
	if err != nil {
		return nil, 0, wrap("list change events", err)
	}
	defer rows.Close()
	var evs []store.Event
	for rows.Next() {
		ev := store.Event{DirectoryID: directoryID}
		var at, data string
		if err := rows.Scan(&ev.Seq, &at, &ev.Kind, &ev.ResourceID, &data); err != nil {
			return nil, 0, wrap("scan change event", err)
		}
		if ev.Time, err = parseTime(at); err != nil {
			return nil, 0, err
		}
		if err := ev.SetPayload([]byte(data)); err != nil {
			return nil, 0, fmt.Errorf("sqlite: stored change event: %w", err)
		}
		evs = append(evs, ev)
	}
	return evs, oldest, wrap("list change events", rows.Err())
}

// LatestEvent returns the seq of the directory's newest event.
func (db *DB) LatestEvent(ctx context.Context, directoryID string) (int64, error) {
	var seq int64
	err := db.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM change_events WHERE directory_id = ?`,
		directoryID).Scan(&seq)
	return seq, wrap("latest change event", err)
}

// PruneEvents deletes events recorded before before, in batches of
// pruneBatch like the sync log, keeping each directory's newest.
func (db *DB) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	return db.pruneRows(ctx, "prune change events", `DELETE FROM change_events WHERE id IN
		(SELECT id FROM change_events c WHERE time < ?1
			AND seq < (SELECT max(seq) FROM change_events n WHERE n.directory_id = c.directory_id) LIMIT ?2)`,
		before, pruneBatch)
}

// WatchEvents wakes the caller after the directory's events commit.
func (db *DB) WatchEvents(directoryID string) (<-chan struct{}, func()) {
	return db.watch.Watch(directoryID)
}

// contactStateColumns read a user's ContactState: its contact and the
// names of its groups.
const contactStateColumns = `u.id, u.user_name, u.active, u.contact,
	(SELECT json_group_array(g.display_name) FROM group_members m JOIN groups g
		ON g.directory_id = m.directory_id AND g.id = m.group_id
		WHERE m.directory_id = u.directory_id AND m.user_id = u.id)`

// contactStates returns the states of those of ids that are users of the
// directory, keyed by id.
func contactStates(ctx context.Context, tx *tx, directoryID string, ids []string) (map[string]*store.ContactState, error) {
	out := make(map[string]*store.ContactState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode ids: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+contactStateColumns+` FROM users u
		WHERE u.directory_id = ? AND u.id IN (SELECT value FROM json_each(?))`, directoryID, string(list))
	if err != nil {
		return nil, wrap("read contact states", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u store.User
		var contact, groups []byte
		if err := rows.Scan(&u.ID, &u.UserName, &u.Active, &contact, &groups); err != nil {
			return nil, wrap("read contact states", err)
		}
		if err := decodeContact(contact, &u.Contact); err != nil {
			return nil, fmt.Errorf("sqlite: stored contact: %w", err)
		}
		names, err := decodeStrings(groups)
		if err != nil {
			return nil, fmt.Errorf("sqlite: group names: %w", err)
		}
		out[u.ID] = store.StateOf(u, names)
	}
	return out, wrap("read contact states", rows.Err())
}

// userGroups returns the groups the user is a member of.
func userGroups(ctx context.Context, tx *tx, directoryID, userID string) ([]store.GroupState, error) {
	rows, err := tx.QueryContext(ctx, `SELECT g.id, g.display_name FROM group_members m JOIN groups g
		ON g.directory_id = m.directory_id AND g.id = m.group_id
		WHERE m.directory_id = ? AND m.user_id = ? ORDER BY g.id`, directoryID, userID)
	if err != nil {
		return nil, wrap("read user groups", err)
	}
	defer rows.Close()
	var out []store.GroupState
	for rows.Next() {
		var g store.GroupState
		if err := rows.Scan(&g.ID, &g.DisplayName); err != nil {
			return nil, wrap("read user groups", err)
		}
		out = append(out, g)
	}
	return out, wrap("read user groups", rows.Err())
}

// recordUserUpdate records the event of a user's update from old to u,
// if the lookup API shows a difference. A user write changes no
// membership, so the user's groups are read only when the rest differs:
// Entra's PATCH that repeats the stored values costs no query.
func recordUserUpdate(ctx context.Context, tx *tx, old, u store.User) error {
	if _, changed := store.ContactEvent(store.StateOf(old, nil), store.StateOf(u, nil)); !changed {
		return nil
	}
	gs, err := userGroups(ctx, tx, old.DirectoryID, old.ID)
	if err != nil {
		return err
	}
	names := store.GroupNames(gs)
	ev, _ := store.ContactEvent(store.StateOf(old, names), store.StateOf(u, slices.Clone(names)))
	return recordChanges(ctx, tx, old.DirectoryID, []store.Event{ev})
}

// recordUserDelete records the events of the user's delete, before it:
// its removal from each of its groups, then its own.
func recordUserDelete(ctx context.Context, tx *tx, directoryID, id string) error {
	states, err := contactStates(ctx, tx, directoryID, []string{id})
	if err != nil || states[id] == nil {
		return err
	}
	gs, err := userGroups(ctx, tx, directoryID, id)
	if err != nil {
		return err
	}
	return recordChanges(ctx, tx, directoryID, store.UserDeleteEvents(states[id], gs))
}

// members returns which of ids (all members when ids is nil) are members
// of the group.
func members(ctx context.Context, tx *tx, directoryID, groupID string, ids []string) (map[string]bool, error) {
	q, args := `SELECT user_id FROM group_members WHERE directory_id = ? AND group_id = ?`, []any{directoryID, groupID}
	if ids != nil {
		list, err := json.Marshal(ids)
		if err != nil {
			return nil, fmt.Errorf("sqlite: encode ids: %w", err)
		}
		q += ` AND user_id IN (SELECT value FROM json_each(?))`
		args = append(args, string(list))
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("read members", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("read members", err)
		}
		out[id] = true
	}
	return out, wrap("read members", rows.Err())
}

// groupReader is store.GroupReader on a write transaction.
type groupReader struct {
	ctx                  context.Context
	tx                   *tx
	directoryID, groupID string
}

func (g groupReader) Members(ids []string) (map[string]bool, error) {
	return members(g.ctx, g.tx, g.directoryID, g.groupID, ids)
}

func (g groupReader) States(ids []string) (map[string]*store.ContactState, error) {
	return contactStates(g.ctx, g.tx, g.directoryID, ids)
}

// beginGroupWrite starts following a write to the group by ops for its
// events (store.GroupWrite).
func beginGroupWrite(ctx context.Context, tx *tx, directoryID, groupID string, g0 *store.GroupState, ops []store.MemberOp, renamed bool) (*groupWrite, error) {
	r := groupReader{ctx: ctx, tx: tx, directoryID: directoryID, groupID: groupID}
	w, err := store.BeginGroupWrite(r, g0, ops, renamed)
	if err != nil {
		return nil, err
	}
	return &groupWrite{r: r, w: w}, nil
}

// groupWrite is a store.GroupWrite in progress.
type groupWrite struct {
	r groupReader
	w *store.GroupWrite
}

// finish records the write's events, g1 being the group after it (nil
// when deleted).
func (g *groupWrite) finish(ctx context.Context, tx *tx, g1 *store.GroupState) error {
	return recordChanges(ctx, tx, g.r.directoryID, g.w.Finish(g1))
}

// groupState is g as change events show it.
func groupState(g store.Group) *store.GroupState {
	return &store.GroupState{ID: g.ID, DisplayName: g.DisplayName}
}

// pruneRows runs del (parameters: before, batch size) a batch per write
// until a run deletes less than a batch, and returns the total deleted.
// Stopped by ctx between batches, it returns what the committed batches
// deleted.
func (db *DB) pruneRows(ctx context.Context, op, del string, before time.Time, batch int) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.write(ctx, func(ctx context.Context, tx *tx) error {
			res, err := tx.ExecContext(ctx, del, formatTime(before), batch)
			if err != nil {
				return wrap(op, err)
			}
			n, err = res.RowsAffected()
			return wrap(op, err)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
