package presence

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/scimd/scimd/store"
)

// Cadences (docs/GRAPH-PRESENCE.md §4, §5, §9).
const (
	maxInterval        = 10 * time.Minute // AIMD ceiling after throttling
	adminProbeInterval = 30 * time.Minute // needs_admin: probe the token endpoint
	consentProbeEvery  = 10 * time.Minute // needs_consent: probe one id
	strikesForConsent  = 3                // 403s ...
	strikeSpan         = 5 * time.Minute  // ... over at least this long → needs_consent
	maxRetryAfter      = 10 * time.Minute
	maxThrottleBackoff = 5 * time.Minute
	serverErrorTries   = 3
	// pace keeps a tenant under 750 requests per 30 s, half of Graph's
	// limit for the app in that tenant.
	pace = 30 * time.Second / 750
)

// tenantGate is shared by every directory polling one tenant with one app:
// a 429 holds them all, and requests are paced.
type tenantGate struct {
	mu    sync.Mutex
	until time.Time // no request before this (Retry-After)
	next  time.Time // pacing
}

// wait blocks until the tenant may send a request.
func (g *tenantGate) wait(ctx context.Context, now func() time.Time) error {
	g.mu.Lock()
	t := latest(g.until, g.next, now())
	g.next = t.Add(pace)
	g.mu.Unlock()
	return sleepUntil(ctx, now, t)
}

func (g *tenantGate) hold(until time.Time) {
	g.mu.Lock()
	g.until = latest(g.until, until)
	g.mu.Unlock()
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

func sleepUntil(ctx context.Context, now func() time.Time, t time.Time) error {
	return sleep(ctx, t.Sub(now()))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jitter spreads d by ±10%; startOffset spreads directories over the
// interval after a restart. Variables, so that tests can make cycles
// regular.
var (
	jitter = func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
	}
	startOffset = func(interval time.Duration) time.Duration {
		return time.Duration(rand.Int64N(int64(interval)/10 + 1))
	}
)

// poller polls one directory until its context ends.
type poller struct {
	s    *Service
	dir  string
	link store.PresenceLink
	// setup is link as the poller started with it: what an admin sets
	// (credentials, consent), which the poller never changes. Another
	// process's change to it restarts the poller (cluster.go).
	setup  store.PresenceLink
	leased time.Time // when start took the lease (before the poller ran)
	cred   credential
	gate   *tenantGate
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	known      map[string]store.Presence // user id → stored presence
	interval   time.Duration             // current, grows after 429s
	strikes    []time.Time               // recent 403s
	quarantine map[string]int64          // user id → version whose object id Graph refused
	backoff    time.Duration             // token endpoint transient failures
}

// run is the poller's loop.
func (p *poller) run(ctx context.Context) {
	defer close(p.done)
	known, err := p.s.cfg.Store.ListPresence(ctx, p.dir)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error("presence: cannot read stored presence", "err", err)
		}
		return
	}
	p.known = make(map[string]store.Presence, len(known))
	for _, k := range known {
		p.known[k.UserID] = k
	}
	p.interval = p.s.interval()
	p.quarantine = map[string]int64{}
	wait := startOffset(p.interval)
	for {
		if sleep(ctx, wait) != nil {
			return
		}
		switch p.link.State {
		case store.PresenceConnected:
			wait = p.cycle(ctx)
		case store.PresenceNeedsConsent:
			wait = p.probe(ctx, consentProbeEvery)
		case store.PresenceNeedsAdmin:
			wait = p.probe(ctx, adminProbeInterval)
		default:
			return
		}
	}
}

// target is a user to ask about, with its canonical object id.
type target struct {
	store.PresenceTarget
	oid string
}

