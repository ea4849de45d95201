package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress writes a line a second on stderr while a phase runs: the
// phase, done/total and the rate over the last second. On a terminal the
// line is rewritten in place; elsewhere each is a line of its own. It
// also samples the Go heap, for the peak.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool

	mu       sync.Mutex
	phase    string
	total    int
	done     *atomic.Int64
	started  time.Time
	last     int64
	lastAt   time.Time
	shown    bool // a \r line is on the terminal
	peakHeap uint64
	quit     chan struct{}
	wg       sync.WaitGroup
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet, quit: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	p.wg.Go(p.loop)
	return p
}

// close stops the ticker.
func (p *progress) close() {
	close(p.quit)
	p.wg.Wait()
	p.clear()
}

func (p *progress) loop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.sampleHeap()
			p.tick()
		}
	}
}

// start shows a new phase.
func (p *progress) start(phase string, total int, done *atomic.Int64) {
	p.sampleHeap()
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.phase, p.total, p.done, p.started, p.last, p.lastAt = phase, total, done, now, 0, now
}

// stop ends the phase's line.
func (p *progress) stop() {
	p.sampleHeap()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = nil
	p.clearLocked()
}

// note shows a message (a step that is not a measured phase).
func (p *progress) note(msg string) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, "scimbench: %s\n", msg)
}

func (p *progress) tick() {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return
	}
	now := time.Now()
	n := p.done.Load()
	rate := float64(n-p.last) / now.Sub(p.lastAt).Seconds()
	p.last, p.lastAt = n, now
	line := fmt.Sprintf("scimbench: %-14s %*d/%d  %6.0f/s  %5.0fs", p.phase, len(strconv.Itoa(p.total)), n, p.total, rate, now.Sub(p.started).Seconds())
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.shown = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// clear removes an in-place line before other output.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *progress) clearLocked() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// heapSample reads the bytes of live and not yet swept heap objects.
var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func (p *progress) sampleHeap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	metrics.Read(heapSample)
	if v := heapSample[0].Value; v.Kind() == metrics.KindUint64 && v.Uint64() > p.peakHeap {
		p.peakHeap = v.Uint64()
	}
}

// resetPeaks starts new peaks: the Go heap's here, and the kernel's peak
// RSS (VmHWM) where Linux allows resetting it (clear_refs, Linux 4.0+).
func (p *progress) resetPeaks() {
	runtime.GC()
	p.mu.Lock()
	p.peakHeap = 0
	p.mu.Unlock()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // 5: reset the peak RSS
}

// memory is the run's peak memory.
func (p *progress) memory(scope string) Memory {
	p.sampleHeap()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.mu.Lock()
	defer p.mu.Unlock()
	return Memory{PeakRSSBytes: peakRSS(), PeakGoHeapBytes: p.peakHeap, GoSysBytes: ms.Sys, Scope: scope}
}

// peakRSS is VmHWM from /proc/self/status, or 0 where there is none.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
