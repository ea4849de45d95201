package scim

import (
	"strings"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Schema URNs scimd speaks.
const (
	userURN         = schema.UserSchema
	groupURN        = schema.GroupSchema
	enterpriseURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	listResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchOpURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	errorURN        = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// attrDef is the part of a schema attribute scimd needs at run time,
// derived once from the library's schema definitions so that validation,
// PATCH and filters share one source of truth with /Schemas.
type attrDef struct {
	name       string // canonical
	typ        string // string, boolean, decimal, integer, dateTime, reference, complex, binary
	multi      bool
	required   bool
	readOnly   bool
	caseExact  bool
	subs       []*attrDef
	schemaURN  string // "" for core attributes
	typeKeyed  bool   // one element per type (typeKeyedAttrs)
	valueIsRef bool   // complex attribute whose "value" names another resource (manager, members)
}

func (a *attrDef) sub(name string) *attrDef {
	for _, s := range a.subs {
		if strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

// resourceDef describes a resource type: its core schema, its extensions
// and the lookup tables built from them.
type resourceDef struct {
	name       string // "User" or "Group"
	endpoint   string // "/Users"
	core       schema.Schema
	extensions []schema.Schema
	attrs      map[string]*attrDef            // lower-cased core name → def
	extAttrs   map[string]map[string]*attrDef // lower-cased URN → lower-cased name → def
	extURNs    map[string]string              // lower-cased URN → canonical URN
	schemas    []string                       // "schemas" of every resource of this type
}

// attr resolves a top-level attribute name, optionally URN-qualified, to
// its definition. uri may be the core schema's URN or an extension's.
func (d *resourceDef) attr(uri, name string) *attrDef {
	lname := strings.ToLower(name)
	if uri == "" {
		if a := d.attrs[lname]; a != nil {
			return a
		}
		// Entra also names extension attributes unqualified ("manager").
		for _, e := range d.extensions {
			if a := d.extAttrs[strings.ToLower(e.ID)][lname]; a != nil {
				return a
			}
		}
		return nil
	}
	if strings.EqualFold(uri, d.core.ID) {
		return d.attrs[lname]
	}
	if m, ok := d.extAttrs[strings.ToLower(uri)]; ok {
		return m[lname]
	}
	return nil
}

func newResourceDef(name, endpoint string, core schema.Schema, exts ...schema.Schema) *resourceDef {
	d := &resourceDef{
		name:       name,
		endpoint:   endpoint,
		core:       core,
		extensions: exts,
		attrs:      map[string]*attrDef{},
		extAttrs:   map[string]map[string]*attrDef{},
		extURNs:    map[string]string{},
		schemas:    []string{core.ID},
	}
	for _, a := range core.Attributes {
		d.attrs[strings.ToLower(a.Name())] = convertAttr(a, "")
	}
	// externalId is a common attribute, not part of the core schema.
	d.attrs["externalid"] = &attrDef{name: "externalId", typ: "string", caseExact: true}
	for _, e := range exts {
		m := map[string]*attrDef{}
		for _, a := range e.Attributes {
			m[strings.ToLower(a.Name())] = convertAttr(a, e.ID)
		}
		d.extAttrs[strings.ToLower(e.ID)] = m
		d.extURNs[strings.ToLower(e.ID)] = e.ID
		d.schemas = append(d.schemas, e.ID)
	}
	return d
}

// typeKeyedAttrs are the multi-valued attributes that hold at most one
// element per type: the mapping rules address them by type
// (phoneNumbers[type eq "work"].value), and Entra maps one source
// attribute to each type of them. Elsewhere a type is a label that may
// repeat (photos, ims, roles) or, on group members, the kind of resource
// (RFC 7643 §4.2), where two members of type "User" are the rule.
var typeKeyedAttrs = map[string]bool{"emails": true, "phonenumbers": true, "addresses": true}

func convertAttr(a schema.CoreAttribute, urn string) *attrDef {
	def := &attrDef{
		name:      a.Name(),
		typ:       a.AttributeType(),
		multi:     a.MultiValued(),
		required:  a.Required(),
		readOnly:  a.Mutability() == "readOnly",
		caseExact: a.CaseExact(),
		schemaURN: urn,
	}
	for _, s := range a.SubAttributes() {
		def.subs = append(def.subs, convertAttr(s, urn))
	}
	def.typeKeyed = def.multi && urn == "" && typeKeyedAttrs[strings.ToLower(def.name)]
	def.valueIsRef = def.typ == "complex" && def.sub("$ref") != nil && def.sub("value") != nil
	return def
}

// userSchema is RFC 7643's User trimmed to what scimd stores: no password
// (never returned anyway), no groups (scimd does not compute it), no
// entitlements (Entra does not support them), no certificates, and no
// "display" on emails and phone numbers (the Entra validator flags
// advertised attributes it cannot round-trip).
func userSchema() schema.Schema {
	drop := map[string]bool{"password": true, "groups": true, "entitlements": true, "x509certificates": true}
	s := schema.CoreUserSchema()
	var attrs []schema.CoreAttribute
	for _, a := range s.Attributes {
		switch n := strings.ToLower(a.Name()); {
		case drop[n]:
		case n == "emails" || n == "phonenumbers":
			attrs = append(attrs, typedValueList(a.Name(), a.Description()))
		default:
			attrs = append(attrs, a)
		}
	}
	s.Attributes = attrs
	return s
}

func typedValueList(name, description string) schema.CoreAttribute {
	return schema.ComplexCoreAttribute(schema.ComplexParams{
		Description: optional.NewString(description),
		MultiValued: true,
		Name:        name,
		SubAttributes: []schema.SimpleParams{
			schema.SimpleStringParams(schema.StringParams{Name: "value"}),
			schema.SimpleStringParams(schema.StringParams{Name: "type"}),
			schema.SimpleBooleanParams(schema.BooleanParams{Name: "primary"}),
		},
	})
}

var (
	userDef  = newResourceDef("User", "/Users", userSchema(), schema.ExtensionEnterpriseUser())
	groupDef = newResourceDef("Group", "/Groups", schema.CoreGroupSchema())
)
