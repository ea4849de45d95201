package console

import (
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// maxFormBytes bounds a console form: names, a client secret, a token.
const maxFormBytes = 64 << 10

// headers sets the console's security headers on every answer, and
// bounds request bodies.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", c.csp)
		h.Set("X-Frame-Options", "DENY")
		// A setup link's secret is in its URL: no page tells another site
		// where it came from.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.Set("Cache-Control", "no-store") // static files say otherwise

		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		next.ServeHTTP(w, r)
	})
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// limiter slows down guessing: each wrong admin token or setup link from
// an address doubles the wait before that address may try again (1 s,
// 2 s, 4 s, … up to maxBackoff); a right one clears it. Memory is
// bounded: at most maxClients addresses, the oldest forgotten first.
type limiter struct {
	now     func() time.Time
	mu      sync.Mutex
	clients map[string]*strikes
}

type strikes struct {
	n     int
	until time.Time // no attempt before this
	last  time.Time
}

const (
	maxBackoff = 5 * time.Minute
	maxClients = 10_000
	// forgetAfter is how long an address's strikes outlive its last one.
	forgetAfter = 15 * time.Minute
)

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, clients: map[string]*strikes{}}
}

// clientAddress is the request's remote host: behind a reverse proxy,
// the proxy's (scimd does not trust forwarded headers).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wait returns how long the address must still wait before its next
// attempt (0: it may try now).
func (l *limiter) wait(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.clients[addr]
	if !ok {
		return 0
	}
	if d := s.until.Sub(l.now()); d > 0 {
		return d
	}
	return 0
}

// fail records a wrong attempt and returns the wait it earned.
func (l *limiter) fail(addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s, ok := l.clients[addr]
	if !ok {
		if len(l.clients) >= maxClients {
			l.evictLocked(now)
		}
		s = &strikes{}
		l.clients[addr] = s
	}
	s.n++
	d := time.Second << min(s.n-1, 20)
	d = min(d, maxBackoff)
	s.until, s.last = now.Add(d), now
	return d
}

// succeed forgets the address's strikes.
func (l *limiter) succeed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, addr)
}

// evictLocked makes room: addresses idle for forgetAfter go, and if that
// frees nothing, the one whose last strike is oldest.
func (l *limiter) evictLocked(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for a, s := range l.clients {
		if now.Sub(s.last) > forgetAfter && now.After(s.until) {
			delete(l.clients, a)
			continue
		}
		if oldest == "" || s.last.Before(oldestAt) {
			oldest, oldestAt = a, s.last
		}
	}
	if len(l.clients) >= maxClients {
		delete(l.clients, oldest)
	}
}
