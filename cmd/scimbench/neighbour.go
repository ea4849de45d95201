package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimd/scimd/internal/server"
)

// This file is the neighbour mode (-neighbour-rate): while directory A
// runs Entra's initial cycle, a second directory B, provisioned first with
// users of its own, gets caller-ID lookups at a steady rate from workers
// of their own. B's latencies say whether one tenant's cycle starves
// another's caller-ID; the in-process scimd's limits (-scim-max-inflight
// and the others) are what should prevent it.

// limitFlags are the in-process scimd's per-directory limits: its
// SCIMD_SCIM_MAX_INFLIGHT, SCIMD_SCIM_RATE, SCIMD_LOOKUP_MAX_INFLIGHT,
// SCIMD_LOOKUP_RATE and SCIMD_LIMIT_WAIT, with scimd's defaults.
type limitFlags struct {
	SCIMMaxInFlight   int     `json:"scimMaxInFlight"`
	SCIMRate          float64 `json:"scimRate"`
	LookupMaxInFlight int     `json:"lookupMaxInFlight"`
	LookupRate        float64 `json:"lookupRate"`
	Wait              string  `json:"wait"`
	wait              time.Duration
}

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&l.SCIMMaxInFlight, "scim-max-inflight", server.DefaultSCIMMaxInFlight, "in-process scimd's SCIMD_SCIM_MAX_INFLIGHT: SCIM requests of one directory at once (0: no limit)")
	fs.Float64Var(&l.SCIMRate, "scim-rate", 0, "in-process scimd's SCIMD_SCIM_RATE: SCIM requests a second per directory (0: no limit)")
	fs.IntVar(&l.LookupMaxInFlight, "lookup-max-inflight", 0, "in-process scimd's SCIMD_LOOKUP_MAX_INFLIGHT (0: no limit)")
	fs.Float64Var(&l.LookupRate, "lookup-rate", 0, "in-process scimd's SCIMD_LOOKUP_RATE (0: no limit)")
	fs.DurationVar(&l.wait, "limit-wait", server.DefaultLimitWait, "in-process scimd's SCIMD_LIMIT_WAIT")
}

// apply sets the limits in a scimd configuration.
func (l limitFlags) apply(c *server.Config) {
	c.SCIMMaxInFlight, c.SCIMRate = l.SCIMMaxInFlight, l.SCIMRate
	c.LookupMaxInFlight, c.LookupRate = l.LookupMaxInFlight, l.LookupRate
	c.LimitWait = l.wait
}

func (l limitFlags) validate() []error {
	var errs []error
	if l.SCIMMaxInFlight < 0 || l.LookupMaxInFlight < 0 || l.SCIMRate < 0 || l.LookupRate < 0 {
		errs = append(errs, errors.New("-scim-max-inflight, -scim-rate, -lookup-max-inflight and -lookup-rate must not be negative (0: no limit)"))
	}
	if l.wait < 0 || l.wait > 10*time.Second {
		errs = append(errs, errors.New("-limit-wait must be from 0 to 10s"))
	}
	return errs
}

var limitFlagNames = []string{"scim-max-inflight", "scim-rate", "lookup-max-inflight", "lookup-rate", "limit-wait"}

// neighbourFlags configure the neighbour mode; rate 0 turns it off.
type neighbourFlags struct {
	rate, users, workers int
	baseline             time.Duration
}

func (n *neighbourFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&n.rate, "neighbour-rate", 0, "caller-ID lookups a second on a second directory B while directory A runs the initial cycle (users, groups, members), B's latency reported apart; 0: no neighbour, the whole cycle")
	fs.IntVar(&n.users, "neighbour-users", 10000, "users of the neighbour directory B, provisioned before A's cycle")
	fs.IntVar(&n.workers, "neighbour-workers", 16, "workers sending B's lookups (each sends the next one due)")
	fs.DurationVar(&n.baseline, "neighbour-baseline", 0, "before A's cycle, run B's lookups alone this long: B's latency without A, on the same machine")
}

func (n neighbourFlags) validate() []error {
	var errs []error
	if n.rate < 0 || n.users < 1 || n.workers < 1 || n.baseline < 0 {
		errs = append(errs, errors.New("-neighbour-rate must not be negative, -neighbour-users and -neighbour-workers must be at least 1"))
	}
	return errs
}

