package sqlite

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

func TestZZTime(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	db, err := Open(context.Background(), "/tmp/scimd-lookup-bench-v3.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := benchDirID(lookupBenchDir)
	ctx := context.Background()
	for _, text := range strings.Split(os.Getenv("ZZ"), ",") {
		f := textFilter(dir, text)
		for range 2 {
			t0 := time.Now()
			n, _ := db.chooseLead(ctx, []filter{f})
			t1 := time.Now()
			var c conds
			c.add("u.active = 1")
			page, err := db.ledPage(ctx, dir, f, c, candidate{}, 26)
			t2 := time.Now()
			recs, _, _ := db.SearchContacts(ctx, dir, store.ContactQuery{Text: text, Limit: 25})
			t3 := time.Now()
			fmt.Println(text, n, len(page), err, len(recs), t1.Sub(t0), t2.Sub(t1), t3.Sub(t2))
		}
		rows, _ := db.r.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT DISTINCT l.sort_name, l.user_id FROM (`+f.lead+`) l WHERE (l.sort_name, l.user_id) > (?, ?) ORDER BY 1, 2 LIMIT ?`, append(f.leadArgs, "", "", 52)...)
		for rows.Next() {
			var a, b, c int
			var d string
			rows.Scan(&a, &b, &c, &d)
			fmt.Println("   ", d)
		}
		rows.Close()
	}
}
