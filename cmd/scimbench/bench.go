package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// bench holds what every phase shares: the HTTP client, the options, the
// progress line and the log of the first errors.
type bench struct {
	opt    options
	hc     *http.Client
	stderr io.Writer
	prog   *progress
	seed   uint32
	// meter reads PostgreSQL's counters around each phase of a run on
	// PostgreSQL; nil otherwise.
	meter *pgMeter

	errMu    sync.Mutex
	errShown int
	// throttled counts the answers 429 that do retried after their
	// Retry-After, as Entra does; pausedUntil (Unix nanoseconds) is when
	// the pause the last one asked for ends.
	throttled   atomic.Int64
	pausedUntil atomic.Int64
}

// maxThrottledRetries bounds how often do retries one request refused
// with 429.
const maxThrottledRetries = 30

// maxErrorsShown bounds the error bodies written to stderr per process.
const maxErrorsShown = 5

func newBench(opt options, stderr io.Writer, prog *progress) *bench {
	tr := &http.Transport{
		Proxy:               nil, // loopback only, never through a proxy
		MaxIdleConns:        4 * opt.concurrency,
		MaxIdleConnsPerHost: 2 * opt.concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &bench{
		opt:    opt,
		hc:     &http.Client{Transport: tr, Timeout: 60 * time.Second},
		stderr: stderr,
		prog:   prog,
		seed:   rand.Uint32(),
	}
}

// failure writes one of the first failures to stderr.
func (b *bench) failure(name string, format string, a ...any) {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if b.errShown >= maxErrorsShown {
		return
	}
	b.errShown++
	b.prog.clear()
	fmt.Fprintf(b.stderr, "scimbench: %s: %s\n", name, fmt.Sprintf(format, a...))
	if b.errShown == maxErrorsShown {
		fmt.Fprintln(b.stderr, "scimbench: (further errors are counted, not shown)")
	}
}

// do sends one request, reads the whole answer and records it in o,
// failed unless its status is want. out, when set, receives the decoded
// body of a successful answer. It reports whether the request succeeded.
func (b *bench) do(ctx context.Context, w int, o *op, method, u, token string, body []byte, want int, out any) bool {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		o.record(w, 0, false)
		b.failure(o.name, "%v", err)
		return false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", contentTypeSCIM)
	}
	t0 := time.Now()
	resp, data, err := b.send(ctx, req, body, want)
	d := time.Since(t0)
	switch {
	case err != nil:
		o.record(w, d, false)
		if ctx.Err() == nil {
			b.failure(o.name, "%v", err)
		}
		return false
	case resp.StatusCode != want:
		o.record(w, d, false)
		b.failure(o.name, "status %d, want %d: %s", resp.StatusCode, want, clip(data))
		return false
	}
	if out != nil {
		var err error
		if c, ok := out.(answerChecker); ok {
			err = c.check(data)
		} else {
			err = json.Unmarshal(data, out)
		}
		if err != nil {
			o.record(w, d, false)
			b.failure(o.name, "undecodable answer: %v: %s", err, clip(data))
			return false
		}
	}
	o.record(w, d, true)
	return true
}

// send sends req and reads its answer. A 429 (unless wanted) is retried
// as Entra does: every worker pauses for its Retry-After (Entra suspends
// the job's requests that long), then the refused request is sent again.
// A run against scimd's limits thus measures what they cost a
// provisioning job, not its refusals.
func (b *bench) send(ctx context.Context, req *http.Request, body []byte, want int) (*http.Response, []byte, error) {
	for try := 0; ; try++ {
		if err := b.waitPause(ctx); err != nil {
			return nil, nil, err
		}
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		resp, err := b.hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || want == http.StatusTooManyRequests || try == maxThrottledRetries {
			return resp, data, err
		}
		b.throttled.Add(1)
		wait := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		until := time.Now().Add(wait).UnixNano()
		for {
			cur := b.pausedUntil.Load()
			if cur >= until || b.pausedUntil.CompareAndSwap(cur, until) {
				break
			}
		}
	}
}

// waitPause waits for the end of the pause a 429 asked for, if any.
func (b *bench) waitPause(ctx context.Context) error {
	for {
		d := time.Until(time.Unix(0, b.pausedUntil.Load()))
		if d <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// An answerChecker reads the part of an answer it checks without
// decoding the rest: the HTTP ceiling's client decodes nothing, and
// decoding whole answers took a tenth of the CPU of filtered GETs and
// lookups, which a ratio would count against scimd.
type answerChecker interface{ check(data []byte) error }

// topLevel returns what follows key's colon in the top-level object of
// data, from its first non-space byte. It reads only up to the key (scimd
// writes the checked keys first), checking on the way that strings end
// and brackets match (json.Decoder's tokens cost 3 µs an answer).
func topLevel(data []byte, key string) ([]byte, error) {
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var open []byte // brackets open below the top level
	for i++; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			end := stringEnd(data, i+1)
			if end < 0 {
				return nil, errors.New("unterminated string")
			}
			if len(open) == 0 && string(data[i+1:end]) == key {
				if j := skipSpace(data, end+1); j < len(data) && data[j] == ':' {
					return data[skipSpace(data, j+1):], nil
				}
			}
			i = end
		case '{', '[':
			open = append(open, c)
		case '}', ']':
			if len(open) == 0 {
				return nil, fmt.Errorf("no %q", key)
			}
			if (open[len(open)-1] == '{') != (c == '}') {
				return nil, errors.New("mismatched brackets")
			}
			open = open[:len(open)-1]
		}
	}
	return nil, errors.New("truncated JSON")
}

