package sqlite

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/scimd/scimd/store"
)

// TestBackfillLookup migrates a database holding users and groups at
// version 2 and checks that migration 3 derived their lookup data.
func TestBackfillLookup(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "scimd.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.w.ExecContext(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:2] {
		if _, err := db.migrate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	const now = "2025-01-01T00:00:00.000000000Z"
	for _, stmt := range []string{
		`INSERT INTO directories (id, name, created, updated) VALUES ('d', 'd', '` + now + `', '` + now + `')`,
		`INSERT INTO users (directory_id, id, user_name, active, doc, contact, version, created, last_modified)
			VALUES ('d', 'u1', 'emile@Contoso.com', 1, '{}', '{"displayName":"Émile Zoë","email":"emile.zoe@contoso.com","phones":[{"value":"+33 6","e164":"+33612345678"}]}', 1, '` + now + `', '` + now + `'),
			('d', 'u2', 'adele@fabrikam.com', 1, '{}', '{"displayName":"Adele Vance"}', 1, '` + now + `', '` + now + `')`,
		`INSERT INTO user_phones (directory_id, user_id, e164) VALUES ('d', 'u1', '+33612345678')`,
		`INSERT INTO groups (directory_id, id, display_name, doc, version, created, last_modified)
			VALUES ('d', 'g', 'ÉQUIPE', '{}', 1, '` + now + `', '` + now + `')`,
		`INSERT INTO group_members (directory_id, group_id, user_id) VALUES ('d', 'g', 'u1')`,
	} {
		if _, err := db.w.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.Migrate(ctx); err != nil || n != len(migrations)-2 {
		t.Fatalf("Migrate = %d, %v", n, err)
	}

	ids := func(q store.ContactQuery) []string {
		q.Limit = 10
		recs, _, err := db.SearchContacts(ctx, "d", q)
		if err != nil {
			t.Fatal(err)
		}
		return recordIDs(recs)
	}
	for _, tt := range []struct {
		q    store.ContactQuery
		want []string
	}{
		{store.ContactQuery{}, []string{"u2", "u1"}}, // ordered by the backfilled sort names
		{store.ContactQuery{Text: "zoë"}, []string{"u1"}},
		{store.ContactQuery{Text: "EMILE.Z"}, []string{"u1"}},
		{store.ContactQuery{Text: "van"}, []string{"u2"}},
		{store.ContactQuery{Digits: "612"}, []string{"u1"}},
		{store.ContactQuery{Visibility: store.Visibility{OnlyGroups: []string{"équipe"}}}, []string{"u1"}},
		{store.ContactQuery{Visibility: store.Visibility{Domains: []string{"FABRIKAM.com"}}}, []string{"u2"}},
	} {
		if got := ids(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("SearchContacts(%+v) = %q, want %q", tt.q, got, tt.want)
		}
	}
	if recs, err := db.LookupPhone(ctx, "d", "+33612345678", store.Visibility{OnlyGroups: []string{"Équipe"}}); err != nil || len(recs) != 1 {
		t.Errorf("LookupPhone = %d, %v", len(recs), err)
	}
}

func recordIDs(recs []store.ContactRecord) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}
