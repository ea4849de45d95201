// Package limit keeps one directory's requests from crowding out
// another's: per key (a directory id), a bound on the requests served at
// once, with a short queue that smooths a burst instead of refusing it,
// and a token-bucket rate. A refused request gets a *Refusal, which the
// HTTP layers answer with 429 and Retry-After.
//
// The state of a key lives in one of a fixed set of shards, each with its
// own mutex, so that requests of different directories rarely share a
// lock and never a global one; a key idle for IdleAfter is dropped, so
// memory follows the directories active lately, not all there are.
package limit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"time"
)

// Kind names the limit that refused a request: the limit label of the
// refusals metric.
type Kind string

const (
	InFlight Kind = "inflight" // too many requests of the key at once
	Rate     Kind = "rate"     // requests of the key came faster than its rate
)

// Config configures a Limiter. Zero values turn a limit off.
type Config struct {
	// MaxInFlight is how many requests of one key are served at once; 0:
	// no bound.
	MaxInFlight int
	// Wait is how long a request beyond MaxInFlight may wait for a slot;
	// 0: refused at once.
	Wait time.Duration
	// MaxWaiting bounds the queue of requests waiting for a slot, per key
	// (default DefaultMaxWaiting, or MaxInFlight if larger). A waiting
	// request costs a goroutine, not CPU, so the queue is long and Wait
	// is what bounds it: a client that sends more at once than the limit
	// is slowed down, not refused.
	MaxWaiting int
	// Rate is how many requests a second one key may make, sustained; 0:
	// no rate.
	Rate float64
	// Burst is how many requests a key that has been idle may make at
	// once, above the rate (default: one second's worth, at least 1).
	Burst int
	// IdleAfter is how long a key's state is kept after its last request
	// (default DefaultIdleAfter).
	IdleAfter time.Duration
	// Now is the clock of the rate and of idleness (default time.Now).
	Now func() time.Time
	// Refused, when set, is called on every refusal (the metric).
	Refused func(Kind)
}

// DefaultMaxWaiting is Config.MaxWaiting's least default: more than an
// Entra provisioning job sends at once (a few dozen requests at most).
const DefaultMaxWaiting = 64

// DefaultIdleAfter is Config.IdleAfter's default.
const DefaultIdleAfter = time.Minute

// inFlightRetryAfter is what a refusal for requests in flight tells the
// client to wait: a slot frees as soon as any request of the key ends,
// so the shortest delay Retry-After can say.
const inFlightRetryAfter = time.Second

// Refusal is a refused request: which limit, and when to retry. It is
// an error.
type Refusal struct {
	Limit      Kind
	RetryAfter time.Duration
	max        int     // MaxInFlight, for the message
	rate       float64 // Rate, for the message
}

// Error says which limit refused the request, for the client.
func (r *Refusal) Error() string {
	if r.Limit == Rate {
		return fmt.Sprintf("this directory's requests exceed its rate of %s a second; retry after %d s",
			strconv.FormatFloat(r.rate, 'f', -1, 64), r.RetryAfterSeconds())
	}
	return fmt.Sprintf("this directory's requests in flight are at its limit of %d; retry after %d s", r.max, r.RetryAfterSeconds())
}

// RetryAfterSeconds is the Retry-After header's value: whole seconds,
// rounded up, at least 1.
func (r *Refusal) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(r.RetryAfter.Seconds())))
}

// RetryAfterHeader is RetryAfterSeconds as the header's text.
func (r *Refusal) RetryAfterHeader() string { return strconv.Itoa(r.RetryAfterSeconds()) }

// numShards spreads keys over locks; a power of two.
const numShards = 64

// Limiter enforces a Config per key. A nil *Limiter admits everything.
type Limiter struct {
	cfg    Config
	burst  float64
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu    sync.Mutex
	keys  map[string]*entry
	swept time.Time // last sweep of idle keys
	_     [64]byte  // keeps neighbouring shards' mutexes off one cache line
}

// entry is one key's state, guarded by its shard's mutex.
type entry struct {
	inFlight int
	queue    []*waiter // FIFO
	tokens   float64   // the bucket, as of refilled
	refilled time.Time
	used     time.Time // last request
}

type waiter struct {
	ready   chan struct{} // closed when granted
	granted bool
}

// New returns a Limiter, or nil (admit everything) when cfg limits
// nothing.
func New(cfg Config) *Limiter {
	if cfg.MaxInFlight <= 0 && cfg.Rate <= 0 {
		return nil
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = DefaultIdleAfter
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = max(DefaultMaxWaiting, cfg.MaxInFlight)
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	l := &Limiter{cfg: cfg, burst: float64(cfg.Burst), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].keys = map[string]*entry{}
	}
	return l
}

// Slot is a request admitted for a key; Release it when the request ends.
// The zero Slot releases nothing.
type Slot struct {
	sh *shard
	e  *entry
}

