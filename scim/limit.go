package scim

import "net/http"

// admit holds the request to its directory's limits (Config.Limiter),
// once authenticated: only a directory's own clients spend its budget.
// A refusal is a SCIM 429 whose detail names the limit, with the
// Retry-After that Entra honours: it pauses the job's requests that
// long and retries the refused ones.
func (s *Server) admit(next http.Handler) http.Handler {
	if s.cfg.Limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slot, ref := s.cfg.Limiter.Acquire(r.Context(), directoryFrom(r.Context()).ID)
		if ref != nil {
			w.Header().Set("Retry-After", ref.RetryAfterHeader())
			WriteError(w, http.StatusTooManyRequests, "", ref.Error())
			return
		}
		defer slot.Release()
		next.ServeHTTP(w, r)
	})
}
