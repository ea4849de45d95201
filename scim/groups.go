package scim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/store"
)

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	dir := directoryFrom(r.Context()).ID
	ev := store.SyncEvent{DirectoryID: dir, Operation: store.SyncCreate, ResourceType: "Group", New: true}
	body, e := s.readBody(w, r)
	var doc map[string]any
	if e == nil {
		if doc, e = validateResource(groupDef, body); e != nil {
			ev.Identity = peekIdentity(body)
		}
	}
	var members []string
	if e == nil {
		members, e = takeMembers(doc)
	}
	if e != nil {
		s.fail(w, r, ev, e)
		return
	}
	g := groupFromDoc(store.Group{DirectoryID: dir, ID: newID()}, doc)
	ev.Identity, ev.Result = g.DisplayName, "created with "+plural(len(members), "member")
	g, err := s.store.CreateGroup(r.Context(), g, members, ev)
	if err != nil {
		s.fail(w, r, ev, err)
		return
	}
	res := groupResource(g)
	res.members, res.loaded = members, len(members) > 0
	writeResource(w, http.StatusCreated, groupDef, s.baseURL(r), res, nil)
}

// takeMembers removes "members" from a validated group document and
// returns the member ids: members live in their own table.
func takeMembers(doc map[string]any) ([]string, *Error) {
	list, _ := doc["members"].([]any)
	delete(doc, "members")
	var ids []string
	seen := map[string]bool{}
	for i, el := range list {
		m, _ := el.(map[string]any)
		if e := checkMemberType(i, m["type"]); e != nil {
			return nil, e
		}
		if id, _ := m["value"].(string); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// checkMemberType refuses a member whose type is "Group": a member's type
// is the kind of resource it is (RFC 7643 §4.2), not a label, and scimd's
// groups hold users only. "User", in any case, or no type is a user.
func checkMemberType(i int, typ any) *Error {
	if t, _ := typ.(string); equalFold(t, "Group") {
		return invalidValue("members[%d].type is %q: groups hold users only (nested groups are not supported)", i, t)
	}
	return nil
}

func groupFromDoc(g store.Group, doc map[string]any) store.Group {
	g.Doc = marshalDoc(doc)
	g.DisplayName, _ = doc["displayName"].(string)
	g.ExternalID, _ = doc["externalId"].(string)
	return g
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	dir := directoryFrom(r.Context()).ID
	g, err := s.store.GetGroup(r.Context(), dir, mux.Vars(r)["id"])
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	if notModified(w, r, g.Version) { // membership moves the version too
		return
	}
	s.writeGroup(w, r, g)
}

// writeGroup answers 200 with g, its members loaded unless projected away.
func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, g store.Group) {
	proj := parseProjection(groupDef, r.URL.Query())
	items := []resource{groupResource(g)}
	if err := s.loadMembers(r, g.DirectoryID, items, proj); err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	writeResource(w, http.StatusOK, groupDef, s.baseURL(r), items[0], proj)
}

// loadMembers fills in members unless the projection leaves them out:
// Entra reads groups with excludedAttributes=members, and then no
// membership query runs at all.
func (s *Server) loadMembers(r *http.Request, dir string, items []resource, proj *projection) error {
	if !proj.wants("members") || len(items) == 0 {
		return nil
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	m, err := s.store.GroupMembers(r.Context(), dir, ids)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].members = m[items[i].id]
		items[i].loaded = len(items[i].members) > 0
	}
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	lq, e := s.parseListQuery(r, groupDef)
	if e != nil {
		writeError(w, e)
		return
	}
	s.writeGroupList(w, r, lq)
}

// searchGroups is POST /Groups/.search: a list request in the body.
func (s *Server) searchGroups(w http.ResponseWriter, r *http.Request) {
	lq, e := s.parseSearch(w, r, groupDef)
	if e != nil {
		writeError(w, e)
		return
	}
	s.writeGroupList(w, r, lq)
}

