// Command scimbench measures scimd as Microsoft Entra ID uses it: it
// replays an initial provisioning cycle (users matched then created,
// groups created then filled by member PATCHes, a share of users updated,
// reads by id and by filter), then caller-ID lookups and searches on the
// lookup API, and measures in the same run what this machine's HTTP
// stack and SQLite can do at best, so that every figure is also a ratio
// to its ceiling. With -postgres and -backends it runs the cycle on
// SQLite and on PostgreSQL (with -replicas, on several scimd servers
// sharing the one database) and compares them side by side.
//
//	go run ./cmd/scimbench                        # 10,000 users, scimd in-process
//	go run ./cmd/scimbench -users 100000 -groups 1000 -members 100
//	go run ./cmd/scimbench -scale 10000,100000,1000000
//	go run ./cmd/scimbench -base http://127.0.0.1:8080 -token $ADMIN
//	go run ./cmd/scimbench -backends sqlite,postgres -replicas 1,2 \
//	    -postgres 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
//
// See BENCHMARKS.md for what each phase does and the figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line.
type options struct {
	users, groups, members, batch int
	updateShare                   float64
	reads, lookups, searches      int
	lookupRate                    float64
	duration                      time.Duration
	concurrency                   int
	scale                         []int

	base, token string
	db          string
	// postgres is the -postgres server URL; backends and replicas are
	// what the in-process scimd runs on, one run of the cycle each.
	postgres string
	backends []string
	replicas []int
	// eventsOff lists the change-event settings to run at: false is
	// scimd's default (events recorded), true SCIMD_EVENTS=off.
	eventsOff   []bool
	keep        bool
	serverLog   string
	ceilingDir  string
	ceilingTime time.Duration
	ceilingMax  int

	// limits are the in-process scimd's per-directory limits; neighbour
	// the neighbour mode (neighbour.go).
	limits    limitFlags
	neighbour neighbourFlags

	jsonPath   string
	quiet      bool
	cpuProfile string
	profileTag string // set per run with -scale
}

const auto = -1

// Backends of the in-process scimd.
const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"
)

// maxReplicas bounds -replicas: each replica is a whole scimd with its own
// connection pool, all in this process.
const maxReplicas = 16

