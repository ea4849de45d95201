package scim

import "testing"

func TestCanonicalPath(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"/scim/v2/d/Users", ""},
		{"/scim/v2/d", ""},
		{"/scim/v2/d/", "/scim/v2/d"},
		{"/scim/v2/d//Users", "/scim/v2/d/Users"},
		{"/scim/v2/d///Users//u1//", "/scim/v2/d/Users/u1"},
		{"//scim/v2/d/Users", "/scim/v2/d/Users"},
		{"/scim//v2/d/Users", "/scim/v2/d/Users"},
		{"/scim/v2/", ""}, // not below a base URL
		{"/scim/v2//", ""},
		{"/api/v1/directories/d//contacts", ""},
		{"/healthz/", ""},
		{"//", ""},
		{"/", ""},
	} {
		got, ok := canonicalPath(tt.path)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("canonicalPath(%q) = %q, %v; want %q", tt.path, got, ok, tt.want)
		}
	}
}
