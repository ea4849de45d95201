package fakegraph

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPresencesBatch(t *testing.T) {
	f := newFixture(t, Config{})
	tok := token(t, f)
	f.fake.SetPresence(strings.ToUpper(userA), "Busy", "InACall")

	const clientReq = "c0ffee00-1111-4222-8333-444455556666"
	body := `{"ids":["` + strings.ToUpper(userA) + `","` + userB + `"]}`
	req, _ := http.NewRequest("POST", f.url+"/v1.0/communications/getPresencesByUserId", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("client-request-id", clientReq)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != graphContentType {
		t.Errorf("Content-Type %q", got)
	}
	if !isGUID(resp.Header.Get("request-id")) || resp.Header.Get("client-request-id") != clientReq {
		t.Errorf("request-id %q, client-request-id %q", resp.Header.Get("request-id"), resp.Header.Get("client-request-id"))
	}
	var got struct {
		Context string            `json:"@odata.context"`
		Value   []json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Context != "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.presence)" {
		t.Errorf("@odata.context %q", got.Context)
	}
	if len(got.Value) != 1 { // userB is unknown, so omitted
		t.Fatalf("value has %d entries: %s", len(got.Value), got.Value)
	}
	var p struct{ SequenceNumber string }
	json.Unmarshal(got.Value[0], &p)
	want := `{"id":"` + userA + `","availability":"Busy","activity":"InACall","statusMessage":null,` +
		`"outOfOfficeSettings":{"message":null,"isOutOfOffice":false},"sequenceNumber":"` + p.SequenceNumber + `",` +
		`"workLocation":{"workLocationType":null,"source":null,"placeId":null}}`
	if string(got.Value[0]) != want || p.SequenceNumber == "" {
		t.Errorf("presence\n got %s\nwant %s", got.Value[0], want)
	}
}

func TestPresencesAlias(t *testing.T) {
	f := newFixture(t, Config{})
	f.fake.SetPresence(userA, "Away", "Away")
	g := do(t, http.DefaultClient, "POST", f.url+"/v1.0/communications/microsoft.graph.getPresencesByUserId", token(t, f), `{"ids":["`+userA+`"]}`)
	if g.status != http.StatusOK || g.values()[userA]["availability"] != "Away" {
		t.Fatalf("alias: %d %s", g.status, g.raw)
	}
}

func TestPresencesBadRequests(t *testing.T) {
	f := newFixture(t, Config{AutoPresence: time.Minute})
	tok := token(t, f)
	ids650, ids651 := idList(650), idList(651)
	if g := f.presences(t, tok, ids650...); g.status != http.StatusOK || len(g.values()) != 650 {
		t.Fatalf("650 ids: %d, %d values", g.status, len(g.values()))
	}
	tests := map[string]string{
		"651 ids":          mustJSON(map[string][]string{"ids": ids651}),
		"not a GUID":       `{"ids":["` + userA + `","alice@contoso.com"]}`,
		"GUID in braces":   `{"ids":["{` + userA + `}"]}`,
		"malformed":        `{"ids":[`,
		"trailing data":    `{"ids":[]} {}`,
		"number id":        `{"ids":[1]}`,
		"null id":          `{"ids":[null]}`,
		"no ids":           `{}`,
		"unknown property": `{"ids":[],"select":"availability"}`,
	}
	for name, body := range tests {
		g := do(t, http.DefaultClient, "POST", f.url+"/v1.0/communications/getPresencesByUserId", tok, body)
		if g.status != http.StatusBadRequest || g.errorCode() != "BadRequest" {
			t.Errorf("%s: %d %s", name, g.status, g.raw)
		}
	}
	if g := do(t, http.DefaultClient, "POST", f.url+"/v1.0/communications/getPresencesByUserId", tok, `{"ids":[]}`); g.status != http.StatusOK || g.raw != `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.presence)","value":[]}` {
		t.Errorf("empty ids: %d %s", g.status, g.raw)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestPresencesUnauthorized(t *testing.T) {
	f := newFixture(t, Config{})
	for name, tok := range map[string]string{"missing": "", "unknown": "not-issued-here"} {
		g := f.presences(t, tok, userA)
		if g.status != http.StatusUnauthorized || g.errorCode() != "InvalidAuthenticationToken" {
			t.Errorf("%s token: %d %s", name, g.status, g.raw)
			continue
		}
		inner := g.body["error"].(map[string]any)["innerError"].(map[string]any)
		if inner["date"] != f.clock.Now().Format("2006-01-02T15:04:05") ||
			inner["request-id"] != g.header.Get("request-id") || !isGUID(inner["client-request-id"].(string)) {
			t.Errorf("%s token: innerError %v", name, inner)
		}
	}
	if g := f.presences(t, "not-issued-here", userA); !strings.Contains(g.raw, "Access token has expired or is not yet valid.") {
		t.Errorf("unknown token message: %s", g.raw)
	}
}

func TestRevokeConsent(t *testing.T) {
	f := newFixture(t, Config{})
	f.fake.SetPresence(userA, "Busy", "Busy")
	old := token(t, f)
	f.fake.RevokeConsent()
	fresh := token(t, f) // still issued
	for _, tok := range []string{old, fresh} {
		g := f.presences(t, tok, userA)
		if g.status != http.StatusForbidden || g.errorCode() != "Forbidden" || !strings.Contains(g.raw, "Presence.Read.All") {
			t.Fatalf("after revoke: %d %s", g.status, g.raw)
		}
	}
	g := do(t, http.DefaultClient, "GET", f.url+"/v1.0/users/"+userA+"/presence", fresh, "")
	if g.status != http.StatusForbidden {
		t.Fatalf("single presence after revoke: %d", g.status)
	}
	f.fake.GrantConsent()
	if g := f.presences(t, old, userA); g.status != http.StatusOK {
		t.Fatalf("after grant: %d %s", g.status, g.raw)
	}
}

func TestSetPresenceAndDeleteUser(t *testing.T) {
	f := newFixture(t, Config{})
	tok := token(t, f)
	f.fake.SetPresence(userA, "Available", "Available")
	first := f.presences(t, tok, userA).values()[userA]
	f.fake.SetPresence(userA, "Available", "Available") // same state, new stamp
	second := f.presences(t, tok, userA).values()[userA]
	if !(second["sequenceNumber"].(string) > first["sequenceNumber"].(string)) {
		t.Errorf("sequenceNumber did not grow: %v then %v", first["sequenceNumber"], second["sequenceNumber"])
	}
	f.fake.SetPresence(userA, "Offline", "OutOfOffice")
	p := f.presences(t, tok, userA).values()[userA]
	if p["activity"] != "OutOfOffice" || p["outOfOfficeSettings"].(map[string]any)["isOutOfOffice"] != true {
		t.Errorf("out of office: %v", p)
	}

	f.fake.DeleteUser(strings.ToUpper(userA))
	if g := f.presences(t, tok, userA); len(g.values()) != 0 {
		t.Errorf("deleted user still answered: %s", g.raw)
	}
	if g := do(t, http.DefaultClient, "GET", f.url+"/v1.0/users/"+userA+"/presence", tok, ""); g.status != http.StatusNotFound || g.errorCode() != "NotFound" {
		t.Errorf("deleted user, single call: %d %s", g.status, g.raw)
	}
	f.fake.SetPresence(userA, "Busy", "InAMeeting")
	if g := f.presences(t, tok, userA); g.values()[userA]["activity"] != "InAMeeting" {
		t.Errorf("re-created user: %s", g.raw)
	}
}

func TestUserPresence(t *testing.T) {
	f := newFixture(t, Config{})
	tok := token(t, f)
	f.fake.SetPresence(userA, "DoNotDisturb", "Presenting")
	g := do(t, http.DefaultClient, "GET", f.url+"/v1.0/users/"+strings.ToUpper(userA)+"/presence", tok, "")
	if g.status != http.StatusOK || g.body["availability"] != "DoNotDisturb" || g.body["id"] != userA ||
		g.body["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#users('"+userA+"')/presence/$entity" {
		t.Fatalf("got %d %s", g.status, g.raw)
	}
	if g := do(t, http.DefaultClient, "GET", f.url+"/v1.0/users/"+userB+"/presence", tok, ""); g.status != http.StatusNotFound || g.errorCode() != "NotFound" {
		t.Errorf("unknown user: %d %s", g.status, g.raw)
	}
	if g := do(t, http.DefaultClient, "GET", f.url+"/v1.0/users/"+userA+"/presence", "", ""); g.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", g.status)
	}
}

func TestAutoPresence(t *testing.T) {
	f := newFixture(t, Config{AutoPresence: time.Minute})
	twin := newFixture(t, Config{AutoPresence: time.Minute}) // same start time, same answers
	tok, twinTok := token(t, f), token(t, twin)
	f.clock.Advance(53 * time.Second) // to 05:07:00, a bucket's start
	twin.clock.Advance(53 * time.Second)

	states := map[string]bool{}
	var lastSeq string
	for range 30 {
		a := f.presences(t, tok, userA).values()[userA]
		if a == nil {
			t.Fatal("unknown GUID got no presence under AutoPresence")
		}
		if b := twin.presences(t, twinTok, userA).values()[userA]; mustJSON(a) != mustJSON(b) {
			t.Fatalf("not deterministic: %v vs %v", a, b)
		}
		f.clock.Advance(59 * time.Second) // same bucket: same answer
		if again := f.presences(t, tok, userA).values()[userA]; mustJSON(again) != mustJSON(a) {
			t.Fatalf("changed within a bucket: %v then %v", a, again)
		}
		seq := a["sequenceNumber"].(string)
		if seq <= lastSeq {
			t.Fatalf("sequenceNumber %q not after %q", seq, lastSeq)
		}
		lastSeq = seq
		states[a["availability"].(string)+"/"+a["activity"].(string)] = true
		f.clock.Advance(time.Second)
		twin.clock.Advance(time.Minute)
	}
	if len(states) < 3 {
		t.Errorf("30 buckets gave only %v", states)
	}

	// SetPresence wins and sorts after the automatic stamp; DeleteUser hides.
	f.fake.SetPresence(userA, "Busy", "InAConferenceCall")
	if p := f.presences(t, tok, userA).values()[userA]; p["activity"] != "InAConferenceCall" || p["sequenceNumber"].(string) <= lastSeq {
		t.Errorf("SetPresence under AutoPresence: %v", p)
	}
	f.fake.DeleteUser(userB)
	if g := f.presences(t, tok, userB); len(g.values()) != 0 {
		t.Errorf("deleted user answered under AutoPresence: %s", g.raw)
	}
}
