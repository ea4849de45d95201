package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/scimd/scimd/store"
)

// testContactsPaging pages 53 contacts 7 at a time, with names that tie
// and differ only in case, and changes the directory between pages.
func testContactsPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	var us []store.User
	for i := range 53 {
		name := fmt.Sprintf("Person %02d", i%40) // 13 names are shared
		if i%3 == 0 {
			name = fmt.Sprintf("person %02d", i%40)
		}
		us = append(us, createContact(t, s, d.ID, fmt.Sprintf("p%02d@contoso.com", i), contact(name, "")))
	}
	createContact(t, s, createDirectory(t, s).ID, "elsewhere@contoso.com", contact("Person 00", "")) // never listed
	want := userIDs(byName(us...)...)

	var got []string
	q := store.ContactQuery{Limit: 7}
	for pages := 1; ; pages++ {
		page, next, err := s.SearchContacts(ctx, d.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 7 && next != "" || pages > 8 {
			t.Fatalf("page %d: %d contacts, next %q", pages, len(page), next)
		}
		got = append(got, recordIDs(page)...)
		if next == "" {
			if pages != 8 {
				t.Errorf("%d pages, want 8", pages)
			}
			break
		}
		q.After = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages = %q\nwant %q", got, want)
	}

	// The same pages through each filter, with a rule that hides every
	// third contact: pages are filled past hidden ones.
	everyone := createGroup(t, s, d.ID, "Everyone", userIDs(us...)...)
	var hidden, shown []string
	for i, id := range want {
		if i%3 == 1 {
			hidden = append(hidden, id)
		} else {
			shown = append(shown, id)
		}
	}
	createGroup(t, s, d.ID, "Hidden", hidden...)
	v := store.Visibility{ExcludeGroups: []string{"hidden"}}
	for _, q := range []store.ContactQuery{{Text: "PERSON"}, {GroupID: everyone.ID}, {Visibility: store.Visibility{OnlyGroups: []string{"every*"}}}} {
		q.Limit = 7
		if got := searchAll(t, s, d.ID, q); !slices.Equal(got, want) {
			t.Errorf("%+v: pages = %q\nwant %q", q, got, want)
		}
		q.Visibility.ExcludeGroups = v.ExcludeGroups
		if got := searchAll(t, s, d.ID, q); !slices.Equal(got, shown) {
			t.Errorf("%+v: pages = %q\nwant %q", q, got, shown)
		}
	}

	// Between pages, contacts appear before and after the cursor and
	// others go: a page never repeats or skips a contact that stayed.
	page1, next, err := s.SearchContacts(ctx, d.ID, store.ContactQuery{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	seen := recordIDs(page1)
	before := createContact(t, s, d.ID, "before@contoso.com", contact("Aaron Early", ""))
	after := createContact(t, s, d.ID, "after@contoso.com", contact("Zed Late", ""))
	gone := byName(us...)[20]
	if err := s.DeleteUser(ctx, d.ID, gone.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, d.ID, seen[6], 0, store.SyncEvent{}); err != nil { // the cursor's own contact
		t.Fatal(err)
	}
	rest := searchAll(t, s, d.ID, store.ContactQuery{Limit: 7, After: next})
	var wantRest []string
	for _, id := range append(want[7:], after.ID) {
		if id != gone.ID {
			wantRest = append(wantRest, id)
		}
	}
	if !slices.Equal(rest, wantRest) {
		t.Errorf("pages after changes = %q\nwant %q", rest, wantRest)
	}
	if slices.Contains(rest, before.ID) {
		t.Error("a contact added before the cursor showed up after it")
	}

	// A cursor this store never made is refused.
	if _, _, err := s.SearchContacts(ctx, d.ID, store.ContactQuery{Limit: 7, After: "not a cursor!"}); err == nil {
		t.Error("SearchContacts(bad cursor) succeeded")
	}
}

// testContactsUpdates checks that what UpdateUser and DeleteUser change is
// what lookups find.
func testContactsUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createContact(t, s, d.ID, "adele@contoso.com", contact("Adele Vance", "adele.vance@contoso.com", "+442079460001"))
	other := createContact(t, s, d.ID, "alex@contoso.com", contact("Alex Wilber", "", "+14255550123"))

	u = updateContact(t, s, u, true, contact("Adele Smith", "adele.smith@contoso.com", "+33612345678"))
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "vance"})
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "adele.va"})
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "smith"}, u)
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "adele.sm"}, u)
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "2079460001"})
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "612345678"}, u)
	if recs, err := s.LookupPhone(ctx, d.ID, "+442079460001", store.Visibility{}); err != nil || len(recs) != 0 {
		t.Errorf("LookupPhone(old number) = %q, %v", recordIDs(recs), err)
	}
	if recs, err := s.LookupPhone(ctx, d.ID, "+33612345678", store.Visibility{}); err != nil || !slices.Equal(recordIDs(recs), userIDs(u)) {
		t.Errorf("LookupPhone(new number) = %q, %v", recordIDs(recs), err)
	}
	if rec, err := s.GetContact(ctx, d.ID, u.ID, store.Visibility{}); err != nil || rec.Contact.DisplayName != "Adele Smith" || rec.Version != u.Version {
		t.Errorf("GetContact after update = %+v, %v", rec, err)
	}
	// The order follows the new name.
	wantSearch(t, s, d.ID, store.ContactQuery{}, u, other)

	// Two numbers, one shared with another contact: found once each.
	u = updateContact(t, s, u, true, contact("Adele Smith", "", "+33612345678", "+14255550123"))
	if recs, err := s.LookupPhone(ctx, d.ID, "+14255550123", store.Visibility{}); err != nil || !slices.Equal(recordIDs(recs), userIDs(u, other)) {
		t.Errorf("LookupPhone(shared number) = %q, %v; want %q", recordIDs(recs), err, userIDs(u, other))
	}
	same := u.Contact
	same.Phones = append(same.Phones, store.Phone{Type: "home", Value: "+33 6 12 34 56 78", E164: "+33612345678"})
	u = updateContact(t, s, u, true, same)
	if recs, err := s.LookupPhone(ctx, d.ID, "+33612345678", store.Visibility{}); err != nil || len(recs) != 1 {
		t.Errorf("LookupPhone(a number listed twice) = %q, %v", recordIDs(recs), err)
	}

	// Deactivated: hidden everywhere; active again: back.
	u = updateContact(t, s, u, false, u.Contact)
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "adele"})
	_, err := s.GetContact(ctx, d.ID, u.ID, store.Visibility{})
	wantErr(t, "GetContact(inactive)", err, store.ErrNotFound)
	if recs, err := s.LookupPhone(ctx, d.ID, "+33612345678", store.Visibility{}); err != nil || len(recs) != 0 {
		t.Errorf("LookupPhone(inactive) = %q, %v", recordIDs(recs), err)
	}
	u = updateContact(t, s, u, true, u.Contact)
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "adele"}, u)

	// Deleted: gone from every read.
	if err := s.DeleteUser(ctx, d.ID, u.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "adele"})
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "612345678"})
	wantSearch(t, s, d.ID, store.ContactQuery{}, other)
	_, err = s.GetContact(ctx, d.ID, u.ID, store.Visibility{})
	wantErr(t, "GetContact(deleted)", err, store.ErrNotFound)
	if recs, err := s.LookupPhone(ctx, d.ID, "+14255550123", store.Visibility{}); err != nil || !slices.Equal(recordIDs(recs), userIDs(other)) {
		t.Errorf("LookupPhone(deleted) = %q, %v", recordIDs(recs), err)
	}
}

