package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

// groupPageSize is how many groups listGroups reads per store query.
const groupPageSize = 1000

type groupJSON struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type groupListJSON struct {
	Groups []groupJSON `json:"groups"`
}

// listGroups answers the directory's shown groups, ordered by name
// (case-insensitive). There is no member count: counting visible members
// costs a search per group.
func (l *Lookup) listGroups(w http.ResponseWriter, r *http.Request) {
	if _, ok := queryParams(w, r); !ok {
		return
	}
	sc := scopeFrom(r)
	out := groupListJSON{Groups: []groupJSON{}}
	for offset := 0; ; offset += groupPageSize {
		gs, _, err := l.cfg.Store.ListGroups(r.Context(), sc.directoryID, store.Query{Offset: offset, Limit: groupPageSize})
		if err != nil {
			l.internal(w, r, "list groups", err)
			return
		}
		for _, g := range gs {
			if groupShown(sc.visibility, g.DisplayName) {
				out.Groups = append(out.Groups, groupJSON{ID: g.ID, DisplayName: g.DisplayName})
			}
		}
		if len(gs) < groupPageSize {
			break
		}
	}
	slices.SortFunc(out.Groups, func(a, b groupJSON) int {
		if c := strings.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, out)
}

// visibleGroup is nil when id names a group the scope may see, else a
// 404 "group not found" (or the store's failure).
func (l *Lookup) visibleGroup(ctx context.Context, sc *scope, id string) error {
	notFound := newProblem(http.StatusNotFound, "not_found", "group not found")
	if !plausibleID(id) {
		return notFound
	}
	g, err := l.cfg.Store.GetGroup(ctx, sc.directoryID, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !groupShown(sc.visibility, g.DisplayName) {
		return notFound
	}
	return err
}

// groupShown applies the group rules of the visibility to the group
// itself: with onlyGroups set, only the groups it names are shown, and
// excluded groups never are, since none of their members is visible.
func groupShown(v store.Visibility, name string) bool {
	rules := mapping.Rules{Visibility: mapping.Visibility{OnlyGroups: v.OnlyGroups, ExcludeGroups: v.ExcludeGroups}}
	return rules.Visible(true, "", store.Contact{}, []string{name})
}
