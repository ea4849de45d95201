package main

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/scimd/scimd/mapping"
)

// checkPhone fails unless e is a valid number that scimd's strict policy
// (its default) stores as sent.
func checkPhone(t *testing.T, n int, e string) {
	t.Helper()
	num, err := phonenumbers.Parse(e, "")
	if err != nil || !phonenumbers.IsValidNumber(num) || phonenumbers.Format(num, phonenumbers.E164) != e {
		t.Errorf("phoneNumber(%d) = %q: not a valid E.164 number (%v)", n, e, err)
		return
	}
	if got, err := mapping.NormalizePhone(e, mapping.PhoneStrict, ""); err != nil || got != e {
		t.Errorf("phoneNumber(%d) = %q: scimd's strict policy says %q, %v", n, e, got, err)
	}
}

// TestPhoneNumbersValid checks numbers of every area code over the range
// of exchanges (a US number's validity depends on those, not on the line
// number), then random numbers over the whole range. (libphonenumber is
// slow under -race: every combination, 6,312, takes seconds.)
func TestPhoneNumbersValid(t *testing.T) {
	for a := range usAreaCodes {
		for e := 0; e < len(usExchanges); e += 13 {
			n := e*len(usAreaCodes) + a // line 0 of area a, exchange e
			checkPhone(t, n, phoneNumber(n))
		}
	}
	for range 200 {
		n := rand.IntN(phoneCapacity)
		checkPhone(t, n, phoneNumber(n))
	}
}

// TestPhoneNumbersDistinct inverts phoneNumber: each number gives its n
// back, so no two n share a number.
func TestPhoneNumbersDistinct(t *testing.T) {
	const inv7919 = 7679 // 7919 × 7679 = 1 (mod 10000)
	if 7919*inv7919%10000 != 1 {
		t.Fatal("inverse")
	}
	index := func(vals []int, v int) int {
		for i, x := range vals {
			if x == v {
				return i
			}
		}
		return -1
	}
	check := func(n int) {
		e := phoneNumber(n)
		area, _ := strconv.Atoi(e[2:5])
		exchange, _ := strconv.Atoi(e[5:8])
		line, _ := strconv.Atoi(e[8:])
		a, x := index(usAreaCodes, area), index(usExchanges, exchange)
		got := ((line*inv7919%10000)*len(usExchanges)+x)*len(usAreaCodes) + a
		if len(e) != 12 || a < 0 || x < 0 || got != n {
			t.Fatalf("phoneNumber(%d) = %s, which gives back %d", n, e, got)
		}
	}
	for n := range 20000 {
		check(n)
	}
	for range 20000 {
		check(rand.IntN(phoneCapacity))
	}
	if phoneCapacity < 10_000_000 { // work and mobile numbers of 1,000,000 users, and more
		t.Errorf("capacity %d", phoneCapacity)
	}
}

// TestUserBodyShape checks the create body against what Entra sends and
// scimd's default mapping rules require.
func TestUserBodyShape(t *testing.T) {
	p := newPerson(42, 7)
	var doc map[string]any
	if err := json.Unmarshal(userBody(p), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schemas", "userName", "externalId", "active", "displayName", "emails", "name", "phoneNumbers", "title", schemaEnterprise} {
		if doc[key] == nil {
			t.Errorf("no %s in %v", key, doc)
		}
	}
	if _, err := mapping.Apply(mapping.Defaults(), doc, nil); err != nil {
		t.Errorf("the default mapping rules refuse the user: %v", err)
	}
	if newPerson(42, 8).userName == p.userName || !strings.HasSuffix(p.userName, "@contoso.com") {
		t.Errorf("userNames %q", p.userName)
	}
	if q := searchQuery("name", newPerson(1, 31*len(givenNames))); q != "Xu" {
		t.Errorf("name query %q, want Xu", q)
	}
	if got := userFilterPath("a b@c.com"); got != "/Users?filter=userName+eq+%22a+b%40c.com%22" {
		t.Errorf("filter path %s", got)
	}
}
