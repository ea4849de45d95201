package server

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/reapply"
	"github.com/scimd/scimd/store"
)

// eachBackend runs test on SQLite and on PostgreSQL; opts carries the
// backend (databaseURL) and the test's own options are added to it.
func eachBackend(t *testing.T, test func(t *testing.T, opts testOptions)) {
	t.Run("sqlite", func(t *testing.T) { test(t, testOptions{}) })
	t.Run("postgres", func(t *testing.T) { test(t, testOptions{databaseURL: pgtest.URL(t)}) })
}

// fastReapply makes jobs run in small batches and end at their first
// empty pass (nothing in these tests writes under stale rules).
func fastReapply(batch int) func(*reapply.Config) {
	return func(c *reapply.Config) {
		c.Batch, c.Interval, c.Settle = batch, 20*time.Millisecond, 0
	}
}

type reapplyProgress struct {
	State        string     `json:"state"`
	RulesVersion int64      `json:"rulesVersion"`
	Done         int        `json:"done"`
	Total        int        `json:"total"`
	Failed       int        `json:"failed"`
	StartedAt    *time.Time `json:"startedAt"`
	FinishedAt   *time.Time `json:"finishedAt"`
}

func (s *testServer) reapplyProgress(d directoryJSON) *reapplyProgress {
	s.t.Helper()
	r := s.do(http.MethodGet, "/admin/v1/directories/"+d.ID+"/mapping", testAdminToken, "")
	if r.status != http.StatusOK {
		s.t.Fatalf("GET mapping: %d %s", r.status, r.body)
	}
	return decodeJSON[struct {
		Reapply *reapplyProgress `json:"reapply"`
	}](s.t, r).Reapply
}

// putRules replaces d's mapping rules and returns the progress answered.
func (s *testServer) putRules(d directoryJSON, rules string) *reapplyProgress {
	s.t.Helper()
	r := s.do(http.MethodPut, "/admin/v1/directories/"+d.ID+"/mapping", testAdminToken, rules)
	if r.status != http.StatusOK {
		s.t.Fatalf("PUT mapping: %d %s", r.status, r.body)
	}
	return decodeJSON[struct {
		Reapply *reapplyProgress `json:"reapply"`
	}](s.t, r).Reapply
}

// waitReapplied waits for d's job of rules version v to finish.
func (s *testServer) waitReapplied(d directoryJSON, v int64) reapplyProgress {
	s.t.Helper()
	var p *reapplyProgress
	within(s.t, 30*time.Second, "rules re-applied", func() bool {
		p = s.reapplyProgress(d)
		return p != nil && p.RulesVersion == v && p.State == "done"
	})
	return *p
}

type contactOut struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Title       string `json:"title"`
	Department  string `json:"department"`
	Email       string `json:"email"`
}

func (s *testServer) contact(d directoryJSON, key, id string) contactOut {
	s.t.Helper()
	r := s.do(http.MethodGet, "/api/v1/directories/"+d.ID+"/contacts/"+id, key, "")
	if r.status != http.StatusOK {
		s.t.Fatalf("GET contact: %d %s", r.status, r.body)
	}
	return decodeJSON[contactOut](s.t, r)
}

