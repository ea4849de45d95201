package scim

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
)

func mustDoc(t *testing.T, s string) map[string]any {
	t.Helper()
	m, err := unmarshalDoc([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func patchJSON(t *testing.T, def *resourceDef, doc, ops string) (string, []store.MemberOp, *Error) {
	t.Helper()
	parsed, e := parsePatchBody([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`))
	if e != nil {
		return "", nil, e
	}
	out, members, e := applyPatch(def, mustDoc(t, doc), parsed)
	if e != nil {
		return "", nil, e
	}
	return string(marshalDoc(out)), members, nil
}

const baseUser = `{"userName":"bjensen@example.com","externalId":"bjensen","active":true,
 "name":{"givenName":"Barbara","familyName":"Jensen"},
 "emails":[{"type":"work","value":"bjensen@example.com","primary":true}],
 "phoneNumbers":[{"type":"work","value":"+14255550100"}]}`

func TestPatchUser(t *testing.T) {
	ent := enterpriseURN
	tests := []struct {
		name string
		ops  string
		want string // JSON the patched document must equal
	}{
		{"disable, default dialect", `[{"op":"Replace","path":"active","value":"False"}]`,
			`{"active":false,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com"}`},
		{"disable, compliant dialect", `[{"op":"replace","path":"active","value":false}]`,
			`{"active":false,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com"}`},
		{"path-less with dotted and URN keys",
			`[{"op":"replace","value":{"displayName":"Babs","name.givenName":"Babs","name.familyName":"J","` + ent + `:employeeNumber":"42"}}]`,
			`{"active":true,"displayName":"Babs","emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"J","givenName":"Babs"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com","` + ent + `":{"employeeNumber":"42"}}`},
		{"path-less with nested extension object",
			`[{"op":"add","value":{"` + ent + `":{"department":"Sales"}}}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com","` + ent + `":{"department":"Sales"}}`},
		{"value path add that matches nothing creates the element",
			`[{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+14255550199"}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"},{"type":"mobile","value":"+14255550199"}],"userName":"bjensen@example.com"}`},
		{"value path replace updates in place, names case-insensitive",
			`[{"op":"Replace","path":"emails[Type eq \"WORK\"].Value","value":"b@new.example"}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"b@new.example"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com"}`},
		{"clearing a value path with empty string removes the element",
			`[{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":""}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"userName":"bjensen@example.com"}`},
		{"clearing with null, path-less",
			`[{"op":"replace","value":{"name.givenName":null,"externalId":""}}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"name":{"familyName":"Jensen"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com"}`},
		{"manager as a bare string", `[{"op":"Add","path":"` + ent + `:manager","value":"m-1"}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com","` + ent + `":{"manager":{"value":"m-1"}}}`},
		{"manager unqualified as a list", `[{"op":"Add","path":"manager","value":[{"$ref":"https://x/Users/m-2","value":"m-2"}]}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com","` + ent + `":{"manager":{"$ref":"https://x/Users/m-2","value":"m-2"}}}`},
		{"manager as RFC object then removed with empty string",
			`[{"op":"replace","path":"` + ent + `:manager","value":{"value":"m-3"}},{"op":"Replace","path":"` + ent + `:manager","value":""}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com"}`},
		{"remove a sub-attribute and a whole attribute",
			`[{"op":"remove","path":"name.familyName"},{"op":"remove","path":"emails"}]`,
			`{"active":true,"externalId":"bjensen","name":{"givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com"}`},
		{"remove by value filter",
			`[{"op":"remove","path":"emails[value eq \"BJENSEN@example.com\"]"}]`,
			`{"active":true,"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com"}`},
		{"add to a multi-valued attribute upserts by type",
			`[{"op":"add","path":"emails","value":[{"type":"work","value":"w@x"},{"type":"home","value":"h@x"}]}]`,
			`{"active":true,"emails":[{"type":"work","value":"w@x"},{"type":"home","value":"h@x"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"userName":"bjensen@example.com"}`},
		{"ops apply in order", `[{"op":"replace","path":"title","value":"A"},{"op":"replace","path":"title","value":"B"}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"title":"B","userName":"bjensen@example.com"}`},
		{"unknown keys in a path-less value are ignored", `[{"op":"replace","value":{"nope":"x","title":"T"}}]`,
			`{"active":true,"emails":[{"primary":true,"type":"work","value":"bjensen@example.com"}],"externalId":"bjensen","name":{"familyName":"Jensen","givenName":"Barbara"},"phoneNumbers":[{"type":"work","value":"+14255550100"}],"title":"T","userName":"bjensen@example.com"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, e := patchJSON(t, userDef, baseUser, tt.ops)
			if e != nil {
				t.Fatalf("error: %v", e)
			}
			var g, w any
			_ = json.Unmarshal([]byte(got), &g)
			if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(g, w) {
				t.Errorf("got  %s\nwant %s", got, marshalDoc(w.(map[string]any)))
			}
		})
	}
}

func TestPatchUserErrors(t *testing.T) {
	tests := []struct {
		name, ops, scimType, inDetail string
	}{
		{"unknown path", `[{"op":"replace","path":"nickNam","value":"x"}]`, "invalidPath", `no attribute "nickNam"`},
		{"malformed path", `[{"op":"replace","path":"emails[type eq","value":"x"}]`, "invalidPath", "path"},
		{"wrong type", `[{"op":"replace","path":"active","value":"maybe"}]`, "invalidValue", "active must be a boolean"},
		{"clearing userName", `[{"op":"replace","path":"userName","value":""}]`, "invalidValue", "userName is required"},
		{"removing userName", `[{"op":"remove","path":"userName"}]`, "invalidValue", "userName is required"},
		{"bad op", `[{"op":"merge","path":"title","value":"x"}]`, "invalidValue", `"merge"`},
		{"remove without path", `[{"op":"remove"}]`, "noTarget", "needs a path"},
		{"path-less non-object", `[{"op":"replace","value":"x"}]`, "invalidValue", "object value"},
		{"second op fails, whole request fails", `[{"op":"replace","path":"title","value":"ok"},{"op":"replace","path":"title","value":7}]`, "invalidValue", "Operations[1]"},
		{"duplicate type", `[{"op":"add","path":"emails","value":[{"type":"home","value":"a"},{"type":"Home","value":"b"}]}]`, "invalidValue", "more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, e := patchJSON(t, userDef, baseUser, tt.ops)
			if e == nil {
				t.Fatal("no error")
			}
			if e.ScimType != tt.scimType || !strings.Contains(e.Detail, tt.inDetail) {
				t.Errorf("got %s %q, want %s containing %q", e.ScimType, e.Detail, tt.scimType, tt.inDetail)
			}
		})
	}
}

func TestPatchGroupMembers(t *testing.T) {
	tests := []struct {
		name, ops string
		want      []store.MemberOp
		doc       string
	}{
		{"add, default dialect", `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"},{"value":"u2"}]}]`,
			[]store.MemberOp{{Kind: store.MembersAdd, UserIDs: []string{"u1", "u2"}}}, ""},
		{"remove with a value list removes only those", `[{"op":"Remove","path":"members","value":[{"value":"u1"}]}]`,
			[]store.MemberOp{{Kind: store.MembersRemove, UserIDs: []string{"u1"}}}, ""},
		{"remove by filter, compliant dialect", `[{"op":"remove","path":"members[value eq \"u2\"]"}]`,
			[]store.MemberOp{{Kind: store.MembersRemove, UserIDs: []string{"u2"}}}, ""},
		{"remove without value removes all", `[{"op":"remove","path":"members"}]`,
			[]store.MemberOp{{Kind: store.MembersRemoveAll}}, ""},
		{"replace members", `[{"op":"replace","path":"members","value":[{"value":"u3"}]}]`,
			[]store.MemberOp{{Kind: store.MembersRemoveAll}, {Kind: store.MembersAdd, UserIDs: []string{"u3"}}}, ""},
		{"path-less displayName and members", `[{"op":"replace","value":{"displayName":"New","members":[{"value":"u4"}]}}]`,
			[]store.MemberOp{{Kind: store.MembersRemoveAll}, {Kind: store.MembersAdd, UserIDs: []string{"u4"}}}, `{"displayName":"New"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, members, e := patchJSON(t, groupDef, `{"displayName":"Sales"}`, tt.ops)
			if e != nil {
				t.Fatal(e)
			}
			if !jsonEqual(members, tt.want) {
				t.Errorf("members: got %+v want %+v", members, tt.want)
			}
			want := tt.doc
			if want == "" {
				want = `{"displayName":"Sales"}`
			}
			if doc != want {
				t.Errorf("doc: got %s want %s", doc, want)
			}
		})
	}
}
