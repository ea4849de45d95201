package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// nullText stores an absent document as NULL.
func nullText(b []byte) sql.NullString {
	return sql.NullString{String: string(b), Valid: b != nil}
}

// pendingEvent is a sync event waiting for its batch's insert.
type pendingEvent struct {
	directoryID string
	time        time.Time
	ev          store.SyncEvent
}

// insertEvent records ev with tx's write; an event without an operation
// is not recorded (callers that keep no log, such as tests of other
// behaviour). In a group commit the event joins the batch's one insert.
func insertEvent(ctx context.Context, tx *tx, directoryID string, ev store.SyncEvent) error {
	if ev.Operation == "" {
		return nil
	}
	p := pendingEvent{directoryID: directoryID, time: tx.now, ev: ev}
	if tx.events != nil {
		*tx.events = append(*tx.events, p)
		return nil
	}
	return flushEvents(ctx, tx.Tx, []pendingEvent{p})
}

// flushEvents inserts events in one statement (a batch holds at most
// maxBatch writes, far below SQLite's limit on parameters).
func flushEvents(ctx context.Context, t *sql.Tx, events []pendingEvent) error {
	if len(events) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO sync_events
		(directory_id, time, operation, resource_type, resource_id, identity, new, failed, result) VALUES `)
	args := make([]any, 0, 9*len(events))
	for i, p := range events {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		e := p.ev
		args = append(args, p.directoryID, formatTime(p.time), e.Operation, e.ResourceType, e.ResourceID, e.Identity, e.New, e.Failed, e.Result)
	}
	_, err := t.ExecContext(ctx, q.String(), args...)
	return wrap("record sync event", err)
}

// RecordSyncEvent records an event on its own (a refused write).
func (db *DB) RecordSyncEvent(ctx context.Context, ev store.SyncEvent) error {
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		return insertEvent(ctx, tx, ev.DirectoryID, ev)
	})
	if isForeignKey(err) {
		return fmt.Errorf("%w: directory %q", store.ErrNotFound, ev.DirectoryID)
	}
	return err
}

const syncEventColumns = `id, directory_id, time, operation, resource_type, resource_id, identity, new, failed, result`

// ListSyncEvents returns the directory's events matching q, newest first.
// The cursor is the id, so pages stay stable while new events arrive: they
// get higher ids and never push older ones onto the next page.
func (db *DB) ListSyncEvents(ctx context.Context, directoryID string, q store.SyncQuery) ([]store.SyncEvent, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	where, args := syncWhere(directoryID, q.Since, q.Until)
	if q.Failed != nil {
		where = append(where, `failed = ?`)
		args = append(args, *q.Failed)
	}
	if q.ResourceType != "" {
		where = append(where, `resource_type = ?`)
		args = append(args, q.ResourceType)
	}
	if q.Before > 0 {
		where = append(where, `id < ?`)
		args = append(args, q.Before)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+syncEventColumns+` FROM sync_events WHERE `+
		strings.Join(where, ` AND `)+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, wrap("list sync events", err)
	}
	defer rows.Close()
	var evs []store.SyncEvent
	for rows.Next() {
		var ev store.SyncEvent
		var at string
		if err := rows.Scan(&ev.ID, &ev.DirectoryID, &at, &ev.Operation, &ev.ResourceType, &ev.ResourceID,
			&ev.Identity, &ev.New, &ev.Failed, &ev.Result); err != nil {
			return nil, wrap("scan sync event", err)
		}
		if ev.Time, err = parseTime(at); err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, wrap("list sync events", rows.Err())
}

// syncWhere starts the conditions of a directory's events between since
// and until (inclusive; zero times are unbounded). Stored times are
// fixed-width UTC text, so text order is time order.
func syncWhere(directoryID string, since, until time.Time) ([]string, []any) {
	where, args := []string{`directory_id = ?`}, []any{directoryID}
	if !since.IsZero() {
		where = append(where, `time >= ?`)
		args = append(args, formatTime(since))
	}
	if !until.IsZero() {
		where = append(where, `time <= ?`)
		args = append(args, formatTime(until))
	}
	return where, args
}

// SyncSummary counts the directory's events since a time (zero: all) by
// operation, resource type and outcome, in that order.
func (db *DB) SyncSummary(ctx context.Context, directoryID string, since time.Time) ([]store.SyncCount, error) {
	where, args := syncWhere(directoryID, since, time.Time{})
	rows, err := db.r.QueryContext(ctx, `SELECT operation, resource_type, failed, count(*) FROM sync_events
		WHERE `+strings.Join(where, ` AND `)+`
		GROUP BY operation, resource_type, failed ORDER BY operation, resource_type, failed`, args...)
	if err != nil {
		return nil, wrap("summarise sync events", err)
	}
	defer rows.Close()
	var counts []store.SyncCount
	for rows.Next() {
		var c store.SyncCount
		if err := rows.Scan(&c.Operation, &c.ResourceType, &c.Failed, &c.Count); err != nil {
			return nil, wrap("scan sync summary", err)
		}
		counts = append(counts, c)
	}
	return counts, wrap("summarise sync events", rows.Err())
}

// pruneBatch bounds the rows one prune transaction deletes. Writes share
// the single writer (and, through group commit, its transactions), so a
// prune of millions of old events must not hold it for long.
const pruneBatch = 1000

// PruneSyncEvents deletes every directory's events older than before, in
// batches of pruneBatch, each its own write. Stopped by ctx between
// batches, it returns what the committed batches deleted.
func (db *DB) PruneSyncEvents(ctx context.Context, before time.Time) (int64, error) {
	return db.pruneSyncEvents(ctx, before, pruneBatch)
}

func (db *DB) pruneSyncEvents(ctx context.Context, before time.Time, batch int) (int64, error) {
	return db.pruneRows(ctx, "prune sync events", `DELETE FROM sync_events WHERE id IN
		(SELECT id FROM sync_events WHERE time < ?1 ORDER BY id LIMIT ?2)`, before, batch)
}