func (s *testServer) patchSCIMUser(d directoryJSON, id, body string) {
	s.t.Helper()
	r := s.doHeader(http.MethodPatch, "/scim/v2/"+d.ID+"/Users/"+id, body, map[string]string{
		"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusOK {
		s.t.Errorf("SCIM PATCH: %d %s", r.status, r.body)
	}
}

// agent is a SCIM user with a valid work phone, a title and, if email is
// set, a work email.
func agent(i int, title string, email bool) string {
	e := ""
	if email {
		e = fmt.Sprintf(`,"emails":[{"type":"work","value":"agent%d@contoso.com"}]`, i)
	}
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"agent%d@contoso.com",
		"externalId":"x%d","name":{"givenName":"Agent","familyName":"No%d"},"nickName":"nick%d","title":%q,
		"phoneNumbers":[{"type":"work","value":"+4420718%05d"}]%s}`, i, i, i, i, title, i, e)
}

// titleRules make the contact's department the SCIM title and require a
// work email.
const titleRules = `{"required":["userName","externalId","phone","name","email"],"fields":{"department":"title"}}`

// TestReapplyRebuildsContacts: a rules change reaches the contacts Entra
// never sends again; users the new rules refuse keep their contact, are
// listed in the sync log, and lose the mark when Entra fixes them.
func TestReapplyRebuildsContacts(t *testing.T) {
	eachBackend(t, func(t *testing.T, opts testOptions) {
		opts.reapply = fastReapply(2)
		s := startServer(t, opts)
		a, b := s.newDirectory("A"), s.newDirectory("B")
		keyA, keyB := s.apiKey(a), s.apiKey(b)
		var ids []string
		for i := range 5 {
			ids = append(ids, s.createSCIMUser(a, agent(i, fmt.Sprintf("Agent %d", i), i != 3)))
		}
		idB := s.createSCIMUser(b, agent(9, "Other", true))
		if p := s.reapplyProgress(a); p != nil {
			t.Fatalf("progress before any rules change: %+v", p)
		}
		if c := s.contact(a, keyA, ids[0]); c.Department != "" || c.Title != "Agent 0" {
			t.Fatalf("contact before: %+v", c)
		}

		latest := decodeJSON[struct{ Next string }](t, s.do(http.MethodGet, "/api/v1/directories/"+a.ID+"/events/latest", keyA, "")).Next
		if p := s.putRules(a, titleRules); p == nil || p.RulesVersion != 1 || p.State == "done" {
			t.Fatalf("PUT answered progress %+v, want version 1 under way", p)
		}
		p := s.waitReapplied(a, 1)
		if p.Done != 5 || p.Total != 5 || p.Failed != 1 || p.StartedAt == nil || p.FinishedAt == nil {
			t.Errorf("progress: %+v", p)
		}
		// Each rebuilt contact is a change event; the refused one, whose
		// contact is kept, is none.
		if evs := s.events(a, keyA, latest).Events; len(evs) != 4 {
			t.Errorf("events of the rebuild: %+v, want 4 contact.updated", evs)
		} else {
			for _, e := range evs {
				if e.Type != "contact.updated" {
					t.Errorf("event of the rebuild: %+v, want contact.updated", e)
				}
			}
		}
		metrics := string(s.do(http.MethodGet, "/metrics", "", "").body)
		for _, want := range []string{"scimd_reapply_users_total 5", "scimd_reapply_refused_total 1", "scimd_reapply_jobs_finished_total 1"} {
			if !strings.Contains(metrics, want+"\n") {
				t.Errorf("metrics lack %s", want)
			}
		}
		for i, id := range ids {
			c := s.contact(a, keyA, id)
			// The refused user (no work email) keeps the contact of the
			// old rules; the others have the new mapping.
			want := fmt.Sprintf("Agent %d", i)
			if i == 3 {
				want = ""
			}
			if c.Department != want || c.Title != fmt.Sprintf("Agent %d", i) {
				t.Errorf("contact %d after the change: %+v, want department %q", i, c, want)
			}
		}
		// One Failed sync event, naming the user and the reason.
		r := s.do(http.MethodGet, "/admin/v1/directories/"+a.ID+"/sync-log?status=failed", testAdminToken, "")
		log := decodeJSON[struct {
			Events []struct {
				Operation, ResourceID, Identity, Status, Result string
			}
		}](t, r)
		if len(log.Events) != 1 {
			t.Fatalf("failed events: %s", r.body)
		}
		if e := log.Events[0]; e.Operation != store.SyncReapply || e.ResourceID != ids[3] || e.Identity != "agent3@contoso.com" ||
			e.Status != "Failed" || !strings.Contains(e.Result, "emails") {
			t.Errorf("refusal event: %+v", e)
		}
		if u, err := s.main.db.GetUser(t.Context(), a.ID, ids[3]); err != nil || u.Refused == "" {
			t.Errorf("refused user not marked: %q, %v", u.Refused, err)
		}
		// The SCIM resource is untouched: Entra sees the user as it sent it.
		if r := s.doHeader(http.MethodGet, "/scim/v2/"+a.ID+"/Users/"+ids[3], "", map[string]string{"Authorization": bearer(a.SCIMToken)}); r.status != http.StatusOK ||
			!strings.Contains(string(r.body), `W/\"1\"`) || strings.Contains(string(r.body), "agent3@contoso.com\"}]") {
			t.Errorf("SCIM GET of the refused user: %d %s", r.status, r.body)
		}

		// Entra adds the email: the write passes and clears the mark.
		s.patchSCIMUser(a, ids[3], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"add","path":"emails[type eq \"work\"].value","value":"agent3@contoso.com"}]}`)
		if u, _ := s.main.db.GetUser(t.Context(), a.ID, ids[3]); u.Refused != "" || u.RulesVersion != 1 {
			t.Errorf("after Entra's fix: refused %q, rules version %d", u.Refused, u.RulesVersion)
		}
		if c := s.contact(a, keyA, ids[3]); c.Department != "Agent 3" || c.Email != "agent3@contoso.com" {
			t.Errorf("fixed contact: %+v", c)
		}

		// The other directory is untouched.
		if c := s.contact(b, keyB, idB); c.Department != "" || s.reapplyProgress(b) != nil {
			t.Errorf("directory B changed: %+v", c)
		}
		// A visibility-only change rebuilds nothing.
		s.putRules(a, `{"required":["userName","externalId","phone","name","email"],"fields":{"department":"title"},"visibility":{"domains":["contoso.com"]}}`)
		if p := s.reapplyProgress(a); p.RulesVersion != 1 || p.State != "done" {
			t.Errorf("a visibility change started a job: %+v", p)
		}
	})
}

// TestReapplyConcurrentWrites: Entra writes while a job runs in small
// batches, and the admin changes the rules again mid-job; no write is
// lost, and every contact ends as the newest document under the newest
// rules.
func TestReapplyConcurrentWrites(t *testing.T) {
	eachBackend(t, func(t *testing.T, opts testOptions) {
		const users, writers, rounds = 120, 4, 6
		var batches atomic.Int64
		opts.reapply = func(c *reapply.Config) {
			fastReapply(3)(c)
			c.Batched = func(store.Reapply) { batches.Add(1) }
			// A PATCH that read the rules before the second PUT may commit
			// after the job passed its user: the job's later pass takes it,
			// if it comes within Settle.
			c.Settle = time.Second
		}
		s := startServer(t, opts)
		a, other := s.newDirectory("A"), s.newDirectory("Other")
		key := s.apiKey(a)
		ids := make([]string, users)
		for i := range ids {
			ids[i] = s.createSCIMUser(a, agent(i, "t0", true))
		}

		s.putRules(a, titleRules)
		// Each writer owns every writers-th user, so the last title each
		// user was sent is known.
		last := make([]string, users)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for k := 1; k <= rounds; k++ {
					for i := w; i < users; i += writers {
						title := fmt.Sprintf("t%d-%d", k, i)
						s.patchSCIMUser(a, ids[i], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
							"Operations":[{"op":"replace","path":"title","value":"`+title+`"}]}`)
						last[i] = title
					}
				}
			})
		}
		// Another directory's writes flow meanwhile.
		wg.Go(func() {
			for i := range 20 {
				s.createSCIMUser(other, agent(1000+i, "o", true))
			}
		})
		// Mid-job, newer rules: the display name from nickName too.
		within(t, 30*time.Second, "first batches", func() bool { return batches.Load() >= 3 })
		if p := s.putRules(a, `{"required":["userName","externalId","phone","name","email"],
			"fields":{"department":"title","displayName":"nickName"}}`); p.RulesVersion != 2 {
			t.Errorf("second PUT: %+v", p)
		}
		wg.Wait()
		// Users Entra wrote under the newest rules are not the job's.
		if p := s.waitReapplied(a, 2); p.Failed != 0 || p.Done > p.Total || p.Total > users {
			t.Errorf("progress: %+v", p)
		}
		for i, id := range ids {
			c := s.contact(a, key, id)
			if c.Title != last[i] || c.Department != last[i] || c.DisplayName != fmt.Sprintf("nick%d", i) {
				t.Fatalf("user %d: %+v, want title and department %q, display name nick%d", i, c, last[i], i)
			}
		}
		if u, _ := s.main.db.GetUser(t.Context(), a.ID, ids[0]); u.Version != rounds+1 {
			t.Errorf("user 0 at version %d, want %d: one per write, none for the rebuilds", u.Version, rounds+1)
		}
	})
}

