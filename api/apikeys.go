package api

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/store"
)

// APIKeyPrefix starts every lookup-API key, so that a leaked key is
// recognisable and never mistaken for a SCIM or admin token.
const APIKeyPrefix = "scimd_key_"

// apiKeyJSON is an API key as the admin API shows it. Key is set only in
// the answer that creates it: the store keeps its hash alone.
type apiKeyJSON struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Key     string    `json:"key,omitempty"`
	Created time.Time `json:"created"`
}

type apiKeyListJSON struct {
	APIKeys []apiKeyJSON `json:"apiKeys"`
}

func (a *Admin) createAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	var req directoryRequest // the same {"name": ...} body and rules
	if !a.decode(w, r, &req) {
		return
	}
	name, ok := validName(w, req.Name)
	if !ok || !a.directoryExists(w, r, id) {
		return
	}
	key, hash := store.NewToken(APIKeyPrefix)
	keyID := uuid.NewString()
	ctx, _ := store.Audited(r.Context(), store.AuditAPIKeyCreated, map[string]string{"apiKeyId": keyID, "name": name})
	k, err := a.cfg.Store.CreateAPIKey(ctx, store.APIKey{
		ID:          keyID,
		DirectoryID: id,
		Name:        name,
		Hash:        hash,
	})
	if err != nil {
		a.apiKeyError(w, r, "create api key", err)
		return
	}
	a.log.InfoContext(r.Context(), "api key created", "directory_id", id, "api_key_id", k.ID)
	out := apiKeyOut(k)
	out.Key = key
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, out)
}

func (a *Admin) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok || !a.directoryExists(w, r, id) { // an unknown directory is not an empty list
		return
	}
	keys, err := a.cfg.Store.ListAPIKeys(r.Context(), id)
	if err != nil {
		a.storeError(w, r, "list api keys", err)
		return
	}
	out := apiKeyListJSON{APIKeys: make([]apiKeyJSON, 0, len(keys))}
	for _, k := range keys {
		out.APIKeys = append(out.APIKeys, apiKeyOut(k))
	}
	WriteJSON(w, http.StatusOK, out)
}

// deleteAPIKey revokes a key. Lookup auth reads the store on every
// request, so the key stops working with the commit. The key's name is
// read first for the audit trail: keys never change, so it is the name
// of the key deleted.
func (a *Admin) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	keyID := mux.Vars(r)["keyId"]
	if uuid.Validate(keyID) != nil {
		if a.directoryExists(w, r, id) {
			WriteError(w, http.StatusNotFound, "not_found", "API key not found")
		}
		return
	}
	keys, err := a.cfg.Store.ListAPIKeys(r.Context(), id)
	if err != nil {
		a.storeError(w, r, "list api keys", err)
		return
	}
	i := slices.IndexFunc(keys, func(k store.APIKey) bool { return k.ID == keyID })
	if i < 0 {
		if a.directoryExists(w, r, id) { // an unknown directory is 404 "directory not found"
			WriteError(w, http.StatusNotFound, "not_found", "API key not found")
		}
		return
	}
	ctx, _ := store.Audited(r.Context(), store.AuditAPIKeyRevoked, map[string]string{"apiKeyId": keyID, "name": keys[i].Name})
	if err := a.cfg.Store.DeleteAPIKey(ctx, id, keyID); err != nil {
		a.apiKeyError(w, r, "delete api key", err)
		return
	}
	a.log.InfoContext(r.Context(), "api key revoked", "directory_id", id, "api_key_id", keyID)
	w.WriteHeader(http.StatusNoContent)
}

// apiKeyError is storeError with the messages of a key: the directory was
// found just before, so a missing record is the key.
func (a *Admin) apiKeyError(w http.ResponseWriter, r *http.Request, op string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		WriteError(w, http.StatusNotFound, "not_found", "API key not found")
	case errors.Is(err, store.ErrConflict):
		// Only a colliding id or key, which 256 random bits make moot.
		WriteError(w, http.StatusConflict, "conflict", "the new API key collided with an existing one; try again")
	default:
		a.storeError(w, r, op, err)
	}
}

func apiKeyOut(k store.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Name: k.Name, Created: k.Created.UTC()}
}
