package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
)

const cxURN = "urn:ietf:params:scim:schemas:extension:cx:2.0:User"

// entraUser is a user as Entra provisions it with the default attribute
// mappings, stored with canonical names and extensions under their URN.
const entraUser = `{
	"externalId": "adele.vance",
	"userName": "AdeleV@contoso.com",
	"active": true,
	"displayName": "Adele Vance",
	"title": "Retail Manager",
	"preferredLanguage": "en-US",
	"name": {"formatted": "Adele Vance", "givenName": "Adele", "familyName": "Vance"},
	"emails": [{"primary": true, "type": "work", "value": "AdeleV@contoso.com"}],
	"phoneNumbers": [
		{"type": "work", "value": "+14255550100"},
		{"type": "mobile", "value": "+447400123456"},
		{"type": "fax", "value": "+4930123456"}
	],
	"addresses": [{"type": "work", "country": "US", "locality": "Redmond"}],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		"employeeNumber": "1042", "department": "Retail", "manager": {"value": "m-1"}
	},
	"urn:ietf:params:scim:schemas:extension:cx:2.0:User": {
		"skill": "Billing", "level": 3, "levelText": "4.5", "isAgent": true, "agentText": "TRUE",
		"hired": "2021-03-01", "shift": "2024-05-31T09:00:00.5+02:00", "tags": ["a", "b"]
	}
}`

var adele = store.Contact{
	Login:       "AdeleV@contoso.com",
	ObjectID:    "adele.vance",
	DisplayName: "Adele Vance",
	GivenName:   "Adele",
	FamilyName:  "Vance",
	Email:       "AdeleV@contoso.com",
	Title:       "Retail Manager",
	Department:  "Retail",
	Phones: []store.Phone{
		{Type: "work", Value: "+14255550100", E164: "+14255550100"},
		{Type: "mobile", Value: "+447400123456", E164: "+447400123456"},
		{Type: "fax", Value: "+4930123456", E164: "+4930123456"},
	},
}

// set changes one attribute of a decoded document: "a", "a/b" (object
// member) or "phoneNumbers/N/value" (list element); nil deletes.
func set(doc map[string]any, key string, v any) {
	parts := strings.Split(key, "/")
	var cur any = doc
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i := int(p[0] - '0')
			cur = c[i]
		}
	}
	m := cur.(map[string]any)
	if v == nil {
		delete(m, parts[len(parts)-1])
	} else {
		m[parts[len(parts)-1]] = v
	}
}

