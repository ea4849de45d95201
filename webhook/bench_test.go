package webhook_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDeliver measures delivery to a receiver on loopback that
// answers at once: b.N events, one signed POST and one recorded outcome
// each, in order.
func BenchmarkDeliver(b *testing.B) {
	f := newFixture(b)
	rc := newReceiver(b, func(string, int, http.ResponseWriter, *http.Request) int { return http.StatusOK })
	svc, stop := f.start(b, nil)
	hook := f.addWebhook(b, svc, rc)
	stop()
	for i := range b.N {
		f.createUser(b, "User "+strconv.Itoa(i))
	}
	b.ResetTimer()
	start := time.Now()
	f.start(b, nil)
	waitFor(b, "every delivery", func() bool { return f.webhook(b, hook.ID).Cursor == int64(b.N) })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
