package postgres

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scimd/scimd/store"
)

// The filter compiler turns a store.Filter into a PostgreSQL boolean
// expression over one row of a resource table. Every operand and every
// JSON key is a bind parameter: the SQL text is built only from this
// file's constants and the column names below, so no client text can
// reach the parser. The fuzz test checks exactly that.
//
// The semantics are SQLite's (store/sqlite/filter.go): case-insensitive
// comparisons fold ASCII only, as NOCASE and LIKE do there; a doc value
// compares only with an operand of its own JSON type; absent attributes
// are not equal to anything.

// colKind is how a well-known attribute's column compares.
type colKind int

const (
	colString colKind = iota + 1
	colBool
	colTime
)

type column struct {
	name string // qualified, e.g. "users.user_name"
	// folded is the value with ASCII letters lower-cased, for
	// case-insensitive comparisons: an indexed expression where there is
	// one.
	folded string
	kind   colKind
}

func stringColumn(name string) column { return column{name, foldSQL(name), colString} }

// foldSQL lower-cases the ASCII letters of the text s, like asciiLower.
func foldSQL(s string) string {
	return "translate(" + s + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
}

// asciiLower lower-cases ASCII letters byte by byte, leaving any other
// byte (even of invalid UTF-8) as it is.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
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
	// per directory, behind a unique index.
	unique map[string]bool
}

// pointFilter reports whether f is an equality on a unique attribute,
// such as Entra's userName eq probe: a read of one row at most, through
// its unique index whatever the table's size.
func (t *table) pointFilter(f store.Filter) bool {
	c, ok := store.Deref(f).(store.Compare)
	if !ok || c.Op != store.Eq || c.Attr.Schema != "" || c.Attr.Sub != "" || !t.unique[c.Attr.Name] {
		return false
	}
	_, isString := c.Value.(string)
	return isString
}

// Entra's probes are index lookups (TestFilterIndexes): userName and
// displayName eq, case-insensitive, read the folded expressions that
// users_user_name, users_display_name and groups_display_name index;
// externalId is caseExact, so its eq reads users_external_id and
// groups_external_id.
var (
	usersTable = &table{name: "users", columns: map[string]column{
		"id":                stringColumn("users.id"),
		"externalId":        stringColumn("users.external_id"),
		"userName":          {"users.user_name", "users.user_name_key", colString},
		"displayName":       stringColumn("users.display_name"),
		"active":            {name: "users.active", kind: colBool},
		"meta.created":      {name: "users.created", kind: colTime},
		"meta.lastModified": {name: "users.last_modified", kind: colTime},
	}, unique: map[string]bool{"id": true, "userName": true}}
	groupsTable = &table{name: "groups", members: true, columns: map[string]column{
		"id":                stringColumn("groups.id"),
		"externalId":        stringColumn("groups.external_id"),
		"displayName":       {"groups.display_name", "groups.display_name_key", colString},
		"meta.created":      {name: "groups.created", kind: colTime},
		"meta.lastModified": {name: "groups.last_modified", kind: colTime},
	}, unique: map[string]bool{"id": true, "displayName": true}}
)

// docJSON is a row's document as jsonb, which a query that reads doc
// attributes joins (docJoin): parsed once per row however often the
// filter reads it.
const docJSON = "j.doc_json"

func (t *table) docJoin() string {
	return " CROSS JOIN LATERAL scim_doc(" + t.name + ".doc) AS j(doc_json)"
}

// Limits, SQLite's backend's, so that both take the same filters:
// expression depth and bound parameters.
const (
	maxDepth = 200
	maxArgs  = 10000
)

// compiled is a filter as SQL.
type compiled struct {
	where string // "" for no filter
	args  []any  // bound to $first+1...
	doc   bool   // where reads docJSON: the query must join docJoin
}

// compileFilter returns the SQL for f over a row of t. Its parameters
// are numbered from $first+1: the query binds $1...$first itself.
func compileFilter(t *table, f store.Filter, first int) (compiled, error) {
	if f == nil {
		return compiled{}, nil
	}
	c := &compiler{t: t, first: first}
	if err := c.filter(f, top); err != nil {
		return compiled{}, fmt.Errorf("%w: %w", store.ErrInvalidFilter, err)
	}
	if len(c.args) > maxArgs {
		return compiled{}, fmt.Errorf("%w: too many terms", store.ErrInvalidFilter)
	}
	return compiled{where: c.sql.String(), args: c.args, doc: c.doc}, nil
}

// scope is what a Compare's attribute is relative to.
type scope int

const (
	top        scope = iota // the resource row
	docElem                 // e: an element of a multi-valued doc attribute
	memberElem              // m: a group_members row
)

type compiler struct {
	t     *table
	sql   strings.Builder
	args  []any
	first int
	depth int
	doc   bool
}

func (c *compiler) w(s ...string) {
	for _, s := range s {
		c.sql.WriteString(s)
	}
}

