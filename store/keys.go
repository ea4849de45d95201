package store

import (
	"slices"
	"strings"
	"unicode"
)

// The lookup API's queries read keys derived from each user's contact: a
// sort key, the email and userName domains, the words that text search
// matches by prefix, and the phones caller-ID matches. Every backend
// derives them with these functions, in Go, so that search, caller-ID and
// visibility give the same answers on each; a change to what they compute
// needs a migration in every backend that rebuilds the derived rows.

// Fold is the case-insensitive form of names, words, group names and
// domains: Unicode lower case, so "ÉMILE" and "émile" compare equal.
func Fold(s string) string { return strings.ToLower(s) }

// ContactKeys are a user's derived lookup keys.
type ContactKeys struct {
	SortName                 string // folded display name: the contact order
	EmailDomain, LoginDomain string // folded, "" without an "@"
	Words                    []string
	Phones                   []PhoneKey
}

// PhoneKey is one E.164 number of a contact, once per type.
type PhoneKey struct{ E164, Type string }

// KeysOf derives u's lookup keys from its contact and userName.
func KeysOf(u User) ContactKeys {
	c := u.Contact
	return ContactKeys{
		SortName:    Fold(c.DisplayName),
		EmailDomain: DomainOf(c.Email),
		LoginDomain: DomainOf(u.UserName),
		Words:       ContactWords(c),
		Phones:      PhoneKeys(c.Phones),
	}
}

// DomainOf returns the folded domain of an address: what follows its last
// "@".
func DomainOf(address string) string {
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return ""
	}
	return Fold(address[at+1:])
}

// ContactWords returns the words text search matches by prefix, sorted
// and unique: each word of the display, given and family names, and the
// email's first word (so that "adele" finds adele.vance@contoso.com
// whatever the contact's name). The whole email is there too, as
// EmailWord, for searches with more than a word ("adele.va"), which only
// an email can start.
func ContactWords(c Contact) []string {
	var ws []string
	for _, name := range []string{c.DisplayName, c.GivenName, c.FamilyName} {
		ws = append(ws, SplitWords(Fold(name))...)
	}
	if e := Fold(strings.TrimSpace(c.Email)); e != "" {
		// A text of one word starts the email exactly when it starts the
		// email's first word, if the email starts with one.
		if first := SplitWords(e); len(first) > 0 && strings.HasPrefix(e, first[0]) {
			ws = append(ws, first[0])
		}
		ws = append(ws, EmailWord(e))
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// EmailWord is the word that holds a whole (folded) email, or the start
// of one: "@" sorts the emails apart from the name words, which never
// contain it.
func EmailWord(e string) string { return "@" + e }

// SplitWords splits s at every rune that is neither a letter, a mark nor
// a digit: "jean-luc o'brien" is jean, luc, o, brien.
func SplitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
}

// PhoneKeys lists the numbers with an E.164 form, each once per type.
func PhoneKeys(phones []Phone) []PhoneKey {
	var keys []PhoneKey
	for _, p := range phones {
		if p.E164 == "" {
			continue
		}
		k := PhoneKey{E164: p.E164, Type: p.Type}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// DigitsOf keeps the ASCII digits of s: what a phone search matches
// against the digits of E.164 numbers.
func DigitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
