package postgres

import (
	"strings"

	"github.com/scimd/scimd/store"
)

// rules are the visibility rules of a query, with their SQL form.
type rules struct{ store.VisibilityRules }

func compileRules(v store.Visibility) rules { return rules{v.Compile()} }

// memberOf is a condition on users u: a membership of a group whose
// folded name (groups.name_key) matches one of the LIKE patterns $n.
const memberOf = `EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.directory_id = m.directory_id AND g.id = m.group_id
	WHERE m.directory_id = u.directory_id AND m.user_id = u.id AND g.name_key LIKE ANY (`

// where returns the domain and exclusion rules as conditions on users u
// (OnlyGroups is a search filter, which may lead). Callers have checked
// hidesAll: every list is non-empty.
func (r rules) where(s *sqlSearch) []string {
	var conds []string
	if r.DomainsSet {
		d := s.arg(r.Domains)
		conds = append(conds, `(u.email_domain = ANY (`+d+`) OR u.login_domain = ANY (`+d+`))`)
	}
	if len(r.Exclude) > 0 {
		conds = append(conds, `NOT `+memberOf+s.arg(likePatterns(r.Exclude))+`))`)
	}
	return conds
}

// likePatterns turns group patterns into LIKE patterns: the key with its
// wildcards escaped, so that "A_B%" matches itself only, and a "%" after
// a prefix.
func likePatterns(ps []store.GroupPattern) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = likeEscaper.Replace(p.Key)
		if p.Prefix {
			out[i] += "%"
		}
	}
	return out
}

// likeEscaper escapes LIKE's wildcards with its default escape, "\".
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
