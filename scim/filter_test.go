package scim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
)

func TestParseAndCompileFilter(t *testing.T) {
	ent := enterpriseURN
	tests := []struct {
		filter string
		want   store.Filter
	}{
		{`userName eq "bjensen@example.com"`,
			store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Eq, Value: "bjensen@example.com"}},
		{`USERNAME EQ "a"`, // names and operators are case-insensitive
			store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Eq, Value: "a"}},
		{`externalId eq "x"`,
			store.Compare{Attr: store.Attr{Name: "externalId"}, Op: store.Eq, Value: "x", CaseExact: true}},
		{`id eq "abc"`,
			store.Compare{Attr: store.Attr{Name: "id"}, Op: store.Eq, Value: "abc", CaseExact: true}},
		{`userName eq "quote\"back\\slash\u00e9"`, // JSON escapes are decoded
			store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Eq, Value: "quote\"back\\slashé"}},
		{`emails[type eq "work"].value eq "a@b.c"`, // Entra's form, folded into the value path
			store.ValuePath{Attr: store.Attr{Name: "emails"}, Filter: store.And{
				Left:  store.Compare{Attr: store.Attr{Sub: "type"}, Op: store.Eq, Value: "work"},
				Right: store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Eq, Value: "a@b.c"}}}},
		{`emails[type eq "work" and value co "@b"]`,
			store.ValuePath{Attr: store.Attr{Name: "emails"}, Filter: store.And{
				Left:  store.Compare{Attr: store.Attr{Sub: "type"}, Op: store.Eq, Value: "work"},
				Right: store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Co, Value: "@b"}}}},
		{`emails.value sw "j"`,
			store.ValuePath{Attr: store.Attr{Name: "emails"}, Filter: store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Sw, Value: "j"}}},
		{`id eq "1" and manager eq "2"`, // core and extension mixed, manager unqualified
			store.And{
				Left:  store.Compare{Attr: store.Attr{Name: "id"}, Op: store.Eq, Value: "1", CaseExact: true},
				Right: store.Compare{Attr: store.Attr{Schema: ent, Name: "manager", Sub: "value"}, Op: store.Eq, Value: "2"}}},
		{ent + `:department ew "sales"`,
			store.Compare{Attr: store.Attr{Schema: ent, Name: "department"}, Op: store.Ew, Value: "sales"}},
		{`name.givenName pr or not (active eq true)`,
			store.Or{
				Left:  store.Compare{Attr: store.Attr{Name: "name", Sub: "givenName"}, Op: store.Pr},
				Right: store.Not{Filter: store.Compare{Attr: store.Attr{Name: "active"}, Op: store.Eq, Value: true}}}},
		{`title eq "a" or title eq "b" and active eq false`, // and binds tighter than or
			store.Or{
				Left: store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Eq, Value: "a"},
				Right: store.And{
					Left:  store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Eq, Value: "b"},
					Right: store.Compare{Attr: store.Attr{Name: "active"}, Op: store.Eq, Value: false}}}},
		{`(title eq "a" or title eq "b") and active eq false`,
			store.And{
				Left: store.Or{
					Left:  store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Eq, Value: "a"},
					Right: store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Eq, Value: "b"}},
				Right: store.Compare{Attr: store.Attr{Name: "active"}, Op: store.Eq, Value: false}}},
		{`meta.lastModified gt "2026-01-02T03:04:05Z"`,
			store.Compare{Attr: store.Attr{Name: "meta", Sub: "lastModified"}, Op: store.Gt, Value: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{`title eq null`,
			store.Not{Filter: store.Compare{Attr: store.Attr{Name: "title"}, Op: store.Pr}}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName ne "x"`,
			store.Compare{Attr: store.Attr{Name: "userName"}, Op: store.Ne, Value: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			e, err := parseFilter(tt.filter)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := compileFilter(userDef, e)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestGroupFilters(t *testing.T) {
	for filter, want := range map[string]store.Filter{
		`displayName eq "Sales"`: store.Compare{Attr: store.Attr{Name: "displayName"}, Op: store.Eq, Value: "Sales"},
		`members eq "u1"`:        store.ValuePath{Attr: store.Attr{Name: "members"}, Filter: store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Eq, Value: "u1"}},
		`members[value eq "u1"]`: store.ValuePath{Attr: store.Attr{Name: "members"}, Filter: store.Compare{Attr: store.Attr{Sub: "value"}, Op: store.Eq, Value: "u1"}},
	} {
		e, err := parseFilter(filter)
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		got, err := compileFilter(groupDef, e)
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
			t.Errorf("%s:\ngot  %#v\nwant %#v", filter, got, want)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct{ filter, wantInError string }{
		{`userName eq`, "expected a value"},
		{`userName eq bob`, "strings must be in double quotes"},
		{`userName equals "x"`, `unknown operator "equals"`},
		{`userName eq "x`, "unterminated string"},
		{`usrName eq "x"`, `unknown attribute "usrName"`},
		{`name eq "x"`, `no sub-attribute "value"`},
		{`name.nickName eq "x"`, `no sub-attribute "nickName"`},
		{`active eq "yes"`, "active is a boolean"},
		{`active gt true`, "only eq, ne and pr"},
		{`userName eq 5`, "userName is a string"},
		{`emails[kind eq "work"]`, `no sub-attribute "kind"`},
		{`title[value eq "x"]`, "not a multi-valued"},
		{`(userName eq "x"`, `expected ")"`},
		{`userName eq "x" and`, "expected an attribute name"},
		{`userName eq "x" junk`, `unexpected "junk"`},
		{`urn:example:Nope:attr eq "x"`, `unknown schema "urn:example:Nope"`},
		{`meta.created gt "yesterday"`, "not an RFC 3339 time"},
		{strings.Repeat("(", 40) + `userName eq "x"` + strings.Repeat(")", 40), "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			e, err := parseFilter(tt.filter)
			if err == nil {
				_, err = compileFilter(userDef, e)
			}
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("error %q does not contain %q", err, tt.wantInError)
			}
		})
	}
}

