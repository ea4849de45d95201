package mapping

import (
	"strings"

	"github.com/scimd/scimd/store"
)

// Visible reports whether an active user's contact is shown under the
// visibility rules, given the names of its groups. Inactive users are
// never visible. Every rule set must pass: membership of a group matching
// OnlyGroups (when set), of none matching ExcludeGroups, and an email or
// userName domain in Domains (when set). Names and domains compare
// case-insensitively; a pattern ending in "*" matches a name prefix.
func (r Rules) Visible(active bool, userName string, c store.Contact, groups []string) bool {
	if !active {
		return false
	}
	v := r.Visibility
	if len(v.OnlyGroups) > 0 && !anyGroupMatches(v.OnlyGroups, groups) {
		return false
	}
	if anyGroupMatches(v.ExcludeGroups, groups) {
		return false
	}
	if len(v.Domains) > 0 && !inDomains(v.Domains, c.Email) && !inDomains(v.Domains, userName) {
		return false
	}
	return true
}

func anyGroupMatches(patterns, groups []string) bool {
	for _, g := range groups {
		for _, p := range patterns {
			if groupMatches(p, g) {
				return true
			}
		}
	}
	return false
}

// groupMatches matches a group name against a name or "prefix*" pattern.
// An empty pattern matches nothing (Parse refuses it).
func groupMatches(pattern, group string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return len(group) >= len(prefix) && strings.EqualFold(group[:len(prefix)], prefix)
	}
	return pattern != "" && strings.EqualFold(pattern, group)
}

// inDomains reports whether the address's domain (after its last "@") is
// one of domains.
func inDomains(domains []string, address string) bool {
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return false
	}
	d := address[at+1:]
	for _, want := range domains {
		if want != "" && strings.EqualFold(d, want) {
			return true
		}
	}
	return false
}
