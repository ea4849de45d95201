package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// eventOut is an event as the events API shows it.
type eventOut struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurredAt"`
	Data       json.RawMessage `json:"data"`
}

type eventPage struct {
	Events []eventOut `json:"events"`
	Next   string     `json:"next"`
}

// latestCursor answers GET …/events/latest.
func (f *lookupFixture) latestCursor(d dir) string {
	f.t.Helper()
	return decode[struct{ Next string }](f.t, f.get(d.api("/events/latest"), d.Key)).Next
}

// eventsAfter reads every event after the cursor (all from the oldest if
// ""), in pages of two, and returns them with the last next.
func (f *lookupFixture) eventsAfter(d dir, after string) ([]eventOut, string) {
	f.t.Helper()
	var all []eventOut
	for {
		path := d.api("/events?limit=2")
		if after != "" {
			path += "&after=" + after
		}
		p := decode[eventPage](f.t, f.get(path, d.Key))
		if p.Next == "" {
			f.t.Fatalf("GET %s: no next", path)
		}
		all = append(all, p.Events...)
		if len(p.Events) == 0 {
			return all, p.Next
		}
		if p.Next != p.Events[len(p.Events)-1].ID {
			f.t.Errorf("next %q is not the last event's id %q", p.Next, p.Events[len(p.Events)-1].ID)
		}
		after = p.Next
	}
}

// types renders events as "type subject", the subject being the contact's
// display name, the group's name, or "group/contact" for memberships.
func types(t *testing.T, evs []eventOut) []string {
	t.Helper()
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		var subject string
		switch {
		case strings.HasPrefix(e.Type, "group.member_"):
			var m struct {
				Group   struct{ DisplayName string }
				Contact contact
			}
			if err := json.Unmarshal(e.Data, &m); err != nil {
				t.Fatal(err)
			}
			subject = m.Group.DisplayName + "/" + m.Contact.DisplayName
		default:
			var c struct{ DisplayName string }
			if err := json.Unmarshal(e.Data, &c); err != nil {
				t.Fatal(err)
			}
			subject = c.DisplayName
		}
		out = append(out, e.Type+" "+subject)
	}
	return out
}

// wantEvents reads the events after the cursor, checks them and returns
// the next cursor.
func (f *lookupFixture) wantEvents(d dir, after, what string, want ...string) string {
	f.t.Helper()
	evs, next := f.eventsAfter(d, after)
	if got := types(f.t, evs); !slices.Equal(got, want) {
		f.t.Errorf("%s: events\n%q\nwant\n%q", what, got, want)
	}
	return next
}

// scimDo sends a SCIM request and checks its status.
func (f *lookupFixture) scimDo(d dir, method, path, body string, status int) response {
	f.t.Helper()
	r := f.req(method, "/scim/v2/"+d.ID+path, d.SCIMToken, body)
	if r.status != status {
		f.t.Fatalf("SCIM %s %s: %d %s, want %d", method, path, r.status, r.body, status)
	}
	return r
}

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":%s}`

