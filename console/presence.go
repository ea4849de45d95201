package console

import (
	"context"
	"net/http"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

// presenceData is the Teams presence page.
type presenceData struct {
	// Available: the server runs the presence service.
	Available bool
	Status    presence.Status
	Label     string
	// Health is the state's mark, as in the directories list.
	Health Health
	// Revoked is what the revocation just done answered: the Entra-side
	// steps are shown once, after it.
	Revoked *presence.RevokeResult
	Cleared int
	// CanRevoke: there is an access to remove.
	CanRevoke bool
}

func (c *Console) presencePage(w http.ResponseWriter, r *http.Request) {
	c.renderPresence(w, r, nil)
}

func (c *Console) renderPresence(w http.ResponseWriter, r *http.Request, revoked *presence.RevokeResult) {
	d := DirectoryFrom(r.Context())
	data := presenceData{Available: c.admin.PresenceAvailable(), Revoked: revoked}
	if data.Available {
		st, err := c.admin.PresenceStatus(r.Context(), d.ID)
		if err != nil {
			c.fail(w, r, "read presence status", err)
			return
		}
		data.Status, data.Label, data.Health = st, presenceLabel(st.State), presenceHealth(st.State)
		data.CanRevoke = st.State != presence.NotConnected && st.State != store.PresenceRevoked
	}
	if revoked != nil {
		data.Cleared = int(revoked.PresenceRowsCleared)
	}
	c.render(w, r, "presence.html", &Page{Title: "Teams presence · " + d.Name, Active: "presence", Data: data})
}

// presenceHealth marks a presence state: green when connected, a warning
// when the admin has something to do.
func presenceHealth(state string) Health {
	switch state {
	case store.PresenceConnected:
		return Health{"ok", "Connected"}
	case store.PresenceNeedsConsent:
		return Health{"warn", "Waiting for admin consent"}
	case store.PresenceNeedsAdmin, store.PresenceError:
		return Health{"warn", presenceLabel(state)}
	case store.PresenceRevoked:
		return Health{"idle", "Access removed"}
	}
	return Health{"idle", "Not connected"}
}

// revokePresence removes scimd's access to the tenant's presence and
// answers with what is left to do in Entra (shown in this answer only).
func (c *Console) revokePresence(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	res, err := c.admin.RevokePresence(r.Context(), d.ID)
	if err != nil {
		c.fail(w, r, "revoke presence", err)
		return
	}
	c.renderPresence(w, r, &res)
}

// presenceStream streams the directory's presence changes to the
// console's pages, in the lookup API's format; the session is checked
// again at every heartbeat, so signing out or its expiry ends it.
func (c *Console) presenceStream(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Lookup == nil || !c.admin.PresenceAvailable() {
		http.Error(w, "Teams presence is not available on this server", http.StatusServiceUnavailable)
		return
	}
	d := DirectoryFrom(r.Context())
	s := SessionFrom(r.Context())
	hash := s.Hash
	c.cfg.Lookup.ServePresenceStream(w, r, d.ID, func(ctx context.Context) bool {
		cs, err := c.store.ConsoleSessionByHash(ctx, hash)
		now := c.cfg.Now()
		return err == nil && now.Before(cs.Expires) && now.Sub(cs.LastSeen) < c.cfg.IdleTimeout
	})
}
