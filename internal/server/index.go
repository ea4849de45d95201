package server

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/console"
)

// registerIndex answers GET / with the JSON index of scimd's APIs (what
// curl and tools get); a browser (Accept: text/html) is sent to the
// console instead, when there is one.
func registerIndex(r *mux.Router, admin *api.Admin, withConsole bool) {
	r.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if withConsole && strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, console.Prefix+"/", http.StatusFound)
			return
		}
		admin.ServeIndex(w, r)
	}).Methods(http.MethodGet, http.MethodHead)
}
