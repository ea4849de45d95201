package reapply

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/internal/teststore"
	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

func TestMain(m *testing.M) { pgtest.MainBackends(m) }

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a directory of n users whose titles become their contacts'
// departments under the rules it changes to.
type fixture struct {
	st    store.Store
	dir   store.Directory
	users []store.User
	clock *clock
}

const departmentRules = `{"fields":{"department":"title"}}`

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	c := &clock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	st := teststore.Open(t, teststore.Options{Now: c.Now})
	d, err := st.CreateDirectory(t.Context(), store.Directory{ID: "dir-1", Name: "Contoso", SCIMTokenHash: []byte("h")})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, dir: d, clock: c}
	for i := range n {
		u := f.user(t, i, "Agent")
		if u, err = st.CreateUser(t.Context(), u, store.SyncEvent{}); err != nil {
			t.Fatal(err)
		}
		f.users = append(f.users, u)
	}
	return f
}

// user builds user i with a title, its contact derived under the rules
// of version 0 (the defaults).
func (f *fixture) user(t *testing.T, i int, title string) store.User {
	t.Helper()
	doc := map[string]any{"userName": fmt.Sprintf("u%02d@contoso.com", i), "externalId": fmt.Sprintf("x%d", i),
		"name": map[string]any{"givenName": "U", "familyName": fmt.Sprint(i)}, "title": title,
		"phoneNumbers": []any{map[string]any{"type": "work", "value": fmt.Sprintf("+1415555%04d", i)}}}
	b, _ := json.Marshal(doc)
	u := store.User{DirectoryID: f.dir.ID, ID: fmt.Sprintf("user-%02d", i), UserName: doc["userName"].(string), Active: true, Doc: b}
	rc := Rebuild(mapping.Defaults(), u)
	if rc.Refusal != "" {
		t.Fatalf("fixture user refused: %s", rc.Refusal)
	}
	u.Contact = rc.Contact
	return u
}

