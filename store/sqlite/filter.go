package sqlite

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/store"
)

// The filter compiler turns a store.Filter into an SQL boolean expression
// over one row of a resource table. Every operand and every JSON path is a
// bind argument: the SQL text is built only from this file's constants and
// the column names below, so no client text can reach the parser. The
// fuzz test checks exactly that.

// colKind is how a well-known attribute's column compares.
type colKind int

const (
	colString colKind = iota + 1
	colBool
	colTime
)

type column struct {
	name string // qualified, e.g. "users.user_name"
	kind colKind
}

// table describes a resource table to the compiler.
type table struct {
	name string
	// columns holds the core attributes with a column of their own, keyed
	// "name" or "name.sub"; every other attribute is read from doc.
	columns map[string]column
	// members: the "members" attribute is the group_members table.
	members bool
	// unique names the attributes whose column holds a value at most once
	// per directory, behind an index.
	unique map[string]bool
}

// pointFilter reports whether f is an equality on a unique attribute,
// such as Entra's userName eq probe: a read of one row at most, by index.
func (t *table) pointFilter(f store.Filter) bool {
	c, ok := f.(store.Compare)
	if !ok || c.Op != store.Eq || c.Attr.Schema != "" || c.Attr.Sub != "" || !t.unique[c.Attr.Name] {
		return false
	}
	_, isString := c.Value.(string)
	return isString
}

var (
	usersTable = &table{name: "users", columns: map[string]column{
		"id":                {"users.id", colString},
		"externalId":        {"users.external_id", colString},
		"userName":          {"users.user_name", colString},
		"displayName":       {"users.display_name", colString},
		"active":            {"users.active", colBool},
		"meta.created":      {"users.created", colTime},
		"meta.lastModified": {"users.last_modified", colTime},
	}, unique: map[string]bool{"id": true, "userName": true}}
	groupsTable = &table{name: "groups", members: true, columns: map[string]column{
		"id":                {"groups.id", colString},
		"externalId":        {"groups.external_id", colString},
		"displayName":       {"groups.display_name", colString},
		"meta.created":      {"groups.created", colTime},
		"meta.lastModified": {"groups.last_modified", colTime},
	}, unique: map[string]bool{"id": true}}
)

// Limits that keep a compiled filter within SQLite's: expression depth
// (1000), bound parameters (32766) and LIKE pattern length (50000 bytes).
const (
	maxDepth       = 200
	maxArgs        = 10000
	maxLikePattern = 50000
)

// compileFilter returns the SQL for f over a row of t and its arguments;
// "" for a nil filter.
func compileFilter(t *table, f store.Filter) (string, []any, error) {
	if f == nil {
		return "", nil, nil
	}
	c := &compiler{t: t}
	if err := c.filter(f, top); err != nil {
		return "", nil, fmt.Errorf("%w: %w", store.ErrInvalidFilter, err)
	}
	if len(c.args) > maxArgs {
		return "", nil, fmt.Errorf("%w: too many terms", store.ErrInvalidFilter)
	}
	return c.sql.String(), c.args, nil
}

// scope is what a Compare's attribute is relative to.
type scope int

const (
	top        scope = iota // the resource row
	docElem                 // e: a json_each row of a multi-valued doc attribute
	memberElem              // m: a group_members row
)

type compiler struct {
	t     *table
	sql   strings.Builder
	args  []any
	depth int
}

func (c *compiler) w(s string)          { c.sql.WriteString(s) }
func (c *compiler) arg(s string, v any) { c.w(s); c.args = append(c.args, v) }

func (c *compiler) filter(f store.Filter, in scope) error {
	if c.depth++; c.depth > maxDepth {
		return errors.New("filter is nested too deeply")
	}
	defer func() { c.depth-- }()

	switch f := store.Deref(f).(type) {
	case store.And:
		return c.binary(f.Left, " AND ", f.Right, in)
	case store.Or:
		return c.binary(f.Left, " OR ", f.Right, in)
	case store.Not:
		// IFNULL: SQL's NULL (an absent attribute) must negate to true.
		c.w("NOT IFNULL((")
		if err := c.filter(f.Filter, in); err != nil {
			return err
		}
		c.w("), 0)")
		return nil
	case store.Compare:
		return c.compare(f, in)
	case store.ValuePath:
		return c.valuePath(f, in)
	case nil:
		return errors.New("empty filter")
	default:
		return fmt.Errorf("unsupported filter node %T", f)
	}
}

