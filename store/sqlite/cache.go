package sqlite

import (
	"slices"
	"sync"

	"github.com/scimd/scimd/store"
)

// Directories and API keys are read by every request (authentication) and
// written only by rare admin operations, all through this DB: it keeps
// them in memory and forgets them whenever one changes. A read that raced
// with a change cannot store what it read: the change bumps the
// generation after it commits, and a read stores its row only under the
// generation it started with.
type rowCache[V any] struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]V
}

// maxCachedRows bounds each cache; when full it starts over.
const maxCachedRows = 10_000

func (c *rowCache[V]) get(k string) (V, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, c.gen, ok
}

func (c *rowCache[V]) put(k string, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedRows {
		c.m = map[string]V{}
	}
	c.m[k] = v
}

// invalidate forgets everything; call it after a change has committed.
func (c *rowCache[V]) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

// Cached records are copied on the way out, so that a caller changing
// its copy's slices cannot change the cache.

func cloneDirectory(d store.Directory) store.Directory {
	d.SCIMTokenHash, d.Mapping = slices.Clone(d.SCIMTokenHash), slices.Clone(d.Mapping)
	return d
}

func cloneAPIKey(k store.APIKey) store.APIKey {
	k.Hash = slices.Clone(k.Hash)
	return k
}
