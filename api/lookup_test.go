package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/store"
)

// world is a directory with contacts from eight countries, provisioned
// through SCIM with the default (strict E.164) rules.
type world struct {
	d   dir
	ids map[string]string // display name → id
}

func newWorld(t *testing.T, f *lookupFixture) world {
	t.Helper()
	w := world{d: f.newDirectory("World", ""), ids: map[string]string{}}
	for _, p := range []person{
		{userName: "ann.archer@contoso.com", given: "Ann", family: "Archer", email: "ann.archer@contoso.com",
			title: "Agent", dept: "Support", phones: [][2]string{{"work", "+14255550100"}, {"mobile", "+12065550123"}}},
		{userName: "bob.brown@contoso.co.uk", given: "Bob", family: "Brown", email: "bob.brown@contoso.co.uk",
			phones: [][2]string{{"work", "+442071838750"}}},
		{userName: "claire@contoso.fr", given: "Claire", family: "Dubois", display: "Claire Dubois (Paris)",
			phones: [][2]string{{"work", "+33142685300"}}},
		{userName: "dieter@contoso.de", given: "Dieter", family: "Müller", email: "dieter.mueller@contoso.de",
			phones: [][2]string{{"work", "+4930901820"}}},
		{userName: "priya@contoso.in", given: "Priya", family: "Sharma",
			phones: [][2]string{{"work", "+911123456789"}, {"mobile", "+919876543210"}}},
		{userName: "jack@contoso.com.au", given: "Jack", family: "Smith",
			phones: [][2]string{{"work", "+61291234567"}}},
		{userName: "joao@contoso.com.br", given: "João", family: "Silva",
			phones: [][2]string{{"work", "+551123456789"}}},
		{userName: "yuki@contoso.jp", given: "Yuki", family: "Tanaka",
			phones: [][2]string{{"work", "+81312345678"}}},
	} {
		id := f.user(w.d, p)
		name := p.display
		if name == "" {
			name = p.given + " " + p.family
		}
		w.ids[name] = id
	}
	return w
}

func TestCallerID(t *testing.T) {
	f := newLookupFixture(t)
	w := newWorld(t, f)
	tests := []struct {
		phone, region string
		e164          string
		want          []string
	}{
		{"+14255550100", "", "+14255550100", []string{"Ann Archer"}},
		{"(425) 555-0100", "US", "+14255550100", []string{"Ann Archer"}},
		{"+1 206 555 0123", "", "+12065550123", []string{"Ann Archer"}}, // a second number
		{"020 7183 8750", "GB", "+442071838750", []string{"Bob Brown"}},
		{"020 7183 8750", "gb", "+442071838750", []string{"Bob Brown"}},
		{"+44 (0)20 7183-8750", "", "+442071838750", []string{"Bob Brown"}},
		{"01 42 68 53 00", "FR", "+33142685300", []string{"Claire Dubois (Paris)"}},
		{"00 49 30 901820", "DE", "+4930901820", []string{"Dieter Müller"}},
		{"+91 98765 43210", "", "+919876543210", []string{"Priya Sharma"}},
		{"(02) 9123 4567", "AU", "+61291234567", []string{"Jack Smith"}},
		{"(11) 2345-6789", "BR", "+551123456789", []string{"João Silva"}},
		{"+81 3-1234-5678", "", "+81312345678", []string{"Yuki Tanaka"}},
		{"03-1234-5678", "JP", "+81312345678", []string{"Yuki Tanaka"}},
		{"+1 (425) 555-0199", "", "+14255550199", []string{}},             // nobody
		{"+14255550199", "", "+14255550199", []string{}},                  // nobody, in E.164
		{"+1.425.555.0100", "GB", "+14255550100", []string{"Ann Archer"}}, // international ignores region
		{"  +33 1 42 68 53 00  ", "", "+33142685300", []string{"Claire Dubois (Paris)"}},
	}
	for _, tt := range tests {
		t.Run(tt.phone+" "+tt.region, func(t *testing.T) {
			q := url.Values{"phone": {tt.phone}}
			if tt.region != "" {
				q.Set("region", tt.region)
			}
			r := f.get(w.d.api("/lookup?"+q.Encode()), w.d.Key)
			got := decode[callerID](t, r)
			if got.Phone != tt.e164 || !slices.Equal(names(got.Contacts), tt.want) {
				t.Errorf("lookup = %s %q, want %s %q", got.Phone, names(got.Contacts), tt.e164, tt.want)
			}
			if len(tt.want) == 0 && !bytes.Contains(r.body, []byte(`"contacts":[]`)) {
				t.Errorf("no match must be an empty list: %s", r.body)
			}
		})
	}
}