// targets returns the users to poll, sorted by object id, and how many
// were skipped because their object id is not a GUID.
func (p *poller) targets(ctx context.Context) ([]target, int, error) {
	all, err := p.s.cfg.Store.PresenceTargets(ctx, p.dir)
	if err != nil {
		return nil, 0, err
	}
	out := make([]target, 0, len(all))
	skipped := 0
	for _, t := range all {
		oid, ok := objectID(t.ObjectID)
		if !ok {
			skipped++
			continue
		}
		if v, bad := p.quarantine[t.UserID]; bad && v == t.Version {
			continue // Graph refused this id; wait for its SCIM record to change
		}
		out = append(out, target{t, oid})
	}
	slices.SortFunc(out, func(a, b target) int { return cmp.Compare(a.oid, b.oid) })
	return out, skipped, nil
}

// cycle polls every target once and returns the wait before the next.
func (p *poller) cycle(ctx context.Context) time.Duration {
	targets, skipped, err := p.targets(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error("presence: cannot list contacts", "err", err)
		}
		return jitter(p.interval)
	}
	seen := make(map[string]bool, len(targets))
	complete := true
	var lastErr error
	for start := 0; start < len(targets); start += maxBatch {
		batch := targets[start:min(start+maxBatch, len(targets))]
		got, err := p.batch(ctx, batch)
		if ctx.Err() != nil {
			return 0 // stopped: an in-flight result is discarded
		}
		if err != nil {
			complete, lastErr = false, err
			var stop *stopCycle
			if errors.As(err, &stop) {
				break
			}
			continue
		}
		p.apply(ctx, batch, got, seen)
	}
	if ctx.Err() != nil {
		return 0
	}
	outcome := "ok"
	switch {
	case lastErr != nil && len(seen) == 0:
		outcome = "failed"
	case lastErr != nil:
		outcome = "partial"
	}
	p.s.metrics.polls.WithLabelValues(outcome).Inc()
	if p.link.State != store.PresenceConnected {
		// A batch moved the directory to needs_consent or needs_admin.
		p.save(ctx, lastErr)
		return jitter(consentProbeEvery)
	}
	if complete {
		// Users no longer polled (inactive, deleted, or without an id) and
		// users Graph no longer reports lose their presence.
		var del []string
		for id := range p.known {
			if !seen[id] {
				del = append(del, id)
			}
		}
		p.store(ctx, nil, del)
		p.link.LastPoll = p.s.now()
		p.interval = max(p.s.interval(), p.interval*9/10) // AIMD: recover
	}
	p.link.ContactsPolled, p.link.Skipped = len(targets), skipped
	p.save(ctx, lastErr)
	return jitter(p.interval)
}

// stopCycle ends a cycle early: the rest would fail the same way.
type stopCycle struct{ err error }

func (e *stopCycle) Error() string { return e.err.Error() }
func (e *stopCycle) Unwrap() error { return e.err }

