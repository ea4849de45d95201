package server

import (
	"context"
	"log/slog"
	"time"
)

// pruneInterval is how often the sync log is pruned after the prune at
// start. Events expire by the hour at most, so hourly keeps the log within
// an hour of its retention.
const pruneInterval = time.Hour

// syncPruner is what the pruner needs of the store.
type syncPruner interface {
	PruneSyncEvents(ctx context.Context, before time.Time) (int64, error)
}

// syncLogPruner deletes sync events older than the retention: at start,
// then every pruneInterval, until its context ends.
type syncLogPruner struct {
	store     syncPruner
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
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
	if p.pruned != nil {
		p.pruned(n, err)
	}
}
