// Package storetest is the conformance suite every store.Store backend
// runs, so that all backends keep one contract:
//
//	func TestStore(t *testing.T) {
//		storetest.RunTests(t, func(t *testing.T) store.Store { ... })
//	}
package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// RunTests runs the suite. newStore must return a new, empty, migrated
// store and arrange its cleanup (t.Cleanup). The store's clock must move
// forward between transactions: a real clock does, and NewClock is a
// deterministic one.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Settings", testSettings},
		{"Directories/CRUD", testDirectoriesCRUD},
		{"Directories/Duplicate", testDirectoriesDuplicate},
		{"Directories/NotFound", testDirectoriesNotFound},
		{"Directories/DeleteCascades", testDirectoriesDeleteCascades},
		{"Directories/CallbackError", testDirectoriesCallbackError},
		{"Directories/ReadsSeeWrites", testDirectoriesReadsSeeWrites},
		{"Directories/PreviousToken", testDirectoriesPreviousToken},
		{"Users/CRUD", testUsersCRUD},
		{"Users/NotFound", testUsersNotFound},
		{"Users/DeletePrecondition", testUsersDeletePrecondition},
		{"Users/Duplicate", testUsersDuplicate},
		{"Users/CallbackError", testUsersCallbackError},
		{"Groups/CRUD", testGroupsCRUD},
		{"Groups/NotFound", testGroupsNotFound},
		{"Groups/Duplicate", testGroupsDuplicate},
		{"Groups/MemberOps", testGroupsMemberOps},
		{"Groups/InvalidMember", testGroupsInvalidMember},
		{"Groups/DeleteUserRemovesMemberships", testGroupsDeleteUser},
		{"Groups/CallbackError", testGroupsCallbackError},
		{"Isolation", testIsolation},
		{"Filter/Users", testFilterUsers},
		{"Filter/Groups", testFilterGroups},
		{"Paginate", testPaginate},
		{"TimeRoundTrip", testTimeRoundTrip},
		{"Concurrency/UpdateUser", testConcurrentUpdateUser},
		{"Concurrency/GroupMembers", testConcurrentMembers},
		{"Concurrency/UserName", testConcurrentUserName},
		{"SyncLog/Writes", testSyncLogWrites},
		{"SyncLog/FailedWrites", testSyncLogFailedWrites},
		{"SyncLog/Record", testSyncLogRecord},
		{"SyncLog/Filters", testSyncLogFilters},
		{"SyncLog/Paging", testSyncLogPaging},
		{"SyncLog/Summary", testSyncLogSummary},
		{"SyncLog/Prune", testSyncLogPrune},
		{"SyncLog/Isolation", testSyncLogIsolation},
		{"APIKeys", testAPIKeys},
		{"Audit/Writes", testAuditWrites},
		{"Audit/FailedWrites", testAuditFailedWrites},
		{"Audit/Query", testAuditQuery},
		{"Audit/Prune", testAuditPrune},
		{"Contacts/Text", testContactsText},
		{"Contacts/Digits", testContactsDigits},
		{"Contacts/Group", testContactsGroup},
		{"Contacts/Record", testContactsRecord},
		{"Contacts/Visibility", testContactsVisibility},
		{"Contacts/Paging", testContactsPaging},
		{"Contacts/PrefixPages", testContactsPrefixPages},
		{"Contacts/Updates", testContactsUpdates},
		{"Contacts/Isolation", testContactsIsolation},
		{"Presence/Links", testPresenceLinks},
		{"Presence/Data", testPresenceData},
		{"Console/Sessions", testConsoleSessions},
		{"Console/SetupLinks", testConsoleSetupLinks},
		{"Console/Audit", testConsoleAudit},
		{"Console/Overviews", testConsoleOverviews},
		{"Events/Users", testEventsUsers},
		{"Events/Groups", testEventsGroups},
		{"Events/Cursor", testEventsCursor},
		{"Events/Prune", testEventsPrune},
		{"Events/Concurrent", testEventsConcurrent},
		{"Events/Conflicts", testEventsConflicts},
		{"Events/ConcurrentMembers", testEventsConcurrentMembers},
		{"Events/Watch", testEventsWatch},
		{"Webhooks/CRUD", testWebhooksCRUD},
		{"Webhooks/Deliveries", testWebhookDeliveries},
	}
	tests = append(tests, reapplyTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// Clock is a deterministic clock for a backend under test: every call
// returns a later instant. It starts in a non-UTC zone with nanoseconds so
// that the suite catches times stored in the wrong zone.
type Clock struct {
	mu   sync.Mutex
	next time.Time
	step time.Duration
}

// NewClock returns a Clock starting at start and advancing by step (which
// may be 0 for a frozen clock) on every call.
func NewClock(start time.Time, step time.Duration) *Clock {
	return &Clock{next: start, step: step}
}

// Epoch is a start for NewClock: not UTC, with nanoseconds.
var Epoch = time.Date(2025, 3, 30, 1, 59, 58, 123456789, time.FixedZone("UTC+05:30", 5*3600+1800))

// Now returns the clock's time and advances it.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(c.step)
	return t
}

