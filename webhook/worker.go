package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/seal"
	"github.com/scimd/scimd/store"
)

// Delivery, per webhook: the events after its cursor, in order; those it
// does not want (another type, or hidden by the directory's visibility
// rules) are passed over, the first it wants is sent until the receiver
// answers 2xx or the give-up period has passed since its first attempt.
// Until then the later events wait: a receiver sees a directory's changes
// in the order they committed. Each attempt's outcome and the cursor are
// stored in one transaction (store.SaveDelivery), so that a restart, or
// another process, resumes where this one stopped; an attempt cut short
// by a crash is sent again (at least once: receivers dedupe on
// Scimd-Event-Id).
//
// Several processes on one store (Config.Shared): each directory's
// webhooks are delivered by the process holding its lease
// ("webhook:"+directory id), taken and renewed on every rescan.

// Defaults of Config.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMinBackoff  = 10 * time.Second
	DefaultMaxBackoff  = time.Hour
	DefaultGiveUpAfter = 24 * time.Hour
	DefaultRescan      = 10 * time.Second
)

// ErrNoKey: webhooks need SCIMD_SECRET_KEY to store their signing secrets.
var ErrNoKey = errors.New("SCIMD_SECRET_KEY is not set to 32 random bytes in standard base64 (e.g. `openssl rand -base64 32`): scimd must keep a webhook's signing secret to sign with it, and stores it only encrypted")

const leasePrefix = "webhook:"

// eventBatch is how many events a step reads at once.
const eventBatch = 100

// recheckEvery is how many deliveries of one step go by before it reads
// the webhook again (for an administrator's change).
const recheckEvery = 10

// Config configures the Service.
type Config struct {
	Store store.Store
	// Shared, when the store is shared by several processes: only the
	// holder of a directory's lease delivers its webhooks.
	Shared store.Shared
	// Key is SCIMD_SECRET_KEY; nil: webhooks cannot be created.
	Key    []byte
	Policy Policy
	// Render turns an event into what the webhook sends, as a client of
	// d sees it; false: the client sees nothing of it.
	Render func(d store.Directory, ev store.Event) (Message, bool, error)
	Logger *slog.Logger
	// Timeout bounds one attempt (connect, TLS, answer).
	Timeout time.Duration
	// MinBackoff is the wait after a first failure, doubling with each
	// further one up to MaxBackoff, each with up to half of random jitter.
	MinBackoff, MaxBackoff time.Duration
	// GiveUpAfter: an event failing for this long since its first attempt
	// is given up on, and its webhook disabled.
	GiveUpAfter time.Duration
	// Rescan is how often the directories with webhooks are listed and
	// the leases renewed (they last three times as long), and how often
	// an idle webhook looks again by itself.
	Rescan time.Duration
	Now    func() time.Time
	// Registerer receives the delivery metrics; nil: none.
	Registerer prometheus.Registerer
}

// Service delivers webhooks and keeps their secrets.
type Service struct {
	cfg    Config
	log    *slog.Logger
	box    *seal.Box
	send   *sender
	owner  string
	pokes  chan string
	jitter func() float64
	mtr    *metrics

	mu   sync.Mutex
	dirs map[string]*dirRunner
	wg   sync.WaitGroup
}

// New returns the Service.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = DefaultGiveUpAfter
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = DefaultRescan
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "webhooks"),
		send:   newSender(cfg.Policy, cfg.Timeout),
		owner:  NewSecret()[len(SecretPrefix):],
		pokes:  make(chan string, 64),
		jitter: rand.Float64,
		mtr:    newMetrics(cfg.Registerer),
		dirs:   map[string]*dirRunner{},
	}
	if cfg.Key != nil {
		b, err := seal.New(cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("webhooks: %w", err)
		}
		s.box = b
	}
	return s, nil
}

// CheckURL validates a webhook URL under the service's policy.
func (s *Service) CheckURL(ctx context.Context, raw string) (string, error) {
	return s.cfg.Policy.CheckURL(ctx, raw)
}

// NewSecret returns a new signing secret for the webhook and its sealed
// form to store (ErrNoKey without SCIMD_SECRET_KEY).
func (s *Service) NewSecret(directoryID, webhookID string) (secret string, sealed []byte, err error) {
	if s.box == nil {
		return "", nil, ErrNoKey
	}
	secret = NewSecret()
	return secret, s.box.Seal(sealAD(directoryID, webhookID), []byte(secret)), nil
}

