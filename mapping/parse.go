package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Parse reads a rules document; nil, empty or null means Defaults. Every
// problem is reported (for the admin API's 400), joined in one error, one
// line each, in a fixed order.
//
// Keys are exact and unknown keys are refused. A missing or null key takes
// its default: phonePolicy "strict", required the CX defaults, no custom
// fields, no visibility rules; likewise a contact field missing from
// "fields" keeps its default source, while "" unmaps it. "required": []
// requires nothing. A custom field without "overwrite" overwrites.
func Parse(doc []byte) (Rules, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || string(doc) == "null" {
		return Defaults(), nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Rules{}, fmt.Errorf("the mapping rules are not valid JSON: %v (at byte %d)", err, se.Offset)
		}
		return Rules{}, errors.New("the mapping rules must be a JSON object")
	}
	var p problems
	p.unknownKeys("", top, "phonePolicy", "defaultRegion", "required", "fields", "customFields", "visibility")
	r := Defaults()
	if raw, ok := present(top, "phonePolicy"); ok && p.decode("phonePolicy", raw, &r.PhonePolicy, "a string") {
		if r.PhonePolicy != PhoneStrict && r.PhonePolicy != PhoneLenient {
			p.add("phonePolicy: %q must be %q or %q", r.PhonePolicy, PhoneStrict, PhoneLenient)
		}
	}
	if raw, ok := present(top, "defaultRegion"); ok && p.decode("defaultRegion", raw, &r.DefaultRegion, "a string") {
		// Region codes are upper case; accept "gb" for "GB".
		r.DefaultRegion = strings.ToUpper(r.DefaultRegion)
		if r.DefaultRegion != "" && !ValidRegion(r.DefaultRegion) {
			p.add("defaultRegion: %q is not a region phonenumbers knows (an ISO 3166-1 alpha-2 code such as \"US\" or \"GB\")", r.DefaultRegion)
		}
	}
	if raw, ok := present(top, "required"); ok {
		r.Required = []string{}
		p.decode("required", raw, &r.Required, "an array of strings")
	}
	if raw, ok := present(top, "fields"); ok {
		p.fields(raw, r.Fields)
	}
	p.required(r)
	if raw, ok := present(top, "customFields"); ok {
		r.CustomFields = p.customFields(raw)
	}
	if raw, ok := present(top, "visibility"); ok {
		r.Visibility = p.visibility(raw)
	}
	_, conflicts := r.extensions()
	for _, c := range conflicts {
		p.add("%s", c)
	}
	if len(p) > 0 {
		return Rules{}, errors.Join(p...)
	}
	return r, nil
}

// problems collects every validation error of a document.
type problems []error

func (p *problems) add(format string, args ...any) {
	*p = append(*p, fmt.Errorf(format, args...))
}

// decode unmarshals raw into v, recording a problem if its JSON type is
// wrong.
func (p *problems) decode(key string, raw json.RawMessage, v any, want string) bool {
	if err := json.Unmarshal(raw, v); err != nil {
		p.add("%s: must be %s", key, want)
		return false
	}
	return true
}

// unknownKeys records every key of obj not in known, hinting at a known
// key that differs only in case.
func (p *problems) unknownKeys(prefix string, obj map[string]json.RawMessage, known ...string) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
next:
	for _, k := range keys {
		for _, kn := range known {
			if k == kn {
				continue next
			}
		}
		if fix := caseFix(k, known); fix != "" {
			p.add("%sunknown key %q (did you mean %q?)", prefix, k, fix)
		} else {
			p.add("%sunknown key %q (known: %s)", prefix, k, strings.Join(known, ", "))
		}
	}
}

// caseFix returns the known word that name differs from only in case.
func caseFix(name string, known []string) string {
	for _, kn := range known {
		if strings.EqualFold(name, kn) {
			return kn
		}
	}
	return ""
}