func TestApply(t *testing.T) {
	type change struct {
		key string
		v   any
	}
	mod := func(cs ...change) []change { return cs }
	rules := func(doc string) Rules {
		r, err := Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	with := func(f func(*store.Contact)) store.Contact {
		c := adele
		c.Phones = append([]store.Phone(nil), adele.Phones...)
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		rules   Rules
		changes []change
		doc     string // instead of entraUser
		want    store.Contact
		refusal string // the whole Error() when it starts with "=", else a substring
		attr    string // Refusal.Attribute
	}{
		{name: "typical Entra user", rules: Defaults(), want: adele},
		{name: "names are case-insensitive", rules: rules(`{"fields":{"login":"USERNAME","givenName":"Name.GivenName","phone":"PhoneNumbers[Type eq \"WORK\"].Value"}}`), want: adele},

		// display name fallbacks
		{name: "display name from given and family", rules: Defaults(), changes: mod(change{"displayName", nil}), want: adele},
		{name: "display name from given only", rules: Defaults(), changes: mod(change{"displayName", ""}, change{"name/familyName", nil}),
			want: with(func(c *store.Contact) { c.DisplayName, c.FamilyName = "Adele", "" })},
		{name: "display name from login", rules: rules(`{"required":["userName"]}`), changes: mod(change{"displayName", nil}, change{"name", nil}),
			want: with(func(c *store.Contact) { c.DisplayName, c.GivenName, c.FamilyName = "AdeleV@contoso.com", "", "" })},

		// required fields
		{name: "userName missing", rules: Defaults(), changes: mod(change{"userName", nil}),
			refusal: "=userName is required but missing or empty (is the Entra source attribute mapped to it empty?)", attr: "userName"},
		{name: "externalId empty", rules: Defaults(), changes: mod(change{"externalId", ""}), refusal: "externalId is required", attr: "externalId"},
		{name: "phone missing", rules: Defaults(), changes: mod(change{"phoneNumbers/0/type", "other"}),
			refusal: `phoneNumbers[type eq "work"].value is required`, attr: `phoneNumbers[type eq "work"].value`},
		{name: "phone cleared", rules: Defaults(), changes: mod(change{"phoneNumbers/0/value", ""}),
			refusal: `phoneNumbers[type eq "work"].value is required`, attr: `phoneNumbers[type eq "work"].value`},
		{name: "phone null", rules: Defaults(), changes: mod(change{"phoneNumbers", nil}),
			refusal: `phoneNumbers[type eq "work"].value is required`, attr: `phoneNumbers[type eq "work"].value`},
		{name: "name missing names both paths", rules: Defaults(), changes: mod(change{"name", nil}),
			refusal: "=name.givenName and name.familyName are both missing or empty; at least one is required (are both Entra source attributes mapped to them empty?)",
			attr:    "name.givenName"},
		{name: "family name alone is enough", rules: Defaults(), changes: mod(change{"name/givenName", ""}),
			want: with(func(c *store.Contact) { c.GivenName = "" })},
		{name: "name with one source unmapped", rules: rules(`{"fields":{"familyName":""}}`), changes: mod(change{"name/givenName", nil}),
			refusal: "name.givenName is required", attr: "name.givenName"},
		{name: "email required", rules: rules(`{"required":["email"]}`), changes: mod(change{"emails", nil}),
			refusal: `emails[type eq "work"].value is required`, attr: `emails[type eq "work"].value`},
		{name: "first problem in a fixed order", rules: Defaults(), changes: mod(change{"phoneNumbers/0/value", "555 1234"}, change{"name", nil}, change{"externalId", nil}),
			refusal: "externalId is required", attr: "externalId"},
		{name: "required before phone format", rules: Defaults(), changes: mod(change{"phoneNumbers/1/value", "555 1234"}, change{"name", nil}),
			refusal: "name.givenName and name.familyName", attr: "name.givenName"},
		{name: "only userName required accepts a bare user", rules: rules(`{"required":["userName"]}`), doc: `{"userName":"bare"}`,
			want: store.Contact{Login: "bare", DisplayName: "bare"}},
		{name: "nothing required accepts an empty user", rules: rules(`{"required":[]}`), doc: `{}`, want: store.Contact{}},

		// phones
		{name: "work phone not E.164", rules: Defaults(), changes: mod(change{"phoneNumbers/0/value", "555 1234"}),
			refusal: `=phoneNumbers[type eq "work"].value: "555 1234" is not E.164 (expected "+" then country code and number, with no spaces or punctuation, e.g. "+14255550100")`,
			attr:    `phoneNumbers[type eq "work"].value`},
		{name: "every phone is checked", rules: Defaults(), changes: mod(change{"phoneNumbers/2/value", "+49 30 123456"}),
			refusal: `=phoneNumbers[type eq "fax"].value: "+49 30 123456" is not E.164 (expected "+" then country code and number, with no spaces or punctuation; did you mean "+4930123456"?)`,
			attr:    `phoneNumbers[type eq "fax"].value`},
		{name: "phone without type", rules: Defaults(), changes: mod(change{"phoneNumbers/1/type", nil}, change{"phoneNumbers/1/value", "+1 425"}),
			refusal: `phoneNumbers.value: "+1 425" is not E.164`, attr: "phoneNumbers.value"},
		{name: "too short", rules: Defaults(), changes: mod(change{"phoneNumbers/0/value", "+1425555"}), refusal: "is too short for +1 (US)"},
		{name: "bad country code", rules: Defaults(), changes: mod(change{"phoneNumbers/0/value", "+999123456789"}), refusal: "does not start with a valid country code"},
		{name: "letters", rules: Defaults(), changes: mod(change{"phoneNumbers/0/value", "+1425555CALL"}), refusal: "contains letters"},
		{name: "too long", rules: Defaults(), changes: mod(change{"phoneNumbers/0/value", "+1425555010012345"}), refusal: "at most 15 digits"},
		{name: "optional phone cleared is skipped", rules: Defaults(), changes: mod(change{"phoneNumbers/1/value", ""}, change{"phoneNumbers/2/value", nil}),
			want: with(func(c *store.Contact) { c.Phones = c.Phones[:1] })},
		{name: "lenient keeps the value, derives E.164", rules: rules(`{"phonePolicy":"lenient","defaultRegion":"GB"}`),
			changes: mod(change{"phoneNumbers/0/value", "+1 (425) 555-0100"}, change{"phoneNumbers/1/value", "07400 123456"}),
			want: with(func(c *store.Contact) {
				c.Phones[0].Value = "+1 (425) 555-0100"
				c.Phones[1].Value = "07400 123456"
			})},
		{name: "lenient national without region", rules: rules(`{"phonePolicy":"lenient"}`), changes: mod(change{"phoneNumbers/1/value", "07400 123456"}),
			refusal: `phoneNumbers[type eq "mobile"].value: "07400 123456" has no country code`, attr: `phoneNumbers[type eq "mobile"].value`},
		{name: "mapped phone comes first", rules: rules(`{"fields":{"phone":"phoneNumbers[type eq \"mobile\"].value"}}`),
			want: with(func(c *store.Contact) { c.Phones[0], c.Phones[1] = c.Phones[1], c.Phones[0] })},
		{name: "mapped phone from an extension", rules: rules(`{"fields":{"phone":"` + cxURN + `:directLine"}}`),
			changes: mod(change{cxURN + "/directLine", "+81312345678"}),
			want: with(func(c *store.Contact) {
				c.Phones = append([]store.Phone{{Value: "+81312345678", E164: "+81312345678"}}, c.Phones...)
			})},
		{name: "mapped phone from an extension is checked", rules: rules(`{"fields":{"phone":"` + cxURN + `:directLine"}}`),
			changes: mod(change{cxURN + "/directLine", "03-1234-5678"}), refusal: cxURN + `:directLine: "03-1234-5678" is not E.164`, attr: cxURN + ":directLine"},
		{name: "non-string phone value", rules: Defaults(), changes: mod(change{"phoneNumbers/0/value", json.Number("14255550100")}),
			refusal: `"14255550100" is not E.164`},

		// fields reading complex values
		{name: "field pointing at an object", rules: rules(`{"fields":{"title":"name"}}`),
			refusal: "name: ", attr: "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := entraUser
			if tt.doc != "" {
				src = tt.doc
			}
			doc := decode(t, src)
			for _, c := range tt.changes {
				set(doc, c.key, c.v)
			}
			got, err := Apply(tt.rules, doc, nil)
			checkApply(t, got, err, tt.want, tt.refusal, tt.attr)
		})
	}
}

