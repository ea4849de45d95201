package api

import "testing"

// SetCSVPageSize makes the CSV export read n events per query until the
// test ends, so that small data sets span several pages.
func SetCSVPageSize(t testing.TB, n int) {
	old := csvPageSize
	csvPageSize = n
	t.Cleanup(func() { csvPageSize = old })
}
