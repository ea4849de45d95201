package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// SearchContacts returns a page of the directory's visible contacts
// matching q, ordered by (sort_name, id), and the cursor of the next page.
//
// A page is one query, of one of two shapes. When a filter selects few
// contacts, or is a text (or three digits or more), it leads: the
// contacts it selects are sorted, then read in order and checked against
// the other conditions until the page is full. That costs the sort of the
// lead's matches, however many they are, but never more. Other searches
// walk users_sort from the cursor, checking each contact until the page
// is full: quick when matches are many and spread over the contact order.
// A text never walks: its matches may all sort together, far from the
// cursor (the contacts of a given name do), and a walk would check every
// contact before them. The shape is chosen here, not by the planner,
// whose estimates of a walk with a LIMIT assume matches are spread out.
// A group's members lead if they are few: with a group filter, one query
// first counts each filter's matches up to leadCap.
//
// A query is a prepared statement, whose generic plan serves any values
// (planning a led query took as long as running it), unless it walks
// with a filter or has a text of several words: it is then planned for
// its parameters' values each time (an unnamed statement), since whether
// a walk's filter is best probed contact by contact or hashed first, and
// which word of a text reads the fewest rows, depend on them.
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
	filters, err := searchFilters(q, r)
	if err != nil || strings.ContainsRune(q.Text+q.GroupID, 0) { // PostgreSQL's text never holds a NUL
		return nil, "", err
	}
	lead, err := db.chooseLead(ctx, directoryID, filters)
	if err != nil || lead == noMatch {
		return nil, "", err
	}
	query, args := searchQuery(directoryID, filters, lead, r, after, q.Limit+1)
	mode := pgx.QueryExecModeCacheStatement
	if lead < 0 && len(filters) > 0 || slices.ContainsFunc(filters, func(f filter) bool { return f.valued }) {
		mode = pgx.QueryExecModeCacheDescribe
	}
	recs, names, err := queryContacts(ctx, db.pool, query, append([]any{mode}, args...), nil)
	if err != nil || len(recs) <= q.Limit {
		return recs, "", err
	}
	return recs[:q.Limit], encodeCursor(cursor{names[q.Limit-1], recs[q.Limit-1].ID}), nil
}

// sqlSearch is a query being built: its arguments, $1 being the
// directory id. Every value is a parameter; the SQL text is this
// package's constants.
type sqlSearch struct{ args []any }

