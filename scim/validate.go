package scim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// decodeJSON decodes a request body, keeping numbers exact.
func decodeJSON(body []byte) (any, *Error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, jsonError(err)
	}
	if d.More() {
		return nil, invalidSyntax("malformed JSON: unexpected data after the top-level value")
	}
	return v, nil
}

func jsonError(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalidSyntax("malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalidSyntax("malformed JSON: the body is empty or truncated")
	}
	return invalidSyntax("malformed JSON: %s", err.Error())
}

// validateResource type-checks a POST or PUT body against the resource's
// schema and returns the document to store: canonical attribute names,
// values exactly as sent except that Entra's string booleans become
// booleans and empty values are dropped. Unknown attributes are ignored
// (Entra sends some), read-only ones too.
func validateResource(def *resourceDef, body []byte) (map[string]any, *Error) {
	v, e := decodeJSON(body)
	if e != nil {
		return nil, e
	}
	in, ok := v.(map[string]any)
	if !ok {
		return nil, invalidSyntax("the body must be a JSON object (a %s resource)", def.name)
	}
	if e := checkSchemas(def, in["schemas"]); e != nil {
		return nil, e
	}
	doc := map[string]any{}
	for k, v := range in {
		switch lower(k) {
		case "schemas", "id", "meta":
			continue
		}
		if urn, ok := def.extURNs[lower(k)]; ok {
			if v == nil {
				continue
			}
			ext, ok := v.(map[string]any)
			if !ok {
				return nil, invalidValue("%s must be an object holding the extension's attributes", urn)
			}
			for ek, ev := range ext {
				if e := setTopLevel(def, doc, urn, ek, ev, urn+":"+ek); e != nil {
					return nil, e
				}
			}
			continue
		}
		uri, name := splitURN(k)
		if e := setTopLevel(def, doc, uri, name, v, k); e != nil {
			return nil, e
		}
	}
	if e := checkRequired(def, doc); e != nil {
		return nil, e
	}
	return doc, nil
}

// setTopLevel validates one attribute and stores it in doc (extension
// attributes inside their URN object). Unknown names are ignored.
func setTopLevel(def *resourceDef, doc map[string]any, uri, name string, v any, display string) *Error {
	a := def.attr(uri, name)
	if a == nil || a.readOnly {
		return nil
	}
	val, e := coerce(a, v, display)
	if e != nil {
		return e
	}
	setAttr(doc, a, val)
	return nil
}

// setAttr stores (or, for nil, removes) a top-level attribute in doc.
func setAttr(doc map[string]any, a *attrDef, val any) {
	target := doc
	if a.schemaURN != "" {
		ext, _ := doc[a.schemaURN].(map[string]any)
		if ext == nil {
			if val == nil {
				return
			}
			ext = map[string]any{}
			doc[a.schemaURN] = ext
		}
		target = ext
	}
	if val == nil {
		delete(target, a.name)
		if a.schemaURN != "" && len(target) == 0 {
			delete(doc, a.schemaURN)
		}
		return
	}
	target[a.name] = val
}

// getAttr reads a top-level attribute from doc.
func getAttr(doc map[string]any, a *attrDef) any {
	if a.schemaURN != "" {
		ext, _ := doc[a.schemaURN].(map[string]any)
		return ext[a.name]
	}
	return doc[a.name]
}

// splitURN splits "urn:…:User:employeeNumber" into URN and name.
func splitURN(k string) (uri, name string) {
	if i := strings.LastIndexByte(k, ':'); i >= 0 {
		return k[:i], k[i+1:]
	}
	return "", k
}

func checkSchemas(def *resourceDef, v any) *Error {
	if v == nil {
		return nil // lenient: some clients omit it; the type is known from the endpoint
	}
	list, ok := v.([]any)
	if !ok {
		return invalidValue("schemas must be an array of schema URNs including %q", def.core.ID)
	}
	for _, s := range list {
		if str, ok := s.(string); ok && equalFold(str, def.core.ID) {
			return nil
		}
	}
	return invalidValue("schemas must include %q", def.core.ID)
}

func checkRequired(def *resourceDef, doc map[string]any) *Error {
	for _, a := range def.attrs {
		if a.required && !a.readOnly && doc[a.name] == nil {
			return invalidValue("%s is required", a.name)
		}
	}
	return nil
}

