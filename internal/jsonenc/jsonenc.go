// Package jsonenc encodes every JSON answer scimd sends (admin and lookup
// API, presence stream, SCIM). It is encoding/json without HTML escaping:
// by default encoding/json writes <, > and & as \u003c, \u003e and \u0026,
// which is valid JSON but turns a consent URL's "&" into "\u0026" in what
// curl prints, so that the pasted link breaks. No answer of scimd is
// embedded in HTML (the pages escape with html/template), so nothing needs
// that escaping.
package jsonenc

import (
	"bytes"
	"encoding/json"
	"sync"
)

// Marshal is json.Marshal leaving <, > and & as they are.
func Marshal(v any) ([]byte, error) {
	return Append(nil, v)
}

// Append appends the JSON encoding of v to dst, as Marshal does. A string
// that needs no escaping is copied as is, without reflection: most of what
// scimd renders (ids, times, URLs) is such a string.
func Append(dst []byte, v any) ([]byte, error) {
	if s, ok := v.(string); ok && plain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"'), nil
	}
	e := encoders.Get().(*encoder)
	defer e.release()
	if err := e.enc.Encode(v); err != nil {
		return dst, err
	}
	b := e.buf.Bytes()
	return append(dst, b[:len(b)-1]...), nil // Encode ends every value with a newline
}

// encoder is a json.Encoder writing into its own buffer, reused through
// encoders: setting one up costs more than most values scimd encodes.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// maxPooled keeps the buffers of big answers (a sync log page, an
// OpenAPI document) from staying in the pool.
const maxPooled = 64 << 10

func (e *encoder) release() {
	if e.buf.Cap() > maxPooled {
		return
	}
	e.buf.Reset()
	encoders.Put(e)
}

// plain reports whether s is printable ASCII that a JSON string holds
// without escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
