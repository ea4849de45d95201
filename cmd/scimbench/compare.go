package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// printSummaries writes the tables that span runs: a scaling table per
// backend measured at several sizes (-scale), and a comparison table per
// size measured on several backends (-backends, -replicas).
func printSummaries(w io.Writer, runs []*RunResult) {
	byLabel := groupRuns(runs, (*RunResult).label)
	for _, g := range byLabel {
		if len(g) > 1 {
			label := ""
			if len(byLabel) > 1 {
				label = g[0].label()
			}
			printScaling(w, g, label)
		}
	}
	for _, g := range groupRuns(runs, func(r *RunResult) string { return strconv.Itoa(r.Sizes.Users) }) {
		if len(g) > 1 {
			printComparison(w, g)
		}
	}
}

// groupRuns groups runs by key, in the order of their first run.
func groupRuns(runs []*RunResult, key func(*RunResult) string) [][]*RunResult {
	var keys []string
	groups := map[string][]*RunResult{}
	for _, r := range runs {
		k := key(r)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out [][]*RunResult
	for _, k := range keys {
		out = append(out, groups[k])
	}
	return out
}

// comparedCeilings are the ceiling rows of the comparison: each run's
// own, its storage ceilings being its backend's.
var comparedCeilings = []struct {
	label string
	name  func(r *RunResult) string
}{
	{"ceiling: HTTP", func(*RunResult) string { return ceilHTTP }},
	{"ceiling: durable insert (each backend's own)", func(r *RunResult) string { ins, _ := r.storageCeilings(); return ins }},
	{"ceiling: point select (each backend's own)", func(r *RunResult) string { _, sel := r.storageCeilings(); return sel }},
}

// printComparison writes runs of one size side by side: per operation,
// each run's requests a second and p50/p99, and its requests a second as
// a ratio to the baseline's (the sqlite run, else the first); then the
// CPU each item took in scimbench's process and in PostgreSQL.
func printComparison(w io.Writer, runs []*RunResult) {
	base := runs[0]
	if i := slices.IndexFunc(runs, func(r *RunResult) bool { return r.Backend == backendSQLite }); i >= 0 {
		base = runs[i]
	}
	others := slices.DeleteFunc(slices.Clone(runs), func(r *RunResult) bool { return r == base })
	fmt.Fprintf(w, "\n== backends compared, %d users, c=%d: req/s, p50 and p99 ms, and req/s as a ratio to %s's ==\n\n",
		base.Sizes.Users, base.Sizes.Concurrency, base.label())
	var t table
	head := []string{"operation", base.label() + " req/s", "p50", "p99"}
	for _, r := range others {
		head = append(head, r.label()+" req/s", "p50", "p99", "×"+base.label())
	}
	t.add(head...)
	type figure struct {
		perSecond, p50, p99 float64
		ok                  bool
	}
	row := func(label string, get func(r *RunResult) figure) {
		b := get(base)
		cells := []string{"  " + label}
		if b.ok {
			cells = append(cells, thousands(b.perSecond), fmt.Sprintf("%.2f", b.p50), fmt.Sprintf("%.2f", b.p99))
		} else {
			cells = append(cells, "-", "-", "-")
		}
		for _, r := range others {
			f := get(r)
			if !f.ok {
				cells = append(cells, "-", "-", "-", "-")
				continue
			}
			ratio := "-"
			if b.ok && b.perSecond > 0 {
				ratio = fmt.Sprintf("%.2f×", f.perSecond/b.perSecond)
			}
			cells = append(cells, thousands(f.perSecond), fmt.Sprintf("%.2f", f.p50), fmt.Sprintf("%.2f", f.p99), ratio)
		}
		t.add(cells...)
	}
	for _, c := range comparedCeilings {
		row(c.label, func(r *RunResult) figure {
			name := c.name(r)
			rate := r.ceilingRate(name)
			if rate <= 0 {
				return figure{}
			}
			o := r.Ceilings[name].Ops[0]
			return figure{rate, o.P50Ms, o.P99Ms, true}
		})
	}
	for _, name := range keyOps {
		row(name, func(r *RunResult) figure {
			o := r.op(name)
			if o == nil || o.PerSecond == 0 {
				return figure{}
			}
			return figure{o.PerSecond, o.P50Ms, o.P99Ms, true}
		})
	}
	// The cycle's row: its speed (1 / seconds), so that its ratio reads
	// as the others' do; the seconds are in the req/s column's place.
	cycle := []string{"  initial cycle (s; ratio of speeds)", fmt.Sprintf("%.1f", base.CycleSeconds), "", ""}
	for _, r := range others {
		ratio := "-"
		if r.CycleSeconds > 0 && base.CycleSeconds > 0 {
			ratio = fmt.Sprintf("%.2f×", base.CycleSeconds/r.CycleSeconds)
		}
		cycle = append(cycle, fmt.Sprintf("%.1f", r.CycleSeconds), "", "", ratio)
	}
	t.add(cycle...)
	t.write(w)
	fmt.Fprintf(w, "(ratios under 1 are slower than %s; each run's ratios to its own ceilings are in its table above)\n", base.label())

	// Where the CPU went: the process's (scimd, its replicas and the
	// client) and PostgreSQL's, per work item.
	fmt.Fprint(w, "\n== CPU µs per item: scimbench's process (scimd and the client), PostgreSQL's processes ==\n\n")
	var c table
	head = []string{"phase"}
	for _, r := range runs {
		head = append(head, r.label()+" process", "PostgreSQL")
	}
	c.add(head...)
	var phases []string
	for _, r := range runs {
		for _, p := range r.Phases {
			if !slices.Contains(phases, p.Name) {
				phases = append(phases, p.Name)
			}
		}
	}
	for _, name := range phases {
		cells := []string{"  " + name}
		for _, r := range runs {
			i := slices.IndexFunc(r.Phases, func(p *PhaseResult) bool { return p.Name == name })
			if i < 0 {
				cells = append(cells, "-", "-")
				continue
			}
			p := r.Phases[i]
			pg := "-"
			if p.PostgresCPUSeconds != nil && p.Done > 0 {
				pg = fmt.Sprintf("%.0f", *p.PostgresCPUSeconds*1e6/float64(p.Done))
			}
			cells = append(cells, cpuPerItem(p), pg)
		}
		c.add(cells...)
	}
	c.write(w)
}

// thousands formats v rounded, with commas between thousands: 12,345.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