// param binds v and returns its placeholder, which may be written more
// than once, cast to typ so that its type never depends on where it is
// used.
func (c *compiler) param(v any, typ string) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(c.first+len(c.args)) + "::" + typ
}

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
		// coalesce: SQL's NULL (an absent attribute) must negate to true.
		c.w("NOT coalesce((")
		if err := c.filter(f.Filter, in); err != nil {
			return err
		}
		c.w("), false)")
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
	c.w(")", op, "(")
	if err := c.filter(r, in); err != nil {
		return err
	}
	c.w(")")
	return nil
}

// memberDisplay is a member's display: its user's displayName.
const memberDisplay = "(SELECT u.display_name FROM users u WHERE u.directory_id = m.directory_id AND u.id = m.user_id)"

var (
	memberValue      = stringColumn("m.user_id")
	memberDisplayCol = stringColumn(memberDisplay)
)

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
		c.w(c.membersFrom(), " AND (")
		if err := c.filter(vp.Filter, memberElem); err != nil {
			return err
		}
		c.w("))")
		return nil
	}
	if _, ok := c.t.columns[a.Name]; ok && a.Schema == "" {
		return fmt.Errorf("%s is not multi-valued", a.Name)
	}
	v, err := c.docValue(a.Schema, a.Name)
	if err != nil {
		return err
	}
	// The elements are what SQLite's json_each walks: an array's
	// elements, an object's member values, or a single value itself.
	c.w("EXISTS (SELECT 1 FROM jsonb_path_query(", v, ", CASE jsonb_typeof(", v,
		") WHEN 'object' THEN jsonpath '$.*' ELSE jsonpath '$[*]' END) AS e(value) WHERE ")
	if err := c.filter(vp.Filter, docElem); err != nil {
		return err
	}
	c.w(")")
	return nil
}

// target is what a comparison reads: a column, a jsonb value (NULL when
// absent) or a group's member ids.
type target struct {
	col     *column
	json    string // SQL; its parameters are bound once, however often it is written
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
			return target{col: &memberValue}, nil
		case "display":
			return target{col: &memberDisplayCol}, nil
		case "type": // members are always users
			return target{json: `jsonb '"User"'`}, nil
		}
		return target{}, fmt.Errorf("members.%s is not filterable", a.Sub)
	case docElem:
		if a.Name != "" || a.Schema != "" {
			return target{}, fmt.Errorf("value filter term %q: want a sub-attribute", a.String())
		}
		if a.Sub == "" { // an element of a multi-valued simple attribute
			return target{json: "e.value"}, nil
		}
		if err := checkKey(a.Sub); err != nil {
			return target{}, err
		}
		// -> with a key is NULL on anything but an object.
		return target{json: "(e.value -> " + c.param(a.Sub, "text") + ")"}, nil
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
	v, err := c.docValue(a.Schema, a.Name, a.Sub)
	return target{json: v}, err
}

// docValue returns the jsonb value at the given keys of the document
// (empty keys skipped), NULL if absent. Each step is an object member,
// never an array index, as in SQLite's $."key" paths.
func (c *compiler) docValue(keys ...string) (string, error) {
	v := docJSON
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := checkKey(k); err != nil {
			return "", err
		}
		v += " -> " + c.param(k, "text")
	}
	c.doc = true
	return "(" + v + ")", nil
}

// checkKey refuses the keys that SQLite's JSON paths cannot carry, so
// that both backends take the same filters; the schema never defines
// such names.
func checkKey(k string) error {
	if !utf8.ValidString(k) || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' }) {
		return fmt.Errorf("attribute %q cannot be filtered", k)
	}
	return nil
}

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
		c.w("NOT coalesce((")
		if err := c.compareValue(tg, cmp); err != nil {
			return err
		}
		c.w("), false)")
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
		c.w(c.membersFrom(), ")")
	case tg.col != nil && tg.col.kind == colString:
		c.w("(", tg.col.name, " <> '')")
	case tg.col != nil:
		c.w("(", tg.col.name, " IS NOT NULL)")
	default:
		c.w("(", tg.json, ` NOT IN ('null', '""', '[]', '{}')) IS TRUE`)
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
		c.w(c.membersFrom(), " AND ")
		if err := c.compareValue(target{col: &memberValue}, cmp); err != nil {
			return err
		}
		c.w(")")
		return nil
	}
	if tg.col != nil {
		return c.compareColumn(*tg.col, cmp)
	}
	return c.compareJSON(tg.json, cmp)
}

func (c *compiler) compareColumn(col column, cmp store.Compare) error {
	name := cmp.Attr.String()
	switch col.kind {
	case colString:
		s, ok := cmp.Value.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", name, cmp.Value)
		}
		c.compareString(col.name, col.folded, cmp.Op, s, cmp.CaseExact)
		return nil
	case colBool:
		b, ok := cmp.Value.(bool)
		if !ok || cmp.Op != store.Eq {
			return fmt.Errorf("%s: only eq/ne with true or false apply", name)
		}
		c.w("(", col.name, " = ", c.param(b, "boolean"), ")")
		return nil
	default: // colTime
		t, err := timeOperand(cmp.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, ok := sqlOps[cmp.Op]; !ok {
			return fmt.Errorf("%s: %s does not apply to a dateTime", name, cmp.Op)
		}
		c.compareTime(col.name, cmp.Op, t)
		return nil
	}
}

