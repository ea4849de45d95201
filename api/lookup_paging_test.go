package api_test

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// pageAll follows nextCursor from the first page of path (which has a
// query string) and returns every contact, calling between(n) after page n.
func (f *lookupFixture) pageAll(d dir, path string, between func(page int)) []contact {
	f.t.Helper()
	var all []contact
	cursor := ""
	for page := 1; ; page++ {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		got := decode[contactPage](f.t, f.get(d.api(p), d.Key))
		all = append(all, got.Contacts...)
		if got.NextCursor == "" {
			return all
		}
		if page > 100 {
			f.t.Fatal("paging does not end")
		}
		if between != nil {
			between(page)
		}
		cursor = got.NextCursor
	}
}

// TestPaging pages through contacts that share display names (so the id
// breaks ties) while others are created and deleted between pages: every
// contact present throughout is seen exactly once, in order.
func TestPaging(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Paging", "")
	var present []entry
	add := func(given, family string, i int) entry {
		id := f.user(d, person{userName: fmt.Sprintf("%s.%s.%d@contoso.com", given, family, i), given: given, family: family,
			phones: [][2]string{{"work", fmt.Sprintf("+1425555%04d", 100+i)}}})
		return entry{given + " " + family, id}
	}
	for i := range 23 {
		given := []string{"Sam", "sam", "Alex", "Zoe", "Lee"}[i%5] // "Sam" and "sam" sort together
		present = append(present, add(given, "Lee", i))
	}
	team := f.group(d, "Team", present[0].id, present[3].id, present[4].id, present[9].id, present[10].id, present[22].id)
	byOrder := func(a, b entry) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.name), strings.ToLower(b.name)), cmp.Compare(a.id, b.id))
	}
	slices.SortFunc(present, byOrder)

	for _, limit := range []int{1, 4, 7, 23, 200} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			got := f.pageAll(d, fmt.Sprintf("/contacts?limit=%d", limit), nil)
			if ids := idsOf(got); !slices.Equal(ids, entryIDs(present)) {
				t.Errorf("paged ids\n%q\nwant\n%q", ids, entryIDs(present))
			}
		})
	}

	t.Run("writes between pages", func(t *testing.T) {
		var deleted []string
		n := 100
		got := f.pageAll(d, "/contacts?limit=5", func(page int) {
			// One contact sorting first, one last, and one deleted from
			// the pages still to come.
			n++
			add("Aaron", "First", n)
			n++
			add("Zed", "Last", n)
			if page == 1 {
				victim := present[len(present)-1]
				if r := f.req(http.MethodDelete, "/scim/v2/"+d.ID+"/Users/"+victim.id, d.SCIMToken, ""); r.status != http.StatusNoContent {
					t.Fatalf("delete: %d", r.status)
				}
				deleted = append(deleted, victim.id)
			}
		})
		seen := map[string]int{}
		for _, c := range got {
			seen[c.ID]++
		}
		for _, e := range present {
			if seen[e.id] != 1 && !slices.Contains(deleted, e.id) {
				t.Errorf("%s %s seen %d times", e.name, e.id, seen[e.id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s seen %d times", id, n)
			}
		}
		if !slices.IsSortedFunc(got, func(a, b contact) int {
			return cmp.Or(cmp.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName)), cmp.Compare(a.ID, b.ID))
		}) {
			t.Errorf("pages out of order: %q", names(got))
		}
	})

	t.Run("group", func(t *testing.T) {
		var want []string
		for _, c := range f.pageAll(d, "/contacts?limit=200", nil) {
			if slices.Contains(c.Groups, "Team") {
				want = append(want, c.ID)
			}
		}
		for _, path := range []string{"/contacts?limit=2&group=" + team, "/groups/" + team + "/contacts?limit=2"} {
			if got := idsOf(f.pageAll(d, path, nil)); !slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("%s: %q, want %q", path, got, want)
			}
		}
		if got := names(f.pageAll(d, "/groups/"+team+"/contacts?limit=2&q=zoe", nil)); len(got) == 0 || slices.ContainsFunc(got, func(n string) bool { return !strings.HasPrefix(n, "Zoe") }) {
			t.Errorf("group search: %q", got)
		}
	})

	t.Run("search", func(t *testing.T) {
		var want []string
		for _, e := range present {
			if strings.HasPrefix(strings.ToLower(e.name), "sam") {
				want = append(want, e.id)
			}
		}
		if got := idsOf(f.pageAll(d, "/contacts?q=SAM&limit=3", nil)); !slices.Equal(got, want) {
			t.Errorf("q=SAM: %q, want %q", got, want)
		}
	})
}

func idsOf(cs []contact) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

type entry struct{ name, id string }

func entryIDs(es []entry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.id)
	}
	return out
}

func TestETag(t *testing.T) {
	f := newLookupFixture(t)
	w := newWorld(t, f)
	ann := w.ids["Ann Archer"]
	path := w.d.api("/contacts/" + ann)

	r := f.get(path, w.d.Key)
	tag := r.header.Get("ETag")
	if !strings.HasPrefix(tag, `W/"`) || r.header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", tag, r.header.Get("Cache-Control"))
	}
	notModified := func(inm string) bool {
		t.Helper()
		r := f.req(http.MethodGet, path, w.d.Key, "", "If-None-Match", inm)
		switch {
		case r.status == http.StatusNotModified && len(r.body) == 0 && r.header.Get("ETag") != "":
			return true
		case r.status == http.StatusOK:
			return false
		}
		t.Fatalf("If-None-Match %s: %d %s", inm, r.status, r.body)
		return false
	}
	for _, inm := range []string{tag, strings.TrimPrefix(tag, "W/"), `"x", ` + tag, "*"} {
		if !notModified(inm) {
			t.Errorf("If-None-Match %s: not 304", inm)
		}
	}
	if notModified(`W/"0-0"`) {
		t.Error("a stale tag got 304")
	}

	// A change of the user, and a change of its groups (which does not
	// bump the user's version), each give a new tag.
	f.patch(w.d, "Users", ann, `[{"op":"replace","path":"title","value":"Team lead"}]`)
	if notModified(tag) {
		t.Error("304 after the user changed")
	}
	tag2 := f.get(path, w.d.Key).header.Get("ETag")
	g := f.group(w.d, "Leads", ann)
	if notModified(tag2) {
		t.Error("304 after the user joined a group")
	}
	tag3 := f.get(path, w.d.Key).header.Get("ETag")
	f.patch(w.d, "Groups", g, `[{"op":"replace","path":"displayName","value":"Team leads"}]`)
	if notModified(tag3) {
		t.Error("304 after the user's group was renamed")
	}
	if c := decode[contact](t, f.get(path, w.d.Key)); c.Title != "Team lead" || !slices.Equal(c.Groups, []string{"Team leads"}) {
		t.Errorf("contact after changes: %+v", c)
	}
}
