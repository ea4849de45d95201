package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/internal/route"
	"github.com/scimd/scimd/scim"
)

// unmatchedRoute labels requests that matched no route (404 and 405), so
// that probing random paths adds no label values.
const unmatchedRoute = "unmatched"

// routeInfo is what the router learned about a request: the matched route
// template and directory. The middleware around the router reads it after
// the router has run; mux's Use middleware (captureRoute) fills it in,
// because mux keeps the matched route in a request the outer middleware
// never sees.
type routeInfo struct {
	route       string // path template, or unmatchedRoute
	directoryID string // the {directoryId} path variable, if any
}

type routeInfoKey struct{}

// trackRoute is the outermost middleware: it gives the request an empty
// routeInfo for captureRoute to fill.
func trackRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &routeInfo{route: unmatchedRoute}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeInfoKey{}, info)))
	})
}

// captureRoute runs inside the router (added with Use) for matched routes.
func captureRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(routeInfoKey{}).(*routeInfo); ok {
			if rt := mux.CurrentRoute(r); rt != nil {
				if tpl, ok := route.TemplateOf(rt); ok {
					info.route = tpl
				}
			}
			info.directoryID = mux.Vars(r)["directoryId"]
		}
		next.ServeHTTP(w, r)
	})
}

func routeInfoFrom(r *http.Request) routeInfo {
	if info, ok := r.Context().Value(routeInfoKey{}).(*routeInfo); ok {
		return *info
	}
	return routeInfo{route: unmatchedRoute}
}

// requestID gives every request an id: a sane incoming X-Request-Id or
// client-request-id (Entra sends the latter), else a new one. It is echoed
// in X-Request-Id and added to every log record of the request.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = r.Header.Get("Client-Request-Id")
		}
		if !saneRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(withRequestID(r.Context(), id)))
	})
}

// saneRequestID admits ids that are safe to log and echo: short, and made
// of characters that no log format or header needs to escape.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// observer holds what the logging, metrics and recovery middleware share.
type observer struct {
	log     *slog.Logger
	metrics *metrics
}

// accessLog logs one line per request. It names the route template, never
// the raw path or query (they hold user ids and filter values), and never
// headers or bodies.
func (o *observer) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := recordStatus(w)
		next.ServeHTTP(sw, r)
		info := routeInfoFrom(r)
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", info.route),
			slog.Int("status", sw.Status()),
			slog.Duration("duration", time.Since(start)),
		}
		if info.directoryID != "" {
			attrs = append(attrs, slog.String("directory_id", truncate(info.directoryID, 64)))
		}
		o.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
	})
}

// observeMetrics counts requests and their duration.
func (o *observer) observeMetrics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := recordStatus(w)
		next.ServeHTTP(sw, r)
		info := routeInfoFrom(r)
		status := sw.Status()
		o.metrics.observe(info.route, r.Method, status, directoryLabel(info.route, info.directoryID, status), time.Since(start))
	})
}

// directoryLabel is the directory metric label: set only for SCIM requests
// that got past authentication, so that unauthenticated clients cannot
// create label values by inventing directory ids.
func directoryLabel(route, directoryID string, status int) string {
	if !strings.HasPrefix(route, "/scim/") || uuid.Validate(directoryID) != nil {
		return ""
	}
	switch {
	case status < 400, status == http.StatusBadRequest, status == http.StatusConflict,
		status == http.StatusPreconditionFailed:
		return directoryID
	default:
		return ""
	}
}

// recoverPanics turns a handler panic into a logged stack trace and a
// generic 500; the client learns nothing about the cause.
func (o *observer) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := recordStatus(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { // net/http's way to abort a response silently
				panic(v)
			}
			o.log.ErrorContext(r.Context(), "panic serving request",
				"route", routeInfoFrom(r).route, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw.wroteHeader {
				return // too late to change the answer; the client sees a cut response
			}
			writeError(sw, r, http.StatusInternalServerError, "internal", "internal error")
		}()
		next.ServeHTTP(sw, r)
	})
}

// writeError answers in the error dialect of the path: SCIM errors below
// /scim/, the API's JSON errors elsewhere.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	if strings.HasPrefix(r.URL.Path, "/scim/") {
		scim.WriteError(w, status, "", message)
		return
	}
	api.WriteError(w, status, code, message)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

// recordStatus wraps w once; the middleware that share a request share
// the wrapper.
func recordStatus(w http.ResponseWriter) *statusWriter {
	if sw, ok := w.(*statusWriter); ok {
		return sw
	}
	return &statusWriter{ResponseWriter: w}
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 { // 1xx responses are not the final status
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends what was written so far (the presence stream flushes every
// event). It serves handlers that assert http.Flusher rather than use a
// ResponseController; a writer underneath that cannot flush is ignored,
// as http.Flusher has no way to report it.
func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Status is the response status; a handler that wrote nothing answered 200.
func (w *statusWriter) Status() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.status
}

// requestTimeout bounds how long a request may wait on the store: a
// database that stops answering (a network partition, a frozen server)
// turns into a 503 instead of a request that hangs. Streams and CSV
// exports run longer by design and manage their own deadlines.
var requestTimeout = 30 * time.Second

func boundRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasSuffix(p, "/stream") || strings.HasSuffix(p, ".csv") {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
