package console

import (
	"testing"

	"github.com/scimd/scimd/internal/pgtest"
)

// The console's tests run on SQLite, then on PostgreSQL (sessions and
// setup links live in the database).
func TestMain(m *testing.M) { pgtest.MainBackends(m) }
