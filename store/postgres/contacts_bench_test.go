package postgres

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// go test ./store/postgres/ -run '^$' -bench Contacts -contacts 100000
var benchContacts = flag.Int("contacts", 20000, "how many contacts BenchmarkContacts seeds")

// Names as cmd/scimbench makes them: few, so that many contacts share
// each, and a given name's contacts sort together.
var (
	benchGiven = strings.Fields("Ann Bob Chloé Dieter Élodie Femi Grace Hiroshi Ines João Kenji Lars Mia Noah Olga " +
		"Priya Raj Sakura Søren Zoë Aisha Ben Carmen David Emma Farid Greta Hugo Ivan Julia Karim Lena Marco Nadia Oscar " +
		"Paula Quentin Rosa Sven Tariq")
	benchFamily = strings.Fields("Archer Brown Dubois Müller Nakamura Okafor Patel Rossi Silva Smith Tanaka Wagner " +
		"Wójcik Zhang García Hansen Ivanova Jensen Kowalski Larsen Martin Novak Olsen Peters Quinn Reyes Schmidt " +
		"Thompson Usman Vargas Weber Xu Yilmaz Zimmermann Andersen Becker Costa Diaz Evans Fischer")
)

// benchUsers returns n contacts of one directory: random names of the
// lists above, an email given.family.i@contoso.com, one or two random
// phones; one in fifty inactive, and one in ten in the "Hidden" group.
func benchUsers(n int) ([]store.User, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	us := make([]store.User, n)
	var hidden []string
	for i := range us {
		given, family := benchGiven[r.IntN(len(benchGiven))], benchFamily[r.IntN(len(benchFamily))]
		email := fmt.Sprintf("%s.%s.%d@contoso.com", given, family, i)
		c := store.Contact{DisplayName: given + " " + family, GivenName: given, FamilyName: family, Email: email}
		for t := range 1 + r.IntN(2) {
			e164 := fmt.Sprintf("+1%03d%07d", 200+r.IntN(800), r.IntN(10_000_000))
			c.Phones = append(c.Phones, store.Phone{Type: []string{"work", "mobile"}[t], Value: e164, E164: e164})
		}
		us[i] = store.User{DirectoryID: "bench", ID: fmt.Sprintf("u%07d", i), UserName: email, Active: i%50 != 0, Contact: c}
		if i%10 == 0 {
			hidden = append(hidden, us[i].ID)
		}
	}
	return us, hidden
}

func BenchmarkContacts(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds a directory")
	}
	db := newTestDB(b, Options{})
	ctx := context.Background()
	us, hidden := benchUsers(*benchContacts)
	start := time.Now()
	seedUsers(b, db, us)
	seedGroup(b, db, "bench", "Hidden", hidden)
	b.Logf("seeded %d contacts in %v", len(us), time.Since(start))
	exclude := store.Visibility{ExcludeGroups: []string{"Hidden"}}

	// Numbers, texts and digits that exist: a random contact's.
	r := rand.New(rand.NewPCG(3, 4))
	pick := func() store.User { return us[r.IntN(len(us))] }
	b.Run("LookupPhone", func(b *testing.B) {
		timed(b, func() error {
			_, err := db.LookupPhone(ctx, "bench", pick().Contact.Phones[0].E164, exclude)
			return err
		})
	})
	search := func(q func() store.ContactQuery) func(*testing.B) {
		return func(b *testing.B) {
			timed(b, func() error {
				q := q()
				q.Limit, q.Visibility = 50, exclude
				_, _, err := db.SearchContacts(ctx, "bench", q)
				return err
			})
		}
	}
	b.Run("Text/Family3", search(func() store.ContactQuery {
		return store.ContactQuery{Text: string([]rune(pick().Contact.FamilyName)[:3])}
	}))
	b.Run("Text/Given", search(func() store.ContactQuery { return store.ContactQuery{Text: pick().Contact.GivenName} }))
	b.Run("Text/GivenFamily3", search(func() store.ContactQuery {
		c := pick().Contact
		return store.ContactQuery{Text: c.GivenName + " " + string([]rune(c.FamilyName)[:3])}
	}))
	b.Run("Text/Email", search(func() store.ContactQuery {
		local, _, _ := strings.Cut(pick().Contact.Email, "@")
		return store.ContactQuery{Text: local}
	}))
	b.Run("Digits6", search(func() store.ContactQuery {
		e := pick().Contact.Phones[0].E164
		return store.ContactQuery{Digits: e[len(e)-6:]}
	}))
	b.Run("Digits2", search(func() store.ContactQuery { return store.ContactQuery{Digits: fmt.Sprintf("%02d", r.IntN(100))} }))
	b.Run("All", search(func() store.ContactQuery { return store.ContactQuery{} }))
}

// timed runs op b.N times and reports its median and 99th percentile.
func timed(b *testing.B, op func() error) {
	ds := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
}

// seedGroup stores a group of members.
func seedGroup(tb testing.TB, db *DB, directoryID, name string, members []string) {
	tb.Helper()
	ctx := context.Background()
	id := "g-" + name
	if _, err := db.pool.Exec(ctx, `INSERT INTO groups (directory_id, id, display_name, name_key, doc, version, created, last_modified)
		VALUES ($1, $2, $3, $4, '{}', 1, now(), now())`, directoryID, id, name, store.Fold(name)); err != nil {
		tb.Fatal(err)
	}
	rows := make([][]any, len(members))
	for i, m := range members {
		rows[i] = []any{directoryID, id, m}
	}
	if _, err := db.pool.CopyFrom(ctx, pgx.Identifier{"group_members"}, []string{"directory_id", "group_id", "user_id"}, pgx.CopyFromRows(rows)); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `VACUUM ANALYZE groups, group_members`); err != nil {
		tb.Fatal(err)
	}
}