// batch asks Graph about one batch, handling throttling, server errors,
// expired tokens and refusals. A lone id Graph refuses with 400 is
// quarantined; a larger batch is split in two.
func (p *poller) batch(ctx context.Context, batch []target) ([]graphPresence, error) {
	ids := make([]string, len(batch))
	for i, t := range batch {
		ids[i] = t.oid
	}
	refreshed := false
	serverErrors, throttles := 0, 0
	for {
		tok, err := p.token(ctx)
		if err != nil {
			return nil, &stopCycle{err}
		}
		if err := p.gate.wait(ctx, p.s.now); err != nil {
			return nil, err
		}
		p.s.metrics.batches.Inc()
		got, err := p.s.graph.presences(ctx, tok, ids)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ge *GraphError
		switch {
		case err == nil:
			p.s.metrics.graphStatus.WithLabelValues("200").Inc()
			p.strikes = p.strikes[:0]
			return got, nil
		case !errors.As(err, &ge):
			p.s.metrics.graphStatus.WithLabelValues("0").Inc()
			serverErrors++
			if serverErrors >= serverErrorTries {
				return nil, &stopCycle{fmt.Errorf("Microsoft Graph unreachable: %w", err)}
			}
			if sleep(ctx, time.Duration(1<<(serverErrors-1))*time.Second) != nil {
				return nil, ctx.Err()
			}
			continue
		}
		p.s.metrics.graphStatus.WithLabelValues(strconv.Itoa(ge.Status)).Inc()
		switch {
		case ge.Status == http.StatusTooManyRequests:
			p.s.metrics.throttled.Inc()
			throttles++
			wait := min(ge.RetryAfter, maxRetryAfter)
			if ge.RetryAfter == 0 {
				wait = jitter(min(5*time.Second<<min(throttles-1, 10), maxThrottleBackoff))
			}
			p.gate.hold(p.s.now().Add(wait))
			p.interval = min(p.interval*2, maxInterval) // AIMD: back off
			continue                                    // the gate makes the retry wait
		case ge.Status >= 500:
			serverErrors++
			if serverErrors >= serverErrorTries {
				return nil, &stopCycle{ge}
			}
			wait := ge.RetryAfter
			if wait == 0 {
				wait = time.Duration(1<<(serverErrors-1)) * time.Second
			}
			if sleep(ctx, min(wait, maxRetryAfter)) != nil {
				return nil, ctx.Err()
			}
			continue
		case ge.Status == http.StatusUnauthorized || ge.Status == http.StatusForbidden:
			if !refreshed {
				refreshed = true
				p.s.tokens.invalidate(p.link.TenantID, p.link.ClientID, tok)
				continue
			}
			if ge.Status == http.StatusForbidden {
				p.strike(ge)
			}
			return nil, &stopCycle{ge}
		case ge.Status == http.StatusBadRequest && len(batch) > 1:
			half := len(batch) / 2
			a, errA := p.batch(ctx, batch[:half])
			if errA != nil && !isBadRequest(errA) {
				return nil, errA
			}
			b, errB := p.batch(ctx, batch[half:])
			if errB != nil && !isBadRequest(errB) {
				return nil, errB
			}
			return append(a, b...), nil
		case ge.Status == http.StatusBadRequest:
			p.quarantine[batch[0].UserID] = batch[0].Version
			p.log.Warn("presence: Graph refused an object id; skipping it until its SCIM record changes",
				"user", batch[0].UserID)
			return nil, ge
		default:
			return nil, &stopCycle{ge}
		}
	}
}

func isBadRequest(err error) bool {
	var ge *GraphError
	return errors.As(err, &ge) && ge.Status == http.StatusBadRequest
}

// strike counts a 403 that survived a token refresh: consent removed.
func (p *poller) strike(ge *GraphError) {
	now := p.s.now()
	p.strikes = append(p.strikes, now)
	if len(p.strikes) >= strikesForConsent && now.Sub(p.strikes[0]) >= strikeSpan {
		p.setState(store.PresenceNeedsConsent)
		p.log.Warn("presence: Graph keeps refusing presence (403): admin consent for Presence.Read.All was removed", "err", ge)
	}
}

// token returns the tenant's token, moving the directory to needs_admin
// when the identity platform refuses the app.
func (p *poller) token(ctx context.Context) (string, error) {
	tok, err := p.s.tokens.get(ctx, p.link.TenantID, p.link.ClientID, p.cred)
	var te *TokenError
	switch {
	case err == nil:
		p.backoff = 0
		return tok, nil
	case errors.As(err, &te) && te.adminNeeded():
		if p.link.State == store.PresenceConnected {
			p.setState(store.PresenceNeedsAdmin)
			p.log.Warn("presence: the identity platform refuses the app; an admin must fix it", "err", err,
				"trace_id", te.TraceID, "correlation_id", te.CorrelationID)
		}
		return "", err
	}
	// Transient (network, 5xx, temporarily_unavailable): back off, keep
	// the state.
	p.backoff = min(max(p.backoff*2, 5*time.Second), 5*time.Minute)
	if sleep(ctx, p.backoff) != nil {
		return "", ctx.Err()
	}
	return "", err
}

