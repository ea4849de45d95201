package server

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/limit"
)

// DefaultSCIMMaxInFlight is SCIMD_SCIM_MAX_INFLIGHT's default: far above
// what one Entra provisioning job sends at once (a few dozen requests at
// most), so that only a client gone wrong, or a tenant's cycle run with
// an unusual concurrency, ever meets it.
const DefaultSCIMMaxInFlight = 64

// DefaultLimitWait is SCIMD_LIMIT_WAIT's default: long enough for a
// burst to be served in turn, short against Entra's and CX clients'
// timeouts.
const DefaultLimitWait = time.Second

// maxLimitWait bounds SCIMD_LIMIT_WAIT well below the request timeout
// (requestTimeout): a longer queue only delays the refusal.
const maxLimitWait = 10 * time.Second

func parseLimitCount(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number of requests (0 turns the limit off)", v)
	}
	if n < 0 {
		return 0, fmt.Errorf("%d is negative (0 turns the limit off)", n)
	}
	return n, nil
}

func parseLimitRate(v string) (float64, error) {
	r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, fmt.Errorf("%q is not a number of requests a second, like 50 or 0.5 (0 turns the limit off)", v)
	}
	if r < 0 {
		return 0, fmt.Errorf("%s is negative (0 turns the limit off)", v)
	}
	return r, nil
}

// validateLimits checks the limits of a Config built in code too.
func (c Config) validateLimits() []error {
	var errs []error
	for _, n := range []struct {
		env string
		v   int
	}{{"SCIMD_SCIM_MAX_INFLIGHT", c.SCIMMaxInFlight}, {"SCIMD_LOOKUP_MAX_INFLIGHT", c.LookupMaxInFlight}} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative (0 turns the limit off)", n.env, n.v))
		}
	}
	for _, r := range []struct {
		env string
		v   float64
	}{{"SCIMD_SCIM_RATE", c.SCIMRate}, {"SCIMD_LOOKUP_RATE", c.LookupRate}} {
		if r.v < 0 || math.IsNaN(r.v) || math.IsInf(r.v, 0) {
			errs = append(errs, fmt.Errorf("%s: %v is not a rate of zero or more requests a second", r.env, r.v))
		}
	}
	if c.LimitWait < 0 || c.LimitWait > maxLimitWait {
		errs = append(errs, fmt.Errorf("SCIMD_LIMIT_WAIT: %s is outside 0 to %s", c.LimitWait, maxLimitWait))
	}
	return errs
}

// limiters are the per-directory limits of the two APIs a directory's
// clients call; nil where the configuration limits nothing.
type limiters struct {
	scim, lookup *limit.Limiter
}

// newLimiters builds the limiters and registers their refusals metric,
// scimd_limit_refusals_total{api,limit}. now is their clock.
func newLimiters(c Config, reg prometheus.Registerer, now func() time.Time) limiters {
	refusals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scimd_limit_refusals_total",
		Help: "Requests refused with 429 by a per-directory limit, by API (scim, lookup) and limit (inflight, rate).",
	}, []string{"api", "limit"})
	reg.MustRegister(refusals)
	build := func(api string, maxInFlight int, rate float64) *limit.Limiter {
		for _, k := range []limit.Kind{limit.InFlight, limit.Rate} {
			refusals.WithLabelValues(api, string(k)) // present at 0 before the first refusal
		}
		return limit.New(limit.Config{
			MaxInFlight: maxInFlight,
			Wait:        c.LimitWait,
			Rate:        rate,
			Now:         now,
			Refused:     func(k limit.Kind) { refusals.WithLabelValues(api, string(k)).Inc() },
		})
	}
	return limiters{
		scim:   build("scim", c.SCIMMaxInFlight, c.SCIMRate),
		lookup: build("lookup", c.LookupMaxInFlight, c.LookupRate),
	}
}
