package scim_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/sqlite"
)

// benchServer is the SCIM handler on a durable SQLite file, called without
// a network so that the figures are server time.
type benchServer struct {
	h     http.Handler
	base  string
	token string
}

func newBenchServer(b *testing.B) *benchServer {
	return newBenchServerWith(b, func(s store.Store) store.Store { return s })
}

func newBenchServerWith(b *testing.B, wrap func(store.Store) store.Store) *benchServer {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	plain, hash := store.NewToken("scimd_")
	d, err := db.CreateDirectory(b.Context(), store.Directory{ID: uuid.NewString(), Name: "bench", SCIMTokenHash: hash})
	if err != nil {
		b.Fatal(err)
	}
	r := mux.NewRouter()
	scim.New(scim.Config{Store: wrap(db), PublicURL: "http://scimd.test", Logger: slog.New(slog.DiscardHandler)}).Register(r)
	return &benchServer{h: r, base: "/scim/v2/" + d.ID, token: "Bearer " + plain}
}

func (s *benchServer) call(b *testing.B, method, path, body string, want int) []byte {
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, s.base+path, nil)
	} else {
		req = httptest.NewRequest(method, s.base+path, strings.NewReader(body))
	}
	req.Header.Set("Authorization", s.token)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

func entraUser(n int64) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
"externalId":"nick%[1]d","userName":"user%[1]d@contoso.com","active":true,
"emails":[{"primary":true,"type":"work","value":"user%[1]d@contoso.com"}],"meta":{"resourceType":"User"},
"name":{"formatted":"Given%[1]d Family","familyName":"Family","givenName":"Given%[1]d"},"roles":[],
"phoneNumbers":[{"type":"work","value":"+1425555%04[2]d"}],"title":"Agent",
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Support","employeeNumber":"%[1]d"}}`, n, n%10000)
}

// BenchmarkCreateUser is Entra's create (POST /Users) with a durable
// commit each, from 8 concurrent clients, under the default CX mapping
// rules. "without-mapping-and-log" turns the mapping layer and the sync
// log off (no contact, so no lookup rows either); "without-validation-and-log"
// stores the same contact and lookup rows as the mapping layer but skips
// its validation and the sync event: one run shows what each costs.
func BenchmarkCreateUser(b *testing.B) {
	b.Run("without-mapping-and-log", func(b *testing.B) {
		defer scim.SkipMappingForBenchmark()()
		benchmarkCreateUser(b, newBenchServerWith(b, func(s store.Store) store.Store { return noSyncLog{s} }))
	})
	b.Run("without-validation-and-log", func(b *testing.B) {
		defer scim.SkipValidationForBenchmark()()
		benchmarkCreateUser(b, newBenchServerWith(b, func(s store.Store) store.Store { return noSyncLog{s} }))
	})
	b.Run("without-log", func(b *testing.B) {
		benchmarkCreateUser(b, newBenchServerWith(b, func(s store.Store) store.Store { return noSyncLog{s} }))
	})
	b.Run("with-mapping-and-log", func(b *testing.B) {
		benchmarkCreateUser(b, newBenchServer(b))
	})
}

func benchmarkCreateUser(b *testing.B, s *benchServer) {
	var n atomic.Int64
	b.SetParallelism(4) // 8 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.call(b, "POST", "/Users", entraUser(n.Add(1)), http.StatusCreated)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

// noSyncLog is a store that records no sync events.
type noSyncLog struct{ store.Store }

func (s noSyncLog) CreateUser(ctx context.Context, u store.User, _ store.SyncEvent) (store.User, error) {
	return s.Store.CreateUser(ctx, u, store.SyncEvent{})
}

func (noSyncLog) RecordSyncEvent(context.Context, store.SyncEvent) error { return nil }

// BenchmarkGetUserByUserName is Entra's matching query, the request it
// sends before every create, against a directory of 10,000 users.
func BenchmarkGetUserByUserName(b *testing.B) {
	s := newBenchServer(b)
	const users = 10000
	for i := range int64(users) {
		s.call(b, "POST", "/Users", entraUser(i), http.StatusCreated)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		body := s.call(b, "GET", fmt.Sprintf("/Users?filter=userName+eq+%%22user%d%%40contoso.com%%22", i%users), "", http.StatusOK)
		if i == 0 && !strings.Contains(string(body), `"totalResults":1`) {
			b.Fatalf("no match: %s", body)
		}
	}
}

// BenchmarkPatchGroupAddMember is Entra adding one member to a group.
func BenchmarkPatchGroupAddMember(b *testing.B) {
	s := newBenchServer(b)
	var gid struct{ ID string }
	body := s.call(b, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G"}`, http.StatusCreated)
	gid.ID = strings.Split(strings.Split(string(body), `"id":"`)[1], `"`)[0]
	ids := make([]string, 0, 1000)
	for i := range int64(1000) {
		u := s.call(b, "POST", "/Users", entraUser(i), http.StatusCreated)
		ids = append(ids, strings.Split(strings.Split(string(u), `"id":"`)[1], `"`)[0])
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		op := "Add"
		if (i/len(ids))%2 == 1 {
			op = "Remove"
		}
		s.call(b, "PATCH", "/Groups/"+gid.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"`+op+`","path":"members","value":[{"$ref":null,"value":"`+ids[i%len(ids)]+`"}]}]}`, http.StatusNoContent)
	}
}

// BenchmarkCreateUserLoopback is BenchmarkCreateUser over real HTTP on
// loopback: 8 keep-alive clients, as Entra's provisioning workers would.
func BenchmarkCreateUserLoopback(b *testing.B) {
	b.Run("without-mapping-and-log", func(b *testing.B) {
		defer scim.SkipMappingForBenchmark()()
		benchmarkCreateUserLoopback(b, newBenchServerWith(b, func(s store.Store) store.Store { return noSyncLog{s} }))
	})
	b.Run("without-validation-and-log", func(b *testing.B) {
		defer scim.SkipValidationForBenchmark()()
		benchmarkCreateUserLoopback(b, newBenchServerWith(b, func(s store.Store) store.Store { return noSyncLog{s} }))
	})
	b.Run("with-mapping-and-log", func(b *testing.B) {
		benchmarkCreateUserLoopback(b, newBenchServer(b))
	})
}

func benchmarkCreateUserLoopback(b *testing.B, s *benchServer) {
	srv := httptest.NewServer(s.h)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+s.base+"/Users", strings.NewReader(entraUser(n.Add(1))))
			req.Header.Set("Authorization", s.token)
			req.Header.Set("Content-Type", "application/scim+json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}