// sealAD binds a sealed secret to its webhook's row.
func sealAD(directoryID, webhookID string) string {
	return "webhook\x00" + directoryID + "\x00" + webhookID
}

func (s *Service) secret(w store.Webhook) (string, error) {
	if s.box == nil {
		return "", errors.New("cannot sign: SCIMD_SECRET_KEY is not set; set the key the secret was stored with, or rotate the webhook's secret")
	}
	b, err := s.box.Open(sealAD(w.DirectoryID, w.ID), w.Sealed)
	if err != nil {
		return "", errors.New("cannot sign: the signing secret cannot be decrypted (SCIMD_SECRET_KEY differs from the key it was stored with); rotate the webhook's secret")
	}
	return string(b), nil
}

// Poke makes the directory's webhooks look again at once (an
// administrator changed one on this process).
func (s *Service) Poke(directoryID string) {
	select {
	case s.pokes <- directoryID:
	default: // full: the next rescan sees it
	}
}

// Run delivers until ctx ends, then gives this process's leases up.
func (s *Service) Run(ctx context.Context) error {
	var changes <-chan store.Change
	if s.cfg.Shared != nil {
		ch, stop := s.cfg.Shared.Changes()
		defer stop()
		changes = ch
	}
	t := time.NewTicker(s.cfg.Rescan)
	defer t.Stop()
	defer s.stopAll()
	s.scan(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.scan(ctx)
		case dir := <-s.pokes:
			s.scanDirectory(ctx, dir)
		case c, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			switch c.Kind {
			case store.ChangeWebhook, store.ChangeDirectory:
				s.scanDirectory(ctx, c.DirectoryID)
			case store.ChangeResync:
				s.scan(ctx)
			}
		}
	}
}

// dirRunner delivers one directory's webhooks.
type dirRunner struct {
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}
	leased time.Time // last time the lease was taken or renewed
}

// scan lists the directories with enabled webhooks: this process
// delivers those whose lease it holds and stops the others.
func (s *Service) scan(ctx context.Context) {
	dirs, err := s.cfg.Store.WebhookDirectories(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhooks: cannot list the directories with webhooks; the next rescan retries", "err", err)
		}
		// Without the store, keep delivering only while the leases last.
		s.mu.Lock()
		var expired []string
		for dir, r := range s.dirs {
			if time.Since(r.leased) > s.leaseTTL() {
				expired = append(expired, dir)
			}
		}
		s.mu.Unlock()
		for _, dir := range expired {
			s.stop(dir, false)
		}
		return
	}
	want := make(map[string]bool, len(dirs))
	for _, dir := range dirs {
		want[dir] = true
		s.ensure(ctx, dir)
	}
	s.mu.Lock()
	var gone []string
	for dir := range s.dirs {
		if !want[dir] {
			gone = append(gone, dir)
		}
	}
	s.mu.Unlock()
	for _, dir := range gone {
		s.stop(dir, true)
	}
}

// scanDirectory is scan for one directory, after a change to it.
func (s *Service) scanDirectory(ctx context.Context, dir string) {
	hooks, err := s.cfg.Store.ListWebhooks(ctx, dir)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("webhooks: cannot list a directory's webhooks; the next rescan retries", "directory_id", dir, "err", err)
		}
		return
	}
	for _, w := range hooks {
		if w.Enabled {
			s.ensure(ctx, dir)
			s.wake(dir)
			return
		}
	}
	s.stop(dir, true)
}

func (s *Service) leaseTTL() time.Duration { return 3 * s.cfg.Rescan }

// ensure takes or renews the directory's lease and runs its deliveries
// while this process holds it.
func (s *Service) ensure(ctx context.Context, dir string) {
	held, err := true, error(nil)
	if s.cfg.Shared != nil {
		held, err = s.cfg.Shared.TryLease(ctx, leasePrefix+dir, s.owner, s.leaseTTL())
	}
	s.mu.Lock()
	r := s.dirs[dir]
	var leased time.Time
	if r != nil {
		leased = r.leased
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.log.Warn("webhooks: cannot take or renew a directory's lease", "directory_id", dir, "err", err)
		}
		if r != nil && time.Since(leased) > s.leaseTTL() {
			s.stop(dir, false) // another process may hold it by now
		}
	case !held:
		if r != nil {
			s.log.Warn("webhooks: lost a directory's lease; another process delivers its webhooks", "directory_id", dir)
			s.stop(dir, false)
		}
	case r != nil:
		s.mu.Lock()
		r.leased = time.Now()
		s.mu.Unlock()
	default:
		s.start(ctx, dir)
	}
}

