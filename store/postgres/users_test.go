package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/scimd/scimd/store"
)

// TestDocText checks that the documents docText takes are the JSON
// objects PostgreSQL's jsonb reads, which filters cast documents to.
func TestDocText(t *testing.T) {
	db := newTestDB(t, Options{})
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}` }
	for _, tt := range []struct {
		doc string
		ok  bool
	}{
		{`{"a":"é\u00e9 \ud83d\ude00 \u0001"}`, true},
		{`{"a":"\\u0000"}`, true}, // an escaped backslash, then text
		{`{"a":"\u0000"}`, false},
		{`{"\u0000":1}`, false},
		{`{"a":"\ud800"}`, false},
		{`{"a":"\ud800x"}`, false},
		{`{"a":"\ud800\u0041"}`, false},
		{`{"a":"\udc00"}`, false},
		{`{"a":[1, -2.5e3, 0.1E-5, 1e131071, 1e-16383]}`, true},
		{`{"a":1e131072}`, false},
		{`{"a":1e-16384}`, false},
		{`{"a":1.5e-16383}`, false},
		{`{"a":1e99999999999999999999}`, false},
		{deep(maxJSONDepth - 1), true},
		{deep(maxJSONDepth), false},
		{"{\"a\":\"\xff\"}", false},
		{`[]`, false},
		{`{"a":}`, false},
	} {
		_, err := docText([]byte(tt.doc))
		if (err == nil) != tt.ok {
			t.Errorf("docText(%.40q) = %v, want ok %v", tt.doc, err, tt.ok)
		}
		if err != nil {
			continue
		}
		if _, err := db.pool.Exec(t.Context(), `SELECT $1::text::jsonb`, tt.doc); err != nil {
			t.Errorf("jsonb refuses %.40q, which docText took: %v", tt.doc, err)
		}
	}
}

// TestPoolBatchIsOneTransaction: CreateUser relies on a batch sent on the
// pool being one implicit transaction: when a later statement fails, the
// earlier ones are not committed.
func TestPoolBatchIsOneTransaction(t *testing.T) {
	db := newTestDB(t, Options{})
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO settings (key, value) VALUES ('batch', 'x')`)
	b.Queue(`INSERT INTO settings (key, value) VALUES ('batch', 'y')`) // a duplicate key
	if err := execBatch(t.Context(), db.pool, b); !isUnique(err) {
		t.Fatalf("execBatch = %v, want a unique violation", err)
	}
	if v, err := db.GetSetting(t.Context(), "batch"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the first statement was committed: %q, %v", v, err)
	}
}
