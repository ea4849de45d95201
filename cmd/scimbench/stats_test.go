package main

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 50, 7},
		{[]time.Duration{7}, 99, 7},
		{[]time.Duration{1, 2}, 50, 1},
		{[]time.Duration{1, 2}, 51, 2},
		{[]time.Duration{1, 2, 3, 4}, 75, 3},
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 95, 95 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 99.5, 100 * time.Millisecond},
		{hundred, 100, 100 * time.Millisecond},
		{hundred, 0.1, 1 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%d values, %v) = %v, want %v", len(tc.in), tc.p, got, tc.want)
		}
	}
}

func TestOpMergesWorkers(t *testing.T) {
	o := newOp("x", 3)
	// 1,000 latencies spread over three workers, out of order.
	for i := range 1000 {
		o.record(i%3, time.Duration(1000-i)*time.Microsecond, i%100 != 0)
	}
	lat := o.latencies()
	if len(lat) != 1000 || !slices.IsSorted(lat) {
		t.Fatalf("%d latencies, sorted %v", len(lat), slices.IsSorted(lat))
	}
	s := summarize(lat)
	if s.N != 1000 || s.P50 != 500*time.Microsecond || s.P99 != 990*time.Microsecond || s.Max != 1000*time.Microsecond {
		t.Errorf("summary %+v", s)
	}
	if s.Mean != 500500*time.Nanosecond {
		t.Errorf("mean %v, want 500.5µs", s.Mean)
	}
	if o.errors.Load() != 10 {
		t.Errorf("errors %d, want 10", o.errors.Load())
	}
	r := opResult(o, time.Second)
	if r.Requests != 1000 || r.PerSecond != 1000 || r.P95Ms != 0.95 || r.Errors != 10 {
		t.Errorf("result %+v", r)
	}
}

// A ceiling pass that ended before it began (an interrupted or failed
// run) must not make the JSON report unwritable with a NaN rate.
func TestCeilingEmptyPass(t *testing.T) {
	cs := newCeilingSet(1)
	cs.runs[ceilHTTP] = []phaseRun{{}, {wall: time.Second, done: 500}}
	res := cs.results()
	if got := res[ceilHTTP].PassRates; len(got) != 1 || got[0] != 500 {
		t.Errorf("pass rates %v, want [500]", got)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Error(err)
	}
}