func (s *Service) start(ctx context.Context, dir string) {
	rctx, cancel := context.WithCancel(ctx)
	r := &dirRunner{cancel: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1), leased: time.Now()}
	s.mu.Lock()
	s.dirs[dir] = r
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.done)
		s.runDirectory(rctx, dir, r.wake)
	}()
}

func (s *Service) wake(dir string) {
	s.mu.Lock()
	r := s.dirs[dir]
	s.mu.Unlock()
	if r != nil {
		notify(r.wake)
	}
}

// stop ends the directory's deliveries, and gives its lease up when
// release is set (this process no longer needs it).
func (s *Service) stop(dir string, release bool) {
	s.mu.Lock()
	r := s.dirs[dir]
	delete(s.dirs, dir)
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
	if release {
		s.release(dir)
	}
}

func (s *Service) release(dir string) {
	if s.cfg.Shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Shared.ReleaseLease(ctx, leasePrefix+dir, s.owner); err != nil {
		s.log.Warn("webhooks: cannot release a directory's lease; it expires by itself", "directory_id", dir, "err", err)
	}
}

func (s *Service) stopAll() {
	s.mu.Lock()
	var dirs []string
	for dir := range s.dirs {
		dirs = append(dirs, dir)
	}
	s.mu.Unlock()
	for _, dir := range dirs {
		s.stop(dir, true)
	}
	s.wg.Wait()
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// runDirectory runs a delivery loop per enabled webhook of the directory
// and wakes them when events commit, until ctx ends.
func (s *Service) runDirectory(ctx context.Context, dir string, wake <-chan struct{}) {
	events, unwatch := s.cfg.Store.WatchEvents(dir)
	defer unwatch()
	type hook struct {
		events, pokes chan struct{}
		done          chan struct{}
	}
	hooks := map[string]*hook{}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(s.cfg.Rescan)
	defer t.Stop()
	for {
		list, err := s.cfg.Store.ListWebhooks(ctx, dir)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("webhooks: cannot list a directory's webhooks", "directory_id", dir, "err", err)
		}
		for id, h := range hooks {
			select {
			case <-h.done:
				delete(hooks, id) // it stopped by itself: disabled or deleted
			default:
			}
		}
		for _, w := range list {
			if !w.Enabled || hooks[w.ID] != nil {
				continue
			}
			h := &hook{events: make(chan struct{}, 1), pokes: make(chan struct{}, 1), done: make(chan struct{})}
			hooks[w.ID] = h
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				defer close(h.done)
				s.runWebhook(ctx, dir, id, h.events, h.pokes)
			}(w.ID)
		}
		// New events wake the webhooks; a change of the webhooks (or
		// the rescan) has them listed again first.
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-events:
				for _, h := range hooks {
					notify(h.events)
				}
			case <-wake:
				break wait
			case <-t.C:
				break wait
			}
		}
		for _, h := range hooks {
			notify(h.pokes)
		}
	}
}

// runWebhook delivers one webhook's events until it is disabled or
// deleted, or ctx ends. New events wake it, but not while it waits to
// try an event again: only its timer or a change of the webhook
// (pokes) do then.
func (s *Service) runWebhook(ctx context.Context, dir, id string, events, pokes <-chan struct{}) {
	for ctx.Err() == nil {
		wait, more, retrying := s.step(ctx, dir, id)
		if !more {
			return
		}
		if wait <= 0 {
			continue
		}
		wake := events
		if retrying {
			wake = nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-pokes:
		case <-t.C:
		}
		t.Stop()
	}
}

