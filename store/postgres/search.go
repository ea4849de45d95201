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
// A page is one query, of one of two shapes. A text, or three digits or
// more, leads: the contacts its words (or numbers) select are sorted,
// then read in order and checked against the other conditions until the
// page is full. That costs the matches' sort however many they are, but
// never more. Other searches walk users_sort from the cursor, checking
// each contact: quick when matches are many, and left to the planner,
// which may lead with a small group's members instead. A text never
// walks: its matches may all sort together far from the cursor (the
// contacts of a given name do), which a walk would reach only after
// checking every contact before them, and which the planner cannot know.
//
// Each query is planned for its parameters' values (an unnamed statement,
// never a prepared statement's generic plan): which word or group leads
// a join depends on how many rows they select.
func (db *DB) SearchContacts(ctx context.Context, directoryID string, q store.ContactQuery) ([]store.ContactRecord, string, error) {
	if q.Limit <= 0 {
		return nil, "", nil
	}
	after, err := decodeCursor(q.After)
	if err != nil {
		return nil, "", err
	}
	query, args, err := searchQuery(directoryID, q, after)
	if err != nil || query == "" {
		return nil, "", err
	}
	recs, err := queryContacts(ctx, db.pool, query, append([]any{pgx.QueryExecModeCacheDescribe}, args...),
		func(store.ContactRecord, contactRow) bool { return true })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(recs) > q.Limit {
		recs = recs[:q.Limit]
		next = encodeCursor(cursor{recs[q.Limit-1].sortName, recs[q.Limit-1].ID})
	}
	out := make([]store.ContactRecord, len(recs))
	for i, c := range recs {
		out[i] = c.ContactRecord
	}
	return out, next, nil
}

// sqlSearch is a contact query being built: a lead query, and conditions
// on users u joined by AND, with their arguments, $1 being the directory
// id. Every value is a parameter; the SQL text is this package's
// constants.
type sqlSearch struct {
	// lead, when set, selects the (sort_name, user_id) of a superset of
	// the matches, ids maybe repeated: the text's or the digits'.
	lead  string
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (s *sqlSearch) arg(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

func (s *sqlSearch) add(cond string) { s.conds = append(s.conds, cond) }

// searchQuery returns the query of a page of q after the cursor and its
// arguments, or no query when nothing can match.
func searchQuery(directoryID string, q store.ContactQuery, after cursor) (string, []any, error) {
	r := compileRules(q.Visibility)
	if r.hidesAll() {
		return "", nil, nil
	}
	s := sqlSearch{args: []any{directoryID}}
	match, err := s.filters(q)
	if err != nil || !match {
		return "", nil, err
	}
	r.where(&s)
	var query, order string
	if s.lead != "" {
		query = `SELECT ` + contactColumns + `
FROM (SELECT DISTINCT l.sort_name, l.user_id FROM (` + s.lead + `) l
	WHERE (l.sort_name, l.user_id) > (` + s.arg(after.name) + `, ` + s.arg(after.id) + `)) c
JOIN users u ON u.directory_id = $1 AND u.id = c.user_id ` + contactJoin + `
WHERE u.active`
		// The lead's order, which the planner cannot take from users_sort.
		order = `c.sort_name, c.user_id`
	} else {
		query = contactSelect + ` AND (u.sort_name, u.id) > (` + s.arg(after.name) + `, ` + s.arg(after.id) + `)`
		order = `u.sort_name, u.id`
	}
	for _, c := range s.conds {
		query += "\n\tAND " + c
	}
	return query + "\nORDER BY " + order + " LIMIT " + s.arg(q.Limit+1), s.args, nil
}

// leadDigits is the fewest digits that lead a search: the trigram index
// finds their numbers. Fewer match so many contacts that a walk of the
// contact order fills a page at once.
const leadDigits = 3

// filters adds the conditions of q's Text, Digits and GroupID; false
// when they can match nothing.
func (s *sqlSearch) filters(q store.ContactQuery) (bool, error) {
	if strings.ContainsRune(q.Text+q.GroupID, 0) {
		return false, nil // no stored text holds a NUL: PostgreSQL's text cannot
	}
	if strings.TrimSpace(q.Text) != "" {
		s.text(q.Text)
	}
	if q.Digits != "" {
		d := store.DigitsOf(q.Digits)
		if d == "" {
			return false, fmt.Errorf("%w: a phone search needs digits", store.ErrInvalidFilter)
		}
		like := s.arg("%" + d + "%") // digits hold no LIKE wildcard
		if s.lead == "" && len(d) >= leadDigits {
			s.lead = `SELECT ph.sort_name, ph.user_id FROM user_phones ph WHERE ph.directory_id = $1 AND ph.e164 LIKE ` + like
		} else {
			s.add(`u.id IN (SELECT ph.user_id FROM user_phones ph WHERE ph.directory_id = $1 AND ph.e164 LIKE ` + like + `)`)
		}
	}
	if q.GroupID != "" {
		s.add(`u.id IN (SELECT m.user_id FROM group_members m WHERE m.directory_id = $1 AND m.group_id = ` + s.arg(q.GroupID) + `)`)
	}
	return true, nil
}

// text sets the lead of a Text: the contacts with a word that starts with
// the whole text, or whose email does, and, when the text has several
// words ("adele va"), those with a word starting each of them. Words are
// folded, so case does not matter. A text of one word (or of one word and
// separators: "sven.") starts a name word or the email's first word (see
// store.ContactWords); a longer text, only an email (store.EmailWord).
//
// The several-words match reads the words of the longest term (likely the
// rarest) and looks up the others by user in user_words_user; the
// planner may lead with another term that selects fewer.
func (s *sqlSearch) text(text string) {
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
	s.lead = `SELECT w.sort_name, w.user_id FROM user_words w WHERE w.directory_id = $1 AND ` + s.wordRange("w", q)
	terms = mostSpecific(terms)
	if len(terms) == 0 {
		return
	}
	lead := 0
	for i, t := range terms {
		if len(t) > len(terms[lead]) {
			lead = i
		}
	}
	s.lead += `
		UNION ALL SELECT w.sort_name, w.user_id FROM user_words w WHERE w.directory_id = $1 AND ` + s.wordRange("w", terms[lead])
	for i, t := range terms {
		if i != lead {
			s.lead += `
		AND EXISTS (SELECT 1 FROM user_words o WHERE o.directory_id = $1 AND o.user_id = w.user_id AND ` + s.wordRange("o", t) + `)`
		}
	}
}

// wordRange is the condition that the word of user_words alias starts
// with prefix: a range of the primary key.
func (s *sqlSearch) wordRange(alias, prefix string) string {
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