// compareJSON compares the jsonb value v. Each branch first checks the
// JSON type, so that e.g. a number never compares with a string operand;
// a CASE guards the cast that only a number survives, since PostgreSQL
// may evaluate the operands of AND in any order.
func (c *compiler) compareJSON(v string, cmp store.Compare) error {
	name := cmp.Attr.String()
	switch x := cmp.Value.(type) {
	case string:
		// The doc's text compares byte by byte, like the C columns.
		text := `((` + v + ` #>> '{}') COLLATE "C")`
		c.w("(jsonb_typeof(", v, ") = 'string' AND ")
		c.compareString(text, foldSQL(text), cmp.Op, x, cmp.CaseExact)
		c.w(")")
	case bool:
		if cmp.Op != store.Eq {
			return fmt.Errorf("%s: only eq/ne apply to a boolean", name)
		}
		c.w("(", v, " = to_jsonb(", c.param(x, "boolean"), "))")
	case float64:
		op, ok := sqlOps[cmp.Op]
		if !ok {
			return fmt.Errorf("%s: %s does not apply to a number", name, cmp.Op)
		}
		if math.IsNaN(x) { // SQLite binds NaN as NULL: nothing compares
			c.w("(jsonb_typeof(", v, ") = 'number' AND FALSE)")
			return nil
		}
		c.w("(CASE WHEN jsonb_typeof(", v, ") = 'number' THEN (", v, ")::numeric END", op, c.param(x, "numeric"), ")")
	case time.Time:
		if _, ok := sqlOps[cmp.Op]; !ok {
			return fmt.Errorf("%s: %s does not apply to a dateTime", name, cmp.Op)
		}
		if err := checkTime(x); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		// Stored dateTimes keep the client's offset and precision, so
		// compare instants rather than text.
		c.w("(jsonb_typeof(", v, ") = 'string' AND ")
		c.compareTime("scim_time("+v+" #>> '{}')", cmp.Op, x)
		c.w(")")
	default:
		return fmt.Errorf("%s: unsupported operand type %T", name, cmp.Value)
	}
	return nil
}

// compareString writes a comparison of the text v (folded: the same,
// ASCII letters lower-cased) with s. Substrings are found by position,
// not LIKE, whose time grows with the product of the lengths.
func (c *compiler) compareString(v, folded string, op store.Op, s string, caseExact bool) {
	if !caseExact {
		v, s = folded, asciiLower(s)
	}
	sqlOp, isSQLOp := sqlOps[op]
	switch {
	case storable(s) && isSQLOp:
		c.w("(", v, sqlOp, c.param(s, "text"), ")")
	case storable(s) && s == "": // every string contains, starts and ends with ""
		c.w("TRUE")
	case storable(s) && op == store.Co:
		c.w("(strpos(", v, ", ", c.param(s, "text"), ") > 0)")
	case storable(s) && op == store.Sw:
		c.w("starts_with(", v, ", ", c.param(s, "text"), ")")
	case storable(s): // ew
		p := c.param(s, "text")
		c.w("(right(", v, ", length(", p, ")) = ", p, ")")
	case op == store.Eq || !isSQLOp:
		c.w("FALSE") // nothing stored equals or contains it
	default:
		// Stored text never holds such bytes, but orders with them as
		// bytes do: C collation's order is bytea's.
		c.w("(convert_to(", v, ", 'UTF8')", sqlOp, c.param([]byte(s), "bytea"), ")")
	}
}

// storable reports whether PostgreSQL text can hold s, as it holds every
// stored value: valid UTF-8 without NUL.
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// compareTime writes "x op t" for the timestamptz x, which has
// microseconds, exactly for t's nanoseconds too (PostgreSQL would round
// them): between two whole microseconds, x > t is x > the lower one.
func (c *compiler) compareTime(x string, op store.Op, t time.Time) {
	if lo := t.Truncate(time.Microsecond); !lo.Equal(t) {
		switch op {
		case store.Eq:
			c.w("FALSE")
			return
		case store.Gt, store.Ge:
			op, t = store.Gt, lo
		case store.Lt, store.Le:
			op, t = store.Le, lo
		}
	}
	c.w("(", x, sqlOps[op], c.param(t, "timestamptz"), ")")
}

func timeOperand(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v, checkTime(v)
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, errors.New("want an RFC 3339 dateTime")
		}
		return t, checkTime(t)
	}
	return time.Time{}, fmt.Errorf("want a dateTime, got %T", v)
}

// checkTime refuses instants beyond RFC 3339's years, which PostgreSQL
// may not hold.
func checkTime(t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return errors.New("dateTime out of range")
	}
	return nil
}
