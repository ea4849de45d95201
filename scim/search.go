package scim

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

const searchRequestURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// searchKeys are the attributes of a SearchRequest (RFC 7644 §3.4.3).
const searchKeys = "schemas, attributes, excludedAttributes, filter, sortBy, sortOrder, startIndex, count"

// parseSearch reads the SearchRequest body of POST /Users/.search or
// /Groups/.search into the list query of the equivalent GET, so that both
// are answered by one engine. sortBy is accepted and, as on a GET,
// ignored: results are ordered by creation.
func (s *Server) parseSearch(w http.ResponseWriter, r *http.Request, def *resourceDef) (listQuery, *Error) {
	body, e := s.readBody(w, r)
	if e != nil {
		return listQuery{}, e
	}
	p, e := parseSearchRequest(body)
	if e != nil {
		return listQuery{}, e
	}
	return s.listQueryOf(def, p)
}

func parseSearchRequest(body []byte) (listParams, *Error) {
	var p listParams
	v, e := decodeJSON(body)
	if e != nil {
		return p, e
	}
	m, ok := v.(map[string]any)
	if !ok {
		return p, invalidSyntax("the body must be a JSON object (a SearchRequest)")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // one answer for a body with several problems
	hasSchema := false
	for _, k := range keys {
		v := m[k] // null is "not given", except for schemas
		switch lower(k) {
		case "schemas":
			list, ok := v.([]any)
			for _, s := range list {
				if str, _ := s.(string); str == searchRequestURN {
					hasSchema = true
				}
			}
			if !ok || !hasSchema {
				return p, invalidValue("schemas must be [%q], got %s", searchRequestURN, describe(v))
			}
		case "attributes":
			if p.attributes, e = stringList(k, v); e != nil {
				return p, e
			}
		case "excludedattributes":
			if p.excludedAttributes, e = stringList(k, v); e != nil {
				return p, e
			}
		case "filter":
			if p.filter, e = searchString(k, v); e != nil {
				return p, e
			}
		case "sortby":
			if _, e = searchString(k, v); e != nil {
				return p, e
			}
		case "sortorder":
			o, e := searchString(k, v)
			if e != nil {
				return p, e
			}
			if o != "" && !equalFold(o, "ascending") && !equalFold(o, "descending") {
				return p, invalidValue("sortOrder must be \"ascending\" or \"descending\", got %q", o)
			}
		case "startindex":
			if p.startIndex, e = searchInt(k, v); e != nil {
				return p, e
			}
		case "count":
			if p.count, e = searchInt(k, v); e != nil {
				return p, e
			}
		default:
			return p, invalidSyntax("%q is not an attribute of a SearchRequest (expected %s)", k, searchKeys)
		}
	}
	if !hasSchema {
		return p, invalidValue("schemas must be [%q]", searchRequestURN)
	}
	return p, nil
}

// stringList reads an array of attribute names as the comma-separated
// list a GET carries.
func stringList(key string, v any) (string, *Error) {
	if v == nil {
		return "", nil
	}
	list, ok := v.([]any)
	if !ok {
		return "", invalidValue("%s must be an array of attribute names, got %s", key, describe(v))
	}
	names := make([]string, len(list))
	for i, el := range list {
		s, ok := el.(string)
		if !ok {
			return "", invalidValue("%s[%d] must be a string (an attribute name), got %s", key, i, describe(el))
		}
		names[i] = s
	}
	return strings.Join(names, ","), nil
}

func searchString(key string, v any) (string, *Error) {
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalidValue("%s must be a string, got %s", key, describe(v))
	}
	return s, nil
}

func searchInt(key string, v any) (*int, *Error) {
	if v == nil {
		return nil, nil
	}
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			x := int(i)
			return &x, nil
		}
	}
	return nil, invalidValue("%s must be an integer, got %s", key, describe(v))
}