func (c *compiler) binary(l store.Filter, op string, r store.Filter, in scope) error {
	c.w("(")
	if err := c.filter(l, in); err != nil {
		return err
	}
	c.w(")" + op + "(")
	if err := c.filter(r, in); err != nil {
		return err
	}
	c.w(")")
	return nil
}

// memberDisplay is a member's display: its user's displayName.
const memberDisplay = "(SELECT u.display_name FROM users u WHERE u.directory_id = m.directory_id AND u.id = m.user_id)"

// membersFrom opens the subquery over the current group's member rows.
func (c *compiler) membersFrom() string {
	return "EXISTS (SELECT 1 FROM group_members m WHERE m.directory_id = " + c.t.name +
		".directory_id AND m.group_id = " + c.t.name + ".id"
}

func (c *compiler) isMembers(a store.Attr) bool {
	return c.t.members && a.Schema == "" && a.Name == "members"
}

// valuePath compiles attr[filter]: some element of a multi-valued
// attribute satisfies filter.
func (c *compiler) valuePath(vp store.ValuePath, in scope) error {
	a := vp.Attr
	switch {
	case in != top:
		return errors.New("value filters cannot nest")
	case a.Name == "" || a.Sub != "":
		return fmt.Errorf("value filter on %q: want a multi-valued attribute", a.String())
	case vp.Filter == nil:
		return errors.New("empty value filter")
	case c.isMembers(a):
		c.w(c.membersFrom() + " AND (")
		if err := c.filter(vp.Filter, memberElem); err != nil {
			return err
		}
		c.w("))")
		return nil
	}
	if _, ok := c.t.columns[a.Name]; ok && a.Schema == "" {
		return fmt.Errorf("%s is not multi-valued", a.Name)
	}
	path, err := jsonPath(a.Schema, a.Name)
	if err != nil {
		return err
	}
	c.arg("EXISTS (SELECT 1 FROM json_each("+c.t.name+".doc, ?) e WHERE ", path)
	if err := c.filter(vp.Filter, docElem); err != nil {
		return err
	}
	c.w(")")
	return nil
}

// target is what a comparison reads: a column, a JSON value (with its JSON
// type, NULL when absent) or a group's member ids.
type target struct {
	col     *column
	value   string // JSON: SQL for the value, one "?" per arg
	jsonTyp string // JSON: SQL for the JSON type, one "?" per arg
	args    []any  // JSON: bound each time value or jsonTyp is written
	members bool
}

func (c *compiler) target(a store.Attr, in scope) (target, error) {
	switch in {
	case memberElem:
		if a.Name != "" || a.Schema != "" {
			return target{}, fmt.Errorf("value filter term %q: want a sub-attribute", a.String())
		}
		switch a.Sub {
		case "", "value":
			return target{col: &column{"m.user_id", colString}}, nil
		case "display":
			return target{col: &column{memberDisplay, colString}}, nil
		case "type": // members are always users; typeof(?) is 'text' like json_type
			return target{value: "?", jsonTyp: "typeof(?)", args: []any{"User"}}, nil
		}
		return target{}, fmt.Errorf("members.%s is not filterable", a.Sub)
	case docElem:
		if a.Name != "" || a.Schema != "" {
			return target{}, fmt.Errorf("value filter term %q: want a sub-attribute", a.String())
		}
		if a.Sub == "" { // an element of a multi-valued simple attribute
			return target{value: "e.value", jsonTyp: "e.type"}, nil
		}
		path, err := jsonPath(a.Sub)
		if err != nil {
			return target{}, err
		}
		// The guard keeps a stray scalar element from reaching
		// json_extract, which would fail the whole query on it.
		return target{
			value:   "CASE WHEN e.type = 'object' THEN json_extract(e.value, ?) END",
			jsonTyp: "CASE WHEN e.type = 'object' THEN json_type(e.value, ?) END",
			args:    []any{path},
		}, nil
	}
	if a.Name == "" {
		return target{}, errors.New("attribute name missing")
	}
	if c.isMembers(a) {
		if a.Sub != "" && a.Sub != "value" {
			return target{}, fmt.Errorf("%s is not filterable", a.String())
		}
		return target{members: true}, nil
	}
	if a.Schema == "" {
		key := a.Name
		if a.Sub != "" {
			key += "." + a.Sub
		}
		if col, ok := c.t.columns[key]; ok {
			return target{col: &col}, nil
		}
	}
	path, err := jsonPath(a.Schema, a.Name, a.Sub)
	if err != nil {
		return target{}, err
	}
	doc := c.t.name + ".doc"
	return target{
		value:   "json_extract(" + doc + ", ?)",
		jsonTyp: "json_type(" + doc + ", ?)",
		args:    []any{path},
	}, nil
}

