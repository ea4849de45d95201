package store

import (
	"slices"
	"strings"
)

// VisibilityRules is a Visibility folded once per query. Backends apply it
// in two forms: as SQL conditions (searches, which must filter before
// paging) and in Go (point reads, which fetch a contact's group names
// anyway), with Visible.
type VisibilityRules struct {
	Only, Exclude []GroupPattern
	OnlySet       bool // OnlyGroups was given: with no usable pattern it lets nobody through
	Domains       []string
	DomainsSet    bool
}

// GroupPattern is a folded group name, or a name prefix ("Sales*").
type GroupPattern struct {
	Key    string
	Prefix bool
}

// Compile folds v's patterns and domains.
func (v Visibility) Compile() VisibilityRules {
	r := VisibilityRules{Only: groupPatterns(v.OnlyGroups), Exclude: groupPatterns(v.ExcludeGroups),
		OnlySet: len(v.OnlyGroups) > 0, DomainsSet: len(v.Domains) > 0}
	for _, d := range v.Domains {
		if d = Fold(strings.TrimSpace(d)); d != "" {
			r.Domains = append(r.Domains, d)
		}
	}
	return r
}

// groupPatterns folds group patterns; an empty one matches nothing, as in
// mapping.Rules.Visible.
func groupPatterns(ps []string) []GroupPattern {
	var out []GroupPattern
	for _, p := range ps {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			out = append(out, GroupPattern{Key: Fold(prefix), Prefix: true})
		} else if p != "" {
			out = append(out, GroupPattern{Key: Fold(p)})
		}
	}
	return out
}

// Matches reports whether a group name matches the pattern.
func (p GroupPattern) Matches(name string) bool {
	if p.Prefix {
		return strings.HasPrefix(Fold(name), p.Key)
	}
	return Fold(name) == p.Key
}

func anyMatch(ps []GroupPattern, groups []string) bool {
	for _, g := range groups {
		for _, p := range ps {
			if p.Matches(g) {
				return true
			}
		}
	}
	return false
}

// HidesAll reports rules that let nobody through (every pattern or domain
// empty): a search need not ask the database.
func (r VisibilityRules) HidesAll() bool {
	return r.OnlySet && len(r.Only) == 0 || r.DomainsSet && len(r.Domains) == 0
}

// Visible applies the rules to an active contact's group names and folded
// email and userName domains.
func (r VisibilityRules) Visible(groups []string, emailDomain, loginDomain string) bool {
	if r.OnlySet && !anyMatch(r.Only, groups) || anyMatch(r.Exclude, groups) {
		return false
	}
	return !r.DomainsSet || slices.Contains(r.Domains, emailDomain) || slices.Contains(r.Domains, loginDomain)
}
