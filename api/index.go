package api

import "net/http"

// DocsURL is scimd's documentation, linked from the indexes.
const DocsURL = "https://github.com/scimd/scimd#readme"

// indexJSON is what GET / and GET /admin/v1 answer: what this server is
// and where its APIs are, as absolute URLs under SCIMD_PUBLIC_URL, so
// that someone who finds scimd with curl (or a tool) can follow the links.
type indexJSON struct {
	Name    string     `json:"name"`
	Version string     `json:"version"`
	Links   indexLinks `json:"links"`
}

type indexLinks struct {
	// SCIMBaseURL is a pattern: a directory's Tenant URL for Entra.
	SCIMBaseURL   string `json:"scimBaseUrl"`
	AdminAPI      string `json:"adminApi"`
	AdminOpenAPI  string `json:"adminOpenApi"`
	LookupAPI     string `json:"lookupApi"`
	LookupOpenAPI string `json:"lookupOpenApi"`
	// Directories and Audit are the admin API's entry points; only the
	// admin index (behind the admin token) names them.
	Directories string `json:"directories,omitempty"`
	Audit       string `json:"audit,omitempty"`
	Health      string `json:"health"`
	Ready       string `json:"ready"`
	Metrics     string `json:"metrics"`
	Docs        string `json:"docs"`
}

func (a *Admin) index() indexJSON {
	base := a.cfg.PublicURL
	return indexJSON{
		Name:    "scimd",
		Version: a.cfg.Version,
		Links: indexLinks{
			SCIMBaseURL:   base + "/scim/v2/{directoryId}",
			AdminAPI:      base + "/admin/v1",
			AdminOpenAPI:  base + "/admin/v1/openapi.json",
			LookupAPI:     base + "/api/v1/directories/{directoryId}",
			LookupOpenAPI: base + "/api/v1/openapi.json",
			Health:        base + "/healthz",
			Ready:         base + "/readyz",
			Metrics:       base + "/metrics",
			Docs:          DocsURL,
		},
	}
}

// ServeIndex answers GET / without auth: the index names only public
// facts (the version, the URL patterns README.md documents), no
// directory, token or setting. A query string is ignored: browsers and
// link checkers add their own.
func (a *Admin) ServeIndex(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, a.index())
}

// adminIndex answers GET /admin/v1, behind the admin token: the index
// with the admin API's entry points, so that a token can be tried with
// one request.
func (a *Admin) adminIndex(w http.ResponseWriter, r *http.Request) {
	if _, ok := queryParams(w, r); !ok {
		return
	}
	idx := a.index()
	idx.Links.Directories = a.cfg.PublicURL + "/admin/v1/directories"
	idx.Links.Audit = a.cfg.PublicURL + "/admin/v1/audit"
	WriteJSON(w, http.StatusOK, idx)
}
