package limit

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for the rate and idleness.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func refusal(t *testing.T, r *Refusal, want Kind) *Refusal {
	t.Helper()
	if r == nil {
		t.Fatalf("admitted, want a %s refusal", want)
	}
	if r.Limit != want {
		t.Fatalf("refused by %s, want %s: %v", r.Limit, want, r)
	}
	return r
}

func TestNilLimiterAdmitsEverything(t *testing.T) {
	l := New(Config{})
	if l != nil {
		t.Fatal("a config without limits should give a nil limiter")
	}
	for range 1000 {
		s, err := l.Acquire(t.Context(), "a")
		if err != nil {
			t.Fatal(err)
		}
		s.Release()
	}
	if err := l.Allow("a"); err != nil || l.Keys() != 0 {
		t.Fatal(err, l.Keys())
	}
}

func TestInFlightPerKey(t *testing.T) {
	var refused []Kind
	l := New(Config{MaxInFlight: 2, Refused: func(k Kind) { refused = append(refused, k) }})
	ctx := t.Context()
	a1, err1 := l.Acquire(ctx, "a")
	a2, err2 := l.Acquire(ctx, "a")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	_, err := l.Acquire(ctx, "a")
	r := refusal(t, err, InFlight)
	if r.RetryAfterHeader() != "1" || !strings.Contains(r.Error(), "in flight are at its limit of 2") {
		t.Errorf("refusal: Retry-After %s, %q", r.RetryAfterHeader(), r.Error())
	}
	// Another key is not affected by a's slots.
	b, err := l.Acquire(ctx, "b")
	if err != nil {
		t.Fatalf("key b refused while a is full: %v", err)
	}
	b.Release()
	a1.Release()
	a3, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatalf("a released slot not reusable: %v", err)
	}
	a2.Release()
	a3.Release()
	if len(refused) != 1 || refused[0] != InFlight {
		t.Errorf("Refused calls: %v", refused)
	}
}

func TestWaitQueueHandsOverInOrder(t *testing.T) {
	l := New(Config{MaxInFlight: 1, Wait: time.Minute, MaxWaiting: 1})
	ctx := t.Context()
	first, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Slot)
	go func() {
		s, err := l.Acquire(ctx, "a")
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	waitFor(t, func() bool { return queued(l, "a") == 1 })
	// The queue is full: one more is refused at once rather than
	// waiting.
	_, err = l.Acquire(ctx, "a")
	refusal(t, err, InFlight)

	first.Release()
	second := <-got
	if queued(l, "a") != 0 || inFlight(l, "a") != 1 {
		t.Fatalf("after hand-over: queued %d, in flight %d", queued(l, "a"), inFlight(l, "a"))
	}
	second.Release()
	if inFlight(l, "a") != 0 {
		t.Fatalf("in flight %d after every release", inFlight(l, "a"))
	}
}

func TestQueueDefault(t *testing.T) {
	for _, tc := range []struct{ max, want int }{{1, DefaultMaxWaiting}, {100, 100}} {
		if l := New(Config{MaxInFlight: tc.max, Wait: time.Second}); l.cfg.MaxWaiting != tc.want {
			t.Errorf("MaxInFlight %d: queue of %d, want %d", tc.max, l.cfg.MaxWaiting, tc.want)
		}
	}
}

