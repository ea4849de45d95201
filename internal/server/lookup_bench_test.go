package server

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
)

// The lookup HTTP benchmarks run the whole server (middleware, access
// log, auth by API key) on loopback against a copy of a big database:
// store/sqlite's lookup benchmark database (1,000,000 contacts in ten
// directories; build it with `go test ./store/sqlite -run '^$' -bench
// Lookup`) when it exists, else one this file seeds through
// store.CreateUser (-benchcontacts contacts in one directory).
var (
	benchLookupDB = flag.String("lookupdb", "", "lookup benchmark database (default: store/sqlite's under os.TempDir, if built)")
	benchContacts = flag.Int("benchcontacts", 100_000, "contacts to seed when there is no lookup benchmark database")
)

const benchClients = 8 // concurrent keep-alive clients

// storeBenchDB is store/sqlite's lookup benchmark database under
// os.TempDir (the newest version built), or "" if there is none.
func storeBenchDB() string {
	best, bestVersion := "", -1
	paths, _ := filepath.Glob(filepath.Join(os.TempDir(), "scimd-lookup-bench-v*.db"))
	for _, p := range paths {
		v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "scimd-lookup-bench-v"), ".db"))
		if err == nil && v > bestVersion {
			best, bestVersion = p, v
		}
	}
	return best
}

// BenchmarkLookupHTTP is caller-ID: GET /lookup with the E.164 number of
// a sampled contact, as fast as the clients go (the throughput, and the
// latency at saturation), then paced at 10,000 lookups a second (the
// latency at the load).
func BenchmarkLookupHTTP(b *testing.B) {
	s := newLookupBench(b)
	for _, rate := range []int{0, 10_000} {
		name := fmt.Sprintf("contacts=%d/clients=%d", s.contacts, benchClients)
		if rate > 0 {
			name += fmt.Sprintf("/rate=%d", rate)
		}
		b.Run(name, func(b *testing.B) {
			s.rate = rate
			s.run(b, func(i int) string {
				return "/lookup?phone=" + url.QueryEscape(s.phones[i%len(s.phones)])
			})
		})
	}
	s.rate = 0
}

// BenchmarkSearchHTTP is type-ahead search (20 contacts a page) by each
// kind of q: a name prefix, an email prefix, a run of phone digits.
func BenchmarkSearchHTTP(b *testing.B) {
	s := newLookupBench(b)
	for _, kind := range []string{"name", "email", "digits"} {
		qs := s.queries[kind]
		b.Run(fmt.Sprintf("contacts=%d/clients=%d/q=%s", s.contacts, benchClients, kind), func(b *testing.B) {
			s.run(b, func(i int) string {
				return "/contacts?limit=20&q=" + url.QueryEscape(qs[i%len(qs)])
			})
		})
	}
	// Phone searches round the directories, so that scimd holds the
	// numbers of as many as it keeps: the memory they take.
	qs := s.queries["digits"]
	b.Run(fmt.Sprintf("contacts=%d/clients=%d/q=digits/dirs=%d", s.contacts, benchClients, len(s.dirs)), func(b *testing.B) {
		s.runOn(b, func(i int) (target, string) {
			return s.dirs[i%len(s.dirs)], "/contacts?limit=20&q=" + url.QueryEscape(qs[i%len(qs)])
		})
	})
}

// benchDirs is how many directories the phone search of several
// directories spreads over: as many as scimd holds phone indexes of.
const benchDirs = 4

// target is a directory's lookup API and an API key of it.
type target struct{ base, key string }

type lookupBench struct {
	// dirs are the lookup APIs of the queried directory, first, and of
	// other directories of the database, up to benchDirs in all.
	dirs     []target
	contacts int // contacts in the queried directory
	phones   []string
	queries  map[string][]string // kind (name, email, digits) → search terms
	// rate, when set, paces the clients: request i is sent at i/rate
	// seconds, or as soon after as a client is free. Latency counts from
	// the send: counted from the due time, it was mostly the lateness of
	// the clients' timers (p99 4.1 ms for a server at 0.5 ms p50).
	rate int
}