// errBoom is a callback's own error, which Update methods return unchanged.
var errBoom = errors.New("storetest: callback failed")

var seq atomic.Int64

// newID returns an id unique within the test binary.
func newID(kind string) string { return fmt.Sprintf("%s-%06d", kind, seq.Add(1)) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func createDirectory(t *testing.T, s store.Store) store.Directory {
	t.Helper()
	_, hash := store.NewToken("scim_")
	id := newID("dir")
	d, err := s.CreateDirectory(t.Context(), store.Directory{ID: id, Name: "directory " + id, SCIMTokenHash: hash})
	if err != nil {
		t.Fatalf("CreateDirectory: %v", err)
	}
	return d
}

// newUser builds a user whose derived fields agree with its Doc, as the
// mapping layer would.
func newUser(directoryID, userName string, attrs map[string]any) store.User {
	doc := map[string]any{"userName": userName}
	maps.Copy(doc, attrs)
	u := store.User{DirectoryID: directoryID, ID: newID("user"), UserName: userName, Doc: mustJSON(doc)}
	u.ExternalID, _ = doc["externalId"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.Active, _ = doc["active"].(bool)
	return u
}

func createUser(t *testing.T, s store.Store, directoryID, userName string, attrs map[string]any) store.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), newUser(directoryID, userName, attrs), store.SyncEvent{})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", userName, err)
	}
	return u
}

func newGroup(directoryID, displayName string, attrs map[string]any) store.Group {
	doc := map[string]any{"displayName": displayName}
	maps.Copy(doc, attrs)
	g := store.Group{DirectoryID: directoryID, ID: newID("group"), DisplayName: displayName, Doc: mustJSON(doc)}
	g.ExternalID, _ = doc["externalId"].(string)
	return g
}

func createGroup(t *testing.T, s store.Store, directoryID, displayName string, members ...string) store.Group {
	t.Helper()
	g, err := s.CreateGroup(t.Context(), newGroup(directoryID, displayName, nil), members, store.SyncEvent{})
	if err != nil {
		t.Fatalf("CreateGroup(%q): %v", displayName, err)
	}
	return g
}

func userIDs(us ...store.User) []string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

// members returns a group's member ids, sorted.
func members(t *testing.T, s store.Store, directoryID, groupID string) []string {
	t.Helper()
	m, err := s.GroupMembers(t.Context(), directoryID, []string{groupID})
	if err != nil {
		t.Fatalf("GroupMembers: %v", err)
	}
	ids := slices.Clone(m[groupID])
	slices.Sort(ids)
	return ids
}

func wantMembers(t *testing.T, s store.Store, directoryID, groupID string, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if got := members(t, s, directoryID, groupID); !slices.Equal(got, want) {
		t.Errorf("members = %q, want %q", got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// jsonEqual compares documents by value: a backend may store them in
// another form.
func jsonEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func checkUser(t *testing.T, what string, got, want store.User) {
	t.Helper()
	if got.DirectoryID != want.DirectoryID || got.ID != want.ID || got.ExternalID != want.ExternalID ||
		got.UserName != want.UserName || got.DisplayName != want.DisplayName || got.Active != want.Active ||
		got.Version != want.Version || !got.Created.Equal(want.Created) || !got.LastModified.Equal(want.LastModified) ||
		!jsonEqual(got.Doc, want.Doc) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func checkGroup(t *testing.T, what string, got, want store.Group) {
	t.Helper()
	if got.DirectoryID != want.DirectoryID || got.ID != want.ID || got.ExternalID != want.ExternalID ||
		got.DisplayName != want.DisplayName || got.Version != want.Version ||
		!got.Created.Equal(want.Created) || !got.LastModified.Equal(want.LastModified) || !jsonEqual(got.Doc, want.Doc) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}
