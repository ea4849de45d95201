package server

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// TestGCSettings checks that a started server runs the collector with
// scimd's settings, as long as the environment sets none.
func TestGCSettings(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set")
	}
	startServer(t, testOptions{})
	percent := debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	debug.SetMemoryLimit(limit)
	if percent != gcPercent || limit != memoryLimit {
		t.Errorf("GC percent %d, memory limit %d; want %d, %d", percent, limit, gcPercent, memoryLimit)
	}
}