// NeighbourResult is the neighbour directory B's caller-ID during A's
// initial cycle.
type NeighbourResult struct {
	Rate    int     `json:"rate"` // lookups a second asked for
	Users   int     `json:"users"`
	Workers int     `json:"workers"`
	Seconds float64 `json:"seconds"` // how long the load ran: A's cycle
	Sent    int     `json:"sent"`
	// OK found their contact; Throttled got 429; Errors anything else.
	OK        int64 `json:"ok"`
	Throttled int64 `json:"throttled"`
	Errors    int64 `json:"errors"`
	// Late counts lookups sent more than lateAfter after they were due:
	// every worker was waiting for an answer, so the rate fell short.
	Late    int64 `json:"late"`
	Latency struct {
		P50Ms  float64 `json:"p50Ms"`
		P99Ms  float64 `json:"p99Ms"`
		P999Ms float64 `json:"p999Ms"`
		MaxMs  float64 `json:"maxMs"`
	} `json:"latency"`
	// AThrottled is how many of A's requests got 429 and were retried
	// after Retry-After, as Entra does.
	AThrottled int64 `json:"aThrottled"`
}

// lateAfter is how late a lookup may leave before it counts as late.
const lateAfter = 5 * time.Millisecond

// neighbourLoad sends B's lookups until stopped.
type neighbourLoad struct {
	c       *cycle // B's
	rate    int
	workers int
	op      *op
	stopped atomic.Bool
	wg      sync.WaitGroup
	start   time.Time
	end     time.Time
	late    atomic.Int64
	thr     atomic.Int64
}

// provisionNeighbour creates directory B and its users (not a measured
// phase: it runs before A's cycle).
func (b *bench) provisionNeighbour(ctx context.Context, t *target) (*cycle, error) {
	dir, err := t.createDirectory(ctx, b.hc)
	if err != nil {
		return nil, fmt.Errorf("neighbour directory: %w", err)
	}
	c := &cycle{b: b, dir: dir, size: sizes{Users: b.opt.neighbour.users, Concurrency: b.opt.concurrency}}
	b.prog.note(fmt.Sprintf("provisioning the neighbour directory B with %d users", c.size.Users))
	if err := c.createUsers(ctx); err != nil {
		return nil, err
	}
	for _, p := range c.phases {
		for _, o := range p.Ops {
			if o.Errors > 0 {
				return nil, fmt.Errorf("neighbour directory: %d of its requests failed", o.Errors)
			}
		}
	}
	return c, nil
}

// startLoad starts B's lookups: lookup k is due at start + k/rate, sent
// by the next free worker, its latency counted from when it is sent.
func (b *bench) startLoad(ctx context.Context, c *cycle) *neighbourLoad {
	n := &neighbourLoad{c: c, rate: b.opt.neighbour.rate, workers: b.opt.neighbour.workers, start: time.Now()}
	n.op = newOp("neighbour B: GET /lookup?phone= (caller-ID)", n.workers)
	n.op.hitsSet = true
	var next atomic.Int64
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: n.workers, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	for w := range n.workers {
		n.wg.Go(func() {
			defer tr.CloseIdleConnections()
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				due := n.start.Add(time.Duration(k) * time.Second / time.Duration(n.rate))
				time.Sleep(time.Until(due))
				if n.stopped.Load() {
					return
				}
				if time.Since(due) > lateAfter {
					n.late.Add(1)
				}
				n.lookup(ctx, hc, w)
			}
		})
	}
	return n
}

// lookup sends one caller-ID lookup of a random B user.
func (n *neighbourLoad) lookup(ctx context.Context, hc *http.Client, w int) {
	c := n.c
	i := rand.IntN(len(c.users))
	if c.users[i] == "" {
		return
	}
	u := c.dir.api(0) + "/lookup?phone=" + url.QueryEscape(newPerson(c.b.seed, i).phone)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		n.op.record(w, 0, false)
		return
	}
	req.Header.Set("Authorization", "Bearer "+c.dir.apiKey)
	t0 := time.Now()
	resp, err := hc.Do(req)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	d := time.Since(t0)
	var a contactsAnswer
	switch {
	case err != nil:
		n.op.record(w, d, false)
		if ctx.Err() == nil {
			c.b.failure(n.op.name, "%v", err)
		}
	case resp.StatusCode == http.StatusTooManyRequests:
		n.thr.Add(1)
		n.op.record(w, d, false)
	case resp.StatusCode != http.StatusOK || a.check(data) != nil:
		n.op.record(w, d, false)
		c.b.failure(n.op.name, "status %d: %s", resp.StatusCode, clip(data))
	default:
		n.op.record(w, d, true)
		if a.found {
			n.op.hits.Add(1)
		}
	}
}

