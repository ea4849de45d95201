// Package watch wakes the readers of a directory's change events when new
// ones commit: backends signal it after a commit (or on a notification
// from another process), readers then read the store again. A signal
// carries nothing but "look again", so a missed or extra one costs a
// read, never an event.
package watch

import "sync"

// Hub holds the watchers of each directory. Its zero value is ready.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// Watch returns a channel that receives a value after each Signal of the
// directory (signals that arrive while one is pending merge into it), and
// a function that ends the watch.
func (h *Hub) Watch(directoryID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[string]map[chan struct{}]struct{}{}
	}
	if h.subs[directoryID] == nil {
		h.subs[directoryID] = map[chan struct{}]struct{}{}
	}
	h.subs[directoryID][ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(h.subs[directoryID], ch)
			if len(h.subs[directoryID]) == 0 {
				delete(h.subs, directoryID)
			}
		})
	}
}

// Signal wakes the watchers of the directories.
func (h *Hub) Signal(directoryIDs ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range directoryIDs {
		for ch := range h.subs[id] {
			wake(ch)
		}
	}
}

// SignalAll wakes every watcher: changes may have been missed.
func (h *Hub) SignalAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.subs {
		for ch := range subs {
			wake(ch)
		}
	}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // one is pending: the watcher reads everything anyway
	}
}