func parseFlags(args []string, stderr io.Writer) (options, *flag.FlagSet, error) {
	var o options
	var scale, backends, replicas, events string
	fs := flag.NewFlagSet("scimbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.users, "users", 10000, "users to provision")
	fs.IntVar(&o.groups, "groups", auto, "groups to provision (default users/100)")
	fs.IntVar(&o.members, "members", 100, "members per group (at most -users)")
	fs.IntVar(&o.batch, "batch", 25, "members added per group PATCH")
	fs.Float64Var(&o.updateShare, "update-share", 0.1, "share of users updated by PATCH, 0 to 1")
	fs.IntVar(&o.reads, "reads", auto, "GET /Users/{id} requests, and as many filtered GETs (default users/2, at most 50,000)")
	fs.IntVar(&o.lookups, "lookups", 20000, "caller-ID lookups")
	fs.Float64Var(&o.lookupRate, "lookup-pace", 0, "after the saturated caller-ID phase, as many lookups paced at this many a second (0: none), for latency without queueing")
	fs.IntVar(&o.searches, "searches", 20000, "searches, split between name, email and digit searches")
	fs.DurationVar(&o.duration, "duration", 0, "time limit of each read, lookup and search phase (0: none, run the counts)")
	fs.IntVar(&o.concurrency, "c", 8, "concurrent requests")
	fs.StringVar(&scale, "scale", "", "comma-separated user counts: run the whole cycle at each, on a new database each (e.g. 10000,100000,1000000)")
	fs.StringVar(&o.base, "base", "", "URL of a running scimd on this machine (default: start one in-process)")
	fs.StringVar(&o.token, "token", "", "admin token of the -base scimd ($SCIMBENCH_TOKEN)")
	fs.StringVar(&o.db, "db", "", "in-process scimd's SQLite database file, which must not exist (default: in a temporary directory)")
	fs.StringVar(&o.postgres, "postgres", "", "URL of a PostgreSQL server (postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable): the postgres backend runs on a new database created there for each run, dropped afterwards unless -keep")
	fs.StringVar(&backends, "backends", backendSQLite, "comma-separated backends of the in-process scimd, sqlite and postgres: the whole cycle on each, in this order, then a table comparing them (default postgres alone when -postgres is set)")
	fs.StringVar(&replicas, "replicas", "1", "in-process scimd servers on the one PostgreSQL database, each worker sending to replica worker%N; comma-separated counts (1,2) run postgres at each")
	fs.StringVar(&events, "events", "on", "in-process scimd's change events (SCIMD_EVENTS): on, off, or on,off to run the cycle with each and compare what recording them costs")
	fs.BoolVar(&o.keep, "keep", false, "keep the database (in-process) or the directory (-base) after the run")
	fs.StringVar(&o.serverLog, "server-log", "text", "in-process scimd's access log: text or json (formatted, then discarded, as scimd's costs), or off")
	fs.StringVar(&o.ceilingDir, "ceiling-dir", "", "directory of the storage ceiling's SQLite file (default: beside the database; with -base, the temporary directory)")
	fs.DurationVar(&o.ceilingTime, "ceiling-time", 3*time.Second, "how long each ceiling is measured")
	fs.IntVar(&o.ceilingMax, "ceiling-max", 1_000_000, "most requests of each ceiling")
	fs.StringVar(&o.jsonPath, "json", "scimbench.json", "write the results as JSON to this file (\"\": do not)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of each phase to this path, with the phase before the extension (cpu.pprof: cpu.users.pprof, ...)")
	o.limits.register(fs)
	o.neighbour.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: scimbench [flags]\n\nReplays an Entra ID provisioning cycle against scimd (on SQLite, or PostgreSQL with -postgres) and measures it against this machine's HTTP and storage ceilings.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, fs, err
	}
	if fs.NArg() > 0 {
		return o, fs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.token == "" {
		o.token = os.Getenv("SCIMBENCH_TOKEN")
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for b := range strings.SplitSeq(backends, ",") {
		switch b = strings.TrimSpace(b); {
		case b != backendSQLite && b != backendPostgres:
			add("-backends: %q is not sqlite or postgres", b)
		case slices.Contains(o.backends, b):
			add("-backends: %s is named twice", b)
		default:
			o.backends = append(o.backends, b)
		}
	}
	if !given["backends"] && o.postgres != "" {
		o.backends = []string{backendPostgres}
	}
	for r := range strings.SplitSeq(replicas, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		switch {
		case err != nil || n < 1 || n > maxReplicas:
			add("-replicas: %q is not a count of servers from 1 to %d", r, maxReplicas)
		case slices.Contains(o.replicas, n):
			add("-replicas: %d is named twice", n)
		default:
			o.replicas = append(o.replicas, n)
		}
	}
	for e := range strings.SplitSeq(events, ",") {
		switch e = strings.TrimSpace(e); {
		case e != "on" && e != "off":
			add("-events: %q is not on or off", e)
		case slices.Contains(o.eventsOff, e == "off"):
			add("-events: %s is named twice", e)
		default:
			o.eventsOff = append(o.eventsOff, e == "off")
		}
	}
	onPostgres := slices.Contains(o.backends, backendPostgres)
	if onPostgres && o.postgres == "" {
		add("-backends postgres needs -postgres, the URL of a PostgreSQL server (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	if o.postgres != "" {
		if err := checkPostgresURL(o.postgres); err != nil {
			errs = append(errs, err)
		}
		if !onPostgres {
			add("-postgres is set but -backends has no postgres")
		}
	}
	if given["replicas"] && !onPostgres && !slices.Equal(o.replicas, []int{1}) {
		add("-replicas needs the postgres backend (-backends postgres and -postgres): scimd serves a SQLite file from one process")
	}
	if !slices.Contains(o.backends, backendSQLite) && o.db != "" {
		add("-db is the SQLite backend's file; -backends has no sqlite")
	}
	if scale != "" {
		for s := range strings.SplitSeq(scale, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(s, "_", "")))
			if err != nil || n < 1 {
				add("-scale: %q is not a positive user count", s)
				continue
			}
			o.scale = append(o.scale, n)
		}
	}
	if o.users < 1 {
		add("-users must be at least 1")
	}
	if o.members < 0 || o.groups < auto || o.reads < auto || o.lookups < 0 || o.searches < 0 || o.lookupRate < 0 {
		add("-groups, -members, -reads, -lookups, -lookup-pace and -searches must not be negative")
	}
	if o.batch < 1 {
		add("-batch must be at least 1")
	}
	if o.updateShare < 0 || o.updateShare > 1 {
		add("-update-share must be between 0 and 1")
	}
	if o.concurrency < 1 {
		add("-c must be at least 1")
	}
	if o.ceilingTime <= 0 || o.ceilingMax < 1 {
		add("-ceiling-time and -ceiling-max must be positive")
	}
	if o.serverLog != "text" && o.serverLog != "json" && o.serverLog != "off" {
		add("-server-log must be text, json or off")
	}
	if o.cpuProfile != "" {
		// Checked now: a profile that cannot be written would end the run
		// at its first phase.
		if fi, err := os.Stat(filepath.Dir(o.cpuProfile)); err != nil || !fi.IsDir() {
			add("-cpuprofile: directory %s does not exist", filepath.Dir(o.cpuProfile))
		}
	}
	errs = append(errs, o.neighbour.validate()...)
	o.limits.Wait = o.limits.wait.String()
	if o.base != "" && slices.ContainsFunc(limitFlagNames, func(n string) bool { return given[n] }) {
		add("-scim-max-inflight, -scim-rate, -lookup-max-inflight, -lookup-rate and -limit-wait are the in-process scimd's; with -base the server has its own")
	}
	errs = append(errs, o.limits.validate()...)
	if o.base != "" {
		if o.db != "" {
			add("-db is for the in-process scimd; with -base the server has its own")
		}
		if given["backends"] || given["replicas"] || given["events"] || o.postgres != "" {
			add("-backends, -postgres, -replicas and -events are for the in-process scimd; with -base the server has its own")
		}
		if _, err := loopbackOnly(o.base); err != nil {
			errs = append(errs, err)
		}
	} else if o.db != "" && len(o.scale) == 0 && exists(o.db) {
		add("-db %s already exists: scimbench measures a new database; remove it or choose another path", o.db)
	}
	return o, fs, errors.Join(errs...)
}

// sizesFor derives a run's bounds from the options and its user count.
func sizesFor(o options, users int) sizes {
	s := sizes{Users: users, Groups: o.groups, Members: min(o.members, users), Batch: o.batch,
		Updates: int(o.updateShare * float64(users)), Reads: o.reads, Lookups: o.lookups,
		Searches: o.searches, Concurrency: o.concurrency}
	if s.Groups == auto {
		s.Groups = users / 100
	}
	if s.Reads == auto {
		s.Reads = min(users/2, 50000)
	}
	return s
}

// config is what one run's scimd runs on: a backend and, on PostgreSQL,
// how many replicas share the database. With -base both are the running
// scimd's own (Backend "").
type config struct {
	Backend   string
	Replicas  int
	EventsOff bool // SCIMD_EVENTS=off
}

// configs are the runs at each size, in the order of -backends, postgres
// at each -replicas count.
func (o options) configs() []config {
	if o.base != "" {
		return []config{{Replicas: 1}}
	}
	var cs []config
	for _, b := range o.backends {
		for _, off := range o.eventsOff {
			if b != backendPostgres {
				cs = append(cs, config{Backend: b, Replicas: 1, EventsOff: off})
				continue
			}
			for _, n := range o.replicas {
				cs = append(cs, config{Backend: b, Replicas: n, EventsOff: off})
			}
		}
	}
	return cs
}

// run is the command; it returns the exit status: 0, 1 when requests
// failed or the run was interrupted, 2 for a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, fs, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "scimbench: %v\n", err)
		return 2
	}
	userCounts := o.scale
	if len(userCounts) == 0 {
		userCounts = []int{o.users}
	}
	configs := o.configs()

	rep := &Report{Machine: machine(), Flags: map[string]string{}, Target: "in-process"}
	if o.base != "" {
		rep.Target = o.base
	}
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "token":
		case "postgres": // may hold a password
			rep.Flags[f.Name] = redactURL(f.Value.String())
		default:
			rep.Flags[f.Name] = f.Value.String()
		}
	})

	prog := newProgress(stderr, o.quiet)
	defer prog.close()
	b := newBench(o, stderr, prog)
	fmt.Fprintf(stdout, "scimbench: %s scimd, c=%d, %d CPUs (GOMAXPROCS %d), %s %s/%s\n",
		rep.Target, o.concurrency, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)

	status := 0
