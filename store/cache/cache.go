// Package cache is the bounded in-memory cache the store backends keep of
// rows that every request reads and rare admin operations write
// (directories and API keys, for authentication).
package cache

import "sync"

// Rows caches values by key and forgets everything whenever one changes.
// A read that raced with a change cannot store what it read: the change
// bumps the generation after it commits (Invalidate), and a read stores
// its row only under the generation it started with (Get, then Put).
type Rows[V any] struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]V
}

// MaxRows bounds each cache; when full it starts over.
const MaxRows = 10_000

// Get returns the value under k, the current generation and whether it
// was there.
func (c *Rows[V]) Get(k string) (V, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, c.gen, ok
}

// Put stores v under k if nothing was invalidated since gen.
func (c *Rows[V]) Put(k string, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= MaxRows {
		c.m = map[string]V{}
	}
	c.m[k] = v
}

// Invalidate forgets everything; call it after a change has committed.
func (c *Rows[V]) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}