func TestWaitEnds(t *testing.T) {
	l := New(Config{MaxInFlight: 1, Wait: 5 * time.Millisecond})
	s, err := l.Acquire(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	_, err = l.Acquire(t.Context(), "a")
	refusal(t, err, InFlight)
	if queued(l, "a") != 0 {
		t.Fatal("a request that gave up stays queued")
	}
	// A request whose context ends stops waiting too.
	ctx, cancel := context.WithCancel(context.Background())
	l2 := New(Config{MaxInFlight: 1, Wait: time.Hour})
	s2, _ := l2.Acquire(ctx, "a")
	defer s2.Release()
	done := make(chan *Refusal)
	go func() {
		_, err := l2.Acquire(ctx, "a")
		done <- err
	}()
	waitFor(t, func() bool { return queued(l2, "a") == 1 })
	cancel()
	refusal(t, <-done, InFlight)
	if queued(l2, "a") != 0 {
		t.Fatal("a cancelled request stays queued")
	}
}

func TestRateRefills(t *testing.T) {
	c := newClock()
	l := New(Config{Rate: 2, Now: c.Now}) // burst 2
	for i := range 2 {
		if err := l.Allow("a"); err != nil {
			t.Fatalf("request %d within the burst: %v", i, err)
		}
	}
	r := refusal(t, l.Allow("a"), Rate)
	if r.RetryAfter != 500*time.Millisecond || r.RetryAfterHeader() != "1" ||
		!strings.Contains(r.Error(), "rate of 2 a second") {
		t.Errorf("refusal: %v, %s, %q", r.RetryAfter, r.RetryAfterHeader(), r.Error())
	}
	if err := l.Allow("b"); err != nil {
		t.Fatalf("key b refused by a's rate: %v", err)
	}
	c.Advance(499 * time.Millisecond)
	refusal(t, l.Allow("a"), Rate)
	c.Advance(time.Millisecond)
	if err := l.Allow("a"); err != nil {
		t.Fatalf("no token after 0.5 s at 2/s: %v", err)
	}
	// A long idle time refills up to the burst, not beyond.
	c.Advance(time.Hour)
	for i := range 2 {
		if err := l.Allow("a"); err != nil {
			t.Fatalf("after idling, request %d: %v", i, err)
		}
	}
	refusal(t, l.Allow("a"), Rate)
}

func TestRateRetryAfterRoundsUp(t *testing.T) {
	c := newClock()
	l := New(Config{Rate: 0.25, Now: c.Now}) // one request every 4 s
	if err := l.Allow("a"); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	r := refusal(t, l.Allow("a"), Rate)
	if r.RetryAfterHeader() != "3" {
		t.Errorf("Retry-After %s, want 3 (a token is due in 3 s)", r.RetryAfterHeader())
	}
}

func TestInFlightRefusalRefundsToken(t *testing.T) {
	c := newClock()
	l := New(Config{MaxInFlight: 1, Rate: 1, Burst: 2, Now: c.Now})
	s, err := l.Acquire(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Acquire(t.Context(), "a")
	refusal(t, err, InFlight)
	s.Release()
	// The refused request gave its token back: one is left.
	s, err = l.Acquire(t.Context(), "a")
	if err != nil {
		t.Fatalf("token not refunded: %v", err)
	}
	s.Release()
	_, err = l.Acquire(t.Context(), "a")
	refusal(t, err, Rate)
}

func TestAllowHoldsNoSlot(t *testing.T) {
	l := New(Config{MaxInFlight: 1})
	for range 10 {
		if err := l.Allow("a"); err != nil {
			t.Fatal(err)
		}
	}
	s, err := l.Acquire(t.Context(), "a")
	if err != nil {
		t.Fatalf("streams took the only slot: %v", err)
	}
	s.Release()
}

func TestIdleKeysEvicted(t *testing.T) {
	c := newClock()
	l := New(Config{MaxInFlight: 4, Rate: 10, Now: c.Now, IdleAfter: time.Minute})
	held, err := l.Acquire(t.Context(), "busy")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		s, err := l.Acquire(t.Context(), fmt.Sprintf("dir-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		s.Release()
	}
	if n := l.Keys(); n != 5001 {
		t.Fatalf("keys = %d, want 5001", n)
	}
	c.Advance(2 * time.Minute)
	// Every shard sweeps on its next request.
	for i := range 5000 {
		if err := l.Allow(fmt.Sprintf("new-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(2 * time.Minute)
	for i := range 2000 { // enough keys to reach every shard
		_ = l.Allow(fmt.Sprintf("late-%d", i))
	}
	if n := l.Keys(); n > 2000+1 {
		t.Fatalf("keys = %d after idling: idle state is not evicted", n)
	}
	// The key with a request in flight keeps its state.
	if inFlight(l, "busy") != 1 {
		t.Fatal("a key with a request in flight was evicted")
	}
	held.Release()
}

func TestConcurrentNeverExceedsLimit(t *testing.T) {
	const limit = 3
	l := New(Config{MaxInFlight: limit, Wait: time.Minute})
	var mu sync.Mutex
	cur, peak := 0, 0
	var wg sync.WaitGroup
	for range 8 * limit { // the queue (64) holds them all: no refusals
		wg.Go(func() {
			for range 200 {
				s, err := l.Acquire(t.Context(), "a")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				cur++
				peak = max(peak, cur)
				mu.Unlock()
				time.Sleep(10 * time.Microsecond)
				mu.Lock()
				cur--
				mu.Unlock()
				s.Release()
			}
		})
	}
	wg.Wait()
	if peak > limit {
		t.Fatalf("peak in flight %d > %d", peak, limit)
	}
	if inFlight(l, "a") != 0 || queued(l, "a") != 0 {
		t.Fatalf("left in flight %d, queued %d", inFlight(l, "a"), queued(l, "a"))
	}
}

func (l *Limiter) entryOf(key string) (inFlight, queued int) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		if e := sh.keys[key]; e != nil {
			inFlight, queued = e.inFlight, len(e.queue)
		}
		sh.mu.Unlock()
	}
	return inFlight, queued
}

func inFlight(l *Limiter, key string) int { n, _ := l.entryOf(key); return n }
func queued(l *Limiter, key string) int   { _, n := l.entryOf(key); return n }

// waitFor polls cond: goroutines reach the queue in their own time.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
