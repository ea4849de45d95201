package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

// Contact paging: limit's default and maximum.
const (
	defaultContactLimit = 50
	maxContactLimit     = 200
)

// maxQueryLength bounds q, in characters: nobody types more, and the
// store need not search for it.
const maxQueryLength = 200

// searchContacts answers a page of the directory's visible contacts,
// optionally matching q and in one group.
func (l *Lookup) searchContacts(w http.ResponseWriter, r *http.Request) {
	vals, ok := queryParams(w, r, "q", "group", "limit", "cursor")
	if !ok {
		return
	}
	l.writeContactPage(w, r, vals, vals.Get("group"))
}

// groupContacts answers a page of the visible members of a group.
func (l *Lookup) groupContacts(w http.ResponseWriter, r *http.Request) {
	vals, ok := queryParams(w, r, "q", "limit", "cursor")
	if !ok {
		return
	}
	l.writeContactPage(w, r, vals, mux.Vars(r)["id"])
}

func (l *Lookup) writeContactPage(w http.ResponseWriter, r *http.Request, vals url.Values, group string) {
	out, err := l.contactPage(r.Context(), scopeFrom(r), vals, group)
	if err != nil {
		l.fail(w, r, "search contacts", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, out)
}

// Contact is a contact as the lookup API shows it.
type Contact = contactJSON

// ContactPage is a page of contacts and the cursor of the next one.
type ContactPage = contactListJSON

// SearchContacts returns a page of the directory's visible contacts as
// the lookup API's search does (same parameters, parsing and messages):
// vals may hold q, limit and cursor; group, when not "", keeps the
// members of that group. A refusal is a *Problem.
func (l *Lookup) SearchContacts(ctx context.Context, directoryID string, vals url.Values, group string) (ContactPage, error) {
	sc, err := l.scope(ctx, directoryID)
	if err != nil {
		return ContactPage{}, err
	}
	return l.contactPage(ctx, sc, vals, group)
}

func (l *Lookup) contactPage(ctx context.Context, sc *scope, vals url.Values, group string) (contactListJSON, error) {
	q, err := contactQuery(vals)
	if err != nil {
		return contactListJSON{}, err
	}
	if group != "" {
		if err := l.visibleGroup(ctx, sc, group); err != nil {
			return contactListJSON{}, err
		}
		q.GroupID = group
	}
	q.Visibility = sc.visibility
	recs, next, err := l.cfg.Store.SearchContacts(ctx, sc.directoryID, q)
	switch {
	case errors.Is(err, store.ErrInvalidFilter) && q.After != "": // a cursor the backend did not issue
		return contactListJSON{}, paramProblem("cursor", "must be the nextCursor of a previous answer, sent with the same other parameters")
	case errors.Is(err, store.ErrInvalidFilter): // its text is client-safe by contract
		return contactListJSON{}, newProblem(http.StatusBadRequest, "invalid_parameter", strings.TrimPrefix(err.Error(), store.ErrInvalidFilter.Error()+": "))
	case err != nil:
		return contactListJSON{}, err
	}
	return contactListJSON{Contacts: l.contactsOut(sc.directoryID, recs), NextCursor: next}, nil
}

// getContact answers one visible contact, or 304 when the client's copy
// is current.
func (l *Lookup) getContact(w http.ResponseWriter, r *http.Request) {
	if _, ok := queryParams(w, r); !ok {
		return
	}
	sc := scopeFrom(r)
	rec, pres, err := l.contact(r.Context(), sc, mux.Vars(r)["id"])
	if err != nil {
		l.fail(w, r, "read contact", err)
		return
	}
	tag := etag(rec, pres)
	h := w.Header()
	h.Set("ETag", tag)
	// Private: a shared cache must not keep one client's contact for
	// another; no-cache: revalidate, which If-None-Match makes cheap.
	h.Set("Cache-Control", "private, no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	WriteJSON(w, http.StatusOK, contactOut(rec, pres))
}

// Contact returns one visible contact of the directory as the lookup API
// shows it (404 *Problem "contact not found" otherwise).
func (l *Lookup) Contact(ctx context.Context, directoryID, id string) (Contact, error) {
	sc, err := l.scope(ctx, directoryID)
	if err != nil {
		return Contact{}, err
	}
	rec, pres, err := l.contact(ctx, sc, id)
	if err != nil {
		return Contact{}, err
	}
	return contactOut(rec, pres), nil
}

func (l *Lookup) contact(ctx context.Context, sc *scope, id string) (store.ContactRecord, *presence.ContactPresence, error) {
	if !plausibleID(id) {
		return store.ContactRecord{}, nil, errContactNotFound
	}
	rec, err := l.cfg.Store.GetContact(ctx, sc.directoryID, id, sc.visibility)
	if errors.Is(err, store.ErrNotFound) {
		return store.ContactRecord{}, nil, errContactNotFound
	}
	if err != nil {
		return store.ContactRecord{}, nil, err
	}
	return rec, l.presenceOf(sc.directoryID, rec.Presence), nil
}

var errContactNotFound = newProblem(http.StatusNotFound, "not_found", "contact not found")

// contactQuery reads q, limit and cursor.
func contactQuery(vals url.Values) (store.ContactQuery, error) {
	q := store.ContactQuery{Limit: defaultContactLimit, After: vals.Get("cursor")}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxContactLimit {
			return q, paramProblem("limit", fmt.Sprintf("must be an integer from 1 to %d, got %q", maxContactLimit, clip(v)))
		}
		q.Limit = n
	}
	text := strings.TrimSpace(vals.Get("q"))
	switch {
	case utf8.RuneCountInString(text) > maxQueryLength:
		return q, paramProblem("q", fmt.Sprintf("must be at most %d characters", maxQueryLength))
	case !utf8.ValidString(text):
		return q, paramProblem("q", "must be valid UTF-8")
	}
	if digits, ok := phoneDigits(text); ok {
		q.Digits = digits
	} else {
		q.Text = text
	}
	return q, nil
}

// phoneDigits reads a phone-like search (digits with spaces, dashes, dots,
// brackets or slashes, and an optional leading "+") as the digits to find
// in contacts' E.164 numbers. Without "+", leading zeros (a national
// trunk prefix, or the international prefix 00) are dropped, since E.164
// omits them: "020 7183" finds +44 20 7183 8750; so is the "(0)" of
// "+44 (0)20 7183 8750". That only widens the match.
func phoneDigits(s string) (string, bool) {
	rest, plus := strings.CutPrefix(strings.ReplaceAll(s, "(0)", ""), "+")
	var b strings.Builder
	for _, c := range rest {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/':
		default:
			return "", false
		}
	}
	digits := b.String()
	if digits == "" {
		return "", false
	}
	if !plus {
		if trimmed := strings.TrimLeft(digits, "0"); trimmed != "" {
			digits = trimmed
		}
	}
	return digits, true
}
