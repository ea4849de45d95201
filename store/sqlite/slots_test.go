package sqlite

import (
	"context"
	"testing"
	"time"
)

// TestPointSlots checks that cheap reads run one at a time, costly ones
// one per CPU, and that the mean follows the reads' times.
func TestPointSlots(t *testing.T) {
	p := newPointSlots(2)
	ctx := t.Context()
	held := func() int { // how many reads can hold a slot at once now
		t.Helper()
		var releases []func()
		for range 3 {
			short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			release, err := p.acquire(short)
			cancel()
			if err != nil {
				break
			}
			releases = append(releases, release)
		}
		for _, r := range releases {
			r()
		}
		return len(releases)
	}
	if n := held(); n != 1 {
		t.Errorf("a new DB (no reads yet: cheap) let %d reads run at once, want 1", n)
	}

	p.mean.Store(int64(3 * cheapRead))
	if n := held(); n != 2 {
		t.Errorf("costly reads: %d at once, want one per CPU (2)", n)
	}

	// Slow reads pull the mean up, capped at maxSample each.
	p.mean.Store(0)
	for range 200 {
		release, err := p.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * maxSample)
		release()
	}
	if got := time.Duration(p.mean.Load()); got < cheapRead || got > maxSample {
		t.Errorf("mean after slow reads %v, want from %v to %v", got, cheapRead, maxSample)
	}

	one := newPointSlots(1)
	one.mean.Store(int64(3 * cheapRead))
	release, err := one.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := one.acquire(short); err == nil {
		t.Error("a second read got the only slot")
	}
	release()
}
