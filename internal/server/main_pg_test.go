package server

import (
	"testing"

	"github.com/scimd/scimd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m, closeBrowser) }
