package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/scimd/scimd/store"
)

// contactColumns read a ContactRecord with its group names and domains,
// so that one query answers a lookup.
const contactColumns = `u.id, u.user_name, u.active, u.contact, u.version, u.last_modified,
	u.sort_name, u.email_domain, u.login_domain,
	(SELECT json_group_array(g.display_name) FROM group_members m CROSS JOIN groups g INDEXED BY groups_names
		ON g.directory_id = m.directory_id AND g.id = m.group_id
		WHERE m.directory_id = u.directory_id AND m.user_id = u.id),
	(SELECT json_array(p.availability, p.activity, p.observed_at) FROM presence p
		WHERE p.directory_id = u.directory_id AND p.user_id = u.id)`

// GetContact returns user id if it is visible under v.
func (db *DB) GetContact(ctx context.Context, directoryID, id string, v store.Visibility) (store.ContactRecord, error) {
	recs, err := db.pointRead(ctx, `FROM users u WHERE u.directory_id = ? AND u.id = ?`, []any{directoryID, id}, v)
	if err != nil {
		return store.ContactRecord{}, err
	}
	if len(recs) == 0 {
		return store.ContactRecord{}, fmt.Errorf("%w: contact %q", store.ErrNotFound, id)
	}
	return recs[0], nil
}

// LookupPhone returns the visible contacts with a phone whose E.164 form
// is e164: a point lookup in user_phones' primary key, then one in users
// per match.
func (db *DB) LookupPhone(ctx context.Context, directoryID, e164 string, v store.Visibility) ([]store.ContactRecord, error) {
	return db.pointRead(ctx, `FROM user_phones p CROSS JOIN users u ON u.directory_id = p.directory_id AND u.id = p.user_id
		WHERE p.directory_id = ? AND p.e164 = ?`, []any{directoryID, e164}, v)
}

// pointRead returns the active contacts a query (from) selects, visible
// under v, ordered as searches are. It is the hot path of caller-ID
// lookups, so everything is one query: SQLite checks "active", and the
// group and domain rules are applied here to the group names and domains
// that the query returns anyway (measured: the same rules as SQL EXISTS
// conditions doubled the cost of a lookup). The conformance suite checks
// that both forms agree.
func (db *DB) pointRead(ctx context.Context, from string, args []any, v store.Visibility) ([]store.ContactRecord, error) {
	release, err := db.lookups.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := db.r.QueryContext(ctx, `SELECT `+contactColumns+` `+from+` AND u.active = 1`, args...)
	if err != nil {
		return nil, wrap("read contacts", err)
	}
	defer rows.Close()
	r := compileRules(v)
	var recs []store.ContactRecord
	var keys []string
	for rows.Next() {
		rec, row, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		// A contact with a number twice (work and mobile) comes twice.
		if r.Visible(rec.Groups, row.emailDomain, row.loginDomain) && !slices.ContainsFunc(recs, func(c store.ContactRecord) bool { return c.ID == rec.ID }) {
			recs, keys = append(recs, rec), append(keys, row.sortName)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("read contacts", err)
	}
	sortContacts(recs, keys)
	return recs, nil
}

// sortContacts orders recs by (sort name, id); keys are their sort names.
func sortContacts(recs []store.ContactRecord, keys []string) {
	if len(recs) < 2 {
		return
	}
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Or(cmp.Compare(keys[a], keys[b]), cmp.Compare(recs[a].ID, recs[b].ID)) })
	sorted := make([]store.ContactRecord, len(recs))
	for i, j := range idx {
		sorted[i] = recs[j]
	}
	copy(recs, sorted)
}

func queryContacts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args []any) ([]store.ContactRecord, []string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, wrap("read contacts", err)
	}
	defer rows.Close()
	var recs []store.ContactRecord
	var keys []string
	for rows.Next() {
		rec, row, err := scanContact(rows)
		if err != nil {
			return nil, nil, err
		}
		recs, keys = append(recs, rec), append(keys, row.sortName)
	}
	return recs, keys, wrap("read contacts", rows.Err())
}

// contactRow is what contactColumns hold beside the record: the sort
// name (a cursor holds it) and the domains (visibility).
type contactRow struct{ sortName, emailDomain, loginDomain string }

// scanContact reads contactColumns.
func scanContact(row interface{ Scan(...any) error }) (store.ContactRecord, contactRow, error) {
	var rec store.ContactRecord
	var cr contactRow
	var contact, groups, presence []byte
	var modified string
	if err := row.Scan(&rec.ID, &rec.UserName, &rec.Active, &contact, &rec.Version, &modified,
		&cr.sortName, &cr.emailDomain, &cr.loginDomain, &groups, &presence); err != nil {
		return rec, cr, wrap("scan contact", err)
	}
	var err1, err2, err3, err4 error
	if presence != nil {
		rec.Presence, err4 = scanPresence(rec.ID, presence)
	}
	rec.LastModified, err1 = parseTime(modified)
	if err := decodeContact(contact, &rec.Contact); err != nil {
		err2 = fmt.Errorf("sqlite: stored contact: %w", err)
	}
	if rec.Groups, err3 = decodeStrings(groups); err3 != nil {
		err3 = fmt.Errorf("sqlite: group names: %w", err3)
	}
	if len(rec.Groups) == 0 {
		rec.Groups = nil
	}
	// Case-insensitively, as people read a list; then exactly, for a
	// stable order.
	slices.SortFunc(rec.Groups, func(a, b string) int { return cmp.Or(cmp.Compare(fold(a), fold(b)), cmp.Compare(a, b)) })
	return rec, cr, errors.Join(err1, err2, err3, err4)
}

// scanPresence reads the presence column of contactColumns.
func scanPresence(userID string, b []byte) (*store.Presence, error) {
	v, err := decodeStrings(b)
	if err == nil && len(v) != 3 {
		err = fmt.Errorf("%d values, want 3", len(v))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: stored presence: %w", err)
	}
	at, err := parseTime(v[2])
	if err != nil {
		return nil, err
	}
	return &store.Presence{UserID: userID, Availability: v[0], Activity: v[1], ObservedAt: at}, nil
}

// A cursor is the (sort name, id) of the last contact of a page, as JSON
// in URL-safe base64: the next page starts after it, so contacts added or
// removed meanwhile never make a page skip or repeat another contact.

func encodeCursor(last candidate) string {
	b, _ := json.Marshal([2]string{last.name, last.id}) // strings always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadCursor = fmt.Errorf("%w: the cursor is not one this server returned", store.ErrInvalidFilter)

func decodeCursor(s string) (candidate, error) {
	if s == "" {
		return candidate{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c [2]string
	if err != nil || json.Unmarshal(b, &c) != nil || c[1] == "" {
		return candidate{}, errBadCursor
	}
	return candidate{c[0], c[1]}, nil
}
