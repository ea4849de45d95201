package route

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

var templates = []string{
	"/scim/v2/{directoryId}",
	"/scim/v2/{directoryId}/Users",
	"/scim/v2/{directoryId}/Users/{id}",
	"/api/v1/directories/{directoryId}/groups/{id}/contacts",
	"/healthz",
}

var paths = []string{
	"/", "", "/healthz", "/healthz/", "/healthzz", "/Healthz",
	"/scim/v2", "/scim/v2/", "/scim/v2/d1", "/scim/v2/d1/", "/scim/v2/d1/Users", "/scim/v2/d1/Users/",
	"/scim/v2/d1/Users/u1", "/scim/v2/d1/Users/u1/", "/scim/v2/d1/Users/u1/x", "/scim/v2//Users/u1",
	"/scim/v2/d1/users/u1", "/scim/v2/d 1/Users/ü%2F", "/scim/v2/d1/Groups/g1", "scim/v2/d1/Users",
	"/api/v1/directories/d1/groups/g1/contacts", "/api/v1/directories/d1/groups//contacts",
	"/api/v1/directories/d1/groups/g1/contacts/", "/api/v1/directories/d1/groups/g1",
}

// muxMatch is what mux's own path templates make of a path.
func muxMatch(template string, prefix bool, path string) (map[string]string, bool) {
	r := mux.NewRouter()
	rt := r.NewRoute()
	if prefix {
		rt.PathPrefix(template)
	} else {
		rt.Path(template)
	}
	var m mux.RouteMatch
	req := &http.Request{Method: http.MethodGet, URL: httptest.NewRequest(http.MethodGet, "/", nil).URL}
	req.URL.Path = path
	if !r.Match(req, &m) {
		return nil, false
	}
	return m.Vars, true
}

func check(t *testing.T, template, path string) {
	t.Helper()
	tpl := parse(template)
	for _, prefix := range []bool{false, true} {
		if prefix && !strings.HasSuffix(template, "}") {
			continue // asPrefix refuses them
		}
		if prefix {
			tpl = tpl.asPrefix()
		}
		wantVars, want := muxMatch(template, prefix, path)
		gotVars, got := tpl.match(path, nil)
		if got != want || (got && !maps.Equal(gotVars, wantVars)) {
			t.Errorf("%q (prefix %v) on %q: %v %v, mux: %v %v", template, prefix, path, got, gotVars, want, wantVars)
		}
	}
}

// TestMatchAsMux checks that templates match what mux's path templates
// match, with the same variables.
func TestMatchAsMux(t *testing.T) {
	for _, tpl := range templates {
		for _, p := range paths {
			check(t, tpl, p)
		}
	}
}

func FuzzMatchAsMux(f *testing.F) {
	for _, p := range paths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, tpl := range templates {
			check(t, tpl, path)
		}
	})
}

// TestFailedMatchKeepsVars checks that a route that does not match leaves
// the variables of the match in progress alone.
func TestFailedMatchKeepsVars(t *testing.T) {
	vars := map[string]string{"directoryId": "d1"}
	if _, ok := parse("/scim/v2/{directoryId}/Users/{id}").match("/scim/v2/d2/Groups/g", vars); ok {
		t.Fatal("matched")
	}
	if want := map[string]string{"directoryId": "d1"}; !maps.Equal(vars, want) {
		t.Errorf("vars %v, want %v", vars, want)
	}
}

// TestRoutes checks the mux side: variables reach the handler, a
// subrouter's routes see its variables, and routes are named after their
// templates.
func TestRoutes(t *testing.T) {
	r := mux.NewRouter()
	sub := Subrouter(r, "/scim/v2/{directoryId}")
	var got map[string]string
	var tpl string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = mux.Vars(r)
		tpl, _ = TemplateOf(mux.CurrentRoute(r))
	})
	sub.Handle("/Users", h)
	sub.Handle("/Users/{id}", h)
	r.Path("/plain/{x}").Handler(h)

	for _, c := range []struct {
		path, tpl string
		vars      map[string]string
	}{
		{"/scim/v2/d1/Users/u1", "/scim/v2/{directoryId}/Users/{id}", map[string]string{"directoryId": "d1", "id": "u1"}},
		{"/scim/v2/d1/Users", "/scim/v2/{directoryId}/Users", map[string]string{"directoryId": "d1"}},
		{"/plain/y", "/plain/{x}", map[string]string{"x": "y"}},
		{"/scim/v2/d1/Groups", "", nil},
	} {
		got, tpl = nil, ""
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, c.path, nil))
		if c.tpl == "" {
			if w.Code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", c.path, w.Code)
			}
			continue
		}
		if tpl != c.tpl || !maps.Equal(got, c.vars) {
			t.Errorf("%s: route %q vars %v, want %q %v", c.path, tpl, got, c.tpl, c.vars)
		}
	}
}

func TestParsePanics(t *testing.T) {
	for _, tpl := range []string{"scim", "/a//b", "/a/{}", "/a/b{c}", "/{a}/{b}/{c}/{d}/{e}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("parse(%q) did not panic", tpl)
				}
			}()
			parse(tpl)
		}()
	}
}

func TestPrefixOfLiteralPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Prefix of a template ending with a literal did not panic")
		}
	}()
	parse("/healthz").asPrefix()
}

func BenchmarkMatch(b *testing.B) {
	tpl := parse("/scim/v2/{directoryId}/Users/{id}")
	for b.Loop() {
		if _, ok := tpl.match("/scim/v2/0b6f2ab8-5d0e-4c48-9a2d-1f0a3c7b9e21/Users/5f1d2a3b-1111-4c48-9a2d-1f0a3c7b9e21", nil); !ok {
			b.Fatal("no match")
		}
	}
}
