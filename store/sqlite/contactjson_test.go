package sqlite

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/scimd/scimd/store"
)

var contactJSONCases = []string{
	`{}`,
	` { "displayName" : "Zoë O'Brien" , "phones" : [ { "type" : "work" , "value" : "+1 (425) 555-0100" , "e164" : "+14255550100" } ] } `,
	`{"login":"a@b.c","objectId":"x","displayName":"D","givenName":"G","familyName":"F","email":"e@x","title":"T","department":"Dep","phones":[],"custom":{"n":1.5,"b":true,"s":"x","d":"2024-01-02","o":{"a":[1,"]"]}}}`,
	`{"displayName":"a \"quoted\" name \u003c\u0026\u003e","email":"\ud83d\ude00@x"}`, // escapes
	`{"displayName":"tab	in"}`,       // a raw control character: invalid
	"{\"displayName\":\"\xff\xfe\"}", // invalid UTF-8: replaced
	`{"displayName":null,"phones":null,"custom":null}`,
	`{"unknown":"x","displayName":"D"}`,
	`{"DisplayName":"case","EMAIL":"x"}`, // json matches keys without case
	`{"displayName":"one","displayName":"two"}`,
	`{"custom":{"a":1},"custom":{"b":2}}`, // json merges maps
	`{"phones":[{"value":"1"}],"phones":[{"e164":"+2"}]}`,
	`{"phones":[{"value":"1","extra":true}]}`,
	`{"phones":[{"value":1}]}`,
	`{"displayName":"D"} x`,
	`{"displayName":"D"`,
	`{"displayName":"D",}`,
	`{"phones":[{"value":"1"},]}`,
	`{"custom":{"a":}}`,
	`{"custom":{"a":"}"}}`,
	`{"custom":["x"]}`,
	`[]`,
	``,
	`{"displayName":"D"}{}`,
}

// checkLikeUnmarshal fails t unless decode and json.Unmarshal agree on b:
// the same value, or both an error.
func checkLikeUnmarshal[T any](t *testing.T, name string, decode func([]byte) (T, error), b []byte) {
	t.Helper()
	got, gotErr := decode(b)
	var want T
	wantErr := json.Unmarshal(b, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: %s error %v, json.Unmarshal error %v", b, name, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %s = %#v, json.Unmarshal = %#v", b, name, got, want)
	}
}

func checkDecodeContact(t *testing.T, b []byte) {
	t.Helper()
	checkLikeUnmarshal(t, "decodeContact", func(b []byte) (store.Contact, error) {
		var c store.Contact
		err := decodeContact(b, &c)
		return c, err
	}, b)
}

func TestDecodeContact(t *testing.T) {
	for _, c := range contactJSONCases {
		checkDecodeContact(t, []byte(c))
	}
	// Contacts as this package stores them, with names of every kind.
	names := []string{"", "Anna", "Zoë", "O'Brien", "李", "a\"b", "<b>&", "tab\there", "\u2028", "back\\slash", "x\x00y", "\xff"}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return names[r.IntN(len(names))] }
	for range 2000 {
		c := store.Contact{Login: pick(), DisplayName: pick(), GivenName: pick(), FamilyName: pick(), Email: pick(), Title: pick()}
		for range r.IntN(3) {
			c.Phones = append(c.Phones, store.Phone{Type: pick(), Value: pick(), E164: pick()})
		}
		if r.IntN(4) == 0 {
			c.Custom = map[string]any{pick(): pick(), "n": float64(r.IntN(100)), "b": true}
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeContact(t, b)
	}
}

// TestDecodeContactDirect checks that a stored contact without escapes
// takes the direct path, which is the point of decodeContact.
func TestDecodeContactDirect(t *testing.T) {
	b, _ := json.Marshal(store.Contact{DisplayName: "Zoë O'Brien", Email: "zoe@contoso.com",
		Phones:   []store.Phone{{Type: "work", Value: "+1 425 555 0100", E164: "+14255550100"}},
		Custom:   map[string]any{"costCenter": "42"},
		Title:    "Agent",
		ObjectID: "x"})
	var c store.Contact
	d := contactDecoder{b: b, s: string(b)}
	if !d.contact(&c) || !d.end() {
		t.Fatalf("%s: not decoded directly", b)
	}
	if c.DisplayName != "Zoë O'Brien" || len(c.Phones) != 1 || c.Phones[0].E164 != "+14255550100" || c.Custom["costCenter"] != "42" {
		t.Errorf("decoded %#v", c)
	}
}

func FuzzDecodeContact(f *testing.F) {
	for _, c := range contactJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeContact(t, b) })
}

func BenchmarkDecodeContact(b *testing.B) {
	doc, _ := json.Marshal(store.Contact{Login: "zoe@contoso.com", ObjectID: "0190a000-0000-7000-8000-000000000005",
		DisplayName: "Zoë O'Brien", GivenName: "Zoë", FamilyName: "O'Brien", Email: "zoe@contoso.com", Title: "Agent",
		Department: "Sales", Phones: []store.Phone{{Type: "work", Value: "+1 425 555 0100", E164: "+14255550100"},
			{Type: "mobile", Value: "+1 425 555 0101", E164: "+14255550101"}}})
	for _, impl := range []struct {
		name   string
		decode func([]byte, *store.Contact) error
	}{{"json.Unmarshal", func(b []byte, c *store.Contact) error { return json.Unmarshal(b, c) }}, {"decodeContact", decodeContact}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var c store.Contact
				if err := impl.decode(doc, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var stringsJSONCases = []string{
	`[]`, ` [ ] `, `["Sales"]`, `["Sales","Support desk","Zoë","李"]`, ` [ "a" , "b" ] `,
	`["a \"quoted\" \u003cname\u003e"]`, // escapes: json.Unmarshal decides
	`["x","",""]`, `["tab	in"]`, "[\"\xff\"]", `[null]`, `null`, `["a",null,"b"]`, `[1]`,
	`["a",]`, `["a"`, `["a"] x`, `{}`, ``, `[[]]`, `["a"]["b"]`,
}

func checkDecodeStrings(t *testing.T, b []byte) {
	t.Helper()
	checkLikeUnmarshal(t, "decodeStrings", decodeStrings, b)
}

func TestDecodeStrings(t *testing.T) {
	for _, c := range stringsJSONCases {
		checkDecodeStrings(t, []byte(c))
	}
	// Group names as SQLite's json_group_array writes them: the direct
	// path must take them (it is the point of decodeStrings).
	b := []byte(`["Sales","Zoë's team","李"]`)
	var got []string
	if d := (contactDecoder{b: b, s: string(b)}); !d.strings(&got) || !d.end() || len(got) != 3 || got[1] != "Zoë's team" {
		t.Errorf("%s: not decoded directly: %q", b, got)
	}
}

func FuzzDecodeStrings(f *testing.F) {
	for _, c := range stringsJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeStrings(t, b) })
}