// step moves one webhook on: it passes over what it does not deliver and
// sends the others in order until one fails. It returns how long to wait
// before the next step (0: at once), more false when the webhook no
// longer delivers, and retrying when an event waits for its next attempt.
func (s *Service) step(ctx context.Context, dir, id string) (wait time.Duration, more, retrying bool) {
	w, err := s.cfg.Store.GetWebhook(ctx, dir, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, false, false
	case err != nil:
		wait, more = s.storeFailed(ctx, "read webhook", dir, id, err)
		return wait, more, false
	case !w.Enabled:
		return 0, false, false
	}
	d, err := s.cfg.Store.GetDirectory(ctx, dir)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, false
	} else if err != nil {
		wait, more = s.storeFailed(ctx, "read directory", dir, id, err)
		return wait, more, false
	}
	evs, oldest, err := s.cfg.Store.ListEvents(ctx, dir, w.Cursor, eventBatch)
	if err != nil {
		wait, more = s.storeFailed(ctx, "read events", dir, id, err)
		return wait, more, false
	}
	if oldest > 0 && w.Cursor < oldest-1 {
		s.expired(ctx, w, oldest)
		return 0, false, false
	}
	// cursor is where the store has the webhook, passed how far this
	// step went: events passed over are recorded with the next attempt
	// (or at the end), not one write each.
	cursor, passed := w.Cursor, w.Cursor
	sent := 0
	for _, ev := range evs {
		m, ok, err := s.cfg.Render(d, ev)
		if err != nil {
			wait, more = s.storeFailed(ctx, "render event", dir, id, err)
			return wait, more, false
		}
		if !ok || !w.Wants(m.Type) {
			passed = ev.Seq
			continue
		}
		if passed > cursor {
			if err := s.cfg.Store.AdvanceWebhook(ctx, dir, id, passed); err != nil {
				wait, more = s.storeFailed(ctx, "advance webhook", dir, id, err)
				return wait, more, false
			}
		}
		// Only the step's first event can have been tried before: the
		// ones after it wait behind it, and the cursor never goes back.
		delivered, wait, more := s.attempt(ctx, w, ev.Seq, m, sent > 0)
		if !delivered {
			return wait, more, more
		}
		cursor, passed = ev.Seq, ev.Seq
		// An administrator may have changed or disabled the webhook
		// meanwhile: every few events, go on only if its settings are
		// unchanged.
		if sent++; sent%recheckEvery == 0 {
			now, err := s.cfg.Store.GetWebhook(ctx, dir, id)
			if err != nil || !sameSettings(now, w) || now.Cursor != cursor {
				return 0, true, false
			}
		}
	}
	if passed > cursor {
		if err := s.cfg.Store.AdvanceWebhook(ctx, dir, id, passed); err != nil {
			wait, more = s.storeFailed(ctx, "advance webhook", dir, id, err)
			return wait, more, false
		}
	}
	if len(evs) == eventBatch {
		return 0, true, false
	}
	return s.cfg.Rescan, true, false
}

// sameSettings reports whether a and b deliver alike.
func sameSettings(a, b store.Webhook) bool {
	return a.Enabled == b.Enabled && a.URL == b.URL && slices.Equal(a.Events, b.Events) && bytes.Equal(a.Sealed, b.Sealed)
}

func (s *Service) storeFailed(ctx context.Context, op, dir, id string, err error) (time.Duration, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	s.log.Warn("webhooks: "+op+" failed; retrying", "directory_id", dir, "webhook_id", id, "err", err)
	return s.cfg.Rescan, true
}

// expired disables a webhook whose undelivered events were pruned.
func (s *Service) expired(ctx context.Context, w store.Webhook, oldest int64) {
	reason := fmt.Sprintf("events after the last one delivered (%d) were pruned before their delivery (SCIMD_EVENT_RETENTION); "+
		"have the receiver re-read the contacts, then re-enable the webhook with \"resumeFrom\": \"latest\"", w.Cursor)
	_, err := s.cfg.Store.UpdateWebhook(ctx, w.DirectoryID, w.ID, func(cur store.Webhook) (store.Webhook, error) {
		if cur.Cursor != w.Cursor || !cur.Enabled {
			return cur, nil // moved meanwhile (an administrator's resume): the next step decides
		}
		cur.Enabled, cur.DisabledReason = false, reason
		return cur, nil
	})
	if err != nil {
		s.log.Warn("webhooks: cannot disable a webhook whose events expired", "directory_id", w.DirectoryID, "webhook_id", w.ID, "err", err)
		return
	}
	s.mtr.disabled.WithLabelValues("events_pruned").Inc()
	s.log.Error("webhooks: webhook disabled: undelivered events were pruned", "directory_id", w.DirectoryID,
		"webhook_id", w.ID, "cursor", w.Cursor, "oldest_event", oldest)
}

