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

// sqlSearch is a contact query being built: conditions on users u joined
// by AND, and their arguments, $1 being the directory id. Every value is
// a parameter; the SQL text is this package's constants.
type sqlSearch struct {
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (s *sqlSearch) arg(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

func (s *sqlSearch) add(cond string) { s.conds = append(s.conds, cond) }

// SearchContacts returns a page of the directory's visible contacts
// matching q, ordered by (sort_name, id), and the cursor of the next page.
//
// It is one query: the page after the cursor of the active contacts that
// pass every condition, each filter and rule a semi-join (or anti-join)
// whose order PostgreSQL's planner chooses from its statistics: a rare
// word or number leads, its few matches read then sorted; a broad one
// lets the walk of users_sort lead, filling the page quickly. The query
// is planned for its parameters' values each time (an unnamed statement,
// not the generic plan of a prepared one), since the best plan depends on
// them.
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
	query := contactSelect + ` AND (u.sort_name, u.id) > (` + s.arg(after.name) + `, ` + s.arg(after.id) + `)`
	for _, c := range s.conds {
		query += "\n\tAND " + c
	}
	return query + "\nORDER BY u.sort_name, u.id LIMIT " + s.arg(q.Limit+1), s.args, nil
}

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
		// Digits hold no LIKE wildcard. From three digits, the trigram
		// index finds the numbers; fewer match so many that the walk of
		// the contact order fills a page at once.
		s.add(`u.id IN (SELECT ph.user_id FROM user_phones ph WHERE ph.directory_id = $1 AND ph.e164 LIKE ` + s.arg("%"+d+"%") + `)`)
	}
	if q.GroupID != "" {
		s.add(`u.id IN (SELECT m.user_id FROM group_members m WHERE m.directory_id = $1 AND m.group_id = ` + s.arg(q.GroupID) + `)`)
	}
	return true, nil
}

// text adds the condition of a Text: the whole text as a prefix of a word
// or of the email and, when the text has several words ("adele va"),
// each of them as the prefix of a word. Words are folded, so case does
// not matter. A text of one word (or of one word and separators:
// "sven.") starts a name word or the email's first word (see
// store.ContactWords); a longer text, only an email (store.EmailWord).
//
// The matches are those of the whole text's prefix and, with several
// words, those of the longest word's (likely the rarest) that have a word
// starting each other one, looked up by user in user_words_user.
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
	cond := `u.id IN (SELECT w.user_id FROM user_words w WHERE w.directory_id = $1 AND ` + s.wordRange("w", q)
	if terms = mostSpecific(terms); len(terms) > 0 {
		lead := 0
		for i, t := range terms {
			if len(t) > len(terms[lead]) {
				lead = i
			}
		}
		cond += "\n\t\tUNION ALL SELECT w.user_id FROM user_words w WHERE w.directory_id = $1 AND " + s.wordRange("w", terms[lead])
		for i, t := range terms {
			if i != lead {
				cond += "\n\t\tAND EXISTS (SELECT 1 FROM user_words o WHERE o.directory_id = $1 AND o.user_id = w.user_id AND " +
					s.wordRange("o", t) + `)`
			}
		}
	}
	s.add(cond + `)`)
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
