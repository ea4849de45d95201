package presence

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimd/scimd/store"
)

// hub fans presence changes out to stream subscribers. On its own, it
// keeps the latest of each directory in memory, so that a client that
// reconnects with Last-Event-ID misses nothing still held; ids are
// "epoch-n", meaningful to this process only.
//
// With a shared store (several processes), the changes come from the
// store's record instead, which every process reads: ids are the store's
// per-directory sequence numbers, so a client may resume on any process
// for as long as the store keeps the changes.
type hub struct {
	keep  int    // events kept per directory
	epoch string // event ids of another process are not ours to resume

	shared store.Shared                                   // nil: single process
	event  func(dir string, c store.PresenceChange) Event // a recorded change as an event

	mu   sync.Mutex
	dirs map[string]*hubDir
}

type hubDir struct {
	seq    uint64
	recent []Event // ring, oldest first once full
	start  int     // index of the oldest in recent
	subs   map[*Subscription]struct{}
	// known: with a shared store, seq is the newest change streamed
	// from the store (or seen in the feed when nobody listened).
	known bool
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

func newHub(keep int, shared store.Shared, event func(string, store.PresenceChange) Event) *hub {
	return &hub{keep: keep, epoch: strconv.FormatInt(time.Now().UnixNano(), 36), dirs: map[string]*hubDir{},
		shared: shared, event: event}
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
		h.sendLocked(d, ev)
	}
}

func (h *hub) sendLocked(d *hubDir, ev Event) {
	for s := range d.subs {
		select {
		case s.ch <- ev:
		default: // too slow: cut it off rather than block the poller
			h.closeLocked(s)
		}
	}
}

// storeTimeout bounds the store reads of a shared hub, made with its lock
// held.
const storeTimeout = 5 * time.Second

// catchUp streams a directory's recorded changes up to seq (the change
// feed announced them). Nobody listening, it only notes seq.
func (h *hub) catchUp(directoryID string, seq int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.dirs[directoryID]
	if d == nil || len(d.subs) == 0 {
		if d != nil && d.known {
			d.seq = max(d.seq, uint64(seq))
		}
		return
	}
	h.fetchLocked(directoryID, d)
}

// resync catches every directory with listeners up: changes may have been
// announced while the feed was away.
func (h *hub) resync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, d := range h.dirs {
		if len(d.subs) > 0 {
			h.fetchLocked(id, d)
		}
	}
}

// fetchLocked streams d's recorded changes after d.seq to its subscribers.
// If the store fails, or has pruned changes the subscribers have not seen,
// they are cut off: they reconnect and resume (or are told to re-read).
func (h *hub) fetchLocked(directoryID string, d *hubDir) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if !d.known {
		last, err := h.shared.LastPresenceChange(ctx, directoryID)
		if err != nil {
			h.dropLocked(d)
			return
		}
		d.seq, d.known = uint64(last), true
		return
	}
	for {
		cs, oldest, err := h.shared.PresenceChanges(ctx, directoryID, int64(d.seq), subBuffer)
		if err != nil || len(cs) > 0 && oldest > int64(d.seq)+1 {
			h.dropLocked(d)
			d.known = false
			return
		}
		for _, c := range cs {
			d.seq = uint64(c.Seq)
			ev := h.event(directoryID, c)
			ev.ID = strconv.FormatInt(c.Seq, 10)
			h.sendLocked(d, ev)
		}
		if len(cs) < subBuffer {
			return
		}
	}
}

// dropLocked ends d's subscriptions.
func (h *hub) dropLocked(d *hubDir) {
	for s := range d.subs {
		h.closeLocked(s)
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
	if h.shared != nil {
		h.subscribeShared(d, s, lastEventID)
		d.subs[s] = struct{}{}
		return s
	}
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

// subscribeShared brings d up to date with the store, then sends s what it
// missed after lastEventID: the store's changes, numbered per directory.
func (h *hub) subscribeShared(d *hubDir, s *Subscription, lastEventID string) {
	dir := s.dir
	if d.known {
		h.fetchLocked(dir, d)
	}
	if !d.known {
		h.fetchLocked(dir, d) // reads the newest number
	}
	if lastEventID == "" {
		return
	}
	after, err := strconv.ParseInt(lastEventID, 10, 64)
	if err != nil || after < 0 || !d.known || uint64(after) > d.seq {
		s.Reset = true // not an id of the store's, or one from before a revocation
		return
	}
	if uint64(after) == d.seq {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	cs, oldest, err := h.shared.PresenceChanges(ctx, dir, after, subBuffer)
	if err != nil || len(cs) == 0 || oldest > after+1 || len(cs) == subBuffer {
		s.Reset = true // pruned, or more than the client may queue
		return
	}
	for _, c := range cs {
		if uint64(c.Seq) > d.seq {
			break // streamed to every subscriber next
		}
		ev := h.event(dir, c)
		ev.ID = strconv.FormatInt(c.Seq, 10)
		s.ch <- ev
	}
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
	d.known = false // the store forgot the directory's changes too
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
