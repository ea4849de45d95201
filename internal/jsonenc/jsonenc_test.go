package jsonenc_test

import (
	"encoding/json"
	"testing"

	"github.com/scimd/scimd/internal/jsonenc"
)

func TestMarshalLeavesHTMLCharacters(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"https://login.example.com/?a=1&b=<2>", `"https://login.example.com/?a=1&b=<2>"`},
		{map[string]any{"name": "a&b<c>"}, `{"name":"a&b<c>"}`},
		{"quote \" backslash \\ tab \t é \u2028", `"quote \" backslash \\ tab \t é \u2028"`},
		{[]int{1, 2}, `[1,2]`},
		{nil, `null`},
	} {
		got, err := jsonenc.Marshal(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
		// Still JSON that decodes to the same value.
		var back, orig any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%s does not decode: %v", got, err)
		}
		b, _ := json.Marshal(tc.in)
		_ = json.Unmarshal(b, &orig)
		if gb, _ := json.Marshal(back); string(gb) != string(b) {
			t.Errorf("%s decodes to %s, want %s", got, gb, b)
		}
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	got, err := jsonenc.Append([]byte(`{"a":`), "x&y")
	if err != nil || string(got) != `{"a":"x&y"` {
		t.Errorf("Append = %s, %v", got, err)
	}
	if _, err := jsonenc.Append(nil, make(chan int)); err == nil {
		t.Error("a channel encoded without error")
	}
}

// lookupAnswer is shaped like a caller-ID answer, the lookup API's
// busiest.
type lookupAnswer struct {
	Phone    string    `json:"phone"`
	Contacts []contact `json:"contacts"`
}

type contact struct {
	ID, DisplayName, GivenName, FamilyName, Email, Title, Department string
	Phones                                                           []map[string]string
	Groups                                                           []string
	Active                                                           bool
	Presence                                                         *struct{ Availability, Activity string }
}

var answer = lookupAnswer{Phone: "+442071838750", Contacts: []contact{{
	ID: "0195f3c2-8a61-7c3e-9d4b-5f1a2b3c4d5e", DisplayName: "Ann Archer", GivenName: "Ann", FamilyName: "Archer",
	Email: "ann.archer@contoso.com", Title: "Agent", Department: "Support & Sales",
	Phones: []map[string]string{{"type": "work", "value": "020 7183 8750", "e164": "+442071838750"}},
	Groups: []string{"Support EMEA"}, Active: true,
}}}

// BenchmarkMarshal compares the encoder with encoding/json's default on a
// caller-ID answer: what api.WriteJSON pays for leaving & < > alone.
func BenchmarkMarshal(b *testing.B) {
	b.Run("jsonenc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsonenc.Append(make([]byte, 0, 512), answer); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(answer); err != nil {
				b.Fatal(err)
			}
		}
	})
}
