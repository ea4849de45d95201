package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// seedUsers stores users (and their directory, if new) with the rows a
// CreateUser writes, by COPY: fast enough for the benchmark's hundreds of
// thousands.
func seedUsers(tb testing.TB, db *DB, us []store.User) {
	tb.Helper()
	ctx := context.Background()
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var users, words, phones [][]any
	for _, u := range us {
		k := store.KeysOf(u)
		contact, err := json.Marshal(u.Contact)
		if err != nil {
			tb.Fatal(err)
		}
		users = append(users, []any{u.DirectoryID, u.ID, u.UserName, u.Contact.DisplayName, u.Active, "{}", string(contact),
			int64(1), at, at, k.SortName, k.EmailDomain, k.LoginDomain})
		for _, w := range k.Words {
			words = append(words, []any{u.DirectoryID, w, k.SortName, u.ID})
		}
		for _, p := range k.Phones {
			phones = append(phones, []any{u.DirectoryID, u.ID, p.E164, p.Type, k.SortName})
		}
	}
	dirs := map[string]bool{}
	for _, u := range us {
		if !dirs[u.DirectoryID] {
			dirs[u.DirectoryID] = true
			if _, err := db.pool.Exec(ctx, `INSERT INTO directories (id, name, created, updated) VALUES ($1, $1, $2, $2)
				ON CONFLICT DO NOTHING`, u.DirectoryID, at); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"users", []string{"directory_id", "id", "user_name", "display_name", "active", "doc", "contact",
			"version", "created", "last_modified", "sort_name", "email_domain", "login_domain"}, users},
		{"user_words", []string{"directory_id", "word", "sort_name", "user_id"}, words},
		{"user_phones", []string{"directory_id", "user_id", "e164", "type", "sort_name"}, phones},
	} {
		if _, err := db.pool.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			tb.Fatalf("copy %s: %v", c.table, err)
		}
	}
	// As autovacuum leaves them: statistics, the visibility map (for
	// index-only scans) and the trigram index's pending list merged.
	if _, err := db.pool.Exec(ctx, `VACUUM ANALYZE users, user_words, user_phones`); err != nil {
		tb.Fatal(err)
	}
}

// TestWriteKeys checks that an update leaves exactly the new keys, and
// that writeKeys of a new user writes them all.
func TestWriteKeys(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx := t.Context()
	u := store.User{DirectoryID: "d", ID: "u1", UserName: "adele@contoso.com", Active: true,
		Contact: store.Contact{DisplayName: "Adele Vance", Email: "adele.vance@contoso.com",
			Phones: []store.Phone{{Type: "work", E164: "+441"}, {Type: "mobile", E164: "+442"}}}}
	seedUsers(t, db, []store.User{{DirectoryID: "d", ID: "u1", UserName: "x"}})
	if err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		return writeKeys(ctx, tx, u, nil, store.KeysOf(u))
	}); err != nil {
		t.Fatal(err)
	}
	check := func(u store.User) {
		t.Helper()
		k := store.KeysOf(u)
		var want, got []string
		for _, w := range k.Words {
			want = append(want, w+" "+k.SortName)
		}
		for _, p := range k.Phones {
			want = append(want, p.E164+" "+p.Type+" "+k.SortName)
		}
		rows, _ := db.pool.Query(ctx, `SELECT word || ' ' || sort_name FROM user_words WHERE user_id = $1
			UNION ALL SELECT e164 || ' ' || type || ' ' || sort_name FROM user_phones WHERE user_id = $1`, u.ID)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("keys = %q, want %q", got, want)
		}
	}
	check(u)
	for _, change := range []func(c *store.Contact){
		func(c *store.Contact) { c.DisplayName = "Adele Smith" },           // a word and the sort name
		func(c *store.Contact) { c.Email = "" },                            // words go
		func(c *store.Contact) { c.Phones = c.Phones[1:] },                 // a phone goes
		func(c *store.Contact) { c.Phones[0].Type = "home" },               // a phone's type
		func(c *store.Contact) { c.Phones = nil; c.DisplayName = "" },      // nothing left
		func(c *store.Contact) { c.DisplayName, c.GivenName = "A", "Bea" }, // back
	} {
		old := store.KeysOf(u)
		u.Contact.Phones = slices.Clone(u.Contact.Phones)
		change(&u.Contact)
		if err := db.write(ctx, func(ctx context.Context, tx *tx) error {
			return writeKeys(ctx, tx, u, &old, store.KeysOf(u))
		}); err != nil {
			t.Fatal(err)
		}
		check(u)
	}
}

func TestPrefixEnd(t *testing.T) {
	for p, want := range map[string]string{"a": "b", "ab": "ac", "é": "ê", "a\U0010FFFF": "b", "\uD7FF": "\uE000", "@x.": "@x/"} {
		if got := prefixEnd(p); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestMostSpecific(t *testing.T) {
	got := mostSpecific([]string{"an", "ann", "an", "b", "anna", "ab"})
	if want := []string{"ab", "anna", "b"}; !slices.Equal(got, want) {
		t.Errorf("mostSpecific = %q, want %q", got, want)
	}
}

// TestContactsNUL checks that text PostgreSQL cannot hold (a NUL) finds
// nothing, instead of failing as an internal error.
func TestContactsNUL(t *testing.T) {
	db := newTestDB(t, Options{})
	ctx := t.Context()
	seedUsers(t, db, []store.User{{DirectoryID: "d", ID: "u1", UserName: "a@x", Active: true, Contact: store.Contact{DisplayName: "Ann"}}})
	for _, q := range []store.ContactQuery{{Text: "an\x00"}, {GroupID: "g\x00"}} {
		q.Limit = 10
		if recs, next, err := db.SearchContacts(ctx, "d", q); err != nil || len(recs) != 0 || next != "" {
			t.Errorf("SearchContacts(%q) = %d, %q, %v", q.Text+q.GroupID, len(recs), next, err)
		}
	}
	bad := encodeCursor(cursor{"ann", "u\x00"})
	if _, _, err := db.SearchContacts(ctx, "d", store.ContactQuery{Limit: 10, After: bad}); !errors.Is(err, store.ErrInvalidFilter) {
		t.Errorf("SearchContacts(NUL cursor) = %v, want ErrInvalidFilter", err)
	}
	if _, err := db.GetContact(ctx, "d", "u\x00", store.Visibility{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetContact(NUL) = %v, want ErrNotFound", err)
	}
	if recs, err := db.LookupPhone(ctx, "d", "+1\x00", store.Visibility{}); err != nil || len(recs) != 0 {
		t.Errorf("LookupPhone(NUL) = %d, %v", len(recs), err)
	}
}
