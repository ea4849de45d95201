package webhook

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		n          int
		jitter     float64
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, 0, 10 * time.Second},
		{2, 0, 0, 20 * time.Second},
		{3, 0, 0, 40 * time.Second},
		{1, 1, 0, 5 * time.Second}, // at most half taken off
		{9, 0, 0, 42*time.Minute + 40*time.Second},
		{10, 0, 0, time.Hour}, // capped
		{500, 0, 0, time.Hour},
		{1, 0, 2 * time.Minute, 2 * time.Minute},  // Retry-After honoured
		{3, 0, 5 * time.Second, 40 * time.Second}, // but never shortens the backoff
		{1, 0, 3 * time.Hour, time.Hour},          // and is capped
	} {
		s.jitter = func() float64 { return tt.jitter }
		if got := s.backoff(tt.n, tt.retryAfter); got != tt.want {
			t.Errorf("backoff(%d, jitter %v, Retry-After %s) = %s, want %s", tt.n, tt.jitter, tt.retryAfter, got, tt.want)
		}
	}
	// Retrying for the give-up period takes about 24 h / 1 h attempts.
	var total time.Duration
	n := 0
	s.jitter = func() float64 { return 0.5 }
	for total < DefaultGiveUpAfter {
		n++
		total += s.backoff(n, 0)
	}
	if n < 25 || n > 40 {
		t.Errorf("%d attempts in %s", n, DefaultGiveUpAfter)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"-1":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}
