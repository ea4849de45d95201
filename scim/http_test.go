package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

const userSchema = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`

func patchBody(ops string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
}

// TestBadInput checks that every kind of bad input gets a SCIM error that
// names the problem, and that nothing was stored.
func TestBadInput(t *testing.T) {
	ts := newTestServer(t, func(c *scim.Config) { c.MaxBodyBytes = 4096 })
	id := ts.createUser("existing@example.com")
	tests := []struct {
		name, method, path, body string
		status                   int
		scimType, inDetail       string
	}{
		{"malformed JSON", "POST", "/Users", `{"userName": "x",}`, 400, "invalidSyntax", "malformed JSON at byte"},
		{"truncated JSON", "POST", "/Users", `{"userName": "x"`, 400, "invalidSyntax", "truncated"},
		{"not an object", "POST", "/Users", `["x"]`, 400, "invalidSyntax", "JSON object"},
		{"trailing data", "POST", "/Users", `{"userName":"x"} {}`, 400, "invalidSyntax", "after the top-level value"},
		{"missing userName", "POST", "/Users", `{` + userSchema + `,"active":true}`, 400, "invalidValue", "userName is required"},
		{"wrong type for userName", "POST", "/Users", `{` + userSchema + `,"userName":42}`, 400, "invalidValue", "userName must be a string, got number 42"},
		{"wrong type for active", "POST", "/Users", `{` + userSchema + `,"userName":"a","active":"perhaps"}`, 400, "invalidValue", `active must be a boolean (true or false), got "perhaps"`},
		{"wrong type inside a list", "POST", "/Users", `{` + userSchema + `,"userName":"a","emails":[{"value":"a@b","primary":"yes"}]}`, 400, "invalidValue", "emails[0].primary must be a boolean"},
		{"list expected", "POST", "/Users", `{` + userSchema + `,"userName":"a","emails":"a@b"}`, 400, "invalidValue", "emails must be an array"},
		{"two work emails", "POST", "/Users", `{` + userSchema + `,"userName":"a","emails":[{"type":"work","value":"a@b"},{"type":"Work","value":"c@d"}]}`, 400, "invalidValue", `type "Work" appears more than once`},
		{"two primaries", "POST", "/Users", `{` + userSchema + `,"userName":"a","emails":[{"type":"work","value":"a@b","primary":true},{"type":"home","value":"c@d","primary":true}]}`, 400, "invalidValue", "more than one element is marked primary"},
		{"wrong schemas", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"a"}`, 400, "invalidValue", "schemas must include"},
		{"extension not an object", "POST", "/Users", `{` + userSchema + `,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`, 400, "invalidValue", "must be an object"},
		{"group without displayName", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, 400, "invalidValue", "displayName is required"},
		{"unknown filter attribute", "GET", "/Users?filter=" + q(`nickname eq "x" and foo eq "y"`), "", 400, "invalidFilter", `unknown attribute "foo"`},
		{"malformed filter", "GET", "/Users?filter=" + q(`userName eq`), "", 400, "invalidFilter", "expected a value"},
		{"filter with a bad operator", "GET", "/Users?filter=" + q(`userName like "x"`), "", 400, "invalidFilter", `unknown operator "like"`},
		{"filter the store cannot run", "GET", "/Groups?filter=" + q(`members.$ref eq "x"`), "", 400, "invalidFilter", "members.$ref is not filterable"},
		{"bad startIndex", "GET", "/Users?startIndex=first", "", 400, "invalidValue", `startIndex must be an integer, got "first"`},
		{"PATCH path not a string", "PATCH", "/Users/" + id, patchBody(`[{"op":"replace","path":5,"value":"x"}]`), 400, "invalidPath", "Operations[0].path must be a string"},
		{"PATCH operation not an object", "PATCH", "/Users/" + id, patchBody(`["replace"]`), 400, "invalidSyntax", "Operations[0] must be an object"},
		{"bad count", "GET", "/Users?count=ten", "", 400, "invalidValue", `count must be an integer, got "ten"`},
		{"PATCH bad path", "PATCH", "/Users/" + id, patchBody(`[{"op":"replace","path":"emails[type eq \"work\"","value":"x"}]`), 400, "invalidPath", `path "emails[type eq \"work\""`},
		{"PATCH unknown attribute", "PATCH", "/Users/" + id, patchBody(`[{"op":"replace","path":"favouriteColour","value":"x"}]`), 400, "invalidPath", `no attribute "favouriteColour"`},
		{"PATCH wrong type", "PATCH", "/Users/" + id, patchBody(`[{"op":"replace","path":"active","value":7}]`), 400, "invalidValue", "active must be a boolean (true or false), got number 7"},
		{"PATCH without schemas", "PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`, 400, "invalidValue", "schemas must be"},
		{"PATCH without operations", "PATCH", "/Users/" + id, patchBody(`[]`), 400, "invalidValue", "non-empty array"},
		{"PATCH unknown op", "PATCH", "/Users/" + id, patchBody(`[{"op":"upsert","path":"title","value":"x"}]`), 400, "invalidValue", `"upsert" must be add, replace or remove`},
		{"PATCH read-only", "PATCH", "/Users/" + id, patchBody(`[{"op":"replace","path":"groups","value":[]}]`), 400, "invalidPath", `no attribute "groups"`},
		{"PATCH one bad op rejects all", "PATCH", "/Users/" + id, patchBody(`[{"op":"replace","path":"title","value":"stored?"},{"op":"replace","path":"nope","value":1}]`), 400, "invalidPath", "Operations[1]"},
		{"oversized body", "POST", "/Users", `{` + userSchema + `,"userName":"big","title":"` + strings.Repeat("x", 5000) + `"}`, 413, "", "exceeds the limit of 4096 bytes"},
		{"unknown user", "GET", "/Users/does-not-exist", "", 404, "", "not found"},
		{"unknown route", "GET", "/Widgets", "", 404, "", "no SCIM endpoint"},
		{"path below a resource", "GET", "/Users/" + id + "/emails", "", 404, "", "no SCIM endpoint"},
		{"wrong method", "DELETE", "/Users", "", 405, "", "DELETE is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := ts.do(tt.method, tt.path, body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
				t.Errorf("Content-Type %q", ct)
			}
			e := r.json(t)
			if e["status"] != fmt.Sprint(tt.status) {
				t.Errorf("status field %v, want the string %q", e["status"], fmt.Sprint(tt.status))
			}
			if got, _ := e["scimType"].(string); got != tt.scimType {
				t.Errorf("scimType %q, want %q", got, tt.scimType)
			}
			if d, _ := e["detail"].(string); !strings.Contains(d, tt.inDetail) {
				t.Errorf("detail %q does not contain %q", d, tt.inDetail)
			}
			assertNoLeak(t, r.body)
		})
	}
	// Nothing was stored by any of the refused requests.
	list := ts.do("GET", "/Users", nil).json(t)
	if list["totalResults"] != float64(1) {
		t.Errorf("totalResults %v after refused requests, want 1", list["totalResults"])
	}
	u := ts.do("GET", "/Users/"+id, nil).json(t)
	if _, ok := u["title"]; ok {
		t.Errorf("a refused PATCH left title behind: %v", u)
	}
}

