package sqlite

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/scimd/scimd/store"
)

// decodeContact decodes a stored contact (users.contact) into c, which
// must be zero, exactly as json.Unmarshal would.
//
// Every search page and lookup decodes each contact it returns, and
// json.Unmarshal's reflection is most of that cost. The contacts this
// package stores are json.Marshal's output: an object of known keys whose
// strings rarely hold an escape. Those take a direct path; anything else
// (an escape, an unknown key, null, a syntax error) goes to
// json.Unmarshal, so the result is always json.Unmarshal's.
func decodeContact(b []byte, c *store.Contact) error {
	d := contactDecoder{b: b, s: string(b)}
	if d.contact(c) && d.end() {
		return nil
	}
	*c = store.Contact{}
	return json.Unmarshal(b, c)
}

// decodeStrings decodes a JSON array of strings, exactly as json.Unmarshal
// would into a []string: the group names and presence that every lookup
// reads, as SQLite's json_group_array and json_array write them.
func decodeStrings(b []byte) ([]string, error) {
	if string(b) == "[]" { // a contact in no group
		return []string{}, nil
	}
	d := contactDecoder{b: b, s: string(b)}
	var out []string
	if d.strings(&out) && d.end() {
		return out, nil
	}
	out = nil
	err := json.Unmarshal(b, &out)
	return out, err
}

// contactDecoder reads a contact from b at i; each method reports
// whether it read what it expects (false: let json.Unmarshal decide).
// The strings it returns share s, b as one string: one allocation for
// them all.
type contactDecoder struct {
	b []byte
	s string
	i int
}

func (d *contactDecoder) contact(c *store.Contact) bool {
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "login":
			return d.into(&c.Login)
		case "objectId":
			return d.into(&c.ObjectID)
		case "displayName":
			return d.into(&c.DisplayName)
		case "givenName":
			return d.into(&c.GivenName)
		case "familyName":
			return d.into(&c.FamilyName)
		case "email":
			return d.into(&c.Email)
		case "title":
			return d.into(&c.Title)
		case "department":
			return d.into(&c.Department)
		case "phones":
			// A second "phones" would decode into the first's elements.
			return c.Phones == nil && d.phones(&c.Phones)
		case "custom":
			// Rare, and of any JSON types: json.Unmarshal decodes the
			// object alone (into a new map: a second "custom" would
			// merge into the first).
			start := d.i
			if c.Custom != nil || !d.skipObject() {
				return false
			}
			return json.Unmarshal(d.b[start:d.i], &c.Custom) == nil
		}
		return false
	})
}

func (d *contactDecoder) phones(ps *[]store.Phone) bool {
	list := []store.Phone{}
	ok := d.array(func() bool {
		var p store.Phone
		ok := d.object(func(key []byte) bool {
			switch string(key) {
			case "type":
				return d.into(&p.Type)
			case "value":
				return d.into(&p.Value)
			case "e164":
				return d.into(&p.E164)
			}
			return false
		})
		list = append(list, p)
		return ok
	})
	if ok {
		*ps = list
	}
	return ok
}

// strings reads an array of strings.
func (d *contactDecoder) strings(out *[]string) bool {
	list := []string{}
	ok := d.array(func() bool {
		var s string
		ok := d.into(&s)
		list = append(list, s)
		return ok
	})
	if ok {
		*out = list
	}
	return ok
}

// object reads an object, calling field for each key with d at its value.
func (d *contactDecoder) object(field func(key []byte) bool) bool {
	return d.items('{', '}', func() bool {
		key, ok := d.raw()
		if !ok {
			return false
		}
		d.space()
		if !d.peek(':') {
			return false
		}
		d.i++
		d.space()
		return field(key)
	})
}

// array reads an array, calling item with d at each element.
func (d *contactDecoder) array(item func() bool) bool { return d.items('[', ']', item) }

// items reads the items of an object or array between its brackets,
// over the commas that separate them, calling item at each.
func (d *contactDecoder) items(open, close byte, item func() bool) bool {
	if !d.open(open) {
		return false
	}
	for first := true; ; first = false {
		if more, ok := d.next(close, first); !more {
			return ok
		}
		if !item() {
			return false
		}
	}
}

// open steps over the bracket that opens an object or array.
func (d *contactDecoder) open(bracket byte) bool {
	d.space()
	if !d.peek(bracket) {
		return false
	}
	d.i++
	return true
}

// next moves d to the next item of an object or array, over the comma
// that precedes every item but the first. At the closing bracket it
// steps over it and reports no item; ok is false on anything else.
func (d *contactDecoder) next(close byte, first bool) (item, ok bool) {
	d.space()
	if d.peek(close) {
		d.i++
		return false, true
	}
	if !first {
		if !d.peek(',') {
			return false, false
		}
		d.i++
		d.space()
	}
	return true, true
}

// into reads a string without escapes into s.
func (d *contactDecoder) into(s *string) bool {
	start := d.i + 1
	raw, ok := d.raw()
	if ok {
		*s = d.s[start : start+len(raw)]
	}
	return ok
}

// raw returns the bytes of a string without escapes or control
// characters, in valid UTF-8.
func (d *contactDecoder) raw() ([]byte, bool) {
	if !d.peek('"') {
		return nil, false
	}
	rest := d.b[d.i+1:]
	n := bytes.IndexByte(rest, '"')
	if n < 0 {
		return nil, false
	}
	s := rest[:n]
	for _, ch := range s {
		if ch < ' ' || ch == '\\' {
			return nil, false
		}
	}
	if !utf8.Valid(s) {
		return nil, false
	}
	d.i += n + 2
	return s, true
}

// skipObject steps over an object without checking it (json.Unmarshal
// checks what it is given).
func (d *contactDecoder) skipObject() bool {
	if !d.peek('{') {
		return false
	}
	for depth := 0; d.i < len(d.b); d.i++ {
		switch d.b[d.i] {
		case '"':
			for d.i++; d.i < len(d.b) && d.b[d.i] != '"'; d.i++ {
				if d.b[d.i] == '\\' {
					d.i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				d.i++
				return true
			}
		}
	}
	return false
}

func (d *contactDecoder) peek(ch byte) bool { return d.i < len(d.b) && d.b[d.i] == ch }

func (d *contactDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// end reports whether only white space follows.
func (d *contactDecoder) end() bool {
	d.space()
	return d.i == len(d.b)
}
