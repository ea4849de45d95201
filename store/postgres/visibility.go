package postgres

import (
	"slices"
	"strings"

	"github.com/scimd/scimd/store"
)

// rules is a store.Visibility folded once per query, for both forms it is
// applied in: SQL conditions (searches, which must filter before paging)
// and Go (point reads, which fetch a contact's group names anyway).
type rules struct {
	only, exclude []groupPattern
	onlySet       bool // OnlyGroups was given: with no usable pattern it lets nobody through
	domains       []string
	domainsSet    bool
}

// groupPattern is a folded group name, or a name prefix ("Sales*").
type groupPattern struct {
	key    string
	prefix bool
}

func compileRules(v store.Visibility) rules {
	r := rules{only: patterns(v.OnlyGroups), exclude: patterns(v.ExcludeGroups),
		onlySet: len(v.OnlyGroups) > 0, domainsSet: len(v.Domains) > 0}
	for _, d := range v.Domains {
		if d = store.Fold(strings.TrimSpace(d)); d != "" {
			r.domains = append(r.domains, d)
		}
	}
	return r
}

// patterns folds group patterns; an empty one matches nothing, as in
// mapping.Rules.Visible.
func patterns(ps []string) []groupPattern {
	var out []groupPattern
	for _, p := range ps {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			out = append(out, groupPattern{key: store.Fold(prefix), prefix: true})
		} else if p != "" {
			out = append(out, groupPattern{key: store.Fold(p)})
		}
	}
	return out
}

func (p groupPattern) matches(name string) bool {
	if p.prefix {
		return strings.HasPrefix(store.Fold(name), p.key)
	}
	return store.Fold(name) == p.key
}

func anyMatch(ps []groupPattern, groups []string) bool {
	for _, g := range groups {
		for _, p := range ps {
			if p.matches(g) {
				return true
			}
		}
	}
	return false
}

// hidesAll reports rules that let nobody through (every pattern or domain
// empty): a search need not ask the database.
func (r rules) hidesAll() bool {
	return r.onlySet && len(r.only) == 0 || r.domainsSet && len(r.domains) == 0
}

// visible applies the rules to an active contact's group names and folded
// domains.
func (r rules) visible(groups []string, emailDomain, loginDomain string) bool {
	if r.onlySet && !anyMatch(r.only, groups) || anyMatch(r.exclude, groups) {
		return false
	}
	return !r.domainsSet || slices.Contains(r.domains, emailDomain) || slices.Contains(r.domains, loginDomain)
}

// memberOf is a condition on users u: a membership of a group whose
// folded name (groups.name_key) matches one of the LIKE patterns $n.
const memberOf = `EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.directory_id = m.directory_id AND g.id = m.group_id
	WHERE m.directory_id = u.directory_id AND m.user_id = u.id AND g.name_key LIKE ANY (`

// where returns the domain and exclusion rules as conditions on users u
// (OnlyGroups is a search filter, which may lead). Callers have checked
// hidesAll: every list is non-empty.
func (r rules) where(s *sqlSearch) []string {
	var conds []string
	if r.domainsSet {
		d := s.arg(r.domains)
		conds = append(conds, `(u.email_domain = ANY (`+d+`) OR u.login_domain = ANY (`+d+`))`)
	}
	if len(r.exclude) > 0 {
		conds = append(conds, `NOT `+memberOf+s.arg(likePatterns(r.exclude))+`))`)
	}
	return conds
}

// likePatterns turns group patterns into LIKE patterns: the key with its
// wildcards escaped, so that "A_B%" matches itself only, and a "%" after
// a prefix.
func likePatterns(ps []groupPattern) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = likeEscaper.Replace(p.key)
		if p.prefix {
			out[i] += "%"
		}
	}
	return out
}

// likeEscaper escapes LIKE's wildcards with its default escape, "\".
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
