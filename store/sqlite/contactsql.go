package sqlite

import (
	"context"
	"slices"
	"strings"
)

// conds is the WHERE clause of a contact query on users u: conditions
// joined by AND, with their arguments in order. Every value is a
// parameter; the SQL text is this package's constants.
type conds struct {
	sql  []string
	args []any
}

func (c *conds) add(cond string, args ...any) {
	c.sql = append(c.sql, cond)
	c.args = append(c.args, args...)
}

func (c *conds) String() string { return strings.Join(c.sql, " AND ") }

// filter is one search condition in two forms: probe, a condition on the
// current row of users u, and lead, a query of exactly the user ids that
// match (ids may repeat) with their sort names where it has them (else
// NULL), which can lead the plan when it selects few.
// lead is "" when the condition cannot lead.
type filter struct {
	probe     string
	probeArgs []any
	lead      string
	leadArgs  []any
	// count, when set, is a cheaper query than lead selecting at least as
	// many ids: what chooseLead counts.
	count     string
	countArgs []any
	// named: lead has the sort names, so its matches are ordered without
	// reading users; the others are ordered through users_id_sort.
	named bool
	// runs, for text, lists the runs of user_words that hold exactly the
	// contacts that match: the filter then leads with their ordered merge
	// instead of lead, which costs a page of index entries per word
	// however many contacts match.
	runs []run
}

// A text search merges the runs of at most maxLeadWords distinct words
// per prefix, or else, when a prefix starts at most maxRangeRows rows
// (emails, which are one a contact), reads and sorts them all. A broader
// prefix (one letter, say) leads with its counted, sorted matches
// instead, or walks the contact order. Variables for tests of the other
// plans.
var (
	maxLeadWords = 64
	maxRangeRows = 2000
)

// textFilter matches Text: the whole text as a prefix of a word or of the
// email and, when the text has several words ("adele va"), each of them
// as the prefix of a word. Words are folded, so case does not matter.
// A text of one word (or of one word and separators: "sven.") starts a
// name word or the email's first word (see contactWords); a longer text,
// only an email (emailWord).
// The several-words match is led by the term with fewest matches
// (rarestWord: a query for "anna.smith.12345" must not lead with every
// Smith of a million contacts when no name starts with 12345); a term
// that starts no word leaves only the whole-text match.
func (db *DB) textFilter(ctx context.Context, directoryID, text string) (filter, error) {
	q := fold(strings.TrimSpace(text))
	terms := splitWords(q)
	if len(terms) == 1 && strings.HasPrefix(q, terms[0]) {
		// The whole text is one word, or one word and separators
		// ("sven."). An email that starts with the latter has the word
		// as its first word, which is one of the contact's words: the
		// word alone matches the same contacts, through one run of the
		// word index instead of every email that starts with it.
		q, terms = terms[0], nil
	} else {
		q = emailWord(q)
	}
	f := filter{probe: wordProbe, probeArgs: []any{q, prefixEnd(q)},
		lead: wordLead, leadArgs: []any{directoryID, q, prefixEnd(q)}, named: true}
	lead := -1
	if len(terms) > 0 {
		all := make([]string, len(terms))
		for i, t := range terms {
			all[i] = wordProbe
			f.probeArgs = append(f.probeArgs, t, prefixEnd(t))
		}
		f.probe = `(` + wordProbe + ` OR (` + strings.Join(all, ` AND `) + `))`
		var err error
		if lead, err = db.rarestWord(ctx, directoryID, terms); err != nil {
			return f, err
		}
	}
	if lead >= 0 {
		// The lead is exact: the whole text's matches, and those of the
		// rarest word that match every other word too.
		f.lead += ` UNION ALL ` + wordLead
		f.leadArgs = append(f.leadArgs, directoryID, terms[lead], prefixEnd(terms[lead]))
		f.count, f.countArgs = f.lead, slices.Clone(f.leadArgs)
		for i, t := range terms {
			if i != lead {
				f.lead += ` AND ` + alsoWord
				f.leadArgs = append(f.leadArgs, t, prefixEnd(t))
			}
		}
	}

	// The ordered merge, when each prefix is a few words or a few rows:
	// the whole text's and, with several words, the rarest one's, each
	// of whose contacts must also have a word starting every other term.
	// The merge is then exact: a run's contacts all match.
	runs, err := db.prefixRuns(ctx, directoryID, q)
	if err != nil || runs == nil {
		return f, err
	}
	runs = slices.Clip(runs)
	if lead >= 0 {
		rs, err := db.prefixRuns(ctx, directoryID, terms[lead])
		if err != nil || rs == nil {
			return f, err
		}
		var also []term
		for i, t := range terms {
			if i == lead {
				continue
			}
			words, err := db.prefixWords(ctx, directoryID, t, maxLeadWords+1)
			if err != nil {
				return f, err
			}
			also = append(also, term{prefix: t})
			if len(words) <= maxLeadWords {
				also[len(also)-1].words = jsonList(words)
			}
		}
		for _, r := range rs {
			r.also = also
			runs = append(runs, r)
		}
	}
	if runs == nil {
		runs = []run{} // not nil: leads, even selecting nothing
	}
	f.runs = runs
	return f, nil
}

// A run is a list of contacts in contact order that the lead of a text
// filter merges: the contacts of one word (from), or of every word in
// [from, to) (to != ""), which SQLite reads whole and sorts; of those,
// only the contacts that have a word starting with each of also.
type run struct {
	from, to string
	also     []term
}

// A term is a prefix that a contact must start a word with, and the
// words it starts (a JSON array) if they are at most maxLeadWords.
type term struct{ prefix, words string }

const (
	// alsoWord is a condition on user_words w: its contact has a word in
	// [?, ?). user_words_user ends with the word: one index seek.
	alsoWord = `EXISTS (SELECT 1 FROM user_words o WHERE o.directory_id = w.directory_id AND o.user_id = w.user_id
		AND o.word >= ? AND o.word < ?)`
	wordProbe = `EXISTS (SELECT 1 FROM user_words w WHERE w.directory_id = u.directory_id AND w.user_id = u.id
		AND w.word >= ? AND w.word < ?)`
	wordLead = `SELECT w.user_id, w.sort_name AS sort_name FROM user_words w WHERE w.directory_id = ? AND w.word >= ? AND w.word < ?`
)

// groupFilter matches the members of one group.
func groupFilter(directoryID, groupID string) filter {
	return filter{
		probe:     `EXISTS (SELECT 1 FROM group_members m WHERE m.directory_id = u.directory_id AND m.group_id = ? AND m.user_id = u.id)`,
		probeArgs: []any{groupID},
		lead:      `SELECT m.user_id, NULL AS sort_name FROM group_members m WHERE m.directory_id = ? AND m.group_id = ?`,
		leadArgs:  []any{directoryID, groupID},
	}
}

// onlyGroupsFilter leads with the members of the groups that
// Visibility.OnlyGroups selects (rules.where checks the rule itself).
func onlyGroupsFilter(directoryID string, r rules) filter {
	ors, args := groupKeyConds(r.Only)
	return filter{
		lead: `SELECT m.user_id, NULL AS sort_name FROM group_members m WHERE m.directory_id = ? AND m.group_id IN
			(SELECT g.id FROM groups g WHERE g.directory_id = ? AND (` + ors + `))`,
		leadArgs: append([]any{directoryID, directoryID}, args...),
	}
}
