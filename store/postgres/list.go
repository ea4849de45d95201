package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// ListUsers returns a page of the directory's users matching q.Filter,
// ordered by (created, id), and the number of matches.
func (db *DB) ListUsers(ctx context.Context, directoryID string, q store.Query) ([]store.User, int, error) {
	return list(ctx, db, usersTable, userColumns, directoryID, q, scanUser)
}

// ListGroups returns a page of the directory's groups matching q.Filter,
// ordered by (created, id), and the number of matches.
func (db *DB) ListGroups(ctx context.Context, directoryID string, q store.Query) ([]store.Group, int, error) {
	return list(ctx, db, groupsTable, groupColumns, directoryID, q, scanGroup)
}

// list returns a page of t's rows in the directory matching q.Filter,
// ordered by (created, id), and the number of matches, from one snapshot.
func list[T any](ctx context.Context, db *DB, t *table, columns, directoryID string, q store.Query,
	scan func(pgx.Row) (T, error)) ([]T, int, error) {
	f, err := compileFilter(t, q.Filter, 1)
	if err != nil {
		return nil, 0, err
	}
	from := t.from(f)
	args := append([]any{directoryID}, f.args...)
	limit, offset := "$"+strconv.Itoa(len(args)+1), "$"+strconv.Itoa(len(args)+2)
	page := `SELECT ` + columns + from + ` ORDER BY created, id LIMIT ` + limit

	// Entra's lookups (userName eq, externalId eq, ...) match at most one
	// row: a first page shorter than the limit is the whole result, so it
	// is its own total and needs no count.
	if q.Offset <= 0 && q.Limit > 0 {
		query := page
		if t.pointFilter(q.Filter) {
			query = `SELECT ` + columns + from + ` LIMIT ` + limit // one row at most: no order to keep
		}
		rows, err := db.pool.Query(ctx, query, append(args, q.Limit)...)
		if err != nil {
			return nil, 0, wrap("list "+t.name, err)
		}
		items, err := scanPage(rows, t, scan, nil)
		if err != nil || len(items) < q.Limit {
			return items, len(items), err
		}
	}

	// One statement is one snapshot: the total agrees with the page. The
	// count's row comes out once, with NULLs, when the page is empty.
	rows, err := db.pool.Query(ctx, `SELECT t.total, p.id, p.* FROM (SELECT count(*)`+from+`) AS t(total)
		LEFT JOIN (`+page+` OFFSET `+offset+`) AS p ON true ORDER BY p.created, p.id`,
		append(args, max(q.Limit, 0), max(q.Offset, 0))...)
	if err != nil {
		return nil, 0, wrap("list "+t.name, err)
	}
	var total int
	items, err := scanPage(rows, t, scan, &total)
	if err != nil {
		return nil, 0, err
	}
	return items, total, nil
}

// from is the FROM and WHERE clauses of a query for the directory's rows
// (the directory id is $1) that match f.
func (t *table) from(f compiled) string {
	from := ` FROM ` + t.name
	if f.doc {
		from += t.docJoin()
	}
	from += ` WHERE ` + t.name + `.directory_id = $1`
	if f.where != "" {
		from += ` AND (` + f.where + `)`
	}
	return from
}

// scanPage reads the rows of a page; with total, rows start with the
// total and the row's id (NULL for the count's row of an empty page).
func scanPage[T any](rows pgx.Rows, t *table, scan func(pgx.Row) (T, error), total *int) ([]T, error) {
	defer rows.Close()
	var items []T
	for rows.Next() {
		if total != nil && rows.RawValues()[1] == nil {
			dest := make([]any, len(rows.FieldDescriptions()))
			dest[0] = total
			if err := rows.Scan(dest...); err != nil {
				return nil, wrap("list "+t.name, err)
			}
			continue
		}
		var row pgx.Row = rows
		if total != nil {
			row = totalRow{rows, total}
		}
		v, err := scan(row)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list "+t.name, err)
	}
	return items, nil
}

// totalRow scans a page row's total and skips its id before the columns
// that scan reads.
type totalRow struct {
	rows  pgx.Rows
	total *int
}

func (r totalRow) Scan(dest ...any) error {
	return r.rows.Scan(append([]any{r.total, nil}, dest...)...)
}
