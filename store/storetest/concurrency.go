package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/store"
)

const workers = 8

// testConcurrentUpdateUser runs read-modify-write PATCHes at once: each
// increments a counter in the document, and none may be lost.
func testConcurrentUpdateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createUser(t, s, d.ID, "counter@example.com", map[string]any{"count": 0})

	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			_, errs[i] = s.UpdateUser(ctx, d.ID, u.ID, func(u store.User) (store.User, store.SyncEvent, error) {
				var doc map[string]any
				if err := json.Unmarshal(u.Doc, &doc); err != nil {
					return u, store.SyncEvent{}, err
				}
				doc["count"] = doc["count"].(float64) + 1
				u.Doc = mustJSON(doc)
				return u, store.SyncEvent{}, nil
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	got, err := s.GetUser(ctx, d.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(got.Doc, &doc); err != nil || doc["count"] != float64(workers) || got.Version != 1+workers {
		t.Errorf("after %d concurrent updates: count %v, version %d; want %d, %d", workers, doc["count"], got.Version, workers, 1+workers)
	}
}

// testConcurrentMembers adds distinct members to one group from several
// goroutines at once: none may be lost.
func testConcurrentMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	g := createGroup(t, s, d.ID, "Everyone")
	const perWorker = 5
	batches := make([][]string, workers)
	var want []string
	for i := range workers {
		for j := range perWorker {
			u := createUser(t, s, d.ID, fmt.Sprintf("w%d-%d@example.com", i, j), nil)
			batches[i] = append(batches[i], u.ID)
			want = append(want, u.ID)
		}
	}

	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			_, errs[i] = s.UpdateGroup(ctx, d.ID, g.ID, func(store.Group) (store.GroupChange, error) {
				return store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: batches[i]}}}, nil
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	wantMembers(t, s, d.ID, g.ID, want...)
	if got, _ := s.GetGroup(ctx, d.ID, g.ID); got.Version != 1+workers {
		t.Errorf("version %d after %d updates, want %d", got.Version, workers, 1+workers)
	}
}

// testConcurrentUserName creates one userName, in varying case, from
// several goroutines at once: exactly one may win.
func testConcurrentUserName(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		name := "race@example.com"
		if i%2 == 1 {
			name = strings.ToUpper(name)
		}
		wg.Go(func() { _, errs[i] = s.CreateUser(ctx, newUser(d.ID, name, nil), store.SyncEvent{}) })
	}
	wg.Wait()
	var ok, conflicts int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("CreateUser: %v", err)
		}
	}
	if ok != 1 || conflicts != workers-1 {
		t.Errorf("%d created, %d conflicts; want 1, %d", ok, conflicts, workers-1)
	}
	if _, n, err := s.ListUsers(ctx, d.ID, store.Query{}); err != nil || n != 1 {
		t.Errorf("ListUsers: total %d, %v; want 1", n, err)
	}
}
