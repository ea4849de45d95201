package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Report is the JSON output: the machine, the options and every run (one,
// or one per size with -scale, times one per backend and replica count
// with -backends and -replicas).
type Report struct {
	Machine Machine           `json:"machine"`
	Flags   map[string]string `json:"flags"`
	Target  string            `json:"target"` // "in-process" or the -base URL
	Runs    []*RunResult      `json:"runs"`
}

// Machine describes where the figures were measured.
type Machine struct {
	GOOS       string    `json:"goos"`
	GOARCH     string    `json:"goarch"`
	NumCPU     int       `json:"numCPU"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"goVersion"`
	Revision   string    `json:"revision,omitempty"` // scimd's VCS revision, when the binary is stamped
	Time       time.Time `json:"time"`
}

// RunResult is one cycle at one size on one backend.
type RunResult struct {
	// Backend is what the in-process scimd ran on, "sqlite" or "postgres"
	// ("" with -base); Replicas how many scimd servers shared it.
	Backend  string `json:"backend,omitempty"`
	Replicas int    `json:"replicas"`
	// EventsOff: the run's scimd recorded no change events.
	EventsOff bool `json:"eventsOff,omitempty"`
	// Postgres describes the PostgreSQL server and the run's database.
	Postgres *PostgresInfo           `json:"postgres,omitempty"`
	Sizes    sizes                   `json:"sizes"`
	Ceilings map[string]*PhaseResult `json:"ceilings"`
	Phases   []*PhaseResult          `json:"phases"`
	// CycleSeconds is the initial provisioning cycle: users, groups and
	// member PATCHes.
	CycleSeconds float64        `json:"cycleSeconds"`
	TotalSeconds float64        `json:"totalSeconds"`
	Errors       int64          `json:"errors"`
	Memory       Memory         `json:"memory"`
	Targets      []TargetResult `json:"targets"`
	Interrupted  bool           `json:"interrupted,omitempty"`
	// Remote is set with -base: scimd is another process, whose CPU the
	// phases' otherCPUs include.
	Remote bool `json:"remote,omitempty"`
	// Limits are the in-process scimd's per-directory limits; Neighbour
	// is directory B's caller-ID during the cycle (-neighbour-rate).
	Limits    *limitFlags      `json:"limits,omitempty"`
	Neighbour *NeighbourResult `json:"neighbour,omitempty"`
	// NeighbourAlone is B's caller-ID alone, before the cycle
	// (-neighbour-baseline).
	NeighbourAlone *NeighbourResult `json:"neighbourAlone,omitempty"`
}

// PhaseResult is one phase: its operations share its wall time.
type PhaseResult struct {
	Name    string  `json:"name"`
	What    string  `json:"what"`
	Planned int     `json:"planned"` // work items (users, batches, requests) planned
	Done    int     `json:"done"`    // work items run before the end or the time limit
	Seconds float64 `json:"seconds"` // wall time
	// CPUSeconds is the CPU time of the process during the phase: scimd's
	// and the client's in-process, the client's only with -base.
	CPUSeconds float64 `json:"cpuSeconds"`
	// OtherCPUs is how many CPUs, on average, the rest of the machine
	// used during the phase: other processes, interrupts, the hypervisor
	// (steal). More than a few tenths means the figures are disturbed.
	// Null where unknown (no /proc/stat).
	OtherCPUs *float64 `json:"otherCPUs"`
	// DiskWriteBytes is what the process wrote to storage during the
	// phase (Linux's write_bytes: WAL frames, checkpoints); null where
	// unknown.
	DiskWriteBytes *int64 `json:"diskWriteBytes"`
	// PostgresCPUSeconds is the CPU time of the PostgreSQL server's
	// processes during the phase, in a run on PostgreSQL on this machine
	// (OtherCPUs then leaves it out); PostgresWALBytes is the WAL the
	// server wrote meanwhile. Absent where unknown.
	PostgresCPUSeconds *float64   `json:"postgresCPUSeconds,omitempty"`
	PostgresWALBytes   *int64     `json:"postgresWALBytes,omitempty"`
	Ops                []OpResult `json:"ops"`
	// PassRates are a ceiling's requests per second in each pass: before
	// and after the cycle.
	PassRates []float64 `json:"passRates,omitempty"`
}

// OpResult is one operation's figures.
type OpResult struct {
	Name      string  `json:"name"`
	Requests  int     `json:"requests"`
	Errors    int64   `json:"errors"`
	PerSecond float64 `json:"perSecond"` // requests / the phase's wall time
	MeanMs    float64 `json:"meanMs"`
	P50Ms     float64 `json:"p50Ms"`
	P95Ms     float64 `json:"p95Ms"`
	P99Ms     float64 `json:"p99Ms"`
	MaxMs     float64 `json:"maxMs"`
	// Hits counts lookups and searches that found a contact, and filtered
	// reads that matched one user.
	Hits *int64 `json:"hits,omitempty"`
	// Ratios is PerSecond over each ceiling's PerSecond, by ceiling.
	Ratios   map[string]float64 `json:"ratios,omitempty"`
	ceilings []string
}

// Memory is the process's peak memory during the cycle: from after the
// first pass of the ceilings to the end of the searches.
type Memory struct {
	PeakRSSBytes    int64  `json:"peakRSSBytes"`    // VmHWM: the most resident memory
	PeakGoHeapBytes uint64 `json:"peakGoHeapBytes"` // Go heap objects, sampled each second
	GoSysBytes      uint64 `json:"goSysBytes"`      // memory the Go runtime mapped, at the end
	Scope           string `json:"scope"`           // what the process holds (and its CPU figures cover)
}

// TargetResult is one speed target of the issue, met or not.
type TargetResult struct {
	Target string `json:"target"`
	Got    string `json:"got"`
	Met    *bool  `json:"met"` // null: not measured at a size the target is about
	Note   string `json:"note,omitempty"`
}

func opResult(o *op, wall time.Duration) OpResult {
	lat := o.latencies()
	s := summarize(lat)
	r := OpResult{
		Name: o.name, Requests: s.N, Errors: o.errors.Load(),
		MeanMs: ms(s.Mean), P50Ms: ms(s.P50), P95Ms: ms(s.P95), P99Ms: ms(s.P99), MaxMs: ms(s.Max),
		ceilings: o.ceiling,
	}
	if wall > 0 {
		r.PerSecond = float64(s.N) / wall.Seconds()
	}
	if o.hitsSet {
		h := o.hits.Load()
		r.Hits = &h
	}
	return r
}

func phaseOf(name, what string, planned int, run phaseRun, ops ...*op) *PhaseResult {
	p := &PhaseResult{Name: name, What: what, Planned: planned, Done: run.done,
		Seconds: run.wall.Seconds(), CPUSeconds: run.cpu.Seconds()}
	if run.written >= 0 {
		p.DiskWriteBytes = &run.written
	}
	if run.otherKnown && run.wall > 0 {
		o := run.other.Seconds() / run.wall.Seconds()
		p.OtherCPUs = &o
	}
	if run.pgCPUKnown {
		c := run.pgCPU.Seconds()
		p.PostgresCPUSeconds = &c
	}
	if run.pgWAL >= 0 {
		p.PostgresWALBytes = &run.pgWAL
	}
	for _, o := range ops {
		p.Ops = append(p.Ops, opResult(o, run.wall))
	}
	return p
}

// ceilingRate is the throughput of a ceiling, 0 if it was not measured:
// its faster pass, as noise (a disk stall, another process) only ever
// lowers a ceiling.
func (r *RunResult) ceilingRate(name string) float64 {
	p := r.Ceilings[name]
	switch {
	case p == nil || len(p.Ops) == 0:
		return 0
	case len(p.PassRates) > 0:
		return slices.Max(p.PassRates)
	}
	return p.Ops[0].PerSecond
}

// storageCeilings are the names of the run's storage ceilings: its
// backend's.
func (r *RunResult) storageCeilings() (ins, sel string) {
	if r.Backend == backendPostgres {
		return ceilPGInsert, ceilPGSelect
	}
	return ceilInsert, ceilSelect
}

// label names the run's backend: sqlite, postgres×2 (two replicas), or
// -base.
func (r *RunResult) label() string {
	label := r.Backend
	switch r.Backend {
	case "":
		return "-base"
	case backendPostgres:
		label = fmt.Sprintf("postgres×%d", r.Replicas)
	}
	if r.EventsOff {
		label += " no-events"
	}
	return label
}

// computeRatios sets every operation's ratios to its ceilings.
func (r *RunResult) computeRatios() {
	for _, p := range r.Phases {
		for i := range p.Ops {
			o := &p.Ops[i]
			for _, c := range o.ceilings {
				if rate := r.ceilingRate(c); rate > 0 && o.Requests > 0 {
					if o.Ratios == nil {
						o.Ratios = map[string]float64{}
					}
					o.Ratios[c] = o.PerSecond / rate
				}
			}
		}
	}
}

// op finds an operation by name.
func (r *RunResult) op(name string) *OpResult {
	for _, p := range r.Phases {
		for i := range p.Ops {
			if p.Ops[i].Name == name {
				return &p.Ops[i]
			}
		}
	}
	return nil
}

// evaluateTargets checks the speed targets.
func (r *RunResult) evaluateTargets() {
	met := func(b bool) *bool { return &b }
	ratio := func(name, ceiling string, want float64, label string) {
		t := TargetResult{Target: fmt.Sprintf("%s ≥ %.1f× the %s ceiling", label, want, ceilingLabel[ceiling])}
		if o := r.op(name); o != nil && o.Ratios[ceiling] > 0 {
			t.Got = fmt.Sprintf("%.2f×", o.Ratios[ceiling])
			t.Met = met(o.Ratios[ceiling] >= want)
		} else {
			t.Got = "not measured"
		}
		r.Targets = append(r.Targets, t)
	}
	ins, _ := r.storageCeilings()
	ratio(opUserCreate, ins, 1.0, "user creation (filter+POST)")
	ratio(opUserFilterHit, ceilHTTP, 0.5, "GET /Users?filter")
	ratio(opUserGet, ceilHTTP, 0.5, "GET /Users/{id}")

	contactsNote := ""
	if r.Sizes.Users < 1_000_000 {
		contactsNote = fmt.Sprintf("measured at %d users; the target is at 1,000,000", r.Sizes.Users)
	}
	t := TargetResult{Target: "caller-ID lookup ≥ 0.5× the HTTP ceiling, p99 < 2 ms, at 1,000,000 contacts", Note: contactsNote}
	if o := r.op(opLookup); o != nil && o.Ratios[ceilHTTP] > 0 {
		t.Got = fmt.Sprintf("%.2f×, p99 %.2f ms", o.Ratios[ceilHTTP], o.P99Ms)
		if r.Sizes.Users >= 1_000_000 {
			t.Met = met(o.Ratios[ceilHTTP] >= 0.5 && o.P99Ms < 2)
		}
	} else {
		t.Got = "not measured"
	}
	r.Targets = append(r.Targets, t)

	t = TargetResult{Target: "initial cycle of 100,000 users, 1,000 groups of 100 members < 60 s",
		Got: fmt.Sprintf("%.1f s for %d users, %d groups of %d", r.CycleSeconds, r.Sizes.Users, r.Sizes.Groups, r.Sizes.Members)}
	// A larger cycle done in 60 s proves the target; a larger one that
	// takes longer proves nothing about it.
	exact := r.Sizes.Users == 100_000 && r.Sizes.Groups == 1000 && r.Sizes.Members == 100
	larger := r.Sizes.Users >= 100_000 && r.Sizes.Groups >= 1000 && r.Sizes.Members >= 100
	if exact || (larger && r.CycleSeconds < 60) {
		t.Met = met(r.CycleSeconds < 60)
	} else {
		t.Note = "run with -users 100000 -groups 1000 -members 100"
	}
	r.Targets = append(r.Targets, t)
}

// itemName is what a phase's work item is.
var itemName = map[string]string{"users": "user", "groups": "group", "members": "PATCH"}

var ceilingLabel = map[string]string{ceilHTTP: "HTTP", ceilInsert: "durable insert", ceilSelect: "point select",
	ceilPGInsert: "PostgreSQL durable insert", ceilPGSelect: "PostgreSQL point select"}

// table lays out rows of cells: the first column left-aligned, the others
// right-aligned. A row of one cell is a heading.
type table struct{ rows [][]string }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	var width []int
	for _, r := range t.rows {
		if len(r) < 2 {
			continue
		}
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			pad := ""
			if len(r) > 1 {
				pad = strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			}
			switch {
			case i == 0:
				b.WriteString(c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// printRun writes one run's tables.
func printRun(w io.Writer, r *RunResult) {
	s := r.Sizes
	on := ""
	if r.Backend != "" {
		on = r.label() + ": "
	}
	fmt.Fprintf(w, "\n== %s%d users, %d groups of %d members (%d a PATCH), %d user updates, c=%d ==\n\n",
		on, s.Users, s.Groups, s.Members, s.Batch, s.Updates, s.Concurrency)
	if pg := r.Postgres; pg != nil {
		fmt.Fprintf(w, "PostgreSQL %s, database %s, synchronous_commit %s, fsync %s, shared_buffers %s, autovacuum %s\n",
			pg.Version, pg.Database, pg.SynchronousCommit, pg.Fsync, pg.SharedBuffers, pg.Autovacuum)
		if pg.CPUMeasured {
			fmt.Fprintln(w, "PostgreSQL CPU: this database's backends and the server's shared processes (/proc); WAL: the whole server's")
		} else {
			fmt.Fprintln(w, "PostgreSQL CPU: not measured (the server is not on this machine, or its processes were not found); WAL: the whole server's")
		}
		if pg.Autovacuum == "off" {
			fmt.Fprintln(w, "warning: autovacuum is off on this server: scimd's tables are never analyzed during the run, so the planner works without statistics")
		}
		if pg.SynchronousCommit != "on" || pg.Fsync != "on" {
			fmt.Fprintln(w, "warning: commits are not durable on this server (synchronous_commit or fsync is not on): writes and the insert ceiling are not what scimd's defaults promise")
		}
		fmt.Fprintln(w)
	}
	pgApart := r.Postgres != nil && r.Postgres.CPUMeasured
	var t table
	t.add("operation", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "ratio to ceilings")
	var phases []*PhaseResult
	for _, name := range ceilingNames {
		if p := r.Ceilings[name]; p != nil {
			phases = append(phases, p)
		}
	}
	for _, p := range append(phases, r.Phases...) {
		item := cmpOr(itemName[p.Name], "request")
		head := fmt.Sprintf("%s: %.1f s", p.Name, p.Seconds)
		if p.CPUSeconds > 0 && p.Seconds > 0 && p.Done > 0 {
			head += fmt.Sprintf(", %.2f CPUs busy, %.0f µs CPU per %s",
				p.CPUSeconds/p.Seconds, p.CPUSeconds*1e6/float64(p.Done), item)
		}
		if p.DiskWriteBytes != nil && p.Done > 0 && float64(*p.DiskWriteBytes)/float64(p.Done) >= 50 {
			head += fmt.Sprintf(", %.1f KB written to disk per %s", float64(*p.DiskWriteBytes)/1024/float64(p.Done), item)
		}
		if c := p.PostgresCPUSeconds; c != nil && p.Seconds > 0 && p.Done > 0 {
			head += fmt.Sprintf(", PostgreSQL %.2f CPUs, %.0f µs CPU per %s", *c/p.Seconds, *c*1e6/float64(p.Done), item)
		}
		if wal := p.PostgresWALBytes; wal != nil && p.Done > 0 && float64(*wal)/float64(p.Done) >= 50 {
			head += fmt.Sprintf(", %.1f KB WAL per %s", float64(*wal)/1024/float64(p.Done), item)
		}
		switch {
		case p.OtherCPUs != nil && r.Remote:
			head += fmt.Sprintf(", rest of the machine (scimd included) %.2f CPUs", *p.OtherCPUs)
		case p.OtherCPUs != nil && r.Postgres != nil && !pgApart:
			head += fmt.Sprintf(", rest of the machine (PostgreSQL included, if it runs here) %.2f CPUs", *p.OtherCPUs)
		case p.OtherCPUs != nil:
			head += fmt.Sprintf(", rest of the machine %.2f CPUs", *p.OtherCPUs)
		}
		if len(p.PassRates) > 1 {
			head += fmt.Sprintf(" (passes before and after the cycle: %s/s; ratios use the faster)", joinRates(p.PassRates))
		}
		t.add(head)
		for _, o := range p.Ops {
			addOp(&t, o)
		}
	}
	t.write(w)
	fmt.Fprintf(w, "\ninitial cycle (users, groups, members): %.1f s; whole run %.1f s; %d errors\n",
		r.CycleSeconds, r.TotalSeconds, r.Errors)
	fmt.Fprintf(w, "peak RSS %.0f MB, peak Go heap %.0f MB, Go runtime %.0f MB; memory and CPU figures: %s\n",
		mb(uint64(r.Memory.PeakRSSBytes)), mb(r.Memory.PeakGoHeapBytes), mb(r.Memory.GoSysBytes), r.Memory.Scope)
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range r.Targets {
		verdict := "n/a"
		if t.Met != nil {
			verdict = map[bool]string{true: "met", false: "NOT met"}[*t.Met]
		}
		fmt.Fprintf(w, "  %-8s %s: %s", verdict, t.Target, t.Got)
		if t.Note != "" {
			fmt.Fprintf(w, " (%s)", t.Note)
		}
		fmt.Fprintln(w)
	}
	if n := r.noisy(); len(n) > 0 {
		fmt.Fprintf(w, "\nnoisy machine: ceilings moved by more than 25%% between their passes: %s\n", strings.Join(n, "; "))
	}
	if d := r.disturbed(); len(d) > 0 && !r.Remote && (r.Postgres == nil || pgApart) {
		fmt.Fprintf(w, "\ndisturbed: the rest of the machine used more than %.2f CPUs during %s\n", maxOtherCPUs, strings.Join(d, ", "))
	}
	if r.Interrupted {
		fmt.Fprintln(w, "\n(interrupted: the figures cover what ran)")
	}
}

func joinRates(rates []float64) string {
	var s []string
	for _, r := range rates {
		s = append(s, fmt.Sprintf("%.0f", r))
	}
	return strings.Join(s, ", ")
}

// noisy names the ceilings whose passes differ by more than a quarter.
func (r *RunResult) noisy() []string {
	var names []string
	for _, name := range ceilingNames {
		if p := r.Ceilings[name]; p != nil && len(p.PassRates) > 1 {
			lo, hi := slices.Min(p.PassRates), slices.Max(p.PassRates)
			if lo <= 0 || hi/lo > 1.25 {
				names = append(names, fmt.Sprintf("%s (%s/s)", name, joinRates(p.PassRates)))
			}
		}
	}
	return names
}

// maxOtherCPUs is how much CPU the rest of the machine may use during a
// phase (on an idle machine: interrupts and kernel threads, a few
// hundredths) before scimbench calls the phase disturbed.
const maxOtherCPUs = 0.2

// disturbed names the phases during which the rest of the machine used
// more than maxOtherCPUs. Phases under a second are left out: /proc/stat
// counts in 10 ms ticks.
func (r *RunResult) disturbed() []string {
	var names []string
	for _, p := range append(slices.Collect(maps.Values(r.Ceilings)), r.Phases...) {
		if p.OtherCPUs != nil && *p.OtherCPUs > maxOtherCPUs && p.Seconds >= 1 {
			names = append(names, fmt.Sprintf("%s (%.2f)", p.Name, *p.OtherCPUs))
		}
	}
	slices.Sort(names)
	return names
}

func addOp(t *table, o OpResult) {
	name := o.Name
	if o.Hits != nil {
		name += fmt.Sprintf(" [%d found]", *o.Hits)
	}
	t.add("  "+name, strconv.Itoa(o.Requests), strconv.FormatInt(o.Errors, 10), fmt.Sprintf("%.0f", o.PerSecond),
		fmt.Sprintf("%.2f", o.P50Ms), fmt.Sprintf("%.2f", o.P95Ms), fmt.Sprintf("%.2f", o.P99Ms), ratios(o))
}

// ratios formats an operation's ratios: "0.41×http 0.05×select".
func ratios(o OpResult) string {
	var parts []string
	for _, c := range o.ceilings {
		if v, ok := o.Ratios[c]; ok {
			parts = append(parts, fmt.Sprintf("%.2f×%s", v, c))
		}
	}
	return strings.Join(parts, " ")
}

// keyOps are the rows of the scaling table: one per phase.
var keyOps = []string{opUserCreate, opGroupCreate, opMembers, opUserPatch, opUserGet, opUserFilterHit, opLookup, opLookupPaced,
	opSearchPrefix + "name)", opSearchPrefix + "email)", opSearchPrefix + "digits)"}

// phaseOf finds the phase an operation belongs to.
func (r *RunResult) phaseOf(name string) *PhaseResult {
	for _, p := range r.Phases {
		for _, o := range p.Ops {
			if o.Name == name {
				return p
			}
		}
	}
	return nil
}

// printScaling writes, per operation and size, the wall time per request
// at the run's concurrency (1e6 / req/s), the CPU time per work item
// (scimd's and the client's in-process: the cost that should stay flat as
// the directory grows), the ratio to its ceiling and the p99.
func printScaling(w io.Writer, runs []*RunResult, label string) {
	if label != "" {
		label = " on " + label
	}
	fmt.Fprintf(w, "\n== scaling%s: wall µs per request (1e6 / req/s), CPU µs per item, ratio to its ceiling, p99 ms ==\n\n", label)
	var t table
	head := []string{"operation"}
	for _, r := range runs {
		head = append(head, fmt.Sprintf("%d users: µs/req", r.Sizes.Users), "CPU µs", "ratio", "p99")
	}
	t.add(head...)
	for _, c := range ceilingNames {
		if !slices.ContainsFunc(runs, func(r *RunResult) bool { return r.ceilingRate(c) > 0 }) {
			continue
		}
		row := []string{"  ceiling " + c}
		for _, r := range runs {
			if rate := r.ceilingRate(c); rate > 0 {
				p := r.Ceilings[c]
				row = append(row, fmt.Sprintf("%.1f", 1e6/rate), cpuPerItem(p), "", fmt.Sprintf("%.2f", p.Ops[0].P99Ms))
			} else {
				row = append(row, "-", "-", "", "-")
			}
		}
		t.add(row...)
	}
	for _, name := range keyOps {
		row := []string{"  " + name}
		for _, r := range runs {
			o := r.op(name)
			if o == nil || o.PerSecond == 0 {
				row = append(row, "-", "-", "-", "-")
				continue
			}
			ratio := "-"
			if len(o.ceilings) > 0 {
				if v, ok := o.Ratios[o.ceilings[0]]; ok {
					ratio = fmt.Sprintf("%.2f×%s", v, o.ceilings[0])
				}
			}
			row = append(row, fmt.Sprintf("%.0f", 1e6/o.PerSecond), cpuPerItem(r.phaseOf(name)), ratio, fmt.Sprintf("%.2f", o.P99Ms))
		}
		t.add(row...)
	}
	cycle, rss := []string{"  initial cycle (s)"}, []string{"  peak RSS (MB)"}
	for _, r := range runs {
		cycle = append(cycle, fmt.Sprintf("%.1f", r.CycleSeconds), "", "", "")
		rss = append(rss, fmt.Sprintf("%.0f", mb(uint64(r.Memory.PeakRSSBytes))), "", "", "")
	}
	t.add(cycle...)
	t.add(rss...)
	t.write(w)
}

// cpuPerItem is a phase's CPU µs per work item, or "-".
func cpuPerItem(p *PhaseResult) string {
	if p == nil || p.Done == 0 || p.CPUSeconds == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", p.CPUSeconds*1e6/float64(p.Done))
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// writeJSON writes the report to path.
func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