// probe checks whether an admin fixed the app (needs_admin) or granted
// consent again (needs_consent): a token, then one presence call.
func (p *poller) probe(ctx context.Context, every time.Duration) time.Duration {
	targets, _, err := p.targets(ctx)
	if err != nil || ctx.Err() != nil {
		return jitter(every)
	}
	tok, err := p.s.tokens.get(ctx, p.link.TenantID, p.link.ClientID, p.cred)
	if ctx.Err() != nil {
		return 0
	}
	if err == nil && len(targets) > 0 {
		if err = p.gate.wait(ctx, p.s.now); err != nil {
			return 0
		}
		_, err = p.s.graph.presences(ctx, tok, []string{targets[0].oid})
		var ge *GraphError
		if errors.As(err, &ge) && ge.Status == http.StatusUnauthorized {
			p.s.tokens.invalidate(p.link.TenantID, p.link.ClientID, tok)
		}
	}
	if ctx.Err() != nil {
		return 0
	}
	if err != nil {
		p.save(ctx, err)
		return jitter(every)
	}
	p.log.Info("presence: Graph answers again; polling resumes")
	p.strikes = p.strikes[:0]
	p.setState(store.PresenceConnected)
	p.save(ctx, nil)
	return 0
}

func (p *poller) setState(state string) {
	p.link.State = state
	p.s.setView(p.dir, p.link)
}

// apply stores the changes a batch's answer shows and publishes them.
func (p *poller) apply(ctx context.Context, batch []target, got []graphPresence, seen map[string]bool) {
	byOID := make(map[string]graphPresence, len(got))
	for _, g := range got {
		if oid, ok := objectID(g.ID); ok {
			byOID[oid] = g
		}
	}
	now := p.s.now()
	var set []store.Presence
	for _, t := range batch {
		g, ok := byOID[t.oid]
		if !ok {
			continue // no observation: cleared at the end of a complete cycle
		}
		seen[t.UserID] = true
		av, ok1 := normalise(availabilities, g.Availability)
		ac, ok2 := normalise(activities, g.Activity)
		if !ok1 || !ok2 {
			p.s.metrics.unknownValues.Inc()
		}
		if old, ok := p.known[t.UserID]; ok && old.Availability == av && old.Activity == ac {
			continue // unchanged: no write
		}
		set = append(set, store.Presence{UserID: t.UserID, Availability: av, Activity: ac, ObservedAt: now})
	}
	p.store(ctx, set, nil)
}

// store writes changes, then remembers and publishes them; a poller
// stopped meanwhile writes nothing.
func (p *poller) store(ctx context.Context, set []store.Presence, del []string) {
	if len(set) == 0 && len(del) == 0 {
		return
	}
	if ctx.Err() != nil {
		return
	}
	if err := p.s.cfg.Store.WritePresence(ctx, p.dir, set, del); err != nil {
		if ctx.Err() == nil {
			p.log.Error("presence: cannot store presence", "err", err)
		}
		return
	}
	evs := make([]Event, 0, len(set)+len(del))
	for _, s := range set {
		p.known[s.UserID] = s
		evs = append(evs, Event{ContactID: s.UserID, Presence: p.s.contactPresence(p.dir, &s)})
	}
	for _, id := range del {
		delete(p.known, id)
		evs = append(evs, Event{ContactID: id})
	}
	p.s.metrics.changes.Add(float64(len(evs)))
	if p.s.shared == nil { // else every process streams them from the store's feed
		p.s.hub.publish(p.dir, evs)
	}
}

// save stores the poll outcome in the directory's link.
func (p *poller) save(ctx context.Context, lastErr error) {
	p.link.LastError = ""
	if lastErr != nil {
		p.link.LastError = lastErr.Error()
	}
	if ctx.Err() != nil {
		return
	}
	if err := p.s.cfg.Store.PutPresenceLink(ctx, p.link, store.SyncEvent{}); err != nil && ctx.Err() == nil {
		p.log.Error("presence: cannot store the poll outcome", "err", err)
	}
	p.s.setView(p.dir, p.link)
}
