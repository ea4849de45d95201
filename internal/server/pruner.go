package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/scimd/scimd/store"
)

// pruneInterval is how often the sync log is pruned after the prune at
// start. Events expire by the hour at most, so hourly keeps the log within
// an hour of its retention.
const pruneInterval = time.Hour

// syncPruner is what the pruner needs of the store.
type syncPruner interface {
	PruneSyncEvents(ctx context.Context, before time.Time) (int64, error)
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// eventPruner is what the pruner needs of the store for change events.
type eventPruner interface {
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
}

// deliveryPruner is what the pruner needs of the store for the webhook
// delivery log.
type deliveryPruner interface {
	PruneDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// presenceChangeRetention is how long a shared store keeps recorded
// presence changes: how long a stream client may be away and still
// resume where it left off.
const presenceChangeRetention = time.Hour

// pruneLease is the lease of the prune job: with several processes on a
// shared store, the one that takes it prunes, the others skip that hour.
const pruneLease = "job:prune"

// syncLogPruner deletes sync events and audit entries older than the
// retention: at start, then every pruneInterval, until its context ends.
type syncLogPruner struct {
	store syncPruner
	// shared, when set, makes the prune a job of one process at a time,
	// which also prunes recorded presence changes and finishes directory
	// deletes another process left behind; owner names this process.
	shared    store.Shared
	owner     string
	resume    func(context.Context) (int, error)
	retention time.Duration
	// events, when set, has its change events pruned after
	// eventRetention, with the sync log.
	events         eventPruner
	eventRetention time.Duration
	// deliveries, when set, has its webhook delivery log pruned with the
	// change events: an entry lives as long as its event.
	deliveries deliveryPruner
	now        func() time.Time
	log        *slog.Logger
	// ticks, when set, replaces the hourly ticker (tests).
	ticks <-chan time.Time
	// pruned, when set, is called after each prune (tests).
	pruned func(deleted int64, err error)
}

// run prunes until ctx ends. A failed prune is logged and retried at the
// next tick: the log growing for an hour is no reason to stop serving.
func (p *syncLogPruner) run(ctx context.Context) error {
	ticks := p.ticks
	if ticks == nil {
		t := time.NewTicker(pruneInterval)
		defer t.Stop()
		ticks = t.C
	}
	for {
		p.prune(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}

func (p *syncLogPruner) prune(ctx context.Context) {
	if p.shared != nil {
		// A lease a little shorter than the interval: one process an hour.
		ok, err := p.shared.TryLease(ctx, pruneLease, p.owner, pruneInterval*9/10)
		if err != nil || !ok {
			p.log.DebugContext(ctx, "sync log prune left to another process", "err", err)
			return
		}
		p.sharedJobs(ctx)
	}
	before := p.now().Add(-p.retention).UTC()
	n, err := p.store.PruneSyncEvents(ctx, before)
	switch {
	case err != nil && ctx.Err() != nil:
		p.log.InfoContext(ctx, "sync log prune stopped by shutdown", "deleted", n)
	case err != nil:
		p.log.ErrorContext(ctx, "sync log prune failed", "deleted", n, "err", err)
	case n > 0:
		p.log.InfoContext(ctx, "sync log pruned", "deleted", n, "before", before)
	default:
		p.log.DebugContext(ctx, "sync log pruned", "deleted", n, "before", before)
	}
	// The audit trail is kept as long as the sync log. A failure here
	// does not count as the sync log's: the next hour retries both.
	switch na, aerr := p.store.PruneAudit(ctx, before); {
	case aerr != nil && ctx.Err() != nil:
	case aerr != nil:
		p.log.ErrorContext(ctx, "audit trail prune failed", "deleted", na, "err", aerr)
	case na > 0:
		p.log.InfoContext(ctx, "audit trail pruned", "deleted", na, "before", before)
	}
	if p.events != nil {
		cut := p.now().Add(-p.eventRetention).UTC()
		switch ne, eerr := p.events.PruneEvents(ctx, cut); {
		case eerr != nil && ctx.Err() != nil:
		case eerr != nil:
			p.log.ErrorContext(ctx, "change event prune failed", "deleted", ne, "err", eerr)
		case ne > 0:
			p.log.InfoContext(ctx, "change events pruned", "deleted", ne, "before", cut)
		}
		if p.deliveries != nil {
			switch nd, derr := p.deliveries.PruneDeliveries(ctx, cut); {
			case derr != nil && ctx.Err() != nil:
			case derr != nil:
				p.log.ErrorContext(ctx, "webhook delivery log prune failed", "deleted", nd, "err", derr)
			case nd > 0:
				p.log.InfoContext(ctx, "webhook delivery log pruned", "deleted", nd, "before", cut)
			}
		}
	}
	if p.pruned != nil {
		p.pruned(n, err)
	}
}

// sharedJobs are the hourly jobs of a shared store besides the sync log.
func (p *syncLogPruner) sharedJobs(ctx context.Context) {
	if n, err := p.shared.PrunePresenceChanges(ctx, p.now().Add(-presenceChangeRetention)); err != nil && ctx.Err() == nil {
		p.log.ErrorContext(ctx, "presence change prune failed", "err", err)
	} else if n > 0 {
		p.log.InfoContext(ctx, "presence changes pruned", "deleted", n)
	}
	if p.resume == nil {
		return
	}
	if n, err := p.resume(ctx); err != nil && ctx.Err() == nil {
		p.log.ErrorContext(ctx, "resuming directory deletes failed", "err", err)
	} else if n > 0 {
		p.log.InfoContext(ctx, "resumed directory deletes", "directories", n)
	}
}
