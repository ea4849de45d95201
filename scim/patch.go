package scim

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/scimd/scimd/store"
)

// patchOp is one PATCH operation as sent, op lower-cased.
type patchOp struct {
	Op    string
	Path  string
	Value any
}

// parsePatchBody checks the PatchOp envelope.
func parsePatchBody(body []byte) ([]patchOp, *Error) {
	v, e := decodeJSON(body)
	if e != nil {
		return nil, e
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidSyntax("the body must be a PatchOp JSON object")
	}
	var schemas, rawOps any
	for k, v := range m {
		switch lower(k) {
		case "schemas":
			schemas = v
		case "operations":
			rawOps = v
		}
	}
	if !containsString(schemas, patchOpURN) {
		return nil, invalidValue("schemas must be [%q]", patchOpURN)
	}
	list, ok := rawOps.([]any)
	if !ok || len(list) == 0 {
		return nil, invalidValue("Operations must be a non-empty array of operations")
	}
	ops := make([]patchOp, 0, len(list))
	for i, raw := range list {
		om, ok := raw.(map[string]any)
		if !ok {
			return nil, invalidSyntax("Operations[%d] must be an object", i)
		}
		var op patchOp
		for k, v := range om {
			switch lower(k) {
			case "op":
				s, _ := v.(string)
				op.Op = lower(s)
			case "path":
				s, ok := v.(string)
				if !ok && v != nil {
					return nil, invalidPath("Operations[%d].path must be a string", i)
				}
				op.Path = strings.TrimSpace(s)
			case "value":
				op.Value = v
			}
		}
		switch op.Op {
		case "add", "replace", "remove":
		default:
			return nil, invalidValue("Operations[%d].op %q must be add, replace or remove", i, om["op"])
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func containsString(list any, want string) bool {
	l, _ := list.([]any)
	for _, s := range l {
		if str, ok := s.(string); ok && equalFold(str, want) {
			return true
		}
	}
	return false
}

// patcher applies operations in order to a copy of a resource document.
// It is pure: the store calls it inside the update transaction.
type patcher struct {
	def     *resourceDef
	doc     map[string]any
	members []store.MemberOp // groups only: membership changes in order
}

// applyPatch returns the patched document and, for groups, the member
// operations. One failing operation fails them all.
func applyPatch(def *resourceDef, doc map[string]any, ops []patchOp) (map[string]any, []store.MemberOp, *Error) {
	p := &patcher{def: def, doc: deepCopy(doc).(map[string]any)}
	for i, op := range ops {
		if e := p.apply(op); e != nil {
			e.Detail = "Operations[" + itoa(i) + "]: " + e.Detail
			return nil, nil, e
		}
	}
	for _, a := range def.attrs {
		if a.required && p.doc[a.name] == nil {
			return nil, nil, invalidValue("%s is required and cannot be removed or cleared", a.name)
		}
	}
	return p.doc, p.members, nil
}

func (p *patcher) apply(op patchOp) *Error {
	if op.Path != "" {
		return p.applyPath(op.Op, op.Path, op.Value, false)
	}
	if op.Op == "remove" {
		return errorf(http.StatusBadRequest, "noTarget", "remove needs a path")
	}
	m, ok := op.Value.(map[string]any)
	if !ok {
		return invalidValue("%s without a path needs an object value, got %s", op.Op, describe(op.Value))
	}
	// Path-less values: keys may be dotted ("name.givenName"), URN-prefixed,
	// or an extension's URN holding its attributes. Sorted for determinism.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch lower(k) {
		case "schemas", "id", "meta":
			continue
		}
		if e := p.applyPath(op.Op, k, m[k], true); e != nil {
			return e
		}
	}
	return nil
}

// applyPath applies one operation at path. lenient (path-less values)
// ignores attributes the schema does not define, as POST does.
func (p *patcher) applyPath(op, path string, value any, lenient bool) *Error {
	if urn, ok := p.def.extURNs[lower(path)]; ok {
		return p.applyExtension(op, urn, value, lenient)
	}
	pp, err := parsePatchPath(path)
	if err != nil {
		return invalidPath("path %q: %s", path, err)
	}
	a := p.def.attr(pp.attr.uri, pp.attr.name)
	if a == nil {
		if lenient {
			return nil
		}
		return invalidPath("path %q: %s has no attribute %q", path, p.def.name, pp.attr.String())
	}
	if a.readOnly {
		return errorf(http.StatusBadRequest, "mutability", "%s is read-only", a.name)
	}
	if p.def == groupDef && a.name == "members" {
		return p.applyMembers(op, pp, path, value)
	}
	if pp.filter != nil {
		return p.applyValuePath(op, a, pp, path, value)
	}
	if pp.attr.sub != "" {
		return p.applySub(op, a, pp.attr.sub, path, value)
	}
	return p.applyWhole(op, a, path, value)
}

func (p *patcher) applyExtension(op, urn string, value any, lenient bool) *Error {
	if op == "remove" {
		delete(p.doc, urn)
		return nil
	}
	m, ok := value.(map[string]any)
	if !ok {
		return invalidValue("%s must be an object holding the extension's attributes", urn)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if e := p.applyPath(op, urn+":"+k, m[k], lenient); e != nil {
			return e
		}
	}
	return nil
}

// applyWhole handles a path naming a whole attribute.
func (p *patcher) applyWhole(op string, a *attrDef, path string, value any) *Error {
	if op == "remove" {
		if a.multi && value != nil {
			return p.removeListed(a, path, value)
		}
		setAttr(p.doc, a, nil)
		return nil
	}
	val, e := coerce(a, value, path)
	if e != nil {
		return e
	}
	if op == "replace" || val == nil {
		setAttr(p.doc, a, val)
		return nil
	}
	// add merges into what is there.
	switch {
	case a.multi:
		list, _ := getAttr(p.doc, a).([]any)
		for _, el := range val.([]any) {
			list = upsertElement(a, list, el)
		}
		setAttr(p.doc, a, list)
		return checkMultiValued(a, list, path)
	case a.typ == "complex":
		cur, _ := getAttr(p.doc, a).(map[string]any)
		merged := map[string]any{}
		for k, v := range cur {
			merged[k] = v
		}
		for k, v := range val.(map[string]any) {
			merged[k] = v
		}
		setAttr(p.doc, a, merged)
	default:
		setAttr(p.doc, a, val)
	}
	return nil
}

// upsertElement adds el to list: an element with the same type (type-keyed
// attributes hold one element per type) or an equal element is replaced.
func upsertElement(a *attrDef, list []any, el any) []any {
	m, _ := el.(map[string]any)
	for i, cur := range list {
		cm, _ := cur.(map[string]any)
		if a.typeKeyed {
			if t, ok := m["type"].(string); ok {
				if ct, ok := cm["type"].(string); ok && equalFold(t, ct) {
					list[i] = el
					return list
				}
			}
		}
		if jsonEqual(cur, el) {
			return list
		}
	}
	return append(list, el)
}

// removeListed removes the listed elements of a multi-valued attribute,
// matched by "value" (Entra: {"op":"Remove","path":"members","value":[…]}).
func (p *patcher) removeListed(a *attrDef, path string, value any) *Error {
	rm, e := coerce(a, value, path)
	if e != nil {
		return e
	}
	list, _ := getAttr(p.doc, a).([]any)
	var kept []any
	for _, cur := range list {
		drop := false
		for _, r := range rm.([]any) {
			if elementValueEqual(a, cur, r) {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, cur)
		}
	}
	setAttr(p.doc, a, listOrNil(kept))
	return nil
}

func elementValueEqual(a *attrDef, x, y any) bool {
	xm, _ := x.(map[string]any)
	ym, _ := y.(map[string]any)
	if xm == nil || ym == nil {
		return jsonEqual(x, y)
	}
	xv, xok := xm["value"]
	yv, yok := ym["value"]
	if xok && yok {
		return valuesEqual(a.sub("value"), xv, yv)
	}
	return jsonEqual(x, y)
}

// applySub handles attr.sub on a complex attribute.
func (p *patcher) applySub(op string, a *attrDef, subName, path string, value any) *Error {
	if a.typ != "complex" {
		return invalidPath("path %q: %s has no sub-attributes", path, a.name)
	}
	sd := a.sub(subName)
	if sd == nil {
		return invalidPath("path %q: %s has no sub-attribute %q", path, a.name, subName)
	}
	if sd.readOnly {
		return errorf(http.StatusBadRequest, "mutability", "%s.%s is read-only", a.name, sd.name)
	}
	var val any
	if op != "remove" {
		var e *Error
		if val, e = coerceSingle(sd, value, a.name+"."+sd.name); e != nil {
			return e
		}
	}
	if a.multi {
		// attr.sub without a filter addresses every element.
		list, _ := getAttr(p.doc, a).([]any)
		for _, el := range list {
			setSub(el.(map[string]any), sd, val)
		}
		setAttr(p.doc, a, listOrNil(pruneElements(list)))
		return nil
	}
	cur, _ := getAttr(p.doc, a).(map[string]any)
	m := map[string]any{}
	for k, v := range cur {
		m[k] = v
	}
	setSub(m, sd, val)
	if len(m) == 0 || a.valueIsRef && m["value"] == nil {
		setAttr(p.doc, a, nil)
		return nil
	}
	setAttr(p.doc, a, m)
	return nil
}

func setSub(m map[string]any, sd *attrDef, val any) {
	if val == nil {
		delete(m, sd.name)
	} else {
		m[sd.name] = val
	}
}

// applyValuePath handles attr[filter] and attr[filter].sub. A filter that
// matches nothing creates the element on add and replace (Entra relies on
// it: phoneNumbers[type eq "mobile"].value).
func (p *patcher) applyValuePath(op string, a *attrDef, pp patchPath, path string, value any) *Error {
	if !a.multi || a.typ != "complex" {
		return invalidPath("path %q: %s is not multi-valued, so it takes no [filter]", path, a.name)
	}
	var sd *attrDef
	if pp.sub != "" {
		if sd = a.sub(pp.sub); sd == nil {
			return invalidPath("path %q: %s has no sub-attribute %q", path, a.name, pp.sub)
		}
	}
	list, _ := getAttr(p.doc, a).([]any)
	var matched []int
	for i, el := range list {
		ok, e := matchElement(a, pp.filter, el.(map[string]any))
		if e != nil {
			return invalidPath("path %q: %s", path, e.Detail)
		}
		if ok {
			matched = append(matched, i)
		}
	}
	display := a.name + "[" + strings.TrimSuffix(strings.SplitN(path, "[", 2)[1], "]")
	switch {
	case op == "remove" && sd == nil:
		var kept []any
		for i, el := range list {
			if !containsInt(matched, i) {
				kept = append(kept, el)
			}
		}
		list = kept
	case sd != nil:
		var val any
		if op != "remove" {
			var e *Error
			if val, e = coerceSingle(sd, value, display); e != nil {
				return e
			}
		}
		for _, i := range matched {
			setSub(list[i].(map[string]any), sd, val)
		}
		if len(matched) == 0 && val != nil {
			el := filterEqualities(a, pp.filter)
			el[sd.name] = val
			list = append(list, el)
		}
		list = pruneElements(list)
	default: // add or replace a whole element
		val, e := coerceSingle(a, value, display)
		if e != nil {
			return e
		}
		if val == nil {
			return p.applyValuePath("remove", a, pp, path, nil)
		}
		for _, i := range matched {
			el := list[i].(map[string]any)
			if op == "replace" {
				el = filterEqualities(a, pp.filter)
			}
			for k, v := range val.(map[string]any) {
				el[k] = v
			}
			list[i] = el
		}
		if len(matched) == 0 {
			el := filterEqualities(a, pp.filter)
			for k, v := range val.(map[string]any) {
				el[k] = v
			}
			list = append(list, el)
		}
	}
	setAttr(p.doc, a, listOrNil(list))
	return checkMultiValued(a, list, a.name)
}

// pruneElements drops elements left without a value (clearing
// phoneNumbers[type eq "work"].value removes the work phone).
func pruneElements(list []any) []any {
	var kept []any
	for _, el := range list {
		m, _ := el.(map[string]any)
		if m != nil && m["value"] == nil && (len(m) == 0 || onlyKeys(m, "type", "primary")) {
			continue
		}
		kept = append(kept, el)
	}
	return kept
}

func onlyKeys(m map[string]any, keys ...string) bool {
	for k := range m {
		found := false
		for _, want := range keys {
			if k == want {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// filterEqualities builds a new element from the "sub eq value" terms of
// an and-only filter: emails[type eq "work"] → {"type": "work"}.
func filterEqualities(a *attrDef, f expr) map[string]any {
	el := map[string]any{}
	var walk func(expr)
	walk = func(e expr) {
		switch e := e.(type) {
		case *logicalExpr:
			if e.op == "and" {
				walk(e.left)
				walk(e.right)
			}
		case *compareExpr:
			if sd := a.sub(e.path.name); sd != nil && e.op == "eq" && e.value != nil && e.path.sub == "" {
				el[sd.name] = e.value
			}
		}
	}
	walk(f)
	return el
}

// applyMembers turns member operations on a group into store member ops:
// members live in their own table and are never loaded for a PATCH.
func (p *patcher) applyMembers(op string, pp patchPath, path string, value any) *Error {
	if pp.attr.sub != "" || pp.sub != "" {
		return invalidPath("path %q: address members as \"members\" or members[value eq \"<id>\"]", path)
	}
	if pp.filter != nil {
		if op != "remove" {
			return invalidPath("path %q: members[...] can only be removed; add members with path \"members\"", path)
		}
		ids, ok := memberFilterIDs(pp.filter)
		if !ok {
			return invalidPath("path %q: members filters support value eq \"<id>\" (joined with or)", path)
		}
		p.members = append(p.members, store.MemberOp{Kind: store.MembersRemove, UserIDs: ids})
		return nil
	}
	var ids []string
	if value != nil {
		var e *Error
		if ids, e = memberIDs(value); e != nil {
			return e
		}
	}
	switch op {
	case "add":
		if len(ids) > 0 {
			p.members = append(p.members, store.MemberOp{Kind: store.MembersAdd, UserIDs: ids})
		}
	case "replace":
		p.members = append(p.members, store.MemberOp{Kind: store.MembersRemoveAll})
		if len(ids) > 0 {
			p.members = append(p.members, store.MemberOp{Kind: store.MembersAdd, UserIDs: ids})
		}
	case "remove":
		if value == nil {
			p.members = append(p.members, store.MemberOp{Kind: store.MembersRemoveAll})
		} else if len(ids) > 0 {
			// A value list removes only those members, never all.
			p.members = append(p.members, store.MemberOp{Kind: store.MembersRemove, UserIDs: ids})
		}
	}
	return nil
}

// memberIDs reads member ids from [{"value": id, "$ref": …}], a single
// such object, or bare ids.
func memberIDs(value any) ([]string, *Error) {
	list, ok := value.([]any)
	if !ok {
		list = []any{value}
	}
	ids := make([]string, 0, len(list))
	for i, el := range list {
		var id string
		switch x := el.(type) {
		case string:
			id = x
		case map[string]any:
			for k, v := range x {
				switch {
				case equalFold(k, "value"):
					id, _ = v.(string)
				case equalFold(k, "type"):
					if e := checkMemberType(i, v); e != nil {
						return nil, e
					}
				}
			}
		}
		if id == "" {
			return nil, invalidValue("members[%d] needs a \"value\" holding a user id", i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func memberFilterIDs(f expr) ([]string, bool) {
	switch e := f.(type) {
	case *compareExpr:
		s, ok := e.value.(string)
		if e.op != "eq" || !equalFold(e.path.name, "value") || e.path.uri != "" || e.path.sub != "" || !ok {
			return nil, false
		}
		return []string{s}, true
	case *logicalExpr:
		if e.op != "or" {
			return nil, false
		}
		l, ok := memberFilterIDs(e.left)
		if !ok {
			return nil, false
		}
		r, ok := memberFilterIDs(e.right)
		return append(l, r...), ok
	}
	return nil, false
}

// matchElement evaluates a value filter on one element in memory.
func matchElement(a *attrDef, f expr, el map[string]any) (bool, *Error) {
	switch e := f.(type) {
	case *logicalExpr:
		l, err := matchElement(a, e.left, el)
		if err != nil {
			return false, err
		}
		if e.op == "and" && !l || e.op == "or" && l {
			return l, nil
		}
		return matchElement(a, e.right, el)
	case *notExpr:
		x, err := matchElement(a, e.x, el)
		return !x, err
	case *compareExpr:
		sd := a.sub(e.path.name)
		if sd == nil || e.path.uri != "" || e.path.sub != "" {
			return false, invalidPath("%s has no sub-attribute %q", a.name, e.path.String())
		}
		return compareValue(sd, el[sd.name], e.op, e.value), nil
	}
	return false, invalidPath("unsupported value filter")
}

func compareValue(sd *attrDef, have any, op string, want any) bool {
	if op == "pr" {
		return have != nil && have != ""
	}
	switch h := have.(type) {
	case string:
		w, ok := want.(string)
		if !ok {
			return op == "ne"
		}
		if !sd.caseExact {
			h, w = lower(h), lower(w)
		}
		switch op {
		case "eq":
			return h == w
		case "ne":
			return h != w
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		case "gt":
			return h > w
		case "ge":
			return h >= w
		case "lt":
			return h < w
		case "le":
			return h <= w
		}
	case bool:
		w, ok := want.(bool)
		return (op == "eq" && ok && h == w) || (op == "ne" && (!ok || h != w))
	case nil:
		return op == "ne" && want != nil || op == "eq" && want == nil
	}
	return false
}

func valuesEqual(sd *attrDef, x, y any) bool {
	xs, xok := x.(string)
	ys, yok := y.(string)
	if xok && yok && sd != nil && !sd.caseExact {
		return equalFold(xs, ys)
	}
	return jsonEqual(x, y)
}

func jsonEqual(x, y any) bool {
	a, _ := json.Marshal(x)
	b, _ := json.Marshal(y)
	return string(a) == string(b)
}

func listOrNil(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = deepCopy(v)
		}
		return l
	}
	return v
}
