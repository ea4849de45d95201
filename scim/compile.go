package scim

import (
	"fmt"
	"time"

	"github.com/scimd/scimd/store"
)

// compileFilter resolves a parsed filter against a resource's schema and
// turns it into the store's neutral form. Every attribute must exist in
// the schema and every operand must suit its type; failures are
// *filterError (400 invalidFilter) naming the offending part.
func compileFilter(def *resourceDef, e expr) (store.Filter, error) {
	return compileLogic(e, func(e expr) (store.Filter, error) {
		switch e := e.(type) {
		case *valuePathExpr:
			a, err := resolveFilterAttr(def, e.path)
			if err != nil {
				return nil, err
			}
			if !a.multi || a.typ != "complex" || e.path.sub != "" {
				return nil, filterErrorf("%s is not a multi-valued complex attribute, so it takes no [filter]", e.path)
			}
			inner, err := compileElementFilter(a, e.filter)
			if err != nil {
				return nil, err
			}
			return store.ValuePath{Attr: store.Attr{Schema: a.schemaURN, Name: a.name}, Filter: inner}, nil
		case *compareExpr:
			return compileCompare(def, e)
		}
		return nil, filterErrorf("unsupported filter expression")
	})
}

// compileLogic compiles and, or and not, and hands every other node to
// leaf.
func compileLogic(e expr, leaf func(expr) (store.Filter, error)) (store.Filter, error) {
	switch e := e.(type) {
	case *logicalExpr:
		l, err := compileLogic(e.left, leaf)
		if err != nil {
			return nil, err
		}
		r, err := compileLogic(e.right, leaf)
		if err != nil {
			return nil, err
		}
		if e.op == "and" {
			return store.And{Left: l, Right: r}, nil
		}
		return store.Or{Left: l, Right: r}, nil
	case *notExpr:
		x, err := compileLogic(e.x, leaf)
		if err != nil {
			return nil, err
		}
		return store.Not{Filter: x}, nil
	}
	return leaf(e)
}

func compileCompare(def *resourceDef, e *compareExpr) (store.Filter, error) {
	switch {
	case e.path.uri == "" && e.path.name == "id" && e.path.sub == "":
		return compileLeaf(store.Attr{Name: "id"}, &attrDef{name: "id", typ: "string", caseExact: true}, e)
	case e.path.uri == "" && equalFold(e.path.name, "meta"):
		switch {
		case equalFold(e.path.sub, "created"):
			return compileLeaf(store.Attr{Name: "meta", Sub: "created"}, &attrDef{name: "created", typ: "dateTime"}, e)
		case equalFold(e.path.sub, "lastModified"):
			return compileLeaf(store.Attr{Name: "meta", Sub: "lastModified"}, &attrDef{name: "lastModified", typ: "dateTime"}, e)
		}
		return nil, filterErrorf("unsupported attribute %q: meta.created and meta.lastModified can be filtered", e.path)
	}
	a, err := resolveFilterAttr(def, e.path)
	if err != nil {
		return nil, err
	}
	attr := store.Attr{Schema: a.schemaURN, Name: a.name}
	switch {
	case a.typ == "complex":
		subName := e.path.sub
		if subName == "" {
			subName = "value" // "manager eq x", "emails co y", "members eq id"
		}
		sd := a.sub(subName)
		if sd == nil {
			return nil, filterErrorf("%s has no sub-attribute %q", a.name, subName)
		}
		if a.multi {
			leaf, err := compileLeaf(store.Attr{Sub: sd.name}, sd, e)
			if err != nil {
				return nil, err
			}
			return store.ValuePath{Attr: attr, Filter: leaf}, nil
		}
		attr.Sub = sd.name
		return compileLeaf(attr, sd, e)
	case e.path.sub != "":
		return nil, filterErrorf("%s has no sub-attributes", a.name)
	case a.multi:
		return nil, filterErrorf("%s is multi-valued and cannot be compared", a.name)
	}
	return compileLeaf(attr, a, e)
}

// compileElementFilter compiles the filter inside attr[...], whose paths
// name sub-attributes of the element.
func compileElementFilter(parent *attrDef, e expr) (store.Filter, error) {
	return compileLogic(e, func(e expr) (store.Filter, error) {
		c, ok := e.(*compareExpr)
		if !ok {
			return nil, filterErrorf("value filters cannot be nested inside %s[...]", parent.name)
		}
		if c.path.uri != "" || c.path.sub != "" {
			return nil, filterErrorf("%q inside %s[...] must be a sub-attribute name", c.path, parent.name)
		}
		sd := parent.sub(c.path.name)
		if sd == nil {
			return nil, filterErrorf("%s has no sub-attribute %q", parent.name, c.path.name)
		}
		return compileLeaf(store.Attr{Sub: sd.name}, sd, c)
	})
}

func resolveFilterAttr(def *resourceDef, p pathExpr) (*attrDef, error) {
	a := def.attr(p.uri, p.name)
	if a == nil {
		if p.uri != "" && !equalFold(p.uri, def.core.ID) && def.extURNs[lower(p.uri)] == "" {
			return nil, filterErrorf("unknown schema %q", p.uri)
		}
		return nil, filterErrorf("unknown attribute %q for %s", p.String(), def.name)
	}
	return a, nil
}

func compileLeaf(attr store.Attr, def *attrDef, e *compareExpr) (store.Filter, error) {
	name := e.path.String()
	if e.op == "pr" {
		return store.Compare{Attr: attr, Op: store.Pr}, nil
	}
	if e.value == nil {
		// RFC 7644 allows null operands: "eq null" is "not present".
		switch e.op {
		case "eq":
			return store.Not{Filter: store.Compare{Attr: attr, Op: store.Pr}}, nil
		case "ne":
			return store.Compare{Attr: attr, Op: store.Pr}, nil
		}
		return nil, filterErrorf("%s %s null: only eq and ne compare with null", name, e.op)
	}
	op := store.Op(e.op)
	cmp := store.Compare{Attr: attr, Op: op, Value: e.value, CaseExact: def.caseExact}
	switch def.typ {
	case "string", "reference", "binary":
		if _, ok := e.value.(string); !ok {
			return nil, filterErrorf("%s is a string; compare it with a quoted string", name)
		}
	case "boolean":
		if _, ok := e.value.(bool); !ok {
			return nil, filterErrorf("%s is a boolean; compare it with true or false", name)
		}
		if op != store.Eq && op != store.Ne {
			return nil, filterErrorf("%s is a boolean; only eq, ne and pr apply", name)
		}
	case "integer", "decimal":
		if _, ok := e.value.(float64); !ok {
			return nil, filterErrorf("%s is a number; compare it with a number", name)
		}
		if op == store.Co || op == store.Sw || op == store.Ew {
			return nil, filterErrorf("%s is a number; co, sw and ew do not apply", name)
		}
	case "dateTime":
		s, ok := e.value.(string)
		if !ok {
			return nil, filterErrorf("%s is a dateTime; compare it with a quoted RFC 3339 time", name)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, filterErrorf("%s: %q is not an RFC 3339 time such as \"2026-01-02T15:04:05Z\"", name, s)
		}
		if op == store.Co || op == store.Sw || op == store.Ew {
			return nil, filterErrorf("%s is a dateTime; co, sw and ew do not apply", name)
		}
		cmp.Value = t.UTC()
	default:
		return nil, filterErrorf("%s cannot be filtered", name)
	}
	return cmp, nil
}

func filterErrorf(format string, args ...any) error {
	return &filterError{msg: fmt.Sprintf(format, args...)}
}
