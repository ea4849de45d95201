package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
)

// TestRunInProcess runs the whole cycle at a tiny size against scimd
// in-process: every phase runs, nothing fails, every ratio is computed
// and caller-ID finds the users just created.
func TestRunInProcess(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "out.json")
	db := filepath.Join(dir, "scimd.db")
	var stdout, stderr bytes.Buffer
	args := []string{"-users", "40", "-groups", "2", "-members", "20", "-batch", "5", "-c", "4",
		"-reads", "20", "-lookups", "40", "-lookup-pace", "2000", "-searches", "30", "-update-share", "0.25",
		"-ceiling-time", "100ms", "-quiet", "-db", db, "-json", jsonPath,
		"-cpuprofile", filepath.Join(dir, "cpu.pprof")}
	if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	t.Logf("stdout:\n%s", &stdout)

	var rep Report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(rep.Runs))
	}
	r := rep.Runs[0]
	if r.Errors != 0 || r.Interrupted {
		t.Errorf("errors %d, interrupted %v", r.Errors, r.Interrupted)
	}
	for _, c := range []string{ceilHTTP, ceilInsert, ceilSelect} {
		if p := r.Ceilings[c]; p == nil || len(p.Ops) != 1 || p.Ops[0].Requests == 0 || p.Ops[0].PerSecond <= 0 || len(p.PassRates) != 2 {
			t.Errorf("ceiling %s: %+v", c, p)
		}
	}
	wantPhases := []string{"users", "groups", "members", "updates", "read-id", "read-filter", "lookups",
		"lookups-paced", "search-name", "search-email", "search-digits"}
	var got []string
	for _, p := range r.Phases {
		got = append(got, p.Name)
		for _, o := range p.Ops {
			if o.Requests == 0 || o.Errors != 0 || o.PerSecond <= 0 || o.P99Ms <= 0 {
				t.Errorf("%s: %s: %d requests, %d errors, %.0f/s, p99 %.3f ms", p.Name, o.Name, o.Requests, o.Errors, o.PerSecond, o.P99Ms)
			}
			if len(o.Ratios) == 0 {
				t.Errorf("%s: %s: no ratios", p.Name, o.Name)
			}
		}
		if p.CPUSeconds <= 0 || (runtime.GOOS == "linux" && p.OtherCPUs == nil) {
			t.Errorf("%s: CPU %.3f s, other CPUs %v", p.Name, p.CPUSeconds, p.OtherCPUs)
		}
	}
	if strings.Join(got, " ") != strings.Join(wantPhases, " ") {
		t.Errorf("phases %v, want %v", got, wantPhases)
	}
	if o := r.op(opUserCreate); o == nil || o.Requests != 40 {
		t.Errorf("user creations: %+v, want 40", o)
	}
	if o := r.op(opMembers); o == nil || o.Requests != 2*4 {
		t.Errorf("member PATCHes: %+v, want 2 groups × 4 batches", o)
	}
	if p := r.phaseOf(opLookupPaced); p == nil || p.Seconds < 39.0/2000 {
		t.Errorf("paced lookups: %+v, want 40 lookups spread over at least 20 ms", p)
	}
	for _, name := range []string{opLookup, opLookupPaced, opUserFilterHit, opSearchPrefix + "email)", opSearchPrefix + "digits)"} {
		if o := r.op(name); o == nil || o.Hits == nil || *o.Hits != int64(o.Requests) {
			t.Errorf("%s: %+v, want every request to find its contact", name, o)
		}
	}
	if len(r.Targets) != 5 || r.CycleSeconds <= 0 || r.Memory.PeakGoHeapBytes == 0 {
		t.Errorf("targets %d, cycle %.3f s, memory %+v", len(r.Targets), r.CycleSeconds, r.Memory)
	}
	if rep.Machine.NumCPU == 0 || rep.Flags["users"] != "40" {
		t.Errorf("machine %+v, flags %v", rep.Machine, rep.Flags)
	}
	for _, phase := range []string{"users", "lookups"} {
		if fi, err := os.Stat(filepath.Join(dir, "cpu."+phase+".pprof")); err != nil || fi.Size() == 0 {
			t.Errorf("profile of %s: %v", phase, err)
		}
	}
	if exists(db) {
		t.Errorf("database %s left behind without -keep", db)
	}
	if !strings.Contains(stdout.String(), "create user (filter+POST)") {
		t.Errorf("stdout has no user creation row")
	}
}