// newLookupBench starts a server on a copy of the benchmark database and
// samples numbers and names to ask for.
func newLookupBench(b *testing.B) *lookupBench {
	b.Helper()
	src := cmp.Or(*benchLookupDB, storeBenchDB())
	if src == "" {
		src = seededBenchDB(b, *benchContacts)
	}
	db := filepath.Join(b.TempDir(), "scimd.db")
	if err := copyFile(src, db); err != nil { // the server writes (settings, an API key)
		b.Fatal(err)
	}
	cfg := Config{Addr: "127.0.0.1:0", DB: db, PublicURL: "http://localhost", AdminToken: testAdminToken,
		MaxBodyBytes: 1 << 20, LogLevel: slog.LevelInfo, LogFormat: "json", ShutdownTimeout: 5 * time.Second,
		SyncLogRetention: 720 * time.Hour}
	applyBenchLimits(&cfg)
	m := &Main{Config: cfg, Logger: newLogger(io.Discard, cfg.LogLevel, cfg.LogFormat), Stdout: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })

	dirs, err := m.db.ListDirectories(ctx)
	if err != nil || len(dirs) == 0 {
		b.Fatalf("directories: %v %v", dirs, err)
	}
	d := dirs[len(dirs)/2]
	s := &lookupBench{queries: map[string][]string{}}
	for _, o := range append([]store.Directory{d}, slices.DeleteFunc(dirs, func(o store.Directory) bool { return o.ID == d.ID })...) {
		if len(s.dirs) < benchDirs {
			s.dirs = append(s.dirs, target{"http://" + m.Addr() + "/api/v1/directories/" + o.ID, createBenchKey(b, "http://"+m.Addr(), o.ID)})
		}
	}
	s.sample(b, m.db, d.ID)
	b.Logf("database %s; directory %s: %d contacts; %d phones sampled", src, d.ID, s.contacts, len(s.phones))
	return s
}

func createBenchKey(b *testing.B, base, dirID string) string {
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/v1/directories/"+dirID+"/api-keys", strings.NewReader(`{"name":"bench"}`))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var k struct{ Key string }
	if err := json.NewDecoder(resp.Body).Decode(&k); err != nil || k.Key == "" {
		b.Fatalf("create API key: %d %v", resp.StatusCode, err)
	}
	return k.Key
}

// sample counts the directory's contacts and collects the phone numbers
// and search terms of every sampleEvery-th one, so that the sample spans
// the whole directory.
func (s *lookupBench) sample(b *testing.B, db store.Store, dirID string) {
	const sampleEvery = 50
	for cursor := ""; ; {
		recs, next, err := db.SearchContacts(b.Context(), dirID, store.ContactQuery{Limit: 1000, After: cursor})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			s.contacts++
			if s.contacts%sampleEvery != 0 || len(r.Contact.Phones) == 0 || !validE164(r.Contact.Phones[0].E164) {
				continue
			}
			c := r.Contact
			s.phones = append(s.phones, c.Phones[0].E164)
			for _, w := range []string{c.GivenName, c.FamilyName} {
				if r := []rune(w); len(r) >= 3 {
					s.queries["name"] = append(s.queries["name"], string(r[:3]))
				}
			}
			if r := []rune(c.Email); len(r) >= 5 {
				s.queries["email"] = append(s.queries["email"], string(r[:5]))
			}
			e := c.Phones[0].E164
			s.queries["digits"] = append(s.queries["digits"], e[len(e)-6:])
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(s.phones) == 0 {
		b.Fatal("no contacts with phones to sample")
	}
}

// validE164 skips generated numbers that are not real ones (caller-ID
// would refuse them with 400).
func validE164(e string) bool {
	n, err := mapping.NormalizePhone(e, mapping.PhoneStrict, "")
	return err == nil && n == e
}

// run sends b.N GETs of path(i) from benchClients keep-alive clients and
// reports throughput, latency percentiles and the process's memory.
func (s *lookupBench) run(b *testing.B, path func(i int) string) {
	s.runOn(b, func(i int) (target, string) { return s.dirs[0], path(i) })
}

// runOn is run with requests to several directories.
func (s *lookupBench) runOn(b *testing.B, path func(i int) (target, string)) {
	var next atomic.Int64
	lat := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for c := range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if s.rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(s.rate))))
				}
				t, p := path(i)
				t0 := time.Now()
				if err := get(client, t, p); err != nil {
					failed.Store(err)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(rssMB(), "rss_MB")
}

