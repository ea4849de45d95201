package main

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// op collects one operation's requests: every latency, exactly (a
// million durations are 8 MB), in one slice per worker so that recording
// takes no lock, and the count of requests that failed.
type op struct {
	name    string
	ceiling []string // the ceilings its throughput is compared with
	lat     [][]time.Duration
	errors  atomic.Int64
	hits    atomic.Int64 // lookups and searches: answers with a contact
	hitsSet bool
}

func newOp(name string, workers int, ceilings ...string) *op {
	return &op{name: name, ceiling: ceilings, lat: make([][]time.Duration, workers)}
}

// record adds one request of worker w.
func (o *op) record(w int, d time.Duration, ok bool) {
	o.lat[w] = append(o.lat[w], d)
	if !ok {
		o.errors.Add(1)
	}
}

// latencies merges the workers' latencies, sorted.
func (o *op) latencies() []time.Duration {
	all := slices.Concat(o.lat...)
	slices.Sort(all)
	return all
}

// summary is what the report shows of a set of latencies.
type summary struct {
	N                  int
	P50, P95, P99, Max time.Duration
	Mean               time.Duration
}

// summarize summarises sorted latencies.
func summarize(sorted []time.Duration) summary {
	s := summary{N: len(sorted)}
	if s.N == 0 {
		return s
	}
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	s.Mean = sum / time.Duration(s.N)
	s.P50 = percentile(sorted, 50)
	s.P95 = percentile(sorted, 95)
	s.P99 = percentile(sorted, 99)
	s.Max = sorted[s.N-1]
	return s
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of sorted:
// the smallest value that at least p% of the values do not exceed.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// ms is d in milliseconds, for reports.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
