package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/jsonenc"
	"github.com/scimd/scimd/presence"
)

// contactPageSize is how many contacts a page of results shows.
const contactPageSize = "25"

// contactsData is the contacts page: a search (as you type, or by
// submitting the form) or a caller-ID lookup, and its results.
type contactsData struct {
	Q, Phone, Region string
	// CallerID is the number looked up, in E.164, after a caller-ID
	// lookup.
	CallerID string
	Contacts []contactView
	// More links to the next page of a search.
	More string
	// Live: presence updates arrive from the console's stream.
	Live bool
	// Error is why the search or lookup was refused, shown with the
	// results.
	Error string
}

// contactView is a contact with its presence worded for the page.
type contactView struct {
	api.Contact
	Presence presenceView
}

// presenceView is a contact's Teams presence as the pages show it; the
// page's script words the stream's changes the same way (pages.js).
type presenceView struct {
	Label, Class string
}

func presenceViewOf(p *presence.ContactPresence) presenceView {
	if p == nil {
		return presenceView{Label: "Unknown", Class: "idle"}
	}
	v := presenceView{Label: words(p.Availability), Class: availabilityClass(p.Availability)}
	if p.Activity != "" && p.Activity != p.Availability {
		v.Label += " · " + words(p.Activity)
	}
	if p.Stale {
		v.Label += " (not current)"
	}
	return v
}

// words turns Graph's PascalCase values into words: "DoNotDisturb" →
// "Do not disturb", "InACall" → "In a call".
func words(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func availabilityClass(a string) string {
	switch a {
	case "Available", "AvailableIdle":
		return "ok"
	case "Busy", "BusyIdle", "DoNotDisturb":
		return "bad"
	case "Away", "BeRightBack":
		return "warn"
	}
	return "idle"
}

func (c *Console) viewsOf(cs []api.Contact) []contactView {
	out := make([]contactView, 0, len(cs))
	for _, ct := range cs {
		out = append(out, contactView{Contact: ct, Presence: presenceViewOf(ct.Presence)})
	}
	return out
}

// contactsPage searches the directory's contacts as CX clients see them
// (the lookup API's search), or looks a caller's number up (its
// caller-ID).
func (c *Console) contactsPage(w http.ResponseWriter, r *http.Request) {
	data, status, errMsg, ok := c.contacts(w, r)
	if !ok {
		return
	}
	d := DirectoryFrom(r.Context())
	data.Error = errMsg
	c.renderStatus(w, r, status, "contacts.html", &Page{Title: "Contacts · " + d.Name, Active: "contacts", Data: data})
}

// contactResults is the results part of the contacts page alone, which
// the page's script fetches as the admin types.
func (c *Console) contactResults(w http.ResponseWriter, r *http.Request) {
	data, status, errMsg, ok := c.contacts(w, r)
	if !ok {
		return
	}
	data.Error = errMsg
	c.renderPart(w, r, status, "contacts.html", "results", &Page{Data: data})
}

// contacts runs the page's search or caller-ID lookup. A refusal (a bad
// number, a bad cursor) comes back as its status and message; ok false
// means the answer was written (an internal error).
func (c *Console) contacts(w http.ResponseWriter, r *http.Request) (*contactsData, int, string, bool) {
	ctx := r.Context()
	d := DirectoryFrom(ctx)
	if c.cfg.Lookup == nil {
		c.message(w, r, http.StatusServiceUnavailable, "Not available", "Contacts cannot be read on this server.", nil)
		return nil, 0, "", false
	}
	qv := r.URL.Query()
	data := &contactsData{Q: strings.TrimSpace(qv.Get("q")), Phone: strings.TrimSpace(qv.Get("phone")), Region: qv.Get("region"),
		Live: c.admin.PresenceAvailable()}
	var err error
	if data.Phone != "" {
		var out api.CallerID
		if out, err = c.cfg.Lookup.CallerID(ctx, d.ID, data.Phone, data.Region); err == nil {
			data.CallerID, data.Contacts = out.Phone, c.viewsOf(out.Contacts)
		}
	} else {
		vals := url.Values{"q": {data.Q}, "cursor": {qv.Get("cursor")}, "limit": {contactPageSize}}
		var page api.ContactPage
		if page, err = c.cfg.Lookup.SearchContacts(ctx, d.ID, vals, ""); err == nil {
			data.Contacts = c.viewsOf(page.Contacts)
			if page.NextCursor != "" {
				next := url.Values{"cursor": {page.NextCursor}}
				if data.Q != "" {
					next.Set("q", data.Q)
				}
				data.More = Prefix + "/directories/" + d.ID + "/contacts?" + next.Encode()
			}
		}
	}
	if err != nil {
		if status, msg, ok := problemMessage(err); ok {
			return data, status, msg, true
		}
		c.internalError(w, r, "read contacts", err)
		return nil, 0, "", false
	}
	return data, http.StatusOK, "", true
}

// contactPage shows one contact: fields, phones, groups, custom fields,
// and its presence, which the page's script keeps current.
func (c *Console) contactPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := DirectoryFrom(ctx)
	if c.cfg.Lookup == nil {
		c.message(w, r, http.StatusServiceUnavailable, "Not available", "Contacts cannot be read on this server.", nil)
		return
	}
	ct, err := c.cfg.Lookup.Contact(ctx, d.ID, mux.Vars(r)["contactId"])
	if err != nil {
		c.fail(w, r, "read contact", err)
		return
	}
	view := contactView{Contact: ct, Presence: presenceViewOf(ct.Presence)}
	data := struct {
		Contact contactView
		Live    bool
		Custom  []detail
	}{Contact: view, Live: c.admin.PresenceAvailable(), Custom: customDetails(ct.Custom)}
	c.render(w, r, "contact.html", &Page{Title: ct.DisplayName + " · " + d.Name, Active: "contacts", Data: data})
}

// customDetails lists a contact's custom fields by name.
func customDetails(m map[string]any) []detail {
	out := make([]detail, 0, len(m))
	for k, v := range m {
		out = append(out, detail{Name: k, Value: customValue(v)})
	}
	sortDetails(out)
	return out
}

// renderPart writes one template of a page (not the layout): the part
// a page's script swaps in.
func (c *Console) renderPart(w http.ResponseWriter, r *http.Request, status int, page, part string, p *Page) {
	t, ok := c.pages.byName[page]
	if !ok {
		c.internalError(w, r, "render part", errNoTemplate)
		return
	}
	if p.Session == nil {
		p.Session = SessionFrom(r.Context())
	}
	if d := DirectoryFrom(r.Context()); d.ID != "" && p.Dir == nil {
		p.Dir = &d
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, part, p); err != nil {
		c.internalError(w, r, "render part", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var errNoTemplate = errors.New("console: no such template")

// customValue words a custom field's value (text, number, boolean or
// date, as the mapping typed it).
func customValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64, int, int64, json.Number:
		return fmt.Sprint(x)
	}
	b, err := jsonenc.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sortDetails(ds []detail) {
	slices.SortFunc(ds, func(a, b detail) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
}
