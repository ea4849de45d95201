package presence_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/presence/fakegraph"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
)

// BenchmarkPollScale measures the scale target: 100,000 contacts
// across 10 directories (10 tenants), over real HTTP to the fake Graph:
// "steady" where presence does not change, "changing" where every
// contact's presence changes every 20 s. The fake runs in the same
// process, so its CPU time counts too: the figures are upper bounds. Cycles run back to back at a short
// interval; the CPU time per cycle, divided by the production interval
// (30 s), is the average share of one core the poller needs.
//
//	go test -run xxx -bench PollScale -benchtime 5x ./presence
func BenchmarkPollScale(b *testing.B) {
	b.Run("steady", func(b *testing.B) { benchmarkPollScale(b, time.Hour) })
	b.Run("changing", func(b *testing.B) { benchmarkPollScale(b, 20*time.Second) })
}

func benchmarkPollScale(b *testing.B, changeEvery time.Duration) {
	const dirs, perDir = 10, 10_000
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "scimd.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	graph := fakegraph.New(fakegraph.Config{AutoPresence: changeEvery})
	srv := httptest.NewServer(graph)
	defer srv.Close()
	var ids []string
	for d := range dirs {
		dir, err := db.CreateDirectory(ctx, store.Directory{ID: fmt.Sprintf("dir-%02d", d), Name: fmt.Sprint(d), SCIMTokenHash: store.HashToken(fmt.Sprint(d))})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, dir.ID)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < perDir; i += 8 {
					n := d*perDir + i
					if _, err := db.CreateUser(ctx, store.User{DirectoryID: dir.ID, ID: fmt.Sprintf("u-%07d", n),
						UserName: fmt.Sprintf("u%d@x.com", n), Active: true, Doc: []byte(`{}`),
						Contact: store.Contact{ObjectID: oid(n)}}, store.SyncEvent{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	const fast = 2 * time.Second
	st := &countingStore{Store: db}
	svc, err := presence.New(presence.Config{Store: st, Key: testKey, Interval: fast, LoginURL: srv.URL, GraphURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(runCtx); close(done) }()
	for i, dir := range ids {
		tenant := fmt.Sprintf("44444444-4444-4444-4444-%012d", i)
		if _, err := svc.Connect(ctx, dir, presence.Credentials{TenantID: tenant, ClientID: clientID, ClientSecret: secret}); err != nil {
			b.Fatal(err)
		}
	}
	sub := svc.Subscribe(ids[0], "")
	var lagMu sync.Mutex
	var maxLag time.Duration
	go func() {
		for ev := range sub.Events {
			if ev.Presence != nil {
				lagMu.Lock()
				maxLag = max(maxLag, time.Since(ev.Presence.ObservedAt))
				lagMu.Unlock()
			}
		}
	}()
	time.Sleep(3 * fast) // first cycles store everything
	before := graph.Stats()
	writes, rows := st.writes.Load(), st.rows.Load()
	cpu0 := cpuTime()
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(fast)
	}
	b.StopTimer()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	after := graph.Stats()
	cycles := float64(after.IDsRequested-before.IDsRequested) / (dirs * perDir) // each asks about every contact once
	b.ReportMetric(cycles, "cycles")
	b.ReportMetric(elapsed.Seconds()/cycles, "s/cycle")
	cancel()
	<-done
	b.ReportMetric(float64(after.GraphRequests-before.GraphRequests)/cycles, "graph-calls/cycle")
	b.ReportMetric(100*cpu.Seconds()/cycles/presence.DefaultInterval.Seconds(), "%core@30s")
	b.ReportMetric(float64(after.TokenRequests), "token-requests")
	b.ReportMetric(float64(st.writes.Load()-writes)/cycles, "writes/cycle")
	b.ReportMetric(float64(st.rows.Load()-rows)/cycles, "changed-rows/cycle")
	lagMu.Lock()
	b.ReportMetric(float64(maxLag.Milliseconds()), "max-event-lag-ms")
	lagMu.Unlock()
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