// Release frees the slot: the longest-waiting request of the key, if
// any, takes it.
func (s Slot) Release() {
	if s.e == nil {
		return
	}
	s.sh.mu.Lock()
	if len(s.e.queue) > 0 {
		w := s.e.queue[0]
		s.e.queue[0] = nil
		s.e.queue = s.e.queue[1:]
		w.granted = true
		close(w.ready)
	} else {
		s.e.inFlight--
	}
	s.sh.mu.Unlock()
}

// Acquire admits a request of key: it takes a token of the key's rate,
// then a slot among its requests in flight, waiting up to Config.Wait
// (or until ctx ends) for one. A refused request holds nothing.
func (l *Limiter) Acquire(ctx context.Context, key string) (Slot, *Refusal) {
	if l == nil {
		return Slot{}, nil
	}
	return l.acquire(ctx, key, l.cfg.MaxInFlight > 0)
}

// Allow admits a request of key by its rate only: for a long-lived
// request (a stream), which must not hold a slot for its whole life.
func (l *Limiter) Allow(key string) *Refusal {
	if l == nil {
		return nil
	}
	_, ref := l.acquire(context.Background(), key, false)
	return ref
}

func (l *Limiter) acquire(ctx context.Context, key string, slot bool) (Slot, *Refusal) {
	sh := &l.shards[maphash.String(l.seed, key)&(numShards-1)]
	now := l.cfg.Now()
	sh.mu.Lock()
	if now.Sub(sh.swept) >= l.cfg.IdleAfter {
		l.sweep(sh, now)
	}
	e := sh.keys[key]
	if e == nil {
		e = &entry{tokens: l.burst, refilled: now}
		sh.keys[key] = e
	}
	e.used = now
	if l.cfg.Rate > 0 {
		l.refill(e, now)
		if e.tokens < 1 {
			wait := time.Duration((1 - e.tokens) / l.cfg.Rate * float64(time.Second))
			sh.mu.Unlock()
			return Slot{}, l.refuse(Rate, wait)
		}
		e.tokens--
	}
	if !slot {
		sh.mu.Unlock()
		return Slot{}, nil
	}
	if e.inFlight < l.cfg.MaxInFlight {
		e.inFlight++
		sh.mu.Unlock()
		return Slot{sh, e}, nil
	}
	if l.cfg.Wait <= 0 || len(e.queue) >= l.cfg.MaxWaiting {
		l.refund(e)
		sh.mu.Unlock()
		return Slot{}, l.refuse(InFlight, inFlightRetryAfter)
	}
	w := &waiter{ready: make(chan struct{})}
	e.queue = append(e.queue, w)
	sh.mu.Unlock()

	timer := time.NewTimer(l.cfg.Wait)
	defer timer.Stop()
	select {
	case <-w.ready:
		return Slot{sh, e}, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	sh.mu.Lock()
	if w.granted { // granted as the wait ended: the slot is ours
		sh.mu.Unlock()
		return Slot{sh, e}, nil
	}
	for i, q := range e.queue {
		if q == w {
			e.queue = append(e.queue[:i], e.queue[i+1:]...)
			break
		}
	}
	l.refund(e)
	sh.mu.Unlock()
	return Slot{}, l.refuse(InFlight, inFlightRetryAfter)
}

// refill adds the tokens earned since the last refill, up to the burst.
func (l *Limiter) refill(e *entry, now time.Time) {
	if d := now.Sub(e.refilled); d > 0 {
		e.tokens = min(l.burst, e.tokens+d.Seconds()*l.cfg.Rate)
		e.refilled = now
	}
}

// refund gives back the token of a request refused after taking one.
func (l *Limiter) refund(e *entry) {
	if l.cfg.Rate > 0 {
		e.tokens = min(l.burst, e.tokens+1)
	}
}

func (l *Limiter) refuse(k Kind, retryAfter time.Duration) *Refusal {
	if l.cfg.Refused != nil {
		l.cfg.Refused(k)
	}
	return &Refusal{Limit: k, RetryAfter: retryAfter, max: l.cfg.MaxInFlight, rate: l.cfg.Rate}
}

// sweep drops the shard's keys that hold nothing and have been idle for
// IdleAfter, with their bucket full again (so that dropping them gives
// no key more than it had).
func (l *Limiter) sweep(sh *shard, now time.Time) {
	sh.swept = now
	for k, e := range sh.keys {
		if e.inFlight > 0 || len(e.queue) > 0 || now.Sub(e.used) < l.cfg.IdleAfter {
			continue
		}
		if l.cfg.Rate > 0 {
			l.refill(e, now)
			if e.tokens < l.burst {
				continue
			}
		}
		delete(sh.keys, k)
	}
}

// Keys is how many keys the limiter holds state for (tests, and the
// memory it takes: about 200 bytes a key).
func (l *Limiter) Keys() int {
	if l == nil {
		return 0
	}
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.keys)
		sh.mu.Unlock()
	}
	return n
}
