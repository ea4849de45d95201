package api

import (
	"net/http"

	"github.com/scimd/scimd/internal/limit"
)

// limited holds a request to its directory's limits (LookupConfig.Limiter),
// once authenticated: a key holder spends only its own directory's
// budget.
func (l *Lookup) limited(next http.Handler) http.Handler {
	if l.cfg.Limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slot, ref := l.cfg.Limiter.Acquire(r.Context(), scopeFrom(r).directoryID)
		if ref != nil {
			writeTooManyRequests(w, ref)
			return
		}
		defer slot.Release()
		next.ServeHTTP(w, r)
	})
}

// rateLimited holds a long-lived request (the presence stream) to its
// directory's rate only: counted in flight, a few open streams would
// take every slot for as long as they last.
func (l *Lookup) rateLimited(next http.Handler) http.Handler {
	if l.cfg.Limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ref := l.cfg.Limiter.Allow(scopeFrom(r).directoryID); ref != nil {
			writeTooManyRequests(w, ref)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeTooManyRequests answers a refusal: 429 too_many_requests, naming the
// limit, with Retry-After in seconds.
func writeTooManyRequests(w http.ResponseWriter, ref *limit.Refusal) {
	w.Header().Set("Retry-After", ref.RetryAfterHeader())
	WriteError(w, http.StatusTooManyRequests, "too_many_requests", ref.Error())
}