func checkApply(t *testing.T, got store.Contact, err error, want store.Contact, refusal, attr string) {
	t.Helper()
	if refusal == "" {
		if err != nil {
			t.Fatalf("Apply refused: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Apply =\n%+v\nwant\n%+v", got, want)
		}
		return
	}
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("Apply = %+v, %v; want a *Refusal", got, err)
	}
	if full, ok := strings.CutPrefix(refusal, "="); ok && err.Error() != full {
		t.Fatalf("refusal\n%s\nwant\n%s", err, full)
	} else if !ok && !strings.Contains(err.Error(), refusal) {
		t.Fatalf("refusal %q does not contain %q", err, refusal)
	}
	if attr != "" && r.Attribute != attr {
		t.Fatalf("refusal attribute %q, want %q", r.Attribute, attr)
	}
}

func TestApplyCustomFields(t *testing.T) {
	field := func(typ, attr string) Rules {
		r := Defaults()
		r.CustomFields = []CustomField{{Name: "f", Source: cxURN + ":" + attr, Type: typ, Overwrite: true}}
		return r
	}
	tests := []struct {
		name, typ string
		value     any // set as cx "v"; nil leaves it absent
		want      any // nil: no custom value
		refusal   string
	}{
		{name: "text string", typ: TypeText, value: "Billing", want: "Billing"},
		{name: "text from number", typ: TypeText, value: json.Number("42.50"), want: "42.50"},
		{name: "text from float", typ: TypeText, value: 1234567.5, want: "1234567.5"},
		{name: "text from int", typ: TypeText, value: int64(7), want: "7"},
		{name: "text from bool", typ: TypeText, value: true, want: "true"},
		{name: "text empty is absent", typ: TypeText, value: "", want: nil},
		{name: "text absent", typ: TypeText, want: nil},
		{name: "text from list", typ: TypeText, value: []any{"a"}, refusal: `: "[\"a\"]" is not a single value (custom field "f" has type text)`},
		{name: "text from object", typ: TypeText, value: map[string]any{"a": "b"}, refusal: "is not a single value"},

		{name: "number", typ: TypeNumber, value: json.Number("3"), want: 3.0},
		{name: "number decimal", typ: TypeNumber, value: json.Number("-2.5e2"), want: -250.0},
		{name: "number string", typ: TypeNumber, value: "4.5", want: 4.5},
		{name: "number float64", typ: TypeNumber, value: 1.25, want: 1.25},
		{name: "number int", typ: TypeNumber, value: 9, want: 9.0},
		{name: "number int64", typ: TypeNumber, value: int64(-9), want: -9.0},
		{name: "number wrong string", typ: TypeNumber, value: "high", refusal: `:v: "high" is not a number (send a JSON number such as 42 or a numeric string such as "42") (custom field "f" has type number)`},
		{name: "number hex string", typ: TypeNumber, value: "0x10", refusal: "is not a number"},
		{name: "number NaN string", typ: TypeNumber, value: "NaN", refusal: "is not a number"},
		{name: "number padded string", typ: TypeNumber, value: " 4", refusal: "is not a number"},
		{name: "number out of range", typ: TypeNumber, value: json.Number("1e999"), refusal: "is out of range"},
		{name: "number bool", typ: TypeNumber, value: true, refusal: `"true" is not a number`},
		{name: "number list", typ: TypeNumber, value: []any{json.Number("1")}, refusal: "is not a number"},

		{name: "boolean", typ: TypeBoolean, value: true, want: true},
		{name: "boolean false", typ: TypeBoolean, value: false, want: false},
		{name: "boolean string", typ: TypeBoolean, value: "TRUE", want: true},
		{name: "boolean string false", typ: TypeBoolean, value: "False", want: false},
		{name: "boolean wrong string", typ: TypeBoolean, value: "yes", refusal: `"yes" is not a boolean (send true or false) (custom field "f" has type boolean)`},
		{name: "boolean number", typ: TypeBoolean, value: json.Number("1"), refusal: "is not a boolean"},

		{name: "date", typ: TypeDate, value: "2024-05-31", want: "2024-05-31"},
		{name: "date-time", typ: TypeDate, value: "2024-05-31T09:00:00Z", want: "2024-05-31T09:00:00Z"},
		{name: "date-time with offset and fraction", typ: TypeDate, value: "2024-05-31T09:00:00.123+02:00", want: "2024-05-31T09:00:00.123+02:00"},
		{name: "date wrong format", typ: TypeDate, value: "31/05/2024", refusal: `"31/05/2024" is not a date (send an RFC 3339 date such as "2024-05-31"`},
		{name: "date impossible", typ: TypeDate, value: "2024-02-30", refusal: "is not a date"},
		{name: "date without zone", typ: TypeDate, value: "2024-05-31T09:00:00", refusal: "is not a date"},
		{name: "date number", typ: TypeDate, value: json.Number("20240531"), refusal: "is not a date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := decode(t, entraUser)
			set(doc, cxURN+"/v", tt.value)
			got, err := Apply(field(tt.typ, "v"), doc, nil)
			if tt.refusal != "" {
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), tt.refusal) || r.Attribute != cxURN+":v" {
					t.Fatalf("Apply = %v; want a refusal of %s:v containing %q", err, cxURN, tt.refusal)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			var want map[string]any
			if tt.want != nil {
				want = map[string]any{"f": tt.want}
			}
			if !reflect.DeepEqual(got.Custom, want) {
				t.Fatalf("Custom = %#v, want %#v", got.Custom, want)
			}
		})
	}
}

