package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

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
	q, ok := contactQuery(w, vals)
	if !ok {
		return
	}
	if g := vals.Get("group"); g != "" {
		if !l.visibleGroup(w, r, g) {
			return
		}
		q.GroupID = g
	}
	l.writeContactPage(w, r, q)
}

// groupContacts answers a page of the visible members of a group.
func (l *Lookup) groupContacts(w http.ResponseWriter, r *http.Request) {
	vals, ok := queryParams(w, r, "q", "limit", "cursor")
	if !ok {
		return
	}
	q, ok := contactQuery(w, vals)
	if !ok || !l.visibleGroup(w, r, mux.Vars(r)["id"]) {
		return
	}
	q.GroupID = mux.Vars(r)["id"]
	l.writeContactPage(w, r, q)
}

func (l *Lookup) writeContactPage(w http.ResponseWriter, r *http.Request, q store.ContactQuery) {
	sc := scopeFrom(r)
	q.Visibility = sc.visibility
	recs, next, err := l.cfg.Store.SearchContacts(r.Context(), sc.directoryID, q)
	switch {
	case errors.Is(err, store.ErrInvalidFilter) && q.After != "": // a cursor the backend did not issue
		badParam(w, "cursor", "must be the nextCursor of a previous answer, sent with the same other parameters")
		return
	case errors.Is(err, store.ErrInvalidFilter): // its text is client-safe by contract
		WriteError(w, http.StatusBadRequest, "invalid_parameter", strings.TrimPrefix(err.Error(), store.ErrInvalidFilter.Error()+": "))
		return
	case err != nil:
		l.internal(w, r, "search contacts", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, contactListJSON{Contacts: l.contactsOut(sc.directoryID, recs), NextCursor: next})
}

// getContact answers one visible contact, or 304 when the client's copy
// is current.
func (l *Lookup) getContact(w http.ResponseWriter, r *http.Request) {
	if _, ok := queryParams(w, r); !ok {
		return
	}
	id := mux.Vars(r)["id"]
	if !plausibleID(id) {
		WriteError(w, http.StatusNotFound, "not_found", "contact not found")
		return
	}
	sc := scopeFrom(r)
	rec, err := l.cfg.Store.GetContact(r.Context(), sc.directoryID, id, sc.visibility)
	if err != nil {
		l.storeError(w, r, "contact", err)
		return
	}
	pres := l.presenceOf(sc.directoryID, rec.Presence)
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

// contactQuery reads q, limit and cursor.
func contactQuery(w http.ResponseWriter, vals url.Values) (store.ContactQuery, bool) {
	q := store.ContactQuery{Limit: defaultContactLimit, After: vals.Get("cursor")}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxContactLimit {
			badParam(w, "limit", fmt.Sprintf("must be an integer from 1 to %d, got %q", maxContactLimit, clip(v)))
			return q, false
		}
		q.Limit = n
	}
	text := strings.TrimSpace(vals.Get("q"))
	switch {
	case utf8.RuneCountInString(text) > maxQueryLength:
		badParam(w, "q", fmt.Sprintf("must be at most %d characters", maxQueryLength))
		return q, false
	case !utf8.ValidString(text):
		badParam(w, "q", "must be valid UTF-8")
		return q, false
	}
	if digits, ok := phoneDigits(text); ok {
		q.Digits = digits
	} else {
		q.Text = text
	}
	return q, true
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