// coerce validates v against a and returns the value to store; nil means
// "absent" (null, "", empty list or object).
func coerce(a *attrDef, v any, path string) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	if !a.multi {
		return coerceSingle(a, v, path)
	}
	var list []any
	switch v := v.(type) {
	case []any:
		list = v
	case map[string]any:
		list = []any{v} // a single element where a list belongs
	default:
		return nil, invalidValue("%s must be an array, got %s", path, describe(v))
	}
	var out []any
	for i, el := range list {
		c, e := coerceSingle(a, el, fmt.Sprintf("%s[%d]", path, i))
		if e != nil {
			return nil, e
		}
		if c != nil {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if e := checkMultiValued(a, out, path); e != nil {
		return nil, e
	}
	return out, nil
}

// checkMultiValued enforces what RFC 7643 and Entra expect of a
// multi-valued attribute: at most one primary, and on the type-keyed
// attributes (typeKeyedAttrs) each type at most once.
func checkMultiValued(a *attrDef, list []any, path string) *Error {
	if a.typ != "complex" {
		return nil
	}
	primaries := 0
	seen := map[string]bool{}
	for _, el := range list {
		m, _ := el.(map[string]any)
		if p, _ := m["primary"].(bool); p {
			primaries++
		}
		if t, ok := m["type"].(string); ok && a.typeKeyed {
			if seen[lower(t)] {
				return invalidValue("%s: type %q appears more than once; each type may appear once", path, t)
			}
			seen[lower(t)] = true
		}
	}
	if primaries > 1 {
		return invalidValue("%s: more than one element is marked primary", path)
	}
	return nil
}

func coerceSingle(a *attrDef, v any, path string) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	switch a.typ {
	case "complex":
		if a.valueIsRef && !a.multi {
			v = normaliseRef(v)
			if v == nil {
				return nil, nil
			}
		}
		m, ok := v.(map[string]any)
		if !ok {
			if a.multi && a.sub("value") != nil {
				m = map[string]any{"value": v} // a bare value in a list, e.g. members: ["id"]
			} else {
				return nil, invalidValue("%s must be an object, got %s", path, describe(v))
			}
		}
		out := map[string]any{}
		for k, sv := range m {
			sd := a.sub(k)
			if sd == nil || sd.readOnly {
				continue
			}
			c, e := coerceSingle(sd, sv, path+"."+sd.name)
			if e != nil {
				return nil, e
			}
			if c != nil {
				out[sd.name] = c
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	case "string", "reference":
		s, ok := v.(string)
		if !ok {
			return nil, invalidValue("%s must be a string, got %s", path, describe(v))
		}
		if s == "" {
			return nil, nil
		}
		return s, nil
	case "boolean":
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			// Entra's default PATCH dialect sends "True"/"False".
			if p, err := strconv.ParseBool(b); err == nil && (len(b) > 1) {
				return p, nil
			}
			if b == "" {
				return nil, nil
			}
		}
		return nil, invalidValue("%s must be a boolean (true or false), got %s", path, describe(v))
	case "integer":
		switch n := v.(type) {
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		case string:
			if i, err := strconv.ParseInt(n, 10, 64); err == nil {
				return i, nil
			}
		}
		return nil, invalidValue("%s must be an integer, got %s", path, describe(v))
	case "decimal":
		switch n := v.(type) {
		case json.Number:
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		case string:
			if f, err := strconv.ParseFloat(n, 64); err == nil {
				return f, nil
			}
		}
		return nil, invalidValue("%s must be a number, got %s", path, describe(v))
	case "dateTime":
		s, ok := v.(string)
		if !ok {
			return nil, invalidValue("%s must be a dateTime string, got %s", path, describe(v))
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, invalidValue("%s: %q is not an RFC 3339 dateTime such as \"2026-01-02T15:04:05Z\"", path, s)
		}
		return s, nil
	case "binary":
		s, ok := v.(string)
		if _, err := base64.StdEncoding.DecodeString(s); !ok || err != nil {
			return nil, invalidValue("%s must be base64-encoded binary", path)
		}
		return s, nil
	}
	return nil, invalidValue("%s has an unsupported type", path)
}

// normaliseRef accepts the three shapes Entra uses for a reference such
// as manager: a bare id, {"value": id}, or [{"value": id, "$ref": …}].
// An empty id clears it.
func normaliseRef(v any) any {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return map[string]any{"value": x}
	case []any:
		if len(x) == 0 {
			return nil
		}
		return normaliseRef(x[0])
	case map[string]any:
		if s, ok := x["value"].(string); ok && s == "" {
			return nil
		}
	}
	return v
}

// describe names a JSON value's type (and value, if short) for errors.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 64 {
			x = x[:64] + "…"
		}
		return strconv.Quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case json.Number:
		return "number " + x.String()
	case float64, int64:
		return fmt.Sprintf("number %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
