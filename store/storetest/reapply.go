package storetest

import (
	"reflect"
	"testing"

	"github.com/scimd/scimd/store"
)

// reapplyTests are the ReapplyStore subtests, run by RunTests.
var reapplyTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"Reapply/Job", testReapplyJob},
	{"Reapply/SkipsConcurrentWrite", testReapplySkipsConcurrentWrite},
	{"Reapply/Replaced", testReapplyReplaced},
	{"Reapply/Isolation", testReapplyIsolation},
	{"Reapply/NewOrder", testReapplyNewOrder},
}

// bumpRules moves the directory's rules version, as a PUT of rules that
// change contacts does.
func bumpRules(t *testing.T, s store.Store, id string) store.Directory {
	t.Helper()
	d, err := s.UpdateDirectory(t.Context(), id, func(d store.Directory) (store.Directory, error) {
		d.RulesVersion++
		return d, nil
	})
	if err != nil {
		t.Fatalf("UpdateDirectory: %v", err)
	}
	return d
}

func pendingFor(t *testing.T, s store.Store, directoryID string) (store.Reapply, bool) {
	t.Helper()
	jobs, err := s.PendingReapplies(t.Context())
	if err != nil {
		t.Fatalf("PendingReapplies: %v", err)
	}
	for _, j := range jobs {
		if j.DirectoryID == directoryID {
			return j, true
		}
	}
	return store.Reapply{}, false
}

func reapplyUsers(t *testing.T, s store.Store, job store.Reapply, after string, limit int) []store.User {
	t.Helper()
	us, err := s.ReapplyUsers(t.Context(), job.DirectoryID, job.RulesVersion, after, limit)
	if err != nil {
		t.Fatalf("ReapplyUsers: %v", err)
	}
	return us
}

