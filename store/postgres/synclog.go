package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

const insertEventSQL = `INSERT INTO sync_events
	(directory_id, time, operation, resource_type, resource_id, identity, new, failed, result)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// insertEvent records ev in the directory's sync log within tx, with the
// transaction's time; an event without an Operation is not recorded.
func insertEvent(ctx context.Context, tx *tx, directoryID string, ev store.SyncEvent) error {
	if ev.Operation == "" {
		return nil
	}
	_, err := tx.Exec(ctx, insertEventSQL, eventArgs(tx.now, directoryID, ev)...)
	return wrap("record sync event", err)
}

// queueEvent is insertEvent for a batch: it reports whether it queued a
// statement, whose result the caller must read.
func queueEvent(b *pgx.Batch, now time.Time, directoryID string, ev store.SyncEvent) bool {
	if ev.Operation == "" {
		return false
	}
	b.Queue(insertEventSQL, eventArgs(now, directoryID, ev)...)
	return true
}

func eventArgs(now time.Time, directoryID string, ev store.SyncEvent) []any {
	return []any{directoryID, now, ev.Operation, ev.ResourceType, ev.ResourceID, ev.Identity, ev.New, ev.Failed, ev.Result}
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

// liveDirectory is the condition that directory $1 is not being deleted:
// a deleting directory's log is purged in the background and must not
// show meanwhile.
const liveDirectory = `EXISTS (SELECT 1 FROM directories WHERE id = $1 AND NOT deleting)`

// ListSyncEvents returns the directory's events matching q, newest first.
// The cursor is the id, so pages stay stable while new events arrive: they
// get higher ids and never push older ones onto the next page.
func (db *DB) ListSyncEvents(ctx context.Context, directoryID string, q store.SyncQuery) ([]store.SyncEvent, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var w syncWhere
	w.start(directoryID, q.Since, q.Until)
	if q.Failed != nil {
		w.add(`failed = `, *q.Failed)
	}
	if q.ResourceType != "" {
		w.add(`resource_type = `, q.ResourceType)
	}
	if q.Before > 0 {
		w.add(`id < `, q.Before)
	}
	w.args = append(w.args, q.Limit)
	rows, err := db.pool.Query(ctx, `SELECT `+syncEventColumns+` FROM sync_events WHERE `+w.sql.String()+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(w.args)), w.args...)
	if err != nil {
		return nil, wrap("list sync events", err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SyncEvent, error) {
		var ev store.SyncEvent
		err := row.Scan(&ev.ID, &ev.DirectoryID, &ev.Time, &ev.Operation, &ev.ResourceType, &ev.ResourceID,
			&ev.Identity, &ev.New, &ev.Failed, &ev.Result)
		ev.Time = utc(ev.Time)
		return ev, err
	})
	if err != nil {
		return nil, wrap("list sync events", err)
	}
	return evs, nil
}

// syncWhere builds the conditions of a query of the sync log from
// constant fragments, each value a parameter.
type syncWhere struct {
	sql  strings.Builder
	args []any
}

// start selects a live directory's events between since and until
// (inclusive; zero times are unbounded).
func (w *syncWhere) start(directoryID string, since, until time.Time) {
	w.sql.WriteString(`directory_id = $1 AND ` + liveDirectory)
	w.args = append(w.args, directoryID)
	if !since.IsZero() {
		w.add(`time >= `, ceilMicro(since))
	}
	if !until.IsZero() {
		w.add(`time <= `, until)
	}
}

// add appends the condition cond compared with the next parameter, v.
func (w *syncWhere) add(cond string, v any) {
	w.args = append(w.args, v)
	w.sql.WriteString(` AND ` + cond + `$` + strconv.Itoa(len(w.args)))
}

// SyncSummary counts the directory's events since a time (zero: all) by
// operation, resource type and outcome, in that order.
func (db *DB) SyncSummary(ctx context.Context, directoryID string, since time.Time) ([]store.SyncCount, error) {
	var w syncWhere
	w.start(directoryID, since, time.Time{})
	rows, err := db.pool.Query(ctx, `SELECT operation, resource_type, failed, count(*) FROM sync_events
		WHERE `+w.sql.String()+`
		GROUP BY operation, resource_type, failed ORDER BY operation, resource_type, failed`, w.args...)
	if err != nil {
		return nil, wrap("summarise sync events", err)
	}
	counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SyncCount, error) {
		var c store.SyncCount
		err := row.Scan(&c.Operation, &c.ResourceType, &c.Failed, &c.Count)
		return c, err
	})
	if err != nil {
		return nil, wrap("summarise sync events", err)
	}
	return counts, nil
}

// pruneBatch bounds the rows one prune transaction deletes, so that a
// prune of millions of old events holds no long transaction (its locks,
// its WAL, the vacuum horizon) and other writes go on between batches.
const pruneBatch = 10000

// PruneSyncEvents deletes every directory's events older than before, in
// batches of pruneBatch, each its own transaction. Stopped by ctx between
// batches, it returns what the committed batches deleted.
func (db *DB) PruneSyncEvents(ctx context.Context, before time.Time) (int64, error) {
	return db.pruneBatches(ctx, "prune sync events", pruneSyncEvents, ceilMicro(before), pruneBatch)
}

const pruneSyncEvents = `DELETE FROM sync_events WHERE id IN
	(SELECT id FROM sync_events WHERE time < $1 LIMIT $2)`

// pruneBatches runs del (parameters: before, batch size) until a run
// deletes less than a batch, and returns the total deleted.
func (db *DB) pruneBatches(ctx context.Context, op, del string, before time.Time, batch int) (int64, error) {
	var total int64
	for {
		n, err := writeTx(db, ctx, func(ctx context.Context, tx *tx) (int64, error) {
			tag, err := tx.Exec(ctx, del, before, batch)
			return tag.RowsAffected(), wrap(op, err)
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

// ceilMicro rounds t up to a whole microsecond. Stored times are whole
// microseconds and pgx truncates the nanoseconds of a parameter, so a
// bound "at or after t" or "before t" must be rounded up to mean the same
// as at full precision (an upper bound "at or before t" is right
// truncated).
func ceilMicro(t time.Time) time.Time {
	if u := t.Truncate(time.Microsecond); !u.Equal(t) {
		return u.Add(time.Microsecond)
	}
	return t
}
