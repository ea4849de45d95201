package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// This file generates the directory scimbench provisions: people with
// names, emails, valid phone numbers, titles and departments, and the
// request bodies Microsoft Entra ID sends for them (docs/ENTRA.md §3, §4, §8).
// Everything is a pure function of the person's index and the run's seed,
// so workers need no shared state to build a request.

const (
	schemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaADGroup    = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
	schemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	contentTypeSCIM  = "application/scim+json; charset=utf-8"
)

var (
	givenNames = strings.Fields("Ann Bob Chloé Dieter Élodie Femi Grace Hiroshi Ines João Kenji Lars Mia Noah Olga " +
		"Priya Raj Sakura Søren Zoë Aisha Ben Carmen David Emma Farid Greta Hugo Ivan Julia Karim Lena Marco Nadia Oscar " +
		"Paula Quentin Rosa Sven Tariq")
	familyNames = strings.Fields("Archer Brown Dubois Müller Nakamura Okafor Patel Rossi Silva Smith Tanaka Wagner " +
		"Wójcik Zhang García Hansen Ivanova Jensen Kowalski Larsen Martin Novak Olsen Peters Quinn Reyes Schmidt " +
		"Thompson Usman Vargas Weber Xu Yilmaz Zimmermann Andersen Becker Costa Diaz Evans Fischer")
	titles      = strings.Fields("Agent Supervisor Analyst Engineer Manager Specialist Coordinator Consultant Advisor Lead")
	departments = strings.Fields("Support Sales Billing Operations Engineering Finance Marketing Logistics Legal Research")
	// asciiFold makes the email and userName of an accented name.
	asciiFold = strings.NewReplacer("é", "e", "É", "E", "ã", "a", "ø", "o", "ë", "e", "ü", "u", "ó", "o", "ö", "o")
)

// person is user i of a run.
type person struct {
	userName, externalID   string
	given, family, email   string
	phone, mobile          string // E.164; mobile may be ""
	title, department      string
	displayName, formatted string
}

// newPerson is user i. seed makes externalIds differ between runs against
// one server; userNames are unique within a directory, which is new on
// every run.
func newPerson(seed uint32, i int) person {
	g := givenNames[i%len(givenNames)]
	f := familyNames[(i/len(givenNames))%len(familyNames)]
	local := strings.ToLower(asciiFold.Replace(g) + "." + asciiFold.Replace(f) + "." + strconv.Itoa(i))
	p := person{
		userName:    local + "@contoso.com",
		externalID:  fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", seed, (i>>40)&0xffff, (i>>28)&0xfff, (i>>16)&0xfff, i),
		given:       g,
		family:      f,
		email:       local + "@contoso.com",
		phone:       phoneNumber(2 * i),
		title:       titles[(i/7)%len(titles)],
		department:  departments[(i/3)%len(departments)],
		displayName: g + " " + f,
		formatted:   g + " " + f,
	}
	if i%2 == 0 { // half the users also have a mobile number
		p.mobile = phoneNumber(2*i + 1)
	}
	return p
}

// usAreaCodes are New York, Chicago, San Francisco, Boston, Seattle,
// Redmond, Portland and Houston: geographic area codes whose every
// exchange from 200 to 999 (but those in skipExchange) libphonenumber
// accepts; phone_test.go checks each combination.
var usAreaCodes = []int{212, 312, 415, 617, 206, 425, 503, 713}

// usExchanges are the central office codes used: 200–999 without N11
// service codes and 555 (directory assistance, fiction).
var usExchanges = func() []int {
	var ex []int
	for e := 200; e <= 999; e++ {
		if e%100 == 11 || e == 555 {
			continue
		}
		ex = append(ex, e)
	}
	return ex
}()

// phoneCapacity is how many distinct numbers phoneNumber makes.
var phoneCapacity = len(usAreaCodes) * len(usExchanges) * 10000

// phoneNumber is the n-th of phoneCapacity distinct valid US numbers in
// E.164. Numbers with nearby n differ in area code and exchange, so that
// digit searches do not all hit one block.
func phoneNumber(n int) string {
	n %= phoneCapacity
	area := usAreaCodes[n%len(usAreaCodes)]
	n /= len(usAreaCodes)
	exchange := usExchanges[n%len(usExchanges)]
	n /= len(usExchanges)
	line := n * 7919 % 10000 // 7919 is prime to 10000: a permutation of 0–9999
	return fmt.Sprintf("+1%03d%03d%04d", area, exchange, line)
}

