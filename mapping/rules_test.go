package mapping

import (
	"reflect"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	d := Defaults()
	if d.PhonePolicy != PhoneStrict || d.DefaultRegion != "" {
		t.Errorf("policy %q region %q", d.PhonePolicy, d.DefaultRegion)
	}
	if want := []string{"userName", "externalId", "phone", "name"}; !reflect.DeepEqual(d.Required, want) {
		t.Errorf("required %q, want %q", d.Required, want)
	}
	want := map[string]string{
		"login":       "userName",
		"objectId":    "externalId",
		"phone":       `phoneNumbers[type eq "work"].value`,
		"givenName":   "name.givenName",
		"familyName":  "name.familyName",
		"displayName": "displayName",
		"email":       `emails[type eq "work"].value`,
		"title":       "title",
		"department":  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
	}
	if !reflect.DeepEqual(d.Fields, want) {
		t.Errorf("fields %q, want %q", d.Fields, want)
	}
	if d.CustomFields != nil || !reflect.DeepEqual(d.Visibility, Visibility{}) {
		t.Errorf("custom %v visibility %v, want none", d.CustomFields, d.Visibility)
	}
	// Each call returns its own map.
	d.Fields["phone"] = "x"
	if Defaults().Fields["phone"] == "x" {
		t.Error("Defaults shares its Fields map")
	}
}

