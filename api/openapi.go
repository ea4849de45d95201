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

// OpenAPIDocument returns the lookup API's OpenAPI 3.0 document.
func OpenAPIDocument() []byte { return openAPIDocument }

// serveOpenAPI serves the document without auth: it holds no data, and
// clients generate code from it before they have a key.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if _, ok := queryParams(w, r); !ok {
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSONBytes(w, http.StatusOK, bytes.TrimRight(openAPIDocument, "\n")) // it adds one
}