func testReapplyJob(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	if _, ok := pendingFor(t, s, d.ID); ok {
		t.Fatal("a directory whose rules never changed has a pending job")
	}
	if _, err := s.GetReapply(ctx, d.ID); err == nil {
		t.Fatal("GetReapply of a directory whose rules never changed succeeded")
	} else {
		wantErr(t, "GetReapply(none)", err, store.ErrNotFound)
	}
	changed := createContact(t, s, d.ID, "changed@example.com", contact("Old Name", "changed@example.com", "+14155550101"))
	same := createContact(t, s, d.ID, "same@example.com", contact("Same Name", "same@example.com", "+14155550102"))
	refused := createContact(t, s, d.ID, "refused@example.com", contact("Refused Name", "refused@example.com", "+14155550103"))

	d = bumpRules(t, s, d.ID)
	pending, ok := pendingFor(t, s, d.ID)
	if !ok || pending.RulesVersion != 1 || !pending.Started.IsZero() {
		t.Fatalf("pending after a rules change: %+v, %v; want version 1, not started", pending, ok)
	}
	job, err := s.StartReapply(ctx, d.ID)
	if err != nil {
		t.Fatalf("StartReapply: %v", err)
	}
	if job.RulesVersion != 1 || job.Total != 3 || job.Done != 0 || job.Started.IsZero() || !job.Running() {
		t.Fatalf("started job: %+v", job)
	}
	if again, err := s.StartReapply(ctx, d.ID); err != nil || !reflect.DeepEqual(again, job) {
		t.Errorf("StartReapply again: %+v, %v; want the running job %+v", again, err, job)
	}
	if got, _ := pendingFor(t, s, d.ID); !reflect.DeepEqual(got, job) {
		t.Errorf("pending: %+v, want the running job %+v", got, job)
	}

	// Users come in id order, after the cursor.
	first := reapplyUsers(t, s, job, "", 2)
	if got := userIDs(first...); !reflect.DeepEqual(got, userIDs(changed, same)) {
		t.Fatalf("first batch %v, want %v", got, userIDs(changed, same))
	}
	if got := userIDs(reapplyUsers(t, s, job, first[1].ID, 2)...); !reflect.DeepEqual(got, userIDs(refused)) {
		t.Fatalf("second batch %v, want %v", got, userIDs(refused))
	}

	users := reapplyUsers(t, s, job, "", 10)
	rebuilt := contact("New Name", "changed@example.com", "+14155550199")
	job.After = users[2].ID
	job, err = s.RebuildContacts(ctx, job, []store.RebuiltContact{
		{User: users[0], Contact: rebuilt, Changed: true},
		{User: users[1], Contact: users[1].Contact},
		{User: users[2], Refusal: `phoneNumbers[type eq "work"].value: "x" is not E.164`},
	}, false)
	if err != nil {
		t.Fatalf("RebuildContacts: %v", err)
	}
	if job.Done != 3 || job.Failed != 1 || job.After != users[2].ID || !job.Running() {
		t.Errorf("progress after the batch: %+v", job)
	}
	if got, _ := s.GetReapply(ctx, d.ID); !reflect.DeepEqual(got, job) {
		t.Errorf("GetReapply: %+v, want %+v", got, job)
	}

	// The changed contact and its lookup keys are rewritten; nothing SCIM
	// sees moves (version, time, document).
	got, err := s.GetUser(ctx, d.ID, changed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Contact, rebuilt) || got.RulesVersion != 1 || got.Refused != "" ||
		got.Version != changed.Version || !got.LastModified.Equal(changed.LastModified) || string(got.Doc) != string(changed.Doc) {
		t.Errorf("rebuilt user: %+v", got)
	}
	if recs, err := s.LookupPhone(ctx, d.ID, "+14155550199", store.Visibility{}); err != nil || len(recs) != 1 || recs[0].ID != changed.ID {
		t.Errorf("LookupPhone(new number): %v, %v", recordIDs(recs), err)
	}
	if recs, err := s.LookupPhone(ctx, d.ID, "+14155550101", store.Visibility{}); err != nil || len(recs) != 0 {
		t.Errorf("LookupPhone(old number): %v, %v; want none", recordIDs(recs), err)
	}
	if recs, _, err := s.SearchContacts(ctx, d.ID, store.ContactQuery{Text: "new", Limit: 10}); err != nil || len(recs) != 1 {
		t.Errorf("SearchContacts(new name): %v, %v", recordIDs(recs), err)
	}
	if got, _ := s.GetUser(ctx, d.ID, same.ID); got.RulesVersion != 1 || !reflect.DeepEqual(got.Contact, same.Contact) {
		t.Errorf("unchanged user: %+v", got)
	}

	// The refused user keeps its contact, marked, with a Failed event.
	got, _ = s.GetUser(ctx, d.ID, refused.ID)
	if !reflect.DeepEqual(got.Contact, refused.Contact) || got.Refused == "" || got.RulesVersion != 1 {
		t.Errorf("refused user: %+v", got)
	}
	if recs, err := s.LookupPhone(ctx, d.ID, "+14155550103", store.Visibility{}); err != nil || len(recs) != 1 {
		t.Errorf("LookupPhone(refused user's number): %v, %v; want the kept contact", recordIDs(recs), err)
	}
	evs, err := s.ListSyncEvents(ctx, d.ID, store.SyncQuery{Limit: 10})
	if err != nil || len(evs) != 1 {
		t.Fatalf("sync log: %+v, %v; want the refusal", evs, err)
	}
	if e := evs[0]; e.Operation != store.SyncReapply || e.ResourceType != "User" || e.ResourceID != refused.ID ||
		e.Identity != "refused@example.com" || !e.Failed || e.Result != `phoneNumbers[type eq "work"].value: "x" is not E.164` {
		t.Errorf("refusal event: %+v", e)
	}

	// Nothing is left at this version; the finish ends the job.
	if left := reapplyUsers(t, s, job, "", 10); len(left) != 0 {
		t.Errorf("users left after the batch: %v", userIDs(left...))
	}
	job.After = ""
	job, err = s.RebuildContacts(ctx, job, nil, true)
	if err != nil || job.Running() || job.Finished.IsZero() {
		t.Fatalf("finish: %+v, %v", job, err)
	}
	if _, ok := pendingFor(t, s, d.ID); ok {
		t.Error("a finished job is still pending")
	}

	// A SCIM write clears the mark.
	up, err := s.UpdateUser(ctx, d.ID, refused.ID, func(old store.User) (store.User, store.SyncEvent, error) {
		old.RulesVersion = 1
		return old, store.SyncEvent{}, nil
	})
	if err != nil || up.Refused != "" {
		t.Fatalf("UpdateUser of a refused user: %+v, %v", up, err)
	}
	if got, _ := s.GetUser(ctx, d.ID, refused.ID); got.Refused != "" || got.RulesVersion != 1 {
		t.Errorf("after a write: refused %q, rules version %d", got.Refused, got.RulesVersion)
	}
	// A write stamps the rules version it used.
	nu := newUser(d.ID, "new@example.com", nil)
	nu.RulesVersion = 1
	if created, err := s.CreateUser(ctx, nu, store.SyncEvent{}); err != nil || created.RulesVersion != 1 {
		t.Fatalf("CreateUser: %+v, %v", created, err)
	}
	if got, _ := s.GetUser(ctx, d.ID, nu.ID); got.RulesVersion != 1 {
		t.Errorf("created user's rules version %d, want 1", got.RulesVersion)
	}
}

