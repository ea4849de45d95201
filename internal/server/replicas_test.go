package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/presence/fakegraph"
)

// startReplicas runs n servers on one PostgreSQL database, as a load
// balancer would see them.
func startReplicas(t *testing.T, n int, opts testOptions) []*testServer {
	t.Helper()
	opts.databaseURL = pgtest.URL(t)
	servers := make([]*testServer, n)
	for i := range servers {
		servers[i] = startServer(t, opts)
	}
	return servers
}

// within polls check every 10 ms until it reports true, and returns how
// long that took; it fails the test after limit.
func within(t *testing.T, limit time.Duration, what string, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestReplicasShareOneTruth: two replicas on one database answer alike at
// once, and what one replica caches follows the other's writes within a
// second.
func TestReplicasShareOneTruth(t *testing.T) {
	rs := startReplicas(t, 2, testOptions{})
	a, b := rs[0], rs[1]
	d := decodeJSON[directoryJSON](t, a.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))

	// A user created through A is read through B at once.
	id := a.createSCIMUser(d, annArcher)
	if r := b.do(http.MethodGet, "/scim/v2/"+d.ID+"/Users/"+id, d.SCIMToken, ""); r.status != http.StatusOK {
		t.Fatalf("GET through B: %d %s", r.status, r.body)
	}
	key := decodeJSON[struct{ ID, Key string }](t, a.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`))
	lookup := "/api/v1/directories/" + d.ID + "/lookup?phone=%2B442071838750"
	if r := b.do(http.MethodGet, lookup, key.Key, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), id) {
		t.Fatalf("caller-ID through B: %d %s", r.status, r.body)
	}

	// B caches the directory and the key (it just used them); rotating
	// the token and revoking the key on A are refused on B within 1 s.
	rotated := decodeJSON[struct{ SCIMToken string }](t, a.do(http.MethodPost, "/admin/v1/directories/"+d.ID+"/token", testAdminToken, ""))
	took := within(t, time.Second, "old SCIM token refused on B", func() bool {
		return b.do(http.MethodGet, "/scim/v2/"+d.ID+"/Users/"+id, d.SCIMToken, "").status == http.StatusUnauthorized
	})
	t.Logf("rotation on A refused on B after %s", took)
	if r := b.do(http.MethodGet, "/scim/v2/"+d.ID+"/Users/"+id, rotated.SCIMToken, ""); r.status != http.StatusOK {
		t.Fatalf("new token on B: %d %s", r.status, r.body)
	}
	if r := a.do(http.MethodDelete, "/admin/v1/directories/"+d.ID+"/api-keys/"+key.ID, testAdminToken, ""); r.status != http.StatusNoContent {
		t.Fatalf("revoke key: %d %s", r.status, r.body)
	}
	took = within(t, time.Second, "revoked API key refused on B", func() bool {
		return b.do(http.MethodGet, lookup, key.Key, "").status == http.StatusUnauthorized
	})
	t.Logf("key revocation on A refused on B after %s", took)
}

// TestReplicasUniqueUserName: eight concurrent creates of one userName,
// spread over three replicas, make exactly one user.
func TestReplicasUniqueUserName(t *testing.T) {
	rs := startReplicas(t, 3, testOptions{})
	d := decodeJSON[directoryJSON](t, rs[0].do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	statuses := make([]int, 8)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range statuses {
		wg.Go(func() {
			<-start
			user := strings.Replace(annArcher, `"ann@contoso.com"`, `"Ann@Contoso.com"`, 1) // case differs, still one name
			if i%2 == 0 {
				user = annArcher
			}
			statuses[i] = rs[i%3].doHeader(http.MethodPost, "/scim/v2/"+d.ID+"/Users", user, map[string]string{
				"Authorization": bearer(d.SCIMToken), "Content-Type": "application/scim+json"}).status
		})
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		}
	}
	if created != 1 || conflicts != 7 {
		t.Errorf("statuses %v: %d created, %d conflicts; want 1 and 7", statuses, created, conflicts)
	}
	r := rs[1].do(http.MethodGet, "/scim/v2/"+d.ID+`/Users?filter=userName%20eq%20%22ann@contoso.com%22`, d.SCIMToken, "")
	if !strings.Contains(string(r.body), `"totalResults":1`) {
		t.Errorf("users named ann@contoso.com: %s", r.body)
	}
}

// presenceReplicas is two replicas with Teams presence through a fake
// Graph, a directory with one user, and its presence connected.
type presenceReplicas struct {
	rs     []*testServer
	graph  *fakegraph.Server
	d      directoryJSON
	key    string
	userID string
}

const (
	replicaSecret = "replica-Graph~Secret.0123456789"
	replicaOID    = "bbbbbbbb-0000-4000-8000-0000000000bb"
	replicaTenant = "44444444-4444-4444-8444-444444444444"
)

// startPresenceReplicas starts them; beforeConnect, when set, runs just
// before presence is connected.
func startPresenceReplicas(t *testing.T, interval time.Duration, beforeConnect func(dbURL, dirID string)) *presenceReplicas {
	t.Helper()
	graph := fakegraph.New(fakegraph.Config{ClientSecret: replicaSecret})
	gsrv := httptest.NewServer(graph)
	t.Cleanup(gsrv.Close)
	p := &presenceReplicas{graph: graph}
	p.rs = startReplicas(t, 2, testOptions{
		config: func(c *Config) {
			c.LoginURL, c.GraphURL = gsrv.URL, gsrv.URL
			c.SecretKey = bytes.Repeat([]byte{7}, 32)
		},
		presenceInterval: interval,
		leaseTTL:         interval,
		streamHeartbeat:  50 * time.Millisecond,
	})
	a := p.rs[0]
	p.d = decodeJSON[directoryJSON](t, a.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	p.key = decodeJSON[struct{ Key string }](t, a.do(http.MethodPost, "/admin/v1/directories/"+p.d.ID+"/api-keys", testAdminToken, `{"name":"cx"}`)).Key
	user := strings.Replace(annArcher, `"externalId":"a1"`, `"externalId":"`+replicaOID+`"`, 1)
	r := a.doHeader(http.MethodPost, "/scim/v2/"+p.d.ID+"/Users", user, map[string]string{
		"Authorization": bearer(p.d.SCIMToken), "Content-Type": "application/scim+json"})
	if r.status != http.StatusCreated {
		t.Fatalf("SCIM create: %d %s", r.status, r.body)
	}
	p.userID = decodeJSON[struct{ ID string }](t, r).ID
	graph.SetPresence(replicaOID, "Busy", "InACall")
	if beforeConnect != nil {
		beforeConnect(a.main.Config.DatabaseURL, p.d.ID)
	}
	r = a.do(http.MethodPut, "/admin/v1/directories/"+p.d.ID+"/presence", testAdminToken,
		`{"tenantId":"`+replicaTenant+`","clientId":"`+fakegraph.DefaultClientID+`","clientSecret":"`+replicaSecret+`"}`)
	if r.status != http.StatusOK {
		t.Fatalf("connect: %d %s", r.status, r.body)
	}
	return p
}

// pollers returns which replicas run a poller for the directory.
func (p *presenceReplicas) pollers() []int {
	var out []int
	for i, s := range p.rs {
		if s.main.presence.Polls(p.d.ID) {
			out = append(out, i)
		}
	}
	return out
}

// stream opens the presence stream on s and returns its lines.
func (p *presenceReplicas) stream(t *testing.T, s *testServer, lastEventID string) <-chan string {
	t.Helper()
	return s.openSSE(t, "/api/v1/directories/"+p.d.ID+"/presence/stream", p.key, lastEventID)
}

// nextEvent returns the id and data of the stream's next presence event.
func nextEvent(t *testing.T, lines <-chan string) (id, data string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			switch {
			case strings.HasPrefix(l, "id: "):
				id = strings.TrimPrefix(l, "id: ")
			case strings.HasPrefix(l, "event: reset"):
				t.Fatal("the stream was reset")
			case strings.HasPrefix(l, "data: ") && id != "":
				return id, strings.TrimPrefix(l, "data: ")
			}
		case <-timeout:
			t.Fatal("no presence event within 10 s")
		}
	}
}

// TestReplicasPresence: one replica polls the directory; an SSE client on
// either replica sees what it polled, with ids that resume on the other;
// the poller moves when its replica stops; a revocation on the replica
// that does not poll stops the one that does within a second.
func TestReplicasPresence(t *testing.T) {
	const interval = 300 * time.Millisecond
	p := startPresenceReplicas(t, interval, nil)
	within(t, 5*time.Second, "one replica polls", func() bool { return len(p.pollers()) == 1 })
	holder := p.pollers()[0]
	other := 1 - holder
	contact := "/api/v1/directories/" + p.d.ID + "/contacts/" + p.userID
	within(t, 5*time.Second, "the first cycle's presence on the other replica", func() bool {
		return strings.Contains(string(p.rs[other].do(http.MethodGet, contact, p.key, "").body), `"availability":"Busy"`)
	})

	// A client of the replica that does not poll sees the change.
	lines := p.stream(t, p.rs[other], "")
	p.graph.SetPresence(replicaOID, "Away", "Away")
	id1, data := nextEvent(t, lines)
	if !strings.Contains(data, p.userID) || !strings.Contains(data, `"availability":"Away"`) {
		t.Fatalf("event %s: %s", id1, data)
	}
	p.graph.SetPresence(replicaOID, "Available", "Available")
	id2, data := nextEvent(t, lines)
	if !strings.Contains(data, `"availability":"Available"`) {
		t.Fatalf("event %s: %s", id2, data)
	}
	// The first event's id resumes on the polling replica, with the
	// same next event.
	resumed := p.stream(t, p.rs[holder], id1)
	if id, data := nextEvent(t, resumed); id != id2 || !strings.Contains(data, `"availability":"Available"`) {
		t.Errorf("resumed on the poller after %s: %s %s, want %s", id1, id, data, id2)
	}
	if again := p.pollers(); len(again) != 1 || again[0] != holder {
		t.Errorf("pollers = %v, want only %d", again, holder)
	}

	// The holder stops: the other takes over within two intervals.
	stopped := time.Now()
	if err := p.rs[holder].stop(); err != nil {
		t.Fatal(err)
	}
	took := within(t, 2*interval, "the other replica takes the poller over", func() bool {
		ps := p.pollers()
		return len(ps) == 1 && ps[0] == other
	})
	t.Logf("poller moved %s after the holder stopped (%s after Run returned)", time.Since(stopped), took)
	p.graph.SetPresence(replicaOID, "DoNotDisturb", "Presenting")
	if _, data := nextEvent(t, lines); !strings.Contains(data, `"availability":"DoNotDisturb"`) {
		t.Errorf("after the move: %s", data)
	}
}

// TestReplicasRevokeStopsOtherPoller: revoking on the replica that does
// not poll stops the poller on the one that does within a second.
func TestReplicasRevokeStopsOtherPoller(t *testing.T) {
	p := startPresenceReplicas(t, 300*time.Millisecond, nil)
	within(t, 5*time.Second, "one replica polls", func() bool { return len(p.pollers()) == 1 })
	other := 1 - p.pollers()[0]
	r := p.rs[other].do(http.MethodDelete, "/admin/v1/directories/"+p.d.ID+"/presence", testAdminToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	took := within(t, time.Second, "no replica polls after the revocation", func() bool { return len(p.pollers()) == 0 })
	t.Logf("poller stopped %s after the revocation on the other replica", took)
	// Nobody takes it back over.
	time.Sleep(time.Second)
	if ps := p.pollers(); len(ps) != 0 {
		t.Errorf("pollers after revocation: %v", ps)
	}
}

// TestReplicasTakeOverADeadHolder: a lease left by a replica that died
// (it never released it) is taken over once it expires, not before.
func TestReplicasTakeOverADeadHolder(t *testing.T) {
	const interval = 500 * time.Millisecond
	var expires time.Time
	p := startPresenceReplicas(t, interval, func(dbURL, dirID string) {
		conn, err := pgx.Connect(t.Context(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		// What a replica killed while polling leaves behind.
		if err := conn.QueryRow(t.Context(), `INSERT INTO leases (name, owner, expires)
			VALUES ($1, 'a-dead-replica', clock_timestamp() + interval '1 second') RETURNING expires`,
			"presence:"+dirID).Scan(&expires); err != nil {
			t.Fatal(err)
		}
	})
	for time.Until(expires) > 100*time.Millisecond {
		if ps := p.pollers(); len(ps) != 0 {
			t.Fatalf("replica %v polls while the dead replica's lease is valid", ps)
		}
		time.Sleep(20 * time.Millisecond)
	}
	within(t, time.Until(expires)+2*interval, "a replica takes the directory over", func() bool { return len(p.pollers()) == 1 })
	t.Logf("taken over %s after the lease expired (poll interval and lease %s)", time.Since(expires), interval)
	// The new holder's first cycle stores the user's presence.
	contact := "/api/v1/directories/" + p.d.ID + "/contacts/" + p.userID
	within(t, 2*interval, "presence polled by the new holder", func() bool {
		return strings.Contains(string(p.rs[1].do(http.MethodGet, contact, p.key, "").body), `"availability":"Busy"`)
	})
}

// TestReplicasFirstStart: replicas starting at once on an empty database
// make one "default" directory and one admin token, printed once.
func TestReplicasFirstStart(t *testing.T) {
	url := pgtest.URL(t)
	// Migrated beforehand, so that the replicas' setups run together.
	var out bytes.Buffer
	if code := run(t.Context(), []string{"migrate", "-database-url", url}, func(string) string { return "" }, &out, &out); code != 0 {
		t.Fatalf("migrate: %s", out.String())
	}
	mains := make([]*Main, 3)
	outs := make([]*syncBuffer, len(mains))
	errs := make([]error, len(mains))
	var wg sync.WaitGroup
	for i := range mains {
		cfg := testConfig(t)
		cfg.DB, cfg.DatabaseURL, cfg.AdminToken = "", url, ""
		outs[i] = &syncBuffer{}
		mains[i] = &Main{Config: cfg, Logger: newLogger(t.Output(), cfg.LogLevel, cfg.LogFormat), Stdout: outs[i]}
		wg.Go(func() { errs[i] = mains[i].Open(t.Context()) })
	}
	wg.Wait()
	directories, adminTokens := 0, 0
	for i, m := range mains {
		if errs[i] != nil {
			t.Errorf("replica %d: %v", i, errs[i])
		}
		directories += strings.Count(outs[i].String(), `Created the directory "default"`)
		adminTokens += strings.Count(outs[i].String(), "Admin Token:")
		_ = m.Close()
	}
	if directories != 1 || adminTokens != 1 {
		t.Errorf("printed %d default directories and %d admin tokens, want one each", directories, adminTokens)
	}
	s := startServer(t, testOptions{databaseURL: url})
	if dirs := s.do(http.MethodGet, "/admin/v1/directories", testAdminToken, ""); strings.Count(string(dirs.body), `"name":"default"`) != 1 {
		t.Errorf("directories: %s", dirs.body)
	}
}
