package sqlite

import (
	"testing"
	"time"
)

// BenchmarkDirectoryOverviews reads the console's directories list on the
// lookup benchmarks' database: 10 directories of 100,000 users each.
func BenchmarkDirectoryOverviews(b *testing.B) {
	db := openLookupDB(b)
	since := time.Now().Add(-24 * time.Hour)
	for b.Loop() {
		ovs, err := db.DirectoryOverviews(b.Context(), since, "")
		if err != nil || len(ovs) != lookupDirs || ovs[0].Users != lookupUsers {
			b.Fatalf("%d overviews, %v", len(ovs), err)
		}
	}
}
