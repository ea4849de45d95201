package sqlite

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/scimd/scimd/store"
)

// Lead caps: the most rows a filter's lead may have to lead a search
// (a contact matching twice, by name and email, counts twice). A lead
// with sort names (words) costs an index entry per id, one without
// (group members, phones) a users_id_sort lookup more; walking
// users_sort instead costs about limit × contacts / matches checks, so
// the walk wins for broad filters. Measured in BenchmarkSearchContacts.
// Variables for tests of the walk plan.
var (
	leadCapNamed = 10000
	leadCap      = 2000
)

// SearchContacts returns a page of the directory's visible contacts
// matching q, ordered by (sort_name, id), and the cursor of the next page.
//
// A search has two plans. When a filter selects few contacts (its ids
// counted up to its cap), the one selecting fewest leads: its matches
// after the cursor are ordered by SQLite, and the first chunk of them is
// checked against the other conditions, then the next, growing, until
// the page is full; a filter selecting none ends the search at once.
// Otherwise the search walks users_sort from the cursor, checking each
// contact until the page is full, which is quick when matches are many.
func (db *DB) SearchContacts(ctx context.Context, directoryID string, q store.ContactQuery) ([]store.ContactRecord, string, error) {
	if q.Limit <= 0 {
		return nil, "", nil
	}
	after, err := decodeCursor(q.After)
	if err != nil {
		return nil, "", err
	}
	filters, err := db.searchFilters(ctx, directoryID, q)
	r := compileRules(q.Visibility)
	if err != nil || r.hidesAll() {
		return nil, "", err
	}
	lead, err := db.chooseLead(ctx, filters)
	if err != nil || lead == noMatch {
		return nil, "", err
	}

	// Conditions still to check: the rules, and the filters but the lead.
	var c conds
	r.where(&c)
	for i, f := range filters {
		if f.probe != "" && i != lead {
			c.add(f.probe, f.probeArgs...)
		}
	}
	r.whereGroups(&c)

	var page []string
	if lead >= 0 {
		page, err = db.ledPage(ctx, directoryID, filters[lead], c, after, q.Limit+1)
	} else {
		page, err = db.walkPage(ctx, directoryID, c, after, q.Limit+1)
	}
	if err != nil || len(page) == 0 {
		return nil, "", err
	}
	// A contact deactivated since its page was chosen is left out.
	recs, keys, err := queryContacts(ctx, db.r, `SELECT `+contactColumns+` FROM json_each(?) c
		CROSS JOIN users u ON u.directory_id = ? AND u.id = c.value WHERE u.active = 1`, []any{jsonIDs(page), directoryID})
	if err != nil {
		return nil, "", err
	}
	sortContacts(recs, keys)
	if len(recs) <= q.Limit {
		return recs, "", nil
	}
	recs = recs[:q.Limit]
	return recs, encodeCursor(candidate{keys[q.Limit-1], recs[q.Limit-1].ID}), nil
}

