package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/route"
)

// TestOpenAPICoversRoutes walks the lookup API's route table and checks
// that the OpenAPI document describes exactly its routes and methods.
func TestOpenAPICoversRoutes(t *testing.T) {
	r := mux.NewRouter()
	api.NewLookup(api.LookupConfig{}).Register(r)
	checkDocumentCoversRoutes(t, r, api.OpenAPIDocument(), 6)
}

// TestAdminOpenAPICoversRoutes is TestOpenAPICoversRoutes for the admin
// API's route table and document.
func TestAdminOpenAPICoversRoutes(t *testing.T) {
	r := mux.NewRouter()
	api.NewAdmin(api.AdminConfig{}).Register(r)
	checkDocumentCoversRoutes(t, r, api.AdminOpenAPIDocument(), 14)
}

// checkDocumentCoversRoutes checks that the OpenAPI 3.0 document describes
// every route of r with exactly its methods, and nothing that is not a
// route; r must have at least min routes.
func checkDocumentCoversRoutes(t *testing.T, r *mux.Router, document []byte, min int) {
	t.Helper()
	routes := map[string][]string{} // path template → methods
	err := r.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, ok := route.TemplateOf(rt)
		if !ok || rt.GetHandler() == nil {
			return nil // a subrouter's prefix, not an endpoint
		}
		ms := api.RouteMethods(rt.GetHandler())
		if ms == nil {
			t.Errorf("route %s does not dispatch by method", tpl)
		}
		routes[tpl] = ms
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < min {
		t.Fatalf("walked only %v", routes)
	}

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(document, &doc); err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	documented := map[string][]string{}
	for path, item := range doc.Paths {
		for k := range item {
			if k != "parameters" && k != "summary" && k != "description" {
				documented[path] = append(documented[path], strings.ToUpper(k))
			}
		}
		slices.Sort(documented[path])
	}
	for tpl, ms := range routes {
		if !slices.Equal(documented[tpl], ms) {
			t.Errorf("route %s serves %v, the document describes %v", tpl, ms, documented[tpl])
		}
	}
	for path, ms := range documented {
		if _, ok := routes[path]; !ok {
			t.Errorf("the document describes %s %v, which is not a route", path, ms)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	f := newLookupFixture(t)
	r := f.req(http.MethodGet, "/api/v1/openapi.json", "", "") // no auth needed
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", r.status, r.header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil || doc["openapi"] == nil {
		t.Errorf("not the document: %v", err)
	}
	wantError(t, f.req(http.MethodPost, "/api/v1/openapi.json", "", ""), http.StatusMethodNotAllowed, "method_not_allowed")
}