// testContactsIsolation checks that no contact read crosses directories.
func testContactsIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	ua := createContact(t, s, a.ID, "adele@contoso.com", contact("Adele Vance", "adele@contoso.com", "+442079460001"))
	ub := createContact(t, s, b.ID, "adele@contoso.com", contact("Adele Vance", "adele@contoso.com", "+442079460001"))
	ga := createGroup(t, s, a.ID, "Sales", ua.ID)
	createGroup(t, s, b.ID, "Sales", ub.ID)

	for _, q := range []store.ContactQuery{{}, {Text: "adele"}, {Digits: "2079"}, {Text: "adele@"},
		{Visibility: store.Visibility{OnlyGroups: []string{"Sales"}}}} {
		wantSearch(t, s, b.ID, q, ub)
	}
	wantSearch(t, s, b.ID, store.ContactQuery{GroupID: ga.ID})
	_, err := s.GetContact(ctx, b.ID, ua.ID, store.Visibility{})
	wantErr(t, "GetContact(other directory's user)", err, store.ErrNotFound)
	if recs, err := s.LookupPhone(ctx, b.ID, "+442079460001", store.Visibility{}); err != nil || !slices.Equal(recordIDs(recs), userIDs(ub)) {
		t.Errorf("LookupPhone(B) = %q, %v; want only B's contact", recordIDs(recs), err)
	}
	if rec, err := s.GetContact(ctx, b.ID, ub.ID, store.Visibility{}); err != nil || !slices.Equal(rec.Groups, []string{"Sales"}) {
		t.Errorf("GetContact(B) groups = %q, %v", rec.Groups, err)
	}
	wantSearch(t, s, "no-such-directory", store.ContactQuery{})
}