// TestEventsSCIMWrites runs every write shape Entra sends and checks the
// events each leaves, none for a refused write or one that changes
// nothing.
func TestEventsSCIMWrites(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Events", "")
	start := f.latestCursor(d)
	ann := person{userName: "ann@contoso.com", given: "Ann", family: "Archer", email: "ann@contoso.com",
		title: "Agent", phones: [][2]string{{"work", "+442071838750"}}}
	id := f.user(d, ann)
	evs, next := f.eventsAfter(d, start)
	if got := types(t, evs); !slices.Equal(got, []string{"contact.created Ann Archer"}) {
		t.Fatalf("POST: %q", got)
	}
	var created map[string]any
	if err := json.Unmarshal(evs[0].Data, &created); err != nil {
		t.Fatal(err)
	}
	if _, ok := created["presence"]; ok || created["id"] != id || created["title"] != "Agent" || created["active"] != true {
		t.Errorf("contact.created data = %s: want the lookup API's contact without presence", evs[0].Data)
	}
	if evs[0].OccurredAt.IsZero() || time.Since(evs[0].OccurredAt) > time.Minute {
		t.Errorf("occurredAt = %v", evs[0].OccurredAt)
	}
	// The lookup API shows the same contact, with presence.
	var shown map[string]any
	_ = json.Unmarshal(f.get(d.api("/contacts/"+id), d.Key).body, &shown)
	delete(shown, "presence")
	if a, b := mustMarshal(shown), mustMarshal(created); a != b {
		t.Errorf("event data %s\nlookup API      %s", b, a)
	}

	ann.title = "Lead"
	f.scimDo(d, http.MethodPut, "/Users/"+id, ann.doc(), http.StatusOK)
	next = f.wantEvents(d, next, "PUT", "contact.updated Ann Archer")
	// PUT of the same document: nothing changed.
	f.scimDo(d, http.MethodPut, "/Users/"+id, ann.doc(), http.StatusOK)
	next = f.wantEvents(d, next, "PUT unchanged")

	// PATCH, Entra's default dialect: one Replace per attribute.
	f.patch(d, "Users", id, `[{"op":"Replace","path":"title","value":"Supervisor"},{"op":"Replace","path":"name.givenName","value":"Anne"}]`)
	next = f.wantEvents(d, next, "PATCH (default dialect)", "contact.updated Anne Archer")
	// The compliant dialect's path-less replace.
	f.patch(d, "Users", id, `[{"op":"replace","value":{"displayName":"Ann A.","name.givenName":"Ann"}}]`)
	next = f.wantEvents(d, next, "PATCH (path-less)", "contact.updated Ann A.")
	// Entra re-sends the values it holds every cycle: nothing changes.
	f.patch(d, "Users", id, `[{"op":"Replace","path":"title","value":"Supervisor"},{"op":"replace","value":{"displayName":"Ann A."}}]`)
	next = f.wantEvents(d, next, "PATCH unchanged")

	// Refused writes leave no event.
	f.scimDo(d, http.MethodPost, "/Users", staff("ANN@contoso.com", "Dup", "").doc(), http.StatusConflict)
	f.scimDo(d, http.MethodPatch, "/Users/"+id, fmt.Sprintf(patchOp, `[{"op":"Replace","path":"phoneNumbers[type eq \"work\"].value","value":"not a number"}]`), http.StatusBadRequest)
	f.scimDo(d, http.MethodPatch, "/Users/"+id, fmt.Sprintf(patchOp, `[{"op":"Frobnicate","path":"title","value":"x"}]`), http.StatusBadRequest)
	next = f.wantEvents(d, next, "refused writes")

	// Disable in both dialects, and enable.
	f.patch(d, "Users", id, `[{"op":"Replace","path":"active","value":"False"}]`)
	next = f.wantEvents(d, next, "disable (default dialect)", "contact.deactivated Ann A.")
	f.patch(d, "Users", id, `[{"op":"replace","path":"active","value":false}]`)
	next = f.wantEvents(d, next, "disable again")
	f.patch(d, "Users", id, `[{"op":"replace","path":"active","value":true}]`)
	evs, next = f.eventsAfter(d, next)
	if got := types(t, evs); !slices.Equal(got, []string{"contact.created Ann A."}) {
		t.Fatalf("enable: %q (a contact entering the visible set is created)", got)
	}
	var reenabled contact
	_ = json.Unmarshal(evs[0].Data, &reenabled)
	if !reenabled.Active || reenabled.Title != "Supervisor" {
		t.Errorf("re-enabled contact = %+v", reenabled)
	}

	// Groups: create without members (as Entra does), add, rename, remove
	// in both dialects, replace, delete.
	max := f.user(d, staff("max@contoso.com", "Max", "Manager"))
	next = f.wantEvents(d, next, "second user", "contact.created Max Manager")
	gr := f.scimDo(d, http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"g1","displayName":"Sales"}`, http.StatusCreated)
	gid := decode[struct{ ID string }](t, gr).ID
	next = f.wantEvents(d, next, "group create", "group.created Sales")
	f.patch(d, "Groups", gid, fmt.Sprintf(`[{"op":"Add","path":"members","value":[{"$ref":null,"value":%q},{"value":%q}]}]`, id, max))
	want := []string{"contact.updated Ann A.", "group.member_added Sales/Ann A.", "contact.updated Max Manager", "group.member_added Sales/Max Manager"}
	if max < id {
		want = append(want[2:], want[:2]...)
	}
	next = f.wantEvents(d, next, "member add", want...)
	f.patch(d, "Groups", gid, fmt.Sprintf(`[{"op":"Add","path":"members","value":[{"value":%q}]}]`, id))
	next = f.wantEvents(d, next, "member add again")
	f.patch(d, "Groups", gid, `[{"op":"Replace","path":"displayName","value":"Inside Sales"}]`)
	want = []string{"group.updated Inside Sales", "contact.updated Ann A.", "contact.updated Max Manager"}
	if max < id {
		want[1], want[2] = want[2], want[1]
	}
	next = f.wantEvents(d, next, "rename", want...)
	f.patch(d, "Groups", gid, fmt.Sprintf(`[{"op":"Remove","path":"members","value":[{"value":%q}]}]`, id))
	next = f.wantEvents(d, next, "member remove (default dialect)", "group.member_removed Inside Sales/Ann A.", "contact.updated Ann A.")
	f.patch(d, "Groups", gid, fmt.Sprintf(`[{"op":"remove","path":"members[value eq \"%s\"]"}]`, max))
	next = f.wantEvents(d, next, "member remove (compliant dialect)", "group.member_removed Inside Sales/Max Manager", "contact.updated Max Manager")
	f.scimDo(d, http.MethodPatch, "/Groups/"+gid, fmt.Sprintf(patchOp, `[{"op":"Add","path":"members","value":[{"value":"no-such-user"}]}]`), http.StatusBadRequest)
	next = f.wantEvents(d, next, "refused member add")
	f.scimDo(d, http.MethodPut, "/Groups/"+gid, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Inside Sales","members":[{"value":%q}]}`, max), http.StatusOK)
	next = f.wantEvents(d, next, "PUT group", "contact.updated Max Manager", "group.member_added Inside Sales/Max Manager")
	f.scimDo(d, http.MethodDelete, "/Groups/"+gid, "", http.StatusNoContent)
	next = f.wantEvents(d, next, "group delete", "contact.updated Max Manager", "group.deleted Inside Sales")

	f.scimDo(d, http.MethodDelete, "/Users/"+id, "", http.StatusNoContent)
	f.scimDo(d, http.MethodDelete, "/Users/"+id, "", http.StatusNotFound)
	next = f.wantEvents(d, next, "user delete", "contact.deleted Ann A.")

	// The whole feed from the start, in order, ids increasing.
	all, last := f.eventsAfter(d, "")
	if len(all) < 20 || last != next {
		t.Errorf("feed from the start: %d events, last %q (want %q)", len(all), last, next)
	}
	for i := 1; i < len(all); i++ {
		if all[i].OccurredAt.Before(all[i-1].OccurredAt) {
			t.Errorf("event %d occurred before event %d", i, i-1)
		}
	}
}

