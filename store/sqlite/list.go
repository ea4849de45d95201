package sqlite

import (
	"context"
	"database/sql"

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
	from := ` FROM ` + t.name + ` WHERE ` + t.name + `.directory_id = ?`
	if where != "" {
		from += ` AND (` + where + `)`
	}
	args = append([]any{directoryID}, args...)
	pageQuery := `SELECT ` + columns + from + ` ORDER BY created, id LIMIT ? OFFSET ?`

	// Entra's lookups (userName eq, externalId eq, ...) match at most one
	// row: a first page shorter than the limit is the whole result, so it
	// is its own total and needs neither a count nor a transaction.
	if q.Offset <= 0 && q.Limit > 0 {
		release := func() {}
		if t.pointFilter(q.Filter) { // a point read (slots.go)
			if release, err = db.lookups.acquire(ctx); err != nil {
				return nil, 0, err
			}
		}
		page, err := scanAll(ctx, db.r, t, pageQuery, append(args, q.Limit, 0), scan)
		release()
		if err != nil || len(page) < q.Limit {
			return page, len(page), err
		}
	}

	tx, err := db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*)`+from, args...).Scan(&total); err != nil {
		return nil, 0, wrap("list "+t.name, err)
	}
	offset := max(q.Offset, 0)
	if q.Limit <= 0 || offset >= total {
		return nil, total, nil
	}
	page, err := scanAll(ctx, tx, t, pageQuery, append(args, q.Limit, offset), scan)
	if err != nil {
		return nil, 0, err
	}
	return page, total, nil
}

func scanAll[T any](ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, t *table, query string, args []any, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("list "+t.name, err)
	}
	defer rows.Close()
	var page []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		page = append(page, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list "+t.name, err)
	}
	return page, nil
}