// testContactsPrefixPages pages searches whose prefix starts several
// words of one contact, and many words across contacts, two contacts a
// page, against the rule itself: each matching active visible contact
// once, in contact order.
func testContactsPrefixPages(t *testing.T, s store.Store) {
	d := createDirectory(t, s)
	names := []string{"Anna Annabel", "Ann Smith", "Annie Annette Smithers", "Hannah Anders", "Joanna Smith",
		"ANNO Domini", "Anne-Marie Ansel", "Dan Annan", "Ann", "Zoë Annabel-Smith", "Ann Smith"}
	var us []store.User
	for i, n := range names {
		us = append(us, createContact(t, s, d.ID, fmt.Sprintf("c%02d@contoso.com", i), contact(n, fmt.Sprintf("x%02d@contoso.com", i))))
	}
	// Inactive and hidden contacts that match are never listed.
	updateContact(t, s, us[2], false, us[2].Contact)
	createGroup(t, s, d.ID, "Hidden", us[7].ID)
	v := store.Visibility{ExcludeGroups: []string{"Hidden"}}

	match := func(text string) []store.User {
		var m []store.User
		for i, u := range us {
			if i == 2 || i == 7 || !matchesText(u.Contact, text) {
				continue
			}
			m = append(m, u)
		}
		return byName(m...)
	}
	// Also texts that only an email can start ("x00@", "x0"),
	// punctuation alone, which starts nothing, and texts of many words,
	// each a condition of its own.
	for _, text := range []string{"ann", "an", "a", "ANN SMI", "smith", "ann sm", "annabel", "x0", "x00@", "x01@contoso.com",
		"ann zz", "zz", ".", "@", "a s a s a s", "z a s a b e l l", strings.Repeat("an ", 60)} {
		want := match(text)
		for _, limit := range []int{1, 2, 100} {
			got := searchAll(t, s, d.ID, store.ContactQuery{Text: text, Limit: limit, Visibility: v})
			if !slices.Equal(got, userIDs(want...)) {
				t.Errorf("%q limit %d = %q, want %q", text, limit, got, userIDs(want...))
			}
		}
	}
}

// matchesText is the text search rule: the whole text starts a word of
// the names or the email, or each of its words starts a word of the
// names.
func matchesText(c store.Contact, text string) bool {
	split := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
		})
	}
	var words []string
	for _, n := range []string{c.DisplayName, c.GivenName, c.FamilyName} {
		words = append(words, split(n)...)
	}
	starts := func(p string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return strings.HasPrefix(w, p) })
	}
	q := strings.ToLower(strings.TrimSpace(text))
	if starts(q) || strings.HasPrefix(strings.ToLower(c.Email), q) {
		return true
	}
	terms := split(q)
	if len(terms) < 2 {
		return false
	}
	for _, t := range terms {
		if !starts(t) {
			return false
		}
	}
	return true
}
