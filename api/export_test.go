package api

import (
	"maps"
	"net/http"
	"slices"
	"testing"
)

// SetCSVPageSize makes the CSV export read n events per query until the
// test ends, so that small data sets span several pages.
func SetCSVPageSize(t testing.TB, n int) {
	old := csvPageSize
	csvPageSize = n
	t.Cleanup(func() { csvPageSize = old })
}

// RouteMethods returns the methods a route's handler serves, or nil if
// it does not dispatch by method itself.
func RouteMethods(h http.Handler) []string {
	m, ok := h.(methods)
	if !ok {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}
