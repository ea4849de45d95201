package scim

import (
	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

// SkipMappingForBenchmark turns the mapping layer off (every user becomes
// an empty contact) until the returned function restores it, so that a
// benchmark can measure creation with and without it in one run.
func SkipMappingForBenchmark() (restore func()) {
	applyRules = func(mapping.Rules, map[string]any, *store.Contact) (store.Contact, error) {
		return store.Contact{}, nil
	}
	return func() { applyRules = mapping.Apply }
}

// SkipValidationForBenchmark replaces the mapping layer with a plain copy
// of the attributes the default rules read (no rule checks, no phone
// parsing), until the returned function restores it. The contact, and so
// every lookup row the store writes for it, is the one the mapping layer
// derives from benchmark users (their work phones are already E.164), so a
// benchmark against it isolates what validation itself costs.
func SkipValidationForBenchmark() (restore func()) {
	applyRules = func(_ mapping.Rules, doc map[string]any, _ *store.Contact) (store.Contact, error) {
		str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
		c := store.Contact{Login: str(doc, "userName"), ObjectID: str(doc, "externalId"), Title: str(doc, "title")}
		if n, ok := doc["name"].(map[string]any); ok {
			c.GivenName, c.FamilyName = str(n, "givenName"), str(n, "familyName")
			c.DisplayName = c.GivenName + " " + c.FamilyName
		}
		if es, ok := doc["emails"].([]any); ok && len(es) > 0 {
			if e, ok := es[0].(map[string]any); ok {
				c.Email = str(e, "value")
			}
		}
		if ps, ok := doc["phoneNumbers"].([]any); ok {
			for _, p := range ps {
				if p, ok := p.(map[string]any); ok {
					c.Phones = append(c.Phones, store.Phone{Type: str(p, "type"), Value: str(p, "value"), E164: str(p, "value")})
				}
			}
		}
		if ent, ok := doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any); ok {
			c.Department = str(ent, "department")
		}
		return c, nil
	}
	return func() { applyRules = mapping.Apply }
}
