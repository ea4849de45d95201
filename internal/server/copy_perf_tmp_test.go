package server

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/pgtest"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
	"github.com/scimd/scimd/store/postgres"
)

func TestCopyPerfTmp(t *testing.T) {
	if os.Getenv("COPY_PERF") == "" {
		t.Skip()
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "perf.db")
	db, err := sqlite.OpenAndMigrate(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.CreateDirectory(ctx, store.Directory{ID: "perf", Name: "perf", SCIMTokenHash: store.HashToken("x")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const n = 100000
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < n; i += 64 {
				name := fmt.Sprintf("User%06d Person", i)
				u := store.User{DirectoryID: d.ID, ID: fmt.Sprintf("u%06d", i), UserName: fmt.Sprintf("user%06d@contoso.com", i), Active: true,
					DisplayName: name, Doc: []byte(fmt.Sprintf(`{"userName":"user%06d@contoso.com","displayName":%q}`, i, name)),
					Contact: store.Contact{DisplayName: name, Email: fmt.Sprintf("user%06d@contoso.com", i),
						Phones: []store.Phone{{Type: "work", Value: fmt.Sprintf("+4420%08d", i), E164: fmt.Sprintf("+4420%08d", i)}}}}
				if _, err := db.CreateUser(ctx, u, store.SyncEvent{Operation: store.SyncCreate, ResourceType: "User", Identity: u.UserName}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	db.Close()
	t.Logf("created %d users in %s", n, time.Since(start))
	start = time.Now()
	url := pgtest.URL(t)
	src, _ := sqlite.Open(ctx, path, sqlite.Options{})
	dst, err := postgres.OpenAndMigrate(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dd, _ := src.GetDirectory(ctx, "perf")
	im, _ := sourceDirectory(ctx, src, dd)
	ev := im.Events
	im.Events = nil
	start = time.Now()
	if err := dst.ImportDirectory(ctx, im); err != nil {
		t.Fatal(err)
	}
	t.Logf("import users %s", time.Since(start))
	dd.ID = "perf2"
	start = time.Now()
	if err := dst.ImportDirectory(ctx, postgres.DirectoryImport{Directory: dd, Events: func(yield func(store.SyncEvent, error) bool) {
		for e, err := range ev { e.ID += 1000000; if !yield(e, err) { return } }
	}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("import events %s", time.Since(start))
	start = time.Now()
	countDirectory(ctx, dst, "perf")
	t.Logf("count dst %s", time.Since(start))
}