func TestApplyCustomFromEnterpriseAndCore(t *testing.T) {
	r, err := Parse([]byte(`{"customFields":[
		{"name":"employeeNumber","source":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","type":"number"},
		{"name":"manager","source":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","type":"text"},
		{"name":"language","source":"preferredLanguage","type":"text"},
		{"name":"locality","source":"addresses[type eq \"work\"].locality","type":"text"},
		{"name":"skill","source":"` + cxURN + `:skill","type":"text"},
		{"name":"level","source":"` + cxURN + `:level","type":"number"},
		{"name":"levelText","source":"` + cxURN + `:levelText","type":"number"},
		{"name":"isAgent","source":"` + cxURN + `:isAgent","type":"boolean"},
		{"name":"agentText","source":"` + cxURN + `:agentText","type":"boolean"},
		{"name":"hired","source":"` + cxURN + `:hired","type":"date"},
		{"name":"shift","source":"` + cxURN + `:shift","type":"date"},
		{"name":"missing","source":"` + cxURN + `:missing","type":"text"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Apply(r, decode(t, entraUser), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"employeeNumber": 1042.0, "manager": "m-1", "language": "en-US", "locality": "Redmond",
		"skill": "Billing", "level": 3.0, "levelText": 4.5, "isAgent": true, "agentText": true,
		"hired": "2021-03-01", "shift": "2024-05-31T09:00:00.5+02:00",
	}
	if !reflect.DeepEqual(got.Custom, want) {
		t.Fatalf("Custom =\n%#v\nwant\n%#v", got.Custom, want)
	}
}

func TestApplyOverwrite(t *testing.T) {
	old := &store.Contact{Custom: map[string]any{"skill": "Sales"}}
	oldOther := &store.Contact{Custom: map[string]any{"other": "x"}}
	tests := []struct {
		name      string
		overwrite bool
		source    any // the new source value; nil: absent
		old       *store.Contact
		want      any // nil: no value
		refused   bool
	}{
		{name: "on: new value replaces old", overwrite: true, source: "Billing", old: old, want: "Billing"},
		{name: "on: absent source drops old", overwrite: true, old: old, want: nil},
		{name: "on: create", overwrite: true, source: "Billing", want: "Billing"},
		{name: "off: old value kept", source: "Billing", old: old, want: "Sales"},
		{name: "off: old value kept when source absent", old: old, want: "Sales"},
		{name: "off: old value kept when source cleared", source: "", old: old, want: "Sales"},
		{name: "off: create takes new", source: "Billing", want: "Billing"},
		{name: "off: old without value takes new", source: "Billing", old: oldOther, want: "Billing"},
		{name: "off: old without value, source absent", old: oldOther, want: nil},
		{name: "off: wrong type still refused", source: map[string]any{}, old: old, refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Defaults()
			r.CustomFields = []CustomField{{Name: "skill", Source: cxURN + ":skill", Type: TypeText, Overwrite: tt.overwrite}}
			doc := decode(t, entraUser)
			set(doc, cxURN+"/skill", tt.source)
			got, err := Apply(r, doc, tt.old)
			if tt.refused {
				var ref *Refusal
				if !errors.As(err, &ref) || !strings.Contains(err.Error(), `custom field "skill"`) {
					t.Fatalf("Apply = %v; want a refusal naming the custom field", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if tt.want != nil {
				want = map[string]any{"skill": tt.want}
			}
			if !reflect.DeepEqual(got.Custom, want) {
				t.Fatalf("Custom = %#v, want %#v", got.Custom, want)
			}
		})
	}
}

// Rules that did not come from Parse fail with a plain error (a server
// problem, not the user's), never a *Refusal or a panic.
func TestApplyInvalidRules(t *testing.T) {
	tests := []struct {
		name string
		r    Rules
		want string
	}{
		{"bad field path", Rules{Fields: map[string]string{"title": "a b"}}, `fields.title: "a b" is not a valid attribute path`},
		{"unknown required", Rules{Required: []string{"phonee"}}, `required: "phonee" is not a contact field`},
		{"required without source", Rules{Required: []string{"phone"}, Fields: map[string]string{"phone": ""}}, "required phone has no source"},
		{"name without source", Rules{Required: []string{"name"}, Fields: map[string]string{"givenName": "", "familyName": ""}}, "required name has no source"},
		{"bad custom path", Rules{CustomFields: []CustomField{{Name: "a", Source: "", Type: TypeText}}}, "customFields[0].source"},
		{"bad custom type", Rules{CustomFields: []CustomField{{Name: "a", Source: "title", Type: "money"}}}, `customFields[0]: type "money"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Apply(tt.r, decode(t, entraUser), nil)
			var ref *Refusal
			if err == nil || errors.As(err, &ref) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply = %v; want a plain error containing %q", err, tt.want)
			}
		})
	}
}

