package server

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/console"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// readyTimeout bounds /readyz, so that a wedged store makes the probe fail
// instead of hang.
const readyTimeout = 2 * time.Second

// handlerDeps is what NewHandler wires together.
type handlerDeps struct {
	Logger  *slog.Logger
	Store   store.Store
	SCIM    *scim.Server
	Admin   *api.Admin
	Lookup  *api.Lookup
	Console *console.Console
	Metrics *metrics
	// CORSOrigins are SCIMD_CORS_ORIGINS; empty: no CORS.
	CORSOrigins []string
	// extraRoutes, when set, adds routes (tests use it for slow or
	// panicking handlers).
	extraRoutes func(*mux.Router)
}

// NewHandler is scimd's route table: operations endpoints, the admin API,
// the lookup API and every directory's SCIM endpoints, behind one
// middleware chain.
func NewHandler(d handlerDeps) http.Handler {
	o := &observer{log: d.Logger.With("component", "http"), metrics: d.Metrics}

	r := mux.NewRouter()
	r.Use(captureRoute)

	// mux tries routes in order: the busiest first (Entra's SCIM
	// requests, then the CX clients'). Those two match by splitting the
	// path (internal/route); the others with mux's regular expressions.
	// No two prefixes overlap, so the order changes nothing else.
	d.SCIM.Register(r)
	d.Lookup.Register(r)
	r.HandleFunc("/healthz", healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", readyz(d.Store, o.log)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/metrics", d.Metrics.handler()).Methods(http.MethodGet)
	d.Admin.Register(r)
	d.Admin.RegisterConsentCallback(r)
	registerIndex(r, d.Admin, d.Console != nil)
	if d.Console != nil {
		d.Console.Register(r)
	}
	if d.extraRoutes != nil {
		d.extraRoutes(r)
	}

	r.NotFoundHandler = http.HandlerFunc(notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)

	// mux runs Use middleware only for matched routes (not for 404, 405 or
	// a subrouter's own fallback handlers), so the chain wraps the whole
	// router and every request passes through it; captureRoute tells it
	// the route. Outermost first.
	chain := []mux.MiddlewareFunc{trackRoute, requestID, o.accessLog, o.observeMetrics, o.recoverPanics, boundRequests}
	if len(d.CORSOrigins) > 0 {
		chain = slices.Insert(chain, len(chain)-1, cors(d.CORSOrigins, o.log))
	}
	var h http.Handler = r
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	return h
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, "not_found", "no such endpoint")
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" is not allowed here")
}

// healthz is liveness: the process serves HTTP.
func healthz(w http.ResponseWriter, _ *http.Request) {
	api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: the store answers and its schema is current. The
// reason for a failure goes to the log, not to the (unauthenticated)
// client.
func readyz(st store.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			log.WarnContext(r.Context(), "not ready", "err", err)
			api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}