// TestReapplyResumesAfterRestart: a job cut short by a shutdown resumes
// after its last batch at the next start.
func TestReapplyResumesAfterRestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, opts testOptions) {
		if opts.databaseURL == "" {
			opts.db = t.TempDir() + "/scimd.db"
		}
		var s1 *testServer
		var once sync.Once
		var seen atomic.Int64
		first := opts
		first.reapply = func(c *reapply.Config) {
			fastReapply(2)(c)
			c.Batched = func(store.Reapply) {
				if seen.Add(1) == 3 {
					once.Do(func() { s1.cancel() }) // stop after three batches
				}
			}
		}
		// No job runs before the shutdown hook is in place: the rules
		// change comes after the users.
		s1 = startServer(t, first)
		a := s1.newDirectory("A")
		var ids []string
		for i := range 15 {
			ids = append(ids, s1.createSCIMUser(a, agent(i, fmt.Sprintf("T%d", i), true)))
		}
		s1.putRules(a, titleRules)
		within(t, 30*time.Second, "three batches", func() bool { return seen.Load() >= 3 })
		if err := s1.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}

		second := opts
		second.reapply = fastReapply(2)
		cut := func() store.Reapply {
			// Read the job as the first server left it, through a second one
			// whose runner has not run yet: a new store on the same database.
			db, err := openStore(t.Context(), s1.main.Config, s1.main.Logger)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			job, err := db.GetReapply(t.Context(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return job
		}()
		if !cut.Running() || cut.Done != 6 || cut.After == "" {
			t.Fatalf("job after the shutdown: %+v, want 6 done of 15, running", cut)
		}
		s2 := startServer(t, second)
		p := s2.waitReapplied(a, 1)
		if p.Done != 15 || p.Total != 15 || !p.StartedAt.Equal(cut.Started) {
			t.Errorf("resumed job: %+v; want 15 done once, started %s", p, cut.Started)
		}
		key := s2.apiKey(a)
		for i, id := range ids {
			if c := s2.contact(a, key, id); c.Department != fmt.Sprintf("T%d", i) {
				t.Errorf("contact %d: %+v", i, c)
			}
		}
	})
}

