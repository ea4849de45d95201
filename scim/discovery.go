package scim

import (
	"log/slog"
	"net/http"

	libscim "github.com/elimity-com/scim"
	liberrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// discovery serves /Schemas and /ResourceTypes through the library, from
// the same schema definitions the resource endpoints validate against.
// Its ServiceProviderConfig only feeds the library; scimd answers
// /ServiceProviderConfig itself.
type discovery struct {
	args *libscim.ServerArgs
	log  libscim.Logger
}

func newDiscovery(maxResults int, log *slog.Logger) *discovery {
	args := &libscim.ServerArgs{
		ServiceProviderConfig: &libscim.ServiceProviderConfig{MaxResults: maxResults, SupportFiltering: true, SupportPatch: true},
		ResourceTypes: []libscim.ResourceType{
			{
				ID:               optional.NewString("User"),
				Name:             "User",
				Description:      optional.NewString("User Account"),
				Endpoint:         "/Users",
				Schema:           userDef.core,
				SchemaExtensions: []libscim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
				Handler:          notServed{},
			},
			{
				ID:          optional.NewString("Group"),
				Name:        "Group",
				Description: optional.NewString("Group"),
				Endpoint:    "/Groups",
				Schema:      groupDef.core,
				Handler:     notServed{},
			},
		},
	}
	return &discovery{args: args, log: slogAdapter{log}}
}

// serviceProviderConfig answers /ServiceProviderConfig itself: the
// library's says etag is unsupported, and has no location. Each flag is
// what the server does (TestServiceProviderConfigIsTrue): PATCH, filters
// with count capped at MaxResults, ETags (meta.version, If-Match,
// If-None-Match); no sortBy, no /Bulk, no password changes.
func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	doc := marshalDoc(map[string]any{
		"schemas":          []any{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/scimd/scimd#scim-behaviour",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": s.cfg.MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "The directory's SCIM secret token, sent as Authorization: Bearer <token>.",
			"specUri":     "https://www.rfc-editor.org/info/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.baseURL(r) + "/ServiceProviderConfig"},
	})
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(doc)
}

// serveDiscovery hands /Schemas and /ResourceTypes to the library below
// the directory's base URL. Building the library's server is cheap.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(r)
	srv, err := libscim.NewServer(configFrom(r.Context()).args, libscim.WithBaseURL(base), libscim.WithLogger(s.discovery.log))
	if err != nil {
		writeError(w, s.toSCIMError(r, err))
		return
	}
	prefix := "/scim/v2/" + directoryFrom(r.Context()).ID
	http.StripPrefix(prefix, srv).ServeHTTP(w, r)
}

// notServed satisfies the library's handler interface for resource types
// whose endpoints scimd routes itself; it is never reached.
type notServed struct{}

var errNotServed = liberrors.ScimError{Status: http.StatusNotFound, Detail: "not served here"}

func (notServed) Create(*http.Request, libscim.ResourceAttributes) (libscim.Resource, error) {
	return libscim.Resource{}, errNotServed
}
func (notServed) Get(*http.Request, string) (libscim.Resource, error) {
	return libscim.Resource{}, errNotServed
}
func (notServed) GetAll(*http.Request, libscim.ListRequestParams) (libscim.Page, error) {
	return libscim.Page{}, errNotServed
}
func (notServed) Replace(*http.Request, string, libscim.ResourceAttributes) (libscim.Resource, error) {
	return libscim.Resource{}, errNotServed
}
func (notServed) Delete(*http.Request, string) error { return errNotServed }
func (notServed) Patch(*http.Request, string, []libscim.PatchOperation) (libscim.Resource, error) {
	return libscim.Resource{}, errNotServed
}

// slogAdapter gives the library's variadic Error logger a slog backend.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Error(args ...any) {
	if len(args) == 0 {
		return
	}
	msg, _ := args[0].(string)
	a.l.Error("scim library: "+msg, args[1:]...)
}