func get(client *http.Client, t target, path string) error {
	req, err := http.NewRequest(http.MethodGet, t.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return nil
}

// rssMB is the process's resident memory (server, SQLite cache and the
// benchmark's clients together), or 0 where /proc is missing.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// seededBenchDB returns a database of n contacts in one directory, made
// through store.CreateUser with contacts from mapping.Apply, and kept
// under os.TempDir for later runs.
func seededBenchDB(b *testing.B, n int) string {
	return seedBenchDB(b, filepath.Join(os.TempDir(), fmt.Sprintf("scimd-http-bench-v2-%d.db", n)), n)
}

// seedBenchDB is seededBenchDB into the file path.
func seedBenchDB(b *testing.B, path string, n int) string {
	if _, err := os.Stat(path); err == nil {
		return path
	}
	b.Logf("seeding %d contacts into %s (once)", n, path)
	tmp := path + ".building"
	os.Remove(tmp)
	ctx := context.Background()
	db, err := sqlite.OpenAndMigrate(ctx, tmp, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	d, err := db.CreateDirectory(ctx, store.Directory{ID: "0190a000-0000-7000-8000-00000000bea0", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	rules := mapping.Defaults()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 4 * runtime.GOMAXPROCS(0) { // group commit batches concurrent writers
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				doc := benchUserDoc(i)
				c, err := mapping.Apply(rules, doc, nil)
				if err != nil {
					failed.Store(err)
					return
				}
				raw, _ := json.Marshal(doc)
				u := store.User{DirectoryID: d.ID, ID: fmt.Sprintf("0190b000-0000-7000-8000-%012d", i), UserName: c.Login,
					ExternalID: c.ObjectID, DisplayName: c.DisplayName, Active: true, Doc: raw, Contact: c}
				if _, err := db.CreateUser(ctx, u, store.SyncEvent{}); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	return path
}

var (
	benchGiven  = strings.Fields("Ann Bob Chloé Dieter Élodie Femi Grace Hiroshi Ines João Kenji Lars Mia Noah Olga Priya Raj Sakura Søren Zoë")
	benchFamily = strings.Fields("Archer Brown Dubois Müller Nakamura Okafor Patel Rossi Silva Smith Tanaka Wagner Wójcik Zhang")
	// Prefixes under which any 7 more digits make a valid number.
	benchPrefixes = []string{"+44207", "+3314", "+49309", "+91112", "+6129", "+55112", "+8131"}
)

// benchUserDoc is the SCIM document of seeded user i, as Entra sends it.
func benchUserDoc(i int) map[string]any {
	g, f := benchGiven[i%len(benchGiven)], benchFamily[(i/len(benchGiven))%len(benchFamily)]
	email := strings.ToLower(fmt.Sprintf("%s.%s.%d@contoso.com", g, f, i))
	phone := fmt.Sprintf("+1425%d%06d", 2+i%7, i%1_000_000) // NANP: the exchange starts with 2-9
	if p := i % 8; p < len(benchPrefixes) {
		phone = fmt.Sprintf("%s%07d", benchPrefixes[p], 2_000_000+i*37%8_000_000)
	}
	return map[string]any{
		"userName": email, "externalId": strconv.Itoa(i), "active": true,
		"name":         map[string]any{"givenName": g, "familyName": f},
		"emails":       []any{map[string]any{"type": "work", "value": email}},
		"phoneNumbers": []any{map[string]any{"type": "work", "value": phone}},
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
