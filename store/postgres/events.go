package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// Change events (store.EventStore). A write records its events with
// tx.record; write inserts them as the transaction's last statement
// (recordChanges), which takes the directory's counter row and keeps it
// locked until the commit, so that numbers are in commit order: a
// transaction that numbers after another commits after it. Taking the
// counter last keeps that lock short (only the commit waits under it) and
// deadlock-free (no other lock is taken after it).
//
// Other replicas learn of new events from a notification (ChangeEvents)
// that the notifier sends after the commit, at most one per directory
// every notifyEvery, in its own statement: a NOTIFY in the write's
// transaction would serialize every notifying commit of the database
// (PostgreSQL queues notifications under one lock held through the
// commit), which made creations at c=16 a third slower. The listener of
// every replica turns them into WatchEvents wake-ups; this replica's
// watchers are woken at the commit. A notification lost with its replica
// (killed between the commit and the notifier's next send) delays the
// others' streams until they read again by themselves (their heartbeat).
//
// A new write method records events by loading the states it changes
// before and after its statements (contactStates, or store.StateOf for a
// user it has in hand), turning them into events with store.ContactEvent
// or store.MembershipEvents and passing them to tx.record, inside a
// db.write transaction, and only when db.events is set. A method that
// sends one batch instead of a transaction (CreateUser) queues
// recordChanges last in its batch.

// record adds evs of the directory to the transaction's change events.
func (t *tx) record(directoryID string, evs ...store.Event) {
	for _, ev := range evs {
		ev.DirectoryID = directoryID
		t.changes = append(t.changes, ev)
	}
}

// recordChangesSQL numbers the events in $2-$4 (kinds, resource ids,
// payloads) of directory $1 under its counter row and inserts them at $5.
const recordChangesSQL = `WITH counter AS (
	INSERT INTO event_counters (directory_id, seq) VALUES ($1, cardinality($2::text[]))
	ON CONFLICT (directory_id) DO UPDATE SET seq = event_counters.seq + excluded.seq
	RETURNING seq
)
INSERT INTO change_events (directory_id, seq, time, kind, resource_id, data)
SELECT $1, counter.seq - cardinality($2::text[]) + e.n, $5, e.kind, e.resource_id, e.data
FROM counter, unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e (kind, resource_id, data, n)`

// recordChangesArgs are recordChangesSQL's arguments for evs of one
// directory.
func recordChangesArgs(directoryID string, now time.Time, evs []store.Event) ([]any, error) {
	kinds, ids, data := make([]string, len(evs)), make([]string, len(evs)), make([]string, len(evs))
	for i, ev := range evs {
		b, err := ev.Payload()
		if err != nil {
			return nil, fmt.Errorf("postgres: encode change event: %w", err)
		}
		kinds[i], ids[i], data[i] = ev.Kind, ev.ResourceID, string(b)
	}
	return []any{directoryID, kinds, ids, data, now}, nil
}

