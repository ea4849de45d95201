package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/sync/errgroup"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/console"
	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/reapply"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/webhook"
)

// Main is the server process: Open prepares everything that can fail
// (store, migrations, first-start setup, listener), Run serves until its
// context ends and then shuts down in order. Tests drive it directly.
type Main struct {
	Config Config
	Logger *slog.Logger
	// Stdout receives the one-time first-start output (tokens); it is never
	// a log, which must not hold secrets.
	Stdout io.Writer

	db        backend
	shared    store.Shared // db, when several processes share it
	ln        net.Listener
	server    *http.Server
	presence  *presence.Service
	webhooks  *webhook.Service
	reapply   *reapply.Runner
	closeOnce sync.Once

	// extraRoutes is a test hook, see handlerDeps.
	extraRoutes func(*mux.Router)
	// presenceInterval, when set, overrides Config.PresenceInterval past
	// its validation (tests poll every few milliseconds).
	presenceInterval time.Duration
	// streamHeartbeat, when set, is the presence stream's heartbeat.
	streamHeartbeat time.Duration
	// writeTimeout, when set, replaces the server's WriteTimeout.
	writeTimeout time.Duration
	// syncLogPruned is a test hook, see syncLogPruner.
	syncLogPruned func(deleted int64, err error)
	// leaseTTL, when set, is the presence pollers' lease (tests).
	leaseTTL time.Duration
	// clock, when set, is the admin API's and the console's clock (tests
	// expire setup links and sessions with it).
	clock func() time.Time
	// webhookConfig, when set, adjusts the webhook service's settings
	// (tests: short backoff and rescan).
	webhookConfig func(*webhook.Config)
	// limitNow, when set, is the clock of the per-directory rates (tests).
	limitNow func() time.Time
	// reapplyTuning, when set, changes the reapply runner's batch size,
	// interval and settle time (tests).
	reapplyTuning func(*reapply.Config)
}

// Open opens and migrates the store, performs first-start setup and binds
// the listener, so that Addr is known before Run.
func (m *Main) Open(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if m.Stdout == nil {
		m.Stdout = os.Stdout // never discard: it may carry the only copy of a token
	}
	log := m.Logger
	tuneGC()
	// A public URL derived from the listen address names the port: with
	// port 0 it is known only once listening, before the first start
	// prints Tenant URLs.
	if m.Config.publicURLFromAddr && portZero(m.Config.Addr) {
		if err := m.listen(); err != nil {
			return err
		}
		m.Config.PublicURL = publicURLFor(m.ln.Addr().String())
	}
	db, err := openStore(ctx, m.Config, log)
	if err != nil {
		return err
	}
	m.db = db

	adminHash, err := bootstrap(ctx, db, m.Config, log.With("component", "bootstrap"), m.Stdout, time.Now)
	if err != nil {
		return err
	}

	mtr := newMetrics()
	m.shared, _ = db.(store.Shared)
	interval := m.Config.PresenceInterval
	if m.presenceInterval > 0 {
		interval = m.presenceInterval
	}
	svc, err := presence.New(presence.Config{
		Store:           db,
		Key:             m.Config.SecretKey,
		LoginURL:        m.Config.LoginURL,
		GraphURL:        m.Config.GraphURL,
		Interval:        interval,
		AppClientID:     m.Config.PresenceClientID,
		AppClientSecret: m.Config.PresenceClientSecret,
		PublicURL:       m.Config.PublicURL,
		Logger:          log,
		Registerer:      mtr.registerer(),
		Shared:          m.shared,
		LeaseTTL:        m.leaseTTL,
	})
	if err != nil {
		return fmt.Errorf("start presence: %w", err)
	}
	m.presence = svc
	if m.Config.consentFlowEnabled() && !consentRedirectAllowed(m.Config.PublicURL) {
		log.Warn("Microsoft accepts an admin-consent redirect URI only over https (or http://localhost): the consent flow will fail with this SCIMD_PUBLIC_URL",
			"redirect_uri", m.Config.PublicURL+presence.ConsentCallbackPath)
	}
	wcfg := webhook.Config{
		Store:      db,
		Shared:     m.shared,
		Key:        m.Config.SecretKey,
		Policy:     webhook.Policy{AllowHTTP: m.Config.WebhookAllowHTTP, Allow: m.Config.WebhookAllow},
		Render:     api.WebhookMessage,
		Logger:     log,
		Timeout:    m.Config.WebhookTimeout,
		Registerer: mtr.registerer(),
	}
	if m.webhookConfig != nil {
		m.webhookConfig(&wcfg)
	}
	if m.webhooks, err = webhook.New(wcfg); err != nil {
		return fmt.Errorf("start webhooks: %w", err)
	}
	limitNow := time.Now
	if m.limitNow != nil {
		limitNow = m.limitNow
	}
	lim := newLimiters(m.Config, mtr.registerer(), limitNow)
	owner, _ := store.NewToken("")
	rc := reapply.Config{Store: db, Shared: m.shared, Owner: owner, Settle: reapply.DefaultSettle, Logger: log,
		Registerer: mtr.registerer()}
	if m.reapplyTuning != nil {
		m.reapplyTuning(&rc)
	}
	m.reapply = reapply.New(rc)
	lookup := api.NewLookup(api.LookupConfig{
		Store:          db,
		Logger:         log,
		AdminTokenHash: adminHash,
		Presence:       svc,
		Heartbeat:      m.streamHeartbeat,
		Limiter:        lim.lookup,
	})

	admin := api.NewAdmin(api.AdminConfig{
		Store:          db,
		PublicURL:      m.Config.PublicURL,
		AdminTokenHash: adminHash,
		Logger:         log,
		MaxBodyBytes:   m.Config.MaxBodyBytes,
		Presence:       svc,
		Now:            m.clock,
		ConsolePath:    console.Prefix,
		Version:        version,
		Webhooks:       m.webhooks,
		RulesChanged:   func(string) { m.reapply.Kick() },
	})
	h := NewHandler(handlerDeps{
		Logger: log,
		Store:  db,
		SCIM: scim.New(scim.Config{
			Store:        db,
			PublicURL:    m.Config.PublicURL,
			Logger:       log,
			MaxBodyBytes: m.Config.MaxBodyBytes,
			Limiter:      lim.scim,
		}),
		Admin:  admin,
		Lookup: lookup,
		Console: console.New(console.Config{
			Admin:          admin,
			Lookup:         lookup,
			AdminTokenHash: adminHash,
			PublicURL:      m.Config.PublicURL,
			LoginURL:       m.Config.LoginURL,
			Logger:         log,
			Presence:       svc,
			Now:            m.clock,
		}),
		Metrics:     mtr,
		CORSOrigins: m.Config.CORSOrigins,
		extraRoutes: m.extraRoutes,
	})

	if m.ln == nil {
		if err := m.listen(); err != nil {
			return err
		}
	}
	m.server = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http_server").Handler(), slog.LevelWarn),
	}
	if m.writeTimeout > 0 {
		m.server.WriteTimeout = m.writeTimeout
	}
	// Presence streams never end by themselves: end them when shutdown
	// starts, so that it need not wait for its deadline.
	m.server.RegisterOnShutdown(lookup.CloseStreams)
	return nil
}