func (s *Server) writeGroupList(w http.ResponseWriter, r *http.Request, lq listQuery) {
	dir := directoryFrom(r.Context()).ID
	groups, total, err := s.store.ListGroups(r.Context(), dir, lq.query)
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	items := make([]resource, len(groups))
	for i, g := range groups {
		items[i] = groupResource(g)
	}
	if err := s.loadMembers(r, dir, items, lq.proj); err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	writeList(w, groupDef, s.baseURL(r), items, total, lq.startIndex, lq.proj)
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request) {
	ev := s.groupEvent(r, store.SyncUpdate)
	body, e := s.readBody(w, r)
	var doc map[string]any
	if e == nil {
		doc, e = validateResource(groupDef, body)
	}
	var members []string
	if e == nil {
		members, e = takeMembers(doc)
	}
	if e != nil {
		s.fail(w, r, ev, e)
		return
	}
	ifMatch := r.Header.Get("If-Match")
	dir := directoryFrom(r.Context()).ID
	g, err := s.store.UpdateGroup(r.Context(), dir, mux.Vars(r)["id"], func(old store.Group) (store.GroupChange, error) {
		ev.Identity = old.DisplayName
		if !etagMatches(ifMatch, old.Version) {
			return store.GroupChange{}, store.ErrPrecondition
		}
		ng := groupFromDoc(old, doc)
		ops := []store.MemberOp{{Kind: store.MembersRemoveAll}}
		if len(members) > 0 {
			ops = append(ops, store.MemberOp{Kind: store.MembersAdd, UserIDs: members})
		}
		ev.Identity, ev.Result = ng.DisplayName, "replaced, "+plural(len(members), "member")
		return store.GroupChange{Group: &ng, Members: ops, Event: ev}, nil
	})
	if err != nil {
		s.fail(w, r, ev, err)
		return
	}
	s.writeGroup(w, r, g)
}

// patchGroup answers 204 as Entra expects; member changes never load or
// rewrite the member list.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) {
	ev := s.groupEvent(r, store.SyncUpdate)
	body, e := s.readBody(w, r)
	var ops []patchOp
	if e == nil {
		ops, e = parsePatchBody(body)
	}
	if e != nil {
		s.fail(w, r, ev, e)
		return
	}
	ifMatch := r.Header.Get("If-Match")
	_, err := s.store.UpdateGroup(r.Context(), directoryFrom(r.Context()).ID, mux.Vars(r)["id"], func(old store.Group) (store.GroupChange, error) {
		ev.Identity = old.DisplayName
		if !etagMatches(ifMatch, old.Version) {
			return store.GroupChange{}, store.ErrPrecondition
		}
		doc, err := unmarshalDoc(old.Doc)
		if err != nil {
			return store.GroupChange{}, errors.New("stored group is unreadable")
		}
		doc, members, e := applyPatch(groupDef, doc, ops)
		if e != nil {
			return store.GroupChange{}, e
		}
		var change store.GroupChange
		if ng := groupFromDoc(old, doc); string(ng.Doc) != string(old.Doc) {
			change.Group = &ng
			ev.Identity = ng.DisplayName
		}
		change.Members = members
		ev.Operation, ev.Result = describeGroupChange(change)
		change.Event = ev
		return change, nil
	})
	if err != nil {
		s.fail(w, r, ev, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	dir, id := directoryFrom(r.Context()).ID, mux.Vars(r)["id"]
	ev := s.groupEvent(r, store.SyncDelete)
	ev.Result = "deleted"
	if g, err := s.store.GetGroup(r.Context(), dir, id); err == nil {
		ev.Identity = g.DisplayName
	}
	if err := s.store.DeleteGroup(r.Context(), dir, id, ifMatchVersion(r.Header.Get("If-Match")), ev); err != nil {
		s.fail(w, r, ev, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// groupEvent starts the sync event of a write to the group in the URL.
func (s *Server) groupEvent(r *http.Request, op string) store.SyncEvent {
	return store.SyncEvent{DirectoryID: directoryFrom(r.Context()).ID, Operation: op, ResourceType: "Group", ResourceID: mux.Vars(r)["id"]}
}

// describeGroupChange names a group PATCH for the sync log: pure member
// additions or removals are their own operations.
func describeGroupChange(c store.GroupChange) (op, result string) {
	var added, removed int
	all := false
	for _, m := range c.Members {
		switch m.Kind {
		case store.MembersAdd:
			added += len(m.UserIDs)
		case store.MembersRemove:
			removed += len(m.UserIDs)
		case store.MembersRemoveAll:
			all = true
		}
	}
	var parts []string
	if c.Group != nil {
		parts = append(parts, "attributes updated")
	}
	if all {
		parts = append(parts, "all members removed")
	}
	if added > 0 {
		parts = append(parts, plural(added, "member")+" added")
	}
	if removed > 0 {
		parts = append(parts, plural(removed, "member")+" removed")
	}
	switch {
	case c.Group == nil && !all && added > 0 && removed == 0:
		return store.SyncMembersAdded, strings.Join(parts, ", ")
	case c.Group == nil && added == 0 && (removed > 0 || all):
		return store.SyncMembersRemoved, strings.Join(parts, ", ")
	case len(parts) == 0:
		return store.SyncUpdate, "no changes"
	}
	return store.SyncUpdate, strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
