package postgres

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// FuzzCompileFilter builds filter trees from the fuzzer's bytes, with the
// fuzzer's strings as operands and attribute names, and checks that
//   - no input text reaches the SQL (every fuzzer string is wrapped in a
//     marker the compiler never writes, and the SQL must be plain ASCII),
//   - the placeholders are exactly $2...$n+1 for n arguments,
//   - whatever compiles runs without error on oddly shaped documents.
//
// go test runs the seed corpus; fuzz with:
// go test -run '^$' -fuzz FuzzCompileFilter ./store/postgres
func FuzzCompileFilter(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 3}, "alice", "work")
	f.Add([]byte{6, 1, 3, 0, 2, 9, 0, 1, 4, 4}, `%_\'"`, "$1")
	f.Add([]byte{5, 6, 7, 3, 2, 1, 0, 8, 8, 8, 8}, "§", "\x00\xff")
	f.Add([]byte{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "manager")
	f.Add([]byte{255, 254, 253, 252, 251, 250}, "') OR 1=1 --", "$.a[0]")
	f.Add([]byte{6, 7, 0, 2, 4, 1, 6, 2, 5, 6, 0, 9}, "{}", "2020-01-01T00:00:00Z")
	f.Add([]byte{3, 0, 5, 0, 6, 0, 4, 4, 4, 4, 5, 5, 5, 5}, "", "\\u0000")

	db := newTestDB(f, Options{})
	seedOddDocs(f, db)

	f.Fuzz(func(t *testing.T, shape []byte, s1, s2 string) {
		g := &gen{b: shape, strs: []string{mark(s1), mark(s2), mark(""), mark(s1 + s2)}}
		for _, tbl := range []*table{usersTable, groupsTable} {
			flt := g.filter(0, false)
			c, err := compileFilter(tbl, flt, 1)
			if err != nil || c.where == "" {
				continue // rejected filters are fine; only what compiles must run
			}
			checkSQL(t, c)
			var n int
			if err := db.pool.QueryRow(t.Context(), `SELECT count(*)`+tbl.from(c), append([]any{"d"}, c.args...)...).Scan(&n); err != nil {
				t.Fatalf("filter %#v\nSQL %s\nargs %q\nerror: %v", flt, c.where, c.args, err)
			}
		}
	})
}

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// checkSQL fails t if client text reached c's SQL or if its placeholders
// are not those of its arguments, after the query's $1.
func checkSQL(t *testing.T, c compiled) {
	t.Helper()
	if strings.Contains(c.where, "§") {
		t.Fatalf("operand text in SQL: %s", c.where)
	}
	for i := range len(c.where) {
		if b := c.where[i]; b < 0x20 || b >= 0x7f {
			t.Fatalf("byte %#x in SQL: %q", b, c.where)
		}
	}
	used := make([]bool, len(c.args))
	for _, p := range placeholder.FindAllString(c.where, -1) {
		n, _ := strconv.Atoi(p[1:])
		if n < 2 || n > len(c.args)+1 {
			t.Fatalf("placeholder %s for %d args: %s", p, len(c.args), c.where)
		}
		used[n-2] = true
	}
	for i, u := range used {
		if !u {
			t.Fatalf("argument %d (%q) unused: %s", i+2, c.args[i], c.where)
		}
	}
}

// mark wraps fuzzer text in a character the compiler never writes.
func mark(s string) string { return "§" + s + "§" }