// val and typ write a JSON target's value and type expressions.
func (c *compiler) val(tg target) { c.w(tg.value); c.args = append(c.args, tg.args...) }
func (c *compiler) typ(tg target) { c.w(tg.jsonTyp); c.args = append(c.args, tg.args...) }

func (c *compiler) compare(cmp store.Compare, in scope) error {
	tg, err := c.target(cmp.Attr, in)
	if err != nil {
		return err
	}
	switch {
	case cmp.Op == store.Pr:
		c.present(tg)
	case cmp.Value == nil && cmp.Op == store.Eq: // "eq null": absent
		c.w("NOT ")
		c.present(tg)
	case cmp.Value == nil && cmp.Op == store.Ne:
		c.present(tg)
	case cmp.Value == nil:
		return fmt.Errorf("%s %s needs a value", cmp.Attr.String(), cmp.Op)
	case cmp.Op == store.Ne: // absent or not equal
		cmp.Op = store.Eq
		c.w("NOT IFNULL((")
		if err := c.compareValue(tg, cmp); err != nil {
			return err
		}
		c.w("), 0)")
	default:
		return c.compareValue(tg, cmp)
	}
	return nil
}

// present writes "has a value": a non-empty string, array or object, or
// any other non-null value. It never yields NULL.
func (c *compiler) present(tg target) {
	switch {
	case tg.members:
		c.w(c.membersFrom() + ")")
	case tg.col != nil && tg.col.kind == colString:
		c.w("(" + tg.col.name + " <> '')")
	case tg.col != nil:
		c.w("(" + tg.col.name + " IS NOT NULL)")
	default:
		c.w("(CASE IFNULL(")
		c.typ(tg)
		c.w(", 'null') WHEN 'null' THEN 0 WHEN 'text' THEN ")
		c.val(tg)
		c.w(" <> '' WHEN 'array' THEN json_array_length(")
		c.val(tg)
		c.w(") > 0 WHEN 'object' THEN ")
		c.val(tg)
		c.w(" <> '{}' ELSE 1 END)")
	}
}

var sqlOps = map[store.Op]string{store.Eq: " = ", store.Gt: " > ", store.Ge: " >= ", store.Lt: " < ", store.Le: " <= "}

// compareValue writes "target op value" for every operator but pr and ne.
func (c *compiler) compareValue(tg target, cmp store.Compare) error {
	switch cmp.Op {
	case store.Eq, store.Gt, store.Ge, store.Lt, store.Le, store.Co, store.Sw, store.Ew:
	default:
		return fmt.Errorf("unknown operator %q", cmp.Op)
	}
	if tg.members {
		c.w(c.membersFrom() + " AND ")
		if err := c.compareValue(target{col: &column{"m.user_id", colString}}, cmp); err != nil {
			return err
		}
		c.w(")")
		return nil
	}
	if tg.col != nil {
		return c.compareColumn(*tg.col, cmp)
	}
	return c.compareJSON(tg, cmp)
}

func (c *compiler) compareColumn(col column, cmp store.Compare) error {
	name := cmp.Attr.String()
	switch col.kind {
	case colString:
		s, ok := cmp.Value.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", name, cmp.Value)
		}
		return c.compareString(func() { c.w(col.name) }, cmp.Op, s, cmp.CaseExact)
	case colBool:
		b, ok := cmp.Value.(bool)
		if !ok || cmp.Op != store.Eq {
			return fmt.Errorf("%s: only eq/ne with true or false apply", name)
		}
		c.arg(col.name+" = ?", boolInt(b))
		return nil
	default: // colTime
		t, err := timeOperand(cmp.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		op, ok := sqlOps[cmp.Op]
		if !ok {
			return fmt.Errorf("%s: %s does not apply to a dateTime", name, cmp.Op)
		}
		// Fixed-width UTC text compares in time order.
		c.arg(col.name+op+"?", formatTime(t))
		return nil
	}
}

