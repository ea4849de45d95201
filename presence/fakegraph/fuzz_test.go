package fakegraph

import (
	"slices"
	"strings"
	"testing"
)

// FuzzDecodeIDs checks that the ids decoder never panics, that what it
// accepts is within Graph's rules, and that accepted bodies round-trip.
func FuzzDecodeIDs(f *testing.F) {
	for _, seed := range []string{
		`{"ids":["` + userA + `"]}`,
		`{"ids":["` + strings.ToUpper(userA) + `","` + userB + `"]}`,
		`{"ids":[]}`,
		`{"ids":null}`,
		`{}`,
		`{"ids":["x"]}`,
		`{"ids":[1,2]}`,
		`{"ids":["` + userA + `"],"extra":1}`,
		`{"ids":["` + userA + `"]}{}`,
		`{"IDS":["` + userA + `"]}`,
		`[` + strings.Repeat(`[`, 100),
		mustJSON(map[string][]string{"ids": idList(651)}),
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, err := decodeIDs(body)
		if err != nil {
			return
		}
		if len(ids) > maxIDs || slices.ContainsFunc(ids, func(id string) bool { return !isGUID(id) }) {
			t.Fatalf("accepted %q as %q", body, ids)
		}
		again, err := decodeIDs([]byte(mustJSON(map[string][]string{"ids": ids})))
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("round trip of %q: %q, %v", ids, again, err)
		}
	})
}
