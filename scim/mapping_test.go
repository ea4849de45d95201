package scim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
)

const cxUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
	"userName":"agent@contoso.com","externalId":"6f1c2d7e-0000-4000-8000-000000000001","active":true,
	"name":{"givenName":"Ada","familyName":"Agent"},
	"emails":[{"type":"work","value":"agent@contoso.com","primary":true}],
	"phoneNumbers":[{"type":"work","value":"+14255550100"},{"type":"mobile","value":"+447400123456"}]}`

// events returns the directory's sync log, newest first.
func (ts *testServer) events() []store.SyncEvent {
	ts.t.Helper()
	evs, err := ts.store.ListSyncEvents(ts.t.Context(), ts.dirID, store.SyncQuery{Limit: 1000})
	if err != nil {
		ts.t.Fatal(err)
	}
	return evs
}

// TestCXRulesRefusals runs the default (CX) rules end to end: each refusal
// is a 400 invalidValue naming the attribute, the value and what is
// expected; nothing is stored; a Failed event with the same reason is
// logged.
func TestCXRulesRefusals(t *testing.T) {
	ts := newTestServer(t)
	ts.setMapping("") // the defaults
	without := func(old string) string { return strings.Replace(cxUser, old, "", 1) }
	tests := []struct {
		name, body string
		inDetail   []string
	}{
		{"no work phone", without(`{"type":"work","value":"+14255550100"},`),
			[]string{`phoneNumbers[type eq "work"].value`, "required"}},
		{"work phone not E.164", strings.Replace(cxUser, "+14255550100", "555 1234", 1),
			[]string{`phoneNumbers[type eq "work"].value`, `"555 1234"`, "E.164", "+"}},
		{"mobile not E.164 either", strings.Replace(cxUser, "+447400123456", "07400 123456", 1),
			[]string{`"07400 123456"`, "E.164"}},
		{"no externalId", without(`"externalId":"6f1c2d7e-0000-4000-8000-000000000001",`),
			[]string{"externalId", "required"}},
		{"no name", without(`"name":{"givenName":"Ada","familyName":"Agent"},`),
			[]string{"name.givenName", "name.familyName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("POST", "/Users", tt.body)
			if r.status != 400 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			e := r.json(t)
			detail, _ := e["detail"].(string)
			if e["scimType"] != "invalidValue" {
				t.Errorf("scimType %v", e["scimType"])
			}
			for _, want := range tt.inDetail {
				if !strings.Contains(detail, want) {
					t.Errorf("detail %q does not contain %q", detail, want)
				}
			}
			if n := ts.do("GET", "/Users?filter="+q(`userName eq "agent@contoso.com"`), nil).json(t)["totalResults"]; n != float64(0) {
				t.Errorf("a refused user was stored (%v)", n)
			}
			ev := ts.events()[0]
			if !ev.Failed || ev.Operation != store.SyncCreate || ev.Result != detail || ev.Identity != "agent@contoso.com" || !ev.New {
				t.Errorf("sync event %+v does not record the refusal %q", ev, detail)
			}
		})
	}

	// The valid user is accepted, and its contact carries E.164 phones.
	r := ts.do("POST", "/Users", cxUser)
	if r.status != 201 {
		t.Fatalf("valid CX user: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	u, err := ts.store.GetUser(t.Context(), ts.dirID, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Contact.Phones) != 2 || u.Contact.Phones[1].E164 != "+447400123456" || u.Contact.ObjectID != "6f1c2d7e-0000-4000-8000-000000000001" {
		t.Errorf("contact %+v", u.Contact)
	}
	if ev := ts.events()[0]; ev.Failed || ev.ResourceID != id || ev.Operation != store.SyncCreate {
		t.Errorf("create event %+v", ev)
	}

	// A PATCH that clears the required phone is refused and stores nothing.
	r = ts.do("PATCH", "/Users/"+id, patchBody(`[{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":""}]`))
	if r.status != 400 || !strings.Contains(string(r.body), "required") {
		t.Errorf("clearing the work phone: %d %s", r.status, r.body)
	}
	if ev := ts.events()[0]; !ev.Failed || ev.ResourceID != id || ev.Identity != "agent@contoso.com" {
		t.Errorf("refused PATCH event %+v", ev)
	}
	if phones := ts.do("GET", "/Users/"+id, nil).json(t)["phoneNumbers"].([]any); len(phones) != 2 {
		t.Errorf("refused PATCH changed the user: %v", phones)
	}
	// Clearing an optional attribute still works.
	r = ts.do("PATCH", "/Users/"+id, patchBody(`[{"op":"replace","path":"emails[type eq \"work\"].value","value":null}]`))
	if r.status != 200 {
		t.Errorf("clearing the optional email: %d %s", r.status, r.body)
	}
	if ev := ts.events()[0]; ev.Operation != store.SyncUpdate || ev.Result != "updated emails" {
		t.Errorf("update event %+v, want the changed attribute named", ev)
	}
	// Disabling is logged as such.
	ts.do("PATCH", "/Users/"+id, patchBody(`[{"op":"Replace","path":"active","value":"False"}]`))
	if ev := ts.events()[0]; ev.Operation != store.SyncDisable || ev.Failed || ev.New {
		t.Errorf("disable event %+v", ev)
	}
	// A PUT without the work phone is refused too.
	r = ts.do("PUT", "/Users/"+id, without(`{"type":"work","value":"+14255550100"},`))
	if r.status != 400 {
		t.Errorf("PUT without the work phone: %d %s", r.status, r.body)
	}
}

func TestCustomFieldsFromAnEntraExtension(t *testing.T) {
	ts := newTestServer(t)
	const ext = "urn:ietf:params:scim:schemas:extension:cx:2.0:User"
	ts.setMapping(`{"phonePolicy":"strict","required":["userName"],"customFields":[
		{"name":"skill","source":"` + ext + `:skillLevel","type":"number","overwrite":false},
		{"name":"costCenter","source":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","type":"text","overwrite":true},
		{"name":"badge","source":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","type":"number","overwrite":true}]}`)

	// The directory advertises the extension it accepts.
	r := ts.do("GET", "/Schemas", nil)
	if !strings.Contains(string(r.body), ext) || !strings.Contains(string(r.body), "skillLevel") {
		t.Errorf("/Schemas does not list %s: %s", ext, r.body)
	}
	r = ts.do("GET", "/ResourceTypes/User", nil)
	if !strings.Contains(string(r.body), ext) {
		t.Errorf("/ResourceTypes/User does not list %s: %s", ext, r.body)
	}

	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ext + `"],"userName":"c@contoso.com",
		"` + ext + `":{"skillLevel":3},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"CC-1","employeeNumber":"42"}}`
	r = ts.do("POST", "/Users", body)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	contact := func() store.Contact {
		u, err := ts.store.GetUser(t.Context(), ts.dirID, id)
		if err != nil {
			t.Fatal(err)
		}
		return u.Contact
	}
	if c := contact(); c.Custom["skill"] != float64(3) || c.Custom["costCenter"] != "CC-1" || c.Custom["badge"] != float64(42) {
		t.Errorf("custom fields %v", c.Custom)
	}

	// overwrite off: the contact keeps its first value, while SCIM returns
	// what Entra wrote.
	r = ts.do("PATCH", "/Users/"+id, patchBody(`[{"op":"replace","path":"`+ext+`:skillLevel","value":5},
		{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","value":"CC-2"}]`))
	if r.status != 200 || !strings.Contains(string(r.body), `"skillLevel":5`) {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	if c := contact(); c.Custom["skill"] != float64(3) || c.Custom["costCenter"] != "CC-2" {
		t.Errorf("after PATCH: custom fields %v (skill must stay 3, costCenter become CC-2)", c.Custom)
	}

	// A value of the wrong type is refused, naming the field.
	for _, bad := range []struct{ ops, inDetail string }{
		{`[{"op":"replace","path":"` + ext + `:skillLevel","value":"expert"}]`, "skillLevel"},
		{`[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"E-42"}]`, "badge"},
	} {
		r = ts.do("PATCH", "/Users/"+id, patchBody(bad.ops))
		if r.status != 400 || !strings.Contains(string(r.body), bad.inDetail) {
			t.Errorf("wrong type: %d %s (want 400 naming %s)", r.status, r.body, bad.inDetail)
		}
	}
}

func TestGroupWritesAreLogged(t *testing.T) {
	ts := newTestServer(t)
	uid := ts.createUser("m@contoso.com")
	r := ts.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales"}`)
	gid := r.json(t)["id"].(string)
	ts.do("PATCH", "/Groups/"+gid, patchBody(`[{"op":"Add","path":"members","value":[{"value":"`+uid+`"}]}]`))
	if ev := ts.events()[0]; ev.Operation != store.SyncMembersAdded || ev.Identity != "Sales" || ev.ResourceID != gid || ev.Result != "1 member added" {
		t.Errorf("members added event %+v", ev)
	}
	ts.do("PATCH", "/Groups/"+gid, patchBody(`[{"op":"remove","path":"members[value eq \"`+uid+`\"]"}]`))
	if ev := ts.events()[0]; ev.Operation != store.SyncMembersRemoved {
		t.Errorf("members removed event %+v", ev)
	}
	r = ts.do("PATCH", "/Groups/"+gid, patchBody(`[{"op":"Add","path":"members","value":[{"value":"nobody"}]}]`))
	if ev := ts.events()[0]; r.status != 400 || !ev.Failed || !strings.Contains(ev.Result, "nobody") {
		t.Errorf("refused member add: %d, event %+v", r.status, ev)
	}
	ts.doWith("DELETE", ts.base+"/Groups/"+gid, ts.token, nil, http.Header{})
	if ev := ts.events()[0]; ev.Operation != store.SyncDelete || ev.Identity != "Sales" {
		t.Errorf("delete event %+v", ev)
	}
}
