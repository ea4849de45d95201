package presence

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/scimd/scimd/store"
)

// Several scimd processes on one shared store (Config.Shared):
//
//   - Each directory is polled by the process holding its lease
//     ("presence:" + directory id). The holder renews its leases every
//     third of LeaseTTL; every process then also tries to take the leases
//     of connected directories nobody polls, so a dead holder's
//     directories move within LeaseTTL and a third. A process that cannot
//     renew (the database is away) for longer than LeaseTTL stops its
//     pollers, since another process may hold their leases by then.
//   - Link changes reach every process through the store's change feed:
//     a revocation stops the holder's poller at once, a new credential or
//     consent restarts it, and every process's view (state, last poll)
//     follows the holder's cycles, so that all serve presence alike.
//   - Presence changes are recorded by the store, numbered per directory;
//     every process streams them from there (hub.go), so stream ids mean
//     the same on each.

const leasePrefix = "presence:"

// lease takes the directory's lease; a single process always has it.
func (s *Service) lease(ctx context.Context, dir string) bool {
	if s.shared == nil {
		return true
	}
	ok, err := s.shared.TryLease(ctx, leasePrefix+dir, s.owner, s.leaseTTL)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("presence: cannot take the directory's poller lease", "directory", dir, "err", err)
	}
	return err == nil && ok
}

// release gives the directory's lease up, so another process can take it
// at once.
func (s *Service) release(dir string) {
	if s.shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.shared.ReleaseLease(ctx, leasePrefix+dir, s.owner); err != nil {
		s.log.Warn("presence: cannot release the directory's poller lease; it expires by itself", "directory", dir, "err", err)
	}
}

// coordinate renews this process's leases and takes orphaned directories
// over until ctx ends.
func (s *Service) coordinate(ctx context.Context) {
	renewed := time.Now()
	t := time.NewTicker(s.leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.renew(ctx, renewed) {
			renewed = time.Now()
		}
		s.refresh(ctx)
	}
}

// renew extends this process's leases and stops the pollers whose lease
// was lost. It reports whether the store answered.
func (s *Service) renew(ctx context.Context, lastRenewed time.Time) bool {
	asked := time.Now()
	held, err := s.shared.RenewLeases(ctx, s.owner, leasePrefix, s.leaseTTL)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		if time.Since(lastRenewed) > s.leaseTTL {
			s.log.Error("presence: cannot renew poller leases; stopping this process's pollers", "err", err)
			for _, dir := range s.polled(time.Now()) {
				s.halt(dir)
			}
		}
		return false
	}
	keep := make(map[string]bool, len(held))
	for _, name := range held {
		keep[name[len(leasePrefix):]] = true
	}
	for _, dir := range s.polled(asked) {
		if !keep[dir] {
			s.log.Warn("presence: lost the directory's poller lease; another process polls it", "directory", dir)
			s.halt(dir)
		}
	}
	return true
}

// polled lists the directories this process polls under leases taken
// before t.
func (s *Service) polled(t time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dirs []string
	for dir, p := range s.pollers {
		if p.leased.Before(t) {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// refresh reads every link: views follow the other processes, pollers of
// links that no longer want one stop, and directories nobody polls are
// taken over.
func (s *Service) refresh(ctx context.Context) {
	links, err := s.cfg.Store.ListPresenceLinks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("presence: cannot list presence links", "err", err)
		}
		return
	}
	seen := make(map[string]bool, len(links))
	for _, l := range links {
		seen[l.DirectoryID] = true
		s.linkChanged(l, true)
	}
	s.mu.Lock()
	var gone []string
	for dir := range s.pollers {
		if !seen[dir] {
			gone = append(gone, dir)
		}
	}
	s.mu.Unlock()
	for _, dir := range gone { // the directory was deleted
		s.stop(dir)
		s.views.Delete(dir)
	}
}

// follow applies the change feed until ctx ends.
func (s *Service) follow(ctx context.Context) {
	ch, cancel := s.shared.Changes()
	defer cancel()
	for {
		var c store.Change
		var ok bool
		select {
		case <-ctx.Done():
			return
		case c, ok = <-ch:
			if !ok {
				return
			}
		}
		switch c.Kind {
		case store.ChangePresenceLink, store.ChangeDirectory:
			s.reload(ctx, c.DirectoryID)
		case store.ChangePresence:
			s.hub.catchUp(c.DirectoryID, c.Seq)
		case store.ChangeResync:
			s.refresh(ctx)
			s.hub.resync()
		}
	}
}

// reload reads one directory's link after a change.
func (s *Service) reload(ctx context.Context, dir string) {
	l, err := s.cfg.Store.GetPresenceLink(ctx, dir)
	switch {
	case errors.Is(err, store.ErrNotFound): // never connected, or deleted
		if _, known := s.views.Load(dir); known {
			s.stop(dir)
			s.views.Delete(dir)
			s.hub.forget(dir)
		}
	case err != nil:
		if ctx.Err() == nil {
			s.log.Warn("presence: cannot read a changed presence link; the next refresh retries", "directory", dir, "err", err)
		}
	default:
		s.linkChanged(l, false)
	}
}

// linkChanged brings this process in line with a link as stored. A
// process that does not poll the directory tries to take it over when
// the state changed, or on every refresh (takeover): not on each of the
// holder's saves, which change nothing for it.
func (s *Service) linkChanged(l store.PresenceLink, takeover bool) {
	dir := l.DirectoryID
	prev := ""
	if v, ok := s.views.Load(dir); ok {
		prev = v.(view).state
	}
	revoked := l.State == store.PresenceRevoked && prev != store.PresenceRevoked
	s.mu.Lock()
	p := s.pollers[dir]
	s.mu.Unlock()
	if p == nil {
		s.setView(dir, l)
		if revoked {
			s.hub.forget(dir)
		}
		if takeover || l.State != prev {
			s.start(l) // taken only if nobody holds the lease
		}
		return
	}
	switch {
	case !wantsPoller(l):
		s.stop(dir)
		s.setView(dir, l)
		if revoked {
			s.hub.forget(dir)
		}
	case !sameSetup(p.setup, l):
		// An admin changed the credentials or started a consent: poll
		// with what is stored now (the poller's own saves would
		// otherwise write its old copy back).
		s.halt(dir)
		s.setView(dir, l)
		s.start(l)
	}
	// Otherwise it is this process's own poller's save: its view is
	// current already.
}

// sameSetup reports whether two links agree on what an admin sets.
func sameSetup(a, b store.PresenceLink) bool {
	return a.TenantID == b.TenantID && a.ClientID == b.ClientID && a.Credential == b.Credential &&
		bytes.Equal(a.Sealed, b.Sealed) && bytes.Equal(a.ConsentStateHash, b.ConsentStateHash) &&
		// The store keeps microseconds: an expiry set in memory has more.
		a.ConsentExpires.Truncate(time.Microsecond).Equal(b.ConsentExpires.Truncate(time.Microsecond))
}

// changeEvent turns a recorded change into a stream event, with this
// process's view of the directory.
func (s *Service) changeEvent(dir string, c store.PresenceChange) Event {
	ev := Event{ContactID: c.UserID}
	if c.Presence != nil {
		ev.Presence = s.contactPresence(dir, c.Presence)
	}
	return ev
}
