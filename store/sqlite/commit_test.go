package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// TestGroupCommit holds the writer inside one write while 40 more queue
// up, then checks that they shared commits, that the failing ones (a
// duplicate userName) were rolled back alone, and that every successful
// write is durable and readable.
func TestGroupCommit(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx := t.Context()
	dir := store.Directory{ID: "d1", Name: "d", SCIMTokenHash: []byte("h")}
	if _, err := db.CreateDirectory(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, store.User{DirectoryID: "d1", ID: "taken", UserName: "taken@x", Doc: []byte(`{}`)}, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	blocked := make(chan struct{})
	go func() {
		_ = db.write(ctx, func(context.Context, *tx) error {
			close(blocked)
			<-release
			return nil
		})
	}()
	<-blocked
	before := db.commits.batches.Load()

	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("user%d@x", i)
			if i%4 == 0 {
				name = "TAKEN@x" // conflicts, case-insensitively
			}
			_, errs[i] = db.CreateUser(ctx, store.User{DirectoryID: "d1", ID: fmt.Sprint("u", i), UserName: name, Doc: []byte(`{}`)}, store.SyncEvent{})
		}()
	}
	time.Sleep(100 * time.Millisecond) // let the writers queue behind the held write
	close(release)
	wg.Wait()

	for i, err := range errs {
		_, getErr := db.GetUser(ctx, "d1", fmt.Sprint("u", i))
		if i%4 == 0 {
			if !errors.Is(err, store.ErrConflict) || !errors.Is(getErr, store.ErrNotFound) {
				t.Errorf("write %d: err %v, stored: %v; want a conflict and nothing stored", i, err, getErr == nil)
			}
			continue
		}
		if err != nil || getErr != nil {
			t.Errorf("write %d: %v, read back: %v", i, err, getErr)
		}
	}
	if batches := db.commits.batches.Load() - before; batches >= n {
		t.Errorf("%d writes took %d commits; concurrent writes should share commits", n, batches)
	} else {
		t.Logf("%d writes in %d commits", n, batches)
	}
}

func TestWriteAfterClose(t *testing.T) {
	db := newTestDB(t, Options{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateDirectory(t.Context(), store.Directory{ID: "x", Name: "x"}); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: %v, want errClosed", err)
	}
}

func TestCancelledContextWritesNothing(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.CreateDirectory(ctx, store.Directory{ID: "x", Name: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if _, err := db.GetDirectory(t.Context(), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a cancelled write was stored: %v", err)
	}
}