// A batch never overwrites a write made after it read its users.
func testReapplySkipsConcurrentWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createContact(t, s, d.ID, "u@example.com", contact("Before", "u@example.com"))
	bumpRules(t, s, d.ID)
	job, err := s.StartReapply(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	read := reapplyUsers(t, s, job, "", 10)
	// Entra writes meanwhile, with a SCIM layer whose rules are still the
	// old ones (version 0).
	written := updateContact(t, s, u, true, contact("Entra's", "u@example.com"))
	job.After = read[0].ID
	job, err = s.RebuildContacts(ctx, job, []store.RebuiltContact{{User: read[0], Contact: contact("Stale", "u@example.com"), Changed: true}}, false)
	if err != nil {
		t.Fatalf("RebuildContacts: %v", err)
	}
	if job.Done != 0 {
		t.Errorf("done %d, want 0: the user was written since it was read", job.Done)
	}
	got, _ := s.GetUser(ctx, d.ID, u.ID)
	if !reflect.DeepEqual(got.Contact, written.Contact) || got.Version != written.Version {
		t.Errorf("contact %+v (version %d), want Entra's write %+v (version %d)", got.Contact, got.Version, written.Contact, written.Version)
	}
	// Written under the old rules, it is still to rebuild.
	if left := reapplyUsers(t, s, job, "", 10); len(left) != 1 || left[0].Version != written.Version {
		t.Errorf("to rebuild: %+v, want the user at its new version", left)
	}
}

