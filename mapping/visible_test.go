package mapping

import (
	"testing"

	"github.com/scimd/scimd/store"
)

func TestVisible(t *testing.T) {
	tests := []struct {
		name            string
		v               Visibility
		active          bool
		userName, email string
		groups          []string
		want            bool
	}{
		{name: "no rules, active", active: true, want: true},
		{name: "inactive is never visible", want: false},
		{name: "inactive even when every rule passes", v: Visibility{OnlyGroups: []string{"Sales"}}, groups: []string{"Sales"}, want: false},

		{name: "only groups: member", v: Visibility{OnlyGroups: []string{"Sales", "Support"}}, active: true, groups: []string{"HR", "Support"}, want: true},
		{name: "only groups: case-insensitive", v: Visibility{OnlyGroups: []string{"sales"}}, active: true, groups: []string{"SALES"}, want: true},
		{name: "only groups: not a member", v: Visibility{OnlyGroups: []string{"Sales"}}, active: true, groups: []string{"Sales EMEA"}, want: false},
		{name: "only groups: no groups", v: Visibility{OnlyGroups: []string{"Sales"}}, active: true, want: false},
		{name: "only groups: prefix", v: Visibility{OnlyGroups: []string{"CX-*"}}, active: true, groups: []string{"cx-agents-emea"}, want: true},
		{name: "only groups: prefix needs the prefix", v: Visibility{OnlyGroups: []string{"CX-*"}}, active: true, groups: []string{"CX", "ACX-1"}, want: false},
		{name: "only groups: bare star matches any group", v: Visibility{OnlyGroups: []string{"*"}}, active: true, groups: []string{"x"}, want: true},
		{name: "only groups: bare star needs a group", v: Visibility{OnlyGroups: []string{"*"}}, active: true, want: false},
		{name: "empty pattern matches nothing", v: Visibility{OnlyGroups: []string{""}}, active: true, groups: []string{""}, want: false},

		{name: "exclude: member hidden", v: Visibility{ExcludeGroups: []string{"Contractors"}}, active: true, groups: []string{"Sales", "contractors"}, want: false},
		{name: "exclude: prefix", v: Visibility{ExcludeGroups: []string{"Temp*"}}, active: true, groups: []string{"temporary staff"}, want: false},
		{name: "exclude: not a member", v: Visibility{ExcludeGroups: []string{"Contractors", "Temp*"}}, active: true, groups: []string{"Sales"}, want: true},
		{name: "exclude wins over only", v: Visibility{OnlyGroups: []string{"Sales"}, ExcludeGroups: []string{"Sales"}}, active: true, groups: []string{"Sales"}, want: false},

		{name: "domains: email domain", v: Visibility{Domains: []string{"fabrikam.com"}}, active: true, userName: "x@other.com", email: "Adele.Vance@Fabrikam.COM", want: true},
		{name: "domains: email domain fails too", v: Visibility{Domains: []string{"contoso.com"}}, active: true, userName: "x@other.com", email: "a@fabrikam.com", want: false},
		{name: "domains: userName domain", v: Visibility{Domains: []string{"Contoso.com"}}, active: true, userName: "adele@CONTOSO.com", want: true},
		{name: "domains: neither", v: Visibility{Domains: []string{"example.com"}}, active: true, userName: "adele@contoso.com", want: false},
		{name: "domains: suffix is not enough", v: Visibility{Domains: []string{"soft.com"}}, active: true, userName: "a@microsoft.com", want: false},
		{name: "domains: last @ counts", v: Visibility{Domains: []string{"contoso.com"}}, active: true, userName: `"a@b"@contoso.com`, want: true},
		{name: "domains: no @", v: Visibility{Domains: []string{"contoso.com"}}, active: true, userName: "contoso.com", want: false},

		{name: "all rules pass", v: Visibility{OnlyGroups: []string{"Sales*"}, ExcludeGroups: []string{"Temps"}, Domains: []string{"contoso.com"}},
			active: true, userName: "a@contoso.com", groups: []string{"Sales EMEA"}, want: true},
		{name: "all rules, domain fails", v: Visibility{OnlyGroups: []string{"Sales*"}, ExcludeGroups: []string{"Temps"}, Domains: []string{"contoso.com"}},
			active: true, userName: "a@example.com", groups: []string{"Sales EMEA"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rules{Visibility: tt.v}
			c := store.Contact{Login: tt.userName, Email: tt.email}
			if got := r.Visible(tt.active, tt.userName, c, tt.groups); got != tt.want {
				t.Fatalf("Visible = %v, want %v", got, tt.want)
			}
		})
	}
}