func TestRunRefusesRemoteBase(t *testing.T) {
	for _, base := range []string{"http://scim.example.com:8080", "http://10.0.0.5:8080", "https://127.0.0.1:8443", "http://127.0.0.1:8080/scim"} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"-base", base, "-token", "0123456789abcdef"}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), base) {
			t.Errorf("%s: exit %d, stderr %q; want 2 naming the URL", base, code, &stderr)
		}
	}
	var stderr bytes.Buffer
	run(t.Context(), []string{"-base", "http://scim.example.com"}, &bytes.Buffer{}, &stderr)
	if !strings.Contains(stderr.String(), "loopback") {
		t.Errorf("stderr %q does not say why", &stderr)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for base, want := range map[string]string{
		"http://127.0.0.1:8080":  "http://127.0.0.1:8080",
		"http://localhost:8080/": "http://localhost:8080",
		"http://[::1]:8080":      "http://[::1]:8080",
		"http://127.0.0.2:9":     "http://127.0.0.2:9",
	} {
		if got, err := loopbackOnly(base); err != nil || got != want {
			t.Errorf("loopbackOnly(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
	for _, base := range []string{"http://192.168.1.2:8080", "http://localhost.example.com", "ftp://127.0.0.1", "127.0.0.1:8080", "http://u:p@127.0.0.1"} {
		if _, err := loopbackOnly(base); err == nil {
			t.Errorf("loopbackOnly(%q) accepted it", base)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, _, err := parseFlags([]string{"-scale", "10_000, 100000"}, &bytes.Buffer{})
	if err != nil || len(o.scale) != 2 || o.scale[0] != 10000 || o.scale[1] != 100000 {
		t.Errorf("scale %v, %v", o.scale, err)
	}
	s := sizesFor(o, 100000)
	if s.Groups != 1000 || s.Members != 100 || s.Reads != 50000 || s.Updates != 10000 {
		t.Errorf("sizes %+v", s)
	}
	if s := sizesFor(o, 50); s.Members != 50 || s.Groups != 0 || s.Reads != 25 {
		t.Errorf("small sizes %+v", s)
	}
	_, _, err = parseFlags([]string{"-c", "0", "-batch", "0", "-update-share", "2", "-server-log", "xml", "-lookup-pace", "-1",
		"-cpuprofile", filepath.Join(t.TempDir(), "missing", "cpu.pprof")}, &bytes.Buffer{})
	for _, want := range []string{"-c", "-batch", "-update-share", "-server-log", "-cpuprofile", "-lookup-pace"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestPaths(t *testing.T) {
	if got := profilePath("out/cpu.pprof", "", "users"); got != "out/cpu.users.pprof" {
		t.Errorf("profilePath = %q", got)
	}
	if got := profilePath("cpu", "100000", "users"); got != "cpu.100000.users.pprof" {
		t.Errorf("profilePath = %q", got)
	}
	if got := sizedPath("/tmp/x/scimd.db", 1000); got != "/tmp/x/scimd-1000.db" {
		t.Errorf("sizedPath = %q", got)
	}
}

func TestEvaluateTargets(t *testing.T) {
	r := &RunResult{
		Sizes:        sizes{Users: 1_000_000, Groups: 10000, Members: 100},
		CycleSeconds: 59,
		Ceilings: map[string]*PhaseResult{
			ceilHTTP:   {Ops: []OpResult{{PerSecond: 10000}}},
			ceilInsert: {Ops: []OpResult{{PerSecond: 1000}}},
		},
		Phases: []*PhaseResult{{Ops: []OpResult{
			{Name: opUserCreate, Requests: 1, PerSecond: 1200, ceilings: []string{ceilInsert}},
			{Name: opUserGet, Requests: 1, PerSecond: 4000, ceilings: []string{ceilHTTP}},
			{Name: opLookup, Requests: 1, PerSecond: 6000, P99Ms: 2.5, ceilings: []string{ceilHTTP}},
		}}},
	}
	r.computeRatios()
	r.evaluateTargets()
	want := []string{"true", "null", "false", "false", "true"} // create, filter (absent), by id, lookup (p99), cycle
	checkMet(t, r.Targets, want)

	// The cycle target is at 100,000 users: a larger cycle over 60 s says
	// nothing about it, one at exactly that size does.
	for _, c := range []struct {
		users, groups int
		seconds       float64
		want          string
	}{
		{1_000_000, 10000, 61, "null"},
		{100_000, 1000, 61, "false"},
		{100_000, 1000, 59, "true"},
		{10_000, 100, 5, "null"},
	} {
		r.Sizes, r.CycleSeconds, r.Targets = sizes{Users: c.users, Groups: c.groups, Members: 100}, c.seconds, nil
		r.evaluateTargets()
		checkMet(t, r.Targets[4:], []string{c.want})
	}
}

func checkMet(t *testing.T, targets []TargetResult, want []string) {
	t.Helper()
	for i, tr := range targets {
		got := "null"
		if tr.Met != nil {
			got = map[bool]string{true: "true", false: "false"}[*tr.Met]
		}
		if got != want[i] {
			t.Errorf("%s: met %s (%s), want %s", tr.Target, got, tr.Got, want[i])
		}
	}
}

func TestAnswerCheckers(t *testing.T) {
	var l listTotal
	if err := l.check([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[{"id":"x"}]}`)); err != nil || l.n != 1 {
		t.Errorf("listTotal = %d, %v; want 1", l.n, err)
	}
	for answer, want := range map[string]int{
		` {"totalResults": 3}`: 3,
		`{"meta":{"totalResults":5},"totalResults":1,"Resources":[]}`:    1, // a nested key is not the answer's
		`{"schemas":["a\"totalResults\":9"],"totalResults":2}`:           2, // nor one inside a string
		`{"schemas":["urn:x"],"totalResults":0,"Resources":[{"}":"]"}]}`: 0,
	} {
		var l listTotal
		if err := l.check([]byte(answer)); err != nil || l.n != want {
			t.Errorf("listTotal(%s) = %d, %v; want %d", answer, l.n, err, want)
		}
	}
	for _, bad := range []string{`[]`, `{"schemas":[]}`, `{"totalResults":"one"}`, `{"schemas":[}`, ``,
		`{"schemas":[},"totalResults":1}`, `{"schemas":["x`, `{"totalResults":-1}`, `{"schemas":["x"]`} {
		if err := new(listTotal).check([]byte(bad)); err == nil {
			t.Errorf("listTotal(%s) succeeded", bad)
		}
	}
	for answer, want := range map[string]bool{`{"contacts":[{"id":"a"}],"next":""}`: true, `{"contacts":[]}`: false, `{"next":"x","contacts":[{}]}`: true} {
		var a contactsAnswer
		if err := a.check([]byte(answer)); err != nil || a.found != want {
			t.Errorf("contactsAnswer(%s) = %v, %v; want %v", answer, a.found, err, want)
		}
	}
	for _, bad := range []string{`{"contacts":null}`, `{"contacts":{}}`, `{}`} {
		if err := new(contactsAnswer).check([]byte(bad)); err == nil {
			t.Errorf("contactsAnswer(%s) succeeded", bad)
		}
	}
}

func TestParseBackendFlags(t *testing.T) {
	const server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	o, _, err := parseFlags([]string{"-backends", "sqlite, postgres", "-replicas", "1,2", "-postgres", server}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := []config{{backendSQLite, 1, false}, {backendPostgres, 1, false}, {backendPostgres, 2, false}}
	if got := o.configs(); !slices.Equal(got, want) {
		t.Errorf("configs %v, want %v", got, want)
	}
	if o, _, err := parseFlags([]string{"-postgres", server}, &bytes.Buffer{}); err != nil || !slices.Equal(o.configs(), []config{{backendPostgres, 1, false}}) {
		t.Errorf("-postgres alone: %v, %v; want postgres with one replica", o.configs(), err)
	}
	if o, _, err := parseFlags(nil, &bytes.Buffer{}); err != nil || !slices.Equal(o.configs(), []config{{backendSQLite, 1, false}}) {
		t.Errorf("defaults: %v, %v; want sqlite", o.configs(), err)
	}
	o, _, err = parseFlags([]string{"-backends", "sqlite,postgres", "-events", "on,off", "-postgres", server}, &bytes.Buffer{})
	want = []config{{backendSQLite, 1, false}, {backendSQLite, 1, true}, {backendPostgres, 1, false}, {backendPostgres, 1, true}}
	if err != nil || !slices.Equal(o.configs(), want) {
		t.Errorf("-events on,off: %v, %v; want %v", o.configs(), err, want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-events", "maybe"}, `-events: "maybe" is not on or off`},
		{[]string{"-events", "off,off"}, "named twice"},
		{[]string{"-base", "http://127.0.0.1:8080", "-events", "off"}, "for the in-process scimd"},
		{[]string{"-backends", "postgres"}, "-backends postgres needs -postgres"},
		{[]string{"-backends", "sqlite,postgres"}, "-backends postgres needs -postgres"},
		{[]string{"-replicas", "2"}, "-replicas needs the postgres backend"},
		{[]string{"-replicas", "1,2", "-backends", "sqlite", "-postgres", server}, "-replicas needs the postgres backend"},
		{[]string{"-backends", "sqlite", "-postgres", server}, "-backends has no postgres"},
		{[]string{"-backends", "mysql"}, `"mysql" is not sqlite or postgres`},
		{[]string{"-backends", "sqlite,sqlite"}, "named twice"},
		{[]string{"-replicas", "0", "-postgres", server}, "-replicas"},
		{[]string{"-replicas", "2,2", "-postgres", server}, "named twice"},
		{[]string{"-postgres", "mysql://u:hunter2@127.0.0.1/x"}, "-postgres: not a postgres://"},
		{[]string{"-postgres", server, "-db", "x.db"}, "-db is the SQLite backend's file"},
		{[]string{"-base", "http://127.0.0.1:8080", "-postgres", server}, "for the in-process scimd"},
	} {
		_, _, err := parseFlags(c.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.args, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error shows the password: %v", c.args, err)
		}
	}
}

func TestURLs(t *testing.T) {
	if got := redactURL("postgres://u:hunter2@db:5432/x?sslmode=disable&password=p2"); strings.Contains(got, "hunter2") || strings.Contains(got, "p2") {
		t.Errorf("redactURL = %q", got)
	}
	if got := withDatabase("postgres://u@db:5432/postgres?sslmode=disable&pool_max_conns=8", "scimbench_1_2"); got != "postgres://u@db:5432/scimbench_1_2?sslmode=disable&pool_max_conns=8" {
		t.Errorf("withDatabase = %q", got)
	}
	if got := withoutPoolParams("postgres://u@db/x?pool_max_conns=8&sslmode=disable"); got != "postgres://u@db/x?sslmode=disable" {
		t.Errorf("withoutPoolParams = %q", got)
	}
	for v, want := range map[float64]string{0: "0", 999.6: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
	d := &directory{scimBases: []string{"a", "b"}, apiBases: []string{"A", "B"}}
	if d.scim(0) != "a" || d.scim(1) != "b" || d.scim(2) != "a" || d.api(3) != "B" {
		t.Errorf("workers do not alternate between the replicas")
	}
}

// testPostgresServer is the PostgreSQL server of the tests (as
// internal/pgtest finds it), or skips the test when none answers (fails
// it when SCIMD_TEST_POSTGRES=require).
func testPostgresServer(t *testing.T) string {
	t.Helper()
	server := cmpOr(os.Getenv("SCIMD_TEST_DATABASE_URL"), pgtest.DefaultServer)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := connect(ctx, server)
	if err != nil {
		if pgtest.Required() {
			t.Fatalf("PostgreSQL at %s is required (SCIMD_TEST_POSTGRES=require): %v", redactURL(server), err)
		}
		t.Skipf("no PostgreSQL at %s (set SCIMD_TEST_DATABASE_URL): %v", redactURL(server), err)
	}
	conn.Close(ctx)
	return server
}

// TestRunBackends runs a tiny cycle on SQLite, then on PostgreSQL with
// one and two replicas: nothing fails, the comparison table is printed,
// the postgres runs' ratios are to the PostgreSQL ceilings, and the
// run's databases are dropped.
func TestRunBackends(t *testing.T) {
	server := testPostgresServer(t)
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "out.json")
	var stdout, stderr bytes.Buffer
	args := []string{"-users", "200", "-groups", "2", "-members", "20", "-batch", "10", "-c", "4",
		"-reads", "40", "-lookups", "80", "-searches", "30", "-update-share", "0.1",
		"-ceiling-time", "100ms", "-quiet", "-db", filepath.Join(dir, "scimd.db"), "-json", jsonPath,
		"-backends", "sqlite,postgres", "-replicas", "1,2", "-postgres", server}
	if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	t.Logf("stdout:\n%s", &stdout)
	out := stdout.String()
	i := strings.Index(out, "== backends compared, 200 users")
	if i < 0 {
		t.Fatalf("no comparison table")
	}
	for _, want := range []string{"sqlite req/s", "postgres×1 req/s", "postgres×2 req/s", "×sqlite", opUserCreate, opLookup, "initial cycle"} {
		if !strings.Contains(out[i:], want) {
			t.Errorf("the comparison table has no %q", want)
		}
	}

	var rep Report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(server); u != nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && strings.Contains(string(b), pw) {
			t.Errorf("the JSON report holds the PostgreSQL password")
		}
	}
	var got []string
	for _, r := range rep.Runs {
		got = append(got, r.label())
		if r.Errors != 0 || r.Interrupted {
			t.Errorf("%s: errors %d, interrupted %v", r.label(), r.Errors, r.Interrupted)
		}
		ins, sel := r.storageCeilings()
		for _, c := range []string{ceilHTTP, ins, sel} {
			if p := r.Ceilings[c]; p == nil || p.Ops[0].Requests == 0 || p.Ops[0].Errors != 0 {
				t.Errorf("%s: ceiling %s: %+v", r.label(), c, p)
			}
		}
		if o := r.op(opUserCreate); o == nil || o.Requests != 200 || o.Ratios[ins] <= 0 {
			t.Errorf("%s: user creations %+v, want 200 with a ratio to %s", r.label(), o, ins)
		}
		if o := r.op(opLookup); o == nil || o.Hits == nil || *o.Hits != int64(o.Requests) {
			t.Errorf("%s: caller-ID %+v, want every lookup to find its contact", r.label(), o)
		}
		if (r.Backend == backendPostgres) != (r.Postgres != nil) {
			t.Errorf("%s: postgres info %+v", r.label(), r.Postgres)
		}
	}
	if strings.Join(got, " ") != "sqlite postgres×1 postgres×2" {
		t.Errorf("runs %v, want sqlite, postgres×1, postgres×2", got)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE $1`, fmt.Sprintf("scimbench\\_%d\\_%%", os.Getpid())).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d of the run's databases left behind without -keep (%v)", left, err)
	}
}
