package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/scimd/scimd/store"
)

// wantVisible checks that exactly want are visible under v, through every
// read: search, GetContact and LookupPhone (each contact of us has a
// phone of its own).
func wantVisible(t *testing.T, s store.Store, directoryID string, v store.Visibility, us []store.User, want ...store.User) {
	t.Helper()
	ctx := t.Context()
	if got := searchAll(t, s, directoryID, store.ContactQuery{Visibility: v, Limit: 3}); !slices.Equal(got, userIDs(byName(want...)...)) {
		t.Errorf("%+v: SearchContacts = %q, want %q", v, got, userIDs(byName(want...)...))
	}
	for _, u := range us {
		shown := slices.ContainsFunc(want, func(w store.User) bool { return w.ID == u.ID })
		_, err := s.GetContact(ctx, directoryID, u.ID, v)
		if shown && err != nil || !shown && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%+v: GetContact(%s) = %v, visible %v", v, u.UserName, err, shown)
		}
		recs, err := s.LookupPhone(ctx, directoryID, u.Contact.Phones[0].E164, v)
		if err != nil || len(recs) != map[bool]int{true: 1}[shown] {
			t.Errorf("%+v: LookupPhone(%s) = %q, %v; visible %v", v, u.UserName, recordIDs(recs), err, shown)
		}
	}
}

func testContactsVisibility(t *testing.T, s store.Store) {
	d := createDirectory(t, s)
	mk := func(userName, display, email, phone string) store.User {
		return createContact(t, s, d.ID, userName, contact(display, email, phone))
	}
	sales := mk("sales@contoso.com", "Sam Sales", "sam@Contoso.COM", "+441110000001")
	agent := mk("agent@fabrikam.com", "Ann Agent", "", "+441110000002")             // domain from userName only
	temp := mk(`"odd@x"@contoso.com`, "Tim Temp", "tim@other.org", "+441110000003") // the last "@" counts
	none := mk("none@other.org", "Nora None", "nora@other.org", "+441110000004")
	odd := mk("odd@contoso.com", "Olga Odd", "olga@contoso.com", "+441110000005")
	gone := mk("gone@contoso.com", "Gus Gone", "gus@contoso.com", "+441110000006")
	gone = updateContact(t, s, gone, false, gone.Contact) // inactive: never visible
	all := []store.User{sales, agent, temp, none, odd, gone}

	createGroup(t, s, d.ID, "Sales", sales.ID, gone.ID)
	createGroup(t, s, d.ID, "CX-Agents-EMEA", agent.ID, temp.ID, gone.ID)
	createGroup(t, s, d.ID, "Temps", temp.ID)
	createGroup(t, s, d.ID, "A_B%", odd.ID) // LIKE wildcards in a name
	createGroup(t, s, d.ID, "AxBy", none.ID)
	createGroup(t, s, d.ID, "Équipe Été", odd.ID)

	for _, tt := range []struct {
		name string
		v    store.Visibility
		want []store.User
	}{
		{"none", store.Visibility{}, []store.User{sales, agent, temp, none, odd}},
		{"only: exact, any case", store.Visibility{OnlyGroups: []string{"sales"}}, []store.User{sales}},
		{"only: prefix", store.Visibility{OnlyGroups: []string{"cx-agents-*"}}, []store.User{agent, temp}},
		{"only: prefix needs the prefix", store.Visibility{OnlyGroups: []string{"Agents*"}}, nil},
		{"only: several", store.Visibility{OnlyGroups: []string{"Sales", "Temps"}}, []store.User{sales, temp}},
		{"only: bare star is any group", store.Visibility{OnlyGroups: []string{"*"}}, []store.User{sales, agent, temp, none, odd}},
		{"only: no such group", store.Visibility{OnlyGroups: []string{"Nobody"}}, nil},
		{"only: empty pattern matches nothing", store.Visibility{OnlyGroups: []string{""}}, nil},
		{"only: wildcards are literal", store.Visibility{OnlyGroups: []string{"A_B%"}}, []store.User{odd}},
		{"only: wildcards in a prefix are literal", store.Visibility{OnlyGroups: []string{"A_*"}}, []store.User{odd}},
		{"only: percent is no wildcard", store.Visibility{OnlyGroups: []string{"%"}}, nil},
		{"only: non-ASCII, any case", store.Visibility{OnlyGroups: []string{"ÉQUIPE ÉTÉ"}}, []store.User{odd}},
		{"only: non-ASCII prefix", store.Visibility{OnlyGroups: []string{"équipe*"}}, []store.User{odd}},
		{"exclude", store.Visibility{ExcludeGroups: []string{"TEMPS"}}, []store.User{sales, agent, none, odd}},
		{"exclude: prefix", store.Visibility{ExcludeGroups: []string{"CX-*", "Sal*"}}, []store.User{none, odd}},
		{"exclude wins over only", store.Visibility{OnlyGroups: []string{"CX-*"}, ExcludeGroups: []string{"Temps"}}, []store.User{agent}},
		{"domains: email or userName, any case", store.Visibility{Domains: []string{"CONTOSO.com"}}, []store.User{sales, temp, odd}},
		{"domains: several", store.Visibility{Domains: []string{"fabrikam.com", "other.org"}}, []store.User{agent, temp, none}},
		{"domains: a suffix is not enough", store.Visibility{Domains: []string{"toso.com"}}, nil},
		{"domains: empty matches nothing", store.Visibility{Domains: []string{""}}, nil},
		{"all rules", store.Visibility{OnlyGroups: []string{"cx-*", "Sales"}, ExcludeGroups: []string{"Temps"},
			Domains: []string{"contoso.com"}}, []store.User{sales}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantVisible(t, s, d.ID, tt.v, all, tt.want...) })
	}

	// Rules apply at read time: a renamed group changes who is visible.
	if _, err := s.UpdateGroup(t.Context(), d.ID, groupID(t, s, d.ID, "Temps"), func(g store.Group) (store.GroupChange, error) {
		g.DisplayName = "Seasonal"
		return store.GroupChange{Group: &g}, nil
	}); err != nil {
		t.Fatal(err)
	}
	wantVisible(t, s, d.ID, store.Visibility{ExcludeGroups: []string{"Temps"}}, all, sales, agent, temp, none, odd)
	wantVisible(t, s, d.ID, store.Visibility{ExcludeGroups: []string{"seasonal"}}, all, sales, agent, none, odd)

	// Search filters combine with the rules.
	wantSearch(t, s, d.ID, store.ContactQuery{Text: "t", Visibility: store.Visibility{OnlyGroups: []string{"CX-*"}}}, temp)
	wantSearch(t, s, d.ID, store.ContactQuery{Digits: "0000006"})
}

func groupID(t *testing.T, s store.Store, directoryID, name string) string {
	t.Helper()
	gs, _, err := s.ListGroups(t.Context(), directoryID, store.Query{Limit: 1,
		Filter: store.Compare{Attr: store.Attr{Name: "displayName"}, Op: store.Eq, Value: name}})
	if err != nil || len(gs) != 1 {
		t.Fatalf("group %q: %v", name, err)
	}
	return gs[0].ID
}
