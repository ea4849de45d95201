package sqlite

import (
	"strings"

	"github.com/scimd/scimd/store"
)

// rules are the visibility rules of a query, with their SQL form.
type rules struct{ store.VisibilityRules }

func compileRules(v store.Visibility) rules { return rules{v.Compile()} }

// where adds "active" and the domain rule as conditions on users u.
// SQLite checks conditions in order and stops at the first that fails, so
// cheap ones go first.
func (r rules) where(c *conds) {
	c.add(`u.active = 1`) // also what lets the planner use users_sort
	if r.DomainsSet {
		if len(r.Domains) == 0 {
			c.add(`0`)
		} else {
			list := placeholders(len(r.Domains))
			args := make([]any, 0, 2*len(r.Domains))
			for range 2 {
				for _, d := range r.Domains {
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
	if r.OnlySet {
		cond, args := memberOf(r.Only)
		c.add(`EXISTS (`+cond+`)`, args...)
	}
	if len(r.Exclude) > 0 {
		cond, args := memberOf(r.Exclude)
		c.add(`NOT EXISTS (`+cond+`)`, args...)
	}
}

// memberOf is a query of user u's memberships of groups matching ps.
// Names compare as folded keys, by range for prefixes, so no LIKE
// wildcard in a name can take effect.
func memberOf(ps []store.GroupPattern) (string, []any) {
	ors, args := groupKeyConds(ps)
	return `SELECT 1 FROM group_members m CROSS JOIN groups g INDEXED BY groups_names
		ON g.directory_id = m.directory_id AND g.id = m.group_id
		WHERE m.directory_id = u.directory_id AND m.user_id = u.id AND (` + ors + `)`, args
}

// groupKeyConds returns the condition on groups g that ps match.
func groupKeyConds(ps []store.GroupPattern) (string, []any) {
	if len(ps) == 0 {
		return `0`, nil
	}
	var ors []string
	var args []any
	for _, p := range ps {
		if p.Prefix {
			ors = append(ors, `(g.name_key >= ? AND g.name_key < ?)`)
			args = append(args, p.Key, prefixEnd(p.Key))
		} else {
			ors = append(ors, `g.name_key = ?`)
			args = append(args, p.Key)
		}
	}
	return strings.Join(ors, ` OR `), args
}

func placeholders(n int) string { return strings.Repeat("?, ", n-1) + "?" }
