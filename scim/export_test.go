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
