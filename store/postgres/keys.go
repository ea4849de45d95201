package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// The lookup API reads keys derived from each user's contact
// (store.KeysOf): the sort name and domains are users columns, the words
// that text search matches by prefix are user_words rows (each with the
// sort name, so that a word's contacts come in contact order), and the
// phones caller-ID matches are user_phones rows (with the sort name too,
// for digit searches). User writes keep them in the same transaction.
// Lists go as arrays, so the SQL text is constant whatever the number of
// rows.

const (
	// insertKeys writes a new user's words and phones in one statement.
	insertKeys = `WITH w AS (
			INSERT INTO user_words (directory_id, word, sort_name, user_id)
			SELECT $1, word, $3, $2 FROM unnest($4::text[]) AS n(word))
		INSERT INTO user_phones (directory_id, user_id, e164, type, sort_name)
		SELECT $1, $2, e164, type, $3 FROM unnest($5::text[], $6::text[]) AS n(e164, type)`
	// updateKeys makes a user's words those of $4 with sort name $3, and
	// its phones those of $5 and $6 with that sort name, in one
	// statement: for each table it deletes the rows that are not wanted
	// and writes the wanted ones that are not there. No row is both
	// deleted and written, which one statement could not order; rows
	// that stay the same are not touched.
	updateKeys = `WITH dw AS (
			DELETE FROM user_words WHERE directory_id = $1 AND user_id = $2
			AND (sort_name <> $3 OR word <> ALL ($4::text[]))),
		iw AS (
			INSERT INTO user_words (directory_id, word, sort_name, user_id)
			SELECT $1, word, $3, $2 FROM unnest($4::text[]) AS n(word)
			ON CONFLICT DO NOTHING),
		dp AS (
			DELETE FROM user_phones WHERE directory_id = $1 AND user_id = $2
			AND (e164, type) NOT IN (SELECT * FROM unnest($5::text[], $6::text[])))
		INSERT INTO user_phones AS p (directory_id, user_id, e164, type, sort_name)
		SELECT $1, $2, e164, type, $3 FROM unnest($5::text[], $6::text[]) AS n(e164, type)
		ON CONFLICT (directory_id, e164, user_id, type) DO UPDATE SET sort_name = excluded.sort_name
		WHERE p.sort_name <> excluded.sort_name`
)

// writeKeys writes u's derived lookup rows (words, phones) within tx: all
// of cur for a new user (old nil), or what changed from old, in one
// statement either way. Most updates (a title, a manager, active) change
// neither, and cost none.
func writeKeys(ctx context.Context, tx *tx, u store.User, old *store.ContactKeys, cur store.ContactKeys) error {
	query, args, ok := keysStatement(u, old, cur)
	if !ok {
		return nil
	}
	_, err := tx.Exec(ctx, query, args...)
	return wrap("write lookup keys", err)
}

// queueKeys is writeKeys as a statement of a batch, if one is needed.
func queueKeys(b *pgx.Batch, u store.User, old *store.ContactKeys, cur store.ContactKeys) {
	if query, args, ok := keysStatement(u, old, cur); ok {
		b.Queue(query, args...)
	}
}

// keysStatement returns the statement that writeKeys runs, and false if
// none is needed.
func keysStatement(u store.User, old *store.ContactKeys, cur store.ContactKeys) (string, []any, bool) {
	query := updateKeys
	switch {
	case old == nil && len(cur.Words) == 0 && len(cur.Phones) == 0:
		return "", nil, false
	case old == nil:
		query = insertKeys
	case old.SortName == cur.SortName && slices.Equal(old.Words, cur.Words) && slices.Equal(old.Phones, cur.Phones):
		return "", nil, false
	}
	e164s, types := phoneArrays(cur.Phones)
	// Never a nil slice: that is a NULL array, which unnest reads as no
	// rows but <> ALL and NOT IN as unknown.
	words := append(make([]string, 0, len(cur.Words)), cur.Words...)
	return query, []any{u.DirectoryID, u.ID, cur.SortName, words, e164s, types}, true
}

// phoneArrays splits phone keys into the arrays of their columns.
func phoneArrays(keys []store.PhoneKey) (e164s, types []string) {
	e164s, types = make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		e164s[i], types[i] = k.E164, k.Type
	}
	return e164s, types
}