// TestReapplyOnceAcrossReplicas: with two replicas on one database, a
// rules change put through either is re-applied by one of them.
func TestReapplyOnceAcrossReplicas(t *testing.T) {
	var batches [2]atomic.Int64
	servers := make([]*testServer, 2)
	url := pgtest.URL(t)
	for i := range servers {
		servers[i] = startServer(t, testOptions{databaseURL: url, reapply: func(c *reapply.Config) {
			fastReapply(4)(c)
			c.Batched = func(store.Reapply) { batches[i].Add(1) }
		}})
	}
	a, b := servers[0], servers[1]
	d := a.newDirectory("A")
	var ids []string
	for i := range 40 {
		ids = append(ids, a.createSCIMUser(d, agent(i, fmt.Sprintf("T%d", i), true)))
	}
	b.putRules(d, titleRules)
	p := a.waitReapplied(d, 1)
	if p.Done != 40 || p.Total != 40 {
		t.Errorf("progress: %+v", p)
	}
	if n0, n1 := batches[0].Load(), batches[1].Load(); n0+n1 != 10 || n0 != 0 && n1 != 0 {
		t.Errorf("batches per replica: %d and %d; want all 10 by one of them", n0, n1)
	}
	key := b.apiKey(d)
	for i, id := range ids {
		if c := b.contact(d, key, id); c.Department != fmt.Sprintf("T%d", i) {
			t.Errorf("contact %d: %+v", i, c)
		}
	}
}

// TestReapplyCopied: scimd copy carries the rules versions, the refusal
// marks and a job it cuts short, which resumes on PostgreSQL.
func TestReapplyCopied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimd.db")
	release := make(chan struct{})
	s := startServer(t, testOptions{db: path, reapply: func(c *reapply.Config) {
		fastReapply(2)(c)
		c.Batched = func(store.Reapply) { <-release } // the first batch is the last here: the job is cut short
	}})
	t.Cleanup(func() { close(release) }) // before the server stops
	d := s.newDirectory("A")
	for i := range 5 {
		s.createSCIMUser(d, agent(i, fmt.Sprintf("T%d", i), i != 0))
	}
	s.putRules(d, titleRules)
	var cut store.Reapply
	within(t, 10*time.Second, "the first batch", func() bool {
		var err error
		cut, err = s.main.db.GetReapply(t.Context(), d.ID)
		return err == nil && cut.Done == 2
	})
	// The runner is stuck in its hook: copy what the database holds now.
	url := pgtest.URL(t)
	if _, stderr, code := runCopyCommand(t, nil, "-from", path, "-to", url); code != exitOK {
		t.Fatalf("copy: exit %d: %s", code, stderr)
	}
	p := startServer(t, testOptions{databaseURL: url, reapply: fastReapply(2)})
	done := p.waitReapplied(d, 1)
	if done.Done != 5 || done.Failed != 1 || !done.StartedAt.Equal(cut.Started.Truncate(time.Microsecond)) {
		t.Errorf("job on the copy: %+v; want the copied one (started %s) finished", done, cut.Started)
	}
	key := p.apiKey(d)
	users, _, err := p.main.db.ListUsers(t.Context(), d.ID, store.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		c := p.contact(d, key, u.ID)
		refused := u.UserName == "agent0@contoso.com"
		if u.RulesVersion != 1 || (u.Refused != "") != refused || (c.Department == "") != refused {
			t.Errorf("%s on the copy: rules version %d, refused %q, contact %+v", u.UserName, u.RulesVersion, u.Refused, c)
		}
	}
}