// attempt sends event seq unless its next attempt is not due yet (fresh:
// it was never tried). It reports whether the event was delivered; if
// not, how long to wait before the next step and false when the webhook
// no longer delivers.
func (s *Service) attempt(ctx context.Context, w store.Webhook, seq int64, m Message, fresh bool) (delivered bool, wait time.Duration, more bool) {
	var prev store.WebhookDelivery
	if !fresh {
		var err error
		prev, err = s.cfg.Store.GetDelivery(ctx, w.DirectoryID, w.ID, seq)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			wait, more = s.storeFailed(ctx, "read delivery", w.DirectoryID, w.ID, err)
			return false, wait, more
		}
	}
	now := s.cfg.Now()
	// An administrator's change since the last attempt (a fixed URL, a
	// rotated secret) is worth trying at once.
	if prev.Status == store.DeliveryPending && prev.NextAttempt.After(now) && !w.Updated.After(prev.LastAttempt) {
		return false, prev.NextAttempt.Sub(now), true
	}
	first := prev.FirstAttempt
	if prev.Status != store.DeliveryPending {
		// Never tried, or given up on before an administrator
		// re-enabled the webhook: a new retry period starts.
		first = now
	}
	var o outcome
	if secret, err := s.secret(w); err != nil {
		o.err = err.Error()
	} else {
		o = s.send.send(ctx, w.URL, w.ID, w.DirectoryID, secret, m, now)
	}
	if ctx.Err() != nil && o.err != "" {
		return false, 0, false // stopping cut the attempt short: it does not count
	}
	end := s.cfg.Now()
	d := store.WebhookDelivery{DirectoryID: w.DirectoryID, WebhookID: w.ID, Seq: seq, EventType: m.Type,
		Attempts: prev.Attempts + 1, FirstAttempt: first, LastAttempt: now, ResponseStatus: o.status, LastError: o.err}
	log := s.log.With("directory_id", w.DirectoryID, "webhook_id", w.ID, "event_id", m.ID, "event_type", m.Type,
		"attempts", d.Attempts, "status", o.status)
	disable := ""
	switch {
	case o.err == "":
		d.Status = store.DeliveryDelivered
	case end.Sub(first) >= s.cfg.GiveUpAfter:
		d.Status = store.DeliveryFailed
		disable = fmt.Sprintf("gave up on event %s (%s) after %d attempts over %s: %s; "+
			"fix the receiver, then re-enable the webhook (delivery resumes with this event, or with \"resumeFrom\": \"latest\" after the newest)",
			m.ID, m.Type, d.Attempts, end.Sub(first).Round(time.Second), o.err)
	default:
		d.Status = store.DeliveryPending
		d.NextAttempt = end.Add(s.backoff(d.Attempts, o.retryAfter))
	}
	if err := s.cfg.Store.SaveDelivery(context.WithoutCancel(ctx), d, disable); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return false, 0, false // deleted meanwhile
		}
		// Not recorded: the next step sends the event again (receivers
		// drop repeats by Scimd-Event-Id).
		wait, more = s.storeFailed(ctx, "save delivery", w.DirectoryID, w.ID, err)
		return false, wait, more
	}
	outcome := outcomeFailed
	switch {
	case o.err == "":
		outcome = outcomeDelivered
	case o.refused:
		outcome = outcomeRefused
	}
	s.mtr.attempts.WithLabelValues(outcome).Inc()
	switch d.Status {
	case store.DeliveryDelivered:
		log.Debug("webhooks: event delivered")
		return true, 0, true
	case store.DeliveryFailed:
		s.mtr.disabled.WithLabelValues("gave_up").Inc()
		log.Error("webhooks: gave up on an event; webhook disabled", "last_error", o.err)
		return false, 0, false
	}
	msg := "webhooks: delivery failed; retrying"
	if o.refused {
		// Retried all the same: a receiver that refuses is most often
		// misconfigured (a rotated secret, a route not deployed yet), and
		// dropping the event would lose a change and the order for good.
		msg = "webhooks: the receiver refused the event (4xx); retrying: check its URL and its signature check"
	}
	log.Warn(msg, "last_error", o.err, "next_attempt", d.NextAttempt)
	return false, d.NextAttempt.Sub(end), true
}

// backoff is the wait after the n-th failed attempt: MinBackoff doubled
// n-1 times, capped at MaxBackoff, less up to half of it at random; a
// receiver's Retry-After is honoured up to MaxBackoff.
func (s *Service) backoff(n int, retryAfter time.Duration) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	d -= time.Duration(s.jitter() * float64(d) / 2)
	if retryAfter > d {
		d = min(retryAfter, s.cfg.MaxBackoff)
	}
	return d
}
