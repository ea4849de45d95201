package server

import (
	"bytes"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/sqlite"
)

// TestCopyWebhooks: scimd copy carries webhooks over with their sealed
// secrets, so that a scimd on the copy with the same SCIMD_SECRET_KEY
// signs with the secret the receiver knows.
func TestCopyWebhooks(t *testing.T) {
	ctx := t.Context()
	key := bytes.Repeat([]byte{9}, 32)
	opts := webhookOptions(key)
	opts.db = filepath.Join(t.TempDir(), "scimd.db")
	s := startServer(t, opts)
	rc := newCountingReceiver(t)
	d := decodeJSON[directoryJSON](t, s.do(http.MethodPost, "/admin/v1/directories", testAdminToken, `{"name":"Contoso"}`))
	w := createWebhook(t, s, d, rc.srv.URL+"/scimd")
	rc.mu.Lock()
	rc.secret = w.Secret
	rc.mu.Unlock()
	s.createSCIMUser(d, scimUser(1))
	within(t, 10*time.Second, "the delivery", func() bool { order, _, _ := rc.received(); return len(order) == 1 })
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	target := copyTargetURL(t)
	stdout, stderr, code := runCopyCommand(t, nil, "-from", opts.db, "-to", target)
	if code != exitOK || !strings.Contains(stdout, "webhooks (source/target): 1/1 ok") {
		t.Fatalf("copy: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	src, err := sqlite.Open(ctx, opts.db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, target, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	a, _ := src.GetWebhook(ctx, d.ID, w.ID)
	b, err := dst.GetWebhook(ctx, d.ID, w.ID)
	if err != nil || b.URL != a.URL || !slices.Equal(b.Events, a.Events) || !bytes.Equal(b.Sealed, a.Sealed) || b.Enabled != a.Enabled || b.Cursor != 0 {
		t.Fatalf("copied webhook %+v, %v; source %+v", b, err, a)
	}

	// A scimd on the copy delivers the next change, signed with the old secret.
	pg := webhookOptions(key)
	pg.databaseURL = target
	s2 := startServer(t, pg)
	s2.createSCIMUser(d, scimUser(2))
	within(t, 10*time.Second, "the delivery from the copy", func() bool { order, _, _ := rc.received(); return len(order) == 2 })
	if _, _, bad := rc.received(); len(bad) > 0 {
		t.Errorf("signatures refused: %v", bad)
	}
	within(t, 10*time.Second, "the delivery in the copy's log", func() bool {
		ds, err := dst.ListDeliveries(ctx, d.ID, w.ID, store.DeliveryQuery{Limit: 10})
		return err == nil && len(ds) == 1 && ds[0].Status == store.DeliveryDelivered
	})
}
