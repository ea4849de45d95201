package mapping

import "sync"

// ParseCached is Parse for the hot path: SCIM writes and lookups read a
// directory's stored rules on every request, and a map lookup keyed by
// the document costs far less than parsing it. A changed document is a
// new key, so new rules apply on the next request. Parsed rules are
// shared: callers must not modify their slices or maps.
func ParseCached(doc []byte) (Rules, error) {
	key := string(doc)
	rulesCache.mu.RLock()
	r, ok := rulesCache.m[key]
	rulesCache.mu.RUnlock()
	if ok {
		return r, nil
	}
	r, err := Parse(doc)
	if err != nil {
		return Rules{}, err
	}
	rulesCache.mu.Lock()
	if rulesCache.m == nil || len(rulesCache.m) >= maxCachedRules {
		rulesCache.m = map[string]Rules{} // bounded: start over when full
	}
	rulesCache.m[key] = r
	rulesCache.mu.Unlock()
	return r, nil
}

const maxCachedRules = 1024

var rulesCache struct {
	mu sync.RWMutex
	m  map[string]Rules
}
