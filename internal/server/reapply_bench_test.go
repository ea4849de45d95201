package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/reapply"
)

// BenchmarkReapply re-applies a rules change to every stored contact of
// a directory of -benchcontacts users (seedBenchDB; copied into
// PostgreSQL with scimd copy for that backend), a change that rewrites
// each contact: its title only, or its display name, and so its search
// words and sort name, the dearest change (reapplyChanges), while
// 4 clients send caller-ID lookups to the same directory, paced at
// reapplyLookupRate a second; the same load runs first without the job.
// It reports the job's duration and rate and the lookups' latency
// without and with it. Run it once: -benchtime 1x.
func BenchmarkReapply(b *testing.B) {
	// A file of its own, at this binary's schema (scimd copy's source must
	// be current), never the lookup benchmarks' shared one.
	src := seedBenchDB(b, filepath.Join(os.TempDir(), fmt.Sprintf("scimd-reapply-bench-%d.db", *benchContacts)), *benchContacts)
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, change := range reapplyChanges {
			b.Run(fmt.Sprintf("backend=%s/contacts=%d/change=%s", backend, *benchContacts, change.name), func(b *testing.B) {
				for range b.N {
					runReapplyBench(b, src, backend, change.rules)
				}
			})
		}
	}
}

// reapplyChanges are the rules changes measured: each changes every
// contact of the seeded directory.
var reapplyChanges = []struct{ name, rules string }{
	{"title", `{"fields":{"title":"userName"}}`},
	{"displayName", `{"fields":{"displayName":"userName"}}`},
}

const (
	reapplyLookupRate    = 400 // caller-ID lookups a second, from reapplyLookupClients
	reapplyLookupClients = 4
	reapplyBaseline      = 5 * time.Second
)

func runReapplyBench(b *testing.B, src, backend, rules string) {
	cfg := Config{Addr: "127.0.0.1:0", PublicURL: "http://localhost", AdminToken: testAdminToken,
		MaxBodyBytes: 1 << 20, LogLevel: slog.LevelInfo, LogFormat: "json", ShutdownTimeout: 5 * time.Second,
		SyncLogRetention: 720 * time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if backend == "sqlite" {
		cfg.DB = filepath.Join(b.TempDir(), "scimd.db")
		if err := copyFile(src, cfg.DB); err != nil {
			b.Fatal(err)
		}
	} else {
		cfg.DatabaseURL = pgtest.URL(b)
		if err := copyDatabase(ctx, copyOptions{from: src, to: cfg.DatabaseURL, logLevel: slog.LevelWarn},
			slog.New(slog.DiscardHandler), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	m := &Main{Config: cfg, Logger: newLogger(io.Discard, cfg.LogLevel, cfg.LogFormat), Stdout: io.Discard,
		reapplyTuning: func(c *reapply.Config) { c.Interval, c.Settle = 50*time.Millisecond, 0 }}
	if err := m.Open(ctx); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	dirs, err := m.db.ListDirectories(ctx)
	if err != nil || len(dirs) == 0 {
		b.Fatalf("directories: %v %v", dirs, err)
	}
	d := dirs[0]
	base := "http://" + m.Addr()
	lb := &lookupBench{queries: map[string][]string{}}
	lb.sample(b, m.db, d.ID)
	t := target{base + "/api/v1/directories/" + d.ID, createBenchKey(b, base, d.ID)}

	before := pacedLookups(b, t, lb.phones, func(elapsed time.Duration) bool { return elapsed >= reapplyBaseline })

	req, _ := http.NewRequest(http.MethodPut, base+"/admin/v1/directories/"+d.ID+"/mapping",
		strings.NewReader(rules))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("PUT mapping: %v %v", resp, err)
	}
	resp.Body.Close()
	start := time.Now()
	var checked time.Time
	during := pacedLookups(b, t, lb.phones, func(time.Duration) bool {
		if time.Since(checked) < 100*time.Millisecond {
			return false
		}
		checked = time.Now()
		job, err := m.db.GetReapply(ctx, d.ID)
		return err == nil && !job.Finished.IsZero()
	})
	wall := time.Since(start)
	job, err := m.db.GetReapply(ctx, d.ID)
	if err != nil || job.Done != lb.contacts || job.Failed != 0 {
		b.Fatalf("job: %+v, %v; want %d done", job, err, lb.contacts)
	}
	took := job.Finished.Sub(job.Started)
	b.ReportMetric(took.Seconds(), "reapply_s")
	b.ReportMetric(float64(job.Done)/took.Seconds(), "users/s")
	b.ReportMetric(pctMs(before, 0.50), "idle_p50_ms")
	b.ReportMetric(pctMs(before, 0.99), "idle_p99_ms")
	b.ReportMetric(pctMs(during, 0.50), "reapply_p50_ms")
	b.ReportMetric(pctMs(during, 0.99), "reapply_p99_ms")
	b.ReportMetric(pctMs(during, 1), "reapply_max_ms")
	b.Logf("%s: %d contacts rebuilt in %s (wall %s); caller-ID p50/p99 %.2f/%.2f ms idle (%d lookups), %.2f/%.2f ms during (%d lookups)",
		m.Config.storeName(), job.Done, took.Round(time.Millisecond), wall.Round(time.Millisecond),
		pctMs(before, 0.5), pctMs(before, 0.99), len(before), pctMs(during, 0.5), pctMs(during, 0.99), len(during))
}

// pacedLookups sends caller-ID lookups of phones at reapplyLookupRate a
// second until stop reports true, and returns their latencies, sorted.
// Latency counts from the send.
func pacedLookups(b *testing.B, t target, phones []string, stop func(elapsed time.Duration) bool) []time.Duration {
	tr := &http.Transport{MaxIdleConnsPerHost: reapplyLookupClients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	var failed error
	quit := make(chan struct{})
	start := time.Now()
	for c := range reapplyLookupClients {
		wg.Go(func() {
			tick := time.NewTicker(time.Second * reapplyLookupClients / reapplyLookupRate)
			defer tick.Stop()
			for i := c; ; i += reapplyLookupClients {
				select {
				case <-quit:
					return
				case <-tick.C:
				}
				t0 := time.Now()
				err := get(client, t, "/lookup?phone="+url.QueryEscape(phones[i%len(phones)]))
				d := time.Since(t0)
				mu.Lock()
				if err != nil && failed == nil {
					failed = err
				}
				all = append(all, d)
				mu.Unlock()
			}
		})
	}
	for deadline := time.Now().Add(30 * time.Minute); !stop(time.Since(start)); {
		if time.Now().After(deadline) {
			close(quit)
			wg.Wait()
			b.Fatal("the measured phase did not end within 30 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(quit)
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	slices.Sort(all)
	return all
}

func pctMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(p*float64(len(sorted)-1))]) / float64(time.Millisecond)
}