// compareJSON compares a doc value. Each branch first checks the JSON
// type, so that e.g. a number never compares with a string operand.
func (c *compiler) compareJSON(tg target, cmp store.Compare) error {
	name := cmp.Attr.String()
	switch v := cmp.Value.(type) {
	case string:
		c.w("(")
		c.typ(tg)
		c.w(" = 'text' AND ")
		if err := c.compareString(func() { c.val(tg) }, cmp.Op, v, cmp.CaseExact); err != nil {
			return err
		}
		c.w(")")
	case bool:
		if cmp.Op != store.Eq {
			return fmt.Errorf("%s: only eq/ne apply to a boolean", name)
		}
		c.typ(tg) // json_type says 'true' or 'false'
		c.arg(" = ?", strconv.FormatBool(v))
	case float64:
		op, ok := sqlOps[cmp.Op]
		if !ok {
			return fmt.Errorf("%s: %s does not apply to a number", name, cmp.Op)
		}
		c.w("(")
		c.typ(tg)
		c.w(" IN ('integer', 'real') AND ")
		c.val(tg)
		c.arg(op+"?)", v)
	case time.Time:
		op, ok := sqlOps[cmp.Op]
		if !ok {
			return fmt.Errorf("%s: %s does not apply to a dateTime", name, cmp.Op)
		}
		// Stored dateTimes keep the client's offset and precision, so
		// compare instants rather than text.
		c.w("(")
		c.typ(tg)
		c.w(" = 'text' AND julianday(")
		c.val(tg)
		c.arg(")"+op+"julianday(?))", formatTime(v))
	default:
		return fmt.Errorf("%s: unsupported operand type %T", name, cmp.Value)
	}
	return nil
}

// compareString writes a string comparison of the value written by v.
// Case-insensitive comparisons use NOCASE and LIKE, which fold ASCII only.
func (c *compiler) compareString(v func(), op store.Op, s string, caseExact bool) error {
	if sqlOp, ok := sqlOps[op]; ok {
		v()
		if caseExact {
			c.arg(sqlOp+"?", s)
		} else {
			c.arg(sqlOp+"? COLLATE NOCASE", s)
		}
		return nil
	}
	if s == "" { // every string contains, starts and ends with ""
		c.w("1")
		return nil
	}
	if !caseExact && len(s) < maxLikePattern/2 { // escaping at most doubles it
		c.w("(")
		v()
		c.arg(" LIKE ? ESCAPE '\\')", likePattern(op, s))
		return nil
	}
	// Case-exact (or too long a pattern for LIKE): match by position.
	lower := func(f func()) func() {
		if caseExact {
			return f
		}
		return func() { c.w("lower("); f(); c.w(")") }
	}
	lv, lp := lower(v), lower(func() { c.arg("?", s) })
	switch op {
	case store.Co:
		c.w("(instr(")
		lv()
		c.w(", ")
		lp()
		c.w(") > 0)")
	case store.Sw:
		c.w("(substr(")
		lv()
		c.arg(", 1, length(?)) = ", s)
		lp()
		c.w(")")
	case store.Ew:
		c.w("(substr(")
		lv()
		c.arg(", -length(?)) = ", s)
		lp()
		c.w(")")
	}
	return nil
}

// likePattern escapes LIKE's wildcards in s and adds those op needs.
func likePattern(op store.Op, s string) string {
	s = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
	switch op {
	case store.Sw:
		return s + "%"
	case store.Ew:
		return "%" + s
	}
	return "%" + s + "%"
}

func timeOperand(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v, nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, errors.New("want an RFC 3339 dateTime")
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want a dateTime, got %T", v)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// jsonPath returns the SQLite JSON path of the given keys, each quoted so
// that URNs (with ':' and '.') stay one key. Keys that SQLite's quoting
// cannot carry are refused: the schema never defines such names.
func jsonPath(keys ...string) (string, error) {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		if k == "" {
			continue
		}
		if strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' }) {
			return "", fmt.Errorf("attribute %q cannot be filtered", k)
		}
		b.WriteString(`."` + k + `"`)
	}
	return b.String(), nil
}