func TestParse(t *testing.T) {
	withFields := func(kv ...string) Rules {
		r := Defaults()
		for i := 0; i < len(kv); i += 2 {
			r.Fields[kv[i]] = kv[i+1]
		}
		return r
	}
	tests := []struct {
		name string
		doc  string
		want func() Rules
	}{
		{"nil", "", Defaults},
		{"spaces", " \n ", Defaults},
		{"null", "null", Defaults},
		{"empty object", "{}", Defaults},
		{"null keys take defaults", `{"phonePolicy":null,"required":null,"fields":null,"customFields":null,"visibility":null}`, Defaults},
		{"empty region is none", `{"defaultRegion":""}`, Defaults},
		{"lenient with region, lower case accepted", `{"phonePolicy":"lenient","defaultRegion":"gb"}`, func() Rules {
			r := Defaults()
			r.PhonePolicy, r.DefaultRegion = PhoneLenient, "GB"
			return r
		}},
		{"nothing required", `{"required":[]}`, func() Rules {
			r := Defaults()
			r.Required = []string{}
			return r
		}},
		{"only userName", `{"required":["userName"]}`, func() Rules {
			r := Defaults()
			r.Required = []string{"userName"}
			return r
		}},
		{"missing fields keep defaults, empty unmaps", `{"required":["userName"],"fields":{"phone":"phoneNumbers[type eq \"mobile\"].value","title":""}}`, func() Rules {
			r := withFields("phone", `phoneNumbers[type eq "mobile"].value`, "title", "")
			r.Required = []string{"userName"}
			return r
		}},
		{"custom fields, overwrite defaults to true", `{"customFields":[
			{"name":"skill","source":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill","type":"text"},
			{"name":"costCenter","source":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","type":"number","overwrite":false}]}`, func() Rules {
			r := Defaults()
			r.CustomFields = []CustomField{
				{Name: "skill", Source: "urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill", Type: "text", Overwrite: true},
				{Name: "costCenter", Source: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", Type: "number"},
			}
			return r
		}},
		{"empty lists are none", `{"customFields":[],"visibility":{"onlyGroups":[],"domains":[]}}`, Defaults},
		{"visibility", `{"visibility":{"onlyGroups":["Sales*","Support"],"excludeGroups":["Contractors"],"domains":["contoso.com"]}}`, func() Rules {
			r := Defaults()
			r.Visibility = Visibility{OnlyGroups: []string{"Sales*", "Support"}, ExcludeGroups: []string{"Contractors"}, Domains: []string{"contoso.com"}}
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if want := tt.want(); !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse =\n%#v\nwant\n%#v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // every one must be reported
	}{
		{"not an object", `[1]`, []string{"the mapping rules must be a JSON object"}},
		{"malformed", `{"phonePolicy":`, []string{"the mapping rules are not valid JSON: unexpected end of JSON input"}},
		{"trailing data", `{} {}`, []string{"the mapping rules are not valid JSON: invalid character '{' after top-level value (at byte 4)"}},
		{"many problems at once", `{
			"phonePolicy": "loose",
			"defaultRegion": "XX",
			"required": ["phonee", "userName", "userName", "username"],
			"fields": {"phone": "phoneNumbers[type eq", "mobile": "x", "title": 3},
			"customFields": [
				{"name": "skill", "source": "urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill", "type": "text"},
				{"name": "level", "source": "title", "type": "money"},
				{"name": "Skill", "source": "title", "type": "text"},
				{"name": "email", "source": "title", "type": "text"},
				{"name": "9lives", "source": "bad path!", "type": "text", "sorce": "x"},
				{"source": "title"},
				{"name": "n", "source": "title", "type": "text", "overwrite": "yes"},
				{"name": "", "source": "", "type": ""},
				"oops"
			],
			"visibility": {"onlyGroups": ["", "Sal*es"], "excludeGroups": [" "], "domains": ["@contoso.com", "", "a b"], "users": []},
			"PhonePolicy": "strict",
			"extra": 1
		}`, []string{
			`unknown key "PhonePolicy" (did you mean "phonePolicy"?)`,
			`unknown key "extra" (known: phonePolicy, defaultRegion, required, fields, customFields, visibility)`,
			`phonePolicy: "loose" must be "strict" or "lenient"`,
			`defaultRegion: "XX" is not a region phonenumbers knows`,
			`required: "phonee" is not a contact field (userName, externalId, phone, name, email)`,
			`required: "userName" is listed twice`,
			`required: "username" is not a contact field (did you mean "userName"?)`,
			`fields: unknown key "mobile" (known: login, objectId, phone,`,
			`fields.phone: "phoneNumbers[type eq" is not a valid attribute path`,
			`fields.title: must be a string`,
			`customFields[1].type: "money" must be text, number, boolean or date`,
			`customFields[2].name: "Skill" is already the name of customFields[0]`,
			`customFields[3].name: "email" clashes with the built-in contact field "email"`,
			`customFields[4]: unknown key "sorce" (known: name, source, type, overwrite)`,
			`customFields[4].name: "9lives" must start with a letter`,
			`customFields[4].source: "bad path!" is not a valid attribute path`,
			`customFields[5].name: missing`,
			`customFields[5].type: missing`,
			`customFields[6].overwrite: must be true or false`,
			`customFields[7].name: empty`,
			`customFields[7].source: empty`,
			`customFields[7].type: empty`,
			`customFields[8]: must be an object`,
			`visibility: unknown key "users"`,
			`visibility.onlyGroups[0]: empty group pattern`,
			`visibility.onlyGroups[1]: "Sal*es" may only use "*" at its end`,
			`visibility.excludeGroups[0]: empty group pattern`,
			`visibility.domains[0]: "@contoso.com" must be a bare domain such as "contoso.com"`,
			`visibility.domains[1]: empty domain`,
			`visibility.domains[2]: "a b" is not a domain name`,
		}},
		{"wrong JSON types", `{"phonePolicy":1,"defaultRegion":true,"required":"phone","fields":[],"customFields":{},"visibility":[]}`, []string{
			"phonePolicy: must be a string",
			"defaultRegion: must be a string",
			"required: must be an array of strings",
			"fields: must be an object",
			"customFields: must be an array of objects",
			"visibility: must be an object",
		}},
		{"required field unmapped", `{"fields":{"phone":"","givenName":"","familyName":""}}`, []string{
			`required: "phone" has no source`,
			`required: "name" has no source`,
		}},
		{"paths", `{"fields":{
			"login": "http://x:userName",
			"objectId": "emails[type eq \"work\"]",
			"phone": "phoneNumbers[type ne \"work\"].value",
			"givenName": "name.",
			"familyName": "name.familyName.x",
			"displayName": "emails[type eq \"work\" or primary eq true].value",
			"email": "emails[type eq work].value",
			"title": "urn:x:y:attr[type eq \"a\"",
			"department": "1title"}}`, []string{
			`fields.login: "http://x:userName" is not a valid attribute path (only "urn:" schema prefixes`,
			`fields.objectId: "emails[type eq \"work\"]" is not a valid attribute path (a filter must be followed by a sub-attribute`,
			`fields.phone: "phoneNumbers[type ne \"work\"].value" is not a valid attribute path (filters may only use "eq"`,
			`fields.givenName: "name." is not a valid attribute path (expected a sub-attribute name`,
			`fields.familyName: "name.familyName.x" is not a valid attribute path (unexpected ".x")`,
			`fields.displayName: "emails[type eq \"work\" or primary eq true].value" is not a valid attribute path (filter terms may only be joined by "and")`,
			`fields.email: "emails[type eq work].value" is not a valid attribute path (expected a quoted string, true or false`,
			`fields.title: "urn:x:y:attr[type eq \"a\"" is not a valid attribute path (unclosed "[")`,
			`fields.department: "1title" is not a valid attribute path (expected an attribute name`,
		}},
		{"custom extension rules", `{"customFields":[
			{"name":"a","source":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill","type":"text"},
			{"name":"b","source":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:Skill","type":"number"},
			{"name":"c","source":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:team.name","type":"text"}]}`, []string{
			`customFields[1].source: "urn:ietf:params:scim:schemas:extension:cx:2.0:User:Skill" is read as decimal here but as string by customFields[0]`,
			`customFields[2].source: "urn:ietf:params:scim:schemas:extension:cx:2.0:User:team.name" reads into a custom extension attribute`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", r)
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || strings.Contains(l, w)
				}
				if !found {
					t.Errorf("missing problem %q in:\n%v", w, err)
				}
			}
			if len(lines) != len(tt.want) {
				t.Errorf("%d problems reported, want %d:\n%v", len(lines), len(tt.want), err)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	docs := []string{
		"",
		`{"required":[]}`,
		`{"phonePolicy":"lenient","defaultRegion":"DE","required":["userName","email"],
		  "fields":{"title":"","email":"emails[type eq \"work\" and primary eq true].value","phone":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:directLine"},
		  "customFields":[{"name":"skill","source":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:skill","type":"text","overwrite":false},
		                  {"name":"hired","source":"urn:ietf:params:scim:schemas:extension:cx:2.0:User:hired","type":"date"}],
		  "visibility":{"onlyGroups":["Sales*"],"excludeGroups":["Temps"],"domains":["contoso.com"]}}`,
	}
	for _, doc := range docs {
		r, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("Parse(%s): %v", doc, err)
		}
		b := r.Marshal()
		back, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal) of %s: %v", b, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip of %s:\n%#v\nwant\n%#v", b, back, r)
		}
		if again := back.Marshal(); string(again) != string(b) {
			t.Fatalf("Marshal is not canonical:\n%s\n%s", b, again)
		}
	}
}

func TestMarshalCanonical(t *testing.T) {
	// Go-built rules: empty policy, nil lists and a partial Fields map are
	// written out in full, readably.
	r := Rules{Fields: map[string]string{"phone": `phoneNumbers[type eq "mobile"].value`}}
	want := `{"phonePolicy":"strict","required":[],"fields":{"department":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",` +
		`"displayName":"displayName","email":"emails[type eq \"work\"].value","familyName":"name.familyName","givenName":"name.givenName",` +
		`"login":"userName","objectId":"externalId","phone":"phoneNumbers[type eq \"mobile\"].value","title":"title"},"customFields":[],"visibility":{}}`
	if got := string(r.Marshal()); got != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(string(Defaults().Marshal()), `\u003c`) {
		t.Fatal("HTML escaping in Marshal")
	}
}

func TestExtensions(t *testing.T) {
	const cx = "urn:ietf:params:scim:schemas:extension:cx:2.0:User"
	const hr = "urn:ietf:params:scim:schemas:extension:hr:2.0:User"
	tests := []struct {
		name string
		r    Rules
		want []Extension
	}{
		{"defaults have none", Defaults(), []Extension{}},
		{"core and enterprise are not custom", Rules{CustomFields: []CustomField{
			{Name: "a", Source: "urn:ietf:params:scim:schemas:core:2.0:User:nickName", Type: TypeText},
			{Name: "b", Source: EnterpriseURN + ":costCenter", Type: TypeNumber},
			{Name: "c", Source: "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User:division", Type: TypeText},
			{Name: "d", Source: "nickName", Type: TypeText},
		}}, []Extension{}},
		{"grouped by URN, sorted, one entry per attribute", Rules{
			Fields: map[string]string{"phone": cx + ":directLine"},
			CustomFields: []CustomField{
				{Name: "skill", Source: cx + ":skill", Type: TypeText},
				{Name: "hired", Source: hr + ":hired", Type: TypeDate},
				{Name: "level", Source: cx + ":level", Type: TypeNumber},
				{Name: "agent", Source: cx + ":isAgent", Type: TypeBoolean},
				{Name: "skill2", Source: cx + ":SKILL", Type: TypeText},
			}}, []Extension{
			{URN: cx, Attributes: []ExtensionAttribute{
				{Name: "directLine", Type: "string"},
				{Name: "isAgent", Type: "boolean"},
				{Name: "level", Type: "decimal"},
				{Name: "skill", Type: "string"},
			}},
			{URN: hr, Attributes: []ExtensionAttribute{{Name: "hired", Type: "dateTime"}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Extensions(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Extensions =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestRefusalError(t *testing.T) {
	tests := []struct {
		r    Refusal
		want string
	}{
		{Refusal{Attribute: `phoneNumbers[type eq "work"].value`, Value: "555 1234", Reason: "is not E.164"},
			`phoneNumbers[type eq "work"].value: "555 1234" is not E.164`},
		{Refusal{Attribute: "userName", Reason: "is required"}, "userName is required"},
		{Refusal{Value: "x", Reason: "is not a phone number"}, `"x" is not a phone number`},
		{Refusal{Reason: "no"}, "no"},
	}
	for _, tt := range tests {
		if got := tt.r.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
