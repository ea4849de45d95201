package storetest

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// Contacts are set on store.User.Contact directly: in production the
// mapping layer fills it in, here the suite decides what it holds.

// contact builds a contact named display (given and family from its
// words) with an email and E.164 phones.
func contact(display, email string, phones ...string) store.Contact {
	c := store.Contact{DisplayName: display, Email: email}
	if f := strings.Fields(display); len(f) > 1 {
		c.GivenName, c.FamilyName = f[0], f[len(f)-1]
	}
	for i, p := range phones {
		c.Phones = append(c.Phones, store.Phone{Type: []string{"work", "mobile", "home"}[i%3], Value: p, E164: p})
	}
	return c
}

func createContact(t *testing.T, s store.Store, directoryID, userName string, c store.Contact) store.User {
	t.Helper()
	u := newUser(directoryID, userName, map[string]any{"active": true, "displayName": c.DisplayName})
	u.Contact = c
	u, err := s.CreateUser(t.Context(), u, store.SyncEvent{})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", userName, err)
	}
	return u
}

// updateContact replaces a user's contact (and active).
func updateContact(t *testing.T, s store.Store, u store.User, active bool, c store.Contact) store.User {
	t.Helper()
	u, err := s.UpdateUser(t.Context(), u.DirectoryID, u.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		old.Active, old.Contact = active, c
		return old, store.SyncEvent{}, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	return u
}

func recordIDs(recs []store.ContactRecord) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// searchAll returns the ids of every page of q, checking that pages hold
// at most q.Limit contacts and that only the last has no cursor.
func searchAll(t *testing.T, s store.Store, directoryID string, q store.ContactQuery) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	var ids []string
	for range 1000 {
		page, next, err := s.SearchContacts(t.Context(), directoryID, q)
		if err != nil {
			t.Fatalf("SearchContacts(%+v): %v", q, err)
		}
		if len(page) > q.Limit || next != "" && len(page) == 0 {
			t.Fatalf("SearchContacts(%+v): %d contacts, cursor %q", q, len(page), next)
		}
		ids = append(ids, recordIDs(page)...)
		if next == "" {
			return ids
		}
		q.After = next
	}
	t.Fatal("SearchContacts: no last page")
	return nil
}

// wantSearch checks that q finds exactly want, in this order.
func wantSearch(t *testing.T, s store.Store, directoryID string, q store.ContactQuery, want ...store.User) {
	t.Helper()
	if got := searchAll(t, s, directoryID, q); !slices.Equal(got, userIDs(want...)) {
		t.Errorf("SearchContacts(text %q, digits %q, group %q) = %q, want %q",
			q.Text, q.Digits, q.GroupID, got, userIDs(want...))
	}
}

// byName sorts users as contact lists are ordered: by display name,
// case-insensitively, then id.
func byName(us ...store.User) []store.User {
	us = slices.Clone(us)
	slices.SortFunc(us, func(a, b store.User) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Contact.DisplayName), strings.ToLower(b.Contact.DisplayName)),
			cmp.Compare(a.ID, b.ID))
	})
	return us
}

