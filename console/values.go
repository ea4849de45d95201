package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

var errNoTemplate = errors.New("console: no such template")

// customValue words a custom field's value (text, number, boolean or
// date, as the mapping typed it).
func customValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64, int, int64, json.Number:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sortDetails(ds []detail) {
	slices.SortFunc(ds, func(a, b detail) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
}
