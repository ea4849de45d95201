package api

import (
	"context"
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

// APIKey is a lookup-API key as the admin API and the console show it.
// Key is set only in the answer that creates it.
type APIKey = apiKeyJSON

// CreateAPIKey creates a lookup-API key of the directory, shown only in
// the answer.
func (a *Admin) CreateAPIKey(ctx context.Context, directoryID, name string) (APIKey, error) {
	name, err := ValidName(name) // the directory's name rules
	if err != nil {
		return APIKey{}, err
	}
	if err := a.directoryFound(ctx, directoryID); err != nil {
		return APIKey{}, err
	}
	key, hash := store.NewToken(APIKeyPrefix)
	keyID := uuid.NewString()
	actx, _ := store.Audited(ctx, store.AuditAPIKeyCreated, map[string]string{"apiKeyId": keyID, "name": name})
	k, err := a.cfg.Store.CreateAPIKey(actx, store.APIKey{
		ID:          keyID,
		DirectoryID: directoryID,
		Name:        name,
		Hash:        hash,
	})
	if err != nil {
		return APIKey{}, apiKeyProblem(err)
	}
	a.log.InfoContext(ctx, "api key created", "directory_id", directoryID, "api_key_id", k.ID)
	out := apiKeyOut(k)
	out.Key = key
	return out, nil
}

// ListAPIKeys returns the directory's keys, oldest first; an unknown
// directory is not an empty list.
func (a *Admin) ListAPIKeys(ctx context.Context, directoryID string) ([]APIKey, error) {
	if err := a.directoryFound(ctx, directoryID); err != nil {
		return nil, err
	}
	keys, err := a.cfg.Store.ListAPIKeys(ctx, directoryID)
	if err != nil {
		return nil, storeProblem(err, "directory not found")
	}
	out := make([]APIKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, apiKeyOut(k))
	}
	return out, nil
}

// RevokeAPIKey revokes a key. Lookup auth reads the store on every
// request, so the key stops working with the commit. The key's name is
// read first for the audit trail: keys never change, so it is the name
// of the key deleted.
func (a *Admin) RevokeAPIKey(ctx context.Context, directoryID, keyID string) error {
	keyNotFound := newProblem(http.StatusNotFound, "not_found", "API key not found")
	if uuid.Validate(keyID) != nil {
		if err := a.directoryFound(ctx, directoryID); err != nil {
			return err
		}
		return keyNotFound
	}
	keys, err := a.cfg.Store.ListAPIKeys(ctx, directoryID)
	if err != nil {
		return storeProblem(err, "directory not found")
	}
	i := slices.IndexFunc(keys, func(k store.APIKey) bool { return k.ID == keyID })
	if i < 0 {
		if err := a.directoryFound(ctx, directoryID); err != nil { // an unknown directory is 404 "directory not found"
			return err
		}
		return keyNotFound
	}
	actx, _ := store.Audited(ctx, store.AuditAPIKeyRevoked, map[string]string{"apiKeyId": keyID, "name": keys[i].Name})
	if err := a.cfg.Store.DeleteAPIKey(actx, directoryID, keyID); err != nil {
		return apiKeyProblem(err)
	}
	a.log.InfoContext(ctx, "api key revoked", "directory_id", directoryID, "api_key_id", keyID)
	return nil
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
	if req.Name == nil {
		a.fail(w, r, "create api key", errNameRequired)
		return
	}
	out, err := a.CreateAPIKey(r.Context(), id, *req.Name)
	if err != nil {
		a.fail(w, r, "create api key", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, out)
}

func (a *Admin) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	keys, err := a.ListAPIKeys(r.Context(), id)
	if err != nil {
		a.fail(w, r, "list api keys", err)
		return
	}
	WriteJSON(w, http.StatusOK, apiKeyListJSON{APIKeys: keys})
}

func (a *Admin) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := directoryID(w, r)
	if !ok {
		return
	}
	if err := a.RevokeAPIKey(r.Context(), id, mux.Vars(r)["keyId"]); err != nil {
		a.fail(w, r, "delete api key", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiKeyProblem is storeProblem with the messages of a key: the
// directory was found just before, so a missing record is the key.
func apiKeyProblem(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newProblem(http.StatusNotFound, "not_found", "API key not found")
	case errors.Is(err, store.ErrConflict):
		// Only a colliding id or key, which 256 random bits make moot.
		return newProblem(http.StatusConflict, "conflict", "the new API key collided with an existing one; try again")
	}
	return storeProblem(err, "directory not found")
}

func apiKeyOut(k store.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Name: k.Name, Created: k.Created.UTC()}
}
