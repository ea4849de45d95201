package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

// newID returns a resource id: a UUIDv7, whose time-ordered prefix makes
// inserts append to the primary-key index instead of splitting pages all
// over it.
func newID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// applyRules is mapping.Apply; benchmarks swap it to measure what the
// mapping layer costs.
var applyRules = mapping.Apply

// errUnchanged aborts an update whose result equals the stored resource:
// Entra re-sends unchanged values every cycle, and skipping the write
// keeps meta.version (and the disk) quiet.
var errUnchanged = errors.New("unchanged")

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	cfg, dir := configFrom(r.Context()), directoryFrom(r.Context())
	ev := store.SyncEvent{DirectoryID: dir.ID, Operation: store.SyncCreate, ResourceType: "User", New: true, Result: "created"}
	body, e := s.readBody(w, r)
	if e != nil {
		s.fail(w, r, ev, e)
		return
	}
	doc, e := validateResource(cfg.user, body)
	if e != nil {
		ev.Identity = peekIdentity(body)
		s.fail(w, r, ev, e)
		return
	}
	ev.Identity, _ = doc["userName"].(string)
	u, err := userFromDoc(cfg, store.User{DirectoryID: dir.ID, ID: newID(), RulesVersion: dir.RulesVersion}, doc, nil)
	if err != nil {
		s.fail(w, r, ev, err)
		return
	}
	u, err = s.store.CreateUser(r.Context(), u, ev)
	if err != nil {
		s.fail(w, r, ev, err)
		return
	}
	writeResource(w, http.StatusCreated, cfg.user, s.baseURL(r), userResource(u), nil)
}

// userFromDoc sets a user's document, the columns derived from it and the
// contact the directory's mapping rules make of it; a user the rules
// refuse is a 400 invalidValue naming the attribute. old is the stored
// contact on updates.
func userFromDoc(cfg *dirConfig, u store.User, doc map[string]any, old *store.Contact) (store.User, error) {
	contact, err := applyRules(cfg.rules, doc, old)
	var refusal *mapping.Refusal
	switch {
	case errors.As(err, &refusal):
		return u, invalidValue("%s", refusal.Error())
	case err != nil: // the rules themselves are broken: a logged 500
		return u, fmt.Errorf("applying mapping rules: %w", err)
	}
	u.Contact = contact
	u.Doc = marshalDoc(doc)
	u.UserName, _ = doc["userName"].(string)
	u.ExternalID, _ = doc["externalId"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.Active = true // SCIM has no default; a user is active until told otherwise
	if a, ok := doc["active"].(bool); ok {
		u.Active = a
	}
	return u, nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	cfg := configFrom(r.Context())
	u, err := s.store.GetUser(r.Context(), directoryFrom(r.Context()).ID, mux.Vars(r)["id"])
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	if notModified(w, r, u.Version) {
		return
	}
	writeResource(w, http.StatusOK, cfg.user, s.baseURL(r), userResource(u), parseProjection(cfg.user, r.URL.Query()))
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	lq, e := s.parseListQuery(r, configFrom(r.Context()).user)
	if e != nil {
		writeError(w, e)
		return
	}
	s.writeUserList(w, r, lq)
}

// searchUsers is POST /Users/.search: a list request in the body.
func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) {
	lq, e := s.parseSearch(w, r, configFrom(r.Context()).user)
	if e != nil {
		writeError(w, e)
		return
	}
	s.writeUserList(w, r, lq)
}

func (s *Server) writeUserList(w http.ResponseWriter, r *http.Request, lq listQuery) {
	cfg := configFrom(r.Context())
	users, total, err := s.store.ListUsers(r.Context(), directoryFrom(r.Context()).ID, lq.query)
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	items := make([]resource, len(users))
	for i, u := range users {
		items[i] = userResource(u)
	}
	writeList(w, cfg.user, s.baseURL(r), items, total, lq.startIndex, lq.proj)
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) {
	cfg := configFrom(r.Context())
	body, e := s.readBody(w, r)
	if e == nil {
		var doc map[string]any
		if doc, e = validateResource(cfg.user, body); e == nil {
			s.updateUser(w, r, func(store.User) (map[string]any, *Error) { return doc, nil })
			return
		}
	}
	s.fail(w, r, s.userEvent(r, store.SyncUpdate), e)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	cfg := configFrom(r.Context())
	body, e := s.readBody(w, r)
	var ops []patchOp
	if e == nil {
		ops, e = parsePatchBody(body)
	}
	if e != nil {
		s.fail(w, r, s.userEvent(r, store.SyncUpdate), e)
		return
	}
	s.updateUser(w, r, func(old store.User) (map[string]any, *Error) {
		doc, err := unmarshalDoc(old.Doc)
		if err != nil {
			return nil, errorf(http.StatusInternalServerError, "", "stored resource is unreadable")
		}
		doc, _, e := applyPatch(cfg.user, doc, ops)
		return doc, e
	})
}

// userEvent starts the sync event of a write to the user in the URL.
func (s *Server) userEvent(r *http.Request, op string) store.SyncEvent {
	return store.SyncEvent{DirectoryID: directoryFrom(r.Context()).ID, Operation: op, ResourceType: "User", ResourceID: mux.Vars(r)["id"]}
}

