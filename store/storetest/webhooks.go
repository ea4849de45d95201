package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

func newWebhook(directoryID string) store.Webhook {
	return store.Webhook{DirectoryID: directoryID, ID: newID("webhook"), URL: "https://hooks.example.com/scimd",
		Description: "CX sync", Events: []string{"contact.created", "contact.deleted"}, Enabled: true,
		Sealed: []byte{1, 2, 3, 4}}
}

// testWebhooksCRUD checks create, read, list, update and delete, each
// change with its audit entry, and that reads are scoped to the
// directory.
func testWebhooksCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	d, other := createDirectory(t, s), createDirectory(t, s)
	w := newWebhook(d.ID)
	got, err := s.CreateWebhook(audited(ctx, store.AuditWebhookCreated, `{"url":"x"}`), w)
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	if got.Created.IsZero() || !got.Updated.Equal(got.Created) || got.Created.Location() != time.UTC {
		t.Errorf("created webhook times %v, %v: want the write's time, UTC", got.Created, got.Updated)
	}
	wantNewAudit(t, s, 0, store.AuditEntry{Actor: testActor, DirectoryID: d.ID, DirectoryName: d.Name,
		Action: store.AuditWebhookCreated, Details: []byte(`{"url":"x"}`)}, got.Created)
	read, err := s.GetWebhook(ctx, d.ID, w.ID)
	if err != nil || !reflect.DeepEqual(read, got) {
		t.Errorf("GetWebhook = %+v, %v; want %+v", read, err, got)
	}
	if _, err := s.GetWebhook(ctx, other.ID, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetWebhook from another directory: %v, want ErrNotFound", err)
	}
	if _, err := s.CreateWebhook(ctx, w); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateWebhook of a taken id: %v, want ErrConflict", err)
	}
	missing := newWebhook("no-such-directory")
	if _, err := s.CreateWebhook(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateWebhook in an unknown directory: %v, want ErrNotFound", err)
	}
	w2, err := s.CreateWebhook(ctx, newWebhook(d.ID))
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.ListWebhooks(ctx, d.ID)
	if err != nil || len(list) != 2 || list[0].ID != w.ID || list[1].ID != w2.ID {
		t.Errorf("ListWebhooks = %+v, %v; want the two, oldest first", list, err)
	}
	if list, err := s.ListWebhooks(ctx, other.ID); err != nil || len(list) != 0 {
		t.Errorf("ListWebhooks(other) = %+v, %v; want none", list, err)
	}

	n := len(auditEntries(t, s, ""))
	up, err := s.UpdateWebhook(audited(ctx, store.AuditWebhookUpdated, ""), d.ID, w.ID, func(w store.Webhook) (store.Webhook, error) {
		w.URL, w.Events, w.Enabled, w.DisabledReason, w.Cursor = "https://other.example.com/", []string{"group.created"}, false, "stopped", 7
		w.ID, w.DirectoryID = "ignored", "ignored"
		return w, nil
	})
	if err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	read, _ = s.GetWebhook(ctx, d.ID, w.ID)
	if !reflect.DeepEqual(read, up) || up.URL != "https://other.example.com/" || up.Enabled || up.Cursor != 7 ||
		!slices.Equal(up.Events, []string{"group.created"}) || up.DisabledReason != "stopped" || !up.Updated.After(up.Created) {
		t.Errorf("after UpdateWebhook: %+v, read back %+v", up, read)
	}
	wantNewAudit(t, s, n, store.AuditEntry{Actor: testActor, DirectoryID: d.ID, DirectoryName: d.Name,
		Action: store.AuditWebhookUpdated}, up.Updated)
	if _, err := s.UpdateWebhook(ctx, d.ID, w.ID, func(store.Webhook) (store.Webhook, error) { return store.Webhook{}, errBoom }); err != errBoom {
		t.Errorf("UpdateWebhook with a failing callback: %v, want its error", err)
	}
	if _, err := s.UpdateWebhook(ctx, other.ID, w.ID, func(w store.Webhook) (store.Webhook, error) { return w, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateWebhook from another directory: %v, want ErrNotFound", err)
	}

	dirs, err := s.WebhookDirectories(ctx)
	if err != nil || !slices.Equal(dirs, []string{d.ID}) {
		t.Errorf("WebhookDirectories = %v, %v; want [%s] (w2 is enabled)", dirs, err, d.ID)
	}
	if err := s.DeleteWebhook(ctx, other.ID, w2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteWebhook from another directory: %v, want ErrNotFound", err)
	}
	n = len(auditEntries(t, s, ""))
	if err := s.DeleteWebhook(audited(ctx, store.AuditWebhookDeleted, ""), d.ID, w2.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	wantNewAudit(t, s, n, store.AuditEntry{Actor: testActor, DirectoryID: d.ID, DirectoryName: d.Name,
		Action: store.AuditWebhookDeleted}, time.Time{})
	if _, err := s.GetWebhook(ctx, d.ID, w2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetWebhook after delete: %v, want ErrNotFound", err)
	}
	if dirs, err := s.WebhookDirectories(ctx); err != nil || len(dirs) != 0 {
		t.Errorf("WebhookDirectories with only a disabled webhook = %v, %v; want none", dirs, err)
	}
}

// testWebhookDeliveries checks the delivery log and the cursor: a
// delivery moves the cursor, never back, disabling goes with its entry
// (and leaves the event given up on next), and the log pages newest
// first.
func testWebhookDeliveries(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createDirectory(t, s)
	w, err := s.CreateWebhook(ctx, newWebhook(d.ID))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	cursor := func() int64 {
		t.Helper()
		got, err := s.GetWebhook(ctx, d.ID, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Cursor
	}
	pending := store.WebhookDelivery{DirectoryID: d.ID, WebhookID: w.ID, Seq: 3, EventType: "contact.created",
		Status: store.DeliveryPending, Attempts: 1, FirstAttempt: at, LastAttempt: at, NextAttempt: at.Add(10 * time.Second),
		ResponseStatus: 500, LastError: "the receiver answered 500"}
	if err := s.SaveDelivery(ctx, pending, ""); err != nil {
		t.Fatalf("SaveDelivery: %v", err)
	}
	if got, err := s.GetDelivery(ctx, d.ID, w.ID, 3); err != nil || !reflect.DeepEqual(got, pending) {
		t.Errorf("GetDelivery = %+v, %v; want %+v", got, err, pending)
	}
	if c := cursor(); c != 0 {
		t.Errorf("cursor after a pending attempt = %d, want 0", c)
	}
	done := pending
	done.Status, done.Attempts, done.LastAttempt, done.NextAttempt, done.ResponseStatus, done.LastError =
		store.DeliveryDelivered, 2, at.Add(10*time.Second), time.Time{}, 204, ""
	if err := s.SaveDelivery(ctx, done, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDelivery(ctx, d.ID, w.ID, 3); !reflect.DeepEqual(got, done) {
		t.Errorf("entry replaced: %+v, want %+v", got, done)
	}
	if c := cursor(); c != 3 {
		t.Errorf("cursor after a delivery = %d, want 3", c)
	}
	if err := s.AdvanceWebhook(ctx, d.ID, w.ID, 2); err != nil || cursor() != 3 {
		t.Errorf("AdvanceWebhook back to 2: %v, cursor %d; want it kept at 3", err, cursor())
	}
	if err := s.AdvanceWebhook(ctx, d.ID, w.ID, 5); err != nil || cursor() != 5 {
		t.Errorf("AdvanceWebhook to 5: %v, cursor %d", err, cursor())
	}
	failed := done
	failed.Seq, failed.Status, failed.LastError, failed.ResponseStatus = 6, store.DeliveryFailed, "timeout", 0
	if err := s.SaveDelivery(ctx, failed, "gave up on event 6"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetWebhook(ctx, d.ID, w.ID)
	if got.Enabled || got.DisabledReason != "gave up on event 6" || got.Cursor != 5 {
		t.Errorf("after giving up: enabled %v, reason %q, cursor %d; want disabled with the reason, still at 5", got.Enabled, got.DisabledReason, got.Cursor)
	}
	if _, err := s.GetDelivery(ctx, d.ID, w.ID, 4); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDelivery of an event never tried: %v, want ErrNotFound", err)
	}
	gone := pending
	gone.WebhookID = "no-such-webhook"
	if err := s.SaveDelivery(ctx, gone, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SaveDelivery of an unknown webhook: %v, want ErrNotFound", err)
	}
	if err := s.AdvanceWebhook(ctx, d.ID, "no-such-webhook", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AdvanceWebhook of an unknown webhook: %v, want ErrNotFound", err)
	}
	for seq := int64(7); seq <= 9; seq++ {
		p := pending
		p.Seq = seq
		if err := s.SaveDelivery(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(q store.DeliveryQuery) []int64 {
		t.Helper()
		ds, err := s.ListDeliveries(ctx, d.ID, w.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, d := range ds {
			out = append(out, d.Seq)
		}
		return out
	}
	if got := seqs(store.DeliveryQuery{Limit: 10}); !slices.Equal(got, []int64{9, 8, 7, 6, 3}) {
		t.Errorf("ListDeliveries = %v, want 9 8 7 6 3", got)
	}
	if got := seqs(store.DeliveryQuery{Limit: 2, Before: 8}); !slices.Equal(got, []int64{7, 6}) {
		t.Errorf("ListDeliveries before 8 = %v, want 7 6", got)
	}
	if got := seqs(store.DeliveryQuery{Limit: 10, Status: store.DeliveryFailed}); !slices.Equal(got, []int64{6}) {
		t.Errorf("ListDeliveries failed = %v, want 6", got)
	}
	if ds, err := s.ListDeliveries(ctx, createDirectory(t, s).ID, w.ID, store.DeliveryQuery{Limit: 10}); err != nil || len(ds) != 0 {
		t.Errorf("ListDeliveries from another directory = %v, %v; want none", ds, err)
	}

	// Pruning keeps pending entries, whatever their age.
	n, err := s.PruneDeliveries(ctx, at.Add(time.Hour))
	if err != nil || n != 2 {
		t.Errorf("PruneDeliveries = %d, %v; want the delivered and the failed one", n, err)
	}
	if got := seqs(store.DeliveryQuery{Limit: 10}); !slices.Equal(got, []int64{9, 8, 7}) {
		t.Errorf("after pruning: %v, want the pending 9 8 7", got)
	}

	// A webhook's delete takes its log; a directory's, everything.
	if err := s.DeleteDirectory(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetWebhook(ctx, d.ID, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetWebhook after the directory's delete: %v, want ErrNotFound", err)
	}
	if ds, err := s.ListDeliveries(ctx, d.ID, w.ID, store.DeliveryQuery{Limit: 10}); err != nil || len(ds) != 0 {
		t.Errorf("ListDeliveries after the directory's delete = %v, %v; want none", ds, err)
	}
}
