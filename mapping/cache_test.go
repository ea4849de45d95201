package mapping

import (
	"strings"
	"testing"
)

func TestParseCached(t *testing.T) {
	doc := []byte(`{"phonePolicy":"lenient","required":["userName"]}`)
	for range 2 { // the second call is served from the cache
		r, err := ParseCached(doc)
		if err != nil || r.PhonePolicy != PhoneLenient || len(r.Required) != 1 {
			t.Fatalf("ParseCached = %+v, %v", r, err)
		}
	}
	if r, err := ParseCached(nil); err != nil || r.PhonePolicy != PhoneStrict {
		t.Errorf("ParseCached(nil) = %+v, %v; want the defaults", r, err)
	}
	bad := []byte(`{"phonePolicy":"loose"}`)
	for range 2 { // refusals are not cached as rules
		if _, err := ParseCached(bad); err == nil || !strings.Contains(err.Error(), "loose") {
			t.Errorf("ParseCached(bad) = %v", err)
		}
	}
}

func TestValidRegion(t *testing.T) {
	for code, want := range map[string]bool{"GB": true, "US": true, "JP": true, "XX": false, "gb": false, "": false} {
		if ValidRegion(code) != want {
			t.Errorf("ValidRegion(%q) = %v", code, !want)
		}
	}
}