func q(s string) string {
	return strings.NewReplacer(" ", "+", `"`, "%22", "[", "%5B", "]", "%5D").Replace(s)
}

func assertNoLeak(t *testing.T, body []byte) {
	t.Helper()
	for _, bad := range []string{"sql", "SQL", ".go:", "panic", "goroutine", "constraint"} {
		if strings.Contains(string(body), bad) {
			t.Errorf("response leaks %q: %s", bad, body)
		}
	}
}

func TestDirectoryIsolation(t *testing.T) {
	ts := newTestServer(t)
	otherID, otherToken := ts.newDirectory("other")
	otherBase := scim.BaseURL(ts.srv.URL, otherID)
	uid := ts.createUser("alice@example.com")

	// A directory's token works on its own base URL only.
	if r := ts.doWith("GET", otherBase+"/Users", ts.token, nil, nil); r.status != 401 {
		t.Errorf("A's token on B's base URL: %d", r.status)
	}
	if r := ts.doWith("GET", ts.base+"/Users", otherToken, nil, nil); r.status != 401 {
		t.Errorf("B's token on A's base URL: %d", r.status)
	}
	if r := ts.doWith("GET", ts.srv.URL+"/scim/v2/no-such-directory/Users", ts.token, nil, nil); r.status != 401 {
		t.Errorf("unknown directory: %d", r.status)
	}
	// B cannot see, change or delete A's user, and may reuse its userName.
	for _, req := range []struct{ method, body string }{
		{"GET", ""}, {"DELETE", ""},
		{"PATCH", patchBody(`[{"op":"replace","path":"title","value":"x"}]`)},
		{"PUT", `{` + userSchema + `,"userName":"alice@example.com"}`},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		if r := ts.doWith(req.method, otherBase+"/Users/"+uid, otherToken, body, nil); r.status != 404 {
			t.Errorf("%s A's user from B: %d %s", req.method, r.status, r.body)
		}
	}
	r := ts.doWith("GET", otherBase+"/Users?filter="+q(`userName eq "alice@example.com"`), otherToken, nil, nil)
	if r.json(t)["totalResults"] != float64(0) {
		t.Errorf("B's filter sees A's user: %s", r.body)
	}
	r = ts.doWith("POST", otherBase+"/Users", otherToken, `{`+userSchema+`,"userName":"alice@example.com"}`, nil)
	if r.status != 201 {
		t.Errorf("same userName in another directory: %d %s", r.status, r.body)
	}
	// Failed authentication is logged, without the token.
	if !strings.Contains(ts.logs.String(), "scim auth failed") {
		t.Error("auth failure not logged")
	}
	if strings.Contains(ts.logs.String(), ts.token) || strings.Contains(ts.logs.String(), otherToken) {
		t.Error("a token reached the log")
	}
}

