package api

import (
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

// contactJSON is a contact as the lookup API shows it. Every key is always
// present (empty strings, lists and objects rather than absent keys), so
// that clients need no special cases.
type contactJSON struct {
	ID          string         `json:"id"`
	DisplayName string         `json:"displayName"`
	GivenName   string         `json:"givenName"`
	FamilyName  string         `json:"familyName"`
	Email       string         `json:"email"`
	Phones      []phoneJSON    `json:"phones"`
	Title       string         `json:"title"`
	Department  string         `json:"department"`
	Custom      map[string]any `json:"custom"`
	Groups      []string       `json:"groups"`
	Active      bool           `json:"active"`
	// Presence is null while presence is not connected for the directory,
	// or nothing is known of the contact's presence.
	Presence *presence.ContactPresence `json:"presence"`
}

type phoneJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"` // as the SCIM client sent it
	E164  string `json:"e164"`
}

type contactListJSON struct {
	Contacts   []contactJSON `json:"contacts"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

// contactOut is rec as the API shows it, with the presence pres (see
// Lookup.presenceOf).
func contactOut(rec store.ContactRecord, pres *presence.ContactPresence) contactJSON {
	c := rec.Contact
	out := contactJSON{
		ID:          rec.ID,
		DisplayName: displayName(rec),
		GivenName:   c.GivenName,
		FamilyName:  c.FamilyName,
		Email:       c.Email,
		Phones:      make([]phoneJSON, 0, len(c.Phones)),
		Title:       c.Title,
		Department:  c.Department,
		Custom:      c.Custom,
		Groups:      rec.Groups,
		Active:      rec.Active,
		Presence:    pres,
	}
	for _, p := range c.Phones {
		out.Phones = append(out.Phones, phoneJSON{Type: p.Type, Value: p.Value, E164: p.E164})
	}
	if out.Custom == nil {
		out.Custom = map[string]any{}
	}
	if out.Groups == nil {
		out.Groups = []string{}
	}
	return out
}

// contactsOut is recs of the directory dirID as the API shows them.
func (l *Lookup) contactsOut(dirID string, recs []store.ContactRecord) []contactJSON {
	out := make([]contactJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, contactOut(rec, l.presenceOf(dirID, rec.Presence)))
	}
	return out
}

// presenceOf is the presence to show for a contact of the directory
// dirID: nil (JSON null) without a presence service, while the directory
// is not connected, or when nothing is stored for the contact.
func (l *Lookup) presenceOf(dirID string, p *store.Presence) *presence.ContactPresence {
	if l.cfg.Presence == nil || p == nil {
		return nil
	}
	return l.cfg.Presence.ContactPresence(dirID, p)
}

// displayName is the contact's display name, else its given and family
// names, else its userName. mapping.Apply fills it the same way; contacts
// stored before that rule, or mapped with displayName unset, still need it.
func displayName(rec store.ContactRecord) string {
	c := rec.Contact
	if s := strings.TrimSpace(c.DisplayName); s != "" {
		return s
	}
	if s := strings.TrimSpace(c.GivenName + " " + c.FamilyName); s != "" {
		return s
	}
	if c.Login != "" {
		return c.Login
	}
	return rec.UserName
}

// etag is the contact's weak validator. The user's version covers the
// contact itself, but group membership, group names and presence change
// without bumping it, so they are hashed in too.
func etag(rec store.ContactRecord, pres *presence.ContactPresence) string {
	h := fnv.New64a()
	for _, g := range rec.Groups {
		h.Write([]byte(g))
		h.Write([]byte{0})
	}
	if pres != nil {
		h.Write([]byte{1})
		h.Write([]byte(pres.Availability + "\x00" + pres.Activity + "\x00" + pres.ObservedAt.UTC().Format(time.RFC3339Nano) + "\x00" + strconv.FormatBool(pres.Stale)))
	}
	return `W/"` + strconv.FormatInt(rec.Version, 10) + "-" + strconv.FormatUint(h.Sum64(), 36) + `"`
}

// etagMatches reports whether an If-None-Match header names tag, by weak
// comparison (RFC 9110 §13.1.2).
func etagMatches(header, tag string) bool {
	tag = strings.TrimPrefix(tag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}