type (
	jsonObject = map[string]any
	jsonList   = []any
)

// userBody is Entra's POST /Users for p, in the default mapping's shape.
func userBody(p person) []byte {
	phones := jsonList{jsonObject{"type": "work", "value": p.phone}}
	if p.mobile != "" {
		phones = append(phones, jsonObject{"type": "mobile", "value": p.mobile})
	}
	return mustJSON(jsonObject{
		"schemas":     []string{schemaUser, schemaEnterprise},
		"externalId":  p.externalID,
		"userName":    p.userName,
		"active":      true,
		"displayName": p.displayName,
		"title":       p.title,
		"emails":      jsonList{jsonObject{"primary": true, "type": "work", "value": p.email}},
		"meta":        jsonObject{"resourceType": "User"},
		"name": jsonObject{
			"formatted":  p.formatted,
			"familyName": p.family,
			"givenName":  p.given,
		},
		"phoneNumbers": phones,
		"roles":        jsonList{},
		schemaEnterprise: jsonObject{
			"department": p.department,
		},
	})
}

// userFilterPath is Entra's matching query for a userName, on the wire
// as Entra sends it (filter=userName+eq+%22…%22).
func userFilterPath(userName string) string {
	return "/Users?filter=" + url.QueryEscape(`userName eq "`+userName+`"`)
}

// group is group g of a run.
type group struct{ displayName, externalID string }

func newGroup(seed uint32, g int) group {
	return group{
		displayName: fmt.Sprintf("%s team %05d", departments[g%len(departments)], g),
		externalID:  fmt.Sprintf("%08x-%04x-4%03x-9%03x-%012x", seed, (g>>40)&0xffff, (g>>28)&0xfff, (g>>16)&0xfff, g),
	}
}

// groupFilterPath is Entra's matching query for a group: by displayName,
// never with members.
func groupFilterPath(displayName string) string {
	return "/Groups?excludedAttributes=members&filter=" + url.QueryEscape(`displayName eq "`+displayName+`"`)
}

// groupBody is Entra's POST /Groups: no members, which PATCHes add.
func groupBody(g group) []byte {
	return mustJSON(jsonObject{
		"schemas":     []string{schemaGroup, schemaADGroup},
		"externalId":  g.externalID,
		"displayName": g.displayName,
		"meta":        jsonObject{"resourceType": "Group"},
	})
}

// addMembersBody is Entra's member PATCH (default dialect).
func addMembersBody(userIDs []string) []byte {
	members := make(jsonList, len(userIDs))
	for i, id := range userIDs {
		members[i] = jsonObject{"value": id}
	}
	return mustJSON(patch(jsonObject{"op": "Add", "path": "members", "value": members}))
}

// updateBody is a user update in Entra's default PATCH dialect: one
// title-case Replace per changed attribute, or a disable with the string
// boolean "False" (docs/ENTRA.md §4).
func updateBody(p person, n int, disable bool) []byte {
	if disable {
		return mustJSON(patch(jsonObject{"op": "Replace", "path": "active", "value": "False"}))
	}
	return mustJSON(patch(
		jsonObject{"op": "Replace", "path": "title", "value": "Senior " + p.title},
		jsonObject{"op": "Replace", "path": schemaEnterprise + ":department", "value": departments[(n+1)%len(departments)]},
	))
}

func patch(ops ...jsonObject) jsonObject {
	return jsonObject{"schemas": []string{schemaPatchOp}, "Operations": ops}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps, slices and strings: cannot fail
	}
	return b
}

// searchQuery is the q of a lookup API search of kind for p: what an
// agent types.
func searchQuery(kind string, p person) string {
	switch kind {
	case "name": // the first letters of a family name: a broad match
		r := []rune(p.family)
		return string(r[:min(3, len(r))])
	case "email": // a whole local part: one or a few matches
		local, _, _ := strings.Cut(p.email, "@")
		return local
	default: // "digits": the last six digits of the work number
		return p.phone[len(p.phone)-6:]
	}
}