// arg adds a parameter and returns its placeholder.
func (s *sqlSearch) arg(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

// A filter is a search condition in two forms, each written into a query
// (with its parameters) when used: probe, a condition on users u, and
// lead, a query of the (sort_name, user_id) of a superset of its matches
// (ids maybe repeated), nil when it cannot lead. count, when set, is a
// cheaper query than lead selecting as many rows, and makes chooseLead
// count the filter's matches. A valued filter needs a query planned for
// its values.
type filter struct {
	probe  func(*sqlSearch) string
	lead   func(*sqlSearch) string
	count  func(*sqlSearch) string
	valued bool
}

// leadCap is the most rows a counted filter (a group's members) may
// select to lead a search. A walk of the contact order checks about page
// size × contacts / matches contacts, a lead reads all of its matches: at
// 100,000 contacts and pages of 50, they cost the same at about 2,000
// matches.
const leadCap = 2000

// leadDigits is the fewest digits that lead a search: the trigram index
// finds their numbers. Fewer match so many contacts that a walk of the
// contact order fills a page at once.
const leadDigits = 3

// searchFilters returns the filters of q's Text, Digits and GroupID, and
// of r's OnlyGroups rule, in the order they are preferred as leads.
func searchFilters(q store.ContactQuery, r rules) ([]filter, error) {
	var fs []filter
	if strings.TrimSpace(q.Text) != "" {
		fs = append(fs, textFilter(q.Text))
	}
	if q.Digits != "" {
		d := store.DigitsOf(q.Digits)
		if d == "" {
			return nil, fmt.Errorf("%w: a phone search needs digits", store.ErrInvalidFilter)
		}
		fs = append(fs, digitsFilter(d))
	}
	if q.GroupID != "" {
		fs = append(fs, membersFilter(func(s *sqlSearch) string { return `m.group_id = ` + s.arg(q.GroupID) }))
	}
	if r.OnlySet {
		// The rule itself is a probe as any filter; small groups can
		// also lead.
		fs = append(fs, membersFilter(func(s *sqlSearch) string {
			return `m.group_id IN (SELECT g.id FROM groups g WHERE g.directory_id = $1 AND g.name_key LIKE ANY (` +
				s.arg(likePatterns(r.Only)) + `))`
		}))
	}
	return fs, nil
}

// digitsFilter matches contacts with a phone whose E.164 digits contain
// d. Digits hold no LIKE wildcard.
func digitsFilter(d string) filter {
	f := filter{probe: func(s *sqlSearch) string {
		return `u.id IN (SELECT ph.user_id FROM user_phones ph WHERE ph.directory_id = $1 AND ph.e164 LIKE ` + s.arg("%"+d+"%") + `)`
	}}
	if len(d) >= leadDigits {
		f.lead = func(s *sqlSearch) string {
			return `SELECT ph.sort_name, ph.user_id FROM user_phones ph WHERE ph.directory_id = $1 AND ph.e164 LIKE ` + s.arg("%"+d+"%")
		}
	}
	return f
}

// membersFilter matches the members of the groups that cond, a condition
// on group_members m, selects.
func membersFilter(cond func(*sqlSearch) string) filter {
	return filter{
		probe: func(s *sqlSearch) string {
			return `u.id IN (SELECT m.user_id FROM group_members m WHERE m.directory_id = $1 AND ` + cond(s) + `)`
		},
		// A member's sort name is a lookup in users' primary key, for
		// members few enough to lead (a join may read all of users_sort
		// instead); NULL (inactive) never passes the cursor's condition.
		// OFFSET 0 keeps that condition outside, so the lookup is made
		// once.
		lead: func(s *sqlSearch) string {
			return `SELECT (SELECT n.sort_name FROM users n WHERE n.directory_id = m.directory_id AND n.id = m.user_id AND n.active),
		m.user_id FROM group_members m WHERE m.directory_id = $1 AND ` + cond(s) + ` OFFSET 0`
		},
		count: func(s *sqlSearch) string {
			return `SELECT 1 FROM group_members m WHERE m.directory_id = $1 AND ` + cond(s)
		},
	}
}

// noMatch is chooseLead's answer when a filter selects nothing.
const noMatch = -2

// chooseLead returns the filter to lead with, -1 to walk, or noMatch.
// Without counted filters, the first that can lead does. Otherwise one
// query counts the matches of every filter that can lead, up to leadCap
// (rows, not distinct contacts): the fewest lead, if within the cap, or
// else the first that leads uncounted, or else the search walks.
func (db *DB) chooseLead(ctx context.Context, directoryID string, filters []filter) (int, error) {
	first, counted := -1, false
	for i, f := range filters {
		if f.lead != nil && f.count == nil && first < 0 {
			first = i
		}
		counted = counted || f.count != nil
	}
	if !counted {
		return first, nil
	}
	s := sqlSearch{args: []any{directoryID}}
	var counts []string
	var which []int
	for i, f := range filters {
		query := f.count
		if query == nil {
			query = f.lead
		}
		if query != nil {
			counts = append(counts, `(SELECT count(*) FROM (`+query(&s)+` LIMIT `+s.arg(leadCap+1)+`) c)`)
			which = append(which, i)
		}
	}
	n := make([]int64, len(counts))
	dest := make([]any, len(n))
	for i := range n {
		dest[i] = &n[i]
	}
	if err := db.pool.QueryRow(ctx, `SELECT `+strings.Join(counts, `, `), s.args...).Scan(dest...); err != nil {
		return 0, wrap("search contacts", err)
	}
	best := -1
	for i, c := range n {
		switch {
		case c == 0:
			return noMatch, nil
		case c <= leadCap && (best < 0 || c < n[best]):
			best = i
		}
	}
	if best >= 0 {
		return which[best], nil
	}
	return first, nil
}

// searchQuery returns the query of a page of n contacts after the cursor
// that pass every filter and rule, led by filters[lead] (or walking, if
// lead is -1), and its arguments.
func searchQuery(directoryID string, filters []filter, lead int, r rules, after cursor, n int) (string, []any) {
	s := sqlSearch{args: []any{directoryID}}
	var query, order string
	if lead >= 0 {
		query = `SELECT ` + contactColumns + `
FROM (SELECT DISTINCT l.sort_name, l.user_id FROM (` + filters[lead].lead(&s) + `) l (sort_name, user_id)
	WHERE (l.sort_name, l.user_id) > (` + s.arg(after.name) + `, ` + s.arg(after.id) + `)) c
JOIN users u ON u.directory_id = $1 AND u.id = c.user_id ` + contactJoin + `
WHERE u.active`
		// The lead's order, which the planner cannot take from users_sort.
		order = `c.sort_name, c.user_id`
	} else {
		query = contactSelect + ` AND (u.sort_name, u.id) > (` + s.arg(after.name) + `, ` + s.arg(after.id) + `)`
		order = `u.sort_name, u.id`
	}
	for i, f := range filters {
		if i != lead {
			query += "\n\tAND " + f.probe(&s)
		}
	}
	for _, c := range r.where(&s) {
		query += "\n\tAND " + c
	}
	return query + "\nORDER BY " + order + " LIMIT " + s.arg(n), s.args
}

// textFilter matches a Text: the contacts with a word that starts with
// the whole text, or whose email does, and, when the text has several
// words ("adele va"), those with a word starting each of them. Words are
// folded, so case does not matter. A text of one word (or of one word and
// separators: "sven.") starts a name word or the email's first word (see
// store.ContactWords); a longer text, only an email (store.EmailWord).
//
// The several-words match reads the words of the longest term (likely the
// rarest) and looks up the others by user in user_words_user; the
// planner may lead with another term that selects fewer.
func textFilter(text string) filter {
	q := store.Fold(strings.TrimSpace(text))
	terms := store.SplitWords(q)
	if len(terms) == 1 && strings.HasPrefix(q, terms[0]) {
		// The whole text is one word, or one word and separators
		// ("sven."). An email that starts with the latter has the word
		// as its first word, which is one of the contact's words: the
		// word alone matches the same contacts, through one range of
		// the word index instead of every email that starts with it.
		q, terms = terms[0], nil
	} else {
		q = store.EmailWord(q)
	}
	terms = mostSpecific(terms)
	lead := 0
	for i, t := range terms {
		if len(t) > len(terms[lead]) {
			lead = i
		}
	}
	words := func(s *sqlSearch) string {
		query := `SELECT w.sort_name, w.user_id FROM user_words w WHERE w.directory_id = $1 AND ` + wordRange(s, "w", q)
		if len(terms) == 0 {
			return query
		}
		query += `
		UNION ALL SELECT w.sort_name, w.user_id FROM user_words w WHERE w.directory_id = $1 AND ` + wordRange(s, "w", terms[lead])
		for i, t := range terms {
			if i != lead {
				query += `
		AND EXISTS (SELECT 1 FROM user_words o WHERE o.directory_id = $1 AND o.user_id = w.user_id AND ` + wordRange(s, "o", t) + `)`
			}
		}
		return query
	}
	return filter{
		lead:   words,
		probe:  func(s *sqlSearch) string { return `u.id IN (SELECT t.user_id FROM (` + words(s) + `) t)` },
		valued: len(terms) > 0,
	}
}

// wordRange is the condition that the word of user_words alias starts
// with prefix: a range of the primary key.
func wordRange(s *sqlSearch, alias, prefix string) string {
	return alias + `.word >= ` + s.arg(prefix) + ` AND ` + alias + `.word < ` + s.arg(prefixEnd(prefix))
}

// prefixEnd returns the least string above every string that starts with
// p in byte order (COLLATE "C"), which for UTF-8 is code point order: p
// with its last code point incremented. p is folded text, so valid UTF-8,
// and never only U+10FFFF.
func prefixEnd(p string) string {
	r, n := utf8.DecodeLastRuneInString(p)
	switch r {
	case utf8.MaxRune:
		return prefixEnd(p[:len(p)-n])
	case 0xD7FF: // the surrogates are no code points of UTF-8
		r = 0xE000
	default:
		r++
	}
	return string(utf8.AppendRune([]byte(p[:len(p)-n]), r))
}

// mostSpecific returns the terms without repeats and without those that
// start another term: a contact with a word starting "anna" has one
// starting "an". Sorted, a term's extensions follow it.
func mostSpecific(terms []string) []string {
	terms = slices.Compact(slices.Sorted(slices.Values(terms)))
	var out []string
	for i, t := range terms {
		if i+1 == len(terms) || !strings.HasPrefix(terms[i+1], t) {
			out = append(out, t)
		}
	}
	return out
}