func TestCallerIDRefusals(t *testing.T) {
	f := newLookupFixture(t)
	w := newWorld(t, f)
	tests := []struct {
		query, code string
		mentions    []string
	}{
		{"phone=abc", "invalid_phone", []string{`"abc"`, "letters"}},
		{"phone=%2B44%2012", "invalid_phone", []string{`"+44 12"`, "short"}},
		{"phone=%2B999%20123%204567", "invalid_phone", []string{"country code"}},
		{"phone=020%207183%208750", "invalid_phone", []string{"country code", "region"}},
		{"phone=123%20ext%204", "invalid_phone", []string{"letters"}},
		{"phone=" + strings.Repeat("1", 65), "invalid_parameter", []string{`"phone"`, "64"}},
		{"phone=", "invalid_parameter", []string{`"phone"`, "required"}},
		{"", "invalid_parameter", []string{`"phone"`, "required"}},
		{"phone=%2B14255550100&region=XX", "invalid_parameter", []string{`"region"`, `"XX"`, "ISO 3166-1"}},
		{"phone=%2B14255550100&region=England", "invalid_parameter", []string{`"region"`}},
		{"phone=%2B14255550100&country=US", "invalid_parameter", []string{`"country"`, "phone, region"}},
		{"phone=1&phone=2", "invalid_parameter", []string{`"phone"`, "at most once"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := f.req(http.MethodGet, w.d.api("/lookup?"+tt.query), w.d.Key, "")
			e := wantError(t, r, http.StatusBadRequest, tt.code)
			for _, m := range tt.mentions {
				if !strings.Contains(e.Error.Message, m) {
					t.Errorf("message %q does not mention %s", e.Error.Message, m)
				}
			}
		})
	}
}

// phoneLog records the numbers the lookup API asks its store for.
type phoneLog struct {
	store.Store
	mu    sync.Mutex
	asked []string
}

func (s *phoneLog) LookupPhone(ctx context.Context, dir, e164 string, v store.Visibility) ([]store.ContactRecord, error) {
	s.mu.Lock()
	s.asked = append(s.asked, e164)
	s.mu.Unlock()
	return s.Store.LookupPhone(ctx, dir, e164, v)
}

// TestCallerIDAsSent checks which numbers a lookup asks the store for: a
// number in E.164 as sent first, and its parsed form only if that differs
// and the number as sent found nobody.
func TestCallerIDAsSent(t *testing.T) {
	log := &phoneLog{}
	f := newLookupFixtureOn(t, func(db store.Store) store.Store { log.Store = db; return log })
	w := newWorld(t, f)
	tests := []struct {
		query string
		asked []string
		want  []string
	}{
		{"phone=%2B14255550100", []string{"+14255550100"}, []string{"Ann Archer"}},
		{"phone=%2B14255550199", []string{"+14255550199"}, []string{}}, // parsed: the same number
		// A trunk prefix after the country code: not a stored form, but
		// the parser drops it.
		{"phone=%2B4402071838750", []string{"+4402071838750", "+442071838750"}, []string{"Bob Brown"}},
		{"phone=425-555-0100&region=US", []string{"+14255550100"}, []string{"Ann Archer"}},
	}
	for _, tt := range tests {
		log.asked = nil
		if got := f.callerID(w.d, tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.query, got, tt.want)
		}
		if !slices.Equal(log.asked, tt.asked) {
			t.Errorf("%s asked the store for %q, want %q", tt.query, log.asked, tt.asked)
		}
	}
	// An invalid number in E.164's form is still refused, with the
	// parser's reason.
	r := f.req(http.MethodGet, w.d.api("/lookup?phone=%2B1425"), w.d.Key, "")
	if e := wantError(t, r, http.StatusBadRequest, "invalid_phone"); !strings.Contains(e.Error.Message, "short") {
		t.Errorf("message %q does not say the number is too short", e.Error.Message)
	}
}

// TestCallerIDNationalFormats stores numbers as sent in national format
// (lenient rules with a default region) and finds them by any format.
func TestCallerIDNationalFormats(t *testing.T) {
	f := newLookupFixture(t)
	d := f.newDirectory("London", `{"phonePolicy":"lenient","defaultRegion":"GB"}`)
	id := f.user(d, person{userName: "eve@contoso.co.uk", given: "Eve", family: "Evans",
		phones: [][2]string{{"work", "020 7183 8750"}, {"mobile", "+1 425-555-0100"}}})

	// The directory's defaultRegion reads national callers without region.
	for _, q := range []string{"phone=020+7183+8750", "phone=%2B442071838750", "phone=2071838750&region=GB", "phone=%2B1+425+555+0100"} {
		if got := f.callerID(d, q); !slices.Equal(got, []string{"Eve Evans"}) {
			t.Errorf("%s: %q", q, got)
		}
	}
	c := decode[contact](t, f.get(d.api("/contacts/"+id), d.Key))
	want := []phone{{"work", "020 7183 8750", "+442071838750"}, {"mobile", "+1 425-555-0100", "+14255550100"}}
	if !slices.Equal(c.Phones, want) {
		t.Errorf("phones = %+v, want the values as sent beside their E.164 forms %+v", c.Phones, want)
	}
}

