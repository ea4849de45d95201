package store

// Filter is a backend-neutral filter expression, compiled from a SCIM
// filter by the scim package after every attribute has been resolved
// against the schema. Backends translate it to parameterised queries; they
// never see attribute names that the schema does not define.
type Filter interface{ isFilter() }

// Op is a SCIM comparison operator.
type Op string

// The comparison operators of RFC 7644 §3.4.2.2.
const (
	Eq Op = "eq"
	Ne Op = "ne"
	Co Op = "co"
	Sw Op = "sw"
	Ew Op = "ew"
	Gt Op = "gt"
	Ge Op = "ge"
	Lt Op = "lt"
	Le Op = "le"
	Pr Op = "pr"
)

// Attr names a singular attribute of a resource, or, inside a ValuePath,
// a sub-attribute of the element (Name empty, Sub set).
//
// Well-known attributes map to backend columns: "id", "externalId",
// "userName", "displayName", "active", and "meta" with Sub "created" or
// "lastModified". Anything else lives in the resource's Doc.
type Attr struct {
	Schema string // extension URN; "" for the core schema
	Name   string // canonical attribute name, e.g. "name"
	Sub    string // canonical sub-attribute, e.g. "givenName"; may be ""
}

// Compare is "Attr Op Value".
type Compare struct {
	Attr Attr
	Op   Op
	// Value is a string, bool, float64, time.Time or nil (for "pr" and for
	// comparisons with null).
	Value any
	// CaseExact is the schema's caseExact for string comparisons.
	CaseExact bool
}

// ValuePath matches resources with at least one element of the
// multi-valued attribute Attr (Sub empty) satisfying Filter, whose
// Compare nodes address the element's sub-attributes (Attr.Name empty).
// On groups, Attr{Name: "members"} matches the member table.
type ValuePath struct {
	Attr   Attr
	Filter Filter
}

// And, Or and Not combine filters.
type (
	And struct{ Left, Right Filter }
	Or  struct{ Left, Right Filter }
	Not struct{ Filter Filter }
)

func (Compare) isFilter()   {}
func (ValuePath) isFilter() {}
func (And) isFilter()       {}
func (Or) isFilter()        {}
func (Not) isFilter()       {}

// Deref returns f with a pointer to a node replaced by the node (pointers
// satisfy Filter too), and nil for a nil pointer.
func Deref(f Filter) Filter {
	switch p := f.(type) {
	case *And:
		if p != nil {
			return *p
		}
	case *Or:
		if p != nil {
			return *p
		}
	case *Not:
		if p != nil {
			return *p
		}
	case *Compare:
		if p != nil {
			return *p
		}
	case *ValuePath:
		if p != nil {
			return *p
		}
	default:
		return f
	}
	return nil
}

// String is the attribute as a SCIM filter names it, e.g.
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".
func (a Attr) String() string {
	s := a.Name
	if a.Sub != "" {
		if s != "" {
			s += "."
		}
		s += a.Sub
	}
	if a.Schema != "" {
		s = a.Schema + ":" + s
	}
	return s
}
