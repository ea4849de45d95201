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
