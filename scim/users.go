package scim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/store"
)

// errUnchanged aborts an update whose result equals the stored resource:
// Entra re-sends unchanged values every cycle, and skipping the write
// keeps meta.version (and the disk) quiet.
var errUnchanged = errors.New("unchanged")

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.readResource(w, r, userDef)
	if !ok {
		return
	}
	u := userFromDoc(store.User{DirectoryID: directoryFrom(r.Context()).ID, ID: uuid.NewString()}, doc)
	u, err := s.store.CreateUser(r.Context(), u)
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	writeResource(w, http.StatusCreated, userDef, s.baseURL(r), userResource(u), nil)
}

// userFromDoc sets a user's document and the columns derived from it.
func userFromDoc(u store.User, doc map[string]any) store.User {
	u.Doc = marshalDoc(doc)
	u.UserName, _ = doc["userName"].(string)
	u.ExternalID, _ = doc["externalId"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.Active = true // SCIM has no default; a user is active until told otherwise
	if a, ok := doc["active"].(bool); ok {
		u.Active = a
	}
	return u
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.store.GetUser(r.Context(), directoryFrom(r.Context()).ID, mux.Vars(r)["id"])
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	writeResource(w, http.StatusOK, userDef, s.baseURL(r), userResource(u), parseProjection(userDef, r.URL.Query()))
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	lq, e := s.parseListQuery(r, userDef)
	if e != nil {
		writeError(w, e)
		return
	}
	users, total, err := s.store.ListUsers(r.Context(), directoryFrom(r.Context()).ID, lq.query)
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	items := make([]resource, len(users))
	for i, u := range users {
		items[i] = userResource(u)
	}
	writeList(w, userDef, s.baseURL(r), items, total, lq.startIndex, lq.proj)
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.readResource(w, r, userDef)
	if !ok {
		return
	}
	s.updateUser(w, r, func(store.User) (map[string]any, *Error) { return doc, nil })
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	ops, ok := s.readPatch(w, r)
	if !ok {
		return
	}
	s.updateUser(w, r, func(old store.User) (map[string]any, *Error) {
		doc, err := unmarshalDoc(old.Doc)
		if err != nil {
			return nil, errorf(http.StatusInternalServerError, "", "stored resource is unreadable")
		}
		doc, _, e := applyPatch(userDef, doc, ops)
		return doc, e
	})
}

// updateUser runs change inside the store's read-modify-write transaction,
// checking If-Match against the version it reads.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, change func(store.User) (map[string]any, *Error)) {
	ifMatch := r.Header.Get("If-Match")
	var unchanged store.User
	u, err := s.store.UpdateUser(r.Context(), directoryFrom(r.Context()).ID, mux.Vars(r)["id"], func(old store.User) (store.User, error) {
		if !etagMatches(ifMatch, old.Version) {
			return old, store.ErrPrecondition
		}
		doc, e := change(old)
		if e != nil {
			return old, e
		}
		nu := userFromDoc(old, doc)
		if string(nu.Doc) == string(old.Doc) {
			unchanged = old
			return old, errUnchanged
		}
		return nu, nil
	})
	if errors.Is(err, errUnchanged) {
		u, err = unchanged, nil
	}
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	writeResource(w, http.StatusOK, userDef, s.baseURL(r), userResource(u), parseProjection(userDef, r.URL.Query()))
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	err := s.store.DeleteUser(r.Context(), directoryFrom(r.Context()).ID, mux.Vars(r)["id"], ifMatchVersion(r.Header.Get("If-Match")))
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// etagMatches evaluates an If-Match header (RFC 9110 §13.1.1, weak
// comparison) against a version.
func etagMatches(header string, version int64) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			return true
		}
		if v, ok := parseETag(tag); ok && v == version {
			return true
		}
	}
	return false
}

// ifMatchVersion turns If-Match into the version a delete must find:
// 0 for none (or "*"), -1 for a tag that names no version.
func ifMatchVersion(header string) int64 {
	header = strings.TrimSpace(header)
	if header == "" || header == "*" {
		return 0
	}
	tag, _, _ := strings.Cut(header, ",")
	if v, ok := parseETag(strings.TrimSpace(tag)); ok {
		return v
	}
	return -1
}

func parseETag(tag string) (int64, bool) {
	tag = strings.TrimPrefix(tag, "W/")
	tag = strings.Trim(tag, `"`)
	v, err := strconv.ParseInt(tag, 10, 64)
	return v, err == nil && v > 0
}

// listQuery is a parsed list request.
type listQuery struct {
	query      store.Query
	startIndex int
	proj       *projection
}

func (s *Server) parseListQuery(r *http.Request, def *resourceDef) (listQuery, *Error) {
	q := r.URL.Query()
	lq := listQuery{startIndex: 1, proj: parseProjection(def, q)}
	count := 100
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return lq, invalidValue("count must be an integer, got %q", v)
		}
		count = min(max(n, 0), s.cfg.MaxResults)
	}
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return lq, invalidValue("startIndex must be an integer, got %q", v)
		}
		lq.startIndex = max(n, 1)
	}
	lq.query.Offset = lq.startIndex - 1
	lq.query.Limit = count
	if f := strings.TrimSpace(q.Get("filter")); f != "" {
		parsed, err := parseFilter(f)
		if err != nil {
			return lq, errorf(http.StatusBadRequest, "invalidFilter", "filter %q: %s", f, err)
		}
		if lq.query.Filter, err = compileFilter(def, parsed); err != nil {
			return lq, errorf(http.StatusBadRequest, "invalidFilter", "filter %q: %s", f, err)
		}
	}
	return lq, nil
}
