package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// Settings keys written by bootstrap.
const (
	settingAdminTokenHash = "admin_token_sha256"
	// settingInitialized marks a database whose first start is done, so that
	// deleting every directory later does not bring "default" back.
	settingInitialized = "initialized_at"
)

// adminTokenPrefix starts generated admin tokens; it differs from SCIM
// tokens so that an operator can tell the two apart.
const adminTokenPrefix = "scimd_admin_"

// bootstrap performs first-start setup and returns the admin token hash.
//
// On an empty database (no directories, no admin token, never initialised)
// it creates the directory "default" and prints its SCIM base URL and token
// to out, once. The admin token comes from the configuration (hashed in
// memory only), else from the store, else it is generated, stored hashed
// and printed to out, once. Secrets go to out, never to the log.
//
// Replicas starting together on one shared store take turns (a lease),
// so that one of them creates "default" and the admin token, and the
// others find them.
func bootstrap(ctx context.Context, st store.Store, cfg Config, log *slog.Logger, out io.Writer, now func() time.Time) ([]byte, error) {
	if shared, ok := st.(store.Shared); ok {
		release, err := takeTurn(ctx, shared, bootstrapLease)
		if err != nil {
			return nil, fmt.Errorf("first-start setup: %w", err)
		}
		defer release()
	}
	fresh, err := isFresh(ctx, st)
	if err != nil {
		return nil, err
	}
	if fresh {
		if err := createDefaultDirectory(ctx, st, cfg, log, out); err != nil {
			return nil, err
		}
	}
	hash, err := adminTokenHash(ctx, st, cfg, log, out)
	if err != nil {
		return nil, err
	}
	if fresh {
		if err := st.SetSetting(ctx, settingInitialized, []byte(now().UTC().Format(time.RFC3339))); err != nil {
			return nil, fmt.Errorf("record first start: %w", err)
		}
	}
	return hash, nil
}

// bootstrapLease serialises the first-start setup of replicas.
const bootstrapLease = "job:bootstrap"

// turnTTL bounds how long a replica that died during its setup holds the
// others up.
const turnTTL = 30 * time.Second

// takeTurn waits until this process holds the named lease and returns
// the function that releases it.
func takeTurn(ctx context.Context, shared store.Shared, name string) (func(), error) {
	owner, _ := store.NewToken("")
	ctx, cancel := context.WithTimeout(ctx, 2*turnTTL)
	defer cancel()
	for {
		ok, err := shared.TryLease(ctx, name, owner, turnTTL)
		if err != nil {
			return nil, err
		}
		if ok {
			return func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = shared.ReleaseLease(rctx, name, owner) // else it expires
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("another replica held %s for too long: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isFresh(ctx context.Context, st store.Store) (bool, error) {
	dirs, err := st.ListDirectories(ctx)
	if err != nil {
		return false, fmt.Errorf("list directories: %w", err)
	}
	if len(dirs) > 0 {
		return false, nil
	}
	for _, key := range []string{settingAdminTokenHash, settingInitialized} {
		_, err := st.GetSetting(ctx, key)
		switch {
		case err == nil:
			return false, nil
		case !errors.Is(err, store.ErrNotFound):
			return false, fmt.Errorf("read setting %s: %w", key, err)
		}
	}
	return true, nil
}

func createDefaultDirectory(ctx context.Context, st store.Store, cfg Config, log *slog.Logger, out io.Writer) error {
	token, hash := store.NewToken(api.SCIMTokenPrefix)
	actx, _ := store.Audited(store.WithActor(ctx, store.Actor{Type: store.ActorBootstrap}), store.AuditDirectoryCreated,
		map[string]string{"name": "default"})
	d, err := st.CreateDirectory(actx, store.Directory{ID: uuid.NewString(), Name: "default", SCIMTokenHash: hash})
	if err != nil {
		return fmt.Errorf("create default directory: %w", err)
	}
	log.Info("first start: created directory default", "directory_id", d.ID)
	_, err = fmt.Fprintf(out, `
scimd: first start. Created the directory "default".
Paste these into Entra (enterprise application > Provisioning > Admin Credentials):

  Tenant URL:    %s
  Secret Token:  %s

The token is shown only now. Rotate it with POST /admin/v1/directories/%s/token.

`, scim.BaseURL(cfg.PublicURL, d.ID), token, d.ID)
	if err != nil {
		return fmt.Errorf("print default directory: %w", err)
	}
	return nil
}

func adminTokenHash(ctx context.Context, st store.Store, cfg Config, log *slog.Logger, out io.Writer) ([]byte, error) {
	if cfg.AdminToken != "" {
		log.Info("admin token: from SCIMD_ADMIN_TOKEN")
		return store.HashToken(cfg.AdminToken), nil
	}
	hash, err := st.GetSetting(ctx, settingAdminTokenHash)
	if err == nil {
		if len(hash) != len(store.HashToken("")) {
			return nil, fmt.Errorf("setting %s holds %d bytes, not a SHA-256 hash; set SCIMD_ADMIN_TOKEN", settingAdminTokenHash, len(hash))
		}
		log.Info("admin token: stored hash")
		return hash, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read setting %s: %w", settingAdminTokenHash, err)
	}
	token, hash := store.NewToken(adminTokenPrefix)
	if err := st.SetSetting(ctx, settingAdminTokenHash, hash); err != nil {
		return nil, fmt.Errorf("store admin token hash: %w", err)
	}
	log.Info("admin token: generated, stored hashed and printed to stdout")
	_, err = fmt.Fprintf(out, `scimd: generated an admin token for the admin API (%s/admin/v1).
It is stored hashed and shown only now; set SCIMD_ADMIN_TOKEN to use your own instead.

  Admin Token:   %s

`, cfg.PublicURL, token)
	if err != nil {
		return nil, fmt.Errorf("print admin token: %w", err)
	}
	return hash, nil
}