func (m *Main) listen() error {
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	m.ln = ln
	return nil
}

// consentRedirectAllowed reports whether Microsoft accepts
// publicURL+ConsentCallbackPath as a redirect URI: https, or http on
// localhost.
func consentRedirectAllowed(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	return u.Scheme == "https" || u.Scheme == "http" && u.Hostname() == "localhost"
}

// Addr is the bound listen address (useful with port 0).
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run serves, polls Teams presence, delivers webhooks, prunes the sync
// log, re-applies changed mapping rules to stored contacts and finishes
// the directory deletes a shutdown cut short until ctx ends, then stops
// accepting connections, lets in-flight requests finish within the
// shutdown timeout, stops the presence poller and the webhook deliveries,
// waits for the pruner and closes the store. It returns nil after a clean
// shutdown.
func (m *Main) Run(ctx context.Context) error {
	m.Logger.Info("serving",
		"addr", m.Addr(),
		"scim_base_url", m.Config.PublicURL+"/scim/v2/{directoryId}",
		"admin_api", m.Config.PublicURL+"/admin/v1",
		"lookup_api", m.Config.PublicURL+"/api/v1")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := m.server.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	owner, _ := store.NewToken("")
	pruner := &syncLogPruner{
		store:          m.db,
		shared:         m.shared,
		owner:          owner,
		resume:         m.db.ResumeDeletes,
		retention:      m.Config.SyncLogRetention,
		events:         m.db,
		eventRetention: m.Config.eventRetention(),
		deliveries:     m.db,
		now:            time.Now,
		log:            m.Logger.With("component", "sync_log_pruner"),
		pruned:         m.syncLogPruned,
	}
	g.Go(func() error { return pruner.run(gctx) })
	g.Go(func() error { return m.reapply.Run(gctx) })
	g.Go(func() error {
		// Directory deletes that a shutdown cut short (DeleteDirectory).
		n, err := m.db.ResumeDeletes(gctx)
		if err != nil && gctx.Err() == nil {
			m.Logger.Error("resuming directory deletes failed", "err", err)
		} else if n > 0 {
			m.Logger.Info("resumed directory deletes", "directories", n)
		}
		return nil
	})
	// The poller outlives the HTTP server by the drain, so that requests in
	// flight (a connect, a stream) still find it: HTTP, then the poller,
	// then the store.
	pctx, stopPresence := context.WithCancel(context.WithoutCancel(gctx))
	defer stopPresence()
	g.Go(func() error {
		if err := m.presence.Run(pctx); err != nil {
			return fmt.Errorf("presence: %w", err)
		}
		return nil
	})
	// Webhooks stop with the poller, after the HTTP drain: a request in
	// flight may still poke them.
	g.Go(func() error {
		if err := m.webhooks.Run(pctx); err != nil {
			return fmt.Errorf("webhooks: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		defer stopPresence()
		m.Logger.Info("shutting down", "timeout", m.Config.ShutdownTimeout)
		// The parent context is already done; the drain gets its own budget.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.Config.ShutdownTimeout)
		defer cancel()
		if err := m.server.Shutdown(sctx); err != nil {
			_ = m.server.Close()
			return fmt.Errorf("shutdown: in-flight requests did not finish within %s: %w", m.Config.ShutdownTimeout, err)
		}
		return nil
	})
	err := g.Wait()
	return errors.Join(err, m.Close())
}

// Close releases the listener and the store. Run calls it; call it
// yourself only when Run is not called after a successful or failed Open.
func (m *Main) Close() error {
	var err error
	m.closeOnce.Do(func() {
		if m.ln != nil {
			_ = m.ln.Close() // already closed when Serve ran
		}
		if m.db != nil {
			if cerr := m.db.Close(); cerr != nil {
				err = fmt.Errorf("close store: %w", cerr)
			}
		}
		if m.Logger != nil {
			m.Logger.Info("stopped")
		}
	})
	return err
}

// openStore opens the database and brings its schema up to date. A schema
// newer than this binary is refused: running old code on it could lose data.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (backend, error) {
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	applied, err := migrate(ctx, db, cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if applied > 0 {
		log.Info("applied database migrations", "count", applied, "db", cfg.storeName())
	}
	return db, nil
}
