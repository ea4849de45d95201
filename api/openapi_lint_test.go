package api_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/scimd/scimd/api"
)

// TestOpenAPILint keeps both OpenAPI documents passing
// `npx @redocly/cli lint` (README.md, "OpenAPI documents") without the
// network: it checks the rules of redocly's recommended set that these
// documents could break, so that a broken document fails here first.
func TestOpenAPILint(t *testing.T) {
	for name, doc := range map[string][]byte{"lookup": api.OpenAPIDocument(), "admin": api.AdminOpenAPIDocument()} {
		t.Run(name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(doc, &d); err != nil {
				t.Fatal(err)
			}
			for _, p := range lintOpenAPI(d) {
				t.Error(p)
			}
		})
	}
}

// TestOpenAPILintFindsProblems checks that the linter finds what redocly
// reported in the lookup document before it was fixed (nullable without
// type), and the other problems it looks for.
func TestOpenAPILintFindsProblems(t *testing.T) {
	const bad = `{
	  "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
	  "tags": [{"name": "a", "description": "A."}, {"name": "b"}],
	  "paths": {
	    "/x/{id}": {"get": {"tags": ["a", "c"], "summary": "s",
	      "responses": {"200": {"content": {"application/json": {"schema": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/Gone"}]}}}}}}},
	    "/y": {"get": {"operationId": "dup", "summary": "s", "responses": {}},
	           "post": {"operationId": "dup", "summary": "s", "parameters": [{"name": "q", "in": "path", "required": true, "schema": {"type": "string"}}],
	             "responses": {"201": {"description": "ok"}}}}
	  },
	  "components": {"schemas": {"Unused": {"type": "object"}}}
	}`
	var d map[string]any
	if err := json.Unmarshal([]byte(bad), &d); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lintOpenAPI(d), "\n")
	for _, want := range []string{
		"nullable without type",
		"#/components/schemas/Gone does not resolve",
		"GET /x/{id}: no operationId",
		"GET /x/{id}: path parameter id is not declared",
		"GET /x/{id}: response 200 has no description",
		"GET /x/{id}: tag c is not declared",
		"tag b has no description",
		"GET /y: no responses",
		"operationId dup is used twice",
		"POST /y: path parameter q is not in the path",
		"#/components/schemas/Unused is never used",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not include %q:\n%s", want, got)
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// lintOpenAPI returns the problems of an OpenAPI 3.0 document: a schema
// with nullable but no type (redocly: nullable-type-sibling), a $ref
// that does not resolve (no-unresolved-refs), an operation without
// operationId, summary or responses, a duplicate operationId, a response
// without description, path parameters that do not match the path
// template (path-parameters-defined), undeclared or undescribed tags
// (operation-tag-defined, tag-description) and components nothing
// refers to (no-unused-components).
func lintOpenAPI(d map[string]any) []string {
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	if v, _ := d["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		add("openapi is %q, want 3.0.x", v)
	}
	info, _ := d["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		add("info needs title and version")
	}

	// Every $ref resolves; remember what is referred to.
	used := map[string]bool{}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				used[ref] = true
				if resolve(d, ref) == nil {
					add("%s: $ref %s does not resolve", at, ref)
				}
			}
			if _, ok := v["nullable"]; ok && v["type"] == nil {
				add("%s: nullable without type", at)
			}
			for _, k := range sortedKeys(v) {
				walk(at+"/"+k, v[k])
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s/%d", at, i), x)
			}
		}
	}
	walk("#", d)

	declaredTags := map[string]bool{}
	tags, _ := d["tags"].([]any)
	for _, x := range tags {
		tag, _ := x.(map[string]any)
		name, _ := tag["name"].(string)
		declaredTags[name] = true
		if s, _ := tag["description"].(string); s == "" {
			add("tag %s has no description", name)
		}
	}

	opIDs := map[string]int{}
	paths, _ := d["paths"].(map[string]any)
	for _, path := range sortedKeys(paths) {
		item, _ := paths[path].(map[string]any)
		inPath := map[string]bool{}
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			inPath[m[1]] = true
		}
		for _, method := range sortedKeys(item) {
			if !slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, method) {
				continue
			}
			op, _ := item[method].(map[string]any)
			at := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" {
				add("%s: no operationId", at)
			} else if opIDs[id]++; opIDs[id] == 2 {
				add("operationId %s is used twice", id)
			}
			if s, _ := op["summary"].(string); s == "" {
				add("%s: no summary", at)
			}
			opTags, _ := op["tags"].([]any)
			for _, x := range opTags {
				if name, _ := x.(string); !declaredTags[name] {
					add("%s: tag %s is not declared", at, x)
				}
			}
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				add("%s: no responses", at)
			}
			for _, code := range sortedKeys(responses) {
				resp, _ := responses[code].(map[string]any)
				if resp["$ref"] != nil {
					resp, _ = resolve(d, resp["$ref"].(string)).(map[string]any)
				}
				if s, _ := resp["description"].(string); s == "" {
					add("%s: response %s has no description", at, code)
				}
			}
			declared := map[string]bool{}
			for _, params := range []any{item["parameters"], op["parameters"]} {
				list, _ := params.([]any)
				for _, x := range list {
					p, _ := x.(map[string]any)
					if ref, ok := p["$ref"].(string); ok {
						p, _ = resolve(d, ref).(map[string]any)
					}
					if p["in"] != "path" {
						continue
					}
					name, _ := p["name"].(string)
					declared[name] = true
					if !inPath[name] {
						add("%s: path parameter %s is not in the path", at, name)
					}
					if p["required"] != true {
						add("%s: path parameter %s is not required", at, name)
					}
				}
			}
			for _, name := range sortedKeys(inPath) {
				if !declared[name] {
					add("%s: path parameter %s is not declared", at, name)
				}
			}
		}
	}

	components, _ := d["components"].(map[string]any)
	for _, kind := range []string{"schemas", "parameters", "responses"} {
		group, _ := components[kind].(map[string]any)
		for _, name := range sortedKeys(group) {
			ref := "#/components/" + kind + "/" + name
			if !used[ref] {
				add("%s is never used", ref)
			}
		}
	}
	return problems
}

// resolve follows a local $ref ("#/components/schemas/X"), or returns nil.
func resolve(d map[string]any, ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var target any = d
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := target.(map[string]any)
		if !ok {
			return nil
		}
		target = m[part]
	}
	return target
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
