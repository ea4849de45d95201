package api

import (
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "",
		"alice@example.com":     "alice@example.com",
		"=HYPERLINK(\"x\")":     "'=HYPERLINK(\"x\")",
		"+14255550100":          "'+14255550100",
		"-2+3":                  "'-2+3",
		"@SUM(A1)":              "'@SUM(A1)",
		"\t=1":                  "'\t=1",
		"\r=1":                  "'\r=1",
		"a=b":                   "a=b",
		"'already quoted":       "'already quoted",
		"Zoë=":                  "Zoë=",
		" =leading space (ok)":  " =leading space (ok)",
		"members added":         "members added",
		"refused: phone is bad": "refused: phone is bad",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCSVFileName(t *testing.T) {
	now := time.Date(2026, 1, 2, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600)) // 2026-01-03 in UTC
	for name, want := range map[string]string{
		"Contoso":                "sync-log-Contoso-2026-01-03.csv",
		"Contoso Ltd. (EU)":      "sync-log-Contoso-Ltd.-EU-2026-01-03.csv",
		"../../etc/passwd":       "sync-log-etc-passwd-2026-01-03.csv",
		`a"b;c\r\nd`:             "sync-log-a-b-c-r-nd-2026-01-03.csv",
		"":                       "sync-log-0fcf6886-abc4-41a2-b0e9-def32ac0295c-2026-01-03.csv",
		"日本":                     "sync-log-0fcf6886-abc4-41a2-b0e9-def32ac0295c-2026-01-03.csv",
		strings.Repeat("x", 300): "sync-log-" + strings.Repeat("x", 64) + "-2026-01-03.csv",
	} {
		d := store.Directory{ID: "0fcf6886-abc4-41a2-b0e9-def32ac0295c", Name: name}
		if got := csvFileName(d, now); got != want {
			t.Errorf("csvFileName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, id := range []int64{1, 42, 1 << 62} {
		if got, ok := decodeCursor(encodeCursor(id)); !ok || got != id {
			t.Errorf("cursor round trip of %d = %d, %v", id, got, ok)
		}
	}
	for _, bad := range []string{"", "!!", "MA", "LTE", "YWJj", encodeCursor(0) + "x"} { // "0", "-1", "abc"
		if id, ok := decodeCursor(bad); ok {
			t.Errorf("decodeCursor(%q) = %d, accepted", bad, id)
		}
	}
}