// updateUser runs change inside the store's read-modify-write transaction,
// checking If-Match against the version it reads, and records the write
// in the sync log in the same transaction.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, change func(store.User) (map[string]any, *Error)) {
	cfg := configFrom(r.Context())
	ifMatch := r.Header.Get("If-Match")
	ev := s.userEvent(r, store.SyncUpdate)
	var unchanged store.User
	u, err := s.store.UpdateUser(r.Context(), directoryFrom(r.Context()).ID, mux.Vars(r)["id"], func(old store.User) (store.User, store.SyncEvent, error) {
		ev.Identity = old.UserName
		if !etagMatches(ifMatch, old.Version) {
			return old, ev, store.ErrPrecondition
		}
		doc, e := change(old)
		if e != nil {
			return old, ev, e
		}
		nu, err := userFromDoc(cfg, old, doc, &old.Contact)
		if err != nil {
			return old, ev, err
		}
		// The contact is the directory's current rules' (reapply package).
		nu.RulesVersion = directoryFrom(r.Context()).RulesVersion
		ev.Identity = nu.UserName
		if string(nu.Doc) == string(old.Doc) {
			unchanged = old
			return old, ev, errUnchanged
		}
		ev.Operation, ev.Result = describeUpdate(old, nu, doc)
		return nu, ev, nil
	})
	if errors.Is(err, errUnchanged) {
		u, err = unchanged, nil
		ev.Result = "no changes"
		s.record(r, ev)
	}
	if err != nil {
		s.fail(w, r, ev, err)
		return
	}
	writeResource(w, http.StatusOK, cfg.user, s.baseURL(r), userResource(u), parseProjection(cfg.user, r.URL.Query()))
}

// describeUpdate names an accepted update for the sync log: disable and
// enable are their own operations; otherwise the changed attributes.
func describeUpdate(old, nu store.User, after map[string]any) (op, result string) {
	switch {
	case old.Active && !nu.Active:
		return store.SyncDisable, "disabled"
	case !old.Active && nu.Active:
		return store.SyncEnable, "enabled"
	}
	before, _ := unmarshalDoc(old.Doc)
	var changed []string
	for k, v := range after {
		if !jsonEqual(before[k], v) {
			changed = append(changed, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return store.SyncUpdate, "updated " + strings.Join(changed, ", ")
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	dir, id := directoryFrom(r.Context()).ID, mux.Vars(r)["id"]
	ev := s.userEvent(r, store.SyncDelete)
	ev.Result = "deleted"
	if u, err := s.store.GetUser(r.Context(), dir, id); err == nil {
		ev.Identity = u.UserName // the log names who was deleted
	}
	if err := s.store.DeleteUser(r.Context(), dir, id, ifMatchVersion(r.Header.Get("If-Match")), ev); err != nil {
		s.fail(w, r, ev, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fail answers a refused write with its SCIM error and records it in the
// directory's sync log with the same reason the client sees.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, ev store.SyncEvent, err error) {
	e := s.toSCIMError(r, err)
	// A database that is away refused nothing (the client retries), and
	// could not record it anyway.
	if !errors.Is(err, store.ErrUnavailable) {
		ev.Failed, ev.Result = true, e.Detail
		s.record(r, ev)
	}
	writeError(w, e)
}

// recordTimeout bounds the recording of a refused write, which outlives
// the request's own context.
const recordTimeout = 5 * time.Second

func (s *Server) record(r *http.Request, ev store.SyncEvent) {
	// A client that hung up still left a refused write behind: log it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), recordTimeout)
	defer cancel()
	if err := s.store.RecordSyncEvent(ctx, ev); err != nil {
		s.log.ErrorContext(r.Context(), "recording a sync event failed", "directory_id", ev.DirectoryID, "error", err)
	}
}

// peekIdentity reads userName (or displayName, for groups) from a body
// that may not validate, so that a refused create still names its user.
func peekIdentity(body []byte) string {
	v, e := decodeJSON(body)
	if e != nil {
		return ""
	}
	m, _ := v.(map[string]any)
	for k, v := range m {
		if s, ok := v.(string); ok && (equalFold(k, "userName") || equalFold(k, "displayName")) {
			return s
		}
	}
	return ""
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

// notModified answers 304 to a GET whose If-None-Match names the
// resource's version (RFC 7644 §3.14), and reports whether it did.
func notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	inm := r.Header.Get("If-None-Match")
	if strings.TrimSpace(inm) == "" || !etagMatches(inm, version) {
		return false
	}
	w.Header().Set("Etag", etag(version))
	w.WriteHeader(http.StatusNotModified)
	return true
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

// listParams are the parameters of a list request, from a GET's query
// or a POST .search body (RFC 7644 §3.4.2, §3.4.3); nil numbers take
// their defaults.
type listParams struct {
	filter, attributes, excludedAttributes string
	startIndex, count                      *int
}

// parseListQuery reads a GET list request's query parameters.
func (s *Server) parseListQuery(r *http.Request, def *resourceDef) (listQuery, *Error) {
	q := r.URL.Query()
	p := listParams{filter: q.Get("filter"), attributes: q.Get("attributes"), excludedAttributes: q.Get("excludedAttributes")}
	for _, n := range []struct {
		name string
		dst  **int
	}{{"count", &p.count}, {"startIndex", &p.startIndex}} {
		v := q.Get(n.name)
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			return listQuery{}, invalidValue("%s must be an integer, got %q", n.name, v)
		}
		*n.dst = &i
	}
	return s.listQueryOf(def, p)
}

// listQueryOf turns list parameters into a store query: count defaults to
// 100, and is capped at MaxResults (filter.maxResults), startIndex is
// 1-based.
func (s *Server) listQueryOf(def *resourceDef, p listParams) (listQuery, *Error) {
	lq := listQuery{startIndex: 1, proj: newProjection(def, p.attributes, p.excludedAttributes)}
	count := 100
	if p.count != nil {
		count = max(*p.count, 0)
	}
	count = min(count, s.cfg.MaxResults)
	if p.startIndex != nil {
		lq.startIndex = max(*p.startIndex, 1)
	}
	lq.query.Offset = lq.startIndex - 1
	lq.query.Limit = count
	if f := strings.TrimSpace(p.filter); f != "" {
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