func TestParsePatchPath(t *testing.T) {
	tests := []struct {
		path    string
		attr    string
		filter  bool
		sub     string
		wantErr bool
	}{
		{path: "active", attr: "active"},
		{path: "name.givenName", attr: "name.givenName"},
		{path: `emails[type eq "work"].value`, attr: "emails", filter: true, sub: "value"},
		{path: `members[value eq "u1"]`, attr: "members", filter: true},
		{path: enterpriseURN + ":manager", attr: enterpriseURN + ":manager"},
		{path: `emails[type eq "work"]`, attr: "emails", filter: true},
		{path: "", wantErr: true},
		{path: "name.", wantErr: true},
		{path: `emails[type eq "work"`, wantErr: true},
		{path: `emails[type eq "work"].`, wantErr: true},
		{path: "1abc", wantErr: true},
	}
	for _, tt := range tests {
		pp, err := parsePatchPath(tt.path)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tt.path)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.path, err)
			continue
		}
		if pp.attr.String() != tt.attr || (pp.filter != nil) != tt.filter || pp.sub != tt.sub {
			t.Errorf("%q: got attr %q filter %v sub %q", tt.path, pp.attr, pp.filter != nil, pp.sub)
		}
	}
}

// FuzzFilter checks that no input crashes the parser or the compiler and
// that every accepted filter compiles to a tree the store understands.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`userName eq "x"`, `emails[type eq "work"].value eq "a"`, `not (a pr)`, `title co "\u00e9"`, `a eq 1.5e3 or b eq true`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			return
		}
		_, _ = compileFilter(userDef, e)
		_, _ = compileFilter(groupDef, e)
		_, _ = parsePatchPath(s)
	})
}
