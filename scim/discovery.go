package scim

import (
	"encoding/json"
	"log/slog"
	"net/http"

	libscim "github.com/elimity-com/scim"
	liberrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// discovery serves /Schemas and /ResourceTypes through the library, from
// the same schema definitions the resource endpoints validate against.
type discovery struct {
	args   *libscim.ServerArgs
	log    libscim.Logger
	spcDoc []byte
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
	// The library's ServiceProviderConfig says etag is unsupported; scimd
	// supports ETags (meta.version, If-Match), so it answers itself.
	spc, _ := json.Marshal(map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/scimd/scimd#readme",
		"patch":            map[string]bool{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxResults},
		"changePassword":   map[string]bool{"supported": false},
		"sort":             map[string]bool{"supported": false},
		"etag":             map[string]bool{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "The directory's SCIM secret token, sent as Authorization: Bearer <token>.",
			"primary":     true,
		}},
		"meta": map[string]string{"resourceType": "ServiceProviderConfig"},
	})
	return &discovery{args: args, log: slogAdapter{log}, spcDoc: spc}
}

func (d *discovery) serviceProviderConfig(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(d.spcDoc)
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