// searchFilters returns the filters of q's Text, Digits and GroupID, and
// one that can lead with Visibility.OnlyGroups.
func (db *DB) searchFilters(ctx context.Context, directoryID string, q store.ContactQuery) ([]filter, error) {
	var fs []filter
	if strings.TrimSpace(q.Text) != "" {
		f, err := textFilter(directoryID, q.Text, func(terms []string) (int, error) {
			return db.rarestWord(ctx, directoryID, terms)
		})
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if q.Digits != "" {
		f, err := digitsFilter(directoryID, q.Digits)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if q.GroupID != "" {
		fs = append(fs, groupFilter(directoryID, q.GroupID))
	}
	if r := compileRules(q.Visibility); r.onlySet {
		fs = append(fs, onlyGroupsFilter(directoryID, r))
	}
	return fs, nil
}

// rarestWord returns the index of the term that starts the fewest words
// (counted up to the lead cap, so a count costs at most that many index
// entries), or -1 if a term starts none.
func (db *DB) rarestWord(ctx context.Context, directoryID string, terms []string) (int, error) {
	best, fewest := 0, leadCapNamed+2
	for i, t := range terms {
		var n int
		if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM (`+wordLead+` LIMIT ?)`,
			directoryID, t, prefixEnd(t), leadCapNamed+1).Scan(&n); err != nil {
			return 0, wrap("search contacts", err)
		}
		if n == 0 {
			return -1, nil
		}
		if n < fewest {
			best, fewest = i, n
		}
	}
	return best, nil
}

// noMatch is chooseLead's answer when a filter selects nothing.
const noMatch = -2

// chooseLead returns the filter to lead with (the one selecting fewest
// ids, if within its cap), -1 to walk, or noMatch. A scan lead (digits)
// is considered only when no index lead qualifies, and is then read once:
// its lead becomes the list of ids it found.
func (db *DB) chooseLead(ctx context.Context, filters []filter) (int, error) {
	best, fewest := -1, 0
	for i, f := range filters {
		if f.lead == "" || f.scan {
			continue
		}
		limit := leadCap
		if f.named {
			limit = leadCapNamed
		}
		count, args := f.count, f.countArgs
		if count == "" {
			count, args = f.lead, f.leadArgs
		}
		// Rows, not distinct ids: counting those costs a temporary index.
		var n int
		if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM (`+count+` LIMIT ?)`,
			append(slices.Clone(args), limit+1)...).Scan(&n); err != nil {
			return 0, wrap("search contacts", err)
		}
		switch {
		case n == 0:
			return noMatch, nil
		case n <= limit && (best < 0 || n < fewest):
			best, fewest = i, n
		}
	}
	if best >= 0 {
		return best, nil
	}
	for i := range filters {
		if f := &filters[i]; f.scan {
			ids, err := db.readIDs(ctx, `SELECT DISTINCT user_id FROM (`+f.lead+`) LIMIT ?`, append(f.leadArgs, leadCap+1)...)
			switch {
			case err != nil:
				return 0, err
			case len(ids) == 0:
				return noMatch, nil
			case len(ids) <= leadCap:
				f.lead, f.leadArgs = `SELECT value AS user_id, NULL AS sort_name FROM json_each(?)`, []any{jsonIDs(ids)}
				return i, nil
			}
		}
	}
	return -1, nil
}

type candidate struct{ name, id string }

// ledPage returns the first n ids of the lead's matches after the cursor
// that pass c. SQLite orders the matches and returns them a chunk at a
// time (doubling), each checked against c in one query.
func (db *DB) ledPage(ctx context.Context, directoryID string, f filter, c conds, after candidate, n int) ([]string, error) {
	var ordered string
	args := slices.Clone(f.leadArgs)
	if f.named {
		ordered = `SELECT DISTINCT l.sort_name, l.user_id FROM (` + f.lead + `) l
			WHERE (l.sort_name, l.user_id) > (?, ?) ORDER BY 1, 2 LIMIT ?`
	} else {
		// users_id_sort has only active users: nothing else to check here
		// when c is just "active".
		ordered = `SELECT DISTINCT s.sort_name, s.id FROM (` + f.lead + `) l
			CROSS JOIN users s INDEXED BY users_id_sort ON s.directory_id = ? AND s.id = l.user_id AND s.active = 1
			WHERE (s.sort_name, s.id) > (?, ?) ORDER BY 1, 2 LIMIT ?`
		args = append(args, directoryID)
	}
	check := f.named || len(c.sql) > 1 // words include inactive users
	var page []string
	for chunk := 2 * n; len(page) < n; chunk *= 2 {
		cands, err := db.readCandidates(ctx, ordered, append(args, after.name, after.id, chunk)...)
		if err != nil || len(cands) == 0 {
			return page, err
		}
		ids := make([]string, len(cands))
		for i, k := range cands {
			ids[i] = k.id
		}
		passed := ids
		if check {
			passed, err = db.readIDs(ctx, `SELECT u.id FROM json_each(?) l
				CROSS JOIN users u ON u.directory_id = ? AND u.id = l.value WHERE `+c.String(),
				append([]any{jsonIDs(ids), directoryID}, c.args...)...)
			if err != nil {
				return nil, err
			}
		}
		ok := make(map[string]bool, len(passed))
		for _, id := range passed {
			ok[id] = true
		}
		for _, id := range ids {
			if ok[id] && len(page) < n {
				page = append(page, id)
			}
		}
		if len(cands) < chunk {
			break
		}
		after = cands[len(cands)-1]
	}
	return page, nil
}

func (db *DB) readCandidates(ctx context.Context, query string, args ...any) ([]candidate, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("search contacts", err)
	}
	defer rows.Close()
	var cands []candidate
	for rows.Next() {
		var k candidate
		if err := rows.Scan(&k.name, &k.id); err != nil {
			return nil, wrap("search contacts", err)
		}
		cands = append(cands, k)
	}
	return cands, wrap("search contacts", rows.Err())
}

// walkPage walks users_sort from the cursor, checking each contact, until
// n pass.
func (db *DB) walkPage(ctx context.Context, directoryID string, c conds, after candidate, n int) ([]string, error) {
	return db.readIDs(ctx, `SELECT u.id FROM users u INDEXED BY users_sort
		WHERE u.directory_id = ? AND (u.sort_name, u.id) > (?, ?) AND `+c.String()+`
		ORDER BY u.sort_name, u.id LIMIT ?`, append(append([]any{directoryID, after.name, after.id}, c.args...), n)...)
}

func (db *DB) readIDs(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("search contacts", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("search contacts", err)
		}
		ids = append(ids, id)
	}
	return ids, wrap("search contacts", rows.Err())
}

// jsonIDs passes a list of ids as one parameter, read with json_each.
func jsonIDs(ids []string) string {
	b, _ := json.Marshal(ids) // strings always marshal
	return string(b)
}
