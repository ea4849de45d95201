package presence

import (
	"net/http"
	"testing"
	"time"
)

// FuzzDecodePresences: whatever Graph answers, decoding returns values or
// an error, never a panic, and every decoded id that passes objectID is a
// canonical GUID.
func FuzzDecodePresences(f *testing.F) {
	f.Add([]byte(`{"value":[{"id":"AAAAAAAA-0000-4000-8000-000000000001","availability":"Busy","activity":"InACall"}]}`))
	f.Add([]byte(`{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/next"}`))
	f.Add([]byte(`{"value":[{"id":null,"availability":null}]}`))
	f.Add([]byte(`{"value":{}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ps, _, err := decodePresences(body)
		if err != nil {
			return
		}
		for _, p := range ps {
			if oid, ok := objectID(p.ID); ok && (len(oid) != 36 || oid != toLowerASCII(oid)) {
				t.Fatalf("objectID(%q) = %q, not canonical", p.ID, oid)
			}
			if v, _ := normalise(availabilities, p.Availability); v == "" {
				t.Fatalf("normalise(%q) is empty", p.Availability)
			}
		}
	})
}

// FuzzRetryAfter: any header value gives a wait that is never negative.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Add("120")
	f.Add(now.Add(time.Minute).Format(http.TimeFormat))
	f.Add("-5")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("soon")
	f.Fuzz(func(t *testing.T, h string) {
		if d := retryAfter(h, now); d < 0 {
			t.Fatalf("retryAfter(%q) = %v", h, d)
		}
	})
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
