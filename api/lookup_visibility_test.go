package api_test

import (
	"net/http"
	"slices"
	"testing"
)

// TestVisibility sets each visibility rule through the admin API and
// checks that search, caller-ID, contact reads and groups obey it from
// the next request on.
func TestVisibility(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Visible", "")
	ids := map[string]string{}
	for _, p := range []person{
		{userName: "ann@contoso.com", given: "Ann", family: "Agent", email: "ann@contoso.com", phones: [][2]string{{"work", "+14255550101"}}},
		{userName: "max@contoso.com", given: "Max", family: "Manager", email: "max@contoso.com", phones: [][2]string{{"work", "+14255550102"}}},
		{userName: "sam@contoso.com", given: "Sam", family: "Sales", email: "sam@fabrikam.com", phones: [][2]string{{"work", "+14255550103"}}},
		{userName: "nia@fabrikam.com", given: "Nia", family: "Nogroup", phones: [][2]string{{"work", "+14255550104"}}},
	} {
		ids[p.given] = f.user(d, p)
	}
	support := f.group(d, "Support Agents", ids["Ann"], ids["Max"])
	managers := f.group(d, "Support Managers", ids["Max"])
	sales := f.group(d, "Sales", ids["Sam"])

	type view struct {
		search, lookupMax []string
		getNia            int
		groups            []string
		salesContacts     int // status of /groups/{sales}/contacts
	}
	check := func(t *testing.T, want view) {
		t.Helper()
		if got := f.search(d, ""); !slices.Equal(got, want.search) {
			t.Errorf("search = %q, want %q", got, want.search)
		}
		if got := f.callerID(d, "phone=%2B14255550102"); !slices.Equal(got, want.lookupMax) {
			t.Errorf("lookup of Max = %q, want %q", got, want.lookupMax)
		}
		if r := f.req(http.MethodGet, d.api("/contacts/"+ids["Nia"]), d.Key, ""); r.status != want.getNia {
			t.Errorf("GET Nia = %d, want %d", r.status, want.getNia)
		}
		var gs []string
		for _, g := range decode[struct{ Groups []groupOut }](t, f.get(d.api("/groups"), d.Key)).Groups {
			gs = append(gs, g.DisplayName)
		}
		if !slices.Equal(gs, want.groups) {
			t.Errorf("groups = %q, want %q", gs, want.groups)
		}
		if r := f.req(http.MethodGet, d.api("/groups/"+sales+"/contacts"), d.Key, ""); r.status != want.salesContacts {
			t.Errorf("GET /groups/{Sales}/contacts = %d, want %d", r.status, want.salesContacts)
		}
	}

	t.Run("everyone", func(t *testing.T) {
		check(t, view{
			search:    []string{"Ann Agent", "Max Manager", "Nia Nogroup", "Sam Sales"},
			lookupMax: []string{"Max Manager"}, getNia: 200,
			groups: []string{"Sales", "Support Agents", "Support Managers"}, salesContacts: 200,
		})
	})
	t.Run("onlyGroups", func(t *testing.T) {
		f.putRules(d, `{"visibility":{"onlyGroups":["support*"]}}`)
		check(t, view{
			search:    []string{"Ann Agent", "Max Manager"},
			lookupMax: []string{"Max Manager"}, getNia: 404,
			groups: []string{"Support Agents", "Support Managers"}, salesContacts: 404,
		})
	})
	t.Run("excludeGroups", func(t *testing.T) {
		f.putRules(d, `{"visibility":{"onlyGroups":["Support*"],"excludeGroups":["SUPPORT MANAGERS"]}}`)
		check(t, view{
			search:    []string{"Ann Agent"},
			lookupMax: []string{}, getNia: 404,
			groups: []string{"Support Agents"}, salesContacts: 404,
		})
		// Max is hidden even inside a group that is shown.
		if got := f.search(d, "group="+support); !slices.Equal(got, []string{"Ann Agent"}) {
			t.Errorf("members of Support Agents = %q", got)
		}
		if r := f.req(http.MethodGet, d.api("/groups/"+managers+"/contacts"), d.Key, ""); r.status != 404 {
			t.Errorf("an excluded group's contacts: %d", r.status)
		}
	})
	t.Run("domains", func(t *testing.T) {
		// Email or userName domain: Sam's email and Nia's userName.
		f.putRules(d, `{"visibility":{"domains":["Fabrikam.com"]}}`)
		check(t, view{
			search:    []string{"Nia Nogroup", "Sam Sales"},
			lookupMax: []string{}, getNia: 200,
			groups: []string{"Sales", "Support Agents", "Support Managers"}, salesContacts: 200,
		})
	})
	t.Run("back to everyone", func(t *testing.T) {
		f.putRules(d, `{}`)
		check(t, view{
			search:    []string{"Ann Agent", "Max Manager", "Nia Nogroup", "Sam Sales"},
			lookupMax: []string{"Max Manager"}, getNia: 200,
			groups: []string{"Sales", "Support Agents", "Support Managers"}, salesContacts: 200,
		})
	})
	t.Run("membership changes", func(t *testing.T) {
		f.putRules(d, `{"visibility":{"onlyGroups":["Sales"]}}`)
		f.patch(d, "Groups", sales, `[{"op":"add","path":"members","value":[{"value":"`+ids["Nia"]+`"}]}]`)
		if got := f.search(d, ""); !slices.Equal(got, []string{"Nia Nogroup", "Sam Sales"}) {
			t.Errorf("after adding Nia to Sales: %q", got)
		}
		f.patch(d, "Groups", sales, `[{"op":"remove","path":"members[value eq \"`+ids["Sam"]+`\"]"}]`)
		if got := f.search(d, ""); !slices.Equal(got, []string{"Nia Nogroup"}) {
			t.Errorf("after removing Sam from Sales: %q", got)
		}
	})
}

// TestDeprovisioned hides a disabled user at once and shows it again when
// re-enabled; a deleted user is gone.
func TestDeprovisioned(t *testing.T) {
	f := newLookupFixture(t)
	w := newWorld(t, f)
	bob := w.ids["Bob Brown"]
	f.patch(w.d, "Users", bob, `[{"op":"replace","path":"active","value":false}]`)
	if got := f.callerID(w.d, "phone=%2B442071838750"); len(got) != 0 {
		t.Errorf("disabled user found by caller-ID: %q", got)
	}
	if got := f.search(w.d, "q=bob"); len(got) != 0 {
		t.Errorf("disabled user found by search: %q", got)
	}
	wantError(t, f.req(http.MethodGet, w.d.api("/contacts/"+bob), w.d.Key, ""), http.StatusNotFound, "not_found")

	f.patch(w.d, "Users", bob, `[{"op":"replace","value":{"active":true}}]`)
	if got := f.callerID(w.d, "phone=%2B442071838750"); !slices.Equal(got, []string{"Bob Brown"}) {
		t.Errorf("re-enabled user: %q", got)
	}
	if r := f.req(http.MethodDelete, "/scim/v2/"+w.d.ID+"/Users/"+bob, w.d.SCIMToken, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}
	if got := f.callerID(w.d, "phone=%2B442071838750"); len(got) != 0 {
		t.Errorf("deleted user found: %q", got)
	}
	wantError(t, f.req(http.MethodGet, w.d.api("/contacts/"+bob), w.d.Key, ""), http.StatusNotFound, "not_found")
}

type groupOut struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}