// stringEnd returns the index of the quote that ends the string starting
// at data[from], or -1.
func stringEnd(data []byte, from int) int {
	for i := from; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// listTotal checks a SCIM list response and reads its totalResults.
type listTotal struct{ n int }

func (l *listTotal) check(data []byte) error {
	v, err := topLevel(data, "totalResults")
	if err != nil {
		return err
	}
	digits := 0
	for digits < len(v) && v[digits] >= '0' && v[digits] <= '9' {
		digits++
	}
	if digits == 0 || digits > 9 {
		return errors.New("totalResults is not a count")
	}
	l.n, err = strconv.Atoi(string(v[:digits]))
	return err
}

// contactsAnswer checks a lookup API answer, {"contacts": [...], ...},
// and whether it holds a contact.
type contactsAnswer struct{ found bool }

func (a *contactsAnswer) check(data []byte) error {
	v, err := topLevel(data, "contacts")
	if err != nil {
		return err
	}
	if len(v) == 0 || v[0] != '[' {
		return errors.New("contacts is not an array")
	}
	i := skipSpace(v, 1)
	a.found = i < len(v) && v[i] != ']'
	return nil
}

// lastLatency is worker w's latest latency in o.
func lastLatency(o *op, w int) time.Duration { return o.lat[w][len(o.lat[w])-1] }

func clip(b []byte) string {
	const max = 300
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// phaseRun is how a phase ran.
type phaseRun struct {
	wall, cpu time.Duration // wall time; CPU time of the whole process
	// other is the CPU time other processes (and the hypervisor, and the
	// kernel's interrupt work) took meanwhile, if otherKnown.
	other      time.Duration
	otherKnown bool
	// written is the bytes the process wrote to storage, -1 if unknown.
	written int64
	done    int // work items run
	// pgCPU is the CPU time of the PostgreSQL server's processes (if
	// pgCPUKnown; then other leaves it out), pgWAL the WAL it wrote (-1
	// if unknown): runs on PostgreSQL only.
	pgCPU      time.Duration
	pgCPUKnown bool
	pgWAL      int64
}

// runPhase runs fn(w, i) for i in [0, total) on the concurrency's
// workers, each worker w taking the next i, until all are done, limit
// (if set) has passed or ctx ends. With -cpuprofile, the phase gets its
// own profile, in which the client's goroutines carry the label
// scimbench=client.
func (b *bench) runPhase(ctx context.Context, name string, total int, limit time.Duration, fn func(w, i int)) (phaseRun, error) {
	stopProfile, err := b.startProfile(name)
	if err != nil {
		return phaseRun{}, err
	}
	var next, done atomic.Int64
	var deadline time.Time
	pg0 := b.meter.sample(ctx)
	start, cpu0 := time.Now(), cpuTime()
	machine0, machineOK := machineCPU()
	written0, writtenOK := diskWritten()
	if limit > 0 {
		deadline = start.Add(limit)
	}
	b.prog.start(name, total, &done)
	var wg sync.WaitGroup
	for w := range b.opt.concurrency {
		wg.Go(func() {
			pprof.Do(ctx, pprof.Labels("scimbench", "client"), func(context.Context) {
				for ctx.Err() == nil {
					i := int(next.Add(1) - 1)
					if i >= total || (!deadline.IsZero() && time.Now().After(deadline)) {
						return
					}
					fn(w, i)
					done.Add(1)
				}
			})
		})
	}
	wg.Wait()
	r := phaseRun{wall: time.Since(start), cpu: cpuTime() - cpu0, written: -1, done: int(done.Load()), pgWAL: -1}
	if written1, ok := diskWritten(); ok && writtenOK {
		r.written = written1 - written0
	}
	machine1, machineOK1 := machineCPU()
	pg1 := b.meter.sample(ctx)
	if pg0.cpuOK && pg1.cpuOK {
		r.pgCPU, r.pgCPUKnown = pg1.cpu-pg0.cpu, true
	}
	if pg0.walOK && pg1.walOK {
		r.pgWAL = pg1.wal - pg0.wal
	}
	if machineOK1 && machineOK {
		// /proc/stat counts in ticks of 10 ms: short phases can come out
		// slightly negative.
		r.other, r.otherKnown = max(0, machine1-machine0-r.cpu-r.pgCPU), true
	}
	b.prog.stop()
	return r, stopProfile()
}

// startProfile starts the phase's CPU profile, <path>.<phase>.pprof.
func (b *bench) startProfile(phase string) (func() error, error) {
	if b.opt.cpuProfile == "" {
		return func() error { return nil }, nil
	}
	path := profilePath(b.opt.cpuProfile, b.opt.profileTag, phase)
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// profilePath inserts tag (the size, in -scale runs) and the phase before
// path's extension: cpu.pprof → cpu.users.pprof.
func profilePath(path, tag, phase string) string {
	ext := ".pprof"
	base := path
	if i := strings.LastIndexByte(path, '.'); i > strings.LastIndexByte(path, '/') {
		base, ext = path[:i], path[i:]
	}
	if tag != "" {
		base += "." + tag
	}
	return base + "." + phase + ext
}
