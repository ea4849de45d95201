package sqlite

import (
	"context"
	"strings"
	"time"

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
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log
		(time, actor_type, actor_id, directory_id, directory_name, action, details)
		VALUES (?, ?, ?, ?, coalesce((SELECT name FROM directories WHERE id = ?), ''), ?, ?)`,
		formatTime(tx.now), e.Actor.Type, e.Actor.ID, directoryID, directoryID, e.Action, string(e.AuditDetails()))
	return wrap("record audit entry", err)
}

const auditColumns = `id, time, actor_type, actor_id, directory_id, directory_name, action, details`

// ListAudit returns the entries matching q, newest first. The cursor is
// the id, as in the sync log.
func (db *DB) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	where, args := []string{`1`}, []any{}
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if !q.Since.IsZero() {
		add(`time >= ?`, formatTime(q.Since))
	}
	if !q.Until.IsZero() {
		add(`time <= ?`, formatTime(q.Until))
	}
	if q.DirectoryID != "" {
		add(`directory_id = ?`, q.DirectoryID)
	}
	if q.Action != "" {
		add(`action = ?`, q.Action)
	}
	if q.Before > 0 {
		add(`id < ?`, q.Before)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE `+
		strings.Join(where, ` AND `)+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, wrap("list audit entries", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at, details string
		if err := rows.Scan(&e.ID, &at, &e.Actor.Type, &e.Actor.ID, &e.DirectoryID, &e.DirectoryName,
			&e.Action, &details); err != nil {
			return nil, wrap("scan audit entry", err)
		}
		if e.Time, err = parseTime(at); err != nil {
			return nil, err
		}
		e.Details = []byte(details)
		out = append(out, e)
	}
	return out, wrap("list audit entries", rows.Err())
}

// PruneAudit deletes the entries older than before, a batch per write as
// the sync log's prune does.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.write(ctx, func(ctx context.Context, tx *tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE id IN
				(SELECT id FROM audit_log WHERE time < ? ORDER BY id LIMIT ?)`, formatTime(before), pruneBatch)
			if err != nil {
				return wrap("prune audit entries", err)
			}
			n, err = res.RowsAffected()
			return wrap("prune audit entries", err)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
