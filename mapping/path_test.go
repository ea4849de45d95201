package mapping

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want path
		err  string
	}{
		{in: "userName", want: path{attr: "userName"}},
		{in: "name.givenName", want: path{attr: "name", sub: "givenName"}},
		{in: EnterpriseURN + ":department", want: path{urn: EnterpriseURN, attr: "department"}},
		{in: EnterpriseURN + ":manager.value", want: path{urn: EnterpriseURN, attr: "manager", sub: "value"}},
		{in: "urn:ietf:params:scim:schemas:core:2.0:User:userName", want: path{attr: "userName"}},
		{in: "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.familyName", want: path{attr: "name", sub: "familyName"}},
		{in: `phoneNumbers[type eq "work"].value`, want: path{attr: "phoneNumbers", filter: []term{{"type", "work"}}, sub: "value"}},
		{in: `emails[ type  EQ "a:b]\"c" AND primary eq TRUE ].value`, want: path{attr: "emails", filter: []term{{"type", `a:b]"c`}, {"primary", true}}, sub: "value"}},
		{in: `emails[primary eq false].value`, want: path{attr: "emails", filter: []term{{"primary", false}}, sub: "value"}},
		{in: `urn:x:y:phones[type eq "w"].value`, want: path{urn: "urn:x:y", attr: "phones", filter: []term{{"type", "w"}}, sub: "value"}},
		{in: "x-y_z9", want: path{attr: "x-y_z9"}},
		{in: "", err: "empty"},
		{in: "urn:", err: "only \"urn:\" schema prefixes"},
		{in: "a:b", err: "only \"urn:\" schema prefixes"},
		{in: "urn:a b:c", err: "spaces or quotes"},
		{in: "urn:x:", err: "expected an attribute name"},
		{in: "-a", err: "expected an attribute name"},
		{in: "a..b", err: "expected a sub-attribute name"},
		{in: "a.b.c", err: `unexpected ".c"`},
		{in: "a b", err: `unexpected " b"`},
		{in: `a[type eq "x"]`, err: "must be followed by a sub-attribute"},
		{in: `a[type eq "x"]x`, err: "unexpected \"x\""},
		{in: `a[]`, err: "expected a filter"},
		{in: `a[type eq "x"`, err: `unclosed "["`},
		{in: `a[type eq "x`, err: "unterminated string"},
		{in: `a[type eq "\q"].v`, err: "bad escape"},
		{in: `a[type co "x"].v`, err: `only use "eq"`},
		{in: `a[type eqx "x"].v`, err: `only use "eq"`},
		{in: `a[type eq 1].v`, err: "expected a quoted string, true or false"},
		{in: `a[type eq truex].v`, err: "expected a quoted string, true or false"},
		{in: `a[type eq "x" or b eq "y"].v`, err: `only be joined by "and"`},
		{in: `a[type eq "x" and].v`, err: "expected a filter"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePath(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parsePath(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parsePath(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	doc := decode(t, `{
		"userName": "ada@contoso.com",
		"name": {"givenName": "Ada", "familyName": "Lovelace"},
		"emails": [
			{"type": "home", "value": "ada@home.example"},
			{"type": "work", "value": "ada@contoso.com", "primary": true}
		],
		"phoneNumbers": [
			{"type": "work", "value": "+14255550100"},
			{"type": "Mobile", "value": "+447400123456", "primary": "True"}
		],
		"ims": [{"value": "first"}, {"value": "second"}],
		"roles": [],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "manager": {"value": "m1"}},
		"urn:ietf:params:scim:schemas:extension:cx:2.0:User": {"level": 3}
	}`)
	tests := []struct {
		path string
		want any
		idx  int
	}{
		{"userName", "ada@contoso.com", -1},
		{"USERNAME", "ada@contoso.com", -1},
		{"name.givenName", "Ada", -1},
		{"Name.FamilyName", "Lovelace", -1},
		{"name.middleName", nil, -1},
		{"nickName", nil, -1},
		{"userName.x", nil, -1},
		{`emails[type eq "work"].value`, "ada@contoso.com", 1},
		{`Emails[Type eq "WORK"].Value`, "ada@contoso.com", 1},
		{`emails[type eq "other"].value`, nil, -1},
		{`emails[type eq "work" and primary eq true].value`, "ada@contoso.com", 1},
		{`emails[type eq "home" and primary eq true].value`, nil, -1},
		{`phoneNumbers[primary eq true].value`, "+447400123456", 1},
		{`phoneNumbers[type eq "mobile"].value`, "+447400123456", 1},
		{"emails.value", "ada@contoso.com", 1}, // the primary one
		{"ims.value", "first", 0},              // else the first
		{"roles.value", nil, -1},
		{`userName[type eq "x"].value`, nil, -1},
		{EnterpriseURN + ":department", "Sales", -1},
		{strings.ToUpper(EnterpriseURN) + ":Department", "Sales", -1},
		{EnterpriseURN + ":manager.value", "m1", -1},
		{"urn:ietf:params:scim:schemas:extension:cx:2.0:User:level", json.Number("3"), -1},
		{"urn:ietf:params:scim:schemas:extension:other:2.0:User:level", nil, -1},
		{"urn:ietf:params:scim:schemas:core:2.0:User:userName", "ada@contoso.com", -1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, idx := p.resolve(doc)
			if !reflect.DeepEqual(got, tt.want) || idx != tt.idx {
				t.Fatalf("resolve(%q) = %#v, %d; want %#v, %d", tt.path, got, idx, tt.want, tt.idx)
			}
		})
	}
}

// decode reads a document the way scimd stores users: numbers as json.Number.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
