package sqlite

import (
	"slices"
	"strings"
	"unicode"

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

// fold is the case-insensitive form of names, words, group names and
// domains: Unicode lower case, so "ÉMILE" and "émile" compare equal.
func fold(s string) string { return strings.ToLower(s) }

// lookupRow is a user's derived data.
type lookupRow struct {
	sortName                 string // folded display name: the contact order
	emailDomain, loginDomain string // folded, "" without an "@"
	words                    []string
	phones                   []phoneRow
}

type phoneRow struct{ e164, typ string }

func deriveLookup(u store.User) lookupRow {
	c := u.Contact
	return lookupRow{
		sortName:    fold(c.DisplayName),
		emailDomain: domainOf(c.Email),
		loginDomain: domainOf(u.UserName),
		words:       contactWords(c),
		phones:      phoneRows(c.Phones),
	}
}

// domainOf returns the folded domain of an address: what follows its last
// "@".
func domainOf(address string) string {
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return ""
	}
	return fold(address[at+1:])
}

// contactWords returns the words text search matches by prefix, sorted
// and unique: each word of the display, given and family names, and the
// email's first word (so that "adele" finds adele.vance@contoso.com
// whatever the contact's name). The whole email is there too, as
// emailWord, for searches with more than a word ("adele.va"), which only
// an email can start.
func contactWords(c store.Contact) []string {
	var ws []string
	for _, name := range []string{c.DisplayName, c.GivenName, c.FamilyName} {
		ws = append(ws, splitWords(fold(name))...)
	}
	if e := fold(strings.TrimSpace(c.Email)); e != "" {
		// A text of one word starts the email exactly when it starts the
		// email's first word, if the email starts with one.
		if first := splitWords(e); len(first) > 0 && strings.HasPrefix(e, first[0]) {
			ws = append(ws, first[0])
		}
		ws = append(ws, emailWord(e))
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// emailWord is the word that holds a whole (folded) email, or the start
// of one: "@" sorts the emails apart from the name words, which never
// contain it.
func emailWord(e string) string { return "@" + e }

// splitWords splits s at every rune that is neither a letter, a mark nor
// a digit: "jean-luc o'brien" is jean, luc, o, brien.
func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
}

// phoneRows lists the numbers with an E.164 form, each once per type.
func phoneRows(phones []store.Phone) []phoneRow {
	var rows []phoneRow
	for _, p := range phones {
		if p.E164 == "" {
			continue
		}
		r := phoneRow{e164: p.E164, typ: p.Type}
		if !slices.Contains(rows, r) {
			rows = append(rows, r)
		}
	}
	return rows
}

// prefixEnd returns the least string above every string that starts with
// p in SQLite's BINARY (byte) order: valid UTF-8 never holds 0xff, so
// word >= p AND word < prefixEnd(p) selects exactly the words starting
// with p.
func prefixEnd(p string) string { return p + "\xff" }
