package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// The lookup benchmarks read a database of lookupDirs directories of
// lookupUsers contacts each (1,000,000 in all) and query one of them. It
// takes minutes to build, so it is built once, under os.TempDir, named by
// lookupBenchVersion: bump it when the schema or the data below change.
// Only a run that selects these benchmarks (-bench Lookup|Search|GetContact)
// builds it. -lookupdb names another file to use.
const (
	lookupBenchVersion = 3
	lookupDirs         = 10
	lookupUsers        = 100_000
	lookupBenchDir     = 3 // the directory the benchmarks query
)

var lookupDBFlag = flag.String("lookupdb", "", "lookup benchmark database (default: built under os.TempDir)")

var lookupDB struct {
	once sync.Once
	path string
	err  error
}

// openLookupDB returns the benchmark database, building it on first use.
func openLookupDB(b *testing.B) *DB {
	lookupDB.once.Do(func() {
		lookupDB.path = *lookupDBFlag
		if lookupDB.path == "" {
			lookupDB.path = filepath.Join(os.TempDir(), fmt.Sprintf("scimd-lookup-bench-v%d.db", lookupBenchVersion))
		}
		if _, err := os.Stat(lookupDB.path); err == nil {
			return
		}
		b.Logf("building %s (once; a few minutes)", lookupDB.path)
		start := time.Now()
		lookupDB.err = buildLookupDB(context.Background(), lookupDB.path)
		b.Logf("built in %v", time.Since(start).Round(time.Second))
	})
	if lookupDB.err != nil {
		b.Fatal(lookupDB.err)
	}
	// A database built before a later migration gets it here (the
	// benchmark data predates none of what the queries read).
	db, err := OpenAndMigrate(b.Context(), lookupDB.path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func benchDirID(d int) string { return fmt.Sprintf("0190a000-0000-7000-8000-%012d", d) }

func benchUserID(d, i int) string { return fmt.Sprintf("0190b%03d-%04x-7000-8000-%012d", d, i>>12, i) }

var (
	benchGiven = strings.Fields(`Adele Alex Allan Ana Anders Aoife Arjun Astrid Ayumi Bartosz Beatriz Bjørn Camille
		Carlos Chen Chiara Chloé Daniel Dmitri Elena Élodie Émile Emma Erik Fatima Felipe François Giulia Grace
		Hana Hannah Henrik Hiroshi Ines Isabel Ivan Jack James Jana Javier Jean-Luc João Jonas Jörg Julia Karim
		Kateřina Kenji Lars Laura Lea Leon Liam Lucas Łukasz Maria Marta Mateo Mia Miguel Mohammed Nadia Noah
		Nora Olga Oliver Paweł Pedro Priya Rafael Raj Rosa Sakura Samuel Sara Sofia Søren Sven Tomás Wei Yuki Zoë Zofia`)
	benchFamily = strings.Fields(`Andersen Bauer Becker Bernard Brown Chen Costa Dubois Durand Eriksson Fernández
		Fischer García Garcia Gonzalez Hansen Hoffmann Ivanov Jansen Johansson Jones Kowalski Kumar Larsen Lefèvre
		Li Lindqvist López Martin Martínez Meyer Moreau Müller Nakamura Nielsen Novák Nowak O'Brien Olsen Patel
		Pereira Petrov Richter Rodríguez Rossi Russo Sánchez Santos Schmidt Schneider Schulz Silva Singh Smith
		Suzuki Tanaka Taylor Thomas Vance Wagner Wang Weber Williams Wilson Wójcik Yamamoto Zhang Żukowski`)
	benchRegions  = []string{"EMEA", "Americas", "APAC", "UK", "DACH", "Nordics", "France", "Iberia", "Italy", "Japan"}
	benchCountry  = []string{"+4420", "+1425", "+331", "+4930", "+612", "+813", "+9122", "+5511", "+3491", "+4687"}
	benchFraction = struct{ active, mobile, contractors, partner float64 }{0.97, 0.6, 0.05, 0.1}
)

// benchContactUser returns user i of directory d, with its memberships
// (group indexes of benchGroups).
func benchContactUser(r *rand.Rand, d, i int) (store.User, []int) {
	given, family := benchGiven[r.IntN(len(benchGiven))], benchFamily[r.IntN(len(benchFamily))]
	domain := fmt.Sprintf("contoso%d.com", d)
	if r.Float64() < benchFraction.partner {
		domain = "partner.example"
	}
	email := strings.ToLower(fmt.Sprintf("%s.%s%d@%s", given, strings.ReplaceAll(family, "'", ""), i, domain))
	c := store.Contact{Login: email, ObjectID: benchUserID(d, i), DisplayName: given + " " + family,
		GivenName: given, FamilyName: family, Email: email, Title: "Agent", Department: "Support",
		Phones: []store.Phone{benchPhone(r, "work")}}
	if r.Float64() < benchFraction.mobile {
		c.Phones = append(c.Phones, benchPhone(r, "mobile"))
	}
	u := store.User{DirectoryID: benchDirID(d), ID: benchUserID(d, i), UserName: email, ExternalID: c.ObjectID,
		DisplayName: c.DisplayName, Active: r.Float64() < benchFraction.active, Contact: c,
		Doc: fmt.Appendf(nil, benchDoc, email)}
	groups := []int{r.IntN(len(benchRegions)), len(benchRegions) + r.IntN(benchDepartments)}
	if r.Float64() < benchFraction.contractors {
		groups = append(groups, len(benchRegions)+benchDepartments)
	}
	return u, groups
}

func benchPhone(r *rand.Rand, typ string) store.Phone {
	cc := benchCountry[r.IntN(len(benchCountry))]
	e := fmt.Sprintf("%s%08d", cc, r.IntN(100_000_000))
	return store.Phone{Type: typ, Value: e, E164: e}
}

const benchDepartments = 200

// benchGroups are each directory's groups: one per region ("CX-agents-…"),
// benchDepartments departments, and Contractors.
func benchGroups() []string {
	var gs []string
	for _, r := range benchRegions {
		gs = append(gs, "CX-agents-"+r)
	}
	for i := range benchDepartments {
		gs = append(gs, fmt.Sprintf("Department %03d", i))
	}
	return append(gs, "Contractors")
}

func benchGroupID(d, g int) string { return fmt.Sprintf("0190c%03d-0000-7000-8000-%012d", d, g) }

// buildLookupDB writes the database at path: migrated as usual, then
// filled in big transactions with the backend's own insert (the derived
// data must be exactly what CreateUser writes), without durability.
func buildLookupDB(ctx context.Context, path string) error {
	tmp := path + ".building"
	os.Remove(tmp)
	db, err := OpenAndMigrate(ctx, tmp, Options{})
	if err != nil {
		return err
	}
	db.Close()
	raw, err := sql.Open("sqlite3", "file:"+tmp+"?_journal_mode=WAL&_synchronous=OFF&_foreign_keys=off&_cache_size=-400000")
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := range lookupDirs {
		if err := buildLookupDir(ctx, raw, d, now); err != nil {
			return err
		}
	}
	if _, err := raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	raw.Close()
	return os.Rename(tmp, path)
}

func buildLookupDir(ctx context.Context, raw *sql.DB, d int, now time.Time) error {
	r := rand.New(rand.NewPCG(uint64(d), lookupBenchVersion))
	sqlTx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { sqlTx.Rollback() }()
	t := &tx{Tx: sqlTx, now: now}
	if _, err := t.ExecContext(ctx, `INSERT INTO directories (id, name, created, updated) VALUES (?, ?, ?, ?)`,
		benchDirID(d), fmt.Sprintf("bench %d", d), formatTime(now), formatTime(now)); err != nil {
		return err
	}
	for g, name := range benchGroups() {
		if _, err := t.ExecContext(ctx, `INSERT INTO groups (directory_id, id, display_name, name_key, doc, version, created, last_modified)
			VALUES (?, ?, ?, ?, '{}', 1, ?, ?)`, benchDirID(d), benchGroupID(d, g), name, fold(name), formatTime(now), formatTime(now)); err != nil {
			return err
		}
	}
	member, err := t.PrepareContext(ctx, `INSERT INTO group_members (directory_id, group_id, user_id) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer member.Close()
	for i := range lookupUsers {
		u, groups := benchContactUser(r, d, i)
		row, err := encodeUser(u)
		if err != nil {
			return err
		}
		if _, err := insertUser(ctx, t, u, row); err != nil {
			return err
		}
		for _, g := range groups {
			if _, err := member.ExecContext(ctx, u.DirectoryID, benchGroupID(d, g), u.ID); err != nil {
				return err
			}
		}
	}
	return sqlTx.Commit()
}

// lookupSample is what the benchmarks look for: real numbers, names and
// emails of the benchmark directory.
type lookupSample struct{ phones, names, emails, digits []string }

func sampleLookups(b *testing.B, db *DB) lookupSample {
	var s lookupSample
	r := rand.New(rand.NewPCG(1, 2))
	rows, err := db.r.QueryContext(b.Context(), `SELECT e164 FROM user_phones WHERE directory_id = ? ORDER BY user_id LIMIT 1000`,
		benchDirID(lookupBenchDir))
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			b.Fatal(err)
		}
		s.phones = append(s.phones, e)
		s.digits = append(s.digits, e[len(e)-4:], e[len(e)-7:len(e)-1])
	}
	rows.Close()
	for range 1000 {
		given, family := fold(benchGiven[r.IntN(len(benchGiven))]), fold(benchFamily[r.IntN(len(benchFamily))])
		s.names = append(s.names, prefix(family, 3), prefix(given, 4)+" "+prefix(family, 2))
		s.emails = append(s.emails, prefix(given+"."+strings.ReplaceAll(family, "'", ""), 9))
	}
	return s
}

// prefix returns the first n runes of s.
func prefix(s string, n int) string {
	rs := []rune(s)
	return string(rs[:min(n, len(rs))])
}

// runLatency runs op from 8 goroutines and reports latency percentiles
// and throughput.
func runLatency(b *testing.B, op func(i int) error) {
	var mu sync.Mutex
	var all []time.Duration
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((8 + procs - 1) / procs) // 8 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		i := rand.IntN(1 << 20)
		for pb.Next() {
			start := time.Now()
			if err := op(i); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(start))
			i++
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e3 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkLookupPhone is caller-ID lookup: an exact E.164 match among
// 1,000,000 contacts, from 8 goroutines.
func BenchmarkLookupPhone(b *testing.B) {
	db := openLookupDB(b)
	s := sampleLookups(b, db)
	dir := benchDirID(lookupBenchDir)
	for _, v := range benchVisibilities {
		b.Run(v.name, func(b *testing.B) {
			runLatency(b, func(i int) error {
				_, err := db.LookupPhone(context.Background(), dir, s.phones[i%len(s.phones)], v.v)
				return err
			})
		})
	}
}

// BenchmarkGetContact reads one contact by id.
func BenchmarkGetContact(b *testing.B) {
	db := openLookupDB(b)
	dir := benchDirID(lookupBenchDir)
	for _, v := range benchVisibilities {
		b.Run(v.name, func(b *testing.B) {
			runLatency(b, func(i int) error {
				_, err := db.GetContact(context.Background(), dir, benchUserID(lookupBenchDir, i%lookupUsers), v.v)
				if errors.Is(err, store.ErrNotFound) {
					return nil // inactive or hidden
				}
				return err
			})
		})
	}
}

// BenchmarkSearchContacts is a first page of 25 for what an agent types.
func BenchmarkSearchContacts(b *testing.B) {
	db := openLookupDB(b)
	s := sampleLookups(b, db)
	dir := benchDirID(lookupBenchDir)
	for _, tt := range []struct {
		name  string
		query func(i int) store.ContactQuery
	}{
		{"all", func(int) store.ContactQuery { return store.ContactQuery{} }},
		{"name", func(i int) store.ContactQuery { return store.ContactQuery{Text: s.names[i%len(s.names)]} }},
		{"letter", func(i int) store.ContactQuery { return store.ContactQuery{Text: string(rune('a' + i%26))} }},
		{"email", func(i int) store.ContactQuery { return store.ContactQuery{Text: s.emails[i%len(s.emails)]} }},
		{"digits", func(i int) store.ContactQuery { return store.ContactQuery{Digits: s.digits[i%len(s.digits)]} }},
		{"group", func(i int) store.ContactQuery {
			return store.ContactQuery{GroupID: benchGroupID(lookupBenchDir, i%len(benchGroups()))}
		}},
	} {
		for _, v := range benchVisibilities {
			b.Run(tt.name+"/"+v.name, func(b *testing.B) {
				runLatency(b, func(i int) error {
					q := tt.query(i)
					q.Visibility, q.Limit = v.v, 25
					_, _, err := db.SearchContacts(context.Background(), dir, q)
					return err
				})
			})
		}
	}
}

var benchVisibilities = []struct {
	name string
	v    store.Visibility
}{
	{"open", store.Visibility{}},
	{"rules", store.Visibility{OnlyGroups: []string{"CX-agents-*"}, ExcludeGroups: []string{"Contractors"},
		Domains: []string{fmt.Sprintf("contoso%d.com", lookupBenchDir)}}},
	{"small-group", store.Visibility{OnlyGroups: []string{"CX-agents-Japan"}}},
}