// staff is a person with the work number the default rules require.
func staff(userName, given, family string) person {
	return person{userName: userName, given: given, family: family, phones: [][2]string{{"work", "+14255550100"}}}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestEventsVisibility: the directory's rules decide, when events are
// read, what a client sees of them; a contact that enters the visible
// set is created for it, one that leaves deleted.
func TestEventsVisibility(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Visible", `{"visibility":{"onlyGroups":["Sales"]}}`)
	start := f.latestCursor(d)
	ann := f.user(d, staff("ann@contoso.com", "Ann", "Archer"))
	support := f.group(d, "Support", ann)
	next := f.wantEvents(d, start, "hidden contact, hidden group")
	sales := f.group(d, "Sales", ann)
	next = f.wantEvents(d, next, "joins a shown group", "group.created Sales", "contact.created Ann Archer", "group.member_added Sales/Ann Archer")
	f.patch(d, "Groups", support, `[{"op":"Replace","path":"displayName","value":"Support Desk"}]`)
	next = f.wantEvents(d, next, "rename of a hidden group", "contact.updated Ann Archer")
	f.patch(d, "Groups", sales, fmt.Sprintf(`[{"op":"Remove","path":"members","value":[{"value":%q}]}]`, ann))
	next = f.wantEvents(d, next, "leaves the shown group", "group.member_removed Sales/Ann Archer", "contact.deleted Ann Archer")
	f.patch(d, "Users", ann, `[{"op":"Replace","path":"title","value":"Hidden"}]`)
	f.wantEvents(d, next, "change of a hidden contact")

	// A rule change applies to the whole feed at once.
	f.putRules(d, `{}`)
	evs, _ := f.eventsAfter(d, start)
	if got := types(t, evs); len(got) < 3 || got[0] != "contact.created Ann Archer" || got[1] != "group.created Support" {
		t.Errorf("feed under the new rules starts %q", got)
	}
}

// TestEventsCursors: bad parameters, an expired cursor and one ahead of
// the feed, and a server with events off.
func TestEventsCursors(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Cursors", "")
	first := f.latestCursor(d)
	for i := range 3 {
		f.user(d, staff(fmt.Sprintf("u%d@contoso.com", i), "U", fmt.Sprint(i)))
	}
	evs, last := f.eventsAfter(d, first)
	if len(evs) != 3 {
		t.Fatalf("events: %d", len(evs))
	}
	for _, bad := range []string{"?after=%25%25", "?after=nope", "?limit=0", "?limit=1001", "?limit=x", "?cursor=x", "?after=a&after=b"} {
		r := f.req(http.MethodGet, d.api("/events"+bad), d.Key, "")
		wantError(t, r, http.StatusBadRequest, "invalid_parameter")
	}
	wantError(t, f.req(http.MethodGet, d.api("/events/latest?x=1"), d.Key, ""), http.StatusBadRequest, "invalid_parameter")
	wantError(t, f.req(http.MethodPost, d.api("/events"), d.Key, ""), http.StatusMethodNotAllowed, "method_not_allowed")
	wantError(t, f.req(http.MethodGet, d.api("/events"), "", ""), http.StatusUnauthorized, "unauthorized")
	other := f.newDirectory("Other", "")
	wantError(t, f.req(http.MethodGet, d.api("/events"), other.Key, ""), http.StatusNotFound, "not_found")
	// The other directory's feed is its own: its cursors are not this one's.
	if evs, _ := f.eventsAfter(other, ""); len(evs) != 0 {
		t.Errorf("other directory shows %d events", len(evs))
	}
	wantError(t, f.req(http.MethodGet, other.api("/events?after="+last), other.Key, ""), http.StatusGone, "cursor_expired")

	// Retention: pruning everything but the newest expires the cursors
	// before it; the newest and the latest cursor still work.
	if _, err := f.db.PruneEvents(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := f.req(http.MethodGet, d.api("/events?after="+evs[0].ID), d.Key, "")
	if msg := wantError(t, r, http.StatusGone, "cursor_expired").Error.Message; !strings.Contains(msg, "events/latest") || !strings.Contains(msg, "contacts") {
		t.Errorf("410 message %q does not say what to do", msg)
	}
	if evs2, next := f.eventsAfter(d, evs[1].ID); len(evs2) != 1 || next != last {
		t.Errorf("after the second (the oldest kept is the third): %d events, next %q", len(evs2), next)
	}
	if f.latestCursor(d) != last {
		t.Errorf("latest after prune = %q, want %q", f.latestCursor(d), last)
	}
	if evs3, _ := f.eventsAfter(d, ""); len(evs3) != 1 {
		t.Errorf("from the oldest kept: %d events, want 1", len(evs3))
	}
	// The cursor before the first event is expired too, once that is gone.
	wantError(t, f.req(http.MethodGet, d.api("/events?after="+first), d.Key, ""), http.StatusGone, "cursor_expired")
}

// sseEvent is one event of a stream.
type sseEvent struct{ id, name, data string }

// openEvents opens the events stream with an optional Last-Event-ID and
// returns its events.
func (f *lookupFixture) openEvents(d dir, lastID string) <-chan sseEvent {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url+d.api("/events/stream"), nil)
	req.Header.Set("Authorization", "Bearer "+d.Key)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		f.t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			switch l := sc.Text(); {
			case strings.HasPrefix(l, "id: "):
				ev.id = strings.TrimPrefix(l, "id: ")
			case strings.HasPrefix(l, "event: "):
				ev.name = strings.TrimPrefix(l, "event: ")
			case strings.HasPrefix(l, "data: "):
				ev.data = strings.TrimPrefix(l, "data: ")
			case l == "" && ev.name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

func nextSSE(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// TestEventsStream: events arrive as they commit; a client that comes
// back with Last-Event-ID gets what it missed first; an id no longer kept
// is a reset.
func TestEventsStream(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("Stream", "")
	f.user(d, staff("before@contoso.com", "Before", "Stream"))
	ch := f.openEvents(d, "")
	ann := f.user(d, staff("ann@contoso.com", "Ann", "Archer"))
	ev := nextSSE(t, ch)
	var e eventOut
	if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
		t.Fatal(err)
	}
	if ev.name != "contact.created" || e.Type != ev.name || e.ID != ev.id || !strings.Contains(string(e.Data), ann) {
		t.Fatalf("first event %+v: want Ann's creation only (the stream starts now)", ev)
	}
	f.patch(d, "Users", ann, `[{"op":"Replace","path":"title","value":"Lead"}]`)
	if ev := nextSSE(t, ch); ev.name != "contact.updated" {
		t.Fatalf("second event %+v", ev)
	}

	// Away: two events happen; back with the id of the first event seen.
	max := f.user(d, staff("max@contoso.com", "Max", "Manager"))
	f.group(d, "Sales", max)
	back := f.openEvents(d, e.ID)
	var got []string
	for range 5 {
		got = append(got, nextSSE(t, back).name)
	}
	if want := []string{"contact.updated", "contact.created", "group.created", "contact.updated", "group.member_added"}; !slices.Equal(got, want) {
		t.Errorf("resumed stream %q, want %q", got, want)
	}

	if _, err := f.db.PruneEvents(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stale := f.openEvents(d, e.ID)
	if ev := nextSSE(t, stale); ev.name != "reset" || !strings.Contains(ev.data, "contacts") {
		t.Fatalf("stale id: %+v, want a reset", ev)
	}
	f.patch(d, "Users", max, `[{"op":"Replace","path":"title","value":"Boss"}]`)
	if ev := nextSSE(t, stale); ev.name != "contact.updated" {
		t.Fatalf("after the reset: %+v", ev)
	}
}
