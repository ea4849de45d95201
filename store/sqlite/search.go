package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/scimd/scimd/store"
)

// Lead caps: the most rows a filter's lead query may have to lead a
// search (a contact matching twice, by name and email, counts twice). A
// lead with sort names (words) costs an index entry per id, one without
// (group members, phones) a users_id_sort lookup more; walking
// users_sort instead costs about limit × contacts / matches checks, so
// the walk wins for broad filters. A text filter's words cost a page of
// index entries per word however many contacts match, and lead unless a
// lead query selects fewer than smallLead contacts. Measured in
// BenchmarkSearchContacts. Variables for tests of the walk plan.
var (
	leadCapNamed = 10000
	leadCap      = 2000
	smallLead    = 200
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
	r := compileRules(q.Visibility)
	if r.HidesAll() {
		return nil, "", nil
	}
	filters, err := db.searchFilters(ctx, directoryID, q, r)
	if err != nil {
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

	var recs []store.ContactRecord
	var keys []string
	if lead >= 0 {
		recs, keys, err = db.ledPage(ctx, directoryID, filters[lead], c, after, q.Limit+1)
	} else {
		recs, keys, err = db.walkPage(ctx, directoryID, c, fallbackLead(filters), after, q.Limit+1)
	}
	if err != nil || len(recs) <= q.Limit {
		return recs, "", err
	}
	recs = recs[:q.Limit]
	return recs, encodeCursor(candidate{keys[q.Limit-1], recs[q.Limit-1].ID}), nil
}

// fetchContacts returns the contacts of ids that pass c, in contact
// order.
func (db *DB) fetchContacts(ctx context.Context, directoryID string, ids []string, c conds) ([]store.ContactRecord, []string, error) {
	recs, keys, err := queryContacts(ctx, db.r, `SELECT `+contactColumns+` FROM json_each(?) l
		CROSS JOIN users u ON u.directory_id = ? AND u.id = l.value WHERE `+c.String(),
		append([]any{jsonList(ids), directoryID}, c.args...))
	if err != nil {
		return nil, nil, err
	}
	sortContacts(recs, keys)
	return recs, keys, nil
}

// searchFilters returns the filters of q's Text, Digits and GroupID, and
// one that can lead with r's onlyGroups rule.
func (db *DB) searchFilters(ctx context.Context, directoryID string, q store.ContactQuery, r rules) ([]filter, error) {
	var fs []filter
	if strings.TrimSpace(q.Text) != "" {
		f, err := db.textFilter(ctx, directoryID, q.Text)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if q.Digits != "" {
		f, err := db.digitsFilter(ctx, directoryID, q.Digits)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if q.GroupID != "" {
		fs = append(fs, groupFilter(directoryID, q.GroupID))
	}
	if r.OnlySet {
		fs = append(fs, onlyGroupsFilter(directoryID, r))
	}
	return fs, nil
}

// prefixWords returns the directory's distinct words that start with
// prefix, in order, at most max: one index seek each (a recursive query
// that skips from each word to the next).
func (db *DB) prefixWords(ctx context.Context, directoryID, prefix string, max int) ([]string, error) {
	return db.readStrings(ctx, `WITH RECURSIVE w(word) AS (
			SELECT (SELECT min(word) FROM user_words WHERE directory_id = ?1 AND word >= ?2 AND word < ?3)
			UNION ALL
			SELECT (SELECT min(o.word) FROM user_words o WHERE o.directory_id = ?1 AND o.word > w.word AND o.word < ?3)
			FROM w WHERE w.word IS NOT NULL)
		SELECT word FROM w WHERE word IS NOT NULL LIMIT ?4`, directoryID, prefix, prefixEnd(prefix), max)
}

// prefixRuns returns the runs of the words that start prefix: one per
// word if they are at most maxLeadWords, else one of them all if they
// have at most maxRangeRows rows, else nil. Emails, a row each, are
// always read as one range when they can be.
func (db *DB) prefixRuns(ctx context.Context, directoryID, prefix string) ([]run, error) {
	whole := []run{{from: prefix, to: prefixEnd(prefix)}}
	email := strings.HasPrefix(prefix, "@")
	if email {
		if n, err := db.countWords(ctx, directoryID, prefix, maxRangeRows+1); err != nil || n <= maxRangeRows {
			return whole, err
		}
	}
	words, err := db.prefixWords(ctx, directoryID, prefix, maxLeadWords+1)
	if err != nil {
		return nil, err
	}
	if len(words) <= maxLeadWords {
		runs := make([]run, len(words))
		for i, w := range words {
			runs[i] = run{from: w}
		}
		return runs, nil
	}
	if email {
		return nil, nil // counted above: too many rows
	}
	if n, err := db.countWords(ctx, directoryID, prefix, maxRangeRows+1); err != nil || n > maxRangeRows {
		return nil, err
	}
	return whole, nil
}

// countWords counts the directory's rows of words that start with prefix,
// up to limit (so a count reads at most limit index entries).
func (db *DB) countWords(ctx context.Context, directoryID, prefix string, limit int) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM user_words
		WHERE directory_id = ? AND word >= ? AND word < ? LIMIT ?)`, directoryID, prefix, prefixEnd(prefix), limit).Scan(&n)
	return n, wrap("search contacts", err)
}

// rarestCap bounds the count of each term's matches in rarestWord: past
// it, a term is too common to be worth telling apart from another. A
// run leaps over the contacts that lack the other terms' words, so which
// of two common terms leads matters less than counting them: 1,000
// cost an email prefix search a quarter of its time.
const rarestCap = 256

// rarestWord returns the index of the term that starts the fewest words
// (counted up to rarestCap, and no further than the fewest so far), or
// -1 if a term starts none.
func (db *DB) rarestWord(ctx context.Context, directoryID string, terms []string) (int, error) {
	// Longest first: of terms that both reach the cap, the longer one
	// starts fewer distinct words.
	order := make([]int, len(terms))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(terms[b]) - len(terms[a]) })
	best, fewest := order[0], rarestCap+1 // counts stop at fewest: more tells nothing
	for _, i := range order {
		n, err := db.countWords(ctx, directoryID, terms[i], fewest)
		if err != nil {
			return 0, err
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

// chooseLead returns the filter to lead with, -1 to walk, or noMatch:
// the lead query selecting fewer than smallLead contacts; else the text
// filter's words if it has them; else the lead query selecting fewest,
// within its cap.
func (db *DB) chooseLead(ctx context.Context, filters []filter) (int, error) {
	best, fewest, text := -1, 0, -1
	for i, f := range filters {
		if f.runs != nil {
			if len(f.runs) == 0 {
				return noMatch, nil
			}
			text = i
		}
	}
	for i, f := range filters {
		if f.lead == "" || i == text {
			continue
		}
		limit := leadCap
		switch {
		case text >= 0:
			limit = smallLead
		case f.named:
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
	if text >= 0 {
		return text, nil
	}
	return -1, nil
}

type candidate struct{ name, id string }

// ledPage returns the first n contacts of the lead's matches after the
// cursor that pass c, and their sort names. The matches come in order a
// chunk at a time, each chunk's contacts read if they pass c, in one
// query.
func (db *DB) ledPage(ctx context.Context, directoryID string, f filter, c conds, after candidate, n int) ([]store.ContactRecord, []string, error) {
	next := func(after candidate, chunk int) ([]candidate, error) {
		return db.runCandidates(ctx, directoryID, f.runs, after, chunk)
	}
	if f.runs == nil {
		var ordered string
		args := slices.Clone(f.leadArgs)
		if f.named {
			ordered = `SELECT DISTINCT l.sort_name, l.user_id FROM (` + f.lead + `) l
				WHERE (l.sort_name, l.user_id) > (?, ?) ORDER BY 1, 2 LIMIT ?`
		} else {
			// users_id_sort has only active users.
			ordered = `SELECT DISTINCT s.sort_name, s.id FROM (` + f.lead + `) l
				CROSS JOIN users s INDEXED BY users_id_sort ON s.directory_id = ? AND s.id = l.user_id AND s.active = 1
				WHERE (s.sort_name, s.id) > (?, ?) ORDER BY 1, 2 LIMIT ?`
			args = append(args, directoryID)
		}
		next = func(after candidate, chunk int) ([]candidate, error) {
			return db.readCandidates(ctx, ordered, append(args, after.name, after.id, chunk)...)
		}
	}
	// When every candidate is likely to pass, the first chunk asks for
	// the page and a few more: a lead without names checked "active"
	// already, and runs match exactly but may hold a few inactive
	// contacts, for which a second chunk would cost more than reading a
	// few more contacts in the first.
	chunk := 2 * n
	switch {
	case f.runs != nil:
		chunk = n + n/8 + 1
	case !f.named && len(c.sql) == 1:
		chunk = n
	}
	var recs []store.ContactRecord
	var keys []string
	for len(recs) < n {
		cands, err := next(after, chunk)
		if err != nil || len(cands) == 0 {
			return recs, keys, err
		}
		ids := make([]string, len(cands))
		for i, k := range cands {
			ids[i] = k.id
		}
		rs, ks, err := db.fetchContacts(ctx, directoryID, ids, c)
		if err != nil {
			return nil, nil, err
		}
		take := min(len(rs), n-len(recs))
		recs, keys = append(recs, rs[:take]...), append(keys, ks[:take]...)
		if len(cands) < chunk {
			break
		}
		after = cands[len(cands)-1]
		// The next chunk: enough for the rest of the page at this
		// chunk's pass rate (reading a contact costs more than passing
		// over a candidate), at most twice this one.
		need := n - len(recs)
		chunk = min(2*chunk, need*len(cands)/max(len(rs), 1)+need/4+1)
	}
	return recs, keys, nil
}

// runCandidates returns the first n contacts after the cursor, in
// contact order, of the runs: the first n of each run, merged. Fewer
// than n means there are no more: a run that filled its n would alone
// fill the merge, its contacts being distinct.
func (db *DB) runCandidates(ctx context.Context, directoryID string, runs []run, after candidate, n int) ([]candidate, error) {
	var all []candidate
	for _, r := range runs {
		cands, err := db.runRows(ctx, directoryID, r, after, n)
		if err != nil {
			return nil, err
		}
		all = append(all, cands...)
	}
	slices.SortFunc(all, func(a, b candidate) int { return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.id, b.id)) })
	all = slices.Compact(all) // a contact in two runs
	return all[:min(n, len(all))], nil
}

// leapWindow is how many entries of a word run runRows checks per query
// before it leaps. A variable for tests.
var leapWindow = 64

// runRows returns at least the first n contacts of r after the cursor
// (fewer when r has no more), in contact order.
//
// A run of one word with other terms to match could check each of its
// entries, one index seek each, however few match: "lea d" checks every
// Lea for a word starting with d. Where the other terms start few
// words, it checks a window of entries, then leaps to the first contact
// (in contact order) that has a word of every other term, then checks
// again: Leas with a family name from a to c are never read.
func (db *DB) runRows(ctx context.Context, directoryID string, r run, after candidate, n int) ([]candidate, error) {
	query := `SELECT sort_name, user_id FROM user_words w WHERE directory_id = ? AND word = ?`
	args := []any{directoryID, r.from}
	if r.to != "" {
		query = `SELECT DISTINCT sort_name, user_id FROM user_words w WHERE directory_id = ? AND word >= ? AND word < ?`
		args = append(args, r.to)
	}
	var match []string
	var matchArgs []any
	leaps := r.to == "" && len(r.also) > 0
	for _, t := range r.also {
		match = append(match, alsoWord)
		matchArgs = append(matchArgs, t.prefix, prefixEnd(t.prefix))
		leaps = leaps && t.words != ""
	}
	if !leaps {
		if len(match) > 0 {
			query += ` AND ` + strings.Join(match, ` AND `)
			args = append(args, matchArgs...)
		}
		return db.readCandidates(ctx, query+` AND (sort_name, user_id) > (?, ?) ORDER BY sort_name, user_id LIMIT ?`,
			append(args, after.name, after.id, n)...)
	}

	window := `SELECT sort_name, user_id, ` + strings.Join(match, ` AND `) + ` FROM user_words w
		WHERE directory_id = ? AND word = ? AND (sort_name, user_id) > (?, ?) ORDER BY sort_name, user_id LIMIT ?`
	var out []candidate
	for len(out) < n {
		rows, err := db.r.QueryContext(ctx, window, append(slices.Clone(matchArgs), directoryID, r.from, after.name, after.id, leapWindow)...)
		if err != nil {
			return nil, wrap("search contacts", err)
		}
		read := 0
		for rows.Next() {
			var ok bool
			if err := rows.Scan(&after.name, &after.id, &ok); err != nil {
				rows.Close()
				return nil, wrap("search contacts", err)
			}
			read++
			if ok {
				out = append(out, after)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, wrap("search contacts", err)
		}
		if read < leapWindow || len(out) >= n {
			break
		}
		// A match has a word of every term: none comes before the
		// contact, of those after the window, where the last term to
		// reach one does.
		to := after.name
		for _, t := range r.also {
			var first *string
			if err := db.r.QueryRowContext(ctx, `SELECT min((SELECT sort_name FROM user_words
				WHERE directory_id = ? AND word = j.value AND (sort_name, user_id) > (?, ?)
				ORDER BY sort_name, user_id LIMIT 1)) FROM json_each(?) j`,
				directoryID, after.name, after.id, t.words).Scan(&first); err != nil {
				return nil, wrap("search contacts", err)
			}
			if first == nil {
				return out, nil // no contact after the window has a word of t
			}
			to = max(to, *first)
		}
		if to > after.name {
			after = candidate{to, ""} // ids are never empty: all of to's contacts follow
		}
	}
	return out, nil
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

// walkBudget is how many contacts a walk checks before a filter's lead
// orders the rest of the page: about 7 ms of checks. Only filters
// counted to more than their lead cap walk, so a walk whose matches are
// spread fills a page long before it. At a million contacts the slowest
// of 190 email prefixes took 41 ms with 2,000, 64 ms with 10,000, 3 s
// without a bound. A variable for tests.
var walkBudget = 2000

// fallbackLead returns the filter that takes over a walk that found too
// little within walkBudget (the text filter, whose lead has sort names,
// if it has a lead), or nil if none can.
func fallbackLead(filters []filter) *filter {
	var best *filter
	for i, f := range filters {
		if f.lead != "" && (best == nil || f.named && !best.named) {
			best = &filters[i]
		}
	}
	return best
}

// walkPage returns the first n contacts after the cursor that pass c:
// it walks users_sort, checking each contact. That is quick when the
// matches are spread over the contact order, but a text that matches a
// given name ("sven.") matches contacts that all sort together, maybe
// far from the cursor: at a million contacts such a walk took 3 s. So
// with a lead to fall back on, a walk checks walkBudget contacts at
// most, and the lead orders the rest of the page after them.
func (db *DB) walkPage(ctx context.Context, directoryID string, c conds, lead *filter, after candidate, n int) ([]store.ContactRecord, []string, error) {
	walk := `SELECT u.id FROM users u INDEXED BY users_sort
		WHERE u.directory_id = ? AND (u.sort_name, u.id) > (?, ?) AND ` + c.String()
	args := append([]any{directoryID, after.name, after.id}, c.args...)
	var end []candidate // the last contact the walk may check
	if lead != nil {
		var err error
		end, err = db.readCandidates(ctx, `SELECT sort_name, id FROM users INDEXED BY users_sort
			WHERE directory_id = ? AND active = 1 AND (sort_name, id) > (?, ?)
			ORDER BY sort_name, id LIMIT 1 OFFSET ?`, directoryID, after.name, after.id, walkBudget-1)
		if err != nil {
			return nil, nil, err
		}
		if len(end) > 0 {
			walk += ` AND (u.sort_name, u.id) <= (?, ?)`
			args = append(args, end[0].name, end[0].id)
		}
	}
	page, err := db.readStrings(ctx, walk+` ORDER BY u.sort_name, u.id LIMIT ?`, append(args, n)...)
	if err != nil {
		return nil, nil, err
	}
	var recs []store.ContactRecord
	var keys []string
	if len(page) > 0 {
		// A contact deactivated since its page was chosen is left out.
		if recs, keys, err = db.fetchContacts(ctx, directoryID, page, conds{sql: []string{`u.active = 1`}}); err != nil {
			return nil, nil, err
		}
	}
	if len(end) == 0 || len(page) == n {
		return recs, keys, nil
	}
	more, moreKeys, err := db.ledPage(ctx, directoryID, *lead, c, end[0], n-len(page))
	return append(recs, more...), append(keys, moreKeys...), err
}

// readStrings reads a query of one text column: ids or words.
func (db *DB) readStrings(ctx context.Context, query string, args ...any) ([]string, error) {
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

// jsonList passes a list of strings (ids, words) as one parameter, read
// with json_each.
func jsonList(ids []string) string {
	b, _ := json.Marshal(ids) // strings always marshal
	return string(b)
}