func TestApplyNilDoc(t *testing.T) {
	if _, err := Apply(Defaults(), nil, nil); err == nil {
		t.Fatal("an empty user passed the default rules")
	}
	c, err := Apply(Rules{Required: []string{}}, nil, nil)
	if err != nil || !reflect.DeepEqual(c, store.Contact{}) {
		t.Fatalf("Apply(nil doc) = %+v, %v", c, err)
	}
}

// BenchmarkApply is the per-user cost of validation on the SCIM write
// path: a typical Entra user (three phone numbers), default rules plus two
// custom fields. "repeat" sends the same user again, as Entra does on
// every update; "new" has new phone numbers every time, as on a first sync.
func BenchmarkApply(b *testing.B) {
	r := Defaults()
	r.CustomFields = []CustomField{
		{Name: "skill", Source: cxURN + ":skill", Type: TypeText, Overwrite: true},
		{Name: "level", Source: cxURN + ":level", Type: TypeNumber, Overwrite: true},
	}
	b.Run("repeat", func(b *testing.B) {
		doc := decode(b, entraUser)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Apply(r, doc, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		doc := decode(b, entraUser)
		phones := doc["phoneNumbers"].([]any)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			phones[0].(map[string]any)["value"] = fmt.Sprintf("+1425555%04d", i%10000)
			phones[1].(map[string]any)["value"] = fmt.Sprintf("+447400%06d", i)
			phones[2].(map[string]any)["value"] = fmt.Sprintf("+4930%07d", i%10000000)
			if _, err := Apply(r, doc, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func FuzzApply(f *testing.F) {
	f.Add(`phoneNumbers[type eq "work"].value`, "+14255550100", "text")
	f.Add(cxURN+":level", "3", "number")
	f.Add(`emails[type eq "a" and primary eq true].value`, "x", "boolean")
	f.Add("urn:x:y[", "2024-05-31", "date")
	f.Add(`a[b eq "\u00e9"].c`, "+44 (0) 20", "text")
	f.Fuzz(func(t *testing.T, src, value, typ string) {
		if p, err := parsePath(src); err == nil {
			p.resolve(decode(t, entraUser))
		}
		doc := decode(t, entraUser)
		set(doc, "phoneNumbers/1/value", value)
		set(doc, cxURN+"/skill", value)
		for _, policy := range []string{PhoneStrict, PhoneLenient} {
			r := Rules{PhonePolicy: policy, DefaultRegion: "GB", Required: []string{},
				Fields:       map[string]string{"phone": src, "title": src},
				CustomFields: []CustomField{{Name: "a", Source: src, Type: typ}, {Name: "b", Source: cxURN + ":skill", Type: typ}}}
			c, err := Apply(r, doc, &store.Contact{Custom: map[string]any{"a": 1.0}})
			if err == nil {
				for _, ph := range c.Phones {
					if !IsE164(ph.E164) {
						t.Fatalf("accepted phone %+v has no E.164 form", ph)
					}
				}
			}
			if e, err := NormalizePhone(value, policy, ""); err == nil && !IsE164(e) {
				t.Fatalf("NormalizePhone(%q) = %q", value, e)
			}
		}
	})
}