// recordChanges inserts the transaction's change events, a statement per
// directory (a write changes one), and returns those directories.
func recordChanges(ctx context.Context, t *tx) ([]string, error) {
	var dirs []string
	for len(t.changes) > 0 {
		dir := t.changes[0].DirectoryID
		var evs, rest []store.Event
		for _, ev := range t.changes {
			if ev.DirectoryID == dir {
				evs = append(evs, ev)
			} else {
				rest = append(rest, ev)
			}
		}
		args, err := recordChangesArgs(dir, t.now, evs)
		if err != nil {
			return nil, err
		}
		if _, err := t.Exec(ctx, recordChangesSQL, args...); err != nil {
			return nil, wrap("record change events", err)
		}
		t.changes = rest
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// notifyEvery is how long the notifier gathers directories with new
// events before it tells the other replicas.
const notifyEvery = 20 * time.Millisecond

// notifier tells every replica which directories have new events.
type notifier struct {
	db     *DB
	mu     sync.Mutex
	dirs   map[string]bool
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func newNotifier(db *DB) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	n := &notifier{db: db, dirs: map[string]bool{}, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go n.run(ctx)
	return n
}

// committed notes that events of the directories committed: this
// replica's watchers wake now, the others' after the next notification.
func (n *notifier) committed(directoryIDs ...string) {
	n.db.watch.Signal(directoryIDs...)
	n.mu.Lock()
	for _, id := range directoryIDs {
		n.dirs[id] = true
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *notifier) close() {
	n.cancel()
	<-n.done
}

func (n *notifier) run(ctx context.Context) {
	defer close(n.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(notifyEvery):
		}
		n.mu.Lock()
		payloads := make([]string, 0, len(n.dirs))
		for id := range n.dirs {
			payloads = append(payloads, payload(store.Change{Kind: store.ChangeEvents, DirectoryID: id}))
		}
		clear(n.dirs)
		n.mu.Unlock()
		sctx, cancel := context.WithTimeout(ctx, pingTimeout)
		_, err := n.db.pool.Exec(sctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, channel, payloads)
		cancel()
		if err != nil && ctx.Err() == nil {
			n.db.log.Warn("postgres: notifying other replicas of change events failed; their streams read again at their heartbeat", "err", err)
		}
	}
}

// EventsEnabled reports whether writes record change events.
func (db *DB) EventsEnabled() bool { return db.events }

// ListEvents returns up to limit of the directory's events after seq
// after, and the oldest seq it holds, in one statement (one snapshot).
func (db *DB) ListEvents(ctx context.Context, directoryID string, after int64, limit int) ([]store.Event, int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT o.oldest, c.seq, c.time, c.kind, c.resource_id, c.data
		FROM (SELECT coalesce(min(seq), 0) AS oldest FROM change_events WHERE directory_id = $1) o
		LEFT JOIN LATERAL (SELECT seq, time, kind, resource_id, data FROM change_events
			WHERE directory_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) c ON true
		ORDER BY c.seq`, directoryID, after, max(limit, 0))
	if err != nil {
		return nil, 0, wrap("list change events", err)
	}
	var oldest int64
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Event, error) {
		var seq *int64
		var at *time.Time
		var kind, id, data *string
		if err := row.Scan(&oldest, &seq, &at, &kind, &id, &data); err != nil || seq == nil {
			return nil, err // no event: the row only carries oldest
		}
		ev := &store.Event{DirectoryID: directoryID, Seq: *seq, Time: utcPtr(at), Kind: *kind, ResourceID: *id}
		if err := ev.SetPayload([]byte(*data)); err != nil {
			return nil, fmt.Errorf("postgres: stored change event: %w", err)
		}
		return ev, nil
	})
	if err != nil {
		return nil, 0, wrap("list change events", err)
	}
	out := make([]store.Event, 0, len(evs))
	for _, ev := range evs {
		if ev != nil {
			out = append(out, *ev)
		}
	}
	return out, oldest, nil
}

// LatestEvent returns the seq of the directory's newest event.
func (db *DB) LatestEvent(ctx context.Context, directoryID string) (int64, error) {
	var seq int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM change_events WHERE directory_id = $1`,
		directoryID).Scan(&seq)
	return seq, wrap("latest change event", err)
}

// PruneEvents deletes events recorded before before, in batches like
// PruneSyncEvents, keeping each directory's newest.
func (db *DB) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	return db.pruneBatches(ctx, "prune change events", `DELETE FROM change_events WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM change_events c WHERE time < $1 AND EXISTS
			(SELECT 1 FROM change_events n WHERE n.directory_id = c.directory_id AND n.seq > c.seq)
		LIMIT $2))`, ceilMicro(before), pruneBatch)
}

// WatchEvents wakes the caller after the directory's events commit on
// any replica (the listener hears them).
func (db *DB) WatchEvents(directoryID string) (<-chan struct{}, func()) {
	return db.watch.Watch(directoryID)
}

// contactStates returns the states of those of ids that are users of the
// directory, keyed by id.
func contactStates(ctx context.Context, q querier, directoryID string, ids []string) (map[string]*store.ContactState, error) {
	out := make(map[string]*store.ContactState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT u.id, u.user_name, u.active, u.contact,
		ARRAY(SELECT g.display_name FROM group_members m JOIN groups g ON g.directory_id = m.directory_id AND g.id = m.group_id
			WHERE m.directory_id = u.directory_id AND m.user_id = u.id)
		FROM users u WHERE u.directory_id = $1 AND u.id = ANY ($2::text[])`, directoryID, ids)
	if err != nil {
		return nil, wrap("read contact states", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u store.User
		var contact []byte
		var groups []string
		if err := rows.Scan(&u.ID, &u.UserName, &u.Active, &contact, &groups); err != nil {
			return nil, wrap("read contact states", err)
		}
		if err := json.Unmarshal(contact, &u.Contact); err != nil {
			return nil, fmt.Errorf("postgres: stored contact: %w", err)
		}
		out[u.ID] = store.StateOf(u, groups)
	}
	return out, wrap("read contact states", rows.Err())
}

// userGroups returns the groups the user is a member of.
func userGroups(ctx context.Context, q querier, directoryID, userID string) ([]store.GroupState, error) {
	rows, err := q.Query(ctx, `SELECT g.id, g.display_name FROM group_members m JOIN groups g
		ON g.directory_id = m.directory_id AND g.id = m.group_id
		WHERE m.directory_id = $1 AND m.user_id = $2 ORDER BY g.id`, directoryID, userID)
	if err != nil {
		return nil, wrap("read user groups", err)
	}
	gs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.GroupState, error) {
		var g store.GroupState
		err := row.Scan(&g.ID, &g.DisplayName)
		return g, err
	})
	return gs, wrap("read user groups", err)
}

// members returns which of ids (all members when ids is nil) are members
// of the group.
func members(ctx context.Context, q querier, directoryID, groupID string, ids []string) (map[string]bool, error) {
	sql, args := `SELECT user_id FROM group_members WHERE directory_id = $1 AND group_id = $2`, []any{directoryID, groupID}
	if ids != nil {
		sql += ` AND user_id = ANY ($3::text[])`
		args = append(args, ids)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap("read members", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("read members", err)
	}
	out := make(map[string]bool, len(list))
	for _, id := range list {
		out[id] = true
	}
	return out, nil
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
	tx.record(old.DirectoryID, ev)
	return nil
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
	tx.record(directoryID, store.UserDeleteEvents(states[id], gs)...)
	return nil
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

// States locks the users it reads until the commit, in id order, then
// reads them: a concurrent write of one of them (its update, its
// membership of another group) waits for this one and then reads what
// this one wrote, so that each event's states follow from the one
// before. The read is a statement of its own, so that its snapshot is
// taken once the locks are held (a subquery of the locking statement
// would read with the snapshot from before the wait). The lock (no key
// update) leaves foreign key checks alone.
func (g groupReader) States(ids []string) (map[string]*store.ContactState, error) {
	if _, err := g.tx.Exec(g.ctx, `SELECT 1 FROM users WHERE directory_id = $1 AND id = ANY ($2::text[])
		ORDER BY id FOR NO KEY UPDATE`, g.directoryID, ids); err != nil {
		return nil, wrap("lock members", err)
	}
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
func (g *groupWrite) finish(tx *tx, g1 *store.GroupState) {
	tx.record(g.r.directoryID, g.w.Finish(g1)...)
}

// groupState is g as change events show it.
func groupState(g store.Group) *store.GroupState {
	return &store.GroupState{ID: g.ID, DisplayName: g.DisplayName}
}
