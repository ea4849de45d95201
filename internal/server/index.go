package server

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
)

// registerIndex answers GET / with the JSON index of scimd's APIs (what
// curl and tools get). The web console, once it exists, takes browsers
// (Accept: text/html) here to /console/ and leaves this answer to the
// others.
func registerIndex(r *mux.Router, admin *api.Admin) {
	r.HandleFunc("/", admin.ServeIndex).Methods(http.MethodGet, http.MethodHead)
}