// stop ends the load after the lookups in flight and summarises it.
func (n *neighbourLoad) stop(aThrottled int64) *NeighbourResult {
	n.stopped.Store(true)
	n.end = time.Now()
	n.wg.Wait()
	lat := n.op.latencies()
	s := summarize(lat)
	r := &NeighbourResult{Rate: n.rate, Users: len(n.c.users), Workers: n.workers, Seconds: n.end.Sub(n.start).Seconds(),
		Sent: s.N, Throttled: n.thr.Load(), Late: n.late.Load(), AThrottled: aThrottled}
	r.Errors = n.op.errors.Load() - r.Throttled
	r.OK = int64(s.N) - n.op.errors.Load()
	r.Latency.P50Ms, r.Latency.P99Ms, r.Latency.P999Ms, r.Latency.MaxMs = ms(s.P50), ms(s.P99), ms(percentile(lat, 99.9)), ms(s.Max)
	return r
}

// neighbourSteps are the run's steps in neighbour mode: B provisioned,
// then A's initial cycle with B's lookups running beside it. cleanup
// stops the lookups if a step failed before the end.
func (b *bench) neighbourSteps(t *target, c *cycle, r *RunResult) (steps []func(context.Context) error, cleanup func()) {
	var nb *cycle
	var load *neighbourLoad
	cleanup = func() {
		if load != nil {
			load.stop(0)
		}
	}
	return []func(context.Context) error{
		func(ctx context.Context) (err error) {
			nb, err = b.provisionNeighbour(ctx, t)
			return err
		},
		func(ctx context.Context) error {
			if b.opt.neighbour.baseline <= 0 {
				return nil
			}
			b.prog.note(fmt.Sprintf("B's lookups alone for %s", b.opt.neighbour.baseline))
			load = b.startLoad(ctx, nb)
			select {
			case <-ctx.Done():
			case <-time.After(b.opt.neighbour.baseline):
			}
			r.NeighbourAlone = load.stop(0)
			load = nil
			return nil
		},
		func(ctx context.Context) error {
			b.prog.resetPeaks()
			b.throttled.Store(0)
			load = b.startLoad(ctx, nb)
			return nil
		},
		c.createUsers, c.createGroups, c.addMembers,
		func(context.Context) error {
			r.Neighbour = load.stop(b.throttled.Load())
			load = nil
			return nil
		},
	}, cleanup
}

// printNeighbour writes B's figures beside A's creation rate.
func printNeighbour(w io.Writer, r *RunResult) {
	n := r.Neighbour
	if n == nil {
		return
	}
	l := r.Limits
	fmt.Fprintf(w, "\nneighbour: directory B (%d users) got %d caller-ID lookups a second from %d workers for %.1f s, during A's initial cycle\n",
		n.Users, n.Rate, n.Workers, n.Seconds)
	if l != nil {
		fmt.Fprintf(w, "scimd's limits: SCIM %d in flight, rate %g/s; lookup %d in flight, rate %g/s; wait %s (0: off)\n",
			l.SCIMMaxInFlight, l.SCIMRate, l.LookupMaxInFlight, l.LookupRate, l.Wait)
	}
	fmt.Fprintf(w, "  B: %d sent (%.0f/s), %d found their contact, %d got 429, %d other errors, %d sent over %s late\n",
		n.Sent, float64(n.Sent)/max(n.Seconds, 1e-9), n.OK, n.Throttled, n.Errors, n.Late, lateAfter)
	fmt.Fprintf(w, "  B's latency: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
		n.Latency.P50Ms, n.Latency.P99Ms, n.Latency.P999Ms, n.Latency.MaxMs)
	if a := r.NeighbourAlone; a != nil {
		fmt.Fprintf(w, "  B alone before A's cycle (%.0f s, %d sent, %d late): p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
			a.Seconds, a.Sent, a.Late, a.Latency.P50Ms, a.Latency.P99Ms, a.Latency.P999Ms, a.Latency.MaxMs)
	}
	if o := r.op(opUserCreate); o != nil {
		fmt.Fprintf(w, "  A: %.0f users created a second (p99 %.2f ms), initial cycle %.1f s, %d requests got 429 and were retried after Retry-After\n",
			o.PerSecond, o.P99Ms, r.CycleSeconds, n.AThrottled)
	}
}
