package fakegraph

import (
	"net/http"
	"strings"
	"time"
)

// A burst is one knob call: the next n calls get the same treatment.
type burst struct {
	n          int
	status     int
	retryAfter string
	delay      time.Duration
}

// queue holds bursts in the order the test set them, so knobs can script a
// sequence: Throttle(1, "2") then FailNext(503, 1, "") gives 429, then 503.
type queue []burst

func (q *queue) push(b burst) {
	if b.n > 0 {
		*q = append(*q, b)
	}
}

// next spends one call of the oldest burst.
func (q *queue) next() (burst, bool) {
	if len(*q) == 0 {
		return burst{}, false
	}
	b := (*q)[0]
	if (*q)[0].n--; (*q)[0].n == 0 {
		*q = (*q)[1:]
	}
	return b, true
}

func (s *Server) locked(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// SetPresence sets a user's presence and bumps its sequenceNumber. It
// undoes DeleteUser and overrides AutoPresence. id is a GUID, any case; it
// panics otherwise, since Graph could never be asked about it.
func (s *Server) SetPresence(id, availability, activity string) {
	if !isGUID(id) {
		panic("fakegraph: SetPresence id is not a GUID: " + id)
	}
	id = strings.ToLower(id)
	s.locked(func() {
		// Never behind the clock, so it sorts after any AutoPresence stamp.
		s.lastSeq = max(s.now().UnixNano(), s.lastSeq+1)
		s.users[id] = presence{availability, activity, seqString(s.lastSeq)}
		delete(s.deleted, id)
	})
}

// DeleteUser makes responses omit id (a 404 for the single-user call).
func (s *Server) DeleteUser(id string) {
	id = strings.ToLower(id)
	s.locked(func() {
		delete(s.users, id)
		s.deleted[id] = true
	})
}

// Throttle makes the next n Graph calls answer 429 TooManyRequests with
// Retry-After: retryAfter (delta-seconds or an HTTP-date; "" sends none).
func (s *Server) Throttle(n int, retryAfter string) {
	s.FailNext(http.StatusTooManyRequests, n, retryAfter)
}

// FailNext makes the next n Graph calls answer status with a Graph error
// body and, unless retryAfter is "", a Retry-After header. Calls refused
// for their token or consent do not spend them.
func (s *Server) FailNext(status, n int, retryAfter string) {
	s.locked(func() { s.graphFaults.push(burst{n: n, status: status, retryAfter: retryAfter}) })
}

// SlowNext makes the next n Graph calls wait d, or until their request
// ends, before answering.
func (s *Server) SlowNext(n int, d time.Duration) {
	s.locked(func() { s.graphSlow.push(burst{n: n, delay: d}) })
}

// SlowTokenNext makes the next n token requests wait d, or until their
// request ends, before answering.
func (s *Server) SlowTokenNext(n int, d time.Duration) {
	s.locked(func() { s.tokenSlow.push(burst{n: n, delay: d}) })
}

// RevokeConsent plays an admin removing consent: tokens are still issued
// and old ones accepted, but presence calls answer 403 until GrantConsent.
func (s *Server) RevokeConsent() { s.locked(func() { s.consentOff = true }) }

// GrantConsent undoes RevokeConsent and DenyConsent.
func (s *Server) GrantConsent() {
	s.locked(func() { s.consentOff, s.consentDenied = false, false })
}

// DenyConsent makes the admin-consent page cancel (error=access_denied,
// AADSTS65004) until GrantConsent.
func (s *Server) DenyConsent() { s.locked(func() { s.consentDenied = true }) }

// DeleteServicePrincipal plays deleting the enterprise app: the token
// endpoint answers 401 invalid_client AADSTS7000229.
func (s *Server) DeleteServicePrincipal() { s.locked(func() { s.app = spDeleted }) }

// DeleteApp plays deleting the app registration: the token endpoint
// answers 400 unauthorized_client AADSTS700016.
func (s *Server) DeleteApp() { s.locked(func() { s.app = appDeleted }) }

// DisableServicePrincipal makes the token endpoint answer 400
// unauthorized_client AADSTS7000112.
func (s *Server) DisableServicePrincipal() { s.locked(func() { s.app = spDisabled }) }

// RestoreApp undoes DeleteApp, DeleteServicePrincipal and
// DisableServicePrincipal, as an admin repairing the app would.
func (s *Server) RestoreApp() { s.locked(func() { s.app = appOK }) }

// ExpireSecret makes the current secret answer 401 invalid_client
// AADSTS7000222 until RotateSecret.
func (s *Server) ExpireSecret() { s.locked(func() { s.secretExpired = true }) }

// RotateSecret makes newSecret the only secret accepted; the old one then
// answers 401 invalid_client AADSTS7000215.
func (s *Server) RotateSecret(newSecret string) {
	s.locked(func() { s.secret, s.secretExpired = newSecret, false })
}

// FailTokenNext makes the next n token requests fail with status: 503 and
// 504 as temporarily_unavailable, anything else as server_error.
func (s *Server) FailTokenNext(status, n int) {
	s.locked(func() { s.tokenFaults.push(burst{n: n, status: status}) })
}

// SetTokenLifetime sets expires_in for tokens issued from now on.
func (s *Server) SetTokenLifetime(d time.Duration) { s.locked(func() { s.lifetime = d }) }

// ExpireTokens makes Graph reject every token issued so far with 401
// InvalidAuthenticationToken.
func (s *Server) ExpireTokens() { s.locked(func() { clear(s.tokens) }) }
