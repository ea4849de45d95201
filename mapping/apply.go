package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/jsonenc"
	"github.com/scimd/scimd/store"
)

// Apply derives a contact from a SCIM user document (canonical attribute
// names; extension attributes under their URN) or refuses it with a
// *Refusal. old is the stored contact on updates (nil on create), for
// custom fields whose overwrite switch is off.
//
// Refusals come in a fixed order: required fields (userName, externalId,
// phone, name, email), then phone numbers (the mapped phone, then every
// phoneNumbers entry in document order), then custom fields in rule order.
// Phones lists the mapped phone first, then the other phoneNumbers
// entries; a mapped phone read from outside phoneNumbers has no Type.
// An error that is not a *Refusal means the rules themselves are invalid
// (they did not come from Parse).
func Apply(r Rules, doc map[string]any, old *store.Contact) (store.Contact, error) {
	var v [numFields]resolved
	for i, f := range contactFields {
		src := r.fieldPath(f)
		if src == "" {
			continue
		}
		p, err := parsePath(src)
		if err != nil {
			return store.Contact{}, fmt.Errorf("mapping: fields.%s: %q is not a valid attribute path (%v)", f, src, err)
		}
		raw, idx := p.resolve(doc)
		s, ok := scalarString(raw)
		if !ok {
			return store.Contact{}, &Refusal{Attribute: src, Value: display(raw),
				Reason: "holds an object or a list where the directory's mapping rules expect a single value"}
		}
		v[i] = resolved{src: src, p: p, value: s, idx: idx}
	}
	if err := r.checkRequired(&v); err != nil {
		return store.Contact{}, err
	}
	phones, err := r.phones(doc, v[fPhone])
	if err != nil {
		return store.Contact{}, err
	}
	custom, err := r.custom(doc, old)
	if err != nil {
		return store.Contact{}, err
	}
	c := store.Contact{
		Login:       v[fLogin].value,
		ObjectID:    v[fObjectID].value,
		DisplayName: v[fDisplayName].value,
		GivenName:   v[fGivenName].value,
		FamilyName:  v[fFamilyName].value,
		Email:       v[fEmail].value,
		Title:       v[fTitle].value,
		Department:  v[fDepartment].value,
		Phones:      phones,
		Custom:      custom,
	}
	if c.DisplayName == "" {
		c.DisplayName = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Login
	}
	return c, nil
}

// resolved is a contact field's value and where it came from.
type resolved struct {
	src   string // the path as written in the rules; "" when unmapped
	p     path
	value string
	idx   int // element of a multi-valued attribute, -1 if none
}

const askEntra = "(is the Entra source attribute mapped to it empty?)"

func (r Rules) checkRequired(v *[numFields]resolved) error {
	req := map[string]bool{}
	for _, name := range r.Required {
		if !slices.Contains(requiredNames, name) {
			return fmt.Errorf("mapping: required: %q is not a contact field", name)
		}
		req[name] = true
	}
	for _, name := range requiredNames {
		if !req[name] {
			continue
		}
		var f int
		switch name {
		case "userName":
			f = fLogin
		case "externalId":
			f = fObjectID
		case "phone":
			f = fPhone
		case "email":
			f = fEmail
		case "name":
			g, fam := v[fGivenName], v[fFamilyName]
			switch {
			case g.value != "" || fam.value != "":
				continue
			case g.src != "" && fam.src != "":
				return &Refusal{Attribute: g.src, Reason: "and " + fam.src +
					" are both missing or empty; at least one is required (are both Entra source attributes mapped to them empty?)"}
			case g.src != "":
				return &Refusal{Attribute: g.src, Reason: "is required but missing or empty " + askEntra}
			case fam.src != "":
				return &Refusal{Attribute: fam.src, Reason: "is required but missing or empty " + askEntra}
			}
			return fmt.Errorf("mapping: required name has no source: fields.givenName and fields.familyName are unmapped")
		}
		if v[f].src == "" {
			return fmt.Errorf("mapping: required %s has no source: fields.%s is unmapped", name, contactFields[f])
		}
		if v[f].value == "" {
			return &Refusal{Attribute: v[f].src, Reason: "is required but missing or empty " + askEntra}
		}
	}
	return nil
}

