package console

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
)

// apiKeysData is the API keys page: the directory's lookup-API keys and,
// in the answer that created it, the new key, shown once.
type apiKeysData struct {
	Keys []api.APIKey
	// New is the key just created, with its secret.
	New *api.APIKey
	// Name is the name field as sent back after a refusal.
	Name string
	// LookupURL is the lookup API's base for this directory.
	LookupURL string
}

func (c *Console) apiKeysPage(w http.ResponseWriter, r *http.Request) {
	c.renderAPIKeys(w, r, http.StatusOK, "", apiKeysData{})
}

func (c *Console) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, errMsg string, data apiKeysData) {
	d := DirectoryFrom(r.Context())
	keys, err := c.admin.ListAPIKeys(r.Context(), d.ID)
	if err != nil {
		c.fail(w, r, "list api keys", err)
		return
	}
	data.Keys = keys
	data.LookupURL = c.admin.PublicURL() + "/api/v1/directories/" + d.ID
	c.renderStatus(w, r, status, "apikeys.html", &Page{Title: "API keys · " + d.Name, Active: "apikeys", Flash: flash(r), Error: errMsg, Data: data})
}

// createAPIKey creates a key and shows it in this answer only: it is
// never put in a redirect.
func (c *Console) createAPIKey(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	name := r.PostFormValue("name")
	k, err := c.admin.CreateAPIKey(r.Context(), d.ID, name)
	if err != nil {
		if status, msg, ok := problemMessage(err); ok {
			c.renderAPIKeys(w, r, status, msg, apiKeysData{Name: name})
			return
		}
		c.internalError(w, r, "create api key", err)
		return
	}
	c.renderAPIKeys(w, r, http.StatusOK, "", apiKeysData{New: &k})
}

func (c *Console) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	if err := c.admin.RevokeAPIKey(r.Context(), d.ID, mux.Vars(r)["keyId"]); err != nil {
		c.fail(w, r, "revoke api key", err)
		return
	}
	http.Redirect(w, r, Prefix+"/directories/"+d.ID+"/api-keys?done=key-revoked", http.StatusSeeOther)
}
