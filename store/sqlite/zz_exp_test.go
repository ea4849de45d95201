package sqlite

import (
	"os"
	"strings"
	"testing"
)

func BenchmarkZZWrite(b *testing.B) {
	db := newBenchDB(b)
	for _, stmt := range strings.Split(os.Getenv("ZZSQL"), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.w.Exec(stmt); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	benchmarkCreateUserParallel(b, db)
}
