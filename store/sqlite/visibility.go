package sqlite

import (
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
		if d = fold(strings.TrimSpace(d)); d != "" {
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
			out = append(out, groupPattern{key: fold(prefix), prefix: true})
		} else if p != "" {
			out = append(out, groupPattern{key: fold(p)})
		}
	}
	return out
}

func (p groupPattern) matches(name string) bool {
	if p.prefix {
		return strings.HasPrefix(fold(name), p.key)
	}
	return fold(name) == p.key
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
// empty): SQLite cannot plan a walk of users_sort under "AND 0".
func (r rules) hidesAll() bool {
	return r.onlySet && len(r.only) == 0 || r.domainsSet && len(r.domains) == 0
}

// visible applies the rules to an active contact's group names and folded
// domains.
func (r rules) visible(groups []string, emailDomain, loginDomain string) bool {
	if r.onlySet && !anyMatch(r.only, groups) || anyMatch(r.exclude, groups) {
		return false
	}
	if !r.domainsSet {
		return true
	}
	for _, d := range r.domains {
		if d == emailDomain || d == loginDomain {
			return true
		}
	}
	return false
}

// where adds "active" and the domain rule as conditions on users u.
// SQLite checks conditions in order and stops at the first that fails, so
// cheap ones go first.
func (r rules) where(c *conds) {
	c.add(`u.active = 1`) // also what lets the planner use users_sort
	if r.domainsSet {
		if len(r.domains) == 0 {
			c.add(`0`)
		} else {
			list := placeholders(len(r.domains))
			args := make([]any, 0, 2*len(r.domains))
			for range 2 {
				for _, d := range r.domains {
					args = append(args, d)
				}
			}
			c.add(`(u.email_domain IN (`+list+`) OR u.login_domain IN (`+list+`))`, args...)
		}
	}
}

// whereGroups adds the group rules, the costliest conditions of a search:
// callers add them after the others.
func (r rules) whereGroups(c *conds) {
	if r.onlySet {
		cond, args := memberOf(r.only)
		c.add(`EXISTS (`+cond+`)`, args...)
	}
	if len(r.exclude) > 0 {
		cond, args := memberOf(r.exclude)
		c.add(`NOT EXISTS (`+cond+`)`, args...)
	}
}

// memberOf is a query of user u's memberships of groups matching ps.
// Names compare as folded keys, by range for prefixes, so no LIKE
// wildcard in a name can take effect.
func memberOf(ps []groupPattern) (string, []any) {
	ors, args := groupKeyConds(ps)
	return `SELECT 1 FROM group_members m CROSS JOIN groups g INDEXED BY groups_names
		ON g.directory_id = m.directory_id AND g.id = m.group_id
		WHERE m.directory_id = u.directory_id AND m.user_id = u.id AND (` + ors + `)`, args
}

// groupKeyConds returns the condition on groups g that ps match.
func groupKeyConds(ps []groupPattern) (string, []any) {
	if len(ps) == 0 {
		return `0`, nil
	}
	var ors []string
	var args []any
	for _, p := range ps {
		if p.prefix {
			ors = append(ors, `(g.name_key >= ? AND g.name_key < ?)`)
			args = append(args, p.key, prefixEnd(p.key))
		} else {
			ors = append(ors, `g.name_key = ?`)
			args = append(args, p.key)
		}
	}
	return strings.Join(ors, ` OR `), args
}

func placeholders(n int) string { return strings.Repeat("?, ", n-1) + "?" }
