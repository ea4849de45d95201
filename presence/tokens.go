package presence

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// tokens caches one app-only token per (tenant, app), shared by every
// batch and directory that uses it, and refreshes it before it expires;
// concurrent misses share one request.
type tokens struct {
	hc       *http.Client
	loginURL string
	now      func() time.Time
	fetched  func() // counts token requests (metrics)

	mu sync.Mutex
	m  map[string]token
	sf singleflight.Group
}

func tokenKey(tenant, clientID string) string { return tenant + "\x00" + clientID }

// get returns a valid token for the tenant's app.
func (t *tokens) get(ctx context.Context, tenant, clientID string, cred credential) (string, error) {
	key := tokenKey(tenant, clientID)
	t.mu.Lock()
	cached, ok := t.m[key]
	t.mu.Unlock()
	now := t.now()
	if ok && now.Before(cached.refresh) {
		return cached.value, nil
	}
	v, err, _ := t.sf.Do(key, func() (any, error) {
		if t.fetched != nil {
			t.fetched()
		}
		tok, err := requestToken(ctx, t.hc, t.loginURL, tenant, clientID, cred, t.now())
		if err != nil {
			return "", err
		}
		t.mu.Lock()
		t.m[key] = tok
		t.mu.Unlock()
		return tok.value, nil
	})
	if err != nil {
		// A transient failure keeps a token that is still valid
		// (docs/GRAPH-PRESENCE.md §1); a refusal by the identity platform
		// does not: the app or its credential is gone.
		if _, refused := err.(*TokenError); !refused && ok && now.Before(cached.expires) {
			return cached.value, nil
		}
		return "", err
	}
	return v.(string), nil
}

// invalidate drops value if it is still the cached token (after Graph
// answered 401 for it).
func (t *tokens) invalidate(tenant, clientID, value string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok, ok := t.m[tokenKey(tenant, clientID)]; ok && tok.value == value {
		delete(t.m, tokenKey(tenant, clientID))
	}
}

// forget drops the app's token (new credentials, or revocation).
func (t *tokens) forget(tenant, clientID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, tokenKey(tenant, clientID))
}
