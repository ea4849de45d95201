package sqlite

import (
	"context"

	"github.com/scimd/scimd/store"
)

// list returns a page of t's rows in the directory matching q.Filter,
// ordered by (created, id), and the number of matches. Both queries read
// the same snapshot, so the total agrees with the page.
func list[T any](ctx context.Context, db *DB, t *table, columns, directoryID string, q store.Query,
	scan func(interface{ Scan(...any) error }) (T, error)) ([]T, int, error) {
	where, args, err := compileFilter(t, q.Filter)
	if err != nil {
		return nil, 0, err
	}
	tx, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()

	from := ` FROM ` + t.name + ` WHERE ` + t.name + `.directory_id = ?`
	if where != "" {
		from += ` AND (` + where + `)`
	}
	args = append([]any{directoryID}, args...)
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*)`+from, args...).Scan(&total); err != nil {
		return nil, 0, wrap("list "+t.name, err)
	}
	offset := max(q.Offset, 0)
	if q.Limit <= 0 || offset >= total {
		return nil, total, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+columns+from+` ORDER BY created, id LIMIT ? OFFSET ?`,
		append(args, q.Limit, offset)...)
	if err != nil {
		return nil, 0, wrap("list "+t.name, err)
	}
	defer rows.Close()
	var page []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, 0, err
		}
		page = append(page, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("list "+t.name, err)
	}
	return page, total, nil
}
