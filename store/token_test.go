package store

import (
	"testing"
	"time"
)

func TestAcceptsToken(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	d := Directory{SCIMTokenHash: HashToken("current"), PreviousTokenHash: HashToken("previous"), PreviousTokenExpires: now.Add(time.Hour)}
	for _, tc := range []struct {
		token string
		at    time.Time
		want  bool
	}{
		{"current", now, true},
		{"current", now.Add(100 * time.Hour), true},
		{"previous", now, true},
		{"previous", now.Add(time.Hour - time.Nanosecond), true},
		{"previous", now.Add(time.Hour), false}, // expired at the instant
		{"previous", now.Add(2 * time.Hour), false},
		{"other", now, false},
		{"", now, false},
	} {
		if got := d.AcceptsToken(tc.token, tc.at); got != tc.want {
			t.Errorf("AcceptsToken(%q, %v) = %v, want %v", tc.token, tc.at, got, tc.want)
		}
	}
	// No previous token: an empty hash matches nothing, even before a
	// zero expiry.
	d = Directory{SCIMTokenHash: HashToken("current")}
	if d.AcceptsToken("previous", time.Time{}) || d.AcceptsToken("", time.Time{}) {
		t.Error("accepted a token without a previous hash")
	}
}
