// Package mapping turns SCIM users into directory contacts: it holds each
// directory's mapping rules (which SCIM attribute feeds which contact
// field, which fields are required, the phone policy, custom fields and
// visibility), validates users against them with errors an Entra admin can
// act on, and normalises phone numbers to E.164. Pure functions, no I/O.
package mapping

import (
	"sort"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/jsonenc"
)

// Phone policies.
const (
	PhoneStrict  = "strict"  // exactly E.164: "+" and 2-15 digits, valid for its country
	PhoneLenient = "lenient" // anything that parses as a valid number (DefaultRegion for national formats)
)

// Rules is a directory's mapping rules document, as read and replaced
// through the admin API (GET/PUT /admin/v1/directories/{id}/mapping).
type Rules struct {
	PhonePolicy   string `json:"phonePolicy"`
	DefaultRegion string `json:"defaultRegion,omitempty"` // ISO 3166-1 alpha-2, for lenient national formats
	// Required lists contact fields a user must have: "userName",
	// "externalId", "phone", "name" (given or family name), "email".
	Required []string `json:"required"`
	// Fields maps contact fields (login, objectId, phone, givenName,
	// familyName, displayName, email, title, department) to SCIM attribute
	// paths such as `phoneNumbers[type eq "work"].value`.
	// A field missing from the map keeps its default source; "" leaves
	// it unmapped.
	Fields       map[string]string `json:"fields"`
	CustomFields []CustomField     `json:"customFields"`
	Visibility   Visibility        `json:"visibility"`
}

// CustomField maps any SCIM attribute (core, enterprise or an Entra custom
// extension such as urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill)
// to a named contact field.
type CustomField struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Type   string `json:"type"` // text, number, boolean, date
	// Overwrite off keeps a value once set on the contact when later
	// updates change the source attribute. Parse sets it when a document
	// omits it.
	Overwrite bool `json:"overwrite"`
}

// Visibility restricts which contacts the lookup API shows; it is applied
// when contacts are read, so a change takes effect at once.
type Visibility struct {
	OnlyGroups    []string `json:"onlyGroups,omitempty"`    // group names; a trailing * matches a prefix
	ExcludeGroups []string `json:"excludeGroups,omitempty"` // same syntax
	Domains       []string `json:"domains,omitempty"`       // email or userName domains
}

// Extension is a schema extension the rules make a directory accept, with
// the attributes (and SCIM types) its custom fields read.
type Extension struct {
	URN        string
	Attributes []ExtensionAttribute
}

// ExtensionAttribute is one attribute of an Extension.
type ExtensionAttribute struct {
	Name string
	Type string // SCIM type: string, decimal, boolean, dateTime
}

// Refusal is why a user cannot become a contact. Its Error is the SCIM
// error detail: it names the attribute, the value and what is expected.
type Refusal struct {
	Attribute string // SCIM attribute path, e.g. phoneNumbers[type eq "work"].value
	Value     string // the offending value ("" when missing)
	Reason    string // what is expected
}

// Error reads as a SCIM error detail:
// `phoneNumbers[type eq "work"].value: "555 1234" is not E.164 (...)`.
func (r *Refusal) Error() string {
	switch {
	case r.Value == "" && r.Attribute == "":
		return r.Reason
	case r.Value == "":
		return r.Attribute + " " + r.Reason
	case r.Attribute == "":
		return strconv.Quote(r.Value) + " " + r.Reason
	}
	return r.Attribute + ": " + strconv.Quote(r.Value) + " " + r.Reason
}

// Custom field types.
const (
	TypeText    = "text"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeDate    = "date"
)

// Contact fields (keys of Rules.Fields); the constants index contactFields.
var contactFields = [numFields]string{"login", "objectId", "phone", "givenName", "familyName", "displayName", "email", "title", "department"}

const (
	fLogin = iota
	fObjectID
	fPhone
	fGivenName
	fFamilyName
	fDisplayName
	fEmail
	fTitle
	fDepartment
	numFields
)

// Required field names, in the order Apply checks them.
var requiredNames = []string{"userName", "externalId", "phone", "name", "email"}

// defaultFields is the usual CX attribute table.
var defaultFields = map[string]string{
	"login":       "userName",
	"objectId":    "externalId",
	"phone":       `phoneNumbers[type eq "work"].value`,
	"givenName":   "name.givenName",
	"familyName":  "name.familyName",
	"displayName": "displayName",
	"email":       `emails[type eq "work"].value`,
	"title":       "title",
	"department":  EnterpriseURN + ":department",
}

