package presence_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/presence/fakegraph"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
)

const (
	tenant   = "33333333-3333-3333-3333-333333333333"
	clientID = fakegraph.DefaultClientID
	secret   = fakegraph.DefaultClientSecret
	interval = 30 * time.Second
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// countingStore counts presence writes, to check that an unchanged status
// is never written.
type countingStore struct {
	store.Store
	writes, rows atomic.Int64
}

func (c *countingStore) WritePresence(ctx context.Context, dir string, set []store.Presence, del []string) error {
	c.writes.Add(1)
	c.rows.Add(int64(len(set) + len(del)))
	return c.Store.WritePresence(ctx, dir, set, del)
}

// fixture is a presence Service on a real SQLite file, talking to the
// fake Graph in memory (no sockets, so that it runs in synctest bubbles).
type fixture struct {
	t     *testing.T
	db    *sqlite.DB
	st    *countingStore
	graph *fakegraph.Server
	svc   *presence.Service
	dir   store.Directory
	stop  func()
}

type options struct {
	key      []byte
	contacts int
	auto     time.Duration
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	presence.RegularCycles(t)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "scimd.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{t: t, db: db, st: &countingStore{Store: db}, graph: fakegraph.New(fakegraph.Config{AutoPresence: o.auto})}
	f.dir = f.createDirectory("contoso")
	for i := range o.contacts {
		f.createContact(f.dir.ID, i)
	}
	if o.key == nil {
		o.key = testKey
	}
	if len(o.key) == 0 {
		o.key = nil // no SCIMD_SECRET_KEY
	}
	f.svc, err = presence.New(presence.Config{
		Store: f.st, Key: o.key, Interval: interval,
		HTTPClient: &http.Client{Transport: f.graph.Transport()},
		LoginURL:   "http://fake", GraphURL: "http://fake",
		AppClientID: clientID, AppClientSecret: secret, PublicURL: "https://scimd.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.svc.Run(runCtx); close(done) }()
	var once sync.Once
	f.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) createDirectory(name string) store.Directory {
	f.t.Helper()
	d, err := f.db.CreateDirectory(context.Background(), store.Directory{ID: "dir-" + name, Name: name, SCIMTokenHash: store.HashToken(name)})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// oid is contact i's Entra object id.
func oid(i int) string { return fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i) }

func (f *fixture) createContact(dir string, i int) store.User {
	f.t.Helper()
	u, err := f.db.CreateUser(context.Background(), store.User{
		DirectoryID: dir, ID: fmt.Sprintf("user-%06d", i), UserName: fmt.Sprintf("u%d@contoso.com", i), Active: true,
		Doc: []byte(`{}`), Contact: store.Contact{ObjectID: oid(i), DisplayName: fmt.Sprintf("User %d", i)},
	}, store.SyncEvent{})
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) connect() presence.Status {
	f.t.Helper()
	st, err := f.svc.Connect(context.Background(), f.dir.ID, presence.Credentials{TenantID: tenant, ClientID: clientID, ClientSecret: secret})
	if err != nil {
		f.t.Fatalf("Connect: %v", err)
	}
	return st
}

func (f *fixture) status() presence.Status {
	f.t.Helper()
	st, err := f.svc.Status(context.Background(), f.dir.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) stored() []store.Presence {
	f.t.Helper()
	ps, err := f.db.ListPresence(context.Background(), f.dir.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return ps
}