// seedOddDocs stores documents of every JSON shape the compiler may meet,
// and one that jsonb cannot read, written past the store's checks.
func seedOddDocs(tb testing.TB, db *DB) {
	filterDirectory(tb, db)
	for i, doc := range []string{
		`{}`,
		`{"emails":[{"type":"work","value":"a§b","primary":true}],"name":{"givenName":"Zoë"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`,
		`{"emails":"not an array","name":"flat","title":null,"active":"yes","meta":{"created":"2020-01-01T00:00:00Z"}}`,
		`{"emails":["a",1,2.5,true,false,null,[1,[2]],{},{"value":{"nested":1}}],"title":["x"],"n":1e308}`,
		`{"§":"x","a.b":{"c":1},"":"","\\":"\\","\"":"q","emails":{"value":"object, not array"}}`,
		`{"emails":[],"name":{},"title":"","members":[{"value":"u1"}],"created":"2020-02-30T00:00:00Z"}`,
		`{"title":"2020-01-01T00:00:00+01:00","n":-0.5e-300,"emails":[{"value":"2021-01-01"}],"meta":{"created":"soon"}}`,
	} {
		id := string(rune('a' + i))
		filterUser(tb, db, store.User{ID: id, UserName: id, Doc: []byte(doc)})
		filterGroup(tb, db, store.Group{ID: id, DisplayName: id, Doc: []byte(doc)}, "a", id)
	}
	for _, q := range []string{`UPDATE users SET doc = $1 WHERE id = 'a'`, `UPDATE groups SET doc = $1 WHERE id = 'a'`} {
		if _, err := db.pool.Exec(tb.Context(), q, `{"title":"\u0000","emails":[{"value":"\ud800"}],"n":1e999999}`); err != nil {
			tb.Fatal(err)
		}
	}
}

// gen turns fuzzer bytes into filter trees.
type gen struct {
	b    []byte
	strs []string
}

func (g *gen) pick(n int) int {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return int(c) % n
}

func (g *gen) str() string { return g.strs[g.pick(len(g.strs))] }

func (g *gen) oneOf(fixed ...string) string {
	if i := g.pick(len(fixed) + 1); i < len(fixed) {
		return fixed[i]
	}
	return g.str()
}

func (g *gen) filter(depth int, inValuePath bool) store.Filter {
	k := g.pick(9)
	if depth > 5 {
		k = 0
	}
	switch k {
	case 3:
		return store.And{Left: g.filter(depth+1, inValuePath), Right: g.filter(depth+1, inValuePath)}
	case 4:
		return &store.Or{Left: g.filter(depth+1, inValuePath), Right: g.filter(depth+1, inValuePath)}
	case 5:
		return store.Not{Filter: g.filter(depth+1, inValuePath)}
	case 6:
		return store.ValuePath{Attr: g.attr(false), Filter: g.filter(depth+1, true)}
	case 7:
		if g.pick(8) == 0 {
			return nil
		}
	}
	c := store.Compare{Attr: g.attr(inValuePath), CaseExact: g.pick(2) == 0}
	c.Op = store.Op(g.oneOf("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "pr"))
	switch g.pick(9) {
	case 0, 1:
		c.Value = g.str()
	case 2:
		c.Value = ""
	case 3:
		c.Value = g.pick(2) == 0
	case 4:
		c.Value = []float64{0, 1, -2.5, 1e308, math.NaN(), math.Inf(1)}[g.pick(6)]
	case 5:
		c.Value = time.Date(2020+g.pick(10), 1, 1, 0, 0, 0, g.pick(256)*1000, time.FixedZone("x", 3600*(g.pick(24)-12))).Add(time.Duration(g.pick(2)))
	case 6:
		c.Value = nil
	case 7:
		c.Value = g.pick(100) // not an operand type
	default:
		c.Value = g.oneOf("2020-01-01T00:00:00Z", "x")
	}
	return c
}

func (g *gen) attr(inValuePath bool) store.Attr {
	if inValuePath && g.pick(8) != 0 {
		return store.Attr{Sub: g.oneOf("", "value", "type", "primary", "display", "nested", "$ref")}
	}
	return store.Attr{
		Schema: g.oneOf("", "", "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
		Name:   g.oneOf("id", "externalId", "userName", "displayName", "active", "meta", "members", "emails", "name", "title", "n", "a.b", "created", ""),
		Sub:    g.oneOf("", "", "value", "type", "created", "lastModified", "givenName", "c"),
	}
}
