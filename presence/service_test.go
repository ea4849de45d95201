package presence_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scimd/scimd/presence"
	"github.com/scimd/scimd/store"
)

func TestConnectRefusals(t *testing.T) {
	f := newFixture(t, options{contacts: 1})
	ctx := context.Background()
	good := presence.Credentials{TenantID: tenant, ClientID: clientID, ClientSecret: secret}

	_, err := f.svc.Connect(ctx, f.dir.ID, presence.Credentials{TenantID: tenant, ClientID: clientID, ClientSecret: "wrong-secret"})
	var te *presence.TokenError
	if !errors.As(err, &te) || te.Code != "invalid_client" || !strings.Contains(te.Description, "AADSTS7000215") {
		t.Errorf("wrong secret: %v, want invalid_client AADSTS7000215", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("the error repeats the secret: %v", err)
	}
	if st := f.status(); st.State != presence.NotConnected {
		t.Errorf("a refused connect stored something: %+v", st)
	}

	for name, c := range map[string]presence.Credentials{
		"no tenant":        {ClientID: clientID, ClientSecret: secret},
		"common tenant":    {TenantID: "common", ClientID: clientID, ClientSecret: secret},
		"client not GUID":  {TenantID: tenant, ClientID: "my-app", ClientSecret: secret},
		"no credential":    {TenantID: tenant, ClientID: clientID},
		"both credentials": {TenantID: tenant, ClientID: clientID, ClientSecret: secret, Certificate: "x"},
		"bad certificate":  {TenantID: tenant, ClientID: clientID, Certificate: "not PEM"},
	} {
		_, err := f.svc.Connect(ctx, f.dir.ID, c)
		var ie *presence.InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an InputError", name, err)
		}
	}
	if _, err := f.svc.Connect(ctx, "no-such-directory", good); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown directory: %v", err)
	}

	nokey := newFixture(t, options{key: []byte{}, contacts: 1})
	if _, err := nokey.svc.Connect(ctx, nokey.dir.ID, good); !errors.Is(err, presence.ErrNoKey) ||
		!strings.Contains(err.Error(), "SCIMD_SECRET_KEY") {
		t.Errorf("without a key: %v, want ErrNoKey naming SCIMD_SECRET_KEY", err)
	}
}

func TestCredentialIsSealed(t *testing.T) {
	f := newFixture(t, options{contacts: 1})
	f.connect()
	l, err := f.db.GetPresenceLink(context.Background(), f.dir.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Sealed) == 0 || bytes.Contains(l.Sealed, []byte(secret)) {
		t.Fatalf("stored credential %q is not sealed", l.Sealed)
	}
	// Another key cannot open it: the status says so instead of polling.
	other, err := presence.New(presence.Config{Store: f.db, Key: []byte("another-key-of-thirty-two-bytes!")})
	if err != nil {
		t.Fatal(err)
	}
	st, err := other.Status(context.Background(), f.dir.ID)
	if err != nil || st.State != store.PresenceError || !strings.Contains(st.LastError, "SCIMD_SECRET_KEY") {
		t.Errorf("status under another key = %+v, %v", st, err)
	}
}

func TestRevokeDuringPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 5, auto: time.Minute})
		f.connect()
		time.Sleep(cycle / 2)
		synctest.Wait()
		if len(f.stored()) != 5 {
			t.Fatalf("stored %d presences before revoking, want 5", len(f.stored()))
		}
		sub := f.svc.Subscribe(f.dir.ID, "")
		f.graph.SlowNext(1, time.Minute)
		time.Sleep(cycle) // the next cycle's batch is now in flight
		synctest.Wait()
		inFlight := f.graph.Stats().GraphRequests
		start := time.Now()
		res, err := f.svc.Revoke(context.Background(), f.dir.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("revoke took %v, want under a second", d)
		}
		if res.State != store.PresenceRevoked || !res.CredentialsDeleted || res.PresenceRowsCleared != 5 || len(res.AzureSideActions) == 0 {
			t.Errorf("revoke = %+v", res)
		}
		if _, open := <-sub.Events; open {
			t.Error("the stream of a revoked directory stays open")
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := f.graph.Stats().GraphRequests; n != inFlight {
			t.Errorf("%d Graph requests after revoking, want none", n-inFlight)
		}
		if len(f.stored()) != 0 {
			t.Errorf("presence stored after revoking: %+v", f.stored())
		}
		l, err := f.db.GetPresenceLink(context.Background(), f.dir.ID)
		if err != nil || l.State != store.PresenceRevoked || l.Sealed != nil || l.TenantID != "" || l.ClientID != "" {
			t.Errorf("link after revoking = %+v, %v; want no credential and no tenant", l, err)
		}
		rec, _ := f.db.GetContact(context.Background(), f.dir.ID, "user-000001", store.Visibility{})
		if p := f.svc.ContactPresence(f.dir.ID, rec.Presence); p != nil {
			t.Errorf("contact presence after revoking = %+v, want nil", p)
		}
		again, err := f.svc.Revoke(context.Background(), f.dir.ID)
		if err != nil || again.State != store.PresenceRevoked || again.CredentialsDeleted || again.PresenceRowsCleared != 0 {
			t.Errorf("second revoke = %+v, %v", again, err)
		}
		evs, _ := f.db.ListSyncEvents(context.Background(), f.dir.ID, store.SyncQuery{Limit: 10})
		revokes := 0
		for _, ev := range evs {
			if ev.Operation == store.SyncRevoke && ev.ResourceType == "Presence" {
				revokes++
			}
		}
		if revokes != 2 {
			t.Errorf("sync log holds %d revocations, want 2", revokes)
		}
	})
}

func TestAdminConsentFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 2, auto: time.Minute})
		ctx := context.Background()
		link, err := f.svc.ConsentURL(ctx, f.dir.ID)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(link)
		q := u.Query()
		if u.Path != "/organizations/v2.0/adminconsent" || q.Get("client_id") != clientID ||
			q.Get("scope") != "https://graph.microsoft.com/.default" ||
			q.Get("redirect_uri") != "https://scimd.example.com"+presence.ConsentCallbackPath || len(q.Get("state")) < 32 {
			t.Fatalf("consent URL = %s", link)
		}
		if st := f.status(); st.State != store.PresenceNeedsConsent {
			t.Errorf("state while waiting for consent = %s", st.State)
		}
		// Declined: the state is used up and the reason kept.
		_, _, err = f.svc.CompleteConsent(ctx, url.Values{"error": {"access_denied"},
			"error_description": {"AADSTS65004: User declined to consent to access the app."}, "state": {q.Get("state")}})
		var ce *presence.ConsentError
		if !errors.As(err, &ce) || ce.Code != "access_denied" || !strings.Contains(err.Error(), "declined") {
			t.Errorf("declined consent: %v", err)
		}
		if st := f.status(); st.State != store.PresenceNeedsConsent || !strings.Contains(st.LastError, "AADSTS65004") {
			t.Errorf("status after a declined consent = %+v", st)
		}
		if _, _, err := f.svc.CompleteConsent(ctx, url.Values{"admin_consent": {"True"}, "tenant": {tenant}, "state": {q.Get("state")}}); !errors.Is(err, presence.ErrUnknownState) {
			t.Errorf("a used state: %v, want ErrUnknownState", err)
		}
		// Granted.
		link, _ = f.svc.ConsentURL(ctx, f.dir.ID)
		u, _ = url.Parse(link)
		dir, st, err := f.svc.CompleteConsent(ctx, url.Values{"admin_consent": {"True"}, "tenant": {tenant}, "state": {u.Query().Get("state")}})
		if err != nil || dir != f.dir.ID || st.State != store.PresenceConnected || st.TenantID != tenant || st.Credential != store.CredentialServiceApp {
			t.Fatalf("granted consent = %q %+v %v", dir, st, err)
		}
		time.Sleep(cycle / 2)
		synctest.Wait()
		if len(f.stored()) != 2 {
			t.Errorf("stored %d presences after consent, want 2", len(f.stored()))
		}
		// An expired state is refused.
		link, _ = f.svc.ConsentURL(ctx, f.dir.ID)
		u, _ = url.Parse(link)
		time.Sleep(2 * time.Hour)
		if _, _, err := f.svc.CompleteConsent(ctx, url.Values{"admin_consent": {"True"}, "tenant": {tenant}, "state": {u.Query().Get("state")}}); !errors.Is(err, presence.ErrUnknownState) {
			t.Errorf("an expired state: %v, want ErrUnknownState", err)
		}
	})
}

func TestStreamResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 3})
		for i := range 3 {
			f.graph.SetPresence(oid(i), "Available", "Available")
		}
		f.connect()
		sub := f.svc.Subscribe(f.dir.ID, "")
		time.Sleep(cycle / 2)
		synctest.Wait()
		var ids []string
		for range 3 {
			ev := <-sub.Events
			ids = append(ids, ev.ID)
		}
		sub.Close()
		f.graph.SetPresence(oid(1), "Away", "Away")
		time.Sleep(cycle)
		synctest.Wait()
		// Resuming after the first event replays the other two and the
		// change that happened while disconnected.
		again := f.svc.Subscribe(f.dir.ID, ids[0])
		defer again.Close()
		if again.Reset {
			t.Fatal("resume from a kept event asked for a reset")
		}
		var got []string
		for range 3 {
			ev := <-again.Events
			got = append(got, ev.ContactID)
		}
		if got[2] != "user-000001" {
			t.Errorf("replayed %v, want the two missed first events then user-000001's change", got)
		}
		if s := f.svc.Subscribe(f.dir.ID, "someone-else-42"); !s.Reset {
			t.Error("an unknown Last-Event-ID did not ask for a reset")
		}
	})
}
