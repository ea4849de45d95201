package sqlite

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// FuzzCompileFilter builds filter trees from the fuzzer's bytes, with the
// fuzzer's strings as operands and attribute names, and checks that
//   - no input text reaches the SQL (every fuzzer string is wrapped in a
//     marker the compiler never writes, and the SQL must be plain ASCII),
//   - there is one argument per placeholder,
//   - whatever compiles runs without error on oddly shaped documents.
//
// Run it with: go test -run '^$' -fuzz FuzzCompileFilter ./store/sqlite
func FuzzCompileFilter(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 3}, "alice", "work")
	f.Add([]byte{6, 1, 3, 0, 2, 9, 0, 1, 4, 4}, `%_\'"`, "?")
	f.Add([]byte{5, 6, 7, 3, 2, 1, 0, 8, 8, 8, 8}, "§", "\x00\xff")
	f.Add([]byte{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "manager")
	f.Add([]byte{255, 254, 253, 252, 251, 250}, "') OR 1=1 --", "$.a[0]")

	db, err := OpenAndMigrate(f.Context(), filepath.Join(f.TempDir(), "fuzz.db"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	seedOddDocs(f, db)

	f.Fuzz(func(t *testing.T, shape []byte, s1, s2 string) {
		g := &gen{b: shape, strs: []string{mark(s1), mark(s2), mark(""), mark(s1 + s2)}}
		for _, tbl := range []*table{usersTable, groupsTable} {
			flt := g.filter(0, false)
			where, args, err := compileFilter(tbl, flt)
			if err != nil || where == "" {
				continue // rejected filters are fine; only what compiles must run
			}
			if strings.Contains(where, "§") {
				t.Fatalf("operand text in SQL: %s", where)
			}
			for i := range len(where) {
				if c := where[i]; c < 0x20 || c >= 0x7f {
					t.Fatalf("byte %#x in SQL: %q", c, where)
				}
			}
			if n := strings.Count(where, "?"); n != len(args) {
				t.Fatalf("%d placeholders, %d args: %s", n, len(args), where)
			}
			var n int
			q := `SELECT count(*) FROM ` + tbl.name + ` WHERE ` + tbl.name + `.directory_id = 'd' AND (` + where + `)`
			if err := db.r.QueryRowContext(t.Context(), q, args...).Scan(&n); err != nil {
				t.Fatalf("filter %#v\nSQL %s\nargs %q\nerror: %v", flt, where, args, err)
			}
		}
	})
}

// mark wraps fuzzer text in a character the compiler never writes.
func mark(s string) string { return "§" + s + "§" }

// seedOddDocs stores documents of every JSON shape the compiler may meet.
func seedOddDocs(tb testing.TB, db *DB) {
	ctx := tb.Context()
	if _, err := db.CreateDirectory(ctx, store.Directory{ID: "d", Name: "d"}); err != nil {
		tb.Fatal(err)
	}
	for i, doc := range []string{
		`{}`,
		`{"emails":[{"type":"work","value":"a§b","primary":true}],"name":{"givenName":"Zoë"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`,
		`{"emails":"not an array","name":"flat","title":null,"active":"yes","meta":{"created":"2020-01-01T00:00:00Z"}}`,
		`{"emails":["a",1,2.5,true,false,null,[1,[2]],{},{"value":{"nested":1}}],"title":["x"],"n":1e308}`,
		`{"§":"x","a.b":{"c":1},"":"","\\":"\\","\"":"q","emails":{"value":"object, not array"}}`,
		`{"emails":[],"name":{},"title":"","members":[{"value":"u1"}]}`,
	} {
		id := string(rune('a' + i))
		if _, err := db.CreateUser(ctx, store.User{DirectoryID: "d", ID: id, UserName: id, Doc: []byte(doc)}, store.SyncEvent{}); err != nil {
			tb.Fatalf("seed user %s: %v", doc, err)
		}
		if _, err := db.CreateGroup(ctx, store.Group{DirectoryID: "d", ID: id, DisplayName: id, Doc: []byte(doc)}, []string{"a", id}, store.SyncEvent{}); err != nil {
			tb.Fatalf("seed group %s: %v", doc, err)
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
		c.Value = time.Date(2020+g.pick(10), 1, 1, 0, 0, 0, g.pick(256), time.FixedZone("x", 3600*(g.pick(24)-12)))
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
		Name:   g.oneOf("id", "externalId", "userName", "displayName", "active", "meta", "members", "emails", "name", "title", "n", "a.b", ""),
		Sub:    g.oneOf("", "", "value", "type", "created", "lastModified", "givenName", "c"),
	}
}