runs:
	for _, users := range userCounts {
		for _, cfg := range configs {
			var tag []string
			if len(userCounts) > 1 {
				tag = append(tag, strconv.Itoa(users))
			}
			if len(configs) > 1 {
				tag = append(tag, cfg.fileTag())
			}
			b.opt.profileTag = strings.Join(tag, ".")
			r, err := b.runOnce(ctx, sizesFor(o, users), cfg)
			if r != nil {
				rep.Runs = append(rep.Runs, r)
				printRun(stdout, r)
				printNeighbour(stdout, r)
				if r.Errors > 0 || r.Interrupted {
					status = 1
				}
			}
			if err != nil {
				prog.clear()
				fmt.Fprintf(stderr, "scimbench: %v\n", err)
				status = 1
				break runs
			}
			if ctx.Err() != nil {
				status = 1
				break runs
			}
		}
	}
	printSummaries(stdout, rep.Runs)
	if o.jsonPath != "" && len(rep.Runs) > 0 {
		if err := writeJSON(o.jsonPath, rep); err != nil {
			fmt.Fprintf(stderr, "scimbench: write %s: %v\n", o.jsonPath, err)
			return 1
		}
		fmt.Fprintf(stdout, "\nresults written to %s\n", o.jsonPath)
	}
	return status
}

