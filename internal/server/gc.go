package server

import (
	"os"
	"runtime/debug"
	"sync"
)

// scimd's garbage collector settings, unless GOGC or GOMEMLIMIT set
// others. scimd's live heap is small (tens of MB; the contacts live in
// SQLite), and with Go's default GOGC=100 the collector ran every few
// thousand lookups: BenchmarkLookupHTTP (1,000,000 contacts, 8 clients)
// measured 16,460 lookups/s, p99 2.8 ms (2.95 ms paced at 10,000/s)
// with the default, 20,913/s, p99 1.7 ms (1.6 ms paced) with 400, for
// 56 MB of resident memory instead of 40. The soft limit bounds what 400
// allows if the live heap grows: near it the collector runs as often as
// it must. With the phone numbers of four directories of 100,000 in
// memory (as many as scimd keeps) the process reached 260 MB under a
// 256 MiB limit, 169 MB under this one, at the same search throughput
// (BenchmarkSearchHTTP, q=digits/dirs=4).
const (
	gcPercent   = 400
	memoryLimit = 150 << 20
)

var tuneGCOnce sync.Once

// tuneGC applies the settings once per process.
func tuneGC() {
	tuneGCOnce.Do(func() {
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(gcPercent)
		}
		if os.Getenv("GOMEMLIMIT") == "" {
			ownLimit.set(memoryLimit)
		}
	})
}

// ownLimit is the soft memory limit scimd set, if it set one.
var ownLimit softLimit

type softLimit struct {
	mu  sync.Mutex
	now int64 // 0: scimd has not set the limit
}

func (l *softLimit) set(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = n
	debug.SetMemoryLimit(n)
}

// grow sets scimd's soft memory limit to memoryLimit plus what phone
// search holds in memory (n bytes: store/sqlite's phone indexes). Those
// are kept on purpose, not garbage: a million contacts' numbers take
// about 130 MB. Under a fixed 150 MiB limit, once a directory that large
// had been searched by digits, the collector ran every 600 caller-ID
// lookups and took a quarter of the CPU, and lookups ran at half their
// speed. A limit that scimd did not set (GOMEMLIMIT, or a program
// embedding scimd) is left as it is.
func (l *softLimit) grow(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.now == 0 || debug.SetMemoryLimit(-1) != l.now {
		return
	}
	l.now = memoryLimit + n
	debug.SetMemoryLimit(l.now)
}
