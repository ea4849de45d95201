package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORS for the lookup API (SCIMD_CORS_ORIGINS), so that a CX client
// running in a browser on another origin can read contacts and the
// presence stream. Only /api/v1/ gets CORS headers: the admin API and
// SCIM are never called from a browser page, and without the headers a
// browser refuses to let any page read their answers.

// corsPrefix is the lookup API's path prefix, its OpenAPI document
// included.
const corsPrefix = "/api/v1/"

// corsPreflightRoute labels answered preflights in logs and metrics:
// the router never sees them.
const corsPreflightRoute = "cors_preflight"

// corsAnyOrigin, as the only origin, lets every origin read the lookup
// API. That is safe because the API's credentials are bearer keys, which
// a browser never adds by itself (no cookies, so no
// Access-Control-Allow-Credentials): a page can use only a key it already
// holds. A list still keeps keys from being usable on pages you do not
// run.
const corsAnyOrigin = "*"

// The preflight's answers: the lookup API only reads, and a client sends
// its key (Authorization), the presence stream's resume point
// (Last-Event-ID) and, with some HTTP libraries, a Content-Type.
const (
	corsAllowMethods = "GET"
	corsAllowHeaders = "Authorization, Content-Type, Last-Event-ID"
	// corsExposeHeaders are the headers a page may read besides the
	// always-readable ones: ETag for If-None-Match, Retry-After of a
	// 503, and the request id to quote in a support request.
	corsExposeHeaders = "ETag, Retry-After, X-Request-Id"
	// corsMaxAge is how long (seconds) a browser may cache a preflight:
	// Chromium caps it at two hours.
	corsMaxAge = "7200"
)

// parseCORSOrigins reads SCIMD_CORS_ORIGINS: comma-separated origins as
// browsers send them in the Origin header (scheme://host[:port], lower
// case, no default port), or "*" alone. The error names every bad entry.
func parseCORSOrigins(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var (
		origins, errs []string
		entries       int
	)
	for _, raw := range strings.Split(v, ",") {
		o := strings.TrimSpace(raw)
		if o == "" {
			continue
		}
		entries++
		if o == corsAnyOrigin {
			origins = append(origins, o)
			continue
		}
		norm, err := normalizeOrigin(o)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if !slices.Contains(origins, norm) {
			origins = append(origins, norm)
		}
	}
	if slices.Contains(origins, corsAnyOrigin) && entries > 1 {
		errs = append(errs, `"*" allows every origin and must be the only entry`)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return origins, nil
}

// normalizeOrigin checks one origin and returns it as a browser serialises
// it, so that it compares equal to the Origin header.
func normalizeOrigin(o string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q is not an origin (%s); write scheme://host[:port], for example https://cx.example.com", o, why)
	}
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return "", bad("does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return "", bad("no host")
	case u.User != nil:
		return "", bad("no user or password")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(o, "#"):
		return "", bad("no path, query or fragment, not even a trailing /")
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		return scheme + "://" + host, nil
	}
	return scheme + "://" + host + ":" + port, nil
}

// cors adds CORS headers to the lookup API's answers for the allowed
// origins and answers their preflight requests. A request from any other
// origin, or without one, is served without CORS headers (the browser
// then keeps the answer from the page).
func cors(origins []string, log *slog.Logger) func(http.Handler) http.Handler {
	anyOrigin := slices.Contains(origins, corsAnyOrigin)
	allowed := func(origin string) bool {
		return anyOrigin || slices.Contains(origins, strings.ToLower(origin))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, corsPrefix) {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			// The answer depends on Origin (and a preflight's on what it
			// asks), so caches must keep one per value.
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
			if preflight {
				h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
			}
			if origin == "" || !allowed(origin) {
				if preflight {
					log.InfoContext(r.Context(), "CORS preflight refused: origin not in SCIMD_CORS_ORIGINS", "origin", truncate(origin, 200))
				}
				next.ServeHTTP(w, r)
				return
			}
			allowOrigin := origin
			if anyOrigin {
				allowOrigin = corsAnyOrigin
			}
			if !preflight {
				h.Set("Access-Control-Allow-Origin", allowOrigin)
				h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
				next.ServeHTTP(w, r)
				return
			}
			if reason := refusePreflight(r); reason != "" {
				// No CORS headers: the browser reports the refusal, and
				// the request answers as any OPTIONS request does (405).
				log.InfoContext(r.Context(), "CORS preflight refused: "+reason, "origin", truncate(origin, 200))
				next.ServeHTTP(w, r)
				return
			}
			if info, ok := r.Context().Value(routeInfoKey{}).(*routeInfo); ok {
				info.route = corsPreflightRoute
			}
			h.Set("Access-Control-Allow-Origin", allowOrigin)
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// refusePreflight says why a preflight asks for more than the lookup API
// allows, or "" if it does not.
func refusePreflight(r *http.Request) string {
	method := r.Header.Get("Access-Control-Request-Method")
	if method != http.MethodGet {
		return "method " + truncate(method, 20) + " not allowed"
	}
	for _, field := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(field, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !slices.ContainsFunc(strings.Split(corsAllowHeaders, ", "), func(a string) bool { return strings.EqualFold(a, name) }) {
				return "header " + truncate(name, 50) + " not allowed"
			}
		}
	}
	return ""
}