func TestTokenRotationTakesEffectAtOnce(t *testing.T) {
	ts := newTestServer(t)
	plain, hash := store.NewToken("scimd_")
	if _, err := ts.store.UpdateDirectory(t.Context(), ts.dirID, func(d store.Directory) (store.Directory, error) {
		d.SCIMTokenHash = hash
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := ts.do("GET", "/Users", nil); r.status != 401 {
		t.Errorf("old token after rotation: %d", r.status)
	}
	if r := ts.doWith("GET", ts.base+"/Users", plain, nil, nil); r.status != 200 {
		t.Errorf("new token: %d", r.status)
	}
}

// TestPreviousTokenUntilItExpires: during a rotation's grace period the
// directory accepts its previous token beside the new one, on its own
// base URL only, and refuses it from the instant it expires by the
// server's clock, though the cached directory did not change.
func TestPreviousTokenUntilItExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); defer mu.Unlock(); now = t }
	ts := newTestServer(t, func(c *scim.Config) { c.Now = clock })
	otherID, _ := ts.newDirectory("other")

	plain, hash := store.NewToken("scimd_")
	expires := now.Add(time.Hour)
	if _, err := ts.store.UpdateDirectory(t.Context(), ts.dirID, func(d store.Directory) (store.Directory, error) {
		d.PreviousTokenHash, d.PreviousTokenExpires, d.SCIMTokenHash = d.SCIMTokenHash, expires, hash
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	status := func(token string) int { return ts.doWith("GET", ts.base+"/Users", token, nil, nil).status }
	if s := status(ts.token); s != 200 {
		t.Errorf("previous token in its grace period: %d", s)
	}
	if s := status(plain); s != 200 {
		t.Errorf("new token: %d", s)
	}
	if r := ts.doWith("GET", scim.BaseURL(ts.srv.URL, otherID)+"/Users", ts.token, nil, nil); r.status != 401 {
		t.Errorf("previous token on another directory's base URL: %d", r.status)
	}
	set(expires.Add(-time.Nanosecond))
	if s := status(ts.token); s != 200 {
		t.Errorf("previous token just before it expires: %d", s)
	}
	set(expires)
	if s := status(ts.token); s != 401 {
		t.Errorf("previous token once expired: %d", s)
	}
	if s := status(plain); s != 200 {
		t.Errorf("new token after the grace period: %d", s)
	}
}

func TestConcurrentCreatesOfOneUserName(t *testing.T) {
	ts := newTestServer(t)
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = ts.do("POST", "/Users", fmt.Sprintf(`{%s,"userName":"Same@Example.com","title":"%d"}`, userSchema, i)).status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if created != 1 {
		t.Errorf("%d creates succeeded, want exactly 1 (%v)", created, statuses)
	}
}

func TestConcurrentMemberPatchesLoseNothing(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team"}`)
	gid := r.json(t)["id"].(string)
	const workers, perWorker = 8, 5
	ids := make([][]string, workers)
	for w := range workers {
		for i := range perWorker {
			ids[w] = append(ids[w], ts.createUser(fmt.Sprintf("m%d-%d@example.com", w, i)))
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range ids[w] {
				if r := ts.do("PATCH", "/Groups/"+gid, patchBody(`[{"op":"Add","path":"members","value":[{"value":"`+id+`"}]}]`)); r.status != 204 {
					t.Errorf("member PATCH: %d %s", r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	members, _ := ts.do("GET", "/Groups/"+gid, nil).json(t)["members"].([]any)
	if len(members) != workers*perWorker {
		t.Errorf("%d members, want %d", len(members), workers*perWorker)
	}
}

func TestPagination(t *testing.T) {
	ts := newTestServer(t)
	var ids []string
	for i := range 12 {
		ids = append(ids, ts.createUser(fmt.Sprintf("user%02d@example.com", i)))
	}
	var seen []string
	for start := 1; start <= 12; start += 5 {
		r := ts.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=5", start), nil).json(t)
		if r["startIndex"] != float64(start) || r["totalResults"] != float64(12) {
			t.Errorf("page %d: startIndex %v totalResults %v", start, r["startIndex"], r["totalResults"])
		}
		res := r["Resources"].([]any)
		if r["itemsPerPage"] != float64(len(res)) {
			t.Errorf("itemsPerPage %v for %d resources", r["itemsPerPage"], len(res))
		}
		for _, x := range res {
			seen = append(seen, x.(map[string]any)["id"].(string))
		}
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Errorf("pages are not in creation order:\n got %v\nwant %v", seen, ids)
	}
	r := ts.do("GET", "/Users?count=0", nil).json(t)
	if r["totalResults"] != float64(12) || len(r["Resources"].([]any)) != 0 {
		t.Errorf("count=0: %v", r)
	}
	r = ts.do("GET", "/Users?startIndex=100", nil).json(t)
	if r["totalResults"] != float64(12) || len(r["Resources"].([]any)) != 0 {
		t.Errorf("past the end: %v", r)
	}
}

func TestAttributesProjection(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("POST", "/Users", `{`+userSchema+`,"userName":"p@example.com","title":"T","name":{"givenName":"G","familyName":"F"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","employeeNumber":"7"}}`)
	id := r.json(t)["id"].(string)

	got := ts.do("GET", "/Users/"+id+"?attributes=userName,name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", nil).json(t)
	want := map[string]any{"id": id, "userName": "p@example.com", "name": map[string]any{"givenName": "G"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "D"}}
	delete(got, "schemas")
	if !jsonEq(got, want) {
		t.Errorf("attributes:\n got %v\nwant %v", got, want)
	}
	got = ts.do("GET", "/Users?filter="+q(`userName eq "p@example.com"`)+"&excludedAttributes=title,name.familyName", nil).json(t)
	u := got["Resources"].([]any)[0].(map[string]any)
	if _, ok := u["title"]; ok {
		t.Errorf("title not excluded: %v", u)
	}
	if !jsonEq(u["name"], map[string]any{"givenName": "G"}) || u["meta"] == nil {
		t.Errorf("excludedAttributes removed too much: %v", u)
	}
}

func TestETags(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("POST", "/Users", `{`+userSchema+`,"userName":"e@example.com"}`)
	id := r.json(t)["id"].(string)
	v1 := r.header.Get("Etag")
	if v1 != `W/"1"` || r.json(t)["meta"].(map[string]any)["version"] != v1 {
		t.Fatalf("ETag %q, meta %v", v1, r.json(t)["meta"])
	}
	patch := patchBody(`[{"op":"replace","path":"title","value":"one"}]`)
	r = ts.doWith("PATCH", ts.base+"/Users/"+id, ts.token, patch, http.Header{"If-Match": {v1}})
	if r.status != 200 || r.header.Get("Etag") != `W/"2"` {
		t.Fatalf("PATCH with a current If-Match: %d %q", r.status, r.header.Get("Etag"))
	}
	// The same PATCH again changes nothing and keeps the version.
	if r = ts.do("PATCH", "/Users/"+id, patch); r.header.Get("Etag") != `W/"2"` {
		t.Errorf("no-op PATCH moved the version to %q", r.header.Get("Etag"))
	}
	r = ts.doWith("PATCH", ts.base+"/Users/"+id, ts.token, patchBody(`[{"op":"replace","path":"title","value":"two"}]`), http.Header{"If-Match": {v1}})
	if r.status != 412 {
		t.Errorf("stale If-Match on PATCH: %d %s", r.status, r.body)
	}
	if r = ts.doWith("DELETE", ts.base+"/Users/"+id, ts.token, nil, http.Header{"If-Match": {v1}}); r.status != 412 {
		t.Errorf("stale If-Match on DELETE: %d", r.status)
	}
	if title := ts.do("GET", "/Users/"+id, nil).json(t)["title"]; title != "one" {
		t.Errorf("a 412 changed the user: title %v", title)
	}
	if r = ts.doWith("DELETE", ts.base+"/Users/"+id, ts.token, nil, http.Header{"If-Match": {`W/"2"`}}); r.status != 204 {
		t.Errorf("current If-Match on DELETE: %d", r.status)
	}
}

func TestValuesReturnedAsSent(t *testing.T) {
	ts := newTestServer(t)
	body := `{` + userSchema + `,"userName":"Exact@Example.com","displayName":"Ünïcode <&> \"q\"",
		"phoneNumbers":[{"type":"work","value":"+1 (425) 555-0100"}],"title":"  spaced  "}`
	r := ts.do("POST", "/Users", body)
	id := r.json(t)["id"].(string)
	u := ts.do("GET", "/Users/"+id, nil).json(t)
	for k, want := range map[string]any{"userName": "Exact@Example.com", "displayName": "Ünïcode <&> \"q\"", "title": "  spaced  "} {
		if u[k] != want {
			t.Errorf("%s = %q, want %q", k, u[k], want)
		}
	}
	if !jsonEq(u["phoneNumbers"], []any{map[string]any{"type": "work", "value": "+1 (425) 555-0100"}}) {
		t.Errorf("phoneNumbers %v", u["phoneNumbers"])
	}
}

// countingStore counts membership reads.
type countingStore struct {
	store.Store
	memberReads *atomic.Int64
}

func (s countingStore) GroupMembers(ctx context.Context, dir string, ids []string) (map[string][]string, error) {
	s.memberReads.Add(1)
	return s.Store.GroupMembers(ctx, dir, ids)
}

// TestExcludedMembersAreNeverLoaded: Entra reads groups with
// excludedAttributes=members; those reads must not touch the member table.
func TestExcludedMembersAreNeverLoaded(t *testing.T) {
	var reads atomic.Int64
	ts := newTestServer(t, func(c *scim.Config) { c.Store = countingStore{Store: c.Store, memberReads: &reads} })
	uid := ts.createUser("m@example.com")
	r := ts.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"`+uid+`"}]}`)
	gid := r.json(t)["id"].(string)
	for _, path := range []string{"/Groups/" + gid + "?excludedAttributes=members", "/Groups?excludedAttributes=members&filter=" + q(`displayName eq "G"`)} {
		if r := ts.do("GET", path, nil); r.status != 200 || strings.Contains(string(r.body), uid) {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	ts.do("PATCH", "/Groups/"+gid, patchBody(`[{"op":"Remove","path":"members","value":[{"value":"`+uid+`"}]}]`))
	if n := reads.Load(); n != 0 {
		t.Errorf("%d membership reads for reads without members and a member PATCH", n)
	}
	ts.do("GET", "/Groups/"+gid, nil)
	if reads.Load() != 1 {
		t.Errorf("a full read did not load members (%d reads)", reads.Load())
	}
}