// fileTag names a config in profile file names: sqlite, postgres-x2.
func (c config) fileTag() string {
	tag := cmpOr(c.Backend, "base")
	if c.Backend == backendPostgres {
		tag = fmt.Sprintf("postgres-x%d", c.Replicas)
	}
	if c.EventsOff {
		tag += "-noevents"
	}
	return tag
}

// runOnce runs the ceilings and the cycle at one size on a new database
// (in-process: a SQLite file, or a PostgreSQL database served by
// cfg.Replicas scimd servers) or a new directory (-base).
func (b *bench) runOnce(ctx context.Context, s sizes, cfg config) (_ *RunResult, err error) {
	o := b.opt
	if o.neighbour.rate > 0 { // the initial cycle alone
		s.Updates, s.Reads, s.Lookups, s.Searches = 0, 0, 0, 0
	}
	start := time.Now()
	var t *target
	var ceilingPath string // the SQLite storage ceiling's file
	var pg *pgDatabase     // the run's PostgreSQL database
	r := &RunResult{Sizes: s, Remote: o.base != "", Backend: cfg.Backend, Replicas: cfg.Replicas, EventsOff: cfg.EventsOff}
	scope := "scimd and scimbench's client, one process"
	switch {
	case o.base != "":
		if t, err = remoteTarget(o.base, o.token); err != nil {
			return nil, err
		}
		scope = "scimbench's client only; the -base scimd is another process"
		ceilingPath = filepath.Join(cmpOr(o.ceilingDir, os.TempDir()), fmt.Sprintf("scimbench-ceiling-%d.db", os.Getpid()))
	case cfg.Backend == backendPostgres:
		b.prog.note(fmt.Sprintf("creating a database on %s", redactURL(o.postgres)))
		if pg, err = createDatabase(ctx, o.postgres); err != nil {
			return nil, err
		}
		defer func() {
			if derr := b.dropDatabase(ctx, pg); derr != nil && err == nil {
				err = derr
			}
		}()
		r.Postgres = pg.info
		b.prog.note(fmt.Sprintf("starting %d scimd in-process on %s", cfg.Replicas, redactURL(pg.url)))
		if t, err = startInProcess(ctx, "", pg.url, cfg.Replicas, o.serverLog, cfg.EventsOff, o.limits); err != nil {
			return nil, err
		}
		defer func() {
			if serr := t.stop(); serr != nil && err == nil {
				err = fmt.Errorf("stop scimd: %w", serr)
			}
		}()
		scope = fmt.Sprintf("scimd (%d in-process) and scimbench's client, one process; PostgreSQL is others, counted apart", cfg.Replicas)
		if m := newPGMeter(ctx, pg.url); m != nil {
			b.meter = m
			pg.info.CPUMeasured = m.cpuMeasured()
			defer func() {
				b.meter = nil
				m.close()
			}()
		}
	default:
		var dbPath string
		var cleanup func()
		if dbPath, cleanup, err = b.databasePath(s.Users); err != nil {
			return nil, err
		}
		defer cleanup()
		b.prog.note(fmt.Sprintf("starting scimd in-process on %s", dbPath))
		if t, err = startInProcess(ctx, dbPath, "", 1, o.serverLog, cfg.EventsOff, o.limits); err != nil {
			return nil, err
		}
		defer func() {
			if serr := t.stop(); serr != nil && err == nil {
				err = fmt.Errorf("stop scimd: %w", serr)
			}
		}()
		ceilingPath = filepath.Join(cmpOr(o.ceilingDir, filepath.Dir(dbPath)), "scimbench-ceiling.db")
	}
	dir, err := t.createDirectory(ctx, b.hc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.bases[0], err)
	}
	if o.base != "" && !o.keep {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
			defer cancel()
			if derr := t.deleteDirectory(dctx, b.hc, dir); derr != nil && err == nil {
				err = fmt.Errorf("delete the run's directory: %w", derr)
			}
		}()
	}

	ins, sel := r.storageCeilings()
	c := &cycle{b: b, dir: dir, size: s, ins: ins, sel: sel}
	ceilings := newCeilingSet(o.concurrency)
	measure := func(pass string) func(context.Context) error {
		return func(ctx context.Context) error {
			if err := b.httpCeiling(ctx, ceilings, pass); err != nil || ctx.Err() != nil {
				return err
			}
			if pg != nil {
				return b.postgresCeilings(ctx, ceilings, pass, pg.url, s.Users)
			}
			return b.storageCeilings(ctx, ceilings, pass, ceilingPath, s.Users)
		}
	}
	// The memory peaks are the cycle's: they start after the first pass of
	// the ceilings and end before the second.
	memory := func(context.Context) error {
		r.Memory = b.prog.memory(scope)
		return nil
	}
	steps := []func(context.Context) error{
		measure("before"),
		func(context.Context) error {
			b.prog.resetPeaks()
			return nil
		},
		c.createUsers, c.createGroups, c.addMembers, c.updateUsers, c.readUsers, c.lookups, c.pacedLookups, c.searches,
		memory,
		measure("after"),
	}
	if o.base == "" {
		r.Limits = &o.limits
	}
	if o.neighbour.rate > 0 {
		var cleanup func()
		steps, cleanup = b.neighbourSteps(t, c, r)
		steps = append(steps, memory)
		defer cleanup()
	}
	for _, step := range steps {
		if err = step(ctx); err != nil || ctx.Err() != nil {
			break
		}
	}
	r.Ceilings = ceilings.results()
	r.Interrupted = ctx.Err() != nil
	r.Phases = c.phases
	r.TotalSeconds = time.Since(start).Seconds()
	for _, p := range r.Phases {
		switch p.Name {
		case "users", "groups", "members":
			r.CycleSeconds += p.Seconds
		}
	}
	for _, p := range append(slices.Clone(r.Phases), slices.Collect(maps.Values(r.Ceilings))...) {
		for _, op := range p.Ops {
			if !strings.Contains(op.Name, "(filter+POST)") { // pairs repeat their requests' errors
				r.Errors += op.Errors
			}
		}
	}
	if r.Memory.Scope == "" { // stopped before the end of the cycle
		_ = memory(ctx)
	}
	r.computeRatios()
	r.evaluateTargets()
	return r, err
}

// databasePath is the in-process scimd's new database and what removes
// it after the run (unless -keep).
func (b *bench) databasePath(users int) (string, func(), error) {
	o := b.opt
	if o.db != "" {
		path := o.db
		if len(o.scale) > 0 {
			path = sizedPath(path, users)
		}
		if exists(path) {
			return "", nil, fmt.Errorf("-db %s already exists: scimbench measures a new database; remove it or choose another path", path)
		}
		return path, func() {
			if !o.keep {
				for _, f := range dbFiles(path) {
					os.Remove(f)
				}
			}
		}, nil
	}
	dir, err := os.MkdirTemp("", "scimbench-")
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, "scimd.db"), func() {
		if o.keep {
			b.prog.clear()
			fmt.Fprintf(b.stderr, "scimbench: kept the database in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func machine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), Time: time.Now().UTC()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" && modified == "true" {
			rev += " (modified)"
		}
		m.Revision = rev
	}
	return m
}
