package scim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/jsonenc"
	"github.com/scimd/scimd/store"
)

// resource is what rendering needs of a stored user or group.
type resource struct {
	id       string
	doc      []byte // stored JSON object
	version  int64
	created  time.Time
	modified time.Time
	members  []string // groups: user ids; rendered only when loaded
	loaded   bool     // members were loaded
}

func userResource(u store.User) resource {
	return resource{id: u.ID, doc: u.Doc, version: u.Version, created: u.Created, modified: u.LastModified}
}

func groupResource(g store.Group) resource {
	return resource{id: g.ID, doc: g.Doc, version: g.Version, created: g.Created, modified: g.LastModified}
}

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// appendResource renders a resource. Without a projection the stored
// document is spliced in as is, so a read costs no JSON decoding.
func appendResource(b []byte, def *resourceDef, base string, res resource, proj *projection) []byte {
	b = append(b, `{"schemas":`...)
	b = appendJSON(b, def.schemas)
	b = append(b, `,"id":`...)
	b = appendJSON(b, res.id)
	doc := res.doc
	if proj != nil {
		doc = proj.apply(def, res.doc)
	}
	if inner := bytes.TrimSpace(doc); len(inner) > 2 {
		b = append(b, ',')
		b = append(b, inner[1:len(inner)-1]...)
	}
	if res.loaded && proj.wants("members") {
		b = append(b, `,"members":[`...)
		for i, m := range res.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"value":`...)
			b = appendJSON(b, m)
			b = append(b, `,"$ref":`...)
			b = appendJSON(b, base+"/Users/"+url.PathEscape(m))
			b = append(b, `,"type":"User"}`...)
		}
		b = append(b, ']')
	}
	if proj.wants("meta") {
		b = append(b, `,"meta":{"resourceType":`...)
		b = appendJSON(b, def.name)
		b = append(b, `,"created":`...)
		b = appendJSON(b, res.created.UTC().Format(time.RFC3339Nano))
		b = append(b, `,"lastModified":`...)
		b = appendJSON(b, res.modified.UTC().Format(time.RFC3339Nano))
		b = append(b, `,"location":`...)
		b = appendJSON(b, base+def.endpoint+"/"+url.PathEscape(res.id))
		b = append(b, `,"version":`...)
		b = appendJSON(b, etag(res.version))
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendJSON appends the JSON of a string or string slice, which always
// encode.
func appendJSON(b []byte, v any) []byte {
	b, _ = jsonenc.Append(b, v)
	return b
}

// marshalDoc encodes a document for storage, leaving <, > and & as sent.
func marshalDoc(doc map[string]any) []byte {
	b, _ := jsonenc.Marshal(doc) // maps of JSON values always encode
	return b
}

func unmarshalDoc(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func writeResource(w http.ResponseWriter, status int, def *resourceDef, base string, res resource, proj *projection) {
	b := appendResource(make([]byte, 0, 512+len(res.doc)), def, base, res, proj)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Etag", etag(res.version))
	if status == http.StatusCreated {
		h.Set("Location", base+def.endpoint+"/"+url.PathEscape(res.id))
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeList(w http.ResponseWriter, def *resourceDef, base string, items []resource, total, startIndex int, proj *projection) {
	size := 160
	for _, it := range items {
		size += 400 + len(it.doc)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"schemas":["`+listResponseURN+`"],"totalResults":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(len(items)), 10)
	b = append(b, `,"startIndex":`...)
	b = strconv.AppendInt(b, int64(startIndex), 10)
	b = append(b, `,"Resources":[`...) // never null: Entra quarantines on null
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendResource(b, def, base, it, proj)
	}
	b = append(b, "]}"...)
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// projection implements the attributes and excludedAttributes query
// parameters (RFC 7644 §3.4.2.5). A nil projection returns everything.
type projection struct {
	include []projPath // attributes=…: only these (plus id and schemas)
	exclude []projPath // excludedAttributes=…
}

type projPath struct {
	top string // "userName", "meta", "members", or "urn:…:manager" for extensions
	urn string
	sub string
}

func parseProjection(def *resourceDef, q url.Values) *projection {
	return newProjection(def, q.Get("attributes"), q.Get("excludedAttributes"))
}

// newProjection builds a projection from comma-separated attribute lists.
func newProjection(def *resourceDef, attributes, excludedAttributes string) *projection {
	inc := parseProjPaths(def, attributes)
	exc := parseProjPaths(def, excludedAttributes)
	if len(inc) == 0 && len(exc) == 0 {
		return nil
	}
	if len(inc) > 0 {
		return &projection{include: inc} // attributes wins (RFC 7644 §3.9)
	}
	return &projection{exclude: exc}
}

func parseProjPaths(def *resourceDef, raw string) []projPath {
	var out []projPath
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		uri, rest := "", part
		if urn, ok := def.extURNs[lower(part)]; ok {
			out = append(out, projPath{top: urn, urn: urn})
			continue
		}
		if i := strings.LastIndexByte(part, ':'); i >= 0 {
			uri, rest = part[:i], part[i+1:]
		}
		name, sub, _ := strings.Cut(rest, ".")
		if equalFold(name, "meta") || equalFold(name, "id") || equalFold(name, "schemas") {
			out = append(out, projPath{top: lower(name)})
			continue
		}
		a := def.attr(uri, name)
		if a == nil {
			continue // unknown names select nothing
		}
		p := projPath{top: a.name, urn: a.schemaURN}
		if sd := a.sub(sub); sub != "" && sd != nil {
			p.sub = sd.name
		}
		out = append(out, p)
	}
	return out
}

// wants reports whether a top-level name outside the document (meta,
// members) is returned.
func (p *projection) wants(name string) bool {
	if p == nil {
		return true
	}
	if p.include != nil {
		for _, i := range p.include {
			if i.top == name && i.urn == "" {
				return true
			}
		}
		return false
	}
	for _, e := range p.exclude {
		if e.top == name && e.urn == "" && e.sub == "" {
			return false
		}
	}
	return true
}

func (p *projection) apply(def *resourceDef, raw []byte) []byte {
	doc, err := unmarshalDoc(raw)
	if err != nil {
		return raw
	}
	if p.include != nil {
		out := map[string]any{}
		for _, i := range p.include {
			copyPath(out, doc, i)
		}
		return marshalDoc(out)
	}
	for _, e := range p.exclude {
		removePath(doc, e)
	}
	return marshalDoc(doc)
}

func container(doc map[string]any, urn string, create bool) map[string]any {
	if urn == "" {
		return doc
	}
	m, _ := doc[urn].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		doc[urn] = m
	}
	return m
}

func copyPath(dst, src map[string]any, p projPath) {
	if p.urn != "" && p.top == p.urn {
		if v, ok := src[p.urn]; ok {
			dst[p.urn] = v
		}
		return
	}
	from := container(src, p.urn, false)
	v, ok := from[p.top]
	if !ok {
		return
	}
	to := container(dst, p.urn, true)
	if p.sub == "" {
		to[p.top] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if sv, ok := x[p.sub]; ok {
			m, _ := to[p.top].(map[string]any)
			if m == nil {
				m = map[string]any{}
				to[p.top] = m
			}
			m[p.sub] = sv
		}
	case []any:
		var list []any
		for _, el := range x {
			if m, ok := el.(map[string]any); ok {
				if sv, ok := m[p.sub]; ok {
					list = append(list, map[string]any{p.sub: sv})
				}
			}
		}
		if list != nil {
			to[p.top] = list
		}
	}
}

func removePath(doc map[string]any, p projPath) {
	if p.urn != "" && p.top == p.urn {
		delete(doc, p.urn)
		return
	}
	c := container(doc, p.urn, false)
	if c == nil {
		return
	}
	if p.sub == "" {
		delete(c, p.top)
		return
	}
	switch x := c[p.top].(type) {
	case map[string]any:
		delete(x, p.sub)
	case []any:
		for _, el := range x {
			if m, ok := el.(map[string]any); ok {
				delete(m, p.sub)
			}
		}
	}
}
