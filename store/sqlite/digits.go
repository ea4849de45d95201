package sqlite

import (
	"context"
	"fmt"

	"github.com/scimd/scimd/store"
)

// digitsFilter matches contacts with a phone whose E.164 digits contain
// the digits of the input. Its lead is the directory's phone index
// (phoneindex.go) when that finds at most leadCap contacts; more match
// short inputs, which walk the contact order and fill a page quickly.
func (db *DB) digitsFilter(ctx context.Context, directoryID, digits string) (filter, error) {
	d := store.DigitsOf(digits)
	if d == "" {
		return filter{}, fmt.Errorf("%w: a phone search needs digits", store.ErrInvalidFilter)
	}
	f := filter{
		probe: `EXISTS (SELECT 1 FROM user_phones p WHERE p.directory_id = u.directory_id AND p.user_id = u.id
			AND instr(p.e164, ?) > 0)`,
		probeArgs: []any{d},
	}
	ix, err := db.phoneIndex(ctx, directoryID)
	if err != nil {
		return f, err
	}
	if ids, more := ix.match(d, leadCap); !more {
		f.lead, f.leadArgs = `SELECT value AS user_id, NULL AS sort_name FROM json_each(?)`, []any{jsonList(ids)}
	}
	return f, nil
}
