package server

import (
	"context"
	"encoding/json"
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
// words and sort name, the dearest change (reapplyChanges), while 4
// clients send caller-ID lookups to the same directory, paced at
// reapplyLookupRate a second, and one client PATCHes users of another
// directory at reapplyPatchRate; the same loads run first without the
// job. It reports the job's duration and rate and both loads' latency
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
	reapplyPatchRate     = 20 // SCIM PATCHes a second in another directory, from one client
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
	other := benchOtherDirectory(b, base)

	// The loads: caller-ID in the directory, SCIM PATCHes in another
	// (they share SQLite's one writer, or PostgreSQL, with the job).
	lookups := pacedLoad{clients: reapplyLookupClients, rate: reapplyLookupRate, do: func(c *http.Client, i int) error {
		return get(c, t, "/lookup?phone="+url.QueryEscape(lb.phones[i%len(lb.phones)]))
	}}
	patches := pacedLoad{clients: 1, rate: reapplyPatchRate, do: func(c *http.Client, i int) error {
		return other.patch(c, i)
	}}
	before := runLoads(b, func(elapsed time.Duration) bool { return elapsed >= reapplyBaseline }, &lookups, &patches)

	req, _ := http.NewRequest(http.MethodPut, base+"/admin/v1/directories/"+d.ID+"/mapping", strings.NewReader(rules))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("PUT mapping: %v %v", resp, err)
	}
	resp.Body.Close()
	start := time.Now()
	var checked time.Time
	during := runLoads(b, func(time.Duration) bool {
		if time.Since(checked) < 100*time.Millisecond {
			return false
		}
		checked = time.Now()
		job, err := m.db.GetReapply(ctx, d.ID)
		return err == nil && !job.Finished.IsZero()
	}, &lookups, &patches)
	wall := time.Since(start)
	job, err := m.db.GetReapply(ctx, d.ID)
	if err != nil || job.Done != lb.contacts || job.Failed != 0 {
		b.Fatalf("job: %+v, %v; want %d done", job, err, lb.contacts)
	}
	took := job.Finished.Sub(job.Started)
	b.ReportMetric(took.Seconds(), "reapply_s")
	b.ReportMetric(float64(job.Done)/took.Seconds(), "users/s")
	for i, phase := range []string{"idle", "reapply"} {
		lat := [][][]time.Duration{before, during}[i]
		b.ReportMetric(pctMs(lat[0], 0.50), phase+"_lookup_p50_ms")
		b.ReportMetric(pctMs(lat[0], 0.99), phase+"_lookup_p99_ms")
		b.ReportMetric(pctMs(lat[1], 0.50), phase+"_patch_p50_ms")
		b.ReportMetric(pctMs(lat[1], 0.99), phase+"_patch_p99_ms")
	}
	b.Logf("%s: %d contacts rebuilt in %s (wall %s); caller-ID p50/p99/max %.2f/%.2f/%.2f ms idle (%d lookups), %.2f/%.2f/%.2f ms during (%d); "+
		"other directory's PATCH p50/p99/max %.2f/%.2f/%.2f ms idle (%d), %.2f/%.2f/%.2f ms during (%d)",
		backendName(m.Config), job.Done, took.Round(time.Millisecond), wall.Round(time.Millisecond),
		pctMs(before[0], 0.5), pctMs(before[0], 0.99), pctMs(before[0], 1), len(before[0]),
		pctMs(during[0], 0.5), pctMs(during[0], 0.99), pctMs(during[0], 1), len(during[0]),
		pctMs(before[1], 0.5), pctMs(before[1], 0.99), pctMs(before[1], 1), len(before[1]),
		pctMs(during[1], 0.5), pctMs(during[1], 0.99), pctMs(during[1], 1), len(during[1]))
}

func backendName(c Config) string {
	if c.DatabaseURL != "" {
		return "PostgreSQL"
	}
	return "SQLite"
}

// benchOther is a small directory whose users the benchmark PATCHes.
type benchOther struct {
	base, token string
	ids         []string
}

func benchOtherDirectory(b *testing.B, base string) benchOther {
	do := func(method, path, token, body string, want int) []byte {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	var d directoryJSON
	if err := json.Unmarshal(do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"other"}`, http.StatusCreated), &d); err != nil {
		b.Fatal(err)
	}
	o := benchOther{base: base + "/scim/v2/" + d.ID + "/Users", token: d.SCIMToken}
	for i := range 50 {
		var u struct{ ID string }
		if err := json.Unmarshal(do(http.MethodPost, "/scim/v2/"+d.ID+"/Users", d.SCIMToken, agent(i, "t", true), http.StatusCreated), &u); err != nil {
			b.Fatal(err)
		}
		o.ids = append(o.ids, u.ID)
	}
	return o
}

// patch changes the title of user i%50, as Entra's PATCH does.
func (o benchOther) patch(c *http.Client, i int) error {
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"t%d"}]}`, i)
	req, _ := http.NewRequest(http.MethodPatch, o.base+"/"+o.ids[i%len(o.ids)], strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PATCH: %d", resp.StatusCode)
	}
	return nil
}

// pacedLoad is requests sent by clients at rate a second in all, each
// client keeping its own pace; latency counts from the send.
type pacedLoad struct {
	clients, rate int
	do            func(c *http.Client, i int) error
	next          int // request number, kept across runs
}

// runLoads runs the loads until stop reports true and returns each
// one's latencies, sorted.
func runLoads(b *testing.B, stop func(elapsed time.Duration) bool, loads ...*pacedLoad) [][]time.Duration {
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var mu sync.Mutex
	out := make([][]time.Duration, len(loads))
	var wg sync.WaitGroup
	var failed error
	quit := make(chan struct{})
	start := time.Now()
	for li, l := range loads {
		for c := range l.clients {
			wg.Go(func() {
				tick := time.NewTicker(time.Second * time.Duration(l.clients) / time.Duration(l.rate))
				defer tick.Stop()
				for i := l.next + c; ; i += l.clients {
					select {
					case <-quit:
						return
					case <-tick.C:
					}
					t0 := time.Now()
					err := l.do(client, i)
					d := time.Since(t0)
					mu.Lock()
					if err != nil && failed == nil {
						failed = err
					}
					out[li] = append(out[li], d)
					mu.Unlock()
				}
			})
		}
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
	for li, l := range loads {
		l.next += len(out[li]) + l.clients
		slices.Sort(out[li])
	}
	return out
}

func pctMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(p*float64(len(sorted)-1))]) / float64(time.Millisecond)
}
