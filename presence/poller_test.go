package presence_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scimd/scimd/store"
)

// With regular cycles (RegularCycles), a cycle starts right after
// connecting and then every 30 s; tests sleep half a cycle after
// connecting, so that each sleep of one cycle runs exactly one more.
const cycle = interval

func TestPollsInBatchesAndWritesOnlyChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 1300})
		for i := range 1300 {
			f.graph.SetPresence(oid(i), "Available", "Available")
		}
		f.connect() // asks Graph about one contact, then starts polling
		time.Sleep(cycle / 2)
		synctest.Wait()
		s := f.graph.Stats()
		if s.GraphRequests != 1+2 || s.IDsRequested != 1+1300 {
			t.Fatalf("connect and one cycle over 1,300 contacts: %d Graph requests for %d ids, want 1+2 for 1+1,300 (650 ids each)",
				s.GraphRequests, s.IDsRequested)
		}
		if len(f.stored()) != 1300 {
			t.Fatalf("stored %d presences, want 1300", len(f.stored()))
		}
		writes := f.st.writes.Load()
		sub := f.svc.Subscribe(f.dir.ID, "")
		defer sub.Close()

		time.Sleep(cycle) // nothing changed
		synctest.Wait()
		if w := f.st.writes.Load(); w != writes {
			t.Errorf("an unchanged cycle wrote presence %d times", w-writes)
		}
		f.graph.SetPresence(oid(7), "Busy", "InACall")
		time.Sleep(cycle)
		synctest.Wait()
		if w, rows := f.st.writes.Load()-writes, f.st.rows.Load(); w != 1 || rows != 1301 {
			t.Errorf("one change: %d writes, %d rows in all; want 1 write of 1 row", w, rows)
		}
		select {
		case ev := <-sub.Events:
			if ev.ContactID != "user-000007" || ev.Presence == nil || ev.Presence.Availability != "Busy" ||
				ev.Presence.Activity != "InACall" || ev.Presence.Stale {
				t.Errorf("event = %+v %+v", ev, ev.Presence)
			}
		default:
			t.Error("no event for the change")
		}
		s = f.graph.Stats()
		if got := s.GraphRequests - 1; got != 6 {
			t.Errorf("3 cycles sent %d Graph requests, want 6", got)
		}
		if s.TokenRequests != 1 {
			t.Errorf("%d token requests, want 1 (one token for every batch and cycle)", s.TokenRequests)
		}
		st := f.status()
		if st.State != store.PresenceConnected || st.ContactsPolled != 1300 || st.LastSuccessfulPoll == nil || st.LastError != "" {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 3, auto: time.Minute})
		f.graph.SetTokenLifetime(10 * time.Minute) // refresh at 5 min
		f.connect()
		time.Sleep(21 * time.Minute)
		synctest.Wait()
		// Connect's own token, then one every 5 minutes: 5 in 21 minutes,
		// never one per batch.
		if n := f.graph.Stats().TokenRequests; n < 4 || n > 6 {
			t.Errorf("%d token requests in 21 minutes of 10-minute tokens, want about 5", n)
		}
	})
}

func TestExpiredTokenRefreshedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 3, auto: time.Minute})
		f.connect()
		time.Sleep(cycle / 2)
		synctest.Wait()
		f.graph.ExpireTokens()
		before := f.graph.Stats()
		time.Sleep(cycle)
		synctest.Wait()
		s := f.graph.Stats()
		if s.TokenRequests-before.TokenRequests != 1 || s.GraphRequests-before.GraphRequests != 2 {
			t.Errorf("after a 401: %d token and %d Graph requests, want 1 and 2 (refresh once, retry)",
				s.TokenRequests-before.TokenRequests, s.GraphRequests-before.GraphRequests)
		}
		if st := f.status(); st.State != store.PresenceConnected || st.LastError != "" {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	for _, form := range []string{"seconds", "http-date"} {
		t.Run(form, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, options{contacts: 3, auto: time.Minute})
				f.connect()
				time.Sleep(cycle / 2)
				synctest.Wait()
				ra := "120"
				if form == "http-date" {
					ra = time.Now().Add(120 * time.Second).UTC().Format(http.TimeFormat)
				}
				f.graph.Throttle(1, ra)
				before := f.graph.Stats().GraphRequests
				time.Sleep(cycle) // the next cycle is throttled
				synctest.Wait()
				if n := f.graph.Stats().GraphRequests - before; n != 1 {
					t.Fatalf("%d Graph requests right after a 429 with Retry-After %s, want 1 (no retry before it)", n, ra)
				}
				time.Sleep(110 * time.Second)
				synctest.Wait()
				if n := f.graph.Stats().GraphRequests - before; n < 2 {
					t.Errorf("the batch was not retried after Retry-After (%d requests)", n)
				}
			})
		})
	}
}

func TestServerErrorsRetryThenSkipTheCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 3, auto: time.Minute})
		f.connect()
		time.Sleep(cycle / 2)
		synctest.Wait()
		f.graph.FailNext(503, 3, "")
		before := f.graph.Stats().GraphRequests
		time.Sleep(cycle)
		synctest.Wait()
		if n := f.graph.Stats().GraphRequests - before; n != 3 {
			t.Errorf("%d requests for a batch that fails with 503, want 3 tries", n)
		}
		if st := f.status(); st.State != store.PresenceConnected || !strings.Contains(st.LastError, "503") {
			t.Errorf("status after a skipped cycle = %+v, want connected with the 503 reported", st)
		}
		time.Sleep(cycle)
		synctest.Wait()
		if st := f.status(); st.LastError != "" {
			t.Errorf("the next clean cycle kept the error: %+v", st)
		}
	})
}

func TestConsentRemovedMeansNeedsConsent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 3, auto: time.Minute})
		f.connect()
		time.Sleep(cycle / 2)
		synctest.Wait()
		f.graph.RevokeConsent()
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if st := f.status(); st.State != store.PresenceConnected {
			t.Errorf("state after 3 minutes of 403 = %s, want still connected (3 strikes over 5 minutes)", st.State)
		}
		time.Sleep(4 * time.Minute)
		synctest.Wait()
		st := f.status()
		if st.State != store.PresenceNeedsConsent || !strings.Contains(st.LastError, "403") {
			t.Fatalf("state after 7 minutes of 403 = %+v, want needs_consent", st)
		}
		rec, err := f.db.GetContact(context.Background(), f.dir.ID, "user-000001", store.Visibility{})
		if err != nil {
			t.Fatal(err)
		}
		if p := f.svc.ContactPresence(f.dir.ID, rec.Presence); p == nil || !p.Stale {
			t.Errorf("presence while consent is missing = %+v, want stale", p)
		}
		// Probing is slow: one presence call per 10 minutes at most.
		before := f.graph.Stats().GraphRequests
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		if n := f.graph.Stats().GraphRequests - before; n > 3 {
			t.Errorf("%d Graph requests in 20 minutes of needs_consent, want a probe every 10 minutes", n)
		}
		f.graph.GrantConsent()
		time.Sleep(12 * time.Minute)
		synctest.Wait()
		if st := f.status(); st.State != store.PresenceConnected {
			t.Errorf("state after consent was granted again = %+v, want connected", st)
		}
	})
}

func TestAppGoneMeansNeedsAdminWithoutTightLoop(t *testing.T) {
	cases := map[string]func(f *fixture){
		"service principal deleted":  func(f *fixture) { f.graph.DeleteServicePrincipal() },
		"app registration deleted":   func(f *fixture) { f.graph.DeleteApp() },
		"service principal disabled": func(f *fixture) { f.graph.DisableServicePrincipal() },
		"secret expired":             func(f *fixture) { f.graph.ExpireSecret() },
	}
	for name, breakApp := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, options{contacts: 3, auto: time.Minute})
				f.graph.SetTokenLifetime(10 * time.Minute)
				f.connect()
				time.Sleep(cycle / 2)
				synctest.Wait()
				breakApp(f)
				before := f.graph.Stats().TokenRequests
				time.Sleep(2 * time.Hour)
				synctest.Wait()
				st := f.status()
				if st.State != store.PresenceNeedsAdmin || !strings.Contains(st.LastError, "AADSTS") {
					t.Errorf("status = %+v, want needs_admin with the AADSTS code", st)
				}
				if n := f.graph.Stats().TokenRequests - before; n > 6 {
					t.Errorf("%d token requests in 2 hours, want a probe every 30 minutes", n)
				}
			})
		})
	}
}

func TestBadRequestBisectsAndQuarantines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 4, auto: time.Minute})
		// Connect's probe, the batch of 4, its first half of 2, and the
		// lone first id are refused.
		f.graph.FailNext(400, 4, "")
		f.connect()
		time.Sleep(cycle / 2)
		synctest.Wait()
		ps := f.stored()
		if len(ps) != 3 {
			t.Fatalf("stored %d presences, want 3 (one id quarantined)", len(ps))
		}
		before := f.graph.Stats().IDsRequested
		time.Sleep(cycle)
		synctest.Wait()
		if n := f.graph.Stats().IDsRequested - before; n != 3 {
			t.Errorf("next cycle asked about %d ids, want 3 (the refused one stays out)", n)
		}
	})
}

func TestSkipsObjectIDsThatAreNotGUIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{contacts: 2, auto: time.Minute})
		ctx := context.Background()
		_, err := f.db.CreateUser(ctx, store.User{DirectoryID: f.dir.ID, ID: "user-nick", UserName: "nick@contoso.com",
			Active: true, Doc: []byte(`{}`), Contact: store.Contact{ObjectID: "nick"}}, store.SyncEvent{})
		if err != nil {
			t.Fatal(err)
		}
		f.connect()
		time.Sleep(cycle / 2)
		synctest.Wait()
		st := f.status()
		if st.ContactsPolled != 2 || st.SkippedContacts != 1 {
			t.Errorf("status = %+v, want 2 polled and 1 skipped", st)
		}
		if n := f.graph.Stats().IDsRequested; n != 2+1 { // connect's probe asks about one id
			t.Errorf("%d ids sent to Graph, want 3", n)
		}
	})
}
