package api

import (
	"hash/fnv"
	"strconv"
	"strings"
	"time"

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
	// Presence is null until presence is connected for the directory.
	Presence *presenceJSON `json:"presence"`
}

type phoneJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"` // as the SCIM client sent it
	E164  string `json:"e164"`
}

// presenceJSON is a contact's Teams presence (documented in the OpenAPI
// document; filled in once the presence poller exists).
type presenceJSON struct {
	Availability string    `json:"availability"`
	Activity     string    `json:"activity"`
	ObservedAt   time.Time `json:"observedAt"`
	Stale        bool      `json:"stale"`
}

type contactListJSON struct {
	Contacts   []contactJSON `json:"contacts"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

func contactOut(rec store.ContactRecord) contactJSON {
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

func contactsOut(recs []store.ContactRecord) []contactJSON {
	out := make([]contactJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, contactOut(rec))
	}
	return out
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
// contact itself, but group membership and group names change without
// bumping it, so the group names are hashed in too.
func etag(rec store.ContactRecord) string {
	h := fnv.New64a()
	for _, g := range rec.Groups {
		h.Write([]byte(g))
		h.Write([]byte{0})
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
