package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// insertAudit records the audit entry ctx carries (store.WithAudit), if
// any, in tx as a change of directory directoryID: with the transaction's
// time and the directory's name as tx sees it, so that a rename records
// the new name and a delete the last one.
func insertAudit(ctx context.Context, tx *tx, directoryID string) error {
	e := store.AuditFrom(ctx)
	if e == nil {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log
		(time, actor_type, actor_id, directory_id, directory_name, action, details)
		VALUES ($1, $2, $3, $4, coalesce((SELECT name FROM directories WHERE id = $4), ''), $5, $6)`,
		tx.now, e.Actor.Type, e.Actor.ID, directoryID, e.Action, string(e.AuditDetails()))
	return wrap("record audit entry", err)
}

const auditColumns = `id, time, actor_type, actor_id, directory_id, directory_name, action, details`

// ListAudit returns the entries matching q, newest first. The cursor is
// the id, as in the sync log.
func (db *DB) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var where strings.Builder
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where.WriteString(` AND ` + cond + `$` + strconv.Itoa(len(args)))
	}
	if !q.Since.IsZero() {
		add(`time >= `, ceilMicro(q.Since))
	}
	if !q.Until.IsZero() {
		add(`time <= `, q.Until)
	}
	if q.DirectoryID != "" {
		add(`directory_id = `, q.DirectoryID)
	}
	if q.Action != "" {
		add(`action = `, q.Action)
	}
	if q.Before > 0 {
		add(`id < `, q.Before)
	}
	args = append(args, q.Limit)
	rows, err := db.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE true`+where.String()+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, wrap("list audit entries", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditEntry, error) {
		var e store.AuditEntry
		var details string
		err := row.Scan(&e.ID, &e.Time, &e.Actor.Type, &e.Actor.ID, &e.DirectoryID, &e.DirectoryName, &e.Action, &details)
		e.Time, e.Details = utc(e.Time), []byte(details)
		return e, err
	})
	if err != nil {
		return nil, wrap("list audit entries", err)
	}
	return out, nil
}

// PruneAudit deletes the entries older than before, a batch per
// transaction as the sync log's prune does.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	return db.pruneBatches(ctx, "prune audit entries", pruneAudit, ceilMicro(before), pruneBatch)
}

const pruneAudit = `DELETE FROM audit_log WHERE id IN
	(SELECT id FROM audit_log WHERE time < $1 LIMIT $2)`
