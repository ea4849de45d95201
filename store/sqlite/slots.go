package sqlite

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// pointSlots admits point reads to SQLite: caller-ID, a contact by id, a
// SCIM user by id, a list filtered by an equality on a unique attribute
// (Entra's userName eq).
//
// Each read runs in C on a thread of its own, which holds its CPU
// outside the Go scheduler. Reads beyond one per CPU only make the kernel
// time-slice threads: with 8 lookups at once on 2 CPUs, p99 was 7 ms for
// a 45 µs lookup. Queued in Go instead (FIFO), p99 was 1.2 ms.
//
// How many reads run at once depends on what they cost. A goroutine in a
// C call keeps its P, so two reads at once on 2 CPUs leave none for the
// HTTP side, which is most of a request's work. Cheap reads therefore run
// one at a time: at 10,000 users (a read holds its slot 16–19 µs)
// caller-ID p99 went from 1.2–2.5 ms to 0.9–1.0 ms, GET /Users/{id} from
// 0.49–0.53× the HTTP ceiling to 0.54–0.56×. Costlier reads run
// one per CPU: at 100,000 users (27–31 µs) alone was as fast, with a
// lower p99, but at 1,000,000 contacts (26–37 µs) 10% slower, and the
// two ranges overlap.
type pointSlots struct {
	sem *semaphore.Weighted
	n   int64 // slots: one per CPU
	// mean is a moving mean of a read's time in its slot, in ns, over
	// about the last 32 reads of any directory. It starts at 0: cheap.
	mean atomic.Int64
}

// cheapRead is the mean time in a slot below which reads run alone:
// above the means measured at 10,000 users, below those at 100,000 and
// more.
const cheapRead = 20 * time.Microsecond

// maxSample caps one read's weight in the mean, so that one descheduled
// read cannot make the reads look costly.
const maxSample = 4 * cheapRead

func newPointSlots(cpus int) *pointSlots {
	n := int64(max(cpus, 1))
	return &pointSlots{sem: semaphore.NewWeighted(n), n: n}
}

// acquire waits for a slot (all of them for a cheap read) and returns
// the function that gives it back.
func (p *pointSlots) acquire(ctx context.Context) (release func(), err error) {
	w := int64(1)
	if time.Duration(p.mean.Load()) < cheapRead {
		w = p.n
	}
	if err := p.sem.Acquire(ctx, w); err != nil {
		return nil, err
	}
	start := time.Now()
	return func() {
		d := int64(min(time.Since(start), maxSample))
		for {
			old := p.mean.Load()
			if p.mean.CompareAndSwap(old, old+(d-old)/32) {
				break
			}
		}
		p.sem.Release(w)
	}, nil
}
