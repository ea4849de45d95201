package presence

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// hub fans presence changes out to stream subscribers and keeps the
// latest of each directory in memory, so that a client that reconnects
// with Last-Event-ID misses nothing still held.
type hub struct {
	keep  int    // events kept per directory
	epoch string // event ids of another process are not ours to resume

	mu   sync.Mutex
	dirs map[string]*hubDir
}

type hubDir struct {
	seq    uint64
	recent []Event // ring, oldest first once full
	start  int     // index of the oldest in recent
	subs   map[*Subscription]struct{}
}

// Subscription is one stream client's feed.
type Subscription struct {
	// Events carries the changes; it is closed when the subscription
	// ends: Close, the service stopping, or a client too slow to keep up
	// (it reconnects with Last-Event-ID and resumes from memory).
	Events <-chan Event
	// Reset is set when the client asked to resume from an event that is
	// no longer in memory: it must re-read presence through the lookup API.
	Reset bool

	ch     chan Event
	h      *hub
	dir    string
	closed bool
}

// subBuffer is how far a subscriber may fall behind before it is cut off.
const subBuffer = 1024

func newHub(keep int) *hub {
	return &hub{keep: keep, epoch: strconv.FormatInt(time.Now().UnixNano(), 36), dirs: map[string]*hubDir{}}
}

func (h *hub) dir(id string) *hubDir {
	d := h.dirs[id]
	if d == nil {
		d = &hubDir{subs: map[*Subscription]struct{}{}}
		h.dirs[id] = d
	}
	return d
}

// publish assigns ids to evs, keeps them and sends them to subscribers.
func (h *hub) publish(directoryID string, evs []Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.dir(directoryID)
	for _, ev := range evs {
		d.seq++
		ev.ID = h.epoch + "-" + strconv.FormatUint(d.seq, 10)
		if len(d.recent) < h.keep {
			d.recent = append(d.recent, ev)
		} else {
			d.recent[d.start] = ev
			d.start = (d.start + 1) % h.keep
		}
		for s := range d.subs {
			select {
			case s.ch <- ev:
			default: // too slow: cut it off rather than block the poller
				h.closeLocked(s)
			}
		}
	}
}

// subscribe starts a feed of the directory's changes after lastEventID
// ("" for new changes only).
func (h *hub) subscribe(directoryID, lastEventID string) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.dir(directoryID)
	s := &Subscription{ch: make(chan Event, subBuffer), h: h, dir: directoryID}
	s.Events = s.ch
	if lastEventID != "" {
		missed, ok := h.since(d, lastEventID)
		s.Reset = !ok
		for _, ev := range missed {
			if len(s.ch) == cap(s.ch) {
				s.Reset = true
				break
			}
			s.ch <- ev
		}
	}
	d.subs[s] = struct{}{}
	return s
}

// since returns d's kept events after id, and false if id is not one
// whose successors are all still kept.
func (h *hub) since(d *hubDir, id string) ([]Event, bool) {
	epoch, n, ok := strings.Cut(id, "-")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !ok || err != nil || epoch != h.epoch || seq > d.seq {
		return nil, false
	}
	oldest := d.seq - uint64(len(d.recent)) + 1 // seq of the oldest kept
	if seq+1 < oldest {
		return nil, false
	}
	var out []Event
	for i := range d.recent {
		ev := d.recent[(d.start+i)%len(d.recent)]
		if oldest+uint64(i) > seq {
			out = append(out, ev)
		}
	}
	return out, true
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.closeLocked(s)
}

func (h *hub) closeLocked(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	close(s.ch)
	if d := h.dirs[s.dir]; d != nil {
		delete(d.subs, s)
	}
}

// forget drops a directory's kept events (after a revocation) and ends
// its subscriptions.
func (h *hub) forget(directoryID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.dirs[directoryID]
	if d == nil {
		return
	}
	for s := range d.subs {
		h.closeLocked(s)
	}
	d.recent, d.start = nil, 0
}

// closeAll ends every subscription (the service stops).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.dirs {
		for s := range d.subs {
			h.closeLocked(s)
		}
	}
}
