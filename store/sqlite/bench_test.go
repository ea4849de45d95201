package sqlite

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

// benchDoc is a typical Entra user, about 700 bytes of JSON.
const benchDoc = `{"userName":"%[1]s","externalId":"%[1]s","active":true,"displayName":"Bench User %[1]s",
"name":{"givenName":"Bench","familyName":"User","formatted":"Bench User"},"title":"Engineer",
"emails":[{"type":"work","value":"%[1]s","primary":true}],
"phoneNumbers":[{"type":"work","value":"+44 20 7946 0000"},{"type":"mobile","value":"+44 7700 900000"}],
"addresses":[{"type":"work","streetAddress":"1 Bench Street","locality":"London","country":"GB"}],
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"12345","department":"R&D",
"manager":{"value":"00000000-0000-0000-0000-000000000001"}}}`

func benchUser(i int) store.User {
	name := fmt.Sprintf("user%07d@example.com", i)
	return store.User{DirectoryID: "d", ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
		UserName: name, ExternalID: name, DisplayName: "Bench User " + name, Active: true,
		Doc: fmt.Appendf(nil, benchDoc, name), Contact: benchContact(i, name)}
}

// benchContact is what the mapping layer derives from benchDoc.
func benchContact(i int, email string) store.Contact {
	return store.Contact{Login: email, ObjectID: email, DisplayName: "Bench User " + email,
		GivenName: "Bench", FamilyName: "User", Email: email, Title: "Engineer", Department: "R&D",
		Phones: []store.Phone{
			{Type: "work", Value: "+44 20 7946 0000", E164: fmt.Sprintf("+44207946%04d", i%10000)},
			{Type: "mobile", Value: "+44 7700 900000", E164: fmt.Sprintf("+447700%06d", i%1000000)},
		}}
}

func newBenchDB(b *testing.B) *DB {
	db := newTestDB(b, Options{Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	if _, err := db.CreateDirectory(b.Context(), store.Directory{ID: "d", Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	return db
}

// seedUsers inserts users [from, to) in one transaction: fast set-up that
// still goes through the backend's own insert.
func seedUsers(b *testing.B, db *DB, from, to int) {
	ctx := b.Context()
	tx, err := db.beginWrite(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for i := from; i < to; i++ {
		if _, err := insertUser(ctx, tx, benchUser(i), userRow{doc: string(benchUser(i).Doc), contact: "{}"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCreateUser measures one durable insert: a transaction committed
// with synchronous=FULL.
func BenchmarkCreateUser(b *testing.B) {
	db := newBenchDB(b)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.CreateUser(ctx, benchUser(i), store.SyncEvent{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCreateUserParallel is CreateUser from 16 goroutines, as in
// Entra's initial sync: group commit shares the fsync, so the figure is
// mostly the writer's own work per user.
func BenchmarkCreateUserParallel(b *testing.B) { benchmarkCreateUserParallel(b, newBenchDB(b)) }

func benchmarkCreateUserParallel(b *testing.B, db *DB) {
	ctx := b.Context()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.CreateUser(ctx, benchUser(int(n.Add(1))), store.SyncEvent{Operation: store.SyncCreate}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkGetUserByUserName is Entra's "does this user exist" probe:
// filter=userName eq "..." through ListUsers, among 10,000 users.
func BenchmarkGetUserByUserName(b *testing.B) {
	const n = 10000
	db := newBenchDB(b)
	seedUsers(b, db, 0, n)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 7919) % n
		q := store.Query{Limit: 1, Filter: store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Eq,
			Value: fmt.Sprintf("USER%07d@example.com", i)}}
		users, total, err := db.ListUsers(ctx, "d", q)
		if err != nil || total != 1 || len(users) != 1 {
			b.Fatalf("ListUsers = %d, %d, %v", len(users), total, err)
		}
	}
}

// BenchmarkUpdateGroupAddMember adds one member per PATCH to a growing
// group, as Entra does.
func BenchmarkUpdateGroupAddMember(b *testing.B) {
	const batch = 10000
	db := newBenchDB(b)
	ctx := b.Context()
	if _, err := db.CreateGroup(ctx, store.Group{DirectoryID: "d", ID: "g", DisplayName: "Everyone"}, nil, store.SyncEvent{}); err != nil {
		b.Fatal(err)
	}
	seeded := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == seeded {
			b.StopTimer()
			seedUsers(b, db, seeded, seeded+batch)
			seeded += batch
			b.StartTimer()
		}
		uid := benchUser(i).ID
		_, err := db.UpdateGroup(ctx, "d", "g", func(store.Group) (store.GroupChange, error) {
			return store.GroupChange{Members: []store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{uid}}}}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}