// Defaults returns the rules of the usual CX attribute table.
func Defaults() Rules {
	f := make(map[string]string, len(defaultFields))
	for k, v := range defaultFields {
		f[k] = v
	}
	return Rules{
		PhonePolicy: PhoneStrict,
		Required:    []string{"userName", "externalId", "phone", "name"},
		Fields:      f,
	}
}

// fieldPath is the path feeding a contact field: a field missing from
// Fields takes its default, "" means unmapped.
func (r Rules) fieldPath(field string) string {
	if p, ok := r.Fields[field]; ok {
		return p
	}
	return defaultFields[field]
}

// Marshal encodes the rules document in canonical form: every key present,
// every contact field listed, map keys sorted. Parse reads it back to
// equal rules.
func (r Rules) Marshal() []byte {
	c := r
	if c.PhonePolicy == "" {
		c.PhonePolicy = PhoneStrict
	}
	if c.Required == nil {
		c.Required = []string{}
	}
	c.Fields = make(map[string]string, len(contactFields))
	for _, f := range contactFields {
		c.Fields[f] = r.fieldPath(f)
	}
	if c.CustomFields == nil {
		c.CustomFields = []CustomField{}
	}
	b, _ := jsonenc.Marshal(c) // cannot fail: strings, bools, slices and a string map
	return b
}

// scimTypes maps custom field types to SCIM attribute types.
var scimTypes = map[string]string{
	TypeText:    "string",
	TypeNumber:  "decimal",
	TypeBoolean: "boolean",
	TypeDate:    "dateTime",
}

// Extensions lists the custom schema extensions the rules accept: the
// URN-qualified schemas, other than the core User schema and the
// enterprise extension, that custom fields (and contact fields) read, with
// the attributes read from each. Sorted by URN, then attribute name.
func (r Rules) Extensions() []Extension {
	exts, _ := r.extensions()
	return exts
}

// extUse is one rule reading an extension attribute.
type extUse struct {
	key, urn, attr, typ string
}

// extensions also returns, for Parse, the rules that read an attribute
// already read with another type (the first use wins).
func (r Rules) extensions() ([]Extension, []string) {
	var uses []extUse
	for _, f := range contactFields {
		if u, ok := extAttr(r.fieldPath(f)); ok {
			u.key, u.typ = "fields."+f, "string"
			uses = append(uses, u)
		}
	}
	for i, cf := range r.CustomFields {
		if u, ok := extAttr(cf.Source); ok {
			u.key, u.typ = "customFields["+strconv.Itoa(i)+"].source", scimTypes[cf.Type]
			if u.typ == "" {
				u.typ = "string"
			}
			uses = append(uses, u)
		}
	}
	byURN := map[string]*Extension{}
	seen := map[[2]string]extUse{}
	var conflicts []string
	for _, u := range uses {
		lu, la := strings.ToLower(u.urn), strings.ToLower(u.attr)
		if prev, ok := seen[[2]string{lu, la}]; ok {
			if prev.typ != u.typ {
				conflicts = append(conflicts, u.key+": "+strconv.Quote(u.urn+":"+u.attr)+" is read as "+u.typ+
					" here but as "+prev.typ+" by "+prev.key+"; an extension attribute has one type")
			}
			continue
		}
		seen[[2]string{lu, la}] = u
		e := byURN[lu]
		if e == nil {
			e = &Extension{URN: u.urn}
			byURN[lu] = e
		}
		e.Attributes = append(e.Attributes, ExtensionAttribute{Name: u.attr, Type: u.typ})
	}
	exts := make([]Extension, 0, len(byURN))
	for _, e := range byURN {
		sort.Slice(e.Attributes, func(i, j int) bool {
			return strings.ToLower(e.Attributes[i].Name) < strings.ToLower(e.Attributes[j].Name)
		})
		exts = append(exts, *e)
	}
	sort.Slice(exts, func(i, j int) bool { return strings.ToLower(exts[i].URN) < strings.ToLower(exts[j].URN) })
	return exts, conflicts
}

// extAttr reports the custom extension attribute a path reads, if any.
func extAttr(s string) (extUse, bool) {
	p, err := parsePath(s)
	if err != nil || p.urn == "" || strings.EqualFold(p.urn, EnterpriseURN) {
		return extUse{}, false
	}
	return extUse{urn: p.urn, attr: p.attr}, true
}
