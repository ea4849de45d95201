package scim

import (
	"fmt"
	"sync"

	libscim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/scimd/scimd/mapping"
	"github.com/scimd/scimd/store"
)

// dirConfig is what a directory's mapping rules make of the SCIM layer:
// the rules, the User resource type extended with the custom schema
// extensions the rules accept, and the discovery documents listing them.
type dirConfig struct {
	rules mapping.Rules
	user  *resourceDef
	args  *libscim.ServerArgs
}

// configCache keeps parsed rules per rules document, so that a request
// costs a map lookup, not a JSON parse. Directories with the same rules
// share an entry; a changed document is a new key.
type configCache struct {
	mu sync.RWMutex
	m  map[string]*dirConfig
}

const maxCachedConfigs = 1024

func (c *configCache) get(s *Server, d store.Directory) (*dirConfig, error) {
	key := string(d.Mapping)
	c.mu.RLock()
	cfg := c.m[key]
	c.mu.RUnlock()
	if cfg != nil {
		return cfg, nil
	}
	rules, err := mapping.Parse(d.Mapping)
	if err != nil {
		return nil, fmt.Errorf("directory %s: stored mapping rules: %w", d.ID, err)
	}
	cfg = newDirConfig(s.discovery, rules)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedConfigs {
		c.m = map[string]*dirConfig{}
	}
	c.m[key] = cfg
	c.mu.Unlock()
	return cfg, nil
}

func newDirConfig(disc *discovery, rules mapping.Rules) *dirConfig {
	exts := []schema.Schema{schema.ExtensionEnterpriseUser()}
	for _, e := range rules.Extensions() {
		exts = append(exts, extensionSchema(e))
	}
	cfg := &dirConfig{rules: rules, user: userDef, args: disc.args}
	if len(exts) == 1 {
		return cfg // the common case shares the static definitions
	}
	cfg.user = newResourceDef("User", "/Users", userDef.core, exts...)
	args := *disc.args
	args.ResourceTypes = append([]libscim.ResourceType(nil), disc.args.ResourceTypes...)
	rt := args.ResourceTypes[0]
	rt.SchemaExtensions = nil
	for _, e := range exts {
		rt.SchemaExtensions = append(rt.SchemaExtensions, libscim.SchemaExtension{Schema: e})
	}
	args.ResourceTypes[0] = rt
	cfg.args = &args
	return cfg
}

// extensionSchema declares an Entra custom extension (for example
// urn:ietf:params:scim:schemas:extension:cx:2.0:User) with the attributes
// the mapping rules read from it.
func extensionSchema(e mapping.Extension) schema.Schema {
	s := schema.Schema{ID: e.URN, Name: optional.NewString("Custom extension"),
		Description: optional.NewString("Attributes mapped to contact custom fields")}
	for _, a := range e.Attributes {
		var p schema.SimpleParams
		switch a.Type {
		case "boolean":
			p = schema.SimpleBooleanParams(schema.BooleanParams{Name: a.Name})
		case "decimal":
			p = schema.SimpleNumberParams(schema.NumberParams{Name: a.Name, Type: schema.AttributeTypeDecimal()})
		case "dateTime":
			p = schema.SimpleDateTimeParams(schema.DateTimeParams{Name: a.Name})
		default:
			p = schema.SimpleStringParams(schema.StringParams{Name: a.Name})
		}
		s.Attributes = append(s.Attributes, schema.SimpleCoreAttribute(p))
	}
	return s
}
