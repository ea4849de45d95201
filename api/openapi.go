package api

import (
	"bytes"
	_ "embed"
	"net/http"
)

// openAPIDocument describes the lookup API. A test checks that it names
// every lookup route and method, and nothing else.
//
//go:embed openapi.json
var openAPIDocument []byte

// adminOpenAPIDocument describes the admin API, checked against the admin
// routes by the same test.
//
//go:embed admin_openapi.json
var adminOpenAPIDocument []byte

// OpenAPIDocument returns the lookup API's OpenAPI 3.0 document.
func OpenAPIDocument() []byte { return openAPIDocument }

// AdminOpenAPIDocument returns the admin API's OpenAPI 3.0 document.
func AdminOpenAPIDocument() []byte { return adminOpenAPIDocument }

// serveOpenAPI serves the document without auth: it holds no data, and
// clients generate code from it before they have a key.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) { serveDocument(w, r, openAPIDocument) }

// serveAdminOpenAPI serves the admin API's document without auth, for the
// same reasons: it says what the endpoints take and answer, which
// README.md says too, and holds no directory, token or setting; tools
// read it before anyone gives them the admin token. Every endpoint it
// describes still needs that token.
func serveAdminOpenAPI(w http.ResponseWriter, r *http.Request) {
	serveDocument(w, r, adminOpenAPIDocument)
}

func serveDocument(w http.ResponseWriter, r *http.Request, doc []byte) {
	if _, ok := queryParams(w, r); !ok {
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSONBytes(w, http.StatusOK, bytes.TrimRight(doc, "\n")) // it adds one
}