func TestSearch(t *testing.T) {
	f := newLookupFixture(t)
	w := newWorld(t, f)
	all := []string{"Ann Archer", "Bob Brown", "Claire Dubois (Paris)", "Dieter Müller", "Jack Smith", "João Silva", "Priya Sharma", "Yuki Tanaka"}
	tests := []struct {
		query string
		want  []string
	}{
		{"", all},
		{"q=", all},
		{"q=+++", all}, // spaces only
		{"q=ann", []string{"Ann Archer"}},
		{"q=ARCH", []string{"Ann Archer"}},
		{"q=s", []string{"Jack Smith", "João Silva", "Priya Sharma"}},
		{"q=sh", []string{"Priya Sharma"}},
		{"q=par", []string{"Claire Dubois (Paris)"}}, // a word of the display name
		{"q=jo", []string{"João Silva"}},
		{"q=bob.brown%40", []string{"Bob Brown"}}, // email prefix
		{"q=dieter.mueller", []string{"Dieter Müller"}},
		{"q=contoso", []string{}}, // a domain is not the start of an email
		{"q=rcher", []string{}},   // nor is the middle of a word
		{"q=zz", []string{}},
		{"q=%25", []string{}}, // LIKE wildcards are literal
		{"q=_", []string{}},
		{"q=425+555", []string{"Ann Archer"}},
		{"q=%2B1+(206)", []string{"Ann Archer"}}, // any number of the contact
		{"q=%2B44+20+7183", []string{"Bob Brown"}},
		{"q=020+7183", []string{"Bob Brown"}}, // national trunk prefix dropped
		{"q=%2B44+(0)20+7183", []string{"Bob Brown"}},
		{"q=7183-8750", []string{"Bob Brown"}},
		{"q=98765", []string{"Priya Sharma"}},
		{"q=3.1234.5678", []string{"Yuki Tanaka"}},
		{"q=5", []string{"Ann Archer", "Bob Brown", "Claire Dubois (Paris)", "Jack Smith", "João Silva", "Priya Sharma", "Yuki Tanaka"}},
		{"q=999999", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := f.search(w.d, tt.query); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	// An empty result is an empty list, and the last page has no cursor.
	r := f.get(w.d.api("/contacts?q=zz"), w.d.Key)
	if string(bytes.TrimSpace(r.body)) != `{"contacts":[]}` {
		t.Errorf("empty search = %s", r.body)
	}
}

// TestSearchNonASCII finds names by a prefix in another case.
func TestSearchNonASCII(t *testing.T) {
	f := newLookupFixture(t)
	w := newWorld(t, f)
	for _, q := range []string{"müller", "MÜL", "joão", "JOÃ"} {
		if got := f.search(w.d, "q="+url.QueryEscape(q)); len(got) != 1 {
			t.Errorf("q=%s: %q", q, got)
		}
	}
}

func TestContactJSON(t *testing.T) {
	f := newLookupFixture(t)
	w := newWorld(t, f)
	ann := w.ids["Ann Archer"]
	f.group(w.d, "Support EMEA", ann)
	f.group(w.d, "Agents", ann)

	r := f.get(w.d.api("/contacts/"+ann), w.d.Key)
	wantKeys(t, r.body, "active", "custom", "department", "displayName", "email", "familyName", "givenName", "groups", "id", "phones", "presence", "title")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["presence"]) != "null" || string(raw["custom"]) != "{}" {
		t.Errorf("presence = %s, custom = %s; want null and {}", raw["presence"], raw["custom"])
	}
	c := decode[contact](t, r)
	want := contact{ID: ann, DisplayName: "Ann Archer", GivenName: "Ann", FamilyName: "Archer", Email: "ann.archer@contoso.com",
		Phones: []phone{{"work", "+14255550100", "+14255550100"}, {"mobile", "+12065550123", "+12065550123"}},
		Title:  "Agent", Department: "Support", Custom: map[string]any{}, Groups: []string{"Agents", "Support EMEA"}, Active: true}
	if got, _ := json.Marshal(c); !bytes.Equal(got, must(json.Marshal(want))) {
		t.Errorf("contact =\n%s\nwant\n%s", got, must(json.Marshal(want)))
	}

	// Search, group and caller-ID answers carry the same contact.
	for _, path := range []string{"/contacts?q=ann", "/lookup?phone=%2B14255550100"} {
		var page struct{ Contacts []json.RawMessage }
		if err := json.Unmarshal(f.get(w.d.api(path), w.d.Key).body, &page); err != nil || len(page.Contacts) != 1 {
			t.Fatalf("%s: %v %d", path, err, len(page.Contacts))
		}
		if !bytes.Equal(page.Contacts[0], bytes.TrimSpace(r.body)) {
			t.Errorf("%s: contact differs from GET /contacts/{id}:\n%s\n%s", path, page.Contacts[0], r.body)
		}
	}

	// A user with no names shows its userName; the mapping layer is
	// configured here to require nothing.
	f.putRules(w.d, `{"required":[]}`)
	anon := f.user(w.d, person{userName: "ops@contoso.com"})
	if c := decode[contact](t, f.get(w.d.api("/contacts/"+anon), w.d.Key)); c.DisplayName != "ops@contoso.com" || c.Phones == nil || c.Groups == nil {
		t.Errorf("contact without names = %+v", c)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
