package sqlite

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scimd/scimd/store"
)

func BenchmarkExpCreateAtScale(b *testing.B) {
	db := newBenchDB(b)
	if v := os.Getenv("EXP_PRAGMA"); v != "" {
		if _, err := db.w.Exec(v); err != nil {
			b.Fatal(err)
		}
	}
	seed, _ := strconv.Atoi(os.Getenv("EXP_SEED"))
	ctx := b.Context()
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(n.Add(1))
				if i > seed {
					return
				}
				if _, err := db.CreateUser(ctx, benchUser(i), store.SyncEvent{Operation: store.SyncCreate}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ResetTimer()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.CreateUser(ctx, benchUser(int(n.Add(1))), store.SyncEvent{Operation: store.SyncCreate}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}
