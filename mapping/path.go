package mapping

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Schema URNs whose attributes the SCIM layer already knows; any other URN
// in a rule is a custom extension the directory must accept.
const (
	CoreUserURN   = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// path is a parsed attribute path:
//
//	[urn ":"] attr ["[" filter "]"] ["." sub]
//
// where filter is `name eq "literal"` terms joined by "and" (literals may
// also be true or false). Names are case-insensitive.
type path struct {
	urn    string // "" for the core User schema
	attr   string
	filter []term
	sub    string
}

type term struct {
	attr  string
	value any // string or bool
}

// parsePath parses and checks an attribute path. The error says what is
// wrong without repeating the path.
func parsePath(s string) (path, error) {
	var p path
	if s == "" {
		return p, errors.New("empty")
	}
	rest := s
	// A URN holds dots ("2.0") and a filter literal may hold colons, so
	// the URN ends at the last colon before any "[".
	head := rest
	if i := strings.IndexByte(head, '['); i >= 0 {
		head = head[:i]
	}
	if i := strings.LastIndexByte(head, ':'); i >= 0 {
		urn := rest[:i]
		if len(urn) < 5 || !strings.EqualFold(urn[:4], "urn:") {
			return p, errors.New(`only "urn:" schema prefixes are allowed before the attribute name`)
		}
		if strings.ContainsAny(urn, " \t\"") {
			return p, errors.New("the schema URN holds spaces or quotes")
		}
		if !strings.EqualFold(urn, CoreUserURN) {
			p.urn = urn
		}
		rest = rest[i+1:]
	}
	name, rest := scanName(rest)
	if name == "" {
		return p, errors.New("expected an attribute name (a letter, then letters, digits, '-' or '_')")
	}
	p.attr = name
	if strings.HasPrefix(rest, "[") {
		end, terms, err := parseFilter(rest[1:])
		if err != nil {
			return p, err
		}
		p.filter = terms
		rest = rest[1+end:]
		if rest == "" {
			return p, errors.New(`a filter must be followed by a sub-attribute, e.g. emails[type eq "work"].value`)
		}
	}
	if strings.HasPrefix(rest, ".") {
		sub, r := scanName(rest[1:])
		if sub == "" {
			return p, errors.New(`expected a sub-attribute name after "."`)
		}
		p.sub, rest = sub, r
	}
	if rest != "" {
		return p, fmt.Errorf("unexpected %q", rest)
	}
	return p, nil
}

// parseFilter reads `a eq "x" and b eq true]` and returns the index just
// past the closing bracket.
func parseFilter(s string) (int, []term, error) {
	var terms []term
	i := 0
	for {
		i = skipSpace(s, i)
		name, _ := scanName(s[i:])
		if name == "" {
			return 0, nil, errors.New(`expected a filter such as [type eq "work"]`)
		}
		i = skipSpace(s, i+len(name))
		if !hasWordFold(s[i:], "eq") {
			return 0, nil, errors.New(`filters may only use "eq" (and "and")`)
		}
		i = skipSpace(s, i+2)
		var val any
		switch {
		case strings.HasPrefix(s[i:], `"`):
			lit, n, err := scanString(s[i:])
			if err != nil {
				return 0, nil, err
			}
			val, i = lit, i+n
		case hasWordFold(s[i:], "true"):
			val, i = true, i+4
		case hasWordFold(s[i:], "false"):
			val, i = false, i+5
		default:
			return 0, nil, errors.New(`expected a quoted string, true or false after "eq"`)
		}
		terms = append(terms, term{name, val})
		i = skipSpace(s, i)
		switch {
		case strings.HasPrefix(s[i:], "]"):
			return i + 1, terms, nil
		case hasWordFold(s[i:], "and"):
			i += 3
		case i == len(s):
			return 0, nil, errors.New(`unclosed "["`)
		default:
			return 0, nil, errors.New(`filter terms may only be joined by "and"`)
		}
	}
}

// scanName returns the SCIM ATTRNAME at the start of s and what follows.
func scanName(s string) (string, string) {
	i := 0
	for i < len(s) {
		c := s[i]
		if isAlpha(c) || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_') {
			i++
			continue
		}
		break
	}
	return s[:i], s[i:]
}

// scanString reads a JSON string literal at the start of s.
func scanString(s string) (string, int, error) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", 0, errors.New("bad escape in the filter's string")
			}
			return v, i + 1, nil
		}
	}
	return "", 0, errors.New("unterminated string in the filter")
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func skipSpace(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// hasWordFold reports whether s starts with word, case-insensitively, not
// followed by another name character.
func hasWordFold(s, word string) bool {
	if len(s) < len(word) || !strings.EqualFold(s[:len(word)], word) {
		return false
	}
	if len(s) == len(word) {
		return true
	}
	c := s[len(word)]
	return !(isAlpha(c) || c >= '0' && c <= '9' || c == '-' || c == '_')
}

// resolve finds the path's value in a SCIM document. It returns nil when
// the attribute is absent, and the index of the multi-valued element it
// came from (-1 if none).
func (p path) resolve(doc map[string]any) (any, int) {
	container := doc
	if p.urn != "" {
		m, _ := getFold(doc, p.urn).(map[string]any)
		if m == nil {
			return nil, -1
		}
		container = m
	}
	v := getFold(container, p.attr)
	idx := -1
	if p.filter != nil {
		list, _ := v.([]any)
		idx = p.match(list)
		if idx < 0 {
			return nil, -1
		}
		v = list[idx]
	} else if list, ok := v.([]any); ok && p.sub != "" {
		// attr.sub on a multi-valued attribute: the primary element,
		// else the first, as SCIM clients read a single value.
		idx = primary(list)
		if idx < 0 {
			return nil, -1
		}
		v = list[idx]
	}
	if p.sub == "" {
		return v, idx
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return nil, -1
	}
	return getFold(m, p.sub), idx
}

// match returns the index of the first element matching every filter term.
func (p path) match(list []any) int {
next:
	for i, e := range list {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		for _, t := range p.filter {
			if !equalValue(getFold(m, t.attr), t.value) {
				continue next
			}
		}
		return i
	}
	return -1
}

// equalValue compares a document value with a filter literal the way SCIM
// compares caseExact=false strings; booleans also match "true"/"false".
func equalValue(v, lit any) bool {
	switch lit := lit.(type) {
	case string:
		s, ok := v.(string)
		return ok && strings.EqualFold(s, lit)
	case bool:
		switch v := v.(type) {
		case bool:
			return v == lit
		case string:
			return strings.EqualFold(v, strconv.FormatBool(lit))
		}
	}
	return false
}

// primary returns the index of the element marked primary, else 0, or -1
// for an empty list.
func primary(list []any) int {
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && equalValue(getFold(m, "primary"), true) {
			return i
		}
	}
	if len(list) == 0 {
		return -1
	}
	return 0
}

// getFold reads a key, exactly if possible, else case-insensitively, since
// SCIM attribute names and schema URNs are case-insensitive.
func getFold(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}