// present returns a key's value unless it is missing or null.
func present(obj map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func (p *problems) fields(raw json.RawMessage, into map[string]string) {
	var obj map[string]json.RawMessage
	if !p.decode("fields", raw, &obj, "an object of contact field → SCIM attribute path") {
		return
	}
	p.unknownKeys("fields: ", obj, contactFields[:]...)
	for _, f := range contactFields {
		raw, ok := present(obj, f)
		if !ok {
			continue
		}
		var s string
		if !p.decode("fields."+f, raw, &s, "a string (a SCIM attribute path, or \"\" to leave the field unmapped)") {
			continue
		}
		into[f] = s
		if s != "" {
			p.path("fields."+f, s)
		}
	}
}

// path records a problem if s is not a supported attribute path.
func (p *problems) path(key, s string) {
	if _, err := parsePath(s); err != nil {
		p.add("%s: %q is not a valid attribute path (%v)", key, s, err)
	}
}

// required checks the required names and that each has a source.
func (p *problems) required(r Rules) {
	seen := map[string]bool{}
	for _, name := range r.Required {
		if seen[name] {
			p.add("required: %q is listed twice", name)
			continue
		}
		seen[name] = true
		var mapped bool
		switch name {
		case "userName":
			mapped = r.fieldPath("login") != ""
		case "externalId":
			mapped = r.fieldPath("objectId") != ""
		case "phone", "email":
			mapped = r.fieldPath(name) != ""
		case "name":
			mapped = r.fieldPath("givenName") != "" || r.fieldPath("familyName") != ""
		default:
			if fix := caseFix(name, requiredNames); fix != "" {
				p.add("required: %q is not a contact field (did you mean %q?)", name, fix)
			} else {
				p.add("required: %q is not a contact field (%s)", name, strings.Join(requiredNames, ", "))
			}
			continue
		}
		if !mapped {
			p.add("required: %q has no source: its field in \"fields\" is \"\"", name)
		}
	}
}

// customNameRE keeps custom field names usable as JSON keys and columns.
var customNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// builtinNames are contact JSON keys and rule names a custom field may not
// take (compared case-insensitively).
var builtinNames = append([]string{"phones", "custom", "userName", "externalId", "name"}, contactFields[:]...)

func (p *problems) customFields(raw json.RawMessage) []CustomField {
	var list []json.RawMessage
	if !p.decode("customFields", raw, &list, "an array of objects") || len(list) == 0 {
		return nil
	}
	out := make([]CustomField, 0, len(list))
	names := map[string]int{}
	for i, raw := range list {
		key := fmt.Sprintf("customFields[%d]", i)
		var obj map[string]json.RawMessage
		if !p.decode(key, raw, &obj, `an object with "name", "source", "type" and "overwrite"`) {
			continue
		}
		p.unknownKeys(key+": ", obj, "name", "source", "type", "overwrite")
		cf := CustomField{Overwrite: true}
		str := func(k string, dst *string) {
			if raw, ok := present(obj, k); !ok {
				p.add("%s.%s: missing", key, k)
			} else if p.decode(key+"."+k, raw, dst, "a string") && *dst == "" {
				p.add("%s.%s: empty", key, k)
			}
		}
		str("name", &cf.Name)
		str("source", &cf.Source)
		str("type", &cf.Type)
		if raw, ok := present(obj, "overwrite"); ok {
			p.decode(key+".overwrite", raw, &cf.Overwrite, "true or false")
		}
		if cf.Name != "" {
			p.customName(key, cf.Name, names, i)
		}
		if cf.Source != "" {
			p.path(key+".source", cf.Source)
			if pp, err := parsePath(cf.Source); err == nil && pp.urn != "" && !strings.EqualFold(pp.urn, EnterpriseURN) && (pp.sub != "" || pp.filter != nil) {
				p.add("%s.source: %q reads into a custom extension attribute; only simple ones (urn:...:User:attr) are supported", key, cf.Source)
			}
		}
		if _, ok := scimTypes[cf.Type]; !ok && cf.Type != "" {
			p.add("%s.type: %q must be text, number, boolean or date", key, cf.Type)
		}
		out = append(out, cf)
	}
	return out
}

func (p *problems) customName(key, name string, names map[string]int, i int) {
	if !customNameRE.MatchString(name) {
		p.add("%s.name: %q must start with a letter and hold only letters, digits, '-' and '_' (at most 64)", key, name)
		return
	}
	for _, b := range builtinNames {
		if strings.EqualFold(name, b) {
			p.add("%s.name: %q clashes with the built-in contact field %q", key, name, b)
			return
		}
	}
	l := strings.ToLower(name)
	if j, dup := names[l]; dup {
		p.add("%s.name: %q is already the name of customFields[%d]", key, name, j)
		return
	}
	names[l] = i
}

func (p *problems) visibility(raw json.RawMessage) Visibility {
	var v Visibility
	var obj map[string]json.RawMessage
	if !p.decode("visibility", raw, &obj, `an object with "onlyGroups", "excludeGroups" and "domains"`) {
		return v
	}
	p.unknownKeys("visibility: ", obj, "onlyGroups", "excludeGroups", "domains")
	list := func(k string) []string {
		var l []string
		if raw, ok := present(obj, k); ok {
			p.decode("visibility."+k, raw, &l, "an array of strings")
		}
		if len(l) == 0 {
			return nil // omitted by Marshal: keeps the round trip exact
		}
		return l
	}
	v.OnlyGroups, v.ExcludeGroups, v.Domains = list("onlyGroups"), list("excludeGroups"), list("domains")
	p.groupPatterns("onlyGroups", v.OnlyGroups)
	p.groupPatterns("excludeGroups", v.ExcludeGroups)
	for i, d := range v.Domains {
		switch {
		case strings.TrimSpace(d) == "":
			p.add("visibility.domains[%d]: empty domain", i)
		case strings.Contains(d, "@"):
			p.add("visibility.domains[%d]: %q must be a bare domain such as %q", i, d, d[strings.LastIndexByte(d, '@')+1:])
		case strings.ContainsAny(d, " *,;/"):
			p.add("visibility.domains[%d]: %q is not a domain name", i, d)
		}
	}
	return v
}

func (p *problems) groupPatterns(key string, patterns []string) {
	for i, g := range patterns {
		switch {
		case strings.TrimSpace(g) == "":
			p.add("visibility.%s[%d]: empty group pattern", key, i)
		case strings.Contains(strings.TrimSuffix(g, "*"), "*"):
			p.add("visibility.%s[%d]: %q may only use \"*\" at its end (a name prefix)", key, i, g)
		}
	}
}
