package sqlite

import (
	"github.com/scimd/scimd/store"
)

// The lookup API's queries read data derived from each user's contact: a
// sort key, the email and userName domains, and the words that text
// search matches by prefix (phones are in user_phones since 0002). It is
// computed in Go (SQLite's lower() only knows ASCII) and written with
// every user write; migration 3 backfilled existing users with the same
// functions. A change to what they compute needs a migration that
// rebuilds the derived data: updates compare old and new derived data to
// skip unchanged rows.

// fold is store.Fold: the case-insensitive form of names and domains.
func fold(s string) string { return store.Fold(s) }

// lookupRow is a user's derived data (store.KeysOf).
type lookupRow struct {
	sortName                 string // folded display name: the contact order
	emailDomain, loginDomain string // folded, "" without an "@"
	words                    []string
	phones                   []phoneRow
}

type phoneRow struct{ e164, typ string }

func deriveLookup(u store.User) lookupRow {
	k := store.KeysOf(u)
	lr := lookupRow{sortName: k.SortName, emailDomain: k.EmailDomain, loginDomain: k.LoginDomain, words: k.Words}
	for _, p := range k.Phones {
		lr.phones = append(lr.phones, phoneRow{e164: p.E164, typ: p.Type})
	}
	return lr
}

func emailWord(e string) string             { return store.EmailWord(e) }
func splitWords(s string) []string          { return store.SplitWords(s) }
func contactWords(c store.Contact) []string { return store.ContactWords(c) }

// prefixEnd returns the least string above every string that starts with
// p in SQLite's BINARY (byte) order: valid UTF-8 never holds 0xff, so
// word >= p AND word < prefixEnd(p) selects exactly the words starting
// with p.
func prefixEnd(p string) string { return p + "\xff" }