func testContactsText(t *testing.T, s store.Store) {
	d := createDirectory(t, s)
	emile := createContact(t, s, d.ID, "emile@contoso.com", contact("Émile Zoë", "Emile.Zoe@Contoso.com"))
	adele := createContact(t, s, d.ID, "adele@contoso.com", contact("Adele Vance", "adele.vance@contoso.com"))
	jl := createContact(t, s, d.ID, "jl@contoso.com", contact("Jean-Luc Picard", "jlp@contoso.com"))
	alex := createContact(t, s, d.ID, "alex@contoso.com", contact("alex Wilber", "AlexW@contoso.com"))
	zoe := createContact(t, s, d.ID, "zoe@contoso.com", contact("Zoe Ball", "zb@contoso.com"))
	boss := createContact(t, s, d.ID, "boss@contoso.com", store.Contact{DisplayName: "The Boss", GivenName: "Megan", FamilyName: "Bowen"})
	grace := createContact(t, s, d.ID, "grace@contoso.com", contact("Grace Hopper", "grace.hopper.1906@navy.mil"))
	bob := createContact(t, s, d.ID, "bob@contoso.com", contact("Bob Stone", "sven.b@contoso.com"))
	svenja := createContact(t, s, d.ID, "svenja@contoso.com", contact("Svenja Holm", "sh@contoso.com"))
	dan := createContact(t, s, d.ID, "dan@contoso.com", contact("Dan Ray", "-sven@contoso.com"))
	all := byName(emile, adele, jl, alex, zoe, boss, grace, bob, svenja, dan)

	for _, tt := range []struct {
		text string
		want []store.User
	}{
		{"", all},
		{"  ", all},
		{"émile", []store.User{emile}},
		{"ÉMI", []store.User{emile}},
		{"zoë", []store.User{emile}},
		{"ZOE", []store.User{zoe}},
		{"VAN", []store.User{adele}},
		{"adele.va", []store.User{adele}},     // the start of the email
		{"alexw@CONTOSO", []store.User{alex}}, // the start of the email, any case
		{"contoso", nil},                      // the middle of an email is no word
		{"luc", []store.User{jl}},             // a word after a hyphen
		{"jean-l", []store.User{jl}},
		{"adele va", []store.User{adele}}, // several words: each starts a word
		{"va adele", []store.User{adele}},
		{"adele x", nil},
		{"grace.hopper.1906", []store.User{grace}}, // a whole email's start, though no word starts with 1906
		{"grace hopper 1906", nil},
		{"hopper grace", []store.User{grace}},
		{"meg", []store.User{boss}}, // given and family names count too
		{"bow", []store.User{boss}},
		{"oss", nil}, // not the start of a word
		{"a", byName(adele, alex)},
		// A word and separators: the start of an email, or the word.
		{"sven.", byName(bob, svenja)},
		{"SVEN-", byName(bob, svenja)},
		// Separators first: the start of an email, or the word.
		{"-sven", byName(bob, svenja, dan)},
		{"100%", nil},
		{"_", nil},
	} {
		wantSearch(t, s, d.ID, store.ContactQuery{Text: tt.text}, tt.want...)
	}
	// Order: display names compare case-insensitively ("alex" before "Jean").
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "a"}, adele, alex)
	if got := searchAll(t, s, d.ID, store.ContactQuery{}); !slices.Equal(got, userIDs(all...)) || got[0] != adele.ID || got[1] != alex.ID {
		t.Errorf("SearchContacts() = %q, want %q", got, userIDs(all...))
	}
}

func testContactsDigits(t *testing.T, s store.Store) {
	d := createDirectory(t, s)
	adele := createContact(t, s, d.ID, "adele@contoso.com", contact("Adele Vance", "", "+442079460001"))
	alex := createContact(t, s, d.ID, "alex@contoso.com", contact("Alex Wilber", "", "+14255550123"))
	emile := createContact(t, s, d.ID, "emile@contoso.com", contact("Émile Zoë", "", "+33612345678", "+33123456789"))
	createContact(t, s, d.ID, "nophone@contoso.com", contact("No Phone", ""))
	for _, tt := range []struct {
		digits string
		want   []store.User
	}{
		{"0001", []store.User{adele}},             // the end of a number
		{"2079", []store.User{adele}},             // its middle
		{"4420", []store.User{adele}},             // its start, country code included
		{"+44 20 7946-0001", []store.User{adele}}, // typed with punctuation
		{"123", []store.User{alex, emile}},        // several matches, ordered by name
		{"3456789", []store.User{emile}},          // the second phone
		{"33", []store.User{emile}},               // both phones of one contact: found once
		{"5", []store.User{alex, emile}},          // one digit
		{"0", []store.User{adele, alex}},
		{"9", []store.User{adele, emile}},
		{"01", []store.User{adele, alex}}, // the end of one, the middle of another
		{"14255550123", []store.User{alex}},
		{"(425) 555", []store.User{alex}},
		{"999", nil},
		{"0000", nil},
		{"0033612345678", nil}, // an international prefix is not part of E.164
		{"4420794600011", nil}, // longer than the number
	} {
		wantSearch(t, s, d.ID, store.ContactQuery{Digits: tt.digits}, tt.want...)
	}
	// Text and digits together: both must match.
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "123", Text: "ale"}, alex)
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "0001", Text: "ale"})

	// Searches see every committed change of numbers: a number replaced,
	// a contact created, one deleted (the backend may hold the numbers
	// in memory between searches).
	adele = updateContact(t, s, adele, true, contact("Adele Vance", "", "+442079460777"))
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "0001"})
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "0777"}, adele)
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "0777", Text: "ade"}, adele)
	zoe := createContact(t, s, d.ID, "zoe@contoso.com", contact("Zoë Young", "", "+442079460778"))
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "207946077"}, adele, zoe)
	if err := s.DeleteUser(t.Context(), d.ID, adele.ID, 0, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "207946077"}, zoe)
}

