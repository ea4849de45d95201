package limit

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAcquire is a limiter's cost per request, both limits on, from
// parallel goroutines: on one directory (every request on one lock) and
// spread over 1,000.
func BenchmarkAcquire(b *testing.B) {
	for _, keys := range []int{1, 1000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			l := New(Config{MaxInFlight: 1 << 20, Rate: 1e12, Wait: time.Second})
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprintf("0190a000-0000-7000-8000-%012d", i)
			}
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1))
				for pb.Next() {
					s, err := l.Acquire(b.Context(), names[i%keys])
					if err != nil {
						b.Fatal(err)
					}
					s.Release()
					i++
				}
			})
		})
	}
}
