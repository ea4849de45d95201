package webhook_test

import (
	"testing"

	"github.com/scimd/scimd/internal/pgtest"
)

// TestMain runs every test on SQLite, then on PostgreSQL.
func TestMain(m *testing.M) { pgtest.MainBackends(m) }