// phones checks and normalises the mapped phone and every phoneNumbers
// entry; an empty value is a cleared one and is skipped.
func (r Rules) phones(doc map[string]any, mapped resolved) ([]store.Phone, error) {
	entries, _ := getFold(doc, "phoneNumbers").([]any)
	fromList := mapped.idx >= 0 && mapped.p.urn == "" && strings.EqualFold(mapped.p.attr, "phoneNumbers")
	type candidate struct{ attr, typ, value string }
	cands := make([]candidate, 0, len(entries)+1)
	if mapped.value != "" {
		c := candidate{attr: mapped.src, value: mapped.value}
		if fromList {
			c.typ = entryType(entries[mapped.idx])
		}
		cands = append(cands, c)
	}
	for i, e := range entries {
		if fromList && i == mapped.idx {
			continue
		}
		m, _ := e.(map[string]any)
		s, ok := scalarString(getFold(m, "value"))
		if !ok || s == "" {
			continue
		}
		typ := entryType(e)
		attr := "phoneNumbers.value"
		if typ != "" {
			attr = "phoneNumbers[type eq " + strconv.Quote(typ) + "].value"
		}
		cands = append(cands, candidate{attr: attr, typ: typ, value: s})
	}
	if len(cands) == 0 {
		return nil, nil
	}
	out := make([]store.Phone, len(cands))
	for i, c := range cands {
		e, err := checkPhone(c.value, r.PhonePolicy, r.DefaultRegion)
		if err != nil {
			return nil, &Refusal{Attribute: c.attr, Value: c.value, Reason: err.Error()}
		}
		out[i] = store.Phone{Type: c.typ, Value: c.value, E164: e}
	}
	return out, nil
}

func entryType(e any) string {
	m, _ := e.(map[string]any)
	s, _ := getFold(m, "type").(string)
	return s
}

// custom reads the custom fields. With overwrite off, a value the old
// contact holds is kept, but the new source value must still have the
// right type: it is stored in the SCIM document all the same.
func (r Rules) custom(doc map[string]any, old *store.Contact) (map[string]any, error) {
	var out map[string]any
	set := func(k string, v any) {
		if out == nil {
			out = make(map[string]any, len(r.CustomFields))
		}
		out[k] = v
	}
	for i, cf := range r.CustomFields {
		p, err := parsePath(cf.Source)
		if err != nil {
			return nil, fmt.Errorf("mapping: customFields[%d].source: %q is not a valid attribute path (%v)", i, cf.Source, err)
		}
		raw, _ := p.resolve(doc)
		val, problem, err := convert(cf.Type, raw)
		if err != nil {
			return nil, fmt.Errorf("mapping: customFields[%d]: %v", i, err)
		}
		if problem != "" {
			return nil, &Refusal{Attribute: cf.Source, Value: display(raw),
				Reason: fmt.Sprintf("%s (custom field %q has type %s)", problem, cf.Name, cf.Type)}
		}
		if !cf.Overwrite && old != nil {
			if ov, ok := old.Custom[cf.Name]; ok {
				set(cf.Name, ov)
				continue
			}
		}
		if val != nil {
			set(cf.Name, val)
		}
	}
	return out, nil
}

// jsonNumber is the JSON number grammar: numeric strings must follow it
// (strconv.ParseFloat would also take "0x1p3", "Inf" or "1_0").
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// convert reads a custom field value: nil when absent or empty, else the
// stored form, or a problem saying why the value has the wrong type.
func convert(typ string, v any) (any, string, error) {
	if v == nil || v == "" {
		return nil, "", nil
	}
	switch typ {
	case TypeText:
		s, ok := scalarString(v)
		if !ok {
			return nil, "is not a single value", nil
		}
		return s, "", nil
	case TypeNumber:
		var f float64
		var err error
		switch x := v.(type) {
		case json.Number:
			if !jsonNumber.MatchString(string(x)) {
				return nil, "is not a number", nil
			}
			f, err = strconv.ParseFloat(string(x), 64)
		case string:
			if !jsonNumber.MatchString(x) {
				return nil, `is not a number (send a JSON number such as 42 or a numeric string such as "42")`, nil
			}
			f, err = strconv.ParseFloat(x, 64)
		case float64:
			f = x
		case float32:
			f = float64(x)
		case int:
			f = float64(x)
		case int64:
			f = float64(x)
		case int32:
			f = float64(x)
		case uint64:
			f = float64(x)
		default:
			return nil, `is not a number (send a JSON number such as 42 or a numeric string such as "42")`, nil
		}
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, "is out of range for a number", nil
		}
		return f, "", nil
	case TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, "", nil
		case string:
			if strings.EqualFold(x, "true") {
				return true, "", nil
			}
			if strings.EqualFold(x, "false") {
				return false, "", nil
			}
		}
		return nil, "is not a boolean (send true or false)", nil
	case TypeDate:
		if s, ok := v.(string); ok && isDate(s) {
			return s, "", nil
		}
		return nil, `is not a date (send an RFC 3339 date such as "2024-05-31" or date-time such as "2024-05-31T09:00:00Z")`, nil
	}
	return nil, "", fmt.Errorf("type %q must be text, number, boolean or date", typ)
}

func isDate(s string) bool {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return true
	}
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

// scalarString renders a single JSON value as text; nil is "". It fails
// for objects and lists.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	return "", false
}

// display renders an offending value for a Refusal.
func display(v any) string {
	if s, ok := scalarString(v); ok {
		return s
	}
	b, err := jsonenc.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