// Newer rules replace a job whatever its progress.
func testReapplyReplaced(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	u := createContact(t, s, d.ID, "u@example.com", contact("U", "u@example.com"))
	createContact(t, s, d.ID, "v@example.com", contact("V", "v@example.com"))
	bumpRules(t, s, d.ID)
	old, err := s.StartReapply(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	read := reapplyUsers(t, s, old, "", 1)
	old.After = read[0].ID
	if old, err = s.RebuildContacts(ctx, old, []store.RebuiltContact{{User: read[0], Contact: read[0].Contact}}, false); err != nil {
		t.Fatal(err)
	}

	bumpRules(t, s, d.ID)
	if p, ok := pendingFor(t, s, d.ID); !ok || p.RulesVersion != 2 || !p.Started.IsZero() {
		t.Errorf("pending after newer rules: %+v, %v; want version 2, not started", p, ok)
	}
	job, err := s.StartReapply(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.RulesVersion != 2 || job.After != "" || job.Done != 0 || job.Total != 2 {
		t.Errorf("new job: %+v; want version 2 over both users from the start", job)
	}
	_, err = s.RebuildContacts(ctx, old, []store.RebuiltContact{{User: read[0], Contact: read[0].Contact}}, false)
	wantErr(t, "RebuildContacts(replaced job)", err, store.ErrPrecondition)
	if got := reapplyUsers(t, s, job, "", 10); len(got) != 2 || got[0].ID != u.ID {
		t.Errorf("users to rebuild under version 2: %v", userIDs(got...))
	}
}

// A job reads and writes its own directory's users only.
func testReapplyIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createDirectory(t, s), createDirectory(t, s)
	createContact(t, s, a.ID, "a@example.com", contact("A", "a@example.com"))
	ub := createContact(t, s, b.ID, "b@example.com", contact("B", "b@example.com"))
	bumpRules(t, s, a.ID)
	if _, ok := pendingFor(t, s, b.ID); ok {
		t.Error("another directory's rules change made a job for b")
	}
	job, err := s.StartReapply(ctx, a.ID)
	if err != nil || job.Total != 1 {
		t.Fatalf("StartReapply(a): %+v, %v", job, err)
	}
	if got := reapplyUsers(t, s, job, "", 10); len(got) != 1 || got[0].DirectoryID != a.ID {
		t.Errorf("a's users: %+v", got)
	}
	// b's user passed as a's batch is not written.
	job, err = s.RebuildContacts(ctx, job, []store.RebuiltContact{{User: ub, Contact: contact("Hijacked", "b@example.com"), Changed: true}}, false)
	if err != nil || job.Done != 0 {
		t.Errorf("RebuildContacts(other directory's user): %+v, %v", job, err)
	}
	if got, _ := s.GetUser(ctx, b.ID, ub.ID); got.Contact.DisplayName != "B" || got.RulesVersion != 0 {
		t.Errorf("b's user: %+v", got)
	}
	if _, err := s.StartReapply(ctx, "missing-directory"); err == nil {
		t.Error("StartReapply(missing directory) succeeded")
	}
}

// A rebuilt display name moves the contact in every order and search,
// its numbers unchanged.
func testReapplyNewOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	zed := createContact(t, s, d.ID, "zed@example.com", contact("Zed Zulu", "zed@example.com", "+14155550111"))
	amy := createContact(t, s, d.ID, "amy@example.com", contact("Amy Alpha", "amy@example.com", "+14155550112"))
	bumpRules(t, s, d.ID)
	job, err := s.StartReapply(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	users := reapplyUsers(t, s, job, "", 10)
	renamed := contact("Aaron Young", "zed@example.com", "+14155550111")
	job.After = users[len(users)-1].ID
	rebuilt := make([]store.RebuiltContact, len(users))
	for i, u := range users {
		rebuilt[i] = store.RebuiltContact{User: u, Contact: u.Contact}
		if u.ID == zed.ID {
			rebuilt[i].Contact, rebuilt[i].Changed = renamed, true
		}
	}
	if _, err := s.RebuildContacts(ctx, job, rebuilt, false); err != nil {
		t.Fatal(err)
	}
	want := []string{zed.ID, amy.ID} // Aaron before Amy
	for _, q := range []store.ContactQuery{{Digits: "4155550", Limit: 10}, {Limit: 10}} {
		recs, _, err := s.SearchContacts(ctx, d.ID, q)
		if got := recordIDs(recs); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SearchContacts(%+v): %v, %v; want %v", q, got, err, want)
		}
	}
	if recs, _, err := s.SearchContacts(ctx, d.ID, store.ContactQuery{Text: "aaron", Limit: 10}); err != nil || len(recs) != 1 || recs[0].ID != zed.ID {
		t.Errorf("SearchContacts(aaron): %v, %v", recordIDs(recs), err)
	}
	if recs, _, err := s.SearchContacts(ctx, d.ID, store.ContactQuery{Text: "zulu", Limit: 10}); err != nil || len(recs) != 0 {
		t.Errorf("SearchContacts(zulu): %v, %v; want none", recordIDs(recs), err)
	}
	if recs, err := s.LookupPhone(ctx, d.ID, "+14155550111", store.Visibility{}); err != nil || len(recs) != 1 || recs[0].Contact.DisplayName != "Aaron Young" {
		t.Errorf("LookupPhone: %+v, %v", recs, err)
	}
}