// changeRules stores new rules at the next rules version, as the admin
// API does.
func (f *fixture) changeRules(t *testing.T, doc string) {
	t.Helper()
	rules, err := mapping.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	f.dir, err = f.st.UpdateDirectory(t.Context(), f.dir.ID, func(d store.Directory) (store.Directory, error) {
		d.Mapping, d.RulesVersion = rules.Marshal(), d.RulesVersion+1
		return d, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) job(t *testing.T) store.Reapply {
	t.Helper()
	j, err := f.st.GetReapply(t.Context(), f.dir.ID)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (f *fixture) department(t *testing.T, id string) string {
	t.Helper()
	u, err := f.st.GetUser(t.Context(), f.dir.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Contact.Department
}

// A SCIM write made under the old rules after the job passed its user
// (another process's cached rules) is rebuilt by the job's next pass.
func TestStaleWriteRebuiltByNextPass(t *testing.T) {
	f := newFixture(t, 6)
	var stale sync.Once
	r := New(Config{Store: f.st, Batch: 2, Now: f.clock.Now, Batched: func(j store.Reapply) {
		if j.After != "user-03" {
			return
		}
		stale.Do(func() {
			// user-00 is done; Entra rewrites it through a process that
			// still has the old rules (version 0, no department).
			if _, err := f.st.UpdateUser(context.Background(), f.dir.ID, "user-00", func(old store.User) (store.User, store.SyncEvent, error) {
				nu := f.user(t, 0, "Lead")
				nu.RulesVersion, nu.Version = 0, old.Version
				return nu, store.SyncEvent{}, nil
			}); err != nil {
				t.Error(err)
			}
		})
	}})
	f.changeRules(t, departmentRules)
	r.work(t.Context())
	j := f.job(t)
	if j.Running() || j.Done != 7 || j.Total != 6 {
		t.Errorf("job: %+v; want finished, 6 users and the stale write's rebuild", j)
	}
	if got := f.department(t, "user-00"); got != "Lead" {
		t.Errorf("user-00's department %q, want Lead: the newest document under the newest rules", got)
	}
	for _, u := range f.users[1:] {
		if got := f.department(t, u.ID); got != "Agent" {
			t.Errorf("%s's department %q", u.ID, got)
		}
	}
}

// A job ends only once Settle has passed since it started, with a pass
// that finds nobody.
func TestSettle(t *testing.T) {
	f := newFixture(t, 3)
	r := New(Config{Store: f.st, Batch: 10, Settle: time.Minute, Now: f.clock.Now})
	f.changeRules(t, departmentRules)
	r.work(t.Context())
	if j := f.job(t); !j.Running() || j.Done != 3 {
		t.Fatalf("job within Settle: %+v; want running with every user done", j)
	}
	f.clock.add(2 * time.Minute)
	r.work(t.Context())
	if j := f.job(t); j.Running() {
		t.Errorf("job after Settle: %+v; want finished", j)
	}
}

// On a shared store a job runs in the process holding its lease.
func TestLease(t *testing.T) {
	if !pgtest.OnPostgres() {
		t.Skip("leases are a shared store's (PostgreSQL)")
	}
	f := newFixture(t, 3)
	shared := f.st.(store.Shared)
	ctx := t.Context()
	if ok, err := shared.TryLease(ctx, leasePrefix+f.dir.ID, "other-process", time.Minute); err != nil || !ok {
		t.Fatalf("TryLease: %v, %v", ok, err)
	}
	r := New(Config{Store: f.st, Shared: shared, Owner: "this-process", Now: f.clock.Now})
	f.changeRules(t, departmentRules)
	r.work(ctx)
	if _, err := f.st.GetReapply(ctx, f.dir.ID); err == nil {
		t.Fatal("a job whose lease another process holds was started here")
	}
	if err := shared.ReleaseLease(ctx, leasePrefix+f.dir.ID, "other-process"); err != nil {
		t.Fatal(err)
	}
	r.work(ctx)
	if j := f.job(t); j.Running() || j.Done != 3 {
		t.Errorf("job once the lease was free: %+v", j)
	}
	// Finished, the job's lease is given up for the next one.
	if ok, err := shared.TryLease(ctx, leasePrefix+f.dir.ID, "other-process", time.Minute); err != nil || !ok {
		t.Errorf("the finished job's lease is still held: %v, %v", ok, err)
	}
}

// Rebuild derives the contact as the SCIM layer does, and reports what
// changed and what the rules refuse.
func TestRebuild(t *testing.T) {
	f := &fixture{dir: store.Directory{ID: "d"}}
	u := f.user(t, 1, "Agent")
	if rc := Rebuild(mapping.Defaults(), u); rc.Changed || rc.Refusal != "" {
		t.Errorf("same rules: %+v", rc)
	}
	rules, _ := mapping.Parse([]byte(departmentRules))
	if rc := Rebuild(rules, u); !rc.Changed || rc.Contact.Department != "Agent" {
		t.Errorf("new rules: %+v", rc)
	}
	strict, _ := mapping.Parse([]byte(`{"required":["userName","email"]}`))
	if rc := Rebuild(strict, u); rc.Refusal == "" || rc.Changed {
		t.Errorf("refusing rules: %+v", rc)
	}
	u.Doc = []byte(`not json`)
	if rc := Rebuild(mapping.Defaults(), u); rc.Refusal == "" {
		t.Errorf("unreadable document: %+v", rc)
	}
}

// Batches shrink to keep their transaction within BatchTime and grow
// back to Batch.
func TestResize(t *testing.T) {
	r := New(Config{Batch: 200, BatchTime: 50 * time.Millisecond})
	size := func() int {
		if n, ok := r.sizes["d"]; ok {
			return n
		}
		return r.cfg.Batch
	}
	for _, step := range []struct {
		size int
		took time.Duration
		want int
	}{
		{200, 200 * time.Millisecond, 50}, // in proportion
		{50, 40 * time.Millisecond, 50},   // within the target: kept
		{50, 10 * time.Millisecond, 100},  // fast: doubled
		{100, 10 * time.Millisecond, 200}, // up to Batch
		{200, time.Second, minBatch},      // never below minBatch
		{minBatch, time.Hour, minBatch},
	} {
		r.resize("d", step.size, step.took)
		if got := size(); got != step.want {
			t.Errorf("after a batch of %d in %s: size %d, want %d", step.size, step.took, got, step.want)
		}
	}
}