func testContactsGroup(t *testing.T, s store.Store) {
	d := createDirectory(t, s)
	adele := createContact(t, s, d.ID, "adele@contoso.com", contact("Adele Vance", "", "+442079460001"))
	alex := createContact(t, s, d.ID, "alex@contoso.com", contact("Alex Wilber", "", "+14255550123"))
	emile := createContact(t, s, d.ID, "emile@contoso.com", contact("Émile Zoë", ""))
	sales := createGroup(t, s, d.ID, "Sales", adele.ID, emile.ID)
	empty := createGroup(t, s, d.ID, "Empty")
	wantSearch(t, s, d.ID, store.ContactQuery{GroupID: sales.ID}, adele, emile)
	wantSearch(t, s, d.ID, store.ContactQuery{GroupID: sales.ID, Text: "a"}, adele)
	wantSearch(t, s, d.ID, store.ContactQuery{GroupID: sales.ID, Digits: "0123"})
	wantSearch(t, s, d.ID, store.ContactQuery{GroupID: empty.ID})
	wantSearch(t, s, d.ID, store.ContactQuery{GroupID: "no-such-group"})
	_ = alex
}

// testContactsRecord checks what a ContactRecord holds, through each read.
func testContactsRecord(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	c := contact("Adele Vance", "adele.vance@contoso.com", "+442079460001")
	c.Login, c.Title, c.Department = "adele@contoso.com", "Agent", "Support"
	c.Custom = map[string]any{"site": "London", "floor": float64(3), "remote": true}
	u := createContact(t, s, d.ID, "AdeleV@contoso.com", c)
	createGroup(t, s, d.ID, "support", u.ID)
	createGroup(t, s, d.ID, "Agents", u.ID)
	createGroup(t, s, d.ID, "Unrelated")
	want := store.ContactRecord{ID: u.ID, UserName: u.UserName, Active: true, Contact: c,
		Groups: []string{"Agents", "support"}, Version: u.Version, LastModified: u.LastModified}

	check := func(what string, got store.ContactRecord, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !got.LastModified.Equal(want.LastModified) || got.LastModified.Location() != time.UTC {
			t.Errorf("%s: LastModified %v, want %v in UTC", what, got.LastModified, want.LastModified)
		}
		got.LastModified = want.LastModified
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}
	got, err := s.GetContact(ctx, d.ID, u.ID, store.Visibility{})
	check("GetContact", got, err)
	recs, err := s.LookupPhone(ctx, d.ID, "+442079460001", store.Visibility{})
	if len(recs) != 1 {
		t.Fatalf("LookupPhone = %d contacts, %v", len(recs), err)
	}
	check("LookupPhone", recs[0], err)
	recs, _, err = s.SearchContacts(ctx, d.ID, store.ContactQuery{Text: "adele", Limit: 10})
	if len(recs) != 1 {
		t.Fatalf("SearchContacts = %d contacts, %v", len(recs), err)
	}
	check("SearchContacts", recs[0], err)

	// No groups: nil or empty, either is fine.
	v := createContact(t, s, d.ID, "solo@contoso.com", contact("Solo", ""))
	if got, err := s.GetContact(ctx, d.ID, v.ID, store.Visibility{}); err != nil || len(got.Groups) != 0 {
		t.Errorf("GetContact(no groups) = %q, %v", got.Groups, err)
	}
	_, err = s.GetContact(ctx, d.ID, "missing", store.Visibility{})
	wantErr(t, "GetContact(missing)", err, store.ErrNotFound)
}
