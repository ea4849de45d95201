package scim

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/store"
)

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.readResource(w, r, groupDef)
	if !ok {
		return
	}
	members := takeMembers(doc)
	g := groupFromDoc(store.Group{DirectoryID: directoryFrom(r.Context()).ID, ID: uuid.NewString()}, doc)
	g, err := s.store.CreateGroup(r.Context(), g, members)
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	res := groupResource(g)
	res.members, res.loaded = members, len(members) > 0
	writeResource(w, http.StatusCreated, groupDef, s.baseURL(r), res, nil)
}

// takeMembers removes "members" from a validated group document and
// returns the member ids: members live in their own table.
func takeMembers(doc map[string]any) []string {
	list, _ := doc["members"].([]any)
	delete(doc, "members")
	var ids []string
	seen := map[string]bool{}
	for _, el := range list {
		m, _ := el.(map[string]any)
		if id, _ := m["value"].(string); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
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
	doc, ok := s.readResource(w, r, groupDef)
	if !ok {
		return
	}
	members := takeMembers(doc)
	ifMatch := r.Header.Get("If-Match")
	dir := directoryFrom(r.Context()).ID
	g, err := s.store.UpdateGroup(r.Context(), dir, mux.Vars(r)["id"], func(old store.Group) (store.GroupChange, error) {
		if !etagMatches(ifMatch, old.Version) {
			return store.GroupChange{}, store.ErrPrecondition
		}
		ng := groupFromDoc(old, doc)
		ops := []store.MemberOp{{Kind: store.MembersRemoveAll}}
		if len(members) > 0 {
			ops = append(ops, store.MemberOp{Kind: store.MembersAdd, UserIDs: members})
		}
		return store.GroupChange{Group: &ng, Members: ops}, nil
	})
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	s.writeGroup(w, r, g)
}

// patchGroup answers 204 as Entra expects; member changes never load or
// rewrite the member list.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) {
	ops, ok := s.readPatch(w, r)
	if !ok {
		return
	}
	ifMatch := r.Header.Get("If-Match")
	_, err := s.store.UpdateGroup(r.Context(), directoryFrom(r.Context()).ID, mux.Vars(r)["id"], func(old store.Group) (store.GroupChange, error) {
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
		}
		change.Members = members
		return change, nil
	})
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	err := s.store.DeleteGroup(r.Context(), directoryFrom(r.Context()).ID, mux.Vars(r)["id"], ifMatchVersion(r.Header.Get("If-Match")))
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
