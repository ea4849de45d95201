package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNeighbourMode runs A's cycle beside B's caller-ID load, with a
// SCIM rate of 50 a second, so that A's requests beyond it are refused:
// they are retried after Retry-After (nothing fails), B's lookups all
// find their contact, and both are reported.
func TestNeighbourMode(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "out.json")
	var stdout, stderr bytes.Buffer
	args := []string{"-users", "60", "-groups", "1", "-members", "20", "-batch", "10", "-c", "4",
		"-neighbour-rate", "200", "-neighbour-users", "30", "-neighbour-workers", "4", "-neighbour-baseline", "200ms",
		"-scim-rate", "50", "-limit-wait", "0", "-quiet", "-db", filepath.Join(dir, "scimd.db"), "-json", jsonPath}
	if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	t.Logf("stdout:\n%s", &stdout)
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	r := rep.Runs[0]
	var phases []string
	for _, p := range r.Phases {
		phases = append(phases, p.Name)
	}
	if strings.Join(phases, ",") != "users,groups,members" || len(r.Ceilings) != 0 {
		t.Errorf("phases %v, ceilings %d: want A's initial cycle alone", phases, len(r.Ceilings))
	}
	n := r.Neighbour
	if n == nil || n.Sent == 0 || n.OK != int64(n.Sent) || n.Errors != 0 || n.Throttled != 0 || n.Latency.MaxMs <= 0 {
		t.Fatalf("neighbour: %+v", n)
	}
	if a := r.NeighbourAlone; a == nil || a.Sent == 0 || a.OK != int64(a.Sent) {
		t.Errorf("B alone: %+v", a)
	}
	if r.Errors != 0 || n.AThrottled == 0 {
		t.Errorf("A: %d errors, %d refusals retried; want none failed and some retried", r.Errors, n.AThrottled)
	}
	if r.Limits == nil || r.Limits.SCIMRate != 50 || r.Limits.SCIMMaxInFlight != 64 || r.Limits.Wait != "0s" {
		t.Errorf("limits reported: %+v", r.Limits)
	}
	for _, want := range []string{"neighbour: directory B (30 users)", "B's latency: p50", "B alone before A's cycle", "SCIM 64 in flight, rate 50/s"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
}

func TestNeighbourFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-neighbour-rate", "-1"}, "-neighbour-rate must not be negative"},
		{[]string{"-neighbour-users", "0"}, "-neighbour-users"},
		{[]string{"-scim-max-inflight", "-2"}, "must not be negative (0: no limit)"},
		{[]string{"-limit-wait", "1m"}, "-limit-wait must be from 0 to 10s"},
		{[]string{"-base", "http://127.0.0.1:8080", "-scim-rate", "5"}, "with -base the server has its own"},
	} {
		if _, _, err := parseFlags(c.args, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.args, err, c.want)
		}
	}
	o, _, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || o.limits.SCIMMaxInFlight != 64 || o.limits.wait.String() != "1s" || o.neighbour.rate != 0 {
		t.Errorf("defaults: %+v %v", o.limits, err)
	}
}
